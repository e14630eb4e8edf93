/*
 * clock.h: the one source of time.
 *
 * Logic never calls time() directly: it asks clock_now_ms(), which tests can
 * pin with clock_set_fake_ms() (or the SB_FAKE_NOW_MS environment variable,
 * read once by clock_init_from_env(), for integration tests of the binary).
 * Pure policy code goes further and takes `now` as a parameter.
 */
#ifndef SB_CORE_CLOCK_H
#define SB_CORE_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch (or the fake time). */
int64_t clock_now_ms(void);

/* Monotonic milliseconds, for durations and timeouts (never faked). */
int64_t clock_mono_ms(void);

/* Monotonic nanoseconds, for latency histograms. */
int64_t clock_mono_ns(void);

/* Pin the wall clock to ms (0 returns to the real clock). For tests. */
void clock_set_fake_ms(int64_t ms);

/* Honour SB_FAKE_NOW_MS if set. Call once at start. */
void clock_init_from_env(void);

/* Format ms since epoch as RFC 3339 UTC with milliseconds into out (>= 25 bytes). */
void clock_format_iso(int64_t ms, char *out, unsigned long outlen);

/* Sleep for ms milliseconds (restarts on EINTR unless *stop becomes nonzero). */
void clock_sleep_ms(int64_t ms, const volatile int *stop);

#endif
