/*
 * httpc.h: the one outbound HTTP client (libcurl) that every upstream call
 * goes through: Okta, Sentry, GitLab and Slack.
 *
 * One struct httpc per upstream holds the policy for that upstream in one
 * options struct (timeouts, TLS, size caps, retry budgets, concurrency and
 * rate budgets, which rate-limit headers to honour) plus the shared state
 * that makes the whole process polite: a concurrency semaphore, a token
 * bucket, a "blocked until" instant set by 429s, per-endpoint throttle-ahead
 * instants set when a quota is exhausted, and pools of curl handles so
 * connections, DNS answers and TLS sessions are reused.
 *
 * Safety rules applied to every request (see httpc.c for the why):
 *   - http and https only; plain http only to loopback hosts (the config
 *     layer already insists on that: this is defence in depth);
 *   - TLS peer and host verification always on, TLS >= 1.2;
 *   - redirects off unless max_redirects > 0, and then to https only;
 *   - response bodies and headers bounded while they arrive;
 *   - request and response bodies, URLs and request headers are never
 *     logged; log lines carry method, endpoint label, status, attempt,
 *     elapsed time and the upstream's request id.
 *
 * Retry policy (one place for the whole daemon):
 *   - transport errors, timeouts and 408/500/502/503/504 are retried for
 *     idempotent requests; a non-idempotent request is retried only when it
 *     certainly was not processed (DNS or connect failure, TLS handshake
 *     failure, nothing sent, or a 429);
 *   - waits use exponential backoff with full jitter:
 *     random in [0, min(backoff_max_ms, backoff_base_ms * 2^n)];
 *   - 429s use a separate, larger budget (max_rl_retries) than errors
 *     (max_retries), because a 429 is the upstream asking us to wait, not a
 *     failure: a call makes at most 1 + max_retries + max_rl_retries attempts;
 *   - no single wait is longer than max_wait_ms. When the upstream asks for a
 *     longer wait, the call does not park the thread: it returns the 429 (or
 *     HTTPC_E_RATE_LIMITED before sending) with resp->retry_after_ms so the
 *     durable job queue can reschedule the work.
 *
 * Rate limits (see httpc_rl_decide for the per-vendor header rules):
 *   - a 429 sets the client's "blocked until" instant: every thread using
 *     the client holds its next request until then (plus jitter), whatever
 *     the endpoint;
 *   - a response saying the quota is spent (Remaining <= rl_headroom with a
 *     Reset ahead) holds further requests with the same endpoint label until
 *     the reset ("throttle ahead"; Okta counts quotas per endpoint bucket,
 *     so other endpoints keep going);
 *   - max_concurrency requests at most are in flight per client across all
 *     threads, and rate_per_sec/burst is a token bucket applied to every
 *     attempt, retries included.
 *
 * Metrics (declared by httpc_new, labelled upstream = opts.name):
 *   sb_upstream_requests_total{upstream,endpoint,status}  per attempt; status
 *       is the HTTP code, or "error" when no response came back
 *   sb_upstream_request_duration_seconds{upstream,endpoint}  per attempt
 *   sb_upstream_retries_total{upstream,reason}  reason: connect, tls,
 *       timeout, transport, status_5xx, rate_limited
 *   sb_upstream_rate_limit_waits_total{upstream}  requests held because of a
 *       429 or a spent quota (not the local token bucket)
 *   sb_upstream_rate_limit_wait_seconds_total{upstream}  time those requests
 *       were held, summed over requests
 *   sb_upstream_in_flight{upstream}  gauge
 */
#ifndef SB_CORE_HTTPC_H
#define SB_CORE_HTTPC_H

#include "buf.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

