/*
 * api_gitlab.c: the GitLab proxy (issue 6, docs/gitlab.md).
 *
 * Every request under gitlab.proxy_prefix lands in h_proxy(). The listing
 * calls of Sentry's GitLab integration on groups inside gitlab.scope are
 * answered from the in-memory cache (integrations/gitlab/gl_cache.h) once
 * the caller's own token has been checked upstream for that group; all
 * else goes to GitLab unchanged. The cache is rebuilt by a scheduled task
 * on the leader (gl_walk) and stored in PostgreSQL; a loader thread on each
 * replica swaps in the newest snapshot, so answers keep coming from the old
 * copy while a refresh runs, and a failed refresh leaves it in place.
 */
#include "api_gitlab.h"

#include "api.h"
#include "clock.h"
#include "db.h"
#include "httpc.h"
#include "integrations/gitlab/gl_cache.h"
#include "integrations/gitlab/gl_query.h"
#include "integrations/gitlab/gl_walk.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "router.h"
#include "scheduler.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_SLOTS 4096
#define WALK_BATCH 16

struct auth_entry {
	unsigned char key[SHA256_DIGEST_LENGTH]; /* sha256(token kind, token, group id) */
	int64_t expires_ms;                      /* 0: empty slot */
	int status;                              /* GitLab's answer: 200, 401, 403 or 404 */
	char *body;                              /* its body, replayed on refusals */
};

struct gitlab_mod {
	struct app *app;
	const struct config_gitlab *cfg;
	char *base;                 /* base_url without a trailing '/' */
	struct httpc *walker;       /* the cache walk: retries, RateLimit-* budget */
	struct httpc *proxy;        /* pass-through and auth checks: no retries */
	pthread_rwlock_t lock;      /* guards cache and snapshot_id */
	struct gl_cache *cache;
	int64_t snapshot_id;
	pthread_mutex_t mu;         /* guards auth[] and the refresh status */
	struct auth_entry *auth;
	int last_refresh_ok;        /* -1 none yet, 0 failed, 1 ok */
	int64_t last_refresh_ms;
	char last_error[600];
	pthread_t loader;
	int loader_started;
	volatile int stop;
};

/* Set once by gitlab_routes() at start; read by handlers, tasks and the loader. */
static struct gitlab_mod *G;

/* ---- cache access ---- */

static void swap_cache(struct gitlab_mod *m, struct gl_cache *c, int64_t id)
{
	pthread_rwlock_wrlock(&m->lock);
	struct gl_cache *old = m->cache;
	m->cache = c;
	m->snapshot_id = id;
	pthread_rwlock_unlock(&m->lock);
	gl_cache_free(old);
	metrics_set(m->app ? m->app->ctx.metrics : NULL, "sb_gitlab_cache_projects", (double)gl_cache_nprojects(c),
		    NULL);
	metrics_set(m->app ? m->app->ctx.metrics : NULL, "sb_gitlab_cache_groups", (double)gl_cache_ngroups(c), NULL);
}

static void set_age(struct gitlab_mod *m, struct metrics *mt)
{
	pthread_rwlock_rdlock(&m->lock);
	int64_t built = gl_cache_built_ms(m->cache);
	pthread_rwlock_unlock(&m->lock);
	if (built)
		metrics_set(mt, "sb_gitlab_cache_age_seconds", (double)(clock_now_ms() - built) / 1000.0, NULL);
}

/* ---- responses in GitLab's shapes ---- */

static void gl_message(struct http_resp *r, int status, const char *msg)
{
	http_resp_json(r, status, json_pack("{s:s}", "message", msg));
}

static void gl_error(struct http_resp *r, int status, const char *msg)
{
	http_resp_json(r, status, json_pack("{s:s}", "error", msg));
}

/* ---- the caller's credentials ---- */

struct cred {
	const char *header_name; /* "PRIVATE-TOKEN" or "Authorization", or NULL when anonymous */
	char *header_value;      /* owned */
};

static void cred_free(struct cred *c)
{
	free(c->header_value);
	c->header_value = NULL;
}

/* PRIVATE-TOKEN, Authorization, or the private_token / access_token query parameters. */
static int cred_of(const struct http_req *req, const struct gl_params *p, struct cred *c)
{
	const char *v;
	memset(c, 0, sizeof *c);
	if ((v = http_req_header(req, "PRIVATE-TOKEN"))) {
		c->header_name = "PRIVATE-TOKEN";
		c->header_value = strdup(v);
	} else if ((v = http_req_header(req, "Authorization"))) {
		c->header_name = "Authorization";
		c->header_value = strdup(v);
	} else if ((v = gl_params_get(p, "private_token"))) {
		c->header_name = "PRIVATE-TOKEN";
		c->header_value = strdup(v);
	} else if ((v = gl_params_get(p, "access_token"))) {
		c->header_name = "Authorization";
		if (asprintf(&c->header_value, "Bearer %s", v) < 0)
			c->header_value = NULL;
	} else {
		return 0;
	}
	return c->header_value ? 0 : -1;
}

