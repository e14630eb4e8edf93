/*
 * api_slack.c: the HTTP surface of issue 8 (Slack alert routing).
 *
 *   POST /hooks/sentry            Sentry integration-platform webhooks
 *   GET  /api/v1/slack/outbox     notifications and what became of them (admin)
 *   POST/GET /api/v1/silences, DELETE /api/v1/silences/{id}   silences (admin)
 *
 * Handlers are thin: verify, store in the inbox (with the job that processes
 * the item, in one transaction), answer. The work is in bridge/alerts.c.
 */
#include "api.h"
#include "api_slack.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "inbox.h"
#include "integrations/sentry/sentry_webhook.h"
#include "policies/policy_routing.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "slack_directory.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sentry gives up after 1 s: everything here is one statement. */
static void h_hook_sentry(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	const struct config_sentry *sc = &ctx->cfg->sentry;
	const char *resource = http_req_header(req, "Sentry-Hook-Resource");
	const char *rid = http_req_header(req, "Request-ID");
	const char *sig = http_req_header(req, "Sentry-Hook-Signature");
	if (!sc->client_secret || !*sc->client_secret) {
		http_resp_error(resp, 404, "not_configured",
				"Sentry webhooks are not enabled: set sentry.client_secret_env or _file");
		return;
	}
	if (!sig) {
		metrics_add(ctx->metrics, "sb_sentry_webhooks_total", 1, "resource", "unknown", "outcome", "refused",
			    NULL);
		http_resp_error(resp, 401, "unauthorized", "missing Sentry-Hook-Signature header");
		return;
	}
	if (!sentry_webhook_verify(sc->client_secret, req->body, req->body_len, sig)) {
		metrics_add(ctx->metrics, "sb_sentry_webhooks_total", 1, "resource", "unknown", "outcome", "refused",
			    NULL);
		log_warn(ctx->log, "hooks", ctx->request_id, "sentry webhook with a wrong signature refused", NULL);
		http_resp_error(resp, 401, "unauthorized",
				"Sentry-Hook-Signature does not match the body (HMAC-SHA256 with the client secret)");
		return;
	}
	if (!resource || !*resource || strlen(resource) > 64) {
		http_resp_error(resp, 400, "bad_request", "missing or invalid Sentry-Hook-Resource header");
		return;
	}
	if (!sentry_webhook_request_id_ok(rid)) {
		http_resp_error(resp, 400, "bad_request",
				"missing or invalid Request-ID header (1..128 letters, digits or dashes)");
		return;
	}
	json_error_t je;
	json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
	if (!json_is_object(body)) {
		json_decref(body);
		http_resp_error(resp, 400, "bad_request", "the body is not a JSON object: %s",
				body ? "wrong type" : je.text);
		return;
	}
	const char *action = json_string_value(json_object_get(body, "action"));
	if (!action || !*action || strlen(action) > 64) {
		json_decref(body);
		http_resp_error(resp, 400, "bad_request", "the body has no \"action\" string");
		return;
	}
	char kind[160];
	snprintf(kind, sizeof kind, "%s.%s", resource, action);
	bool handled = sentry_webhook_handled(resource, action);
	json_decref(body);

	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	struct err e;
	err_clear(&e);
	struct inbox_item it = {
	    .source = "sentry",
	    .external_id = rid,
	    .kind = kind,
	    .payload = req->body,
	    .request_id = ctx->request_id,
	    .status = handled ? NULL : "skipped",
	    .status_reason = handled ? NULL : "resource or action not handled",
	    .job_kind = handled ? "inbox.sentry" : NULL,
	};
	int64_t id = 0;
	int inserted = 0;
	/* One statement, committed on its own: the delivery and its job. */
	if (inbox_store(c, &it, &id, &inserted, &e)) {
		db_release(ctx->db, c);
		log_error(ctx->log, "hooks", ctx->request_id, "cannot store a sentry webhook", "error", e.msg, NULL);
		http_resp_error(resp, 503, "unavailable", "the webhook could not be stored; Sentry will retry");
		return;
	}
	db_release(ctx->db, c);
	metrics_add(ctx->metrics, "sb_sentry_webhooks_total", 1, "resource", handled ? resource : "other", "outcome",
		    inserted ? "stored" : "duplicate", NULL);
	http_resp_json(resp, 200,
		       json_pack("{s:s,s:I,s:b,s:b}", "status", inserted ? "accepted" : "duplicate", "inbox_id",
				 (json_int_t)id, "duplicate", !inserted, "handled", handled));
}

