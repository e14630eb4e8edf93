/*
 * httpc.c: the outbound HTTP client (see httpc.h for the contract).
 *
 * Shape: every call, single or bulk, runs through one engine (run_batch)
 * that drives a curl multi handle. Each request is a small state machine:
 * WAIT (until its own backoff, the client's "blocked until", its endpoint's
 * throttle, a rate token and a concurrency permit allow it) -> RUN (on the
 * multi handle) -> back to WAIT for a retry, or DONE. One engine means one
 * retry and rate policy for httpc_call() and httpc_call_many().
 *
 * Connection reuse: idle multi handles are pooled per client (LIFO, so the
 * next call gets the one with warm connections in its connection cache) and
 * easy handles are pooled too. A CURLSH shares the DNS cache and TLS
 * sessions between all of them. The connection cache itself is not shared
 * through CURLSH: libcurl documents sharing it between threads as unsafe.
 *
 * Lock order: c->mu, then the metrics registry's or logger's own lock.
 * Nothing is logged while c->mu is held.
 */
#include "httpc.h"

#include "clock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define MOD "httpc"

/* Defaults for zero option values (documented in httpc.h). */
#define DEF_TIMEOUT_MS 30000
#define DEF_CONNECT_TIMEOUT_MS 10000
#define DEF_MAX_RETRIES 3
#define DEF_MAX_RL_RETRIES 6
#define DEF_BACKOFF_BASE_MS 200
#define DEF_BACKOFF_MAX_MS 10000
#define DEF_MAX_CONCURRENCY 8
#define DEF_MAX_RESPONSE_BYTES ((size_t)8 << 20)
#define DEF_MAX_HEADER_BYTES ((size_t)256 << 10)
#define DEF_MAX_WAIT_MS 60000
#define DEF_RL_JITTER_MS 250
#define DEF_USER_AGENT "sentry-bridge"

/* A "blocked until" further away than this is treated as bogus upstream
 * data and clamped (it would otherwise stop the client for days). */
#define BLOCK_SANITY_MS (3600 * 1000)
/* Distinct endpoint labels tracked for throttle-ahead; labels are
 * low-cardinality by contract, so this is a safety net. When full, a
 * throttle applies to the whole client instead (more conservative). */
#define THROTTLE_MAX 256
/* Longest a waiting loop sleeps without re-checking cancel flags. */
#define CANCEL_POLL_MS 50
/* How often a batch with transfers running re-checks for a free permit
 * released by another thread. */
#define PERMIT_POLL_MS 10
/* Quoted Link parameter values longer than this are malformed. */
#define LINK_PARAM_MAX 8192

#define M_REQUESTS "sb_upstream_requests_total"
#define M_DURATION "sb_upstream_request_duration_seconds"
#define M_RETRIES "sb_upstream_retries_total"
#define M_RL_WAITS "sb_upstream_rate_limit_waits_total"
#define M_RL_WAIT_SECS "sb_upstream_rate_limit_wait_seconds_total"
#define M_IN_FLIGHT "sb_upstream_in_flight"

/* ------------------------------------------------------------------ */
/* global init                                                        */

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static int global_refs;

int httpc_global_init(void)
{
	int rc = 0;
	pthread_mutex_lock(&global_mu);
	if (global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		rc = HTTPC_E_INTERNAL;
	else
		global_refs++;
	pthread_mutex_unlock(&global_mu);
	return rc;
}

void httpc_global_cleanup(void)
{
	pthread_mutex_lock(&global_mu);
	if (global_refs > 0 && --global_refs == 0)
		curl_global_cleanup();
	pthread_mutex_unlock(&global_mu);
}

const char *httpc_strerror(int rc)
{
	switch (rc) {
	case HTTPC_OK:
		return "ok";
	case HTTPC_E_ARG:
		return "invalid argument";
	case HTTPC_E_REFUSED:
		return "refused by policy";
	case HTTPC_E_NOMEM:
		return "out of memory";
	case HTTPC_E_CONNECT:
		return "connect failed";
	case HTTPC_E_TLS:
		return "TLS failure";
	case HTTPC_E_TIMEOUT:
		return "timeout";
	case HTTPC_E_TRANSPORT:
		return "transport error";
	case HTTPC_E_TOO_BIG:
		return "response too large";
	case HTTPC_E_CANCELLED:
		return "cancelled";
	case HTTPC_E_RATE_LIMITED:
		return "rate limited";
	case HTTPC_E_PARSE:
		return "malformed input";
	case HTTPC_E_INTERNAL:
		return "internal error";
	default:
		return "unknown error";
	}
}

/* ------------------------------------------------------------------ */
/* pure helpers                                                       */

static int is_ows(int ch)
{
	return ch == ' ' || ch == '\t';
}

const char *httpc_header_find(const char *const *headers, size_t n, const char *name)
{
	if (!headers || !name)
		return NULL;
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++) {
		const char *h = headers[i];
		if (h && !strncasecmp(h, name, nl) && h[nl] == ':') {
			const char *v = h + nl + 1;
			while (is_ows((unsigned char)*v))
				v++;
			return v;
		}
	}
	return NULL;
}

const char *httpc_resp_header_next(const struct httpc_resp *r, const char *name, size_t *pos)
{
	if (!r || !name || !pos)
		return NULL;
	while (*pos < r->nheaders) {
		const char *h = r->headers[*pos];
		(*pos)++;
		const char *v = httpc_header_find(&h, 1, name);
		if (v)
			return v;
	}
	return NULL;
}

const char *httpc_resp_header(const struct httpc_resp *r, const char *name)
{
	size_t pos = 0;
	return httpc_resp_header_next(r, name, &pos);
}

/* Strict non-negative decimal integer with optional surrounding blanks;
 * -1 when absent, empty, signed, fractional or longer than 18 digits. */
static long long parse_uint(const char *s)
{
	if (!s)
		return -1;
	while (is_ows((unsigned char)*s))
		s++;
	long long v = 0;
	int nd = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++nd > 18)
			return -1;
		v = v * 10 + (*s - '0');
	}
	while (is_ows((unsigned char)*s))
		s++;
	if (!nd || *s)
		return -1;
	return v;
}