static void auth_key(const struct cred *c, int64_t gid, unsigned char out[SHA256_DIGEST_LENGTH])
{
	struct buf k;
	buf_init(&k, 0);
	buf_printf(&k, "%s\n%s\n%lld", c->header_name ? c->header_name : "-", c->header_value ? c->header_value : "",
		   (long long)gid);
	SHA256((const unsigned char *)buf_str(&k), k.len, out);
	buf_reset(&k);
}

/*
 * May the caller see group gid? Asks GitLab (GET /groups/:id?with_projects=false
 * with the caller's credentials) unless a verdict younger than
 * gitlab.auth_cache_ttl is cached. Returns 200 when allowed; otherwise fills
 * resp with GitLab's refusal (401, 403, 404 as GitLab sent them, or its
 * other status uncached, or 502/504 when GitLab could not be reached) and
 * returns that status.
 */
static int authorize(struct gitlab_mod *m, struct ctx *ctx, const struct cred *c, int64_t gid, struct http_resp *resp)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	auth_key(c, gid, key);
	size_t slot = ((size_t)key[0] << 8 | key[1]) % AUTH_SLOTS;
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&m->mu);
	struct auth_entry *a = &m->auth[slot];
	if (a->expires_ms > now && !memcmp(a->key, key, sizeof key)) {
		int st = a->status;
		if (st != 200)
			http_resp_text(resp, st, a->body ? a->body : "");
		pthread_mutex_unlock(&m->mu);
		if (st != 200)
			http_resp_content_type(resp, "application/json");
		metrics_add(ctx->metrics, "sb_gitlab_auth_checks_total", 1, "result", st == 200 ? "allowed" : "refused",
			    "cached", "yes", NULL);
		return st;
	}
	pthread_mutex_unlock(&m->mu);

	char *url = NULL, *hdr = NULL;
	if (asprintf(&url, "%s/api/v4/groups/%lld?with_projects=false", m->base, (long long)gid) < 0)
		url = NULL;
	if (c->header_name && asprintf(&hdr, "%s: %s", c->header_name, c->header_value) < 0)
		hdr = NULL;
	if (!url || (c->header_name && !hdr)) {
		free(url);
		free(hdr);
		gl_message(resp, 500, "500 Internal Server Error");
		return 500;
	}
	const char *hdrs[] = {hdr ? hdr : "Accept: application/json", NULL};
	struct httpc_req rq = {.method = "GET", .url = url, .headers = hdrs, .endpoint = "GET /api/v4/groups/{id} (auth)",
			       .idempotent = 1, .log_id = ctx->request_id};
	struct httpc_resp rs;
	struct err e;
	err_clear(&e);
	int rc = httpc_call(m->proxy, &rq, &rs, &e);
	free(url);
	free(hdr);
	if (rc) {
		httpc_resp_free(&rs);
		log_warn(ctx->log, "gitlab", ctx->request_id, "authorization check failed", "error", e.msg, NULL);
		if (rc == HTTPC_E_TIMEOUT)
			gl_message(resp, 504, "504 Gateway Timeout");
		else
			gl_message(resp, 502, "502 Bad Gateway");
		return resp->status;
	}
	int st = (int)rs.status;
	int cacheable = st == 200 || st == 401 || st == 403 || st == 404;
	if (st != 200) {
		resp->status = st;
		buf_reset(&resp->body);
		buf_append(&resp->body, rs.body.data ? rs.body.data : "", rs.body.len);
		const char *ct = httpc_resp_header(&rs, "content-type");
		http_resp_content_type(resp, ct ? ct : "application/json");
	}
	if (cacheable && ctx->cfg->gitlab.auth_cache_ttl_ms > 0) {
		pthread_mutex_lock(&m->mu);
		a = &m->auth[slot];
		free(a->body);
		memcpy(a->key, key, sizeof key);
		a->status = st;
		a->body = st == 200 ? NULL : strdup(buf_str(&rs.body));
		a->expires_ms = now + ctx->cfg->gitlab.auth_cache_ttl_ms;
		pthread_mutex_unlock(&m->mu);
	}
	httpc_resp_free(&rs);
	metrics_add(ctx->metrics, "sb_gitlab_auth_checks_total", 1, "result", st == 200 ? "allowed" : "refused", "cached",
		    "no", NULL);
	return st;
}

/* ---- pass-through ---- */

static int hop_by_hop(const char *n)
{
	static const char *const h[] = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
					"te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
					"expect", NULL};
	for (int i = 0; h[i]; i++)
		if (!strcasecmp(n, h[i]))
			return 1;
	return 0;
}

