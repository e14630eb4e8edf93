/*
 * sim_util.c: clocks, timestamps, PRNG, strings, buffers, glob and hash map
 * for the upstream simulator. See sim_util.h for the contracts.
 */
#include "sim_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- clocks ------------------------------------------------------------------ */

/* Wall clock in ms. */
int64_t sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic clock in ms. */
int64_t sim_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp + (mp < 10 ? 3 : -9);
	*y += *m <= 2;
}

/* Split ms since epoch into calendar fields; frac_ms is 0..999. */
static void split_time(int64_t ms, int64_t *y, int64_t *mo, int64_t *d,
		       int64_t *h, int64_t *mi, int64_t *s, int64_t *frac_ms)
{
	int64_t days, rem;

	days = ms / 86400000;
	rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	civil_from_days(days, y, mo, d);
	*h = rem / 3600000;
	*mi = rem / 60000 % 60;
	*s = rem / 1000 % 60;
	*frac_ms = rem % 1000;
}

/* Write v as exactly n decimal digits at out. */
static void put_digits(char *out, int64_t v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * "YYYY-MM-DDTHH:MM:SS.fff" + suffix into out (no snprintf: this runs for
 * every timestamp of every listed object).
 */
static void fmt_time(int64_t ms, char *out, const char *suffix)
{
	int64_t y, mo, d, h, mi, s, f;

	split_time(ms, &y, &mo, &d, &h, &mi, &s, &f);
	if (y < 0 || y > 9999)
		y = 0;
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, mo, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, h, 2);
	out[13] = ':';
	put_digits(out + 14, mi, 2);
	out[16] = ':';
	put_digits(out + 17, s, 2);
	out[19] = '.';
	put_digits(out + 20, f, 3);
	strcpy(out + 23, suffix);
}

/* Okta timestamp with milliseconds. */
void sim_fmt_okta_time(int64_t ms, char *out)
{
	fmt_time(ms, out, "Z");
}

/* Sentry timestamp with microseconds (ours are always whole milliseconds). */
void sim_fmt_sentry_time(int64_t ms, char *out)
{
	fmt_time(ms, out, "000Z");
}

/* Read exactly n digits from *p into *out, advancing *p. */
static int read_digits(const char **p, int n, int64_t *out)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Parse an ISO-8601 timestamp (see header). */
int sim_parse_iso(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;

	if (!s)
		return -1;
	if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) ||
	    *p++ != '-' || read_digits(&p, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	if (*p == '\0')
		goto done;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi))
		return -1;
	if (*p == ':') {
		p++;
		if (read_digits(&p, 2, &sec))
			return -1;
	}
	if (*p == '.') {
		int digits = 0;

		p++;
		while (isdigit((unsigned char)*p)) {
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return -1;
		while (digits++ < 3)
			frac *= 10;
	}
	if (h > 23 || mi > 59 || sec > 60)
		return -1;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int64_t oh, om = 0;
		int sign = *p == '-' ? -1 : 1;

		p++;
		if (read_digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && read_digits(&p, 2, &om))
			return -1;
		off = sign * (oh * 60 + om) * 60000;
	}
	if (*p != '\0')
		return -1;
done:
	*ms = days_from_civil(y, mo, d) * 86400000 + h * 3600000 + mi * 60000 +
	      sec * 1000 + frac - off;
	return 0;
}

/* ---- PRNG ------------------------------------------------------------------------ */

/* splitmix64 finaliser. */
uint64_t sim_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* splitmix64 step. */
uint64_t sim_rand64(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return sim_mix64(*state);
}

