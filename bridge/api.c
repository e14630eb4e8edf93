/*
 * api.c: routes, the per-request wrapper and the operational endpoints
 * (see api.h).
 */
#include "api.h"
#include "api_slack.h"

#include "access.h"
#include "api_gitlab.h"
#include "console/console.h"
#include "audit.h"
#include "clock.h"
#include "db.h"
#include "inbox.h"
#include "jobs.h"
#include "metrics.h"
#include "migrate.h"
#include "provision.h"
#include "router.h"
#include "secret.h"
#include "slack_directory.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int api_require_admin(struct ctx *ctx, const struct http_req *req, struct http_resp *resp)
{
	const char *h = http_req_header(req, "Authorization");
	const char *tok = NULL;
	if (h && !strncasecmp(h, "Bearer ", 7))
		tok = h + 7;
	if (tok && ctx->cfg->admin_token && secret_equal(tok, ctx->cfg->admin_token))
		return 1;
	http_resp_error(resp, 401, "unauthorized",
			tok ? "the bearer token is not valid" : "this endpoint needs an Authorization: Bearer token");
	http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"sentry-bridge\"");
	return 0;
}

/* Parse a positive integer path or query value; -1 when malformed. */
long long api_parse_id(const char *s)
{
	if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
		return -1;
	return strtoll(s, NULL, 10);
}

/* ?limit=N with a default and a range check; -1 (and a 400) when bad. */
int api_query_limit(const struct http_req *req, struct http_resp *resp, int def)
{
	char *s = http_req_query(req, "limit");
	if (!s)
		return def;
	long long n = api_parse_id(s);
	free(s);
	if (n < 1 || n > 1000) {
		http_resp_error(resp, 400, "bad_request", "limit must be an integer from 1 to 1000");
		return -1;
	}
	return (int)n;
}

static void h_healthz(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)ctx;
	(void)req;
	(void)arg;
	http_resp_json(resp, 200, json_pack("{s:s,s:s}", "status", "ok", "version", SB_VERSION));
}

static void h_readyz(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)req;
	(void)arg;
	struct app *a = ctx->app;
	struct err e;
	err_clear(&e);
	int version = 0;
	const char *problem = NULL;
	if (a->stopping) {
		problem = "shutting down";
	} else {
		PGconn *c = db_acquire(ctx->db, 500, &e);
		if (!c) {
			problem = "database unreachable";
		} else {
			if (migrate_current(c, &version, &e))
				problem = "database unreachable";
			else if (version < migrate_latest())
				problem = "migrations pending";
			else if (!atomic_load(&a->ready))
				problem = "starting";
			db_release(ctx->db, c);
		}
	}
	if (problem) {
		json_t *body = json_pack("{s:s,s:s,s:i,s:i}", "status", "not ready", "reason", problem,
					 "schema_version", version, "schema_expected", migrate_latest());
		if (e.msg[0])
			json_object_set_new(body, "detail", json_string(e.msg));
		http_resp_json(resp, 503, body);
		return;
	}
	json_t *ok = json_pack("{s:s,s:s,s:i}", "status", "ready", "database", "ok", "schema_version", version);
	gitlab_readyz(ok);
	slack_directory_readyz(ok);
	http_resp_json(resp, 200, ok);
}

static void h_metrics(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)req;
	(void)arg;
	metrics_render(ctx->metrics, &resp->body);
	http_resp_content_type(resp, "text/plain; version=0.0.4; charset=utf-8");
}

/* Borrow a pooled connection or answer 503. */
PGconn *api_need_db(struct ctx *ctx, struct http_resp *resp)
{
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 2000, &e);
	if (!c) {
		log_warn(ctx->log, "api", ctx->request_id, "database unavailable", "error", e.msg, NULL);
		http_resp_error(resp, 503, "database_unavailable", "the database is not reachable; retry later");
		http_resp_header(resp, "Retry-After", "5");
	}
	return c;
}

static void db_failed(struct ctx *ctx, struct http_resp *resp, const struct err *e)
{
	log_error(ctx->log, "api", ctx->request_id, "database error", "error", e->msg, NULL);
	http_resp_error(resp, 500, "internal", "database error (logged with request id %s)", ctx->request_id);
}

