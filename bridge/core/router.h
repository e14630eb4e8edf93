/*
 * router.h: method + path-pattern routing to handler functions.
 *
 * Patterns are literal segments, {name} segments (one path segment, URL-
 * decoded into the request's params) and an optional trailing "*" that
 * matches the rest of the path (for the GitLab proxy prefix). The first
 * route added that matches wins. A path that matches only under other
 * methods gets 405 with an Allow header; no match gets 404. Both answer
 * with the JSON error body.
 */
#ifndef SB_CORE_ROUTER_H
#define SB_CORE_ROUTER_H

#include "ctx.h"
#include "http.h"

typedef void (*route_fn)(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg);

struct router;

/* An empty router; caller frees with router_free(). */
struct router *router_new(void);
void router_free(struct router *r);

/* Add a route. method "*" matches any method. The pattern is copied.
 * 0, or -1 when the pattern is malformed or memory ran out. */
int router_add(struct router *r, const char *method, const char *pattern, route_fn fn, void *arg);

/* Find the route for req, fill req->params and req->route, and run it.
 * Params are freed by http_req_clear_params(). */
void router_dispatch(const struct router *r, struct ctx *ctx, struct http_req *req, struct http_resp *resp);

#endif
