/*
 * slack_access.c: access requests in Slack (see slack_access.h).
 */
#include "slack_access.h"

#include "access.h"
#include "api.h"
#include "buf.h"
#include "clock.h"
#include "db.h"
#include "httpc.h"
#include "inbox.h"
#include "integrations/sentry/sentry_client.h"
#include "integrations/slack/slack_client.h"
#include "log.h"
#include "metrics.h"
#include "policies/policy_access.h"
#include "scheduler.h"
#include "slack_access_cmd.h"
#include "sso/okta_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MOD "slack_access"
#define NOTIFY_JOB "access.notify"
#define NOTICE_MAX_ATTEMPTS 12
#define NOTICE_LEASE "60 seconds"
#define MAX_APPROVER_DMS 50
#define BATCH 200

struct sa {
	struct slack_client *slack; /* notices: posts and updates */
	struct slack_client *live;  /* people waiting: users.info, views.open (3 s), ephemeral answers; its own
				     * rate budget, so a burst of notices never delays a modal */
	struct httpc *hooks; /* response_url posts */
	int64_t backoff_base_ms, backoff_max_ms;
};

static struct sa SA; /* set once at start by slack_access_register */

static bool notices_on(const struct config *cfg)
{
	return cfg->access_requests.enabled && cfg->slack.api_url && *cfg->slack.api_url;
}

/* ---- small helpers ------------------------------------------------------ */