int httpc_parse_http_date(const char *value, int64_t *ms)
{
	if (!value || !ms)
		return -1;
	/* curl_getdate() accepts the three forms RFC 9110 §5.6.7 requires a
	 * recipient to accept, and is pure (no global state). */
	time_t t = curl_getdate(value, NULL);
	if (t == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

int httpc_parse_retry_after(const char *value, int64_t now_ms, int64_t *wait_ms)
{
	if (!value || !wait_ms)
		return -1;
	const char *s = value;
	while (is_ows((unsigned char)*s))
		s++;
	if (*s >= '0' && *s <= '9') {
		long long secs = parse_uint(s);
		if (secs < 0)
			return -1;
		/* A delay beyond ~31 years is nonsense; clamp rather than overflow. */
		if (secs > 1000000000LL)
			secs = 1000000000LL;
		*wait_ms = (int64_t)secs * 1000;
		return 0;
	}
	int64_t at;
	if (!*s || httpc_parse_http_date(s, &at))
		return -1;
	*wait_ms = at > now_ms ? at - now_ms : 0;
	return 0;
}

/* Map r uniformly onto [0, cap]. */
static int64_t scale_rand(uint64_t r, int64_t cap)
{
	if (cap <= 0)
		return 0;
	double u = (double)(r >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
	int64_t v = (int64_t)(u * ((double)cap + 1.0));
	return v > cap ? cap : v;
}

int64_t httpc_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt, httpc_rand_fn rnd, void *ctx)
{
	if (base_ms <= 0 || max_ms <= 0)
		return 0;
	int64_t cap = base_ms < max_ms ? base_ms : max_ms;
	for (int i = 0; i < attempt && cap < max_ms; i++)
		cap = cap > max_ms / 2 ? max_ms : cap * 2;
	if (!rnd)
		return cap;
	return scale_rand(rnd(ctx), cap);
}

/* Epoch-seconds reset header -> wait from the server's now (base_ms). */
static int reset_wait(const char *v, int64_t base_ms, int64_t *wait_ms)
{
	long long reset = parse_uint(v);
	if (reset < 0 || reset > 253402300799LL) /* year 9999 */
		return -1;
	int64_t at = (int64_t)reset * 1000;
	*wait_ms = at > base_ms ? at - base_ms : 0;
	return 0;
}

enum httpc_rl_action httpc_rl_decide(enum httpc_rl_style style, long status, const char *const *headers,
				     size_t nheaders, int64_t now_ms, const char *date_header, long headroom,
				     int64_t *wait_ms)
{
	int64_t dummy;
	if (!wait_ms)
		wait_ms = &dummy;
	*wait_ms = -1;
	/* The server's own clock: waits derived from its epoch timestamps are
	 * then independent of skew between our clock and theirs. */
	int64_t base = now_ms, date_ms;
	if (date_header && !httpc_parse_http_date(date_header, &date_ms))
		base = date_ms;
	const char *ra = httpc_header_find(headers, nheaders, "retry-after");
	const char *rem_name = NULL, *reset_name = NULL;
	switch (style) {
	case HTTPC_RL_OKTA:
		rem_name = "x-rate-limit-remaining";
		reset_name = "x-rate-limit-reset";
		break;
	case HTTPC_RL_SENTRY:
		rem_name = "x-sentry-rate-limit-remaining";
		reset_name = "x-sentry-rate-limit-reset";
		break;
	case HTTPC_RL_GITLAB:
		rem_name = "ratelimit-remaining";
		reset_name = "ratelimit-reset";
		break;
	case HTTPC_RL_SLACK:
	case HTTPC_RL_NONE:
	default:
		break;
	}
	const char *reset = reset_name ? httpc_header_find(headers, nheaders, reset_name) : NULL;
	long long rem = rem_name ? parse_uint(httpc_header_find(headers, nheaders, rem_name)) : -1;

	if (status == 429) {
		if (style == HTTPC_RL_OKTA) {
			/* Concurrency violation: Limit and Remaining are 0 and
			 * Reset is only an estimate (okta-api.md §3.1). */
			long long lim = parse_uint(httpc_header_find(headers, nheaders, "x-rate-limit-limit"));
			if (lim == 0 && rem == 0)
				return HTTPC_RL_BACKOFF;
			/* Okta documents Reset, not Retry-After. */
			if (reset && !reset_wait(reset, base, wait_ms))
				return HTTPC_RL_RETRY_AFTER;
		}
		/* Sentry and GitLab: Retry-After first, then the reset header
		 * (sentry-api.md §5.1, gitlab-slack-api.md §1.5). Slack and
		 * NONE: Retry-After only. */
		if (ra && !httpc_parse_retry_after(ra, base, wait_ms))
			return HTTPC_RL_RETRY_AFTER;
		if (reset && style != HTTPC_RL_OKTA && !reset_wait(reset, base, wait_ms))
			return HTTPC_RL_RETRY_AFTER;
		if (style == HTTPC_RL_GITLAB) {
			const char *rt = httpc_header_find(headers, nheaders, "ratelimit-resettime");
			int64_t at;
			if (rt && !httpc_parse_http_date(rt, &at)) {
				*wait_ms = at > base ? at - base : 0;
				return HTTPC_RL_RETRY_AFTER;
			}
		}
		*wait_ms = -1;
		return HTTPC_RL_BACKOFF;
	}
	/* Throttle ahead: the window's quota is spent, so the next request
	 * would be a 429. Hold until the window resets. */
	if (headroom >= 0 && rem >= 0 && rem <= headroom && reset) {
		int64_t w;
		if (!reset_wait(reset, base, &w) && w > 0) {
			*wait_ms = w;
			return HTTPC_RL_THROTTLE;
		}
	}
	return HTTPC_RL_GO;
}

/* ---- Link header (RFC 8288 §3) ---- */

static int is_tchar(int ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int is_ctl(int ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* Parse a link-param value at *pp (token or quoted-string) into a new
 * string. Returns 0, HTTPC_E_PARSE or HTTPC_E_NOMEM. */
static int link_param_value(const char **pp, char **out)
{
	const char *p = *pp;
	int rc = 0;
	struct buf b;
	buf_init(&b, LINK_PARAM_MAX);
	if (*p == '"') {
		p++;
		for (;;) {
			unsigned char ch = (unsigned char)*p;
			if (!ch || is_ctl(ch)) {
				rc = HTTPC_E_PARSE;
				goto out;
			}
			if (ch == '"') {
				p++;
				break;
			}
			if (ch == '\\') {
				p++;
				ch = (unsigned char)*p;
				if (!ch || is_ctl(ch)) {
					rc = HTTPC_E_PARSE;
					goto out;
				}
			}
			int br = buf_append(&b, &ch, 1);
			if (br) {
				rc = br == BUF_TOO_BIG ? HTTPC_E_PARSE : HTTPC_E_NOMEM;
				goto out;
			}
			p++;
		}
	} else {
		const char *s = p;
		while (is_tchar((unsigned char)*p))
			p++;
		if (p == s) {
			rc = HTTPC_E_PARSE;
			goto out;
		}
		int br = buf_append(&b, s, (size_t)(p - s));
		if (br) {
			rc = br == BUF_TOO_BIG ? HTTPC_E_PARSE : HTTPC_E_NOMEM;
			goto out;
		}
	}
	*out = buf_take(&b);
	if (!*out)
		rc = HTTPC_E_NOMEM;
	*pp = p;
out:
	buf_reset(&b);
	return rc;
}

/* 1 when the space-separated relation list rel contains "next". */
static int rel_has_next(const char *rel)
{
	const char *p = rel;
	while (*p) {
		while (is_ows((unsigned char)*p))
			p++;
		const char *s = p;
		while (*p && !is_ows((unsigned char)*p))
			p++;
		if (p - s == 4 && !strncasecmp(s, "next", 4))
			return 1;
	}
	return 0;
}

int httpc_link_next(const char *const *link_values, size_t n, char **next_url, char **cursor, struct err *e)
{
	int rc = 0, have_next = 0;
	char *url = NULL, *cur = NULL;
	char *rel = NULL, *results = NULL, *lcur = NULL, *val = NULL;
	const char *what = "";
	if (!next_url)
		return err_set(e, HTTPC_E_ARG, "link: next_url is NULL");
	*next_url = NULL;
	if (cursor)
		*cursor = NULL;
	for (size_t i = 0; i < n && link_values; i++) {
		const char *p = link_values[i];
		if (!p)
			continue;
		for (;;) {
			/* #rule lists allow empty elements and OWS around commas */
			while (is_ows((unsigned char)*p) || *p == ',')
				p++;
			if (!*p)
				break;
			if (*p != '<') {
				what = "expected '<'";
				goto bad;
			}
			const char *u = ++p;
			while (*p && *p != '>') {
				if (*p == '<' || is_ctl((unsigned char)*p) || *p == ' ') {
					what = "bad character in URI reference";
					goto bad;
				}
				p++;
			}
			if (*p != '>') {
				what = "unterminated URI reference";
				goto bad;
			}
			size_t ulen = (size_t)(p - u);
			p++;
			for (;;) {
				while (is_ows((unsigned char)*p))
					p++;
				if (!*p || *p == ',')
					break;
				if (*p != ';') {
					what = "expected ';' or ','";
					goto bad;
				}
				p++;
				while (is_ows((unsigned char)*p))
					p++;
				const char *name = p;
				while (is_tchar((unsigned char)*p))
					p++;
				size_t nlen = (size_t)(p - name);
				if (!nlen) {
					what = "empty parameter name";
					goto bad;
				}
				while (is_ows((unsigned char)*p))
					p++;
				if (*p == '=') {
					p++;
					while (is_ows((unsigned char)*p))
						p++;
					rc = link_param_value(&p, &val);
					if (rc == HTTPC_E_PARSE) {
						what = "bad parameter value";
						goto bad;
					}
					if (rc)
						goto out;
				}
				/* RFC 8288: occurrences after the first are ignored. */
				char **slot = NULL;
				if (nlen == 3 && !strncasecmp(name, "rel", 3))
					slot = &rel;
				else if (nlen == 7 && !strncasecmp(name, "results", 7))
					slot = &results;
				else if (nlen == 6 && !strncasecmp(name, "cursor", 6))
					slot = &lcur;
				if (slot && !*slot && val) {
					*slot = val;
					val = NULL;
				}
				free(val);
				val = NULL;
			}
			if (!have_next && rel && rel_has_next(rel)) {
				have_next = 1;
				if (!ulen) {
					what = "empty next URI";
					goto bad;
				}
				/* Sentry sends rel="next" on the last page too, with
				 * results="false" (sentry-api.md §4). */
				if (!(results && !strcasecmp(results, "false"))) {
					url = strndup(u, ulen);
					if (!url) {
						rc = HTTPC_E_NOMEM;
						goto out;
					}
					cur = lcur;
					lcur = NULL;
				}
			}
			free(rel);
			free(results);
			free(lcur);
			rel = results = lcur = NULL;
		}
	}
	*next_url = url;
	url = NULL;
	if (cursor) {
		*cursor = cur;
		cur = NULL;
	}
	goto out;
bad:
	rc = err_set(e, HTTPC_E_PARSE, "malformed Link header: %s", what);
out:
	if (rc == HTTPC_E_NOMEM)
		err_set(e, rc, "link: out of memory");
	free(val);
	free(rel);
	free(results);
	free(lcur);
	free(url);
	free(cur);
	return rc;
}

int httpc_resp_link_next(const struct httpc_resp *r, char **next_url, char **cursor, struct err *e)
{
	if (!r || !next_url)
		return err_set(e, HTTPC_E_ARG, "link: NULL argument");
	const char **vals = NULL;
	size_t nv = 0;
	if (r->nheaders) {
		vals = calloc(r->nheaders, sizeof *vals);
		if (!vals) {
			*next_url = NULL;
			if (cursor)
				*cursor = NULL;
			return err_set(e, HTTPC_E_NOMEM, "link: out of memory");
		}
	}
	size_t pos = 0;
	const char *v;
	while ((v = httpc_resp_header_next(r, "link", &pos)))
		vals[nv++] = v;
	int rc = httpc_link_next(vals, nv, next_url, cursor, e);
	free(vals);
	return rc;
}

/* ---- URL policy ---- */

static int host_is_loopback(const char *host)
{
	if (!strcasecmp(host, "localhost"))
		return 1;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	size_t n = strlen(host);
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		char *h6 = strndup(host + 1, n - 2);
		if (!h6)
			return 0;
		struct in6_addr a6;
		int ok = inet_pton(AF_INET6, h6, &a6) == 1;
		free(h6);
		if (!ok)
			return 0;
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			return a6.s6_addr[12] == 127;
	}
	return 0;
}

int httpc_check_url(const char *url, struct err *e)
{
	int rc = 0;
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL;
	if (!url)
		return err_set(e, HTTPC_E_ARG, "URL is NULL");
	u = curl_url();
	if (!u)
		return err_set(e, HTTPC_E_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		rc = err_set(e, HTTPC_E_ARG, "URL does not parse");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		rc = err_set(e, HTTPC_E_ARG, "URL has no scheme or host");
		goto out;
	}
	if (strcasecmp(scheme, "https") && strcasecmp(scheme, "http")) {
		rc = err_set(e, HTTPC_E_REFUSED, "URL scheme %.16s refused: http(s) only", scheme);
		goto out;
	}
	/* Credentials belong in headers, where they are never logged. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		rc = err_set(e, HTTPC_E_REFUSED, "URL with credentials refused");
		goto out;
	}
	/* Defence in depth: the config layer already allows plain http only for
	 * loopback (tests, simulators, a local sidecar); never send a token in
	 * clear over the network even if a bad config slips through. */
	if (!strcasecmp(scheme, "http") && !host_is_loopback(host)) {
		rc = err_set(e, HTTPC_E_REFUSED, "plain http to non-loopback host refused: use https");
		goto out;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the client                                                          */

struct throttle {
	char *key;     /* endpoint label */
	int64_t until; /* monotonic ms */
};

struct httpc {
	struct httpc_opts o; /* defaults resolved; strings point at the copies below */
	char *name, *ca_file, *user_agent;
	struct logger *lg;
	struct metrics *m;

	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	int share_mu_ok;

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;  /* signalled when a permit is released */
	int in_flight;
	double tokens; /* token bucket */
	int64_t tb_last_ns;
	int64_t blocked_until; /* monotonic ms; set by 429s, applies to every endpoint */
	struct throttle *thr;
	size_t nthr;
	CURL **easy_pool;
	size_t neasy;
	CURLM **multi_pool;
	size_t nmulti;
	size_t pool_max;

	_Atomic uint64_t rng;
};

static uint64_t default_rand(void *ctx)
{
	struct httpc *c = ctx;
	/* splitmix64 over an atomic counter: thread-safe and lock-free. */
	uint64_t z = atomic_fetch_add(&c->rng, 0x9e3779b97f4a7c15ULL) + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int64_t jitter(struct httpc *c, int64_t max)
{
	if (max <= 0)
		return 0;
	return scale_rand(c->o.rand(c->o.rand_ctx), max);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access acc, void *ud)
{
	(void)h;
	(void)acc;
	struct httpc *c = ud;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	struct httpc *c = ud;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_mu[data]);
}

static char *dup_or_null(const char *s, int *fail)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

struct httpc *httpc_new(const struct httpc_opts *o, struct logger *lg, struct metrics *m)
{
	struct httpc *c = NULL;
	const char *bad = NULL;
	int fail = 0;
	if (!o) {
		bad = "options are NULL";
		goto invalid;
	}
	if (o->timeout_ms < 0 || o->connect_timeout_ms < 0 || o->backoff_base_ms < 0 || o->backoff_max_ms < 0 ||
	    o->max_wait_ms < 0 || o->max_concurrency < 0 || o->burst < 0 || o->max_redirects < 0 ||
	    o->max_retries < -1 || o->max_rl_retries < -1 || o->rl_jitter_ms < -1 || o->rl_headroom < -1) {
		bad = "negative option value";
		goto invalid;
	}
	if (!(o->rate_per_sec >= 0) || !isfinite(o->rate_per_sec)) {
		bad = "rate_per_sec must be finite and >= 0";
		goto invalid;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		goto nomem;
	c->o = *o;
	c->lg = lg;
	c->m = m;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	c->share_mu_ok = 1;

	c->name = dup_or_null(o->name ? o->name : "upstream", &fail);
	c->ca_file = dup_or_null(o->ca_file, &fail);
	c->user_agent = dup_or_null(o->user_agent ? o->user_agent : DEF_USER_AGENT, &fail);
	if (fail)
		goto nomem;
	c->o.name = c->name;
	c->o.ca_file = c->ca_file;
	c->o.user_agent = c->user_agent;

	struct httpc_opts *d = &c->o;
	if (!d->timeout_ms)
		d->timeout_ms = DEF_TIMEOUT_MS;
	if (!d->connect_timeout_ms)
		d->connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (d->connect_timeout_ms > d->timeout_ms)
		d->connect_timeout_ms = d->timeout_ms;
	d->max_retries = d->max_retries == 0 ? DEF_MAX_RETRIES : d->max_retries < 0 ? 0 : d->max_retries;
	d->max_rl_retries = d->max_rl_retries == 0 ? DEF_MAX_RL_RETRIES : d->max_rl_retries < 0 ? 0 : d->max_rl_retries;
	if (!d->backoff_base_ms)
		d->backoff_base_ms = DEF_BACKOFF_BASE_MS;
	if (!d->backoff_max_ms)
		d->backoff_max_ms = DEF_BACKOFF_MAX_MS;
	if (!d->max_concurrency)
		d->max_concurrency = DEF_MAX_CONCURRENCY;
	if (d->rate_per_sec > 0 && !d->burst)
		d->burst = d->rate_per_sec < 1 ? 1 : (int)ceil(d->rate_per_sec);
	if (!d->max_response_bytes)
		d->max_response_bytes = DEF_MAX_RESPONSE_BYTES;
	if (!d->max_header_bytes)
		d->max_header_bytes = DEF_MAX_HEADER_BYTES;
	if (!d->max_wait_ms)
		d->max_wait_ms = DEF_MAX_WAIT_MS;
	if (d->backoff_max_ms > d->max_wait_ms)
		d->backoff_max_ms = d->max_wait_ms; /* no single wait above max_wait_ms */
	if (d->backoff_base_ms > d->backoff_max_ms)
		d->backoff_base_ms = d->backoff_max_ms;
	d->rl_jitter_ms = d->rl_jitter_ms == 0 ? DEF_RL_JITTER_MS : d->rl_jitter_ms < 0 ? 0 : d->rl_jitter_ms;
	d->retry_timeouts = d->retry_timeouts >= 0;
	if (!d->rand) {
		uint64_t seed = 0;
		if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
			seed = (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)c;
		atomic_store(&c->rng, seed);
		d->rand = default_rand;
		d->rand_ctx = c;
	}
	c->tokens = d->burst;
	c->tb_last_ns = clock_mono_ns();
	c->pool_max = (size_t)d->max_concurrency;

	c->share = curl_share_init();
	if (!c->share)
		goto nomem;
	if (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
		bad = "curl share setup failed";
		goto invalid;
	}

	metrics_describe(m, M_REQUESTS, METRIC_COUNTER,
			 "Upstream HTTP attempts by upstream, endpoint and status (\"error\": no response)");
	metrics_describe(m, M_DURATION, METRIC_HISTOGRAM, "Upstream HTTP attempt duration in seconds");
	metrics_describe(m, M_RETRIES, METRIC_COUNTER, "Upstream HTTP retries by reason");
	metrics_describe(m, M_RL_WAITS, METRIC_COUNTER,
			 "Requests held because the upstream rate-limited us (429, or quota spent)");
	metrics_describe(m, M_RL_WAIT_SECS, METRIC_COUNTER,
			 "Seconds requests were held because of upstream rate limits (summed over requests)");
	metrics_describe(m, M_IN_FLIGHT, METRIC_GAUGE, "Upstream HTTP requests in flight");
	metrics_set(m, M_IN_FLIGHT, 0, "upstream", c->name, NULL);
	return c;

nomem:
	bad = "out of memory";
invalid:
	log_error(lg, MOD, NULL, "cannot create HTTP client", "upstream", o && o->name ? o->name : NULL, "error", bad,
		  NULL);
	httpc_free(c);
	return NULL;
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	/* Multis first: closing their cached connections may touch the share
	 * (TLS sessions); easy handles reference the share until cleaned. */
	for (size_t i = 0; i < c->nmulti; i++)
		curl_multi_cleanup(c->multi_pool[i]);
	free(c->multi_pool);
	for (size_t i = 0; i < c->neasy; i++)
		curl_easy_cleanup(c->easy_pool[i]);
	free(c->easy_pool);
	if (c->share)
		curl_share_cleanup(c->share);
	if (c->share_mu_ok)
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&c->share_mu[i]);
	for (size_t i = 0; i < c->nthr; i++)
		free(c->thr[i].key);
	free(c->thr);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->name);
	free(c->ca_file);
	free(c->user_agent);
	free(c);
}

/* ---- pools ---- */

static CURL *pool_get_easy(struct httpc *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->neasy)
		h = c->easy_pool[--c->neasy];
	pthread_mutex_unlock(&c->mu);
	if (!h)
		h = curl_easy_init();
	return h;
}

static void pool_put_easy(struct httpc *c, CURL *h)
{
	if (!h)
		return;
	/* Drop every option now: they point at the finished request's header
	 * list, error buffer and body. Reset keeps the share attached. */
	curl_easy_reset(h);
	pthread_mutex_lock(&c->mu);
	if (c->neasy < c->pool_max) {
		if (!c->easy_pool)
			c->easy_pool = calloc(c->pool_max, sizeof *c->easy_pool);
		if (c->easy_pool) {
			c->easy_pool[c->neasy++] = h;
			h = NULL;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

static CURLM *pool_get_multi(struct httpc *c)
{
	CURLM *mh = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->nmulti)
		mh = c->multi_pool[--c->nmulti];
	pthread_mutex_unlock(&c->mu);
	if (!mh) {
		mh = curl_multi_init();
		/* Bound idle connections kept per multi handle. */
		if (mh)
			curl_multi_setopt(mh, CURLMOPT_MAXCONNECTS, (long)c->o.max_concurrency);
	}
	return mh;
}

static void pool_put_multi(struct httpc *c, CURLM *mh)
{
	if (!mh)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->nmulti < c->pool_max) {
		if (!c->multi_pool)
			c->multi_pool = calloc(c->pool_max, sizeof *c->multi_pool);
		if (c->multi_pool) {
			c->multi_pool[c->nmulti++] = mh;
			mh = NULL;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (mh)
		curl_multi_cleanup(mh);
}

/* ---- concurrency permits ---- */

static int permit_try(struct httpc *c)
{
	int ok = 0, now = 0;
	pthread_mutex_lock(&c->mu);
	if (c->in_flight < c->o.max_concurrency) {
		now = ++c->in_flight;
		ok = 1;
	}
	pthread_mutex_unlock(&c->mu);
	if (ok)
		metrics_set(c->m, M_IN_FLIGHT, now, "upstream", c->name, NULL);
	return ok;
}

static void permit_release(struct httpc *c)
{
	pthread_mutex_lock(&c->mu);
	int now = --c->in_flight;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	metrics_set(c->m, M_IN_FLIGHT, now, "upstream", c->name, NULL);
}

/* Block until a permit may be free or ms pass (no permit is taken). */
static void permit_wait(struct httpc *c, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	if (c->in_flight >= c->o.max_concurrency)
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	pthread_mutex_unlock(&c->mu);
}

/* ---- token bucket ---- */

/* Reserve one token; returns the ms to wait before using it (0 = now).
 * Tokens may go negative: each reservation waits its own turn, so waiting
 * callers are served in order without re-polling. */
static int64_t bucket_reserve(struct httpc *c)
{
	if (c->o.rate_per_sec <= 0)
		return 0;
	int64_t wait = 0;
	pthread_mutex_lock(&c->mu);
	int64_t now = clock_mono_ns();
	c->tokens += (double)(now - c->tb_last_ns) / 1e9 * c->o.rate_per_sec;
	if (c->tokens > c->o.burst)
		c->tokens = c->o.burst;
	c->tb_last_ns = now;
	c->tokens -= 1;
	if (c->tokens < 0)
		wait = (int64_t)ceil(-c->tokens / c->o.rate_per_sec * 1000.0);
	pthread_mutex_unlock(&c->mu);
	return wait;
}

/* ---- blocked-until and throttle-ahead ---- */

static void block_client(struct httpc *c, int64_t until)
{
	pthread_mutex_lock(&c->mu);
	if (until > c->blocked_until)
		c->blocked_until = until;
	pthread_mutex_unlock(&c->mu);
}

static void throttle_endpoint(struct httpc *c, const char *key, int64_t until, int64_t now)
{
	pthread_mutex_lock(&c->mu);
	struct throttle *t = NULL, *expired = NULL;
	for (size_t i = 0; i < c->nthr; i++) {
		if (!strcmp(c->thr[i].key, key)) {
			t = &c->thr[i];
			break;
		}
		if (!expired && c->thr[i].until <= now)
			expired = &c->thr[i];
	}
	if (!t && c->nthr < THROTTLE_MAX) {
		if (!c->thr)
			c->thr = calloc(THROTTLE_MAX, sizeof *c->thr);
		char *k = c->thr ? strdup(key) : NULL;
		if (k) {
			t = &c->thr[c->nthr++];
			t->key = k;
			t->until = 0;
		}
	}
	if (!t && expired) {
		char *k = strdup(key);
		if (k) {
			free(expired->key);
			expired->key = k;
			expired->until = 0;
			t = expired;
		}
	}
	if (t) {
		if (until > t->until)
			t->until = until;
	} else if (until > c->blocked_until) {
		c->blocked_until = until; /* table full or no memory: be conservative */
	}
	pthread_mutex_unlock(&c->mu);
}

static int64_t held_until(struct httpc *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	int64_t u = c->blocked_until;
	for (size_t i = 0; i < c->nthr; i++) {
		if (!strcmp(c->thr[i].key, key)) {
			if (c->thr[i].until > u)
				u = c->thr[i].until;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return u;
}

/* ------------------------------------------------------------------ */
/* the engine                                                          */

enum xstate { XS_WAIT = 0, XS_RUN, XS_DONE };

struct batch;

struct xfer {
	struct batch *b;
	const struct httpc_req *req;
	struct httpc_resp *resp;
	const char *endpoint; /* label, never NULL */
	int idempotent;
	enum xstate state;
	int64_t not_before; /* monotonic ms */
	int64_t attempt_ns;
	int have_token;
	int err_retries, rl_retries;
	CURL *easy;
	struct curl_slist *hdrs;
	size_t hdr_cap; /* slots allocated in resp->headers */
	size_t hdr_bytes;
	int write_rc; /* BUF_* failure in the write callback */
	int hdr_fail; /* HTTPC_E_TOO_BIG or HTTPC_E_NOMEM in the header callback */
	struct err err;
	char errbuf[CURL_ERROR_SIZE];
};

struct batch {
	struct httpc *c;
	CURLM *multi;
	struct xfer *xs;
	size_t n, ndone;
	int running;
	int64_t t0;
};

static const char *const idempotent_methods[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
static const char *const known_methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

static void fmt_i64(char *out, size_t n, int64_t v)
{
	snprintf(out, n, "%lld", (long long)v);
}

static void clear_headers(struct httpc_resp *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	r->nheaders = 0;
}

void httpc_resp_free(struct httpc_resp *r)
{
	if (!r)
		return;
	buf_reset(&r->body);
	clear_headers(r);
	free(r->headers);
	r->headers = NULL;
	r->status = 0;
	r->attempts = 0;
	r->elapsed_ms = 0;
	r->retry_after_ms = -1;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb;
	int rc = buf_append(&x->resp->body, p, len);
	if (rc) {
		x->write_rc = rc;
		return 0; /* != len: curl aborts with CURLE_WRITE_ERROR */
	}
	return len;
}

/* Store one header line as "name: value" (name lowercased, value trimmed),
 * or fold an obs-fold continuation into the previous one. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct httpc_resp *r = x->resp;
	size_t len = size * nmemb;
	x->hdr_bytes += len;
	if (x->hdr_bytes > x->b->c->o.max_header_bytes) {
		x->hdr_fail = HTTPC_E_TOO_BIG;
		return 0;
	}
	/* A status line starts a new response (after a followed redirect or a
	 * 1xx): keep only the final response's headers. */
	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		clear_headers(r);
		return len;
	}
	size_t n = len;
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (!n)
		return len;
	char *line = NULL;
	if (is_ows((unsigned char)p[0])) {
		if (!r->nheaders)
			return len; /* continuation of nothing: ignore */
		size_t s = 0;
		while (s < n && is_ows((unsigned char)p[s]))
			s++;
		char *prev = r->headers[r->nheaders - 1];
		size_t pl = strlen(prev);
		line = realloc(prev, pl + 1 + (n - s) + 1);
		if (!line)
			goto nomem;
		line[pl] = ' ';
		memcpy(line + pl + 1, p + s, n - s);
		line[pl + 1 + n - s] = '\0';
		r->headers[r->nheaders - 1] = line;
		return len;
	}
	const char *colon = memchr(p, ':', n);
	if (!colon || colon == p)
		return len; /* not a header field: ignore */
	size_t nl = (size_t)(colon - p);
	while (nl && is_ows((unsigned char)p[nl - 1]))
		nl--;
	size_t vs = (size_t)(colon - p) + 1;
	while (vs < n && is_ows((unsigned char)p[vs]))
		vs++;
	size_t ve = n;
	while (ve > vs && is_ows((unsigned char)p[ve - 1]))
		ve--;
	if (r->nheaders == x->hdr_cap) {
		size_t ncap = x->hdr_cap ? x->hdr_cap * 2 : 16;
		char **nh = realloc(r->headers, ncap * sizeof *nh);
		if (!nh)
			goto nomem;
		r->headers = nh;
		x->hdr_cap = ncap;
	}
	line = malloc(nl + 2 + (ve - vs) + 1);
	if (!line)
		goto nomem;
	for (size_t i = 0; i < nl; i++)
		line[i] = (char)tolower((unsigned char)p[i]);
	line[nl] = ':';
	line[nl + 1] = ' ';
	memcpy(line + nl + 2, p + vs, ve - vs);
	line[nl + 2 + ve - vs] = '\0';
	r->headers[r->nheaders++] = line;
	return len;
nomem:
	x->hdr_fail = HTTPC_E_NOMEM;
	return 0;
}

static int validate_req(const struct httpc_req *req, struct err *e)
{
	if (!req || !req->method || !req->url)
		return err_set(e, HTTPC_E_ARG, "request, method or URL is NULL");
	if (!in_list(req->method, known_methods, sizeof known_methods / sizeof *known_methods))
		return err_set(e, HTTPC_E_ARG, "unsupported method");
	if (req->body_len && !req->body)
		return err_set(e, HTTPC_E_ARG, "body is NULL but body_len is not 0");
	for (const char *const *h = req->headers; h && *h; h++) {
		const char *colon = strchr(*h, ':');
		if (!colon || colon == *h)
			return err_set(e, HTTPC_E_ARG, "request header without a name");
		for (const char *q = *h; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return err_set(e, HTTPC_E_ARG, "bad request header name");
		/* No CR/LF: a header value must not smuggle another header. */
		if (strpbrk(*h, "\r\n"))
			return err_set(e, HTTPC_E_ARG, "request header contains CR or LF");
	}
	return httpc_check_url(req->url, e);
}

#define SETOPT(h, opt, val)                                                                                            \
	do {                                                                                                           \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {                                                 \
			rc = err_set(&x->err, HTTPC_E_INTERNAL, "curl option " #opt " rejected");                      \
			goto out;                                                                                      \
		}                                                                                                      \
	} while (0)

/* Configure x->easy for x->req (once per request; attempts reuse it). */
static int setup_easy(struct xfer *x)
{
	struct httpc *c = x->b->c;
	const struct httpc_req *req = x->req;
	CURL *h = x->easy;
	int rc = 0;
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		struct curl_slist *n = curl_slist_append(x->hdrs, *hp);
		if (!n)
			goto nomem;
		x->hdrs = n;
	}
	/* Never wait a second for "100 Continue" before sending a body. */
	struct curl_slist *n = curl_slist_append(x->hdrs, "Expect:");
	if (!n)
		goto nomem;
	x->hdrs = n;

	SETOPT(h, CURLOPT_URL, req->url);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, c->o.max_redirects > 0 ? 1L : 0L);
	SETOPT(h, CURLOPT_MAXREDIRS, (long)c->o.max_redirects);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->o.ca_file)
		SETOPT(h, CURLOPT_CAINFO, c->o.ca_file);
	SETOPT(h, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(h, CURLOPT_WRITEDATA, x);
	SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, CURLOPT_HEADERDATA, x);
	SETOPT(h, CURLOPT_PRIVATE, x);
	SETOPT(h, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(h, CURLOPT_HTTPHEADER, x->hdrs);
	SETOPT(h, CURLOPT_USERAGENT, c->o.user_agent);
	SETOPT(h, CURLOPT_SHARE, c->share);
	SETOPT(h, CURLOPT_ACCEPT_ENCODING, ""); /* decoded size is what the cap counts */
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_NOPROGRESS, 1L);

	const char *m = req->method;
	if (!strcmp(m, "GET")) {
		SETOPT(h, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(m, "HEAD")) {
		SETOPT(h, CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(m, "POST"))
			SETOPT(h, CURLOPT_CUSTOMREQUEST, m);
		if (!strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || req->body_len) {
			SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SETOPT(h, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
		}
	}
out:
	return rc;
nomem:
	return err_set(&x->err, HTTPC_E_NOMEM, "out of memory building request headers");
}

#undef SETOPT

/* The upstream's id for this exchange (Okta, GitLab, Slack), bounded
 * because it comes from outside; NULL when absent. */
static const char *upstream_rid(const struct httpc_resp *r, char *out, size_t n)
{
	static const char *const names[] = {"x-okta-request-id", "x-request-id", "x-slack-req-id"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		const char *v = httpc_resp_header(r, names[i]);
		if (v) {
			snprintf(out, n, "%.64s", v);
			return out;
		}
	}
	return NULL;
}

static void log_failure(struct xfer *x, int rc)
{
	struct httpc *c = x->b->c;
	char att[16], el[24], st[16], ridb[80];
	snprintf(att, sizeof att, "%d", x->resp->attempts);
	snprintf(st, sizeof st, "%ld", x->resp->status);
	fmt_i64(el, sizeof el, x->resp->elapsed_ms);
	log_warn(c->lg, MOD, x->req->log_id, "upstream call failed", "upstream", c->name, "method", x->req->method,
		 "endpoint", x->endpoint, "#status", st, "#attempts", att, "#elapsed_ms", el, "error",
		 httpc_strerror(rc), "upstream_request_id", upstream_rid(x->resp, ridb, sizeof ridb), NULL);
}

/* A response is handed back although it asks for a retry (budget spent, or
 * the upstream wants a longer wait than max_wait_ms). */
static void log_gave_up(struct xfer *x, const char *why)
{
	struct httpc *c = x->b->c;
	char att[16], st[16], ra[24], ridb[80];
	snprintf(att, sizeof att, "%d", x->resp->attempts);
	snprintf(st, sizeof st, "%ld", x->resp->status);
	fmt_i64(ra, sizeof ra, x->resp->retry_after_ms);
	log_warn(c->lg, MOD, x->req->log_id, "upstream retries stopped", "upstream", c->name, "method", x->req->method,
		 "endpoint", x->endpoint, "#status", st, "#attempts", att, "reason", why, "#retry_after_ms", ra,
		 "upstream_request_id", upstream_rid(x->resp, ridb, sizeof ridb), NULL);
}

/* Finish x with rc; x->err describes a failure. The easy handle must not be
 * on the multi any more. */
static void finish(struct xfer *x, int rc)
{
	struct batch *b = x->b;
	if (x->easy) {
		pool_put_easy(b->c, x->easy);
		x->easy = NULL;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->state = XS_DONE;
	x->resp->rc = rc;
	x->resp->elapsed_ms = clock_mono_ms() - b->t0;
	if (rc && !x->err.code)
		err_set(&x->err, rc, "%s", httpc_strerror(rc));
	if (rc && x->req) /* invalid requests (x->req == NULL) are not worth a warning */
		log_failure(x, rc);
	b->ndone++;
}

/* What a request is called in error text: its endpoint label (which by
 * convention starts with the method), else its method. Never the URL: its
 * query may carry personal data. */
static const char *what(const struct xfer *x)
{
	return x->req->endpoint ? x->req->endpoint : x->req->method;
}

static void schedule(struct xfer *x, int64_t at)
{
	x->state = XS_WAIT;
	x->not_before = at;
	x->have_token = 0;
}

static void count_rl_wait(struct httpc *c, int64_t ms)
{
	metrics_add(c->m, M_RL_WAITS, 1, "upstream", c->name, NULL);
	metrics_add(c->m, M_RL_WAIT_SECS, (double)ms / 1000.0, "upstream", c->name, NULL);
}

static void log_retry(struct xfer *x, const char *reason, long status, int64_t wait)
{
	struct httpc *c = x->b->c;
	char st[16], att[16], w[24], ridb[80];
	snprintf(st, sizeof st, "%ld", status);
	snprintf(att, sizeof att, "%d", x->resp->attempts);
	fmt_i64(w, sizeof w, wait);
	log_warn(c->lg, MOD, x->req->log_id, "upstream retry", "upstream", c->name, "method", x->req->method,
		 "endpoint", x->endpoint, "reason", reason, "#status", st, "#attempt", att, "#wait_ms", w,
		 "upstream_request_id", upstream_rid(x->resp, ridb, sizeof ridb), NULL);
	metrics_add(c->m, M_RETRIES, 1, "upstream", c->name, "reason", reason, NULL);
}

static int start_attempt(struct xfer *x)
{
	struct batch *b = x->b;
	int rc;
	if (!x->easy) {
		x->easy = pool_get_easy(b->c);
		if (!x->easy)
			return err_set(&x->err, HTTPC_E_NOMEM, "cannot create curl handle");
		rc = setup_easy(x);
		if (rc)
			return rc;
	}
	buf_reset(&x->resp->body);
	clear_headers(x->resp);
	x->resp->status = 0;
	x->hdr_bytes = 0;
	x->write_rc = 0;
	x->hdr_fail = 0;
	x->errbuf[0] = '\0';
	x->attempt_ns = clock_mono_ns();
	if (curl_multi_add_handle(b->multi, x->easy) != CURLM_OK)
		return err_set(&x->err, HTTPC_E_INTERNAL, "curl_multi_add_handle failed");
	x->resp->attempts++;
	x->state = XS_RUN;
	b->running++;
	return 0;
}

/* Try to move a waiting request to the wire. *wake gets the earliest
 * instant this request needs looking at again; *want_permit is set when it
 * is only waiting for a concurrency permit. */
static void admit(struct xfer *x, int64_t now, int64_t *wake, int *want_permit)
{
	struct httpc *c = x->b->c;
	if (now < x->not_before) {
		if (x->not_before < *wake)
			*wake = x->not_before;
		return;
	}
	int64_t held = held_until(c, x->endpoint);
	if (held > now) {
		int64_t w = held - now;
		if (w > c->o.max_wait_ms) {
			x->resp->retry_after_ms = w;
			err_set(&x->err, HTTPC_E_RATE_LIMITED,
				"%s: upstream rate limit holds requests for %lld ms (max_wait_ms %lld)", what(x),
				(long long)w, (long long)c->o.max_wait_ms);
			finish(x, HTTPC_E_RATE_LIMITED);
			return;
		}
		/* Jitter so that the held requests do not all fire at once. */
		int64_t j = jitter(c, c->o.rl_jitter_ms);
		count_rl_wait(c, w + j);
		x->not_before = held + j;
		if (x->not_before < *wake)
			*wake = x->not_before;
		return;
	}
	if (!x->have_token) {
		x->have_token = 1;
		int64_t d = bucket_reserve(c);
		if (d > 0) {
			x->not_before = now + d;
			if (x->not_before < *wake)
				*wake = x->not_before;
			return;
		}
	}
	if (!permit_try(c)) {
		*want_permit = 1;
		return;
	}
	int rc = start_attempt(x);
	if (rc) {
		permit_release(c);
		finish(x, rc);
		return;
	}
	x->have_token = 0;
}

/* Map a curl result to an httpc_rc. *retryable: a retry may help;
 * *unsent: the request certainly was not processed by the upstream. */
static int classify(struct xfer *x, CURLcode cc, int *retryable, int *unsent)
{
	long reqsize = 0;
	curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &reqsize);
	*unsent = reqsize == 0;
	*retryable = 0;
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		*retryable = *unsent = 1;
		return HTTPC_E_CONNECT;
	case CURLE_SSL_CONNECT_ERROR: /* handshake failed: nothing was sent */
		*retryable = *unsent = 1;
		return HTTPC_E_TLS;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
		return HTTPC_E_TLS; /* configuration or attack: retrying won't help */
	case CURLE_OPERATION_TIMEDOUT:
		*retryable = 1;
		return HTTPC_E_TIMEOUT;
	case CURLE_WRITE_ERROR:
		if (x->write_rc == BUF_TOO_BIG || x->hdr_fail == HTTPC_E_TOO_BIG)
			return HTTPC_E_TOO_BIG;
		if (x->write_rc == BUF_NOMEM || x->hdr_fail == HTTPC_E_NOMEM)
			return HTTPC_E_NOMEM;
		return HTTPC_E_INTERNAL;
	case CURLE_OUT_OF_MEMORY:
		return HTTPC_E_NOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL: /* e.g. a redirect to a refused scheme */
		return HTTPC_E_REFUSED;
	case CURLE_URL_MALFORMAT:
		return HTTPC_E_ARG;
	case CURLE_TOO_MANY_REDIRECTS:
		return HTTPC_E_TRANSPORT;
	case CURLE_ABORTED_BY_CALLBACK:
		return HTTPC_E_CANCELLED;
	default: /* send/recv errors, empty reply, bad framing, HTTP/2 errors */
		*retryable = 1;
		return HTTPC_E_TRANSPORT;
	}
}

static const char *retry_reason(int rc)
{
	switch (rc) {
	case HTTPC_E_CONNECT:
		return "connect";
	case HTTPC_E_TLS:
		return "tls";
	case HTTPC_E_TIMEOUT:
		return "timeout";
	default:
		return "transport";
	}
}

static int retryable_status(long status)
{
	return status == 408 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* An attempt ended: record it, then retry, wait or finish. */
static void complete(struct xfer *x, CURLcode cc)
{
	struct batch *b = x->b;
	struct httpc *c = b->c;
	struct httpc_resp *r = x->resp;
	curl_multi_remove_handle(b->multi, x->easy);
	b->running--;
	permit_release(c);

	int64_t now = clock_mono_ms();
	double secs = (double)(clock_mono_ns() - x->attempt_ns) / 1e9;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;

	char st[16], att[16], el[24];
	snprintf(st, sizeof st, "%ld", status);
	snprintf(att, sizeof att, "%d", r->attempts);
	fmt_i64(el, sizeof el, (int64_t)(secs * 1000));
	const char *label = cc == CURLE_OK ? st : "error";
	metrics_add(c->m, M_REQUESTS, 1, "upstream", c->name, "endpoint", x->endpoint, "status", label, NULL);
	metrics_observe(c->m, M_DURATION, secs, "upstream", c->name, "endpoint", x->endpoint, NULL);
	if (logger_enabled(c->lg, LOG_LVL_DEBUG)) {
		char ridb[80];
		log_debug(c->lg, MOD, x->req->log_id, "upstream attempt", "upstream", c->name, "method", x->req->method,
			  "endpoint", x->endpoint, "status", label, "#attempt", att, "#elapsed_ms", el,
			  "upstream_request_id", upstream_rid(r, ridb, sizeof ridb), NULL);
	}

	if (cc == CURLE_OK) {
		int64_t w = -1;
		long headroom = c->o.rl_headroom;
		if (c->o.rl_headroom_pct > 0 && headroom >= 0) {
			/* A share of the window's budget: the limit comes with each answer. */
			const char *lh = httpc_resp_header(r, c->o.rl == HTTPC_RL_OKTA     ? "x-rate-limit-limit"
							      : c->o.rl == HTTPC_RL_GITLAB ? "ratelimit-limit"
											   : "x-sentry-rate-limit-limit");
			long long lim = lh ? parse_uint(lh) : -1;
			if (lim > 0) {
				long pct = (long)((double)lim * c->o.rl_headroom_pct / 100.0);
				if (pct > headroom)
					headroom = pct;
			}
		}
		enum httpc_rl_action act =
		    httpc_rl_decide(c->o.rl, status, (const char *const *)r->headers, r->nheaders, clock_now_ms(),
				    httpc_resp_header(r, "date"), headroom, &w);
		if (act == HTTPC_RL_THROTTLE) {
			if (w > BLOCK_SANITY_MS)
				w = BLOCK_SANITY_MS;
			throttle_endpoint(c, x->endpoint, now + w, now);
			char ws[24];
			fmt_i64(ws, sizeof ws, w);
			log_info(c->lg, MOD, x->req->log_id, "upstream quota spent: holding requests", "upstream",
				 c->name, "endpoint", x->endpoint, "#wait_ms", ws, NULL);
		}
		if (status == 429) {
			int64_t wait = act == HTTPC_RL_RETRY_AFTER
					   ? w
					   : httpc_backoff_ms(c->o.backoff_base_ms, c->o.backoff_max_ms, x->rl_retries,
							      c->o.rand, c->o.rand_ctx);
			if (wait > BLOCK_SANITY_MS)
				wait = BLOCK_SANITY_MS;
			/* Every thread of this client holds back, not just this one. */
			block_client(c, now + wait);
			if (wait > c->o.max_wait_ms || x->rl_retries >= c->o.max_rl_retries) {
				r->retry_after_ms = wait;
				log_gave_up(x, wait > c->o.max_wait_ms ? "wait_above_max" : "rate_limit_budget_spent");
				finish(x, 0);
				return;
			}
			int64_t j = jitter(c, c->o.rl_jitter_ms);
			x->rl_retries++;
			log_retry(x, "rate_limited", status, wait + j);
			count_rl_wait(c, wait + j);
			schedule(x, now + wait + j);
			return;
		}
		if (retryable_status(status) && x->idempotent && x->err_retries < c->o.max_retries) {
			int64_t wait = httpc_backoff_ms(c->o.backoff_base_ms, c->o.backoff_max_ms, x->err_retries,
							c->o.rand, c->o.rand_ctx);
			int64_t ra;
			const char *rav = httpc_resp_header(r, "retry-after");
			if (rav && !httpc_parse_retry_after(rav, clock_now_ms(), &ra) && ra > wait) {
				if (ra > c->o.max_wait_ms) {
					r->retry_after_ms = ra;
					log_gave_up(x, "wait_above_max");
					finish(x, 0);
					return;
				}
				wait = ra;
			}
			x->err_retries++;
			log_retry(x, "status_5xx", status, wait);
			schedule(x, now + wait);
			return;
		}
		if (retryable_status(status) && x->idempotent)
			log_gave_up(x, "retry_budget_spent");
		finish(x, 0);
		return;
	}

	int retryable, unsent;
	int rc = classify(x, cc, &retryable, &unsent);
	if (rc == HTTPC_E_TIMEOUT && !c->o.retry_timeouts && !unsent)
		retryable = 0;
	if (retryable && (x->idempotent || unsent) && x->err_retries < c->o.max_retries) {
		int64_t wait = httpc_backoff_ms(c->o.backoff_base_ms, c->o.backoff_max_ms, x->err_retries, c->o.rand,
						c->o.rand_ctx);
		x->err_retries++;
		log_retry(x, retry_reason(rc), 0, wait);
		schedule(x, now + wait);
		return;
	}
	/* curl's message names the host and the failure, never headers or bodies. */
	err_set(&x->err, rc, "%s: %s%s%.200s", what(x), httpc_strerror(rc), x->errbuf[0] ? ": " : "", x->errbuf);
	finish(x, rc);
}

static void cancel_running(struct xfer *x)
{
	struct batch *b = x->b;
	curl_multi_remove_handle(b->multi, x->easy);
	b->running--;
	permit_release(b->c);
}

static int run_batch(struct httpc *c, const struct httpc_req *reqs, struct httpc_resp *resps, size_t n, struct err *e)
{
	struct batch b = {.c = c, .n = n, .t0 = clock_mono_ms()};
	int rc = 0;
	err_clear(e);
	if (!resps || (n && !reqs))
		return err_set(e, HTTPC_E_ARG, "requests or responses are NULL");
	for (size_t i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof resps[i]);
		buf_init(&resps[i].body, c ? c->o.max_response_bytes : 1);
		resps[i].retry_after_ms = -1;
	}
	if (!c) {
		for (size_t i = 0; i < n; i++)
			resps[i].rc = HTTPC_E_ARG;
		return n ? err_set(e, HTTPC_E_ARG, "client is NULL") : 0;
	}
	if (!n)
		return 0;
	b.xs = calloc(n, sizeof *b.xs);
	if (!b.xs) {
		for (size_t i = 0; i < n; i++)
			resps[i].rc = HTTPC_E_NOMEM;
		return err_set(e, HTTPC_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct xfer *x = &b.xs[i];
		x->b = &b;
		x->resp = &resps[i];
		x->endpoint = reqs[i].endpoint ? reqs[i].endpoint : "unknown";
		int vrc = validate_req(&reqs[i], &x->err);
		if (vrc) {
			finish(x, vrc); /* x->req stays NULL: not logged */
			continue;
		}
		x->req = &reqs[i];
		x->idempotent = reqs[i].idempotent >= 0
				    ? reqs[i].idempotent != 0
				    : in_list(reqs[i].method, idempotent_methods,
					      sizeof idempotent_methods / sizeof *idempotent_methods);
		x->not_before = b.t0;
	}
	if (b.ndone < n) {
		b.multi = pool_get_multi(c);
		if (!b.multi) {
			for (size_t i = 0; i < n; i++) {
				if (b.xs[i].state != XS_DONE) {
					err_set(&b.xs[i].err, HTTPC_E_NOMEM, "cannot create curl multi handle");
					finish(&b.xs[i], HTTPC_E_NOMEM);
				}
			}
		}
	}

	while (b.ndone < n) {
		int64_t now = clock_mono_ms();
		int64_t wake = now + 1000;
		int want_permit = 0;
		for (size_t i = 0; i < n; i++) {
			struct xfer *x = &b.xs[i];
			if (x->state == XS_DONE)
				continue;
			if (x->req->cancel) {
				if (now + CANCEL_POLL_MS < wake)
					wake = now + CANCEL_POLL_MS;
				if (*x->req->cancel) {
					if (x->state == XS_RUN)
						cancel_running(x);
					err_set(&x->err, HTTPC_E_CANCELLED, "%s: cancelled", what(x));
					finish(x, HTTPC_E_CANCELLED);
					continue;
				}
			}
			if (x->state == XS_WAIT)
				admit(x, now, &wake, &want_permit);
		}
		if (b.ndone == n)
			break;
		int64_t timeout = wake - now;
		if (want_permit && b.running && timeout > PERMIT_POLL_MS)
			timeout = PERMIT_POLL_MS;
		if (timeout < 0)
			timeout = 0;
		if (want_permit && !b.running) {
			permit_wait(c, timeout);
		} else if (timeout > 0 || b.running) {
			if (curl_multi_poll(b.multi, NULL, 0, (int)timeout, NULL) != CURLM_OK)
				clock_sleep_ms(timeout, NULL);
		}
		int still = 0;
		curl_multi_perform(b.multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(b.multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct xfer *x = NULL;
			CURLcode cc = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x && x->state == XS_RUN)
				complete(x, cc);
		}
	}

	for (size_t i = 0; i < n; i++) {
		if (resps[i].rc) {
			rc = resps[i].rc;
			if (e)
				*e = b.xs[i].err;
			break;
		}
	}
	pool_put_multi(c, b.multi);
	free(b.xs);
	return rc;
}

int httpc_call(struct httpc *c, const struct httpc_req *req, struct httpc_resp *resp, struct err *e)
{
	if (!req || !resp) {
		if (resp) {
			memset(resp, 0, sizeof *resp);
			resp->retry_after_ms = -1;
			resp->rc = HTTPC_E_ARG;
		}
		return err_set(e, HTTPC_E_ARG, "request or response is NULL");
	}
	return run_batch(c, req, resp, 1, e);
}

int httpc_call_many(struct httpc *c, const struct httpc_req *reqs, struct httpc_resp *resps, size_t n, struct err *e)
{
	return run_batch(c, reqs, resps, n, e);
}