static int valid_status(const char *s, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(s, *allowed))
			return 1;
	return 0;
}

static void h_jobs_list(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	static const char *const st[] = {"queued", "running", "done", "dead", NULL};
	char *status = http_req_query(req, "status");
	int limit = api_query_limit(req, resp, 100);
	PGconn *c = NULL;
	if (limit < 0)
		goto out;
	if (status && !valid_status(status, st)) {
		http_resp_error(resp, 400, "bad_request", "status must be one of queued, running, done, dead");
		goto out;
	}
	c = api_need_db(ctx, resp);
	if (!c)
		goto out;
	struct err e;
	err_clear(&e);
	json_t *list = jobs_list(c, status, limit, &e);
	if (!list)
		db_failed(ctx, resp, &e);
	else
		http_resp_json(resp, 200, json_pack("{s:o}", "jobs", list));
out:
	db_release(ctx->db, c);
	free(status);
}

static void h_jobs_replay(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	long long id = api_parse_id(http_req_param(req, "id"));
	if (id < 1) {
		http_resp_error(resp, 400, "bad_request", "job id must be a positive integer");
		return;
	}
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	struct err e;
	err_clear(&e);
	int rc = db_begin(c, &e) ? -1 : jobs_replay(c, id, &e);
	if (rc == 1) {
		char target[32];
		snprintf(target, sizeof target, "job:%lld", id);
		struct audit_entry ae = {.actor = "admin-token", .action = "job.replay", .target = target,
					 .reason = "replayed through the API", .request_id = ctx->request_id};
		if (audit_write(c, &ae, &e) || db_commit(c, &e))
			rc = -1;
	}
	if (rc < 0)
		db_failed(ctx, resp, &e);
	else if (rc == 0)
		http_resp_error(resp, 404, "not_found", "no dead job with id %lld", id);
	else
		http_resp_json(resp, 202, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "queued"));
	db_release(ctx->db, c);
}

static void h_inbox_list(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	static const char *const st[] = {"pending", "done", "skipped", "failed", "dead", NULL};
	char *status = http_req_query(req, "status");
	char *source = http_req_query(req, "source");
	int limit = api_query_limit(req, resp, 100);
	PGconn *c = NULL;
	if (limit < 0)
		goto out;
	if (status && !valid_status(status, st)) {
		http_resp_error(resp, 400, "bad_request",
				"status must be one of pending, done, skipped, failed, dead");
		goto out;
	}
	c = api_need_db(ctx, resp);
	if (!c)
		goto out;
	struct err e;
	err_clear(&e);
	json_t *list = inbox_list(c, source, status, limit, &e);
	if (!list)
		db_failed(ctx, resp, &e);
	else
		http_resp_json(resp, 200, json_pack("{s:o}", "items", list));
out:
	db_release(ctx->db, c);
	free(status);
	free(source);
}

static void h_inbox_replay(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	long long id = api_parse_id(http_req_param(req, "id"));
	if (id < 1) {
		http_resp_error(resp, 400, "bad_request", "inbox id must be a positive integer");
		return;
	}
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	struct err e;
	err_clear(&e);
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids};
	int rc = -1;
	PGresult *r = NULL;
	if (db_begin(c, &e))
		goto done;
	r = db_exec(c, "SELECT source FROM inbox WHERE id = $1::bigint FOR UPDATE", 1, p, &e);
	if (!r)
		goto done;
	if (PQntuples(r) == 0) {
		rc = 0;
		goto done;
	}
	/* Items of a source are processed by the job kind "inbox.<source>". */
	char kind[64];
	snprintf(kind, sizeof kind, "inbox.%s", PQgetvalue(r, 0, 0));
	rc = inbox_replay(c, id, kind, &e);
	if (rc == 1) {
		char target[32];
		snprintf(target, sizeof target, "inbox:%lld", id);
		struct audit_entry ae = {.actor = "admin-token", .action = "inbox.replay", .target = target,
					 .reason = "replayed through the API", .request_id = ctx->request_id};
		if (audit_write(c, &ae, &e) || db_commit(c, &e))
			rc = -1;
	}
done:
	PQclear(r);
	if (rc < 0)
		db_failed(ctx, resp, &e);
	else if (rc == 0)
		http_resp_error(resp, 404, "not_found", "no inbox item with id %lld", id);
	else
		http_resp_json(resp, 202, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "pending"));
	db_release(ctx->db, c);
}

