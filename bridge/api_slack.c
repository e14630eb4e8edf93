/*
 * api_slack.c: the HTTP surface of issue 8 (Slack alert routing).
 *
 *   POST /hooks/sentry            Sentry integration-platform webhooks
 *   GET  /api/v1/slack/outbox     notifications and what became of them (admin)
 *
 * Handlers are thin: verify, store in the inbox (with the job that processes
 * the item, in one transaction), answer. The work is in bridge/alerts.c.
 */
#include "api.h"
#include "api_slack.h"
#include "db.h"
#include "inbox.h"
#include "integrations/sentry/sentry_webhook.h"
#include "log.h"
#include "metrics.h"
#include "router.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Sentry gives up after 1 s: everything here is one INSERT. */
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
	    .job_kind = handled ? "inbox.sentry" : NULL,
	};
	int64_t id = 0;
	int inserted = 0;
	int rc = db_begin(c, &e);
	if (!rc)
		rc = inbox_store(c, &it, &id, &inserted, &e);
	if (!rc && inserted && !handled)
		rc = inbox_mark(c, id, "skipped", "resource or action not handled", &e);
	if (!rc)
		rc = db_commit(c, &e);
	if (rc) {
		db_rollback(c);
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

int slack_routes(struct app *a)
{
	struct router *r = a->router;
	int rc = 0;
	rc |= router_add(r, "POST", "/hooks/sentry", h_hook_sentry, NULL);
	rc |= router_add(r, "GET", "/api/v1/slack/outbox", h_outbox_list, NULL);
	return rc ? -1 : 0;
}
