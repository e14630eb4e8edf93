/*
 * slack_inbound.c: the bridge as the Request URL of the Slack app it shares
 * with Sentry (issue 8).
 *
 *   POST /slack/interactions   Interactivity Request URL
 *   POST /slack/events         Events Request URL
 *   POST /slack/commands       slash commands
 *   POST /slack/options-load   options load URL
 *
 * Every request is verified (X-Slack-Signature v0 over the raw body, the
 * timestamp within slack.signature_max_age). What the bridge owns (block
 * actions whose action_id starts with slack.action_id_prefix, its slash
 * command, the url_verification challenge) it handles; everything else is
 * forwarded byte for byte, with the signing headers, to Sentry's
 * /extensions/slack/... endpoint, and Sentry's status, content type and body
 * go back to Slack. Sentry gets slack.forward_to_sentry.timeout (under
 * Slack's 3 s); a slow or failing Sentry gets the person a clear ephemeral
 * message instead of a hang.
 *
 * The bridge's slash command and the access-request modals are
 * bridge/slack_access.c's.
 *
 * Channel and user events (channel_created, channel_rename, ..., user_change,
 * team_join: slack_directory_event_type) update the cached directory
 * (bridge/slack_directory.c) and are not forwarded.
 *
 * A bridge button click is stored in the inbox (source "slack", keyed by the
 * payload's trigger_id) with the job "inbox.slack", and acknowledged at once
 * with an empty 200; the job acts (bridge/slack_actions.c).
 */
#include "api.h"
#include "api_slack.h"
#include "clock.h"
#include "db.h"
#include "httpc.h"
#include "inbox.h"
#include "integrations/slack/slack_sign.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "slack_access.h"
#include "slack_directory.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inbound {
	struct httpc *fwd; /* to Sentry's Slack endpoints; NULL when forwarding is off */
};

static struct inbound IN; /* set once at start by slack_inbound_routes */

static int verified(struct ctx *ctx, const struct http_req *req, struct http_resp *resp)
{
	const struct config_slack *s = &ctx->cfg->slack;
	enum slack_sig_rc rc = slack_verify(s->signing_secret, http_req_header(req, "X-Slack-Request-Timestamp"),
					    http_req_header(req, "X-Slack-Signature"), req->body, req->body_len,
					    clock_now_ms() / 1000, s->signature_max_age_ms / 1000);
	if (rc == SLACK_SIG_OK)
		return 1;
	metrics_add(ctx->metrics, "sb_slack_requests_total", 1, "route", req->route ? req->route : "?", "outcome",
		    rc == SLACK_SIG_STALE ? "stale" : "refused", NULL);
	http_resp_error(resp, 401, "unauthorized", "%s", slack_sig_describe(rc));
	return 0;
}

static const char *fwd_url(const struct config *cfg, const char *which, char *buf, size_t n)
{
	const struct config_slack_forward *f = &cfg->slack.forward_to_sentry;
	const char *explicit = !strcmp(which, "action") ? f->action_url
			       : !strcmp(which, "event") ? f->event_url
			       : !strcmp(which, "commands") ? f->command_url
							    : f->options_load_url;
	if (explicit && *explicit)
		return explicit;
	if (!*cfg->sentry.base_url)
		return NULL;
	size_t bl = strlen(cfg->sentry.base_url);
	while (bl && cfg->sentry.base_url[bl - 1] == '/')
		bl--;
	snprintf(buf, n, "%.*s/extensions/slack/%s/", (int)bl, cfg->sentry.base_url, which);
	return buf;
}

static void ephemeral(struct http_resp *resp, const char *text)
{
	http_resp_json(resp, 200, json_pack("{s:s,s:s}", "response_type", "ephemeral", "text", text));
}

