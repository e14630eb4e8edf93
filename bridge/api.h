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

/* Add every route to a->router. 0 or -1. */
int api_register(struct app *a);

/* The httpd handler: wraps routing with limits, metrics and logging. */
void api_handle(void *arg, struct http_req *req, struct http_resp *resp, int body_too_large);

/* 1 when the request carries the admin bearer token (constant-time check);
 * otherwise fills resp with 401 and returns 0. */
int api_require_admin(struct ctx *ctx, const struct http_req *req, struct http_resp *resp);

#endif