static void h_outbox_list(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	char *status = http_req_query(req, "status");
	char *group = http_req_query(req, "group_key");
	int limit = api_query_limit(req, resp, 100);
	PGconn *c = NULL;
	if (limit < 0)
		goto out;
	if (!(c = api_need_db(ctx, resp)))
		goto out;
	char lim[16];
	snprintf(lim, sizeof lim, "%d", limit);
	const char *p[] = {status, group, lim};
	struct err e;
	err_clear(&e);
	PGresult *r = db_exec(c,
			      "SELECT coalesce(json_agg(o ORDER BY o.id), '[]')::text FROM ("
			      " SELECT id, idem_key, inbox_id, kind, receiver, target, route_path, route_trail, group_key,"
			      " issue, status, reason, alert, attempts, last_error, slack_channel, slack_ts, created_at,"
			      " sent_at FROM slack_outbox"
			      " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR group_key = $2)"
			      " ORDER BY id DESC LIMIT $3::int) o",
			      3, p, &e);
	if (!r) {
		http_resp_error(resp, 503, "unavailable", "database error");
		goto out;
	}
	json_t *items = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	http_resp_json(resp, 200, json_pack("{s:o}", "items", items ? items : json_array()));
out:
	db_release(ctx->db, c);
	free(status);
	free(group);
}

/* ---- silences ---- */

static const char *const silence_select =
	"SELECT coalesce(json_agg(s ORDER BY s.id DESC), '[]')::text FROM ("
	" SELECT id, matchers, issue, starts_at, ends_at, author, comment, created_at, expired_at,"
	" CASE WHEN expired_at IS NOT NULL OR ends_at <= now() THEN 'expired'"
	" WHEN starts_at > now() THEN 'pending' ELSE 'active' END AS state"
	" FROM slack_silences WHERE ($1::bigint IS NULL OR id = $1::bigint)) s";