static void passthrough(struct gitlab_mod *m, struct ctx *ctx, struct http_req *req, struct http_resp *resp,
			const char *rest, const char *reason)
{
	char *url = NULL;
	const char **hdrs = calloc(req->nheaders + 1, sizeof *hdrs);
	size_t nh = 0;
	metrics_add(ctx->metrics, "sb_gitlab_passthrough_total", 1, "reason", reason, NULL);
	if (!hdrs || asprintf(&url, "%s%s%s%s", m->base, rest, *req->query ? "?" : "", req->query) < 0) {
		free(hdrs);
		gl_message(resp, 500, "500 Internal Server Error");
		return;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		if (hop_by_hop(req->headers[i].name))
			continue;
		char *line = NULL;
		if (asprintf(&line, "%s: %s", req->headers[i].name, req->headers[i].value) >= 0)
			hdrs[nh++] = line;
	}
	struct httpc_req rq = {.method = req->method, .url = url, .headers = hdrs, .body = req->body,
			       .body_len = req->body_len, .endpoint = "proxy", .idempotent = 0,
			       .log_id = ctx->request_id};
	struct httpc_resp rs;
	struct err e;
	err_clear(&e);
	int rc = httpc_call(m->proxy, &rq, &rs, &e);
	for (size_t i = 0; i < nh; i++)
		free((char *)hdrs[i]);
	free(hdrs);
	free(url);
	if (rc) {
		log_warn(ctx->log, "gitlab", ctx->request_id, "pass-through failed", "method", req->method, "error",
			 e.msg, NULL);
		if (rc == HTTPC_E_TIMEOUT) {
			gl_message(resp, 504, "504 Gateway Timeout");
		} else if (rc == HTTPC_E_RATE_LIMITED) {
			http_resp_text(resp, 429, "Retry later\n");
			char ra[24];
			snprintf(ra, sizeof ra, "%lld", (long long)(rs.retry_after_ms > 0 ? (rs.retry_after_ms + 999) / 1000 : 1));
			http_resp_header(resp, "Retry-After", ra);
		} else if (rc == HTTPC_E_TOO_BIG) {
			gl_message(resp, 502, "502 Bad Gateway: response too large");
		} else {
			gl_message(resp, 502, "502 Bad Gateway");
		}
		httpc_resp_free(&rs);
		return;
	}
	resp->status = (int)rs.status;
	buf_reset(&resp->body);
	buf_append(&resp->body, rs.body.data ? rs.body.data : "", rs.body.len);
	for (size_t i = 0; i < rs.nheaders; i++) {
		const char *line = rs.headers[i], *colon = strchr(line, ':');
		if (!colon)
			continue;
		char name[128];
		size_t nl = (size_t)(colon - line);
		if (nl == 0 || nl >= sizeof name)
			continue;
		memcpy(name, line, nl);
		name[nl] = '\0';
		const char *val = colon + 1;
		while (*val == ' ')
			val++;
		if (!strcasecmp(name, "content-type"))
			http_resp_content_type(resp, val);
		else if (!hop_by_hop(name) && strcasecmp(name, "date"))
			http_resp_header(resp, name, val);
	}
	if (!httpc_resp_header(&rs, "content-type"))
		http_resp_content_type(resp, "application/octet-stream");
	httpc_resp_free(&rs);
}

/* ---- the cached endpoints ---- */

static const char *const group_projects_params[] = {"search", "simple", "include_subgroups", "with_shared", "archived",
						    "order_by", "sort", "page", "per_page", "private_token",
						    "access_token", NULL};
static const char *const groups_params[] = {"search", "order_by", "sort", "page", "per_page", "all_available",
					    "private_token", "access_token", NULL};
static const char *const group_params[] = {"with_projects", "private_token", "access_token", NULL};
static const char *const projects_params[] = {"membership", "search", "simple", "archived", "order_by", "sort",
					      "page", "per_page", "with_shared", "private_token", "access_token", NULL};

enum ep { EP_NONE, EP_GROUP, EP_GROUP_PROJECTS, EP_SUBGROUPS, EP_DESCENDANTS, EP_PROJECTS };

/* Which cached endpoint rest ("/api/v4/...", raw) names; *idseg gets the
 * decoded :id (caller frees) for group endpoints. */
static enum ep classify(const char *rest, char **idseg)
{
	*idseg = NULL;
	if (!strcmp(rest, "/api/v4/projects"))
		return EP_PROJECTS;
	if (strncmp(rest, "/api/v4/groups/", 15))
		return EP_NONE;
	const char *id = rest + 15, *slash = strchr(id, '/');
	size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
	const char *tail = slash ? slash : "";
	enum ep ep = !*tail ? EP_GROUP
		     : !strcmp(tail, "/projects") ? EP_GROUP_PROJECTS
		     : !strcmp(tail, "/subgroups") ? EP_SUBGROUPS
		     : !strcmp(tail, "/descendant_groups") ? EP_DESCENDANTS
							  : EP_NONE;
	if (ep == EP_NONE || !idlen)
		return EP_NONE;
	char *s = strndup(id, idlen);
	/* %00 would cut the decoded id short: leave such requests to GitLab */
	if (!s || strcasestr(s, "%00") || http_url_decode(s, 0)) {
		free(s);
		return EP_NONE;
	}
	*idseg = s;
	return ep;
}