/* Status codes of httpc_call() and friends (also in struct err.code). */
enum httpc_rc {
	HTTPC_OK = 0,
	HTTPC_E_ARG,	      /* bad argument: NULL, unknown method, bad header, bad URL */
	HTTPC_E_REFUSED,      /* URL refused by policy (scheme, plain http to a non-loopback host) */
	HTTPC_E_NOMEM,	      /* allocation failed */
	HTTPC_E_CONNECT,      /* DNS or TCP connect failed (request certainly not sent) */
	HTTPC_E_TLS,	      /* TLS handshake or certificate verification failed */
	HTTPC_E_TIMEOUT,      /* connect or transfer timeout */
	HTTPC_E_TRANSPORT,    /* other transport failure (reset, empty reply, bad framing) */
	HTTPC_E_TOO_BIG,      /* response body or headers over the configured cap */
	HTTPC_E_CANCELLED,    /* req->cancel became nonzero */
	HTTPC_E_RATE_LIMITED, /* not sent: the upstream asked us to hold longer than max_wait_ms */
	HTTPC_E_PARSE,	      /* malformed input to a parser helper (Link header) */
	HTTPC_E_INTERNAL      /* unexpected libcurl failure */
};

/* Which vendor rate-limit headers a client honours. Every style honours a
 * standard Retry-After on 429. */
enum httpc_rl_style {
	HTTPC_RL_NONE = 0, /* Retry-After on 429 only */
	HTTPC_RL_OKTA,	   /* X-Rate-Limit-Limit/Remaining/Reset (epoch s), Retry-After */
	HTTPC_RL_SENTRY,   /* Retry-After, X-Sentry-Rate-Limit-Remaining/Reset (epoch s) */
	HTTPC_RL_GITLAB,   /* Retry-After, RateLimit-Remaining/Reset (epoch s), RateLimit-ResetTime */
	HTTPC_RL_SLACK	   /* Retry-After (seconds) */
};

/* Source of randomness for jitter: any 64-bit value, uniformly distributed. */
typedef uint64_t (*httpc_rand_fn)(void *ctx);

/*
 * Per-upstream options. Copied by httpc_new(); strings are copied too.
 * Zero means the documented default; where zero is also a useful value,
 * -1 selects it ("none").
 */
struct httpc_opts {
	const char *name;	    /* metrics/log label: "okta", "sentry", ... (default "upstream") */
	enum httpc_rl_style rl;	    /* rate-limit headers to honour */
	int64_t timeout_ms;	    /* whole attempt, connect included (default 30000) */
	int64_t connect_timeout_ms; /* DNS + TCP + TLS (default 10000) */
	int max_retries;	    /* error retries: transport, timeout, 5xx (default 3; -1 none) */
	int max_rl_retries;	    /* 429 retries, separate budget (default 6; -1 none) */
	int64_t backoff_base_ms;    /* first backoff cap (default 200) */
	int64_t backoff_max_ms;	    /* largest backoff cap (default 10000) */
	int max_concurrency;	    /* requests in flight across all threads (default 8) */
	double rate_per_sec;	    /* token bucket refill (0 = unlimited) */
	int burst;		    /* token bucket size (default max(1, ceil(rate_per_sec))) */
	const char *ca_file;	    /* PEM bundle for CURLOPT_CAINFO (default: system store) */
	size_t max_response_bytes;  /* body cap (default 8 MiB) */
	size_t max_header_bytes;    /* cap on all header lines of one response (default 256 KiB) */
	int max_redirects;	    /* redirects followed, https only (default 0: upstream APIs don't redirect) */
	int64_t max_wait_ms;	    /* longest single rate-limit or backoff wait (default 60000) */
	int64_t rl_jitter_ms;	    /* jitter added to rate-limit waits, random in [0, j] (default 250; -1 none) */
	long rl_headroom;	    /* throttle ahead when Remaining <= headroom (default 0; -1 never) */
	double rl_headroom_pct;	    /* also keep this share (0-100) of the window's Limit header unused (0: none) */
	int retry_timeouts;	    /* retry idempotent requests after a timeout: 0 = yes (default), -1 = no */
	const char *user_agent;	    /* default "sentry-bridge" */
	httpc_rand_fn rand;	    /* jitter source (default: internal PRNG seeded from getrandom) */
	void *rand_ctx;		    /* passed to rand */
};