static void h_silence_create(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	json_error_t je;
	json_t *b = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
	const json_t *ms = json_object_get(b, "matchers");
	const char *author = json_string_value(json_object_get(b, "author"));
	const char *comment = json_string_value(json_object_get(b, "comment"));
	const char *issue = json_string_value(json_object_get(b, "issue"));
	const char *duration = json_string_value(json_object_get(b, "duration"));
	const char *starts = json_string_value(json_object_get(b, "starts_at"));
	const char *ends = json_string_value(json_object_get(b, "ends_at"));
	const char **strs = NULL;
	char *mtext = NULL, *dur_ms = NULL, *id = NULL;
	PGconn *c = NULL;
	if (!json_is_object(b)) {
		http_resp_error(resp, 400, "bad_request", "the body is not a JSON object: %s", b ? "wrong type" : je.text);
		goto out;
	}
	if (!author || !*author || !comment || !*comment) {
		http_resp_error(resp, 400, "bad_request", "\"author\" and \"comment\" are required strings");
		goto out;
	}
	size_t n = json_array_size(ms);
	if (!json_is_array(ms) || (!n && !issue)) {
		http_resp_error(resp, 400, "bad_request",
				"\"matchers\" must be a list of matchers such as \"project=api\" (or give \"issue\")");
		goto out;
	}
	strs = calloc(n ? n : 1, sizeof *strs);
	for (size_t i = 0; strs && i < n; i++)
		if (!(strs[i] = json_string_value(json_array_get(ms, i)))) {
			http_resp_error(resp, 400, "bad_request", "matchers[%zu] is not a string", i);
			goto out;
		}
	char merr[256];
	struct policy_matchers *pm = strs ? policy_matchers_new(strs, n, merr, sizeof merr) : NULL;
	if (!pm) {
		http_resp_error(resp, 400, "bad_request", "%s", strs ? merr : "out of memory");
		goto out;
	}
	policy_matchers_free(pm);
	int64_t max = ctx->cfg->routing.silence_max_duration_ms;
	if (!ends && !duration && !issue) {
		http_resp_error(resp, 400, "bad_request",
				"give \"duration\" (e.g. \"1h\"), \"ends_at\" (RFC 3339) or \"issue\" (until resolved)");
		goto out;
	}
	if (duration) {
		int64_t dms = 0;
		char unit = 0;
		long long v = 0;
		int used = 0;
		if (sscanf(duration, "%lld%c%n", &v, &unit, &used) != 2 || duration[used] || v <= 0 ||
		    !strchr("smhd", unit)) {
			http_resp_error(resp, 400, "bad_request", "duration must look like 30m, 1h or 1d");
			goto out;
		}
		dms = v * (unit == 's' ? 1000LL : unit == 'm' ? 60000LL : unit == 'h' ? 3600000LL : 86400000LL);
		if (dms > max) {
			http_resp_error(resp, 400, "bad_request",
					"duration is longer than routing.silence_max_duration (%lld s)",
					(long long)(max / 1000));
			goto out;
		}
		if (asprintf(&dur_ms, "%lld", (long long)dms) < 0)
			dur_ms = NULL;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(strs[i]));
	mtext = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!(c = api_need_db(ctx, resp)))
		goto out;
	char maxs[32];
	snprintf(maxs, sizeof maxs, "%lld", (long long)max);
	const char *p[] = {mtext, issue, starts, ends, dur_ms, author, comment, maxs};
	struct err e;
	err_clear(&e);
	int rc = db_begin(c, &e);
	PGresult *r = rc ? NULL
			 : db_exec(c,
				   "WITH v AS (SELECT coalesce($3::timestamptz, now()) AS s)"
				   " INSERT INTO slack_silences (matchers, issue, starts_at, ends_at, author, comment)"
				   " SELECT ARRAY(SELECT json_array_elements_text($1::json)), $2, v.s,"
				   " coalesce($4::timestamptz, v.s + $5::bigint * interval '1 millisecond'), $6, $7 FROM v"
				   " WHERE coalesce($4::timestamptz, v.s + $5::bigint * interval '1 millisecond') IS NULL"
				   " OR coalesce($4::timestamptz, v.s + $5::bigint * interval '1 millisecond')"
				   "    <= v.s + $8::bigint * interval '1 millisecond'"
				   " RETURNING id",
				   8, p, &e);
	if (!r) {
		db_rollback(c);
		if (strstr(e.msg, "check constraint") || strstr(e.msg, "invalid input syntax"))
			http_resp_error(resp, 400, "bad_request",
					"starts_at/ends_at must be RFC 3339 times with the end after the start");
		else
			http_resp_error(resp, 503, "unavailable", "the silence could not be stored");
		goto out;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		db_rollback(c);
		http_resp_error(resp, 400, "bad_request", "the silence is longer than routing.silence_max_duration");
		goto out;
	}
	id = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	char target[48];
	snprintf(target, sizeof target, "silence:%s", id);
	struct audit_entry ae = {.actor = "admin-token", .action = "silence.create", .target = target, .reason = comment,
				 .after = req->body, .request_id = ctx->request_id};
	if (audit_write(c, &ae, &e) || db_commit(c, &e)) {
		db_rollback(c);
		http_resp_error(resp, 503, "unavailable", "the silence could not be stored");
		goto out;
	}
	const char *q[] = {id};
	r = db_exec(c, silence_select, 1, q, &e);
	if (r) {
		json_t *list = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
		http_resp_json(resp, 201, json_incref(json_array_get(list, 0)));
		json_decref(list);
		PQclear(r);
	} else {
		http_resp_json(resp, 201, json_pack("{s:s}", "id", id));
	}
