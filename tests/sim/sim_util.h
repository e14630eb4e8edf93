/*
 * sim_util.h: small helpers shared by every part of the upstream simulator
 * (sentry-bridge-sim): clocks and ISO-8601 timestamps, a deterministic PRNG,
 * checked string allocation, a bounded growable buffer, glob matching and a
 * string-keyed hash map.
 *
 * Nothing here knows about HTTP, Okta or Sentry.
 */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- clocks -------------------------------------------------------------- */

/* Wall clock in milliseconds since the Unix epoch (used for lastUpdated etc.). */
int64_t sim_now_ms(void);

/* Monotonic clock in milliseconds (used for delays and durations). */
int64_t sim_mono_ms(void);

/* Size of the buffers the sim_fmt_* functions write into. */
#define SIM_TIME_BUFSZ 40

/* Okta style "2024-01-15T09:00:00.000Z" into out (SIM_TIME_BUFSZ bytes). */
void sim_fmt_okta_time(int64_t ms, char *out);

/* Sentry style "2024-01-15T09:00:00.000000Z" into out (SIM_TIME_BUFSZ bytes). */
void sim_fmt_sentry_time(int64_t ms, char *out);

/*
 * Parse "YYYY-MM-DDTHH:MM:SS[.fff...][Z|+HH:MM|-HH:MM]" (also a bare date
 * "YYYY-MM-DD") into ms since the epoch. Returns 0 on success, -1 if the
 * text is not such a timestamp.
 */
int sim_parse_iso(const char *s, int64_t *ms);

/* ---- deterministic PRNG (splitmix64) --------------------------------------- */

/* Next 64 random bits; advances *state. */
uint64_t sim_rand64(uint64_t *state);

/* Uniform integer in [0, n) (n > 0); advances *state. */
uint32_t sim_rand_below(uint64_t *state, uint32_t n);

/* Uniform double in [0, 1); advances *state. */
double sim_rand01(uint64_t *state);

/* Stateless 64-bit mix of x (splitmix64 finaliser). */
uint64_t sim_mix64(uint64_t x);

/* ---- strings --------------------------------------------------------------- */

/* strdup that returns NULL for NULL input or on allocation failure. */
char *sim_strdup(const char *s);

/* Copy of the first n bytes of s, NUL-terminated; NULL on allocation failure. */
char *sim_strndup(const char *s, size_t n);

/* printf into a new string (caller frees); NULL on failure. */
char *sim_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ASCII case-insensitive equality; NULL equals only NULL. */
bool sim_streq_ci(const char *a, const char *b);

/* ASCII case-insensitive "s starts with prefix". */
bool sim_startswith_ci(const char *s, const char *prefix);

/* ASCII case-insensitive "needle occurs in hay". */
bool sim_contains_ci(const char *hay, const char *needle);

/* Constant-time comparison of two NUL-terminated secrets. */
bool sim_secret_eq(const char *a, const char *b);

/* Parse a whole string as a decimal integer; false on junk, sign errors or overflow. */
bool sim_parse_i64(const char *s, int64_t *out);

/* Glob match: '*' any run of characters (including '/'), '?' exactly one. */
bool sim_glob(const char *pattern, const char *s);

/* ---- bounded growable buffer ------------------------------------------------ */

struct sim_buf {
	char *data;   /* NUL-terminated once anything was appended, else NULL */
	size_t len;   /* bytes used */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard limit on len, 0 = unlimited (internal data only) */
};

enum { SIM_BUF_OK = 0, SIM_BUF_TOO_BIG = 1, SIM_BUF_NOMEM = 2 };

/* Empty buffer holding at most max bytes (0: no limit). */
void sim_buf_init(struct sim_buf *b, size_t max);

/* Append n bytes; SIM_BUF_TOO_BIG / SIM_BUF_NOMEM leave it unchanged. */
int sim_buf_append(struct sim_buf *b, const void *data, size_t n);

/* Append a string. */
int sim_buf_puts(struct sim_buf *b, const char *s);

/* Append printf-formatted text. */
int sim_buf_printf(struct sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s as a JSON string literal (quoted, escaped), or null when s is NULL. */
int sim_buf_json_str(struct sim_buf *b, const char *s);

/* Append an Okta timestamp as a JSON string, or null when ms is 0. */
int sim_buf_okta_time(struct sim_buf *b, int64_t ms);

/* Take the contents ("" if empty, caller frees); NULL on allocation failure. */
char *sim_buf_take(struct sim_buf *b);

/* Free the contents; the buffer is empty afterwards. */
void sim_buf_free(struct sim_buf *b);

/* ---- string-keyed hash map (borrowed keys) ----------------------------------- */

/*
 * Open addressing with linear probing and backward-shift deletion. Keys are
 * borrowed: they must stay valid (and unchanged) while in the map, which is
 * why owners remove an entry before changing the string it points to.
 * Case-insensitive (ASCII) when created with ci = true.
 */
struct sim_map {
	const char **keys;
	void **vals;
	size_t cap;   /* power of two, 0 when empty */
	size_t n;
	bool ci;
};

/* Initialise an empty map. */
void sim_map_init(struct sim_map *m, bool ci);

/* Free the table (not keys or values). */
void sim_map_free(struct sim_map *m);

/* Value for key, or NULL. */
void *sim_map_get(const struct sim_map *m, const char *key);

/* Insert or replace; 0 on success, -1 on allocation failure. */
int sim_map_put(struct sim_map *m, const char *key, void *val);

/* Remove key if present. */
void sim_map_del(struct sim_map *m, const char *key);

#endif
