/*
 * fake_http.h: a scripted loopback HTTP server for unit tests (libmicrohttpd).
 *
 * A test starts one on 127.0.0.1 with a kernel-chosen port, pushes canned
 * replies (status, headers, body, delay, dropped connection, truncated
 * body), points the code under test at fake_http_url(), then asserts on
 * exactly what was received: every request is recorded with its method,
 * path, raw query, headers and body. It also counts how many requests it
 * was serving at once, so tests can check client-side concurrency limits.
 *
 * Replies are served in the order pushed: each request takes the first
 * remaining reply whose match pattern fits it (a reply with times = N is
 * served N times). When none fits, the default reply is served (404 with
 * body "fake_http: no scripted reply" unless set with fake_http_default()).
 *
 * One thread per connection; a delayed reply sleeps in its own thread, so
 * slow replies overlap like a real server's. All functions are thread-safe.
 * Plain HTTP only (the client allows plain http to loopback hosts).
 */
#ifndef SB_TESTS_FAKE_HTTP_H
#define SB_TESTS_FAKE_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct fake_http;

/* One canned reply. Pointers are copied by fake_http_push(). */
struct fake_reply {
	const char *match;	    /* NULL: any request; else "METHOD /prefix" or "/prefix" (path only) */
	int status;		    /* 0 means 200 */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;	    /* NULL: empty body */
	size_t body_len;	    /* 0: strlen(body) */
	int64_t delay_ms;	    /* wait this long (after the request arrived) before answering */
	int drop;		    /* close the connection without any answer */
	int truncate;		    /* announce body_len but send only half, then close */
	int times;		    /* serve this reply this many times (0: once; -1: forever) */
};

/* One recorded request. Owned by the server; valid until fake_http_reset()
 * or fake_http_stop(). */
struct fake_request {
	int index; /* arrival order, from 0 */
	char *method;
	char *path;	/* without the query */
	char *query;	/* raw query after '?', NULL when the URI had none */
	char *uri;	/* raw request target as received */
	char **headers; /* "Name: value" as received */
	size_t nheaders;
	char *body; /* NUL-terminated; "" when empty */
	size_t body_len;
	int64_t at_ms; /* monotonic ms (clock_mono_ms scale) when the request was complete */
};

/* Start on 127.0.0.1 with a random free port. NULL on failure. Free with
 * fake_http_stop(). */
struct fake_http *fake_http_start(void);

/* Same, on the given port (0: random). */
struct fake_http *fake_http_start_on(unsigned short port);

/* Stop the server (interrupting delayed replies) and free everything,
 * records included. NULL-safe. */
void fake_http_stop(struct fake_http *f);

/* The port, and the base URL "http://127.0.0.1:PORT" (borrowed). */
unsigned short fake_http_port(const struct fake_http *f);
const char *fake_http_url(const struct fake_http *f);

/* Append a reply to the script (copied). Returns 0, or -1 on allocation failure. */
int fake_http_push(struct fake_http *f, const struct fake_reply *r);

/* Reply served when no scripted reply fits (copied; NULL restores the 404). */
int fake_http_default(struct fake_http *f, const struct fake_reply *r);

/* Forget the script, the records and the concurrency counters. */
void fake_http_reset(struct fake_http *f);

/* Number of requests received so far (dropped ones included). */
size_t fake_http_count(struct fake_http *f);

/* Wait until at least n requests were received or timeout_ms passed;
 * returns the count. */
size_t fake_http_wait_count(struct fake_http *f, size_t n, int64_t timeout_ms);

/* Request i in arrival order (borrowed), NULL when out of range. */
const struct fake_request *fake_http_request(struct fake_http *f, size_t i);

/* First header called name (case-insensitive) of a recorded request; the
 * value with leading blanks skipped, or NULL. */
const char *fake_request_header(const struct fake_request *r, const char *name);

/* Highest number of requests being served at the same time (a request
 * counts from its arrival until its reply starts). */
int fake_http_max_concurrent(struct fake_http *f);

/* Number of scripted replies not yet used up (forever-replies count 1). */
size_t fake_http_pending(struct fake_http *f);

#endif