out:
	db_release(ctx->db, c);
	json_decref(b);
	free(strs);
	free(mtext);
	free(dur_ms);
	free(id);
}

static void h_silence_list(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	char *state = http_req_query(req, "state");
	PGconn *c = NULL;
	if (state && strcmp(state, "active") && strcmp(state, "expired") && strcmp(state, "pending")) {
		http_resp_error(resp, 400, "bad_request", "state must be active, pending or expired");
		goto out;
	}
	if (!(c = api_need_db(ctx, resp)))
		goto out;
	const char *p[] = {NULL};
	struct err e;
	err_clear(&e);
	PGresult *r = db_exec(c, silence_select, 1, p, &e);
	if (!r) {
		http_resp_error(resp, 503, "unavailable", "database error");
		goto out;
	}
	json_t *all = json_loads(PQgetvalue(r, 0, 0), 0, NULL), *out = json_array();
	PQclear(r);
	size_t i;
	json_t *s;
	json_array_foreach(all, i, s)
	{
		if (!state || !strcmp(json_string_value(json_object_get(s, "state")), state))
			json_array_append(out, s);
	}
	json_decref(all);
	http_resp_json(resp, 200, json_pack("{s:o}", "silences", out));
out:
	db_release(ctx->db, c);
	free(state);
}

static void h_silence_delete(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	long long id = api_parse_id(http_req_param(req, "id"));
	if (id < 1) {
		http_resp_error(resp, 400, "bad_request", "silence id must be a positive integer");
		return;
	}
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	char ids[32], target[48];
	snprintf(ids, sizeof ids, "%lld", id);
	snprintf(target, sizeof target, "silence:%lld", id);
	const char *p[] = {ids};
	struct err e;
	err_clear(&e);
	PGresult *r = NULL;
	if (db_begin(c, &e) ||
	    !(r = db_exec(c,
			  "UPDATE slack_silences SET expired_at = now() WHERE id = $1::bigint AND expired_at IS NULL"
			  " RETURNING id",
			  1, p, &e))) {
		db_rollback(c);
		http_resp_error(resp, 503, "unavailable", "database error");
		goto out;
	}
	if (PQntuples(r) == 0) {
		db_rollback(c);
		http_resp_error(resp, 404, "not_found", "no active silence with id %lld", id);
		goto out;
	}
	struct audit_entry ae = {.actor = "admin-token", .action = "silence.expire", .target = target,
				 .reason = "expired through the API (kept for the audit trail)",
				 .request_id = ctx->request_id};
	if (audit_write(c, &ae, &e) || db_commit(c, &e)) {
		db_rollback(c);
		http_resp_error(resp, 503, "unavailable", "database error");
		goto out;
	}
	http_resp_json(resp, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "expired"));
out:
	PQclear(r);
	db_release(ctx->db, c);
}

int slack_routes(struct app *a)
{
	struct router *r = a->router;
	int rc = 0;
	rc |= router_add(r, "POST", "/hooks/sentry", h_hook_sentry, NULL);
	rc |= router_add(r, "GET", "/api/v1/slack/outbox", h_outbox_list, NULL);
	rc |= router_add(r, "POST", "/api/v1/silences", h_silence_create, NULL);
	rc |= router_add(r, "GET", "/api/v1/silences", h_silence_list, NULL);
	rc |= router_add(r, "DELETE", "/api/v1/silences/{id}", h_silence_delete, NULL);
	rc |= slack_inbound_routes(a);
	rc |= slack_directory_routes(a);
	return rc ? -1 : 0;
}