/* A request. All pointers are borrowed for the duration of the call. */
struct httpc_req {
	const char *method;	    /* GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS */
	const char *url;	    /* absolute http(s) URL */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;	    /* may be NULL when body_len is 0 */
	size_t body_len;
	const char *endpoint;	    /* low-cardinality label, e.g. "GET /api/v1/groups/{id}/users" */
	int idempotent;		    /* 1 yes, 0 no, -1 by method (GET/HEAD/PUT/DELETE/OPTIONS yes) */
	const volatile int *cancel; /* optional stop flag (e.g. set at shutdown): nonzero ends the call
				     * with HTTPC_E_CANCELLED, in flight or waiting; polled every <= 50 ms */
	const char *log_id;	    /* optional request or run id for log lines */
};

/* A response. Initialised by httpc_call(); release with httpc_resp_free(). */
struct httpc_resp {
	int rc;		 /* enum httpc_rc of this request (useful with httpc_call_many) */
	long status;	 /* HTTP status of the last attempt, 0 when none was received */
	struct buf body; /* bounded by max_response_bytes; NUL-terminated */
	char **headers;	 /* "name: value" as received, names lowercased, values trimmed */
	size_t nheaders;
	int attempts;		/* attempts started (0 when refused or held before sending) */
	int64_t elapsed_ms;	/* whole call, waits included */
	int64_t retry_after_ms; /* when giving up rate-limited: the wait the upstream asked for; else -1 */
};

/* Call once at program start, before any thread uses curl (wraps
 * curl_global_init). Reference-counted, so tests may call it per fixture.
 * Returns 0 or HTTPC_E_INTERNAL. */
int httpc_global_init(void);

/* Undo one httpc_global_init(); the last one calls curl_global_cleanup. */
void httpc_global_cleanup(void);

/* A new client for one upstream. o is copied (strings too); lg and m are
 * borrowed, may be NULL (no logs, no metrics) and must outlive the client.
 * Declares the sb_upstream_* metric families in m. Returns NULL on
 * allocation failure or invalid options (NULL o, negative timeouts or
 * sizes, rate_per_sec < 0 or not finite); the reason is logged at error
 * level. Call httpc_global_init() first. Free with httpc_free(). */
struct httpc *httpc_new(const struct httpc_opts *o, struct logger *lg, struct metrics *m);

/* Free a client and its pooled connections. NULL-safe. No call may be in
 * progress on c. */
void httpc_free(struct httpc *c);

/*
 * Perform one request with the client's retry, rate-limit and concurrency
 * policy. Thread-safe: many threads may call it on the same client.
 * *resp is overwritten (never freed) and must be released with
 * httpc_resp_free() whatever the result.
 * Returns 0 when an HTTP response was received, whatever its status (the
 * caller decides about 4xx/5xx; after retries are exhausted resp holds the
 * last response). Nonzero (enum httpc_rc) for a refused URL, transport
 * error, timeout, too-large response, cancellation or rate-limit hold after
 * retries; e (may be NULL) then says why, without secrets.
 */
int httpc_call(struct httpc *c, const struct httpc_req *req, struct httpc_resp *resp, struct err *e);

/*
 * Perform n requests concurrently on one curl multi handle, with the same
 * per-request policy as httpc_call() and at most max_concurrency in flight
 * on the client (shared with other threads). resps[i] answers reqs[i]; each
 * resps[i].rc holds that request's result; free every resps[i].
 * Returns 0 when every request received an HTTP response, else the rc of the
 * first failed request (lowest index), described in e.
 */
int httpc_call_many(struct httpc *c, const struct httpc_req *reqs, struct httpc_resp *resps, size_t n, struct err *e);

/* Release what a response holds and reset it to empty. NULL-safe; safe on a
 * zeroed struct. */
void httpc_resp_free(struct httpc_resp *r);

/* Value of the first header called name (case-insensitive), borrowed from r;
 * NULL when absent. */
const char *httpc_resp_header(const struct httpc_resp *r, const char *name);

/* Iterate over every header called name: start with *pos = 0; each call
 * returns the next value (borrowed) or NULL when there are no more. */