/* Forward the raw request to Sentry's endpoint `which` and relay its answer. */
static void forward(struct ctx *ctx, const struct http_req *req, struct http_resp *resp, const char *which)
{
	char ub[1024];
	const char *url = IN.fwd ? fwd_url(ctx->cfg, which, ub, sizeof ub) : NULL;
	if (!url) {
		metrics_add(ctx->metrics, "sb_slack_forwards_total", 1, "target", which, "outcome", "disabled", NULL);
		http_resp_error(resp, 404, "not_forwarded",
				"this Slack request is not the bridge's and forwarding to Sentry is off or has no URL");
		return;
	}
	/* Byte for byte: the same body and the headers Sentry verifies. */
	char h_ct[256], h_sig[128], h_ts[64], h_rn[64], h_rr[128];
	const char *ct = http_req_header(req, "Content-Type");
	const char *rn = http_req_header(req, "X-Slack-Retry-Num"), *rr = http_req_header(req, "X-Slack-Retry-Reason");
	const char *hdrs[6];
	size_t nh = 0;
	snprintf(h_ct, sizeof h_ct, "Content-Type: %.200s", ct ? ct : "application/x-www-form-urlencoded");
	snprintf(h_sig, sizeof h_sig, "X-Slack-Signature: %.100s", http_req_header(req, "X-Slack-Signature"));
	snprintf(h_ts, sizeof h_ts, "X-Slack-Request-Timestamp: %.20s",
		 http_req_header(req, "X-Slack-Request-Timestamp"));
	hdrs[nh++] = h_ct;
	hdrs[nh++] = h_sig;
	hdrs[nh++] = h_ts;
	if (rn && strlen(rn) < 20) {
		snprintf(h_rn, sizeof h_rn, "X-Slack-Retry-Num: %s", rn);
		hdrs[nh++] = h_rn;
	}
	if (rr && strlen(rr) < 80) {
		snprintf(h_rr, sizeof h_rr, "X-Slack-Retry-Reason: %s", rr);
		hdrs[nh++] = h_rr;
	}
	hdrs[nh] = NULL;
	char endpoint[64];
	snprintf(endpoint, sizeof endpoint, "POST /extensions/slack/%s/", which);
	struct httpc_req hr = {.method = "POST",
			       .url = url,
			       .headers = hdrs,
			       .body = req->body,
			       .body_len = req->body_len,
			       .endpoint = endpoint,
			       .idempotent = 0,
			       .log_id = ctx->request_id};
	struct httpc_resp r = {0};
	struct err e;
	err_clear(&e);
	int64_t t0 = clock_mono_ms();
	int rc = httpc_call(IN.fwd, &hr, &r, &e);
	if (rc || r.status == 0) {
		bool timeout = rc == HTTPC_E_TIMEOUT;
		metrics_add(ctx->metrics, "sb_slack_forwards_total", 1, "target", which, "outcome",
			    timeout ? "timeout" : "error", NULL);
		log_warn(ctx->log, "slack", ctx->request_id, "forwarding to Sentry failed", "target", which, "error", e.msg,
			 NULL);
		if (!strcmp(which, "event"))
			http_resp_error(resp, 503, "unavailable", "Sentry did not answer; Slack will retry the event");
		else
			ephemeral(resp, timeout ? "Sentry did not answer in time. Please try again in a moment."
						: "Sentry could not be reached. Please try again in a moment.");
		httpc_resp_free(&r);
		return;
	}
	char ms[24];
	snprintf(ms, sizeof ms, "%lld", (long long)(clock_mono_ms() - t0));
	log_debug(ctx->log, "slack", ctx->request_id, "forwarded to Sentry", "target", which, "#elapsed_ms", ms, NULL);
	metrics_add(ctx->metrics, "sb_slack_forwards_total", 1, "target", which, "outcome", "relayed", NULL);
	resp->status = (int)r.status;
	for (size_t i = 0; i < r.nheaders; i++)
		if (!strncmp(r.headers[i], "content-type:", 13)) {
			const char *v = r.headers[i] + 13;
			while (*v == ' ')
				v++;
			http_resp_content_type(resp, v);
		}
	if (r.body.len)
		buf_append(&resp->body, r.body.data, r.body.len);
	httpc_resp_free(&r);
}

static void h_interactions(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!verified(ctx, req, resp))
		return;
	char *ptext = http_form_field(req->body ? req->body : "", req->body_len, "payload");
	json_error_t je;
	json_t *p = ptext ? json_loads(ptext, 0, &je) : NULL;
	if (!ptext || !json_is_object(p)) {
		http_resp_error(resp, 400, "bad_request", "%s", ptext ? "payload= is not a JSON object" : "missing payload=");
		goto out;
	}
	const char *type = json_string_value(json_object_get(p, "type"));
	const json_t *act = json_array_get(json_object_get(p, "actions"), 0);
	const char *action_id = json_string_value(json_object_get(act, "action_id"));
	const char *prefix = ctx->cfg->slack.action_id_prefix;
	bool view = slack_access_owns_view(ctx->cfg, p); /* our modals: view_submission, view_closed */
	bool ours = view || (type && !strcmp(type, "block_actions") && action_id &&
			     !strncmp(action_id, prefix, strlen(prefix)));
	if (!ours) {
		forward(ctx, req, resp, "action");
		goto out;
	}
	const char *trigger = json_string_value(json_object_get(p, "trigger_id"));
	const char *ats = json_string_value(json_object_get(act, "action_ts"));
	char ext[256];
	snprintf(ext, sizeof ext, "%.120s:%.60s", trigger ? trigger : "no-trigger", ats ? ats : "");
	char kind[128];
	snprintf(kind, sizeof kind, "%.30s.%.90s", type,
		 view ? json_string_value(json_object_get(json_object_get(p, "view"), "callback_id")) : action_id);
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		goto out;
	struct err e;
	err_clear(&e);
	struct inbox_item it = {.source = "slack",
				.external_id = ext,
				.kind = kind,
				.subject = json_string_value(json_object_get(json_object_get(p, "user"), "id")),
				.payload = ptext,
				.request_id = ctx->request_id,
				.job_kind = "inbox.slack"};
	int64_t id;
	int inserted;
	if (inbox_store(c, &it, &id, &inserted, &e)) {
		db_release(ctx->db, c);
		log_error(ctx->log, "slack", ctx->request_id, "cannot store a Slack action", "error", e.msg, NULL);
		ephemeral(resp, "The bridge could not record this click. Please try again.");
		goto out;
	}
	db_release(ctx->db, c);
	metrics_add(ctx->metrics, "sb_slack_requests_total", 1, "route", "/slack/interactions", "outcome", "handled",
		    NULL);
	resp->status = 200; /* an empty 200 acknowledges; the job answers in the channel */