/* "<scheme>://<host><prefix><rest>" for Link headers, from the request. */
static char *link_base(const struct http_req *req, const char *prefix, const char *rest)
{
	const char *host = http_req_header(req, "X-Forwarded-Host");
	const char *proto = http_req_header(req, "X-Forwarded-Proto");
	char *s = NULL;
	if (!host)
		host = http_req_header(req, "Host");
	if (asprintf(&s, "%s://%s%s%s", proto && !strcmp(proto, "https") ? "https" : "http", host ? host : "localhost",
		     prefix, rest) < 0)
		return NULL;
	return s;
}

static void served(struct ctx *ctx, struct http_resp *resp, const char *endpoint)
{
	metrics_add(ctx->metrics, "sb_gitlab_cache_hits_total", 1, "endpoint", endpoint, NULL);
	http_resp_header(resp, "X-Bridge-Cache", "hit");
}

/* Answer from the cache; returns 0 when answered, 1 when the request must pass through. */
static int from_cache(struct gitlab_mod *m, struct ctx *ctx, struct http_req *req, struct http_resp *resp,
		      const char *rest, const char **why)
{
	char *idseg = NULL;
	enum ep ep = classify(rest, &idseg);
	struct gl_params p;
	struct cred cred = {0};
	int rc = 1;
	*why = "not_cached";
	if (ep == EP_NONE || (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))) {
		free(idseg);
		return 1;
	}
	if (gl_params_parse(req->query, &p)) {
		free(idseg);
		*why = "malformed_query";
		return 1;
	}
	const char *const *allowed = ep == EP_GROUP ? group_params
				     : ep == EP_GROUP_PROJECTS ? group_projects_params
				     : ep == EP_PROJECTS ? projects_params
							 : groups_params;
	if (!gl_params_only(&p, allowed)) {
		*why = "unsupported_parameter";
		goto out;
	}
	/* simple=false wants the full Project entity, which is not cached */
	if ((ep == EP_GROUP_PROJECTS || ep == EP_PROJECTS) && gl_parse_bool(gl_params_get(&p, "simple")) != 1 &&
	    gl_params_get(&p, "simple") && gl_parse_bool(gl_params_get(&p, "simple")) == 0) {
		*why = "not_simple";
		goto out;
	}
	if ((ep == EP_GROUP_PROJECTS || ep == EP_PROJECTS) && !gl_params_get(&p, "simple")) {
		*why = "not_simple";
		goto out;
	}
	if (ep == EP_PROJECTS && gl_parse_bool(gl_params_get(&p, "membership")) != 1) {
		*why = "not_membership";
		goto out;
	}
	if (cred_of(req, &p, &cred)) {
		gl_message(resp, 500, "500 Internal Server Error");
		rc = 0;
		goto out;
	}
	/* Anonymous callers see public groups only; GitLab answers them itself. */
	if (!cred.header_name) {
		*why = "anonymous";
		goto out;
	}

	pthread_rwlock_rdlock(&m->lock);
	struct gl_cache *c = m->cache;
	int gi = -1;
	if (!c) {
		*why = "cache_empty";
		goto unlock;
	}
	if (ep != EP_PROJECTS && (gi = gl_cache_find(c, idseg)) < 0) {
		*why = "out_of_scope";
		goto unlock;
	}
	/* Authorization: the caller's own token, checked upstream for the group
	 * (for /projects: for each scope root; the answer covers those it sees). */
	int roots_ok[64];
	size_t nroots = 0, nok = 0;
	const int *roots = gl_cache_roots(c, &nroots);
	if (nroots > 64)
		nroots = 64;
	if (ep == EP_PROJECTS) {
		struct http_resp refusal;
		http_resp_init(&refusal);
		int last = 0, hidden = 0;
		for (size_t i = 0; i < nroots; i++) {
			http_resp_free(&refusal);
			http_resp_init(&refusal);
			last = authorize(m, ctx, &cred, gl_cache_group_id(c, roots[i]), &refusal);
			if (last == 200)
				roots_ok[nok++] = roots[i];
			else if (last == 403 || last == 404)
				hidden = 1;
			else
				break; /* 401 or an upstream failure: say so */
		}
		if (last != 200 && last != 403 && last != 404 && nroots) {
			http_resp_free(resp);
			*resp = refusal;
			rc = 0;
			goto unlock;
		}
		http_resp_free(&refusal);
		/* A caller who cannot see a whole scope root may still be a member
		 * of some of its subgroups: only GitLab knows which. */
		if (hidden) {
			*why = "partial_visibility";
			goto unlock;
		}
	} else if (authorize(m, ctx, &cred, gl_cache_group_id(c, gi), resp) != 200) {
		rc = 0;
		goto unlock;
	}

	char msg[96] = "";
	struct gl_listq q;
	struct buf *out = &resp->body;
	int64_t total = 0;
	int st = 0, prc = 0;
	buf_reset(out);
	switch (ep) {
	case EP_GROUP: {
		int wp = gl_params_get(&p, "with_projects") ? gl_parse_bool(gl_params_get(&p, "with_projects")) : 1;
		if (wp < 0) {
			gl_error(resp, 400, "with_projects is invalid");
			rc = 0;
			goto unlock;
		}
		prc = gl_cache_group_detail(c, gi, wp, out);
		break;
	}
	case EP_GROUP_PROJECTS:
		if (!(st = gl_listq_parse(&p, GL_LIST_GROUP_PROJECTS, &q, msg, sizeof msg)))
			prc = gl_cache_projects(c, &gi, 1, &q, out, &total);
		break;
	case EP_PROJECTS:
		if (!(st = gl_listq_parse(&p, GL_LIST_PROJECTS, &q, msg, sizeof msg)))
			prc = gl_cache_projects(c, roots_ok, nok, &q, out, &total);
		break;
	default:
		if (!(st = gl_listq_parse(&p, GL_LIST_GROUPS, &q, msg, sizeof msg)))
			prc = gl_cache_groups(c, gi, ep == EP_DESCENDANTS, &q, out, &total);
		break;
	}
	rc = 0;
	if (st) {
		gl_error(resp, st, msg);
		goto unlock;
	}
	if (prc) {
		gl_message(resp, 500, "500 Internal Server Error");
		goto unlock;
	}
	resp->status = 200;
	if (ep != EP_GROUP) {
		char *lb = link_base(req, ctx->cfg->gitlab.proxy_prefix, rest);
		if (!lb || gl_pagination(resp, lb, &p, q.page, q.per_page, total))
			gl_message(resp, 500, "500 Internal Server Error");
		free(lb);
	}
	served(ctx, resp, ep == EP_GROUP ? "group" : ep == EP_GROUP_PROJECTS ? "group_projects"
					  : ep == EP_PROJECTS ? "projects"
					  : ep == EP_SUBGROUPS ? "subgroups" : "descendant_groups");
