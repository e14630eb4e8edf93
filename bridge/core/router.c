/*
 * router.c: method + path-pattern routing (see router.h).
 */
#include "router.h"

#include <stdlib.h>
#include <string.h>

struct route {
	char *method;
	char *pattern;
	route_fn fn;
	void *arg;
	char *names[HTTP_MAX_PARAMS]; /* the {name}s of the pattern, in order */
	size_t nnames;
};

struct router {
	struct route *routes;
	size_t n;
};

struct router *router_new(void)
{
	return calloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->routes[i].method);
		free(r->routes[i].pattern);
		for (size_t k = 0; k < r->routes[i].nnames; k++)
			free(r->routes[i].names[k]);
	}
	free(r->routes);
	free(r);
}

int router_add(struct router *r, const char *method, const char *pattern, route_fn fn, void *arg)
{
	if (!pattern || pattern[0] != '/' || !fn)
		return -1;
	struct route *n = realloc(r->routes, (r->n + 1) * sizeof *n);
	if (!n)
		return -1;
	r->routes = n;
	memset(&n[r->n], 0, sizeof n[r->n]);
	for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');
		if (!close || n[r->n].nnames >= HTTP_MAX_PARAMS)
			goto fail;
		char *name = strndup(p + 1, (size_t)(close - p - 1));
		if (!name)
			goto fail;
		n[r->n].names[n[r->n].nnames++] = name;
	}
	n[r->n].method = strdup(method);
	n[r->n].pattern = strdup(pattern);
	n[r->n].fn = fn;
	n[r->n].arg = arg;
	if (!n[r->n].method || !n[r->n].pattern)
		goto fail;
	r->n++;
	return 0;
fail:
	free(n[r->n].method);
	free(n[r->n].pattern);
	for (size_t k = 0; k < n[r->n].nnames; k++)
		free(n[r->n].names[k]);
	return -1;
}

/* Match path against pattern; on success fill req params. */
static int match(const struct route *rt, const char *path, struct http_req *req)
{
	const char *p = rt->pattern, *s = path;
	http_req_clear_params(req);
	while (*p) {
		if (p[0] == '*' && p[1] == '\0')
			return 1;
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (!close)
				return 0;
			size_t seglen = strcspn(s, "/");
			if (seglen == 0 || req->nparams >= HTTP_MAX_PARAMS)
				goto fail;
			char *v = malloc(seglen + 1);
			if (!v)
				goto fail;
			memcpy(v, s, seglen);
			v[seglen] = '\0';
			if (http_url_decode(v, 0)) {
				free(v);
				goto fail;
			}
			/* The route table outlives the request. */
			req->param_names[req->nparams] = rt->names[req->nparams];
			req->param_values[req->nparams] = v;
			req->nparams++;
			p = close + 1;
			s += seglen;
			continue;
		}
		if (*p != *s)
			goto fail;
		p++;
		s++;
	}
	if (*s == '\0')
		return 1;
fail:
	http_req_clear_params(req);
	return 0;
}

void router_dispatch(const struct router *r, struct ctx *ctx, struct http_req *req, struct http_resp *resp)
{
	struct buf allow;
	buf_init(&allow, 0);
	int is_head = !strcmp(req->method, "HEAD");
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->n; i++) {
			const struct route *rt = &r->routes[i];
			int mok = !strcmp(rt->method, "*") || !strcmp(rt->method, req->method) ||
				  (pass == 1 && is_head && !strcmp(rt->method, "GET"));
			if (pass == 0 && !mok)
				continue;
			if (!match(rt, req->path, req))
				continue;
			if (!mok) {
				if (!strstr(buf_str(&allow), rt->method)) {
					if (allow.len)
						buf_puts(&allow, ", ");
					buf_puts(&allow, rt->method);
				}
				http_req_clear_params(req);
				continue;
			}
			req->route = rt->pattern;
			rt->fn(ctx, req, resp, rt->arg);
			buf_reset(&allow);
			return;
		}
	}
	if (allow.len) {
		req->route = "(method not allowed)";
		http_resp_error(resp, 405, "method_not_allowed", "%s is not allowed on %s", req->method, req->path);
		http_resp_header(resp, "Allow", buf_str(&allow));
	} else {
		req->route = "(not found)";
		http_resp_error(resp, 404, "not_found", "no route for %s %s", req->method, req->path);
	}
	buf_reset(&allow);
}