static const char *js(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* "8h", "7d", "90m", "45s" or "1h 30m" from seconds. */
static void fmt_duration(long long s, char *out, size_t n)
{
	if (s > 0 && s % 86400 == 0)
		snprintf(out, n, "%lldd", s / 86400);
	else if (s > 0 && s % 3600 == 0)
		snprintf(out, n, "%lldh", s / 3600);
	else if (s > 0 && s % 60 == 0)
		snprintf(out, n, "%lldm", s / 60);
	else if (s >= 3600)
		snprintf(out, n, "%lldh %lldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(out, n, "%llds", s);
}

/* A PostgreSQL JSON timestamp ("2026-11-23T18:00:00.123+01:00") as "2026-11-23 17:00 UTC". */
static void fmt_time(const char *iso, char *out, size_t n)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec;
	if (!iso || sscanf(iso, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) {
		snprintf(out, n, "%s", iso ? iso : "?");
		return;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	const char *z = iso + 19;
	while (*z && *z != '+' && *z != '-' && *z != 'Z')
		z++;
	int oh = 0, om = 0;
	if ((*z == '+' || *z == '-') && sscanf(z + 1, "%d:%d", &oh, &om) >= 1)
		t -= (*z == '+' ? 1 : -1) * (time_t)(oh * 3600 + om * 60);
	struct tm g;
	gmtime_r(&t, &g);
	strftime(out, n, "%Y-%m-%d %H:%M UTC", &g);
}

/* "the manager role" / "membership of team observability" */
static void what_of(const json_t *req, char *out, size_t n)
{
	if (!strcmp(js(req, "kind") ? js(req, "kind") : "", "team"))
		snprintf(out, n, "membership of team %s", js(req, "team") ? js(req, "team") : "?");
	else
		snprintf(out, n, "the %s role", js(req, "role") ? js(req, "role") : "?");
}

/* Who decided, for people: an email as is, the admin token as "an operator". */
static const char *who_of(const char *by)
{
	if (!by || !*by)
		return "someone";
	if (!strcmp(by, "admin-token"))
		return "an operator";
	if (!strcmp(by, "bridge"))
		return "the bridge";
	return by;
}

static char *mrkdwn_escape(const char *s)
{
	struct buf b;
	buf_init(&b, 0);
	for (const char *p = s ? s : ""; *p; p++) {
		if (*p == '&')
			buf_puts(&b, "&amp;");
		else if (*p == '<')
			buf_puts(&b, "&lt;");
		else if (*p == '>')
			buf_puts(&b, "&gt;");
		else
			buf_append(&b, p, 1);
	}
	return buf_take(&b);
}

static json_t *section(const char *text)
{
	return json_pack("{s:s,s:{s:s,s:s}}", "type", "section", "text", "type", "mrkdwn", "text", text);
}

static json_t *context(const char *text)
{
	return json_pack("{s:s,s:[{s:s,s:s}]}", "type", "context", "elements", "type", "mrkdwn", "text", text);
}

static json_t *button(const char *prefix, const char *verb, const char *label, const char *value, const char *style)
{
	char aid[128];
	snprintf(aid, sizeof aid, "%s%s", prefix, verb);
	json_t *b = json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "type", "button", "action_id", aid, "text", "type",
			      "plain_text", "text", label, "value", value);
	if (b && style)
		json_object_set_new(b, "style", json_string(style));
	return b;
}

/* The state an approver message shows: status, approvals, grant status. */
static char *fingerprint(const json_t *req)
{
	const json_t *g = json_object_get(req, "grant");
	char *s = NULL;
	if (asprintf(&s, "%s:%zu:%s", js(req, "status") ? js(req, "status") : "",
		     json_array_size(json_object_get(req, "approvals")), json_is_object(g) && js(g, "status") ? js(g, "status") : "") < 0)
		return NULL;
	return s;
}

/* The approver message of req: what is asked, and either the buttons
 * (pending) or how it was decided. *text gets the notification fallback. */
static json_t *render_approver(const struct config *cfg, const json_t *req, char **text)
{
	long long id = (long long)json_integer_value(json_object_get(req, "id"));
	char what[200], dur[32], ids[32];
	what_of(req, what, sizeof what);
	fmt_duration((long long)json_integer_value(json_object_get(req, "duration_s")), dur, sizeof dur);
	snprintf(ids, sizeof ids, "%lld", id);
	const char *requester = js(req, "requester") ? js(req, "requester") : "?";
	char *reason = mrkdwn_escape(js(req, "reason") ? js(req, "reason") : "(none)");
	const char *status = js(req, "status") ? js(req, "status") : "";
	json_t *blocks = json_array();
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "*Access request #%lld*\n*Who:* %s\n*What:* %s\n*For:* %s\n*Reason:* %s", id, requester, what, dur,
		   reason ? reason : "");
	json_array_append_new(blocks, section(buf_str(&b)));
	buf_reset(&b);
	const json_t *apps = json_object_get(req, "approvals");
	long need = (long)json_integer_value(json_object_get(req, "approvals_needed"));
	buf_printf(&b, "Filed via %s", js(req, "source") ? js(req, "source") : "?");
	if (need > 1)
		buf_printf(&b, " · needs %ld distinct approvals", need);
	for (size_t i = 0; i < json_array_size(apps); i++)
		buf_printf(&b, "%s%s", i ? ", " : " · approved by ", js(json_array_get(apps, i), "approver"));
	json_array_append_new(blocks, context(buf_str(&b)));
	buf_reset(&b);
	const json_t *g = json_object_get(req, "grant");
	const char *gs = json_is_object(g) ? js(g, "status") : NULL;
	char end[48];
	fmt_time(json_is_object(g) ? js(g, "ends_at") : NULL, end, sizeof end);
	char *dreason = mrkdwn_escape(js(req, "decision_reason") ? js(req, "decision_reason") : "");
	if (!strcmp(status, "pending")) {
		char bid[64];
		snprintf(bid, sizeof bid, "sb_access:%lld", id);
		json_t *acts = json_pack("{s:s,s:s,s:[o,o]}", "type", "actions", "block_id", bid, "elements",
					 button(cfg->slack.action_id_prefix, "access_approve", "Approve", ids, "primary"),
					 button(cfg->slack.action_id_prefix, "access_deny", "Deny", ids, "danger"));
		json_array_append_new(blocks, acts);
		buf_printf(&b, "Access request #%lld: %s asks for %s for %s", id, requester, what, dur);
	} else {
		if (gs && !strcmp(gs, "revoked"))
			buf_printf(&b, ":no_entry: *Grant revoked* by %s: %s", who_of(js(g, "ended_by")),
				   js(g, "end_reason") ? js(g, "end_reason") : "");
		else if (gs && !strcmp(gs, "expired"))
			buf_printf(&b, ":hourglass: *Grant ended* at %s", end);
		else if (!strcmp(status, "approved"))
			buf_printf(&b, ":white_check_mark: *Approved* by %s, until %s", who_of(js(req, "decided_by")), end);
		else if (!strcmp(status, "denied"))
			buf_printf(&b, ":x: *Denied* by %s: %s", who_of(js(req, "decided_by")), dreason ? dreason : "");
		else if (!strcmp(status, "cancelled"))
			buf_printf(&b, ":heavy_minus_sign: *Cancelled* by %s", who_of(js(req, "decided_by")));
		else
			buf_printf(&b, "*%s*", status);
		json_array_append_new(blocks, section(buf_str(&b)));
		buf_reset(&b);
		buf_printf(&b, "Access request #%lld (%s for %s): %s", id, what, requester, status);
	}
	*text = buf_take(&b);
	free(reason);
	free(dreason);
	return blocks;
}

/* A message for one person: {text, blocks}. */
static json_t *person_message(const char *text, json_t *extra_block)
{
	json_t *blocks = json_array();
	json_array_append_new(blocks, section(text));
	if (extra_block)
		json_array_append_new(blocks, extra_block);
	return json_pack("{s:s,s:o}", "text", text, "blocks", blocks);
}

/* ---- the outbox --------------------------------------------------------- */

static int enqueue_notify(PGconn *c, int64_t delay_ms, const char *dedupe, struct err *e)
{
	struct job_spec js = {.kind = NOTIFY_JOB, .delay_ms = delay_ms > 0 ? delay_ms : 0, .dedupe_key = dedupe,
			      .priority = 1};
	return jobs_enqueue(c, &js, NULL, e);
}

static int add_notice(PGconn *c, const char *key, long long id, const char *kind, const char *target,
		      const json_t *message, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	char *m = message ? json_dumps(message, JSON_COMPACT) : NULL;
	if (message && !m)
		return err_set(e, -1, "out of memory");
	const char *p[] = {key, ids, kind, target ? target : "", m};
	int rc = db_run(c,
			"INSERT INTO access_notices (key, request_id, kind, target, message)"
			" VALUES ($1, $2::bigint, $3, $4, $5::jsonb) ON CONFLICT (key) DO NOTHING",
			5, p, e);
	free(m);
	return rc;
}

int access_notify_filed(PGconn *c, const struct config *cfg, long long id, bool auto_approved, const char *source,
			struct err *e)
{
	if (!notices_on(cfg))
		return 0;
	char key[64];
	if (!auto_approved) {
		snprintf(key, sizeof key, "fanout:%lld", id);
		if (add_notice(c, key, id, "fanout", NULL, NULL, e))
			return -1;
		return enqueue_notify(c, 0, NULL, e);
	}
	if (source && !strcmp(source, "slack"))
		return 0; /* the command's answer says so */
	return access_notify_decided(c, cfg, id, "approve", "auto-approve", true, e);
}

int access_notify_decided(PGconn *c, const struct config *cfg, long long id, const char *action, const char *by,
			  bool completed, struct err *e)
{
	if (!notices_on(cfg))
		return 0;
	json_t *req = access_request_show(c, id, e);
	if (!req)
		return -1;
	const char *requester = js(req, "requester") ? js(req, "requester") : "";
	const json_t *g = json_object_get(req, "grant");
	char what[200], end[48], text[1200];
	what_of(req, what, sizeof what);
	fmt_time(json_is_object(g) ? js(g, "ends_at") : NULL, end, sizeof end);
	bool self = by && !strcasecmp(by, requester);
	text[0] = 0;
	if (!strcmp(action, "approve") && completed) {
		if (!strcmp(by ? by : "", "auto-approve"))
			snprintf(text, sizeof text, "Your access request #%lld for %s was approved automatically. It lasts until %s.",
				 id, what, end);
		else
			snprintf(text, sizeof text, "Your access request #%lld for %s was approved by %s. It lasts until %s.", id,
				 what, who_of(by), end);
	} else if (!strcmp(action, "deny")) {
		snprintf(text, sizeof text, "Your access request #%lld for %s was denied by %s: %.700s", id, what, who_of(by),
			 js(req, "decision_reason") ? js(req, "decision_reason") : "");
	} else if (!strcmp(action, "cancel") && !self) {
		snprintf(text, sizeof text, "Your access request #%lld for %s was cancelled by %s.", id, what, who_of(by));
	} else if (!strcmp(action, "revoke") && !self) {
		snprintf(text, sizeof text, "Your access (request #%lld, %s) was revoked by %s: %.700s", id, what, who_of(by),
			 json_is_object(g) && js(g, "end_reason") ? js(g, "end_reason") : "");
	} else if (!strcmp(action, "expire")) {
		snprintf(text, sizeof text, "Your access (request #%lld, %s) ended at %s.", id, what, end);
	}
	int rc = 0;
	if (text[0] && *requester) {
		char key[96], target[300];
		snprintf(key, sizeof key, "requester:%lld:%s", id, action);
		snprintf(target, sizeof target, "email:%s", requester);
		json_t *m = person_message(text, NULL);
		rc = m ? add_notice(c, key, id, "requester", target, m, e) : err_set(e, -1, "out of memory");
		json_decref(m);
	}
	json_decref(req);
	/* Also refreshes the approvers' messages (chat.update) */
	return rc ? rc : enqueue_notify(c, 0, NULL, e);
}

int access_notify_warning(PGconn *c, const struct config *cfg, long long id, struct err *e)
{
	if (!notices_on(cfg))
		return 0;
	json_t *req = access_request_show(c, id, e);
	if (!req)
		return -1;
	const json_t *g = json_object_get(req, "grant");
	char what[200], end[48], text[600], ids[32], bid[64];
	what_of(req, what, sizeof what);
	fmt_time(json_is_object(g) ? js(g, "ends_at") : NULL, end, sizeof end);
	snprintf(ids, sizeof ids, "%lld", id);
	snprintf(bid, sizeof bid, "sb_access_extend:%lld", id);
	snprintf(text, sizeof text,
		 "Your access (request #%lld, %s) ends at %s. Need it longer? Extend files a new request for the same "
		 "access and duration; it goes to the approvers like any other.",
		 id, what, end);
	json_t *acts = json_pack("{s:s,s:s,s:[o]}", "type", "actions", "block_id", bid, "elements",
				 button(cfg->slack.action_id_prefix, "access_extend", "Extend", ids, "primary"));
	json_t *m = person_message(text, acts);
	char key[64], target[300];
	snprintf(key, sizeof key, "warning:%lld", id);
	snprintf(target, sizeof target, "email:%s", js(req, "requester") ? js(req, "requester") : "");
	int rc = m ? add_notice(c, key, id, "warning", target, m, e) : err_set(e, -1, "out of memory");
	json_decref(m);
	json_decref(req);
	return rc ? rc : enqueue_notify(c, 0, NULL, e);
}

/* ---- people ------------------------------------------------------------- */

/* The Slack user ID of an email: the directory (slack_users), else
 * users.lookupByEmail. 0 with *uid (caller frees), 1 no such user
 * (permanent), -1 try later (e). */
static int slack_user_of(PGconn *c, const char *email, char **uid, struct err *e)
{
	*uid = NULL;
	const char *p[] = {email};
	PGresult *r = db_exec(c,
			      "SELECT id FROM slack_users WHERE lower(email) = lower($1) AND NOT deleted AND NOT is_bot"
			      " ORDER BY id LIMIT 1",
			      1, p, e);
	if (!r)
		return -1;
	if (PQntuples(r))
		*uid = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (*uid)
		return 0;
	struct slack_result res;
	int rc = slack_lookup_email(SA.slack, email, uid, &res, e);
	if (!rc && !*uid) {
		rc = res.permanent || (res.error && !strcmp(res.error, "users_not_found")) ? 1 : -1;
		if (rc < 0)
			err_set(e, -1, "slack: users.lookupByEmail: %s", res.error ? res.error : "?");
	}
	slack_result_clear(&res);
	return rc;
}

/* The DM channel (D...) with a Slack user: conversations.open, so the
 * history of the very channel we post to can be searched after a crash.
 * 0 with *ch (caller frees), 1 permanent (*why), -1 (e). */
static int dm_channel(const char *uid, char **ch, char **why, struct err *e)
{
	*ch = NULL;
	json_t *a = json_pack("{s:s}", "users", uid), *body = NULL;
	struct slack_result res;
	int rc = a ? slack_call(SA.slack, "conversations.open", a, &res, &body, e) : err_set(e, -1, "out of memory");
	json_decref(a);
	if (rc) {
		json_decref(body);
		return -1;
	}
	const char *id = js(json_object_get(body, "channel"), "id");
	if (res.ok && id) {
		*ch = strdup(id);
		rc = *ch ? 0 : err_set(e, -1, "out of memory");
	} else if (res.permanent || (res.error && (!strcmp(res.error, "user_not_found") ||
						     !strcmp(res.error, "user_disabled") ||
						     !strcmp(res.error, "cannot_dm_bot")))) {
		*why = strdup(res.error ? res.error : "conversations.open refused");
		rc = 1;
	} else {
		rc = err_set(e, -1, "slack: conversations.open: %s", res.error ? res.error : "?");
	}
	slack_result_clear(&res);
	json_decref(body);
	return rc;
}

/* A channel name's ID from the Slack directory (slack_channels), or a copy of ref. */
static char *channel_id(PGconn *c, const char *ref)
{
	const char *name = ref[0] == '#' ? ref + 1 : ref;
	const char *p[] = {name};
	struct err e;
	err_clear(&e);
	PGresult *r = db_exec(c, "SELECT id FROM slack_channels WHERE name = $1 AND NOT is_archived ORDER BY id LIMIT 1", 1,
			      p, &e);
	char *id = r && PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : strdup(name);
	PQclear(r);
	return id;
}

/* The email of a Slack user: the directory, else users.info. 0 with *email
 * (caller frees), 1 unknown or without a visible email (*why), -1 (e). */
static int email_of(PGconn *c, const char *uid, char **email, const char **why, struct err *e)
{
	*email = NULL;
	*why = NULL;
	if (!uid || !*uid) {
		*why = "the request names no Slack user";
		return 1;
	}
	const char *p[] = {uid};
	PGresult *r = db_exec(c,
			      "SELECT coalesce(email, ''), deleted OR is_bot FROM slack_users WHERE id = $1", 1, p, e);
	if (!r)
		return -1;
	if (PQntuples(r) && PQgetvalue(r, 0, 1)[0] == 't') {
		PQclear(r);
		*why = "your Slack account is deactivated or a bot";
		return 1;
	}
	if (PQntuples(r) && *PQgetvalue(r, 0, 0))
		*email = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (*email)
		return 0;
	json_t *a = json_pack("{s:s}", "user", uid), *body = NULL;
	struct slack_result res;
	int rc = a ? slack_call(SA.live, "users.info", a, &res, &body, e) : err_set(e, -1, "out of memory");
	json_decref(a);
	if (rc) {
		json_decref(body);
		return -1;
	}
	if (!res.ok) {
		bool perm = res.error && (!strcmp(res.error, "user_not_found") || res.permanent);
		if (!perm)
			err_set(e, -1, "slack: users.info: %s", res.error ? res.error : "?");
		slack_result_clear(&res);
		json_decref(body);
		*why = "Slack does not know your account";
		return perm ? 1 : -1;
	}
	slack_result_clear(&res);
	const json_t *u = json_object_get(body, "user");
	const char *em = js(json_object_get(u, "profile"), "email");
	if (json_is_true(json_object_get(u, "deleted")) || json_is_true(json_object_get(u, "is_bot"))) {
		*why = "your Slack account is deactivated or a bot";
		rc = 1;
	} else if (!em || !*em) {
		*why = "your Slack profile shows the bridge no e-mail (the app needs the users:read.email scope)";
		rc = 1;
	} else {
		*email = strdup(em);
		rc = *email ? 0 : err_set(e, -1, "out of memory");
	}
	json_decref(body);
	return rc;
}

/* The approvers to DM for a request: the members of its rule's Okta groups
 * and, with team_admins, the admins of the team; not the requester. */
static int approver_emails(struct ctx *ctx, const json_t *req, int rule, char ***out, size_t *nout, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	*out = NULL;
	*nout = 0;
	if (rule < 0 || (size_t)rule >= cfg->access_requests.n_approvers)
		return 0;
	const struct config_approver_rule *r = &cfg->access_requests.approvers[rule];
	const char *requester = js(req, "requester") ? js(req, "requester") : "";
	size_t cap = MAX_APPROVER_DMS;
	char **v = calloc(cap, sizeof *v);
	size_t n = 0;
	if (!v)
		return err_set(e, -1, "out of memory");
	int rc = 0;
#define ADD(em)                                                                                   \
	do {                                                                                      \
		const char *em_ = (em);                                                           \
		bool dup_ = !em_ || !*em_ || !strcasecmp(em_, requester);                          \
		for (size_t k_ = 0; !dup_ && k_ < n; k_++)                                          \
			dup_ = !strcasecmp(v[k_], em_);                                             \
		if (!dup_ && n < cap && (v[n] = strdup(em_)))                                       \
			n++;                                                                      \
	} while (0)
	if (r->groups.n) {
		struct okta_client *oc = okta_client_new(cfg, ctx->log, ctx->metrics, e);
		struct okta_group *gs = NULL;
		size_t ng = 0;
		if (!oc || okta_groups_by_name(oc, (const char *const *)r->groups.v, r->groups.n, &gs, &ng, e)) {
			rc = -1;
		} else if (ng) {
			const char **gids = calloc(ng, sizeof *gids);
			struct okta_user **users = calloc(ng, sizeof *users);
			size_t *nusers = calloc(ng, sizeof *nusers);
			if (!gids || !users || !nusers)
				rc = err_set(e, -1, "out of memory");
			for (size_t i = 0; !rc && i < ng; i++)
				gids[i] = gs[i].id;
			if (!rc && okta_groups_members(oc, gids, ng, users, nusers, e))
				rc = -1;
			for (size_t i = 0; !rc && i < ng; i++)
				for (size_t k = 0; k < nusers[i]; k++)
					if (users[i][k].status && !strcmp(users[i][k].status, "ACTIVE"))
						ADD(users[i][k].email);
			for (size_t i = 0; users && i < ng; i++)
				okta_users_free(users[i], nusers[i]);
			free(users);
			free(nusers);
			free(gids);
		}
		okta_groups_free(gs, ng);
		okta_client_free(oc);
	}
	const char *team = js(req, "team");
	if (!rc && policy_access_rule_team_admins(cfg, rule, team)) {
		struct sentry_client *sc = sentry_client_new(cfg, ctx->log, ctx->metrics, e);
		char **admins = NULL;
		size_t na = 0;
		if (!sc || sentry_team_admins(sc, team, &admins, &na, e))
			rc = -1;
		for (size_t i = 0; !rc && i < na; i++)
			ADD(admins[i]);
		sentry_ids_free(admins, na);
		sentry_client_free(sc);
	}
#undef ADD
	if (rc) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return -1;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* ---- posting ------------------------------------------------------------ */

static int64_t backoff(int attempts)
{
	int64_t b = SA.backoff_base_ms > 0 ? SA.backoff_base_ms : 1000;
	int64_t max = SA.backoff_max_ms > 0 ? SA.backoff_max_ms : 300000;
	for (int i = 1; i < attempts && b < max; i++)
		b *= 2;
	return b > max ? max : b;
}

/* A notice that could not go out now: later (transient), or dead. */
static int notice_failed(struct ctx *ctx, PGconn *c, long long nid, int attempts, const char *why, bool permanent,
			 int64_t retry_after_ms, struct err *e)
{
	char ids[32], w[32];
	snprintf(ids, sizeof ids, "%lld", nid);
	if (permanent || attempts >= NOTICE_MAX_ATTEMPTS) {
		const char *p[] = {ids, why};
		log_warn(ctx->log, MOD, ctx->request_id, "access notice dead-lettered", "#notice", ids, "error", why, NULL);
		metrics_add(ctx->metrics, "sb_access_notices_total", 1, "outcome", "dead", NULL);
		return db_run(c,
			      "UPDATE access_notices SET status = 'dead', last_error = $2, lease_until = NULL WHERE id = $1::bigint",
			      2, p, e);
	}
	int64_t wait = retry_after_ms > 0 ? retry_after_ms : backoff(attempts);
	snprintf(w, sizeof w, "%lld", (long long)wait);
	const char *p[] = {ids, why, w};
	metrics_add(ctx->metrics, "sb_access_notices_total", 1, "outcome", "retry", NULL);
	if (db_run(c,
		   "UPDATE access_notices SET status = 'pending', last_error = $2, lease_until = NULL,"
		   " next_attempt_at = now() + $3::bigint * interval '1 millisecond' WHERE id = $1::bigint",
		   3, p, e))
		return -1;
	return enqueue_notify(c, wait, NULL, e);
}

static json_t *metadata(long long nid)
{
	char key[48];
	snprintf(key, sizeof key, "an:%lld", nid);
	return json_pack("{s:s,s:{s:s}}", "event_type", "sentry_bridge_access_notice", "event_payload", "key", key);
}

/* Expand a fanout row into one approver row per target. */
static int do_fanout(struct ctx *ctx, PGconn *c, long long nid, long long rid, int attempts, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", nid);
	json_t *req = access_request_show(c, rid, e);
	if (!req)
		return -1;
	const char *rp[] = {ids};
	char rids[32];
	snprintf(rids, sizeof rids, "%lld", rid);
	const char *rq[] = {rids};
	PGresult *r = db_exec(c, "SELECT coalesce(approver_rule, -1) FROM access_requests WHERE id = $1::bigint", 1, rq, e);
	if (!r) {
		json_decref(req);
		return -1;
	}
	int rule = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	if (strcmp(js(req, "status") ? js(req, "status") : "", "pending")) {
		json_decref(req);
		return db_run(c,
			      "UPDATE access_notices SET status = 'skipped', last_error = 'decided before approvers were"
			      " notified', lease_until = NULL WHERE id = $1::bigint",
			      1, rp, e);
	}
	char **emails = NULL;
	size_t n = 0;
	struct err ae;
	err_clear(&ae);
	if (cfg->access_requests.notify.dm_approvers && approver_emails(ctx, req, rule, &emails, &n, &ae)) {
		json_decref(req);
		return notice_failed(ctx, c, nid, attempts, ae.msg, false, -1, e);
	}
	int rc = db_begin(c, e);
	const char *ch = cfg->access_requests.notify.channel;
	if (!rc && ch && *ch) {
		char key[400];
		snprintf(key, sizeof key, "approver:%lld:channel:%.300s", rid, ch);
		rc = add_notice(c, key, rid, "approver", ch, NULL, e);
	}
	for (size_t i = 0; !rc && i < n; i++) {
		char key[400], target[320];
		snprintf(key, sizeof key, "approver:%lld:dm:%.300s", rid, emails[i]);
		snprintf(target, sizeof target, "email:%.300s", emails[i]);
		rc = add_notice(c, key, rid, "approver", target, NULL, e);
	}
	if (!rc)
		rc = db_run(c, "UPDATE access_notices SET status = 'sent', sent_at = now(), lease_until = NULL WHERE id = $1::bigint",
			    1, rp, e);
	if (!rc)
		rc = db_commit(c, e);
	if (rc)
		db_rollback(c);
	if (!rc && !n && !(ch && *ch))
		log_warn(ctx->log, MOD, ctx->request_id, "no approver to notify in Slack", "#request", rids, NULL);
	for (size_t i = 0; i < n; i++)
		free(emails[i]);
	free(emails);
	json_decref(req);
	return rc;
}

/* Post one claimed notice. 0 (posted, failed for later, or dead), -1 (e). */
static int do_post(struct ctx *ctx, PGconn *c, PGresult *row, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	long long nid = atoll(PQgetvalue(row, 0, 0));
	long long rid = atoll(PQgetvalue(row, 0, 1));
	const char *kind = PQgetvalue(row, 0, 2), *target = PQgetvalue(row, 0, 3);
	const char *mtext = PQgetisnull(row, 0, 4) ? NULL : PQgetvalue(row, 0, 4);
	int attempts = atoi(PQgetvalue(row, 0, 5));
	/* Maybe posted already: a claim that ran out (a crash), or a transport failure (Slack may have
	 * posted and the answer got lost). */
	bool was_sending = !strcmp(PQgetvalue(row, 0, 6), "sending") ||
			   (!PQgetisnull(row, 0, 8) && !strncmp(PQgetvalue(row, 0, 8), "transport:", 10));
	const char *known_ch = PQgetisnull(row, 0, 7) ? NULL : PQgetvalue(row, 0, 7);
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", nid);
	if (!strcmp(kind, "fanout"))
		return do_fanout(ctx, c, nid, rid, attempts, e);
	json_t *req = NULL, *msg = NULL, *blocks = NULL, *md = NULL;
	char *text = NULL, *fp = NULL, *ch = NULL, *found = NULL, key[48];
	struct slack_result sr = {.retry_after_ms = -1};
	int rc = -1;
	snprintf(key, sizeof key, "an:%lld", nid);
	const char *p1[] = {ids};
	if (!strcmp(kind, "approver")) {
		if (!(req = access_request_show(c, rid, e)))
			goto out;
		if (strcmp(js(req, "status") ? js(req, "status") : "", "pending") && !was_sending) {
			rc = db_run(c,
				    "UPDATE access_notices SET status = 'skipped', last_error = 'decided before it was posted',"
				    " lease_until = NULL WHERE id = $1::bigint",
				    1, p1, e);
			goto out;
		}
		if (!(blocks = render_approver(cfg, req, &text)) || !(fp = fingerprint(req))) {
			err_set(e, -1, "out of memory");
			goto out;
		}
	} else {
		msg = mtext ? json_loads(mtext, 0, NULL) : NULL;
		if (!msg || !js(msg, "text")) {
			rc = notice_failed(ctx, c, nid, attempts, "unreadable message", true, -1, e);
			goto out;
		}
		text = strdup(js(msg, "text"));
		blocks = json_incref(json_object_get(msg, "blocks"));
	}
	/* Where: a channel as configured, or the person's Slack user (a DM). */
	if (!strncmp(target, "email:", 6)) {
		struct err ue;
		err_clear(&ue);
		char *uid = NULL, *why = NULL;
		int u = slack_user_of(c, target + 6, &uid, &ue);
		if (!u)
			u = dm_channel(uid, &ch, &why, &ue);
		free(uid);
		if (u < 0) {
			rc = notice_failed(ctx, c, nid, attempts, ue.msg, false, -1, e);
			goto out;
		}
		if (u > 0) {
			rc = notice_failed(ctx, c, nid, attempts, why ? why : "users_not_found", true, -1, e);
			free(why);
			goto out;
		}
	} else {
		ch = channel_id(c, target);
	}
	/* Interrupted before its record (a crash): look for it before posting again. */
	if (was_sending && known_ch) {
		struct err fe;
		err_clear(&fe);
		if (slack_find_by_key(SA.slack, known_ch, NULL, NULL, key, &found, &fe)) {
			/* Slack cannot be asked (down, or a name or user ID that the history does not take):
			 * wait a little, then post again rather than never (a duplicate is the lesser harm). */
			if (attempts < 4) {
				rc = notice_failed(ctx, c, nid, attempts, fe.msg, false, -1, e);
				goto out;
			}
			log_warn(ctx->log, MOD, ctx->request_id, "cannot tell whether an interrupted notice was posted; posting it",
				 "#notice", ids, "error", fe.msg, NULL);
		}
		if (found) {
			const char *p[] = {ids, known_ch, found, fp};
			metrics_add(ctx->metrics, "sb_access_notices_total", 1, "outcome", "recovered", NULL);
			rc = db_run(c,
				    "UPDATE access_notices SET status = 'sent', slack_channel = $2, slack_ts = $3, rendered = $4,"
				    " sent_at = now(), lease_until = NULL, last_error = NULL WHERE id = $1::bigint",
				    4, p, e);
			goto out;
		}
	}
	{
		const char *p[] = {ids, ch};
		if (db_run(c, "UPDATE access_notices SET slack_channel = coalesce(slack_channel, $2) WHERE id = $1::bigint", 2,
			   p, e))
			goto out;
	}
	md = metadata(nid);
	if (slack_post(SA.slack, ch, text, blocks, NULL, md, &sr, e))
		goto out;
	if (!sr.ok) {
		rc = notice_failed(ctx, c, nid, attempts, sr.error ? sr.error : "?", sr.permanent, sr.retry_after_ms, e);
		goto out;
	}
	const char *p[] = {ids, sr.channel ? sr.channel : ch, sr.ts, fp};
	rc = db_run(c,
		    "UPDATE access_notices SET status = 'sent', slack_channel = $2, slack_ts = $3, rendered = $4,"
		    " sent_at = now(), lease_until = NULL, last_error = NULL WHERE id = $1::bigint",
		    4, p, e);
	metrics_add(ctx->metrics, "sb_access_notices_total", 1, "outcome", "sent", NULL);
	metrics_add(ctx->metrics, "sb_slack_messages_total", 1, "op", "post", NULL);
out:
	slack_result_clear(&sr);
	json_decref(req);
	json_decref(msg);
	json_decref(blocks);
	json_decref(md);
	free(text);
	free(fp);
	free(ch);
	free(found);
	return rc;
}

/* Claim and post one due notice. 1 one was handled, 0 none due, -1 (e). */
static int post_one(struct ctx *ctx, PGconn *c, struct err *e)
{
	PGresult *r = db_exec(c,
			      "WITH due AS (SELECT id, status AS was FROM access_notices"
			      "  WHERE (status = 'pending' AND next_attempt_at <= now())"
			      "   OR (status = 'sending' AND lease_until < now())"
			      "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
			      " UPDATE access_notices n SET status = 'sending', attempts = n.attempts + 1,"
			      "  lease_until = now() + interval '" NOTICE_LEASE "' FROM due WHERE n.id = due.id"
			      " RETURNING n.id, n.request_id, n.kind, n.target, n.message::text, n.attempts, due.was,"
			      "  n.slack_channel, n.last_error",
			      0, NULL, e);
	if (!r)
		return -1;
	if (!PQntuples(r)) {
		PQclear(r);
		return 0;
	}
	int rc = do_post(ctx, c, r, e);
	if (rc && PQtransactionStatus(c) != PQTRANS_IDLE)
		db_rollback(c);
	PQclear(r);
	return rc ? -1 : 1;
}

#define FINGERPRINT_SQL                                                                                          \
	"r.status || ':' || (SELECT count(*) FROM access_approvals a WHERE a.request_id = r.id) || ':' ||"        \
	" coalesce((SELECT g.status FROM access_grants g WHERE g.request_id = r.id), '')"

/* Bring one approver message whose request changed up to date. 1, 0, -1. */
static int update_one(struct ctx *ctx, PGconn *c, struct err *e)
{
	PGresult *r = db_exec(c,
			      "WITH stale AS (SELECT n.id FROM access_notices n JOIN access_requests r ON r.id = n.request_id"
			      "  WHERE n.kind = 'approver' AND n.status = 'sent' AND n.rendered IS DISTINCT FROM (" FINGERPRINT_SQL ")"
			      "  AND (n.update_lease IS NULL OR n.update_lease < now()) AND n.next_attempt_at <= now()"
			      "  ORDER BY n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED)"
			      " UPDATE access_notices n SET update_lease = now() + interval '" NOTICE_LEASE "',"
			      "  attempts = n.attempts + 1 FROM stale WHERE n.id = stale.id"
			      " RETURNING n.id, n.request_id, n.slack_channel, n.slack_ts, n.attempts",
			      0, NULL, e);
	if (!r)
		return -1;
	if (!PQntuples(r)) {
		PQclear(r);
		return 0;
	}
	long long nid = atoll(PQgetvalue(r, 0, 0)), rid = atoll(PQgetvalue(r, 0, 1));
	int attempts = atoi(PQgetvalue(r, 0, 4));
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", nid);
	char *text = NULL, *fp = NULL;
	json_t *blocks = NULL, *req = access_request_show(c, rid, e);
	struct slack_result sr = {.retry_after_ms = -1};
	int rc = -1;
	if (!req)
		goto out;
	if (!(blocks = render_approver(ctx->cfg, req, &text)) || !(fp = fingerprint(req))) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	if (slack_update(SA.slack, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), text, blocks, &sr, e))
		goto out;
	if (sr.ok || (sr.error && (!strcmp(sr.error, "message_not_found") || !strcmp(sr.error, "channel_not_found") ||
				   !strcmp(sr.error, "cant_update_message")))) {
		/* Done, or nothing left to update: record it as shown. */
		const char *p[] = {ids, fp, sr.ok ? NULL : sr.error};
		rc = db_run(c,
			    "UPDATE access_notices SET rendered = $2, update_lease = NULL, attempts = 0, last_error = $3"
			    " WHERE id = $1::bigint",
			    3, p, e);
		if (sr.ok)
			metrics_add(ctx->metrics, "sb_slack_messages_total", 1, "op", "update", NULL);
		goto out;
	}
	{
		int64_t wait = sr.retry_after_ms > 0 ? sr.retry_after_ms : backoff(attempts);
		char w[32];
		snprintf(w, sizeof w, "%lld", (long long)wait);
		const char *p[] = {ids, sr.error ? sr.error : "?", w, attempts >= NOTICE_MAX_ATTEMPTS ? fp : NULL};
		/* After too many attempts, give up on this version (recorded as last_error). */
		rc = db_run(c,
			    "UPDATE access_notices SET update_lease = NULL, last_error = $2, rendered = coalesce($4, rendered),"
			    " next_attempt_at = now() + $3::bigint * interval '1 millisecond' WHERE id = $1::bigint",
			    4, p, e);
		if (!rc)
			rc = enqueue_notify(c, wait, NULL, e);
		metrics_add(ctx->metrics, "sb_access_notices_total", 1, "outcome", "retry", NULL);
	}
out:
	slack_result_clear(&sr);
	json_decref(req);
	json_decref(blocks);
	free(text);
	free(fp);
	PQclear(r);
	return rc ? -1 : 1;
}

static enum job_result job_notify(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)job;
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return JOB_RETRY;
	enum job_result res = JOB_DONE;
	int n = 0, rc;
	while (n < BATCH && (rc = post_one(ctx, c, e)) > 0)
		n++;
	if (rc < 0)
		res = JOB_RETRY;
	n = 0;
	while (res == JOB_DONE && n < BATCH && (rc = update_one(ctx, c, e)) > 0)
		n++;
	if (rc < 0)
		res = JOB_RETRY;
	db_release(ctx->db, c);
	return res;
}

