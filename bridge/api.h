/*
 * api.h: the HTTP surface of the daemon: routes, the request wrapper that
 * every request goes through (413, metrics, access log), and the handlers
 * of the operational endpoints (/healthz, /readyz, /metrics) and the admin
 * API under /api/v1. Handlers are thin: parse, authenticate, call a module,
 * render.
 */
#ifndef SB_API_H
#define SB_API_H

#include "app.h"
#include "http.h"

#include <libpq-fe.h>

/* Add every route to a->router. 0 or -1. */
int api_register(struct app *a);

/* The httpd handler: wraps routing with limits, metrics and logging. */
void api_handle(void *arg, struct http_req *req, struct http_resp *resp, int body_too_large);

/* 1 when the request carries the admin bearer token (constant-time check);
 * otherwise fills resp with 401 and returns 0. */
int api_require_admin(struct ctx *ctx, const struct http_req *req, struct http_resp *resp);

/* Helpers for handlers in other files (bridge/api_*.c). */

/* A positive integer path or query value; -1 when malformed. */
long long api_parse_id(const char *s);

/* ?limit=N (1..1000) or def; -1 after answering 400. */
int api_query_limit(const struct http_req *req, struct http_resp *resp, int def);

/* Borrow a pooled connection, or answer 503 (with Retry-After) and return
 * NULL. Give it back with db_release() (a NULL is ignored). */
PGconn *api_need_db(struct ctx *ctx, struct http_resp *resp);

#endif
