/*
 * httpd.h: the HTTP server adapter. The only module that includes
 * <microhttpd.h>: it turns each request into a struct http_req (method,
 * path, raw query, headers, body), calls one handler, and sends the
 * struct http_resp it filled.
 *
 * Request bodies are collected up to max_body_bytes; past that the rest is
 * discarded and the handler sees body_too_large set (it answers 413). The
 * request id is taken from a well-formed X-Request-Id header or generated,
 * and echoed in the response.
 */
#ifndef SB_CORE_HTTPD_H
#define SB_CORE_HTTPD_H

#include "err.h"
#include "http.h"
#include "log.h"

#include <stdint.h>

struct httpd_opts {
	const char *listen;            /* "host:port", "[v6]:port"; port 0 picks a free one */
	int threads;                   /* worker threads answering requests */
	int64_t connection_timeout_ms; /* idle connection timeout */
	size_t max_body_bytes;         /* request body limit */
};

/* Called once per request, on a server thread. body_too_large is set when
 * the body went past the limit (the body is then empty). */
typedef void (*httpd_handler)(void *arg, struct http_req *req, struct http_resp *resp, int body_too_large);

struct httpd;

/* Bind and start serving. NULL with e filled on failure (bad address, port
 * in use). Stop and free with httpd_stop(). */
struct httpd *httpd_start(const struct httpd_opts *o, httpd_handler fn, void *arg, struct logger *lg,
			  struct err *e);

/* The port actually bound. */
int httpd_port(const struct httpd *d);

/* Stop accepting new connections; requests in progress go on. */
void httpd_quiesce(struct httpd *d);

/* Wait until no request is in progress or grace_ms passed.
 * Returns the number still in progress. */
int httpd_wait_idle(struct httpd *d, int64_t grace_ms);

/* Stop the server and free it. NULL-safe. */
void httpd_stop(struct httpd *d);

/* Fill out (>= 33 bytes) with a new random request id (32 hex chars). */
void httpd_new_request_id(char *out, size_t outlen);

#endif