/* The safety net: queue a run when notices are due and no job looks at them. */
static int task_sweep(struct ctx *ctx, void *arg, struct err *e)
{
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	PGresult *r = db_exec(c,
			      "SELECT (EXISTS (SELECT 1 FROM access_notices WHERE (status = 'pending' AND next_attempt_at <= now())"
			      "  OR (status = 'sending' AND lease_until < now())))"
			      " OR EXISTS (SELECT 1 FROM access_notices n JOIN access_requests r ON r.id = n.request_id"
			      "  WHERE n.kind = 'approver' AND n.status = 'sent' AND n.next_attempt_at <= now()"
			      "  AND n.rendered IS DISTINCT FROM (" FINGERPRINT_SQL "))",
			      0, NULL, e);
	int rc = r ? 0 : -1;
	if (r && PQgetvalue(r, 0, 0)[0] == 't')
		rc = enqueue_notify(c, 0, "sweep", e);
	PQclear(r);
	db_release(ctx->db, c);
	return rc;
}

/* ---- answering people ---------------------------------------------------- */

/* May the bridge post to this response_url? Slack's hooks host, or the host
 * of slack.api_url (the simulator). */
static bool response_url_ok(const struct config *cfg, const char *url)
{
	if (!url || !*url)
		return false;
	if (!strncmp(url, "https://hooks.slack.com/", 24))
		return true;
	const char *api = cfg->slack.api_url;
	const char *s = api ? strstr(api, "://") : NULL;
	if (!s)
		return false;
	const char *slash = strchr(s + 3, '/');
	size_t origin = slash ? (size_t)(slash - api) : strlen(api);
	return !strncmp(url, api, origin) && url[origin] == '/';
}

