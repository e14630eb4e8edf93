/*
 * sim_hookc.h: a tiny blocking HTTP/1.1 client over POSIX sockets, used by
 * the simulated Okta to call event-hook receivers (verification GET and
 * delivery POSTs). It speaks plain http:// to loopback hosts only
 * (127.0.0.1, localhost, [::1]); one request per connection
 * (Connection: close); request bodies with Content-Length; responses with
 * Content-Length, chunked transfer coding or read-to-close.
 */
#ifndef SIM_HOOKC_H
#define SIM_HOOKC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest response body kept (the rest is read and discarded). */
#define HOOKC_MAX_BODY (1u << 20)

/* A parsed http:// URL (owned strings). */
struct hookc_url {
	char *host;   /* without brackets */
	char *port;   /* decimal */
	char *path;   /* "/..." including any query */
	char *hostport; /* Host header value */
};

/* One extra request header (borrowed strings). */
struct hookc_header {
	const char *name;
	const char *value;
};

/* What came back. */
struct hookc_result {
	int status;        /* HTTP status, 0 when no response was read */
	bool timeout;      /* the deadline passed */
	char *body;        /* NUL-terminated response body (caller frees), may be NULL */
	size_t body_len;
	char err[160];     /* why status is 0 (connect refused, timeout, bad response, ...) */
};

/*
 * Parse an http:// URL with a loopback host. Returns 0, or -1 with a reason
 * in err (errsz bytes). Free with hookc_url_clear.
 */
int hookc_url_parse(const char *url, struct hookc_url *out, char *err, size_t errsz);

/* Free the strings of a parsed URL. NULL-safe. */
void hookc_url_clear(struct hookc_url *u);

/*
 * Send one request and read the answer within timeout_ms. body may be NULL
 * (no body, no Content-Length unless method is POST/PUT). cancel, when
 * non-NULL and set, aborts the wait early. Returns 0 when a status line was
 * read (out->status set), -1 otherwise (out->err says why). Free out->body.
 */
int hookc_request(const struct hookc_url *u, const char *method, const struct hookc_header *hdrs,
		  size_t nhdrs, const char *body, size_t body_len, int timeout_ms,
		  const atomic_bool *cancel, struct hookc_result *out);

#endif