unlock:
	pthread_rwlock_unlock(&m->lock);
out:
	cred_free(&cred);
	gl_params_free(&p);
	free(idseg);
	return rc;
}

/* A path segment "." or ".." (encoded or not) never leaves the proxy. */
static int dot_segment(const char *rest)
{
	const char *s = rest;
	while (*s) {
		while (*s == '/')
			s++;
		size_t n = strcspn(s, "/");
		char *seg = strndup(s, n);
		if (!seg)
			return 1;
		int bad = http_url_decode(seg, 0) == 0 && (!strcmp(seg, ".") || !strcmp(seg, ".."));
		free(seg);
		if (bad)
			return 1;
		s += n;
	}
	return 0;
}

static void h_proxy(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct gitlab_mod *m = arg;
	const char *raw = req->raw_path ? req->raw_path : req->path;
	const char *prefix = ctx->cfg->gitlab.proxy_prefix;
	size_t pl = strlen(prefix);
	const char *why = "not_cached";
	/* The route matched the decoded path; the raw one must carry the prefix
	 * literally too, or an escape in it ("/gitl%61b/...") would shift what is
	 * appended to base_url (and could change its host). */
	if (strncmp(raw, prefix, pl) || (raw[pl] != '/' && raw[pl] != '\0')) {
		gl_error(resp, 404, "404 Not Found");
		return;
	}
	const char *rest = raw[pl] ? raw + pl : "/";
	if (dot_segment(rest)) {
		gl_error(resp, 404, "404 Not Found");
		return;
	}
	set_age(m, ctx->metrics);
	if (!from_cache(m, ctx, req, resp, rest, &why))
		return;
	passthrough(m, ctx, req, resp, rest, why);
}

/* ---- refresh ---- */

static struct httpc *walker_client(const struct config_gitlab *g, struct logger *lg, struct metrics *mt)
{
	struct httpc_opts o = {
		.name = "gitlab",
		.rl = HTTPC_RL_GITLAB,
		.timeout_ms = g->http.timeout_ms,
		.connect_timeout_ms = g->http.connect_timeout_ms,
		.max_retries = g->http.max_retries,
		.max_concurrency = g->http.max_concurrency,
		.rate_per_sec = g->http.rate_per_sec,
		.burst = g->http.burst,
		.ca_file = g->http.ca_file && *g->http.ca_file ? g->http.ca_file : NULL,
		.max_response_bytes = g->http.max_response_bytes,
		.rl_headroom_pct = 20, /* leave a fifth of GitLab's budget to Sentry's own calls */
		.max_wait_ms = 120000,
	};
	return httpc_new(&o, lg, mt);
}