static int respond_url(struct ctx *ctx, const char *url, const char *text, struct err *e)
{
	json_t *b = json_pack("{s:s,s:b,s:s}", "response_type", "ephemeral", "replace_original", 0, "text", text);
	char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!body)
		return err_set(e, -1, "out of memory");
	const char *hdrs[] = {"Content-Type: application/json; charset=utf-8", NULL};
	struct httpc_req hr = {.method = "POST",
			       .url = url,
			       .headers = hdrs,
			       .body = body,
			       .body_len = strlen(body),
			       .endpoint = "POST response_url",
			       .idempotent = 0,
			       .log_id = ctx->request_id};
	struct httpc_resp r = {0};
	int rc = httpc_call(SA.hooks, &hr, &r, e);
	if (!rc && (r.status < 200 || r.status >= 300))
		rc = err_set(e, -1, "response_url answered HTTP %ld", r.status);
	httpc_resp_free(&r);
	free(body);
	return rc;
}

/* Tell the person something only they see: through the response_url when
 * there is one, else an ephemeral message in the channel, else a DM. */
static void tell(struct ctx *ctx, const char *response_url, const char *channel, const char *user, const char *text)
{
	struct err e;
	err_clear(&e);
	if (response_url_ok(ctx->cfg, response_url) && !respond_url(ctx, response_url, text, &e))
		return;
	if (!user)
		return;
	json_t *a = channel && *channel ? json_pack("{s:s,s:s,s:s}", "channel", channel, "user", user, "text", text)
					: json_pack("{s:s,s:s}", "channel", user, "text", text);
	struct slack_result r;
	if (a && !slack_call(SA.live, channel && *channel ? "chat.postEphemeral" : "chat.postMessage", a, &r, NULL, &e)) {
		if (!r.ok)
			log_warn(ctx->log, MOD, ctx->request_id, "could not tell the person", "error", r.error, NULL);
		slack_result_clear(&r);
	}
	json_decref(a);
}