/* Uniform integer below n using the multiply-shift reduction (bias negligible). */
uint32_t sim_rand_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((sim_rand64(state) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform double in [0, 1) from the top 53 bits. */
double sim_rand01(uint64_t *state)
{
	return (double)(sim_rand64(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- strings --------------------------------------------------------------------- */

/* NULL-safe strdup. */
char *sim_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Bounded copy. */
char *sim_strndup(const char *s, size_t n)
{
	char *r = malloc(n + 1);

	if (!r)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* Allocating printf. */
char *sim_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *r = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : r;
}

/* ASCII case-insensitive equality. */
bool sim_streq_ci(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcasecmp(a, b) == 0;
}

/* ASCII case-insensitive prefix test. */
bool sim_startswith_ci(const char *s, const char *prefix)
{
	if (!s || !prefix)
		return false;
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* ASCII case-insensitive substring test. */
bool sim_contains_ci(const char *hay, const char *needle)
{
	size_t n;

	if (!hay || !needle)
		return false;
	n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return n == 0;
}

/* Constant-time secret comparison: time depends only on the lengths. */
bool sim_secret_eq(const char *a, const char *b)
{
	size_t la, lb, i;
	unsigned char diff;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	diff = (unsigned char)(la != lb);
	for (i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0 && lb != 0;
}

/* Strict decimal integer parse. */
bool sim_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* Iterative glob with single backtrack point (classic wildcard matcher). */
bool sim_glob(const char *pat, const char *s)
{
	const char *star = NULL, *retry = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			retry = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++retry;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* ---- buffer ----------------------------------------------------------------------- */

/* Initialise. */
void sim_buf_init(struct sim_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* Append with limit check before any allocation. */
int sim_buf_append(struct sim_buf *b, const void *data, size_t n)
{
	size_t need, ncap;
	char *p;

	if (b->max && (n > b->max || b->len > b->max - n))
		return SIM_BUF_TOO_BIG;
	need = b->len + n + 1;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap *= 2;
		p = realloc(b->data, ncap);
		if (!p)
			return SIM_BUF_NOMEM;
		b->data = p;
		b->cap = ncap;
	}
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SIM_BUF_OK;
}

/* Append a string. */
int sim_buf_puts(struct sim_buf *b, const char *s)
{
	return sim_buf_append(b, s, strlen(s));
}

/* Append formatted text. */
int sim_buf_printf(struct sim_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return SIM_BUF_NOMEM;
	rc = sim_buf_append(b, s, (size_t)n);
	free(s);
	return rc;
}

/* JSON string literal; runs of plain bytes are copied in one go. */
int sim_buf_json_str(struct sim_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;
	int rc;

	if (!s)
		return sim_buf_append(b, "null", 4);
	if ((rc = sim_buf_append(b, "\"", 1)))
		return rc;
	for (run = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (s > run && (rc = sim_buf_append(b, run, (size_t)(s - run))))
			return rc;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		if ((rc = sim_buf_append(b, esc, n)))
			return rc;
		run = s + 1;
	}
	if (s > run && (rc = sim_buf_append(b, run, (size_t)(s - run))))
		return rc;
	return sim_buf_append(b, "\"", 1);
}

/* Okta timestamp as a JSON value. */
int sim_buf_okta_time(struct sim_buf *b, int64_t ms)
{
	char t[SIM_TIME_BUFSZ + 2];

	if (!ms)
		return sim_buf_append(b, "null", 4);
	t[0] = '"';
	sim_fmt_okta_time(ms, t + 1);
	strcat(t, "\"");
	return sim_buf_append(b, t, strlen(t));
}

/* Hand over the contents. */
char *sim_buf_take(struct sim_buf *b)
{
	char *r = b->data;

	if (!r)
		r = strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return r;
}

/* Release. */
void sim_buf_free(struct sim_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- hash map ---------------------------------------------------------------------- */

/* FNV-1a over the key, lower-cased when the map is case-insensitive. */
static uint64_t map_hash(const struct sim_map *m, const char *k)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *k; k++) {
		unsigned char c = (unsigned char)*k;

		if (m->ci)
			c = (unsigned char)tolower(c);
		h ^= c;
		h *= 1099511628211ULL;
	}
	return sim_mix64(h);
}

/* Key equality under the map's case rule. */
static bool map_eq(const struct sim_map *m, const char *a, const char *b)
{
	return m->ci ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* Initialise. */
void sim_map_init(struct sim_map *m, bool ci)
{
	m->keys = NULL;
	m->vals = NULL;
	m->cap = 0;
	m->n = 0;
	m->ci = ci;
}

/* Free the table. */
void sim_map_free(struct sim_map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

/* Lookup. */
void *sim_map_get(const struct sim_map *m, const char *key)
{
	size_t i;

	if (!m->cap || !key)
		return NULL;
	for (i = map_hash(m, key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (map_eq(m, m->keys[i], key))
			return m->vals[i];
	return NULL;
}

/* Grow to ncap slots and rehash. */
static int map_grow(struct sim_map *m, size_t ncap)
{
	const char **ok = m->keys;
	void **ov = m->vals;
	size_t ocap = m->cap, i, j;

	m->keys = calloc(ncap, sizeof(*m->keys));
	m->vals = calloc(ncap, sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = ok;
		m->vals = ov;
		return -1;
	}
	m->cap = ncap;
	for (i = 0; i < ocap; i++) {
		if (!ok[i])
			continue;
		for (j = map_hash(m, ok[i]) & (ncap - 1); m->keys[j]; j = (j + 1) & (ncap - 1))
			;
		m->keys[j] = ok[i];
		m->vals[j] = ov[i];
	}
	free(ok);
	free(ov);
	return 0;
}

/* Insert or replace. */
int sim_map_put(struct sim_map *m, const char *key, void *val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && map_grow(m, m->cap ? m->cap * 2 : 64))
		return -1;
	for (i = map_hash(m, key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (map_eq(m, m->keys[i], key)) {
			m->keys[i] = key;
			m->vals[i] = val;
			return 0;
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

/* Delete with backward shift so no tombstones are needed. */
void sim_map_del(struct sim_map *m, const char *key)
{
	size_t i, j, k, mask;

	if (!m->cap || !key)
		return;
	mask = m->cap - 1;
	for (i = map_hash(m, key) & mask; m->keys[i]; i = (i + 1) & mask)
		if (map_eq(m, m->keys[i], key))
			break;
	if (!m->keys[i])
		return;
	m->keys[i] = NULL;
	m->vals[i] = NULL;
	m->n--;
	for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		k = map_hash(m, m->keys[j]) & mask;
		/* move j back to i unless its home k lies cyclically in (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->keys[j] = NULL;
			m->vals[j] = NULL;
			i = j;
		}
	}
}