static void describe(struct metrics *mt)
{
	metrics_describe(mt, "sb_gitlab_cache_age_seconds", METRIC_GAUGE, "Age of the GitLab cache being served.");
	metrics_describe(mt, "sb_gitlab_cache_projects", METRIC_GAUGE, "Projects in the GitLab cache.");
	metrics_describe(mt, "sb_gitlab_cache_groups", METRIC_GAUGE, "Groups in the GitLab cache.");
	metrics_describe(mt, "sb_gitlab_refresh_duration_seconds", METRIC_HISTOGRAM, "Time to walk the GitLab scope.");
	metrics_describe(mt, "sb_gitlab_refresh_total", METRIC_COUNTER, "GitLab cache refreshes, by result.");
	metrics_describe(mt, "sb_gitlab_refresh_ok", METRIC_GAUGE, "1 when the last GitLab refresh succeeded, else 0.");
	metrics_describe(mt, "sb_gitlab_cache_hits_total", METRIC_COUNTER, "GitLab requests answered from the cache.");
	metrics_describe(mt, "sb_gitlab_passthrough_total", METRIC_COUNTER,
			 "GitLab requests passed through to GitLab, by reason.");
	metrics_describe(mt, "sb_gitlab_auth_checks_total", METRIC_COUNTER,
			 "Checks of a caller's token for a group, by result and whether the verdict was cached.");
}

/* Walk, store and (when m) swap in. 0 or -1 with e filled. */
static int refresh(struct ctx *ctx, struct httpc *hc, struct gitlab_mod *m, struct gl_walk_stats *st, int64_t *id,
		   struct err *e)
{
	const struct config_gitlab *g = &ctx->cfg->gitlab;
	char *base = strdup(g->base_url);
	if (!base)
		return err_set(e, -1, "out of memory");
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	json_t *snap = gl_walk(hc, base, g->token, g->scope.v, g->scope.n, WALK_BATCH, clock_now_ms(),
			       m ? &m->stop : NULL, st, e);
	free(base);
	int rc = -1;
	metrics_observe(ctx->metrics, "sb_gitlab_refresh_duration_seconds", (double)st->duration_ms / 1000.0, NULL);
	if (snap) {
		PGconn *c = db_acquire(ctx->db, 5000, e);
		char *blob = NULL;
		size_t blob_len = 0;
		if (c) {
			rc = gl_store_save(c, snap, st, id, &blob, &blob_len, e);
			db_release(ctx->db, c);
		}
		if (!rc && m) {
			struct gl_cache *cache = gl_cache_build(snap, blob, blob_len, e);
			if (cache)
				swap_cache(m, cache, *id);
			else
				rc = -1;
		}
		free(blob);
	}
	json_decref(snap);
	metrics_add(ctx->metrics, "sb_gitlab_refresh_total", 1, "result", rc ? "failed" : "ok", NULL);
	metrics_set(ctx->metrics, "sb_gitlab_refresh_ok", rc ? 0 : 1, NULL);
	if (m) {
		pthread_mutex_lock(&m->mu);
		m->last_refresh_ok = rc ? 0 : 1;
		m->last_refresh_ms = clock_now_ms();
		if (rc)
			snprintf(m->last_error, sizeof m->last_error, "%s", e->msg);
		else
			m->last_error[0] = '\0';
		pthread_mutex_unlock(&m->mu);
	}
	return rc;
}

/* Milliseconds since the newest stored snapshot was built; -1 when none or unknown. */
static int64_t snapshot_age_ms(struct ctx *ctx)
{
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 2000, &e);
	if (!c)
		return -1;
	PGresult *r = db_exec(c,
			      "SELECT (extract(epoch FROM now() - built_at) * 1000)::bigint FROM gitlab_cache_snapshots"
			      " ORDER BY id DESC LIMIT 1",
			      0, NULL, &e);
	int64_t age = r && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	db_release(ctx->db, c);
	return age;
}