const char *httpc_resp_header_next(const struct httpc_resp *r, const char *name, size_t *pos);

/* Find header name (case-insensitive) in an array of "name: value" lines;
 * returns the value (borrowed, leading blanks skipped) or NULL. */
const char *httpc_header_find(const char *const *headers, size_t n, const char *name);

/* Human-readable name of an httpc_rc (static string). */
const char *httpc_strerror(int rc);

/* ---- Pure helpers (no I/O), exposed for unit tests and for clients ---- */

/* Check a URL against the client's policy: http or https with a host;
 * plain http only for loopback hosts (localhost, 127.0.0.0/8, ::1).
 * Returns 0, HTTPC_E_ARG (unparsable) or HTTPC_E_REFUSED, described in e. */
int httpc_check_url(const char *url, struct err *e);

/* Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime) into ms since the
 * epoch. Returns 0 or -1. */
int httpc_parse_http_date(const char *value, int64_t *ms);

/* Parse a Retry-After value: delay-seconds or an HTTP-date (relative to
 * now_ms, which should be the server's Date when known). Sets *wait_ms
 * (>= 0, dates in the past give 0). Returns 0, or -1 for garbage (negative,
 * fractional, empty or unparsable values). */
int httpc_parse_retry_after(const char *value, int64_t now_ms, int64_t *wait_ms);

/* Backoff before retry number attempt (0 for the first retry) with full
 * jitter: uniform in [0, min(max_ms, base_ms * 2^attempt)], scaled from
 * rnd(ctx). Overflow-safe. rnd NULL gives the cap (no jitter). */
int64_t httpc_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt, httpc_rand_fn rnd, void *ctx);

/* What a response says about rate limits. */
enum httpc_rl_action {
	HTTPC_RL_GO = 0,      /* nothing to do */
	HTTPC_RL_RETRY_AFTER, /* 429 with a usable wait in *wait_ms: retry after it */
	HTTPC_RL_BACKOFF,     /* 429 without a usable wait: retry with exponential backoff */
	HTTPC_RL_THROTTLE     /* not a 429, but the quota is spent: hold further requests *wait_ms */
};

/*
 * Decide from one response's status and headers ("name: value" lines, names
 * in any case) what the rate-limit policy of style requires. Epoch-second
 * reset headers are compared with the response's Date (date_header, may be
 * NULL) so that clock skew between us and the upstream cancels out; without
 * a Date, now_ms (our wall clock) is used. headroom: throttle ahead when
 * Remaining <= headroom (-1 never). *wait_ms is set for RETRY_AFTER and
 * THROTTLE (>= 0, jitter not included) and to -1 otherwise.
 * Okta's concurrency 429 (Limit and Remaining both 0) gives BACKOFF: its
 * Reset is only an estimate [okta-api.md §3.1].
 */
enum httpc_rl_action httpc_rl_decide(enum httpc_rl_style style, long status, const char *const *headers,
				     size_t nheaders, int64_t now_ms, const char *date_header, long headroom,
				     int64_t *wait_ms);

/*
 * Find the rel="next" target in RFC 8288 Link header values: several link
 * values per header line and several lines (Okta sends one line per
 * relation). A next link whose results parameter is "false" (Sentry's
 * cursor links: "...; rel=\"next\"; results=\"false\"; cursor=\"...\"") means
 * there is no next page. On success *next_url (and *cursor when cursor is
 * not NULL and the link has a cursor parameter) are allocated copies the
 * caller frees with free(), or NULL when there is no next page. The URL is
 * returned as written; callers must check it points at the upstream they
 * called before following it.
 * Returns 0, HTTPC_E_PARSE for malformed input (never treat that as "last
 * page": a truncated listing would look like deleted members) or
 * HTTPC_E_NOMEM; outputs are NULL then.
 */
int httpc_link_next(const char *const *link_values, size_t n, char **next_url, char **cursor, struct err *e);

/* httpc_link_next() over every "link" header of a response. */
int httpc_resp_link_next(const struct httpc_resp *r, char **next_url, char **cursor, struct err *e);

#endif