out:
	json_decref(p);
	free(ptext);
}

/*
 * A channel or user event the directory consumes (Sentry's Slack
 * integration does not use these). Applied inline: one idempotent upsert of
 * a row takes about a millisecond, well inside Slack's 3 s; the 200 is sent
 * only after it committed, and a database failure answers 503 so Slack
 * retries the event (it does, up to three times). Going through the inbox
 * would add a stored copy and a job for the same single-row write.
 */
static void directory_event(struct ctx *ctx, const json_t *body, const char *etype, struct http_resp *resp)
{
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	struct err e;
	err_clear(&e);
	int handled = 0;
	int rc = slack_directory_apply_event(c, body, &handled, &e);
	db_release(ctx->db, c);
	if (rc) {
		log_error(ctx->log, "slack", ctx->request_id, "cannot apply a directory event", "event", etype, "error",
			  e.msg, NULL);
		metrics_add(ctx->metrics, "sb_slack_requests_total", 1, "route", "/slack/events", "outcome", "error", NULL);
		http_resp_error(resp, 503, "unavailable", "the event could not be applied; Slack will retry it");
		return;
	}
	metrics_add(ctx->metrics, "sb_slack_directory_events_total", 1, "type", etype, NULL);
	metrics_add(ctx->metrics, "sb_slack_requests_total", 1, "route", "/slack/events", "outcome", "handled", NULL);
	http_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

static void h_events(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!verified(ctx, req, resp))
		return;
	json_error_t je;
	json_t *b = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
	if (!json_is_object(b)) {
		json_decref(b);
		http_resp_error(resp, 400, "bad_request", "the body is not a JSON object");
		return;
	}
	const char *type = json_string_value(json_object_get(b, "type"));
	const char *etype = json_string_value(json_object_get(json_object_get(b, "event"), "type"));
	if (type && !strcmp(type, "url_verification")) {
		const char *ch = json_string_value(json_object_get(b, "challenge"));
		http_resp_json(resp, 200, json_pack("{s:s}", "challenge", ch ? ch : ""));
	} else if (type && !strcmp(type, "event_callback") && slack_directory_event_type(etype)) {
		directory_event(ctx, b, etype, resp);
	} else {
		forward(ctx, req, resp, "event");
	}
	json_decref(b);
}

static void h_commands(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!verified(ctx, req, resp))
		return;
	char *cmd = http_form_field(req->body ? req->body : "", req->body_len, "command");
	if (!cmd) {
		http_resp_error(resp, 400, "bad_request", "missing command=");
		return;
	}
	if (slack_access_owns_command(ctx->cfg, cmd))
		slack_access_command(ctx, req, resp);
	else
		forward(ctx, req, resp, "commands");
	free(cmd);
}

static void h_options(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (verified(ctx, req, resp))
		forward(ctx, req, resp, "options-load");
}

int slack_inbound_routes(struct app *a)
{
	const struct config *cfg = a->ctx.cfg;
	metrics_describe(a->ctx.metrics, "sb_slack_requests_total", METRIC_COUNTER,
			 "Requests from Slack, by route and outcome (handled, refused, stale).");
	metrics_describe(a->ctx.metrics, "sb_slack_directory_events_total", METRIC_COUNTER,
			 "Slack events applied to the channel and user directory, by event type.");
	metrics_describe(a->ctx.metrics, "sb_slack_forwards_total", METRIC_COUNTER,
			 "Slack requests forwarded to Sentry, by target and outcome (relayed, timeout, error, disabled).");
	if (cfg->slack.forward_to_sentry.enabled) {
		struct httpc_opts o = {
		    .name = "sentry_slack",
		    .timeout_ms = cfg->slack.forward_to_sentry.timeout_ms,
		    .connect_timeout_ms = cfg->slack.forward_to_sentry.timeout_ms,
		    .max_retries = -1,
		    .max_rl_retries = -1,
		    .max_concurrency = 32,
		    .ca_file = cfg->sentry.http.ca_file && *cfg->sentry.http.ca_file ? cfg->sentry.http.ca_file : NULL,
		    .max_wait_ms = 1,
		    .rl_jitter_ms = -1,
		};
		IN.fwd = httpc_new(&o, a->ctx.log, a->ctx.metrics);
		if (!IN.fwd)
			return -1;
	}
	struct router *r = a->router;
	int rc = 0;
	rc |= router_add(r, "POST", "/slack/interactions", h_interactions, NULL);
	rc |= router_add(r, "POST", "/slack/events", h_events, NULL);
	rc |= router_add(r, "POST", "/slack/commands", h_commands, NULL);
	rc |= router_add(r, "POST", "/slack/options-load", h_options, NULL);
	return rc ? -1 : 0;
}