static int task_refresh(struct ctx *ctx, void *arg, struct err *e)
{
	struct gitlab_mod *m = arg;
	/* A snapshot made since the last run (by `gitlab refresh`, or before a
	 * restart) is fresh enough: no second walk. */
	int64_t age = snapshot_age_ms(ctx);
	if (age >= 0 && age < ctx->cfg->gitlab.refresh_interval_ms * 9 / 10) {
		log_debug(ctx->log, "gitlab", NULL, "stored GitLab snapshot is fresh; refresh skipped", NULL);
		return 0;
	}
	struct gl_walk_stats st;
	int64_t id = 0;
	int rc = refresh(ctx, m->walker, m, &st, &id, e);
	char ng[24], np[24], ms[24];
	snprintf(ng, sizeof ng, "%zu", st.groups);
	snprintf(np, sizeof np, "%zu", st.projects);
	snprintf(ms, sizeof ms, "%lld", (long long)st.duration_ms);
	if (rc)
		log_error(ctx->log, "gitlab", NULL, "cache refresh failed; the previous copy stays in service", "error",
			  e->msg, NULL);
	else
		log_info(ctx->log, "gitlab", NULL, "cache refreshed", "#groups", ng, "#projects", np, "#duration_ms", ms,
			 NULL);
	return rc;
}

/* Load the newest snapshot when it is newer than the one served. */
static void load_newest(struct gitlab_mod *m, struct ctx *ctx)
{
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 1000, &e);
	if (!c)
		return;
	int64_t latest = 0, cur;
	pthread_rwlock_rdlock(&m->lock);
	cur = m->snapshot_id;
	pthread_rwlock_unlock(&m->lock);
	if (gl_store_latest(c, &latest, &e) || latest <= cur) {
		db_release(ctx->db, c);
		return;
	}
	json_t *snap = NULL;
	char *blob = NULL;
	size_t blob_len = 0;
	int64_t id = 0, t0 = clock_mono_ms();
	int rc = gl_store_load(c, &snap, &blob, &blob_len, &id, &e);
	int64_t t1 = clock_mono_ms();
	db_release(ctx->db, c);
	if (rc || !snap) {
		if (rc)
			log_error(ctx->log, "gitlab", NULL, "cannot load the GitLab snapshot", "error", e.msg, NULL);
		free(blob);
		return;
	}
	struct gl_cache *cache = gl_cache_build(snap, blob, blob_len, &e);
	json_decref(snap);
	free(blob);
	if (!cache) {
		log_error(ctx->log, "gitlab", NULL, "cannot index the GitLab snapshot", "error", e.msg, NULL);
		return;
	}
	char n[24], lms[24], ims[24];
	snprintf(n, sizeof n, "%zu", gl_cache_nprojects(cache));
	snprintf(lms, sizeof lms, "%lld", (long long)(t1 - t0));
	snprintf(ims, sizeof ims, "%lld", (long long)(clock_mono_ms() - t1));
	swap_cache(m, cache, id);
	log_info(ctx->log, "gitlab", NULL, "GitLab cache loaded", "#projects", n, "#load_ms", lms, "#index_ms", ims, NULL);
}

static void *loader_main(void *arg)
{
	struct gitlab_mod *m = arg;
	struct app *a = m->app;
	while (!m->stop) {
		if (atomic_load(&a->ready))
			load_newest(m, &a->ctx);
		set_age(m, a->ctx.metrics);
		/* until the database is ready, look often: a restart serves as soon as it can */
		clock_sleep_ms(atomic_load(&a->ready) ? 2000 : 100, &m->stop);
	}
	return NULL;
}

/* ---- wiring ---- */

int gitlab_routes(struct app *a)
{
	const struct config_gitlab *g = &a->ctx.cfg->gitlab;
	if (!g->base_url || !*g->base_url)
		return 0;
	struct gitlab_mod *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	m->app = a;
	m->cfg = g;
	m->last_refresh_ok = -1;
	m->base = strdup(g->base_url);
	m->auth = calloc(AUTH_SLOTS, sizeof *m->auth);
	pthread_rwlock_init(&m->lock, NULL);
	pthread_mutex_init(&m->mu, NULL);
	if (!m->base || !m->auth)
		goto fail;
	size_t bl = strlen(m->base);
	while (bl && m->base[bl - 1] == '/')
		m->base[--bl] = '\0';
	describe(a->ctx.metrics);
	m->walker = walker_client(g, a->ctx.log, a->ctx.metrics);
	struct httpc_opts po = {
		.name = "gitlab-proxy",
		.rl = HTTPC_RL_NONE,
		.timeout_ms = g->proxy_timeout_ms,
		.connect_timeout_ms = g->http.connect_timeout_ms,
		.max_retries = -1,
		.max_rl_retries = -1,
		.max_concurrency = 64,
		.ca_file = g->http.ca_file && *g->http.ca_file ? g->http.ca_file : NULL,
		.max_response_bytes = g->http.max_response_bytes,
		.max_wait_ms = 1,
		.rl_jitter_ms = -1,
	};
	m->proxy = httpc_new(&po, a->ctx.log, a->ctx.metrics);
	if (!m->walker || !m->proxy)
		goto fail;
	char *pat = NULL;
	if (asprintf(&pat, "%s/*", g->proxy_prefix) < 0)
		goto fail;
	int rc = router_add(a->router, "*", pat, h_proxy, m);
	free(pat);
	if (rc)
		goto fail;
	G = m;
	return 0;
fail:
	httpc_free(m->walker);
	httpc_free(m->proxy);
	free(m->base);
	free(m->auth);
	free(m);
	return -1;
}