static void h_audit_list(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	char *target = http_req_query(req, "target");
	char *before = http_req_query(req, "before");
	int limit = api_query_limit(req, resp, 100);
	PGconn *c = NULL;
	long long before_id = 0;
	if (limit < 0)
		goto out;
	if (before && (before_id = api_parse_id(before)) < 1) {
		http_resp_error(resp, 400, "bad_request", "before must be a positive audit entry id");
		goto out;
	}
	c = api_need_db(ctx, resp);
	if (!c)
		goto out;
	struct err e;
	err_clear(&e);
	json_t *list = audit_list(c, target, before_id, limit, &e);
	if (!list)
		db_failed(ctx, resp, &e);
	else
		http_resp_json(resp, 200, json_pack("{s:o}", "entries", list));
out:
	db_release(ctx->db, c);
	free(target);
	free(before);
}

/* POST /api/v1/sync[?dry_run=true]: queue a reconcile, answer its run id. */
static void h_sync_start(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	char *dr = http_req_query(req, "dry_run");
	bool dry = false;
	if (dr && !strcmp(dr, "true"))
		dry = true;
	else if (dr && strcmp(dr, "false")) {
		http_resp_error(resp, 400, "bad_request", "dry_run must be true or false");
		free(dr);
		return;
	}
	free(dr);
	if (!ctx->cfg->okta.base_url[0] || !ctx->cfg->sentry.base_url[0]) {
		http_resp_error(resp, 409, "not_configured", "okta.base_url and sentry.base_url must be configured to sync");
		return;
	}
	struct err e;
	err_clear(&e);
	int64_t id = 0;
	if (sync_enqueue(ctx, dry, "api", &id, &e)) {
		db_failed(ctx, resp, &e);
		return;
	}
	struct audit_entry ae = {.actor = "admin-token", .action = dry ? "sync.plan_requested" : "sync.requested",
				 .target = "organization", .reason = "requested through the API", .run_id = id,
				 .request_id = ctx->request_id};
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	if (audit_write(c, &ae, &e))
		log_warn(ctx->log, "api", ctx->request_id, "cannot audit the sync request", "error", e.msg, NULL);
	db_release(ctx->db, c);
	char loc[64];
	snprintf(loc, sizeof loc, "/api/v1/sync/runs/%lld", (long long)id);
	http_resp_header(resp, "Location", loc);
	http_resp_json(resp, 202, json_pack("{s:I,s:s,s:b}", "id", (json_int_t)id, "status", "queued", "dry_run", dry));
}

static json_t *query_json(PGconn *c, const char *sql, int n, const char *const *p, struct err *e)
{
	PGresult *r = db_exec(c, sql, n, p, e);
	if (!r)
		return NULL;
	json_t *out = PQntuples(r) ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : json_null();
	PQclear(r);
	if (!out)
		err_set(e, -1, "cannot decode the stored JSON");
	return out;
}

static void h_sync_runs(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	int limit = api_query_limit(req, resp, 50);
	if (limit < 0)
		return;
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	char lim[16];
	snprintf(lim, sizeof lim, "%d", limit);
	const char *p[] = {lim};
	struct err e;
	err_clear(&e);
	json_t *runs = query_json(c,
				  "SELECT coalesce(json_agg(r ORDER BY r.id DESC), '[]')::text FROM ("
				  " SELECT id, trigger, dry_run, status, started_at, finished_at, replica, summary, error"
				  " FROM sync_runs ORDER BY id DESC LIMIT $1::int) r",
				  1, p, &e);
	if (!runs)
		db_failed(ctx, resp, &e);
	else
		http_resp_json(resp, 200, json_pack("{s:o}", "runs", runs));
	db_release(ctx->db, c);
}

