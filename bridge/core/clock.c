/*
 * clock.c: wall and monotonic clocks with a test override (see clock.h).
 */
#include "clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic int64_t fake_ms;

int64_t clock_now_ms(void)
{
	int64_t f = atomic_load(&fake_ms);
	if (f)
		return f;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

int64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void clock_set_fake_ms(int64_t ms)
{
	atomic_store(&fake_ms, ms);
}

void clock_init_from_env(void)
{
	const char *s = getenv("SB_FAKE_NOW_MS");
	if (s && *s) {
		char *end;
		long long v = strtoll(s, &end, 10);
		if (*end == '\0' && v > 0)
			clock_set_fake_ms(v);
	}
}

void clock_format_iso(int64_t ms, char *out, unsigned long outlen)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void clock_sleep_ms(int64_t ms, const volatile int *stop)
{
	int64_t end = clock_mono_ms() + ms;
	for (;;) {
		if (stop && *stop)
			return;
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			return;
		/* Sleep in slices so a stop request is noticed promptly. */
		if (left > 100)
			left = 100;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000};
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
}