int gitlab_start(struct app *a)
{
	struct gitlab_mod *m = G;
	if (!m)
		return 0;
	if (sched_add(a->sched, "gitlab-refresh", a->ctx.cfg->gitlab.refresh_interval_ms, task_refresh, m))
		return -1;
	if (pthread_create(&m->loader, NULL, loader_main, m))
		return -1;
	m->loader_started = 1;
	return 0;
}

void gitlab_stop(struct app *a)
{
	(void)a;
	struct gitlab_mod *m = G;
	if (!m)
		return;
	m->stop = 1;
	if (m->loader_started)
		pthread_join(m->loader, NULL);
	G = NULL;
	httpc_free(m->walker);
	httpc_free(m->proxy);
	gl_cache_free(m->cache);
	for (size_t i = 0; i < AUTH_SLOTS; i++)
		free(m->auth[i].body);
	free(m->auth);
	free(m->base);
	pthread_rwlock_destroy(&m->lock);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void gitlab_readyz(json_t *body)
{
	struct gitlab_mod *m = G;
	if (!m || !body)
		return;
	pthread_rwlock_rdlock(&m->lock);
	int64_t built = gl_cache_built_ms(m->cache);
	size_t np = gl_cache_nprojects(m->cache), ng = gl_cache_ngroups(m->cache);
	pthread_rwlock_unlock(&m->lock);
	pthread_mutex_lock(&m->mu);
	json_t *g = json_pack("{s:b, s:I, s:I, s:o, s:s}", "cache_loaded", built != 0, "projects", (json_int_t)np,
			      "groups", (json_int_t)ng, "cache_age_seconds",
			      built ? json_integer((clock_now_ms() - built) / 1000) : json_null(), "last_refresh",
			      m->last_refresh_ok < 0 ? "none on this replica" : m->last_refresh_ok ? "ok" : "failed");
	if (g && m->last_refresh_ok == 0)
		json_object_set_new(g, "last_refresh_error", json_string(m->last_error));
	pthread_mutex_unlock(&m->mu);
	json_object_set_new(body, "gitlab", g);
}

int gitlab_cli(const struct config *cfg, struct logger *lg, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "refresh")) {
		fprintf(stderr, "usage: sentry-bridge [global options] gitlab refresh\n");
		return EXIT_USAGE;
	}
	if (!cfg->gitlab.base_url || !*cfg->gitlab.base_url) {
		fprintf(stderr, "sentry-bridge gitlab refresh: gitlab.base_url is not set: the GitLab proxy is disabled\n");
		return EXIT_CONFIG;
	}
	struct err e;
	err_clear(&e);
	char *conninfo = app_conninfo(cfg, &e);
	if (!conninfo) {
		log_error(lg, "gitlab", NULL, "no database", "error", e.msg, NULL);
		return EXIT_CONFIG;
	}
	int code = EXIT_FAILURE_RUNTIME;
	struct ctx ctx = {.log = lg, .cfg = cfg, .request_id = "cli"};
	struct httpc *hc = NULL;
	ctx.metrics = metrics_new();
	ctx.db = db_pool_new(conninfo, 2, cfg->database.connect_timeout_ms, lg);
	free(conninfo);
	if (!ctx.metrics || !ctx.db)
		goto out;
	PGconn *c = db_acquire(ctx.db, 5000, &e);
	if (!c) {
		log_error(lg, "gitlab", NULL, "cannot reach the database", "error", e.msg, NULL);
		code = EXIT_DATABASE;
		goto out;
	}
	int mrc = migrate_apply(c, NULL, &e);
	db_release(ctx.db, c);
	if (mrc) {
		log_error(lg, "gitlab", NULL, "migrations failed", "error", e.msg, NULL);
		code = EXIT_DATABASE;
		goto out;
	}
	hc = walker_client(&cfg->gitlab, lg, ctx.metrics);
	if (!hc)
		goto out;
	struct gl_walk_stats st;
	int64_t id = 0;
	if (refresh(&ctx, hc, NULL, &st, &id, &e)) {
		fprintf(stderr, "sentry-bridge gitlab refresh: failed: %s (the stored cache is unchanged)\n", e.msg);
		goto out;
	}
	printf("gitlab cache refreshed: %zu groups, %zu projects, %zu requests in %lld ms (snapshot %lld)\n", st.groups,
	       st.projects, st.requests, (long long)st.duration_ms, (long long)id);
	code = EXIT_OK;
out:
	httpc_free(hc);
	db_pool_free(ctx.db);
	metrics_free(ctx.metrics);
	return code;
}