/* ---- the slash command (HTTP side) --------------------------------------- */

bool slack_access_owns_command(const struct config *cfg, const char *command)
{
	return command && cfg->slack.slash_command && !strcmp(command, cfg->slack.slash_command);
}

static void ephemeral(struct http_resp *resp, const char *text)
{
	http_resp_json(resp, 200, json_pack("{s:s,s:s}", "response_type", "ephemeral", "text", text));
}

void slack_access_command(struct ctx *ctx, const struct http_req *req, struct http_resp *resp)
{
	const struct config *cfg = ctx->cfg;
	const char *body = req->body ? req->body : "";
	static const char *const keys[] = {"command",	   "text",	 "user_id",	"user_name",
					   "channel_id",   "response_url", "trigger_id", "team_id"};
	char *f[8] = {0};
	for (size_t i = 0; i < 8; i++)
		f[i] = http_form_field(body, req->body_len, keys[i]);
	struct slack_access_cmd cmd;
	json_t *pl = NULL;
	char *pt = NULL;
	if (slack_access_cmd_parse(f[1], &cmd)) {
		http_resp_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	metrics_add(ctx->metrics, "sb_slack_requests_total", 1, "route", "/slack/commands", "outcome", "handled", NULL);
	if (!cfg->access_requests.enabled) {
		ephemeral(resp, "Access requests are not enabled in this bridge (access_requests.enabled).");
		goto out;
	}
	if (cmd.kind == SA_CMD_HELP || cmd.kind == SA_CMD_ERROR) {
		char *help = slack_access_cmd_help(cfg->slack.slash_command);
		char *t = NULL;
		if (cmd.kind == SA_CMD_ERROR && asprintf(&t, "%s\n\n%s", cmd.error, help ? help : "") < 0)
			t = NULL;
		ephemeral(resp, t ? t : help ? help : "help");
		free(t);
		free(help);
		goto out;
	}
	if (!f[2] || !*f[2]) {
		http_resp_error(resp, 400, "bad_request", "the command names no user_id");
		goto out;
	}
	if (!*cfg->slack.api_url) {
		ephemeral(resp, "Slack is not configured in this bridge (slack.api_url).");
		goto out;
	}
	pl = json_pack("{s:s,s:s?,s:s?,s:s,s:s?,s:s?,s:s?,s:s?}", "type", "slash_command", "command", f[0], "text", f[1],
		       "user_id", f[2], "user_name", f[3], "channel_id", f[4], "response_url", f[5], "trigger_id", f[6]);
	pt = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
	char ext[256];
	if (f[6] && *f[6])
		snprintf(ext, sizeof ext, "cmd:%.200s", f[6]);
	else
		snprintf(ext, sizeof ext, "cmd:%.40s:%.40s:%.100s", f[2], http_req_header(req, "X-Slack-Request-Timestamp"),
			 ctx->request_id ? ctx->request_id : "");
	PGconn *c = pt ? api_need_db(ctx, resp) : NULL;
	if (!c) {
		if (!pt)
			http_resp_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	struct err e;
	err_clear(&e);
	struct inbox_item it = {.source = "slack",
				.external_id = ext,
				.kind = "command.access",
				.subject = f[2],
				.payload = pt,
				.request_id = ctx->request_id,
				.job_kind = "inbox.slack"};
	int64_t id;
	int inserted;
	int rc = inbox_store(c, &it, &id, &inserted, &e);
	db_release(ctx->db, c);
	if (rc) {
		log_error(ctx->log, MOD, ctx->request_id, "cannot store a slash command", "error", e.msg, NULL);
		ephemeral(resp, "The bridge could not record your command. Please try again in a moment.");
		goto out;
	}
	char msg[400];
	char dur[80] = "";
	if (cmd.duration)
		snprintf(dur, sizeof dur, " for %.60s", cmd.duration);
	if (cmd.kind == SA_CMD_ROLE)
		snprintf(msg, sizeof msg, "Filing your request for the %.40s role%s…", cmd.role, dur);
	else if (cmd.kind == SA_CMD_TEAM)
		snprintf(msg, sizeof msg, "Filing your request for team %.60s%s…", cmd.team, dur);
	else if (cmd.kind == SA_CMD_CANCEL)
		snprintf(msg, sizeof msg, "Cancelling request #%lld…", cmd.id);
	else
		snprintf(msg, sizeof msg, "Looking up your requests and grants…");
	ephemeral(resp, inserted ? msg : "Already received; the answer follows.");
out:
	slack_access_cmd_free(&cmd);
	json_decref(pl);
	free(pt);
	for (size_t i = 0; i < 8; i++)
		free(f[i]);
}

bool slack_access_owns_view(const struct config *cfg, const json_t *p)
{
	const char *type = js(p, "type");
	const char *cb = js(json_object_get(p, "view"), "callback_id");
	const char *prefix = cfg->slack.action_id_prefix;
	return type && (!strcmp(type, "view_submission") || !strcmp(type, "view_closed")) && cb && prefix &&
	       !strncmp(cb, prefix, strlen(prefix)) && !strncmp(cb + strlen(prefix), "access_", 7);
}

bool slack_access_handles(const struct config *cfg, const json_t *p)
{
	const char *type = js(p, "type");
	if (!type)
		return false;
	if (!strcmp(type, "slash_command"))
		return true;
	if (slack_access_owns_view(cfg, p))
		return true;
	const char *aid = js(json_array_get(json_object_get(p, "actions"), 0), "action_id");
	const char *prefix = cfg->slack.action_id_prefix;
	return !strcmp(type, "block_actions") && aid && prefix && !strncmp(aid, prefix, strlen(prefix)) &&
	       !strncmp(aid + strlen(prefix), "access_", 7);
}

/* ---- acting (the job) ---------------------------------------------------- */

static long long parse_id(const char *s)
{
	char *end = NULL;
	long long v = s && *s >= '0' && *s <= '9' && strlen(s) <= 15 ? strtoll(s, &end, 10) : 0;
	return v > 0 && end && !*end ? v : 0;
}

/* The answer of access.c for a person. */
static char *answer_text(const struct access_answer *a, const char *ok_text, long long id)
{
	char *s = NULL;
	const char *msg = js(a->body, "message");
	if (a->status >= 200 && a->status < 300) {
		s = strdup(ok_text);
	} else if (a->status == 409 || a->status == 403 || a->status == 404 || a->status == 422) {
		if (asprintf(&s, "Request #%lld: %s.", id, msg ? msg : "refused") < 0)
			s = NULL;
	} else if (asprintf(&s, "The bridge could not do that now (%s). Please try again in a moment.", msg ? msg : "error") <
		   0) {
		s = NULL;
	}
	return s;
}

static char *list_text(PGconn *c, const char *email, struct err *e)
{
	json_t *items = access_request_list(c, NULL, email, 10, e);
	if (!items)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	if (!json_array_size(items))
		buf_printf(&b, "You have no access requests yet (%s).", email);
	else
		buf_printf(&b, "*Your access requests* (%s, newest first):", email);
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *r = json_array_get(items, i), *g = json_object_get(r, "grant");
		char what[200], dur[32], end[48];
		what_of(r, what, sizeof what);
		fmt_duration((long long)json_integer_value(json_object_get(r, "duration_s")), dur, sizeof dur);
		buf_printf(&b, "\n• #%lld %s for %s: *%s*", (long long)json_integer_value(json_object_get(r, "id")), what, dur,
			   js(r, "status") ? js(r, "status") : "?");
		if (json_is_object(g)) {
			fmt_time(js(g, "ends_at"), end, sizeof end);
			const char *gs = js(g, "status") ? js(g, "status") : "";
			buf_printf(&b, !strcmp(gs, "active") ? ", grant active until %s" : ", grant %s", !strcmp(gs, "active") ? end : gs);
		}
	}
	json_decref(items);
	return buf_take(&b);
}

/* The slash command's work. */
static void run_command(struct ctx *ctx, PGconn *c, const json_t *p, const char *email, const char *actor)
{
	const char *url = js(p, "response_url"), *ch = js(p, "channel_id"), *uid = js(p, "user_id");
	struct slack_access_cmd cmd;
	if (slack_access_cmd_parse(js(p, "text"), &cmd))
		return;
	char *t = NULL;
	struct access_answer a = {0};
	struct err e;
	err_clear(&e);
	if (cmd.kind == SA_CMD_ROLE || cmd.kind == SA_CMD_TEAM) {
		access_request_create(ctx, email, cmd.kind == SA_CMD_ROLE ? "role" : "team", cmd.role, cmd.team, cmd.duration,
				      cmd.reason, "slack", actor, &a);
		long long id = (long long)json_integer_value(json_object_get(a.body, "id"));
		if (a.status == 201) {
			char what[200], dur[32], end[48];
			what_of(a.body, what, sizeof what);
			fmt_duration((long long)json_integer_value(json_object_get(a.body, "duration_s")), dur, sizeof dur);
			const json_t *g = json_object_get(a.body, "grant");
			fmt_time(json_is_object(g) ? js(g, "ends_at") : NULL, end, sizeof end);
			if (!strcmp(js(a.body, "status") ? js(a.body, "status") : "", "approved"))
				t = buf_strdupf("Request #%lld for %s was approved automatically: you have it until %s.", id,
					     what, end);
			else
				t = buf_strdupf("Request #%lld filed: %s for %s. The approvers have been notified; I will tell you "
					     "when it is decided. `%s cancel %lld` withdraws it.",
					     id, what, dur, ctx->cfg->slack.slash_command, id);
		} else if (a.status == 422) {
			const char *m = js(a.body, "message");
			t = buf_strdupf("Not filed: %s.", m ? m : "refused by the rules");
		} else {
			const char *m = js(a.body, "message");
			t = buf_strdupf("The bridge could not file it now (%s). Please try again in a moment.", m ? m : "error");
		}
	} else if (cmd.kind == SA_CMD_CANCEL) {
		access_request_decide(ctx, cmd.id, "cancel", email, "cancelled from Slack", "slack", &a);
		char ok[80];
		snprintf(ok, sizeof ok, "Request #%lld is cancelled.", cmd.id);
		t = answer_text(&a, ok, cmd.id);
	} else if (cmd.kind == SA_CMD_LIST) {
		t = list_text(c, email, &e);
		if (!t)
			t = strdup("The bridge could not read your requests now. Please try again in a moment.");
	}
	if (t)
		tell(ctx, url, ch, uid, t);
	free(t);
	json_decref(a.body);
	slack_access_cmd_free(&cmd);
}

static json_t *deny_modal(const struct config *cfg, long long id, const json_t *req, const char *channel)
{
	char cb[128], meta[128], what[200], intro[400];
	snprintf(cb, sizeof cb, "%saccess_deny", cfg->slack.action_id_prefix);
	snprintf(meta, sizeof meta, "{\"id\":%lld,\"channel\":\"%.40s\"}", id, channel ? channel : "");
	what_of(req, what, sizeof what);
	char *who = mrkdwn_escape(js(req, "requester"));
	snprintf(intro, sizeof intro, "Deny request #%lld: %s asks for %s.", id, who ? who : "?", what);
	free(who);
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:b,s:[o,{s:s,s:s,s:{s:s,s:s},"
			 "s:{s:s,s:s,s:b,s:i}}]}",
			 "type", "modal", "callback_id", cb, "private_metadata", meta, "title", "type", "plain_text", "text",
			 "Deny access request", "submit", "type", "plain_text", "text", "Deny", "close", "type",
			 "plain_text", "text", "Cancel", "notify_on_close", 0, "blocks", section(intro), "type", "input",
			 "block_id", "reason", "label", "type", "plain_text", "text", "Reason (the requester sees it)",
			 "element", "type", "plain_text_input", "action_id", "reason", "multiline", 1, "max_length", 2000);
}

/* A click on one of our buttons, or the Deny modal's submission. */
static void run_interaction(struct ctx *ctx, PGconn *c, const json_t *p, const char *email)
{
	const struct config *cfg = ctx->cfg;
	const char *type = js(p, "type");
	const char *uid = js(json_object_get(p, "user"), "id");
	const char *prefix = cfg->slack.action_id_prefix;
	struct access_answer a = {0};
	char *t = NULL;
	struct err e;
	err_clear(&e);
	if (!strcmp(type, "view_submission")) {
		const json_t *view = json_object_get(p, "view");
		json_t *meta = json_loads(js(view, "private_metadata") ? js(view, "private_metadata") : "", 0, NULL);
		long long id = (long long)json_integer_value(json_object_get(meta, "id"));
		const char *ch = js(meta, "channel");
		const char *reason =
		    js(json_object_get(json_object_get(json_object_get(json_object_get(view, "state"), "values"), "reason"),
				       "reason"),
		       "value");
		if (id <= 0)
			t = strdup("The bridge could not tell which request this was.");
		else {
			access_request_decide(ctx, id, "deny", email, reason, "slack", &a);
			char ok[120];
			snprintf(ok, sizeof ok, "You denied request #%lld; the requester is told.", id);
			t = answer_text(&a, ok, id);
		}
		tell(ctx, NULL, ch && *ch ? ch : NULL, uid, t ? t : "Done.");
		json_decref(meta);
		goto out;
	}
	const json_t *act = json_array_get(json_object_get(p, "actions"), 0);
	const char *verb = js(act, "action_id") + strlen(prefix);
	const char *ch = js(json_object_get(p, "channel"), "id");
	long long id = parse_id(js(act, "value"));
	if (!id) {
		tell(ctx, NULL, ch, uid, "The bridge could not tell which request this button is about.");
		goto out;
	}
	if (!strcmp(verb, "access_approve")) {
		access_request_decide(ctx, id, "approve", email, NULL, "slack", &a);
		const char *st = js(a.body, "status");
		char ok[120];
		snprintf(ok, sizeof ok,
			 st && !strcmp(st, "pending") ? "You approved request #%lld; it needs one more approval."
						      : "You approved request #%lld; the access is being applied.",
			 id);
		t = answer_text(&a, ok, id);
	} else if (!strcmp(verb, "access_deny")) {
		json_t *req = access_request_show(c, id, &e);
		if (!req) {
			t = strdup(e.code == 404 ? "That request no longer exists." : "The bridge could not read the request now.");
		} else if (strcmp(js(req, "status") ? js(req, "status") : "", "pending")) {
			t = buf_strdupf("Request #%lld is already %s (by %s).", id, js(req, "status"),
				     who_of(js(req, "decided_by")));
		} else {
			json_t *view = deny_modal(cfg, id, req, ch);
			json_t *args = json_pack("{s:s,s:o}", "trigger_id", js(p, "trigger_id") ? js(p, "trigger_id") : "",
						 "view", view);
			struct slack_result r;
			if (args && !slack_call(SA.live, "views.open", args, &r, NULL, &e)) {
				if (!r.ok && r.error &&
				    (!strcmp(r.error, "expired_trigger_id") || !strcmp(r.error, "exchanged_trigger_id")))
					t = strdup("That took too long for Slack; please click Deny again.");
				else if (!r.ok)
					t = buf_strdupf("Slack would not open the form (%s); please try again.", r.error ? r.error : "?");
				slack_result_clear(&r);
			} else {
				t = strdup("Slack could not be reached to open the form; please try again.");
			}
			json_decref(args);
		}
		json_decref(req);
	} else if (!strcmp(verb, "access_extend")) {
		json_t *req = access_request_show(c, id, &e);
		if (!req) {
			t = strdup("That request no longer exists.");
		} else if (strcasecmp(js(req, "requester") ? js(req, "requester") : "", email)) {
			t = strdup("Only the holder may extend this access.");
		} else {
			char dur[32], reason[600], actor[200];
			snprintf(dur, sizeof dur, "%llds", (long long)json_integer_value(json_object_get(req, "duration_s")));
			snprintf(reason, sizeof reason, "extension of #%lld: %.500s", id,
				 js(req, "reason") ? js(req, "reason") : "");
			snprintf(actor, sizeof actor, "slack:%.40s (%.100s)", uid ? uid : "?", email);
			access_request_create(ctx, email, js(req, "kind"), js(req, "role"), js(req, "team"), dur, reason,
					      "slack", actor, &a);
			long long nid = (long long)json_integer_value(json_object_get(a.body, "id"));
			if (a.status == 201)
				t = buf_strdupf("Extension filed as request #%lld (%s).", nid,
					 !strcmp(js(a.body, "status") ? js(a.body, "status") : "", "approved")
					     ? "approved automatically"
					     : "the approvers are notified");
			else
				t = buf_strdupf("The extension was not filed: %s.", js(a.body, "message") ? js(a.body, "message") : "error");
		}
		json_decref(req);
	} else {
		t = strdup("This button is not known to this version of the bridge.");
	}
	if (t)
		tell(ctx, NULL, ch, uid, t);
out:
	free(t);
	json_decref(a.body);
}

enum job_result slack_access_handle(struct ctx *ctx, PGconn *c, int64_t inbox_id, const json_t *p, struct err *e)
{
	const char *type = js(p, "type");
	bool command = !strcmp(type, "slash_command");
	const char *uid = command ? js(p, "user_id") : js(json_object_get(p, "user"), "id");
	const char *uname = command ? js(p, "user_name") : js(json_object_get(p, "user"), "username");
	if (!strcmp(type, "view_closed"))
		return inbox_mark(c, inbox_id, "skipped", "modal closed", e) ? JOB_RETRY : JOB_DONE;
	char *email = NULL;
	const char *why = NULL;
	int m = email_of(c, uid, &email, &why, e);
	if (m < 0)
		return JOB_RETRY; /* Slack or the database: try again */
	const char *ch = command ? js(p, "channel_id") : js(json_object_get(p, "channel"), "id");
	if (m > 0) {
		char t[400];
		snprintf(t, sizeof t, "The bridge cannot tell who you are: %s.", why ? why : "unknown");
		tell(ctx, command ? js(p, "response_url") : NULL, ch, uid, t);
		metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", "access", "outcome", "unknown_person", NULL);
		return inbox_mark(c, inbox_id, "skipped", why, e) ? JOB_RETRY : JOB_DONE;
	}
	char actor[300];
	snprintf(actor, sizeof actor, "slack:%.40s (%.200s)", uid ? uid : "?", uname ? uname : email);
	if (command)
		run_command(ctx, c, p, email, actor);
	else
		run_interaction(ctx, c, p, email);
	metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", command ? "access_command" : "access",
		    "outcome", "done", NULL);
	free(email);
	return inbox_mark(c, inbox_id, "done", NULL, e) ? JOB_RETRY : JOB_DONE;
}

int slack_access_register(struct ctx *ctx, struct jobs *q, struct sched *s)
{
	const struct config *cfg = ctx->cfg;
	if (!*cfg->slack.api_url)
		return 0;
	struct err e;
	err_clear(&e);
	SA.slack = slack_client_new(cfg, ctx->log, ctx->metrics, &e);
	SA.live = SA.slack ? slack_client_new(cfg, ctx->log, ctx->metrics, &e) : NULL;
	if (!SA.slack || !SA.live) {
		log_error(ctx->log, MOD, NULL, "cannot create the Slack client", "error", e.msg, NULL);
		return -1;
	}
	struct httpc_opts o = {.name = "slack_response",
			       .timeout_ms = 5000,
			       .connect_timeout_ms = 3000,
			       .max_retries = 1,
			       .max_concurrency = 8,
			       .ca_file = cfg->slack.http.ca_file && *cfg->slack.http.ca_file ? cfg->slack.http.ca_file : NULL,
			       .max_wait_ms = 2000};
	if (!(SA.hooks = httpc_new(&o, ctx->log, ctx->metrics)))
		return -1;
	SA.backoff_base_ms = cfg->jobs.backoff_base_ms;
	SA.backoff_max_ms = cfg->jobs.backoff_max_ms;
	metrics_describe(ctx->metrics, "sb_access_notices_total", METRIC_COUNTER,
			 "Slack notices of access requests, by outcome (sent, retry, dead, recovered).");
	if (jobs_register(q, NOTIFY_JOB, job_notify, NULL))
		return -1;
	if (!cfg->access_requests.enabled)
		return 0;
	return sched_add(s, "access.notify", 15000, task_sweep, NULL);
}