static void h_sync_run(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	long long id = api_parse_id(http_req_param(req, "id"));
	if (id < 1) {
		http_resp_error(resp, 400, "bad_request", "run id must be a positive integer");
		return;
	}
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids};
	struct err e;
	err_clear(&e);
	json_t *run = query_json(c,
				 "SELECT row_to_json(r)::text FROM ("
				 " SELECT id, trigger, dry_run, status, started_at, finished_at, replica, summary, plan, error,"
				 " (SELECT coalesce(json_agg(json_build_object('seq', seq, 'kind', kind, 'email', email,"
				 "   'member_id', member_id, 'okta_id', okta_id, 'team', team, 'before', before, 'after', after,"
				 "   'reason', reason, 'status', status, 'error', error, 'applied_at', applied_at) ORDER BY seq),"
				 "   '[]') FROM sync_changes WHERE run_id = s.id) AS changes"
				 " FROM sync_runs s WHERE id = $1::bigint) r",
				 1, p, &e);
	if (!run)
		db_failed(ctx, resp, &e);
	else if (json_is_null(run)) {
		json_decref(run);
		http_resp_error(resp, 404, "not_found", "no sync run with id %lld", id);
	} else
		http_resp_json(resp, 200, run);
	db_release(ctx->db, c);
}

int api_register(struct app *a)
{
	struct metrics *m = a->ctx.metrics;
	metrics_describe(m, "sb_http_requests_total", METRIC_COUNTER,
			 "HTTP requests answered, by route pattern, method and status.");
	metrics_describe(m, "sb_http_request_duration_seconds", METRIC_HISTOGRAM,
			 "Time to answer HTTP requests, by route pattern and method.");
	struct router *r = a->router;
	int rc = 0;
	rc |= router_add(r, "GET", "/healthz", h_healthz, NULL);
	rc |= router_add(r, "GET", "/readyz", h_readyz, NULL);
	rc |= router_add(r, "GET", "/metrics", h_metrics, NULL);
	rc |= router_add(r, "GET", "/api/v1/jobs", h_jobs_list, NULL);
	rc |= router_add(r, "POST", "/api/v1/jobs/{id}/replay", h_jobs_replay, NULL);
	rc |= router_add(r, "GET", "/api/v1/inbox", h_inbox_list, NULL);
	rc |= router_add(r, "POST", "/api/v1/inbox/{id}/replay", h_inbox_replay, NULL);
	rc |= router_add(r, "GET", "/api/v1/audit", h_audit_list, NULL);
	rc |= router_add(r, "POST", "/api/v1/sync", h_sync_start, NULL);
	rc |= router_add(r, "GET", "/api/v1/sync/runs", h_sync_runs, NULL);
	rc |= router_add(r, "GET", "/api/v1/sync/runs/{id}", h_sync_run, NULL);
	rc |= access_routes(r);
	rc |= provision_routes(a);
	rc |= gitlab_routes(a);
	rc |= console_routes(a);
	rc |= slack_routes(a);
	return rc ? -1 : 0;
}

void api_handle(void *arg, struct http_req *req, struct http_resp *resp, int body_too_large)
{
	struct app *a = arg;
	int64_t t0 = clock_mono_ns();
	struct ctx ctx = a->ctx;
	ctx.request_id = req->request_id;
	if (body_too_large) {
		req->route = "(body too large)";
		http_resp_error(resp, 413, "payload_too_large", "the request body is larger than %zu bytes",
				a->ctx.cfg->server.max_body_bytes);
	} else {
		router_dispatch(a->router, &ctx, req, resp);
	}
	double secs = (double)(clock_mono_ns() - t0) / 1e9;
	char status[8], ms[32];
	snprintf(status, sizeof status, "%d", resp->status);
	snprintf(ms, sizeof ms, "%.3f", secs * 1000);
	const char *route = req->route ? req->route : "(none)";
	metrics_add(a->ctx.metrics, "sb_http_requests_total", 1, "route", route, "method", req->method, "status",
		    status, NULL);
	metrics_observe(a->ctx.metrics, "sb_http_request_duration_seconds", secs, "route", route, "method",
			req->method, NULL);
	/* Probes and scrapes are frequent and boring: debug level. */
	int quiet = !strcmp(route, "/healthz") || !strcmp(route, "/readyz") || !strcmp(route, "/metrics");
	log_emit(a->ctx.log, quiet && resp->status < 400 ? LOG_LVL_DEBUG : LOG_LVL_INFO, "http", req->request_id,
		 "request", "method", req->method, "path", req->path, "route", route, "#status", status,
		 "#duration_ms", ms, "remote", req->remote_addr, NULL);
}
