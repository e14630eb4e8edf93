/*
 * tz.h: UTC offsets of named (IANA) time zones, read from the zone database.
 *
 * The C library only knows one zone at a time (the TZ environment variable),
 * and changing the environment while other threads read it (libcurl, libpq)
 * is unsafe. Routing needs several zones at once (one per time interval), so
 * this module reads the compiled zone files (TZif, RFC 8536) itself: the
 * 64-bit transition table, and the POSIX TZ footer for instants after the
 * last transition (how "slim" zone files describe every future year).
 * Zones are loaded once and cached for the life of the process; lookups are
 * thread-safe.
 */
#ifndef SB_CORE_TZ_H
#define SB_CORE_TZ_H

#include <stdint.h>

/*
 * The offset from UTC, in seconds (east positive: Europe/Madrid in summer is
 * +7200), of zone `name` at the instant unix_sec. "UTC" needs no file. The
 * directory is $TZDIR or /usr/share/zoneinfo. 0, or -1 when the zone is
 * unknown or its file is malformed.
 */
int tz_offset(const char *name, int64_t unix_sec, int *offset_sec);

/*
 * Parse one POSIX TZ rule string (e.g. "CET-1CEST,M3.5.0,M10.5.0/3") and give
 * the offset at unix_sec. 0 or -1 when the string is not understood. Exposed
 * for tests.
 */
int tz_posix_offset(const char *rule, int64_t unix_sec, int *offset_sec);

#endif
