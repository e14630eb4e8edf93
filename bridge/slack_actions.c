/*
 * slack_actions.c: the job "inbox.slack": what a click on one of the
 * bridge's buttons does (issue 8). The click was verified, stored and
 * acknowledged by bridge/slack_inbound.c.
 *
 *   sb_silence (1h, 1d, until resolved): a silence of the message's issue,
 *     authored by the Slack user (recorded as "slack:<user id> (<name>)"),
 *     audited, confirmed to the person with an ephemeral message.
 *   sb_resolve, sb_archive (menu: until escalating, 1 hour, 1 day, 1 week),
 *     sb_assign ("Assign to me"): the issue is changed in Sentry:
 *
 * Triage, step by step (docs/slack.md, "Triage from Slack"):
 *  1. The person: the Slack user's e-mail from the directory table
 *     slack_users, else users.info (users:read.email); then the Sentry
 *     member with that e-mail from the mirror sentry_members (kept by the
 *     sync), else from Sentry (members/?query=email:). "Assign to me" always
 *     asks Sentry, which gives the user id assignedTo needs ("user:<id>").
 *     Not a member (or only an invite): an ephemeral "You are not a member
 *     of the Sentry organisation as EMAIL", nothing changes.
 *  2. One triage of an issue at a time (advisory lock on the issue). What
 *     the bridge last set is in slack_triage: a click for a state the issue
 *     is already in is answered without calling Sentry (policy_triage_noop),
 *     so a double click acts once; the inbox already refuses a replayed
 *     trigger.
 *  3. PUT /api/0/organizations/{org}/issues/{id}/ with the bridge's Sentry
 *     token (an internal integration: Sentry records the integration as the
 *     actor, so the person is recorded by the bridge: slack_triage, the
 *     audit log "issue.resolve via Slack by EMAIL (slack:U123)", and the
 *     message "Resolved by @name via the bridge").
 *  4. Sentry answered 2xx: in one transaction the state, the audit entry,
 *     the inbox item, and one outbox "update" per group whose head message
 *     is about the issue (bridge/delivery.c re-renders those heads under the
 *     group lock: status line, buttons adjusted). 4xx: the person sees
 *     Sentry's reason. 5xx, 429, timeout, transport: the job is retried by
 *     the queue with its backoff, TRIAGE_TRIES runs in all, then the person
 *     is told Sentry did not answer. Every outcome is audited.
 */
#include "slack_actions.h"

#include "audit.h"
#include "config.h"
#include "db.h"
#include "delivery.h"
#include "inbox.h"
#include "integrations/sentry/sentry_client.h"
#include "integrations/slack/slack_client.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "policies/policy_triage.h"
#include "slack_access.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs of one triage job before the person is told Sentry did not answer. */
#define TRIAGE_TRIES 4

struct actions {
	struct slack_client *slack;
	struct sentry_client *sentry; /* NULL when Sentry is not configured */
};

static void tell(struct actions *st, const json_t *p, const char *text)
{
	const char *ch = json_string_value(json_object_get(json_object_get(p, "channel"), "id"));
	const char *user = json_string_value(json_object_get(json_object_get(p, "user"), "id"));
	if (!ch || !user)
		return;
	json_t *a = json_pack("{s:s,s:s,s:s}", "channel", ch, "user", user, "text", text);
	struct slack_result r;
	struct err e;
	err_clear(&e);
	if (a && !slack_call(st->slack, "chat.postEphemeral", a, &r, NULL, &e))
		slack_result_clear(&r);
	json_decref(a);
}

/* ---- triage ---- */

/* What one triage job works with (borrowed strings, except where noted). */
struct click {
	int64_t inbox_id;
	const json_t *p;        /* the payload */
	const char *uid, *issue;
	const char *actor;      /* "slack:U123 (ada)" */
	struct triage_req req;
	char *email;            /* owned */
};

/* The person's e-mail: the directory, else users.info. 0 (email may stay
 * NULL: Slack has none for them), -1 transient (retry). */
static int slack_email(struct actions *st, PGconn *c, const char *uid, char **email, struct err *e)
{
	*email = NULL;
	const char *p[] = {uid};
	PGresult *r = db_exec(c,
			      "SELECT email FROM slack_users WHERE id = $1 AND NOT deleted AND coalesce(email, '') <> ''",
			      1, p, e);
	if (!r)
		return -1;
	if (PQntuples(r))
		*email = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (*email)
		return 0;
	json_t *a = json_pack("{s:s}", "user", uid), *body = NULL;
	struct slack_result res;
	int rc = a ? slack_call(st->slack, "users.info", a, &res, &body, e) : err_set(e, -1, "out of memory");
	json_decref(a);
	if (rc)
		return -1;
	if (res.ok) {
		const char *em = json_string_value(
		    json_object_get(json_object_get(json_object_get(body, "user"), "profile"), "email"));
		if (em && *em)
			*email = strdup(em);
	} else if (!res.permanent && res.error && strcmp(res.error, "user_not_found")) {
		err_set(e, -1, "slack: users.info: %s", res.error);
		rc = -1;
	}
	slack_result_clear(&res);
	json_decref(body);
	return rc;
}

/* The Sentry member of email: 1 member (user_id filled when known), 0 not a
 * member, -1 transient (Sentry could not be asked). */
static int sentry_member(struct actions *st, PGconn *c, const char *email, bool need_user_id, char **user_id,
			 struct err *e)
{
	*user_id = NULL;
	if (!need_user_id) {
		const char *p[] = {email};
		PGresult *r = db_exec(c, "SELECT pending FROM sentry_members WHERE lower(email) = lower($1) LIMIT 1", 1,
				      p, e);
		if (!r)
			return -1;
		int found = PQntuples(r) ? (PQgetvalue(r, 0, 0)[0] == 't' ? 0 : 1) : -2;
		PQclear(r);
		if (found >= 0)
			return found;
	}
	struct sentry_member_ref m;
	int rc = sentry_find_member(st->sentry, email, &m, e);
	if (rc < 0)
		return -1;
	if (rc == 1 && !m.pending && m.user_id) {
		*user_id = m.user_id;
		m.user_id = NULL;
	} else {
		rc = 0;
	}
	sentry_member_ref_clear(&m);
	return rc;
}

static int audit_click(PGconn *c, struct ctx *ctx, const struct click *k, const char *outcome, const char *why,
		       struct err *e)
{
	char action[64], reason[700];
	snprintf(action, sizeof action, "%s%s%s", k->req.action, outcome ? "." : "", outcome ? outcome : "");
	/* "issue.resolve via Slack by ada@acme.example (slack:U123)" */
	snprintf(reason, sizeof reason, "%s via Slack by %s (slack:%s)%s%s%s%s", k->req.action,
		 k->email ? k->email : "?", k->uid, k->req.detail ? " " : "", k->req.detail ? k->req.detail : "",
		 why ? ": " : "", why ? why : "");
	char target[48];
	snprintf(target, sizeof target, "sentry-issue:%s", k->issue);
	json_t *d = json_pack("{s:s,s:s?,s:s?,s:I}", "slack_user", k->uid, "email", k->email, "detail", k->req.detail,
			      "inbox_id", (json_int_t)k->inbox_id);
	char *ds = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	struct audit_entry ae = {.actor = k->email ? k->email : k->actor,
				 .action = action,
				 .target = target,
				 .reason = reason,
				 .request_id = ctx->request_id,
				 .details = ds};
	int rc = audit_write(c, &ae, e);
	free(ds);
	return rc;
}

/* An outcome that changes nothing in Sentry: tell, audit, close the item. */
static enum job_result settle(struct ctx *ctx, struct actions *st, PGconn *c, const struct click *k,
			      const char *outcome, const char *why, const char *status, const char *message,
			      struct err *e)
{
	int rc = db_begin(c, e);
	if (!rc)
		rc = audit_click(c, ctx, k, outcome, why, e);
	if (!rc)
		rc = inbox_mark(c, k->inbox_id, status, why, e);
	if (!rc)
		rc = db_commit(c, e);
	if (rc) {
		db_rollback(c);
		return JOB_RETRY;
	}
	tell(st, k->p, message);
	metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", k->req.action, "outcome", outcome, NULL);
	log_info(ctx->log, "slack", ctx->request_id, "triage click settled", "action", k->req.action, "issue", k->issue,
		 "outcome", outcome, "why", why, NULL);
	return JOB_DONE;
}

/* Sentry said yes: record, audit, and have the heads about the issue re-rendered. */
static enum job_result applied(struct ctx *ctx, struct actions *st, PGconn *c, const struct click *k,
			       const char *sentry_actor, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)k->inbox_id);
	const struct triage_req *r = &k->req;
	int rc = db_begin(c, e);
	if (!rc && r->verb == TRIAGE_ASSIGN) {
		const char *p[] = {k->issue, k->uid, k->email, sentry_actor};
		rc = db_run(c,
			    "INSERT INTO slack_triage (issue, assignee, assignee_email, sentry_actor, assigned_at)"
			    " VALUES ($1, $2, $3, $4, now()) ON CONFLICT (issue) DO UPDATE SET assignee = $2,"
			    " assignee_email = $3, sentry_actor = $4, assignee_name = NULL, assigned_at = now(),"
			    " updated_at = now()",
			    4, p, e);
	} else if (!rc) {
		const char *p[] = {k->issue, r->status, r->detail, r->substatus, k->uid};
		rc = db_run(c,
			    "INSERT INTO slack_triage (issue, status, status_detail, substatus, status_by, status_at)"
			    " VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (issue) DO UPDATE SET status = $2,"
			    " status_detail = $3, substatus = $4, status_by = $5, status_by_name = NULL, status_at = now(),"
			    " updated_at = now()",
			    5, p, e);
	}
	if (!rc)
		rc = audit_click(c, ctx, k, NULL, NULL, e);
	if (!rc)
		rc = inbox_mark(c, k->inbox_id, "done", NULL, e);
	/* One "update" per group whose head shows this issue (its latest
	 * delivered alert is about it); delivery re-renders those heads. */
	PGresult *g = NULL;
	if (!rc) {
		const char *p[] = {ids, k->issue};
		g = db_exec(c,
			    "INSERT INTO slack_outbox (idem_key, inbox_id, kind, receiver, target, route_path, route_trail,"
			    " group_key, issue, alert)"
			    " SELECT 'triage:' || $1 || ':' || gr.group_key, $1::bigint, 'update', o.receiver, o.target,"
			    " o.route_path, o.route_trail, gr.group_key, $2, o.alert"
			    " FROM slack_groups gr CROSS JOIN LATERAL (SELECT receiver, target, route_path, route_trail,"
			    " alert, issue FROM slack_outbox x WHERE x.group_key = gr.group_key"
			    " AND x.status IN ('sent', 'grouped') ORDER BY x.id DESC LIMIT 1) o"
			    " WHERE gr.head_ts IS NOT NULL AND o.issue = $2"
			    " ON CONFLICT (idem_key) DO NOTHING RETURNING group_key",
			    2, p, e);
		if (!g)
			rc = -1;
	}
	int heads = g ? PQntuples(g) : 0;
	for (int i = 0; !rc && i < heads; i++)
		rc = delivery_enqueue(c, PQgetvalue(g, i, 0), 0, e);
	PQclear(g);
	if (!rc)
		rc = db_commit(c, e);
	if (rc) {
		/* Sentry has it; the next run finds the state recorded or sends
		 * the same PUT again, which Sentry applies idempotently */
		db_rollback(c);
		return JOB_RETRY;
	}
	metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", r->action, "outcome", "done", NULL);
	log_info(ctx->log, "slack", ctx->request_id, "triage applied in Sentry", "action", r->action, "issue", k->issue,
		 "by", k->email, NULL);
	if (!heads) {
		/* no message of ours shows the issue: confirm to the person */
		char msg[300];
		snprintf(msg, sizeof msg, "%s issue %s in Sentry%s%s.", r->done, k->issue,
			 r->verb == TRIAGE_ASSIGN ? " to you" : r->detail ? " " : "", r->detail ? r->detail : "");
		tell(st, k->p, msg);
	}
	return JOB_DONE;
}

static enum job_result triage(struct ctx *ctx, struct actions *st, PGconn *c, const struct job *job, struct click *k,
			      struct err *e)
{
	char msg[800];
	if (!st->sentry)
		return settle(ctx, st, c, k, "refused", "Sentry is not configured", "skipped",
			      "The bridge has no Sentry connection configured, so it cannot change issues. Please use "
			      "Sentry.",
			      e);
	int tries = job->max_attempts > 0 && job->max_attempts < TRIAGE_TRIES ? job->max_attempts : TRIAGE_TRIES;
	bool last = job->attempt >= tries;

	/* the state the bridge last set, for the double-click check */
	const char *pi[] = {k->issue};
	PGresult *r = db_exec(c,
			      "SELECT status, status_detail, assignee_email,"
			      " coalesce((extract(epoch FROM now() - status_at) * 1000)::bigint, -1)"
			      " FROM slack_triage WHERE issue = $1",
			      1, pi, e);
	if (!r)
		return JOB_RETRY;
	struct triage_state cur = {.status_age_ms = -1};
	if (PQntuples(r)) {
		cur.status = PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0);
		cur.status_detail = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
		cur.assignee_email = PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
		cur.status_age_ms = atoll(PQgetvalue(r, 0, 3));
	}

	if (slack_email(st, c, k->uid, &k->email, e)) {
		PQclear(r);
		if (!last)
			return JOB_RETRY;
		return settle(ctx, st, c, k, "failed", "Slack did not give the user's e-mail", "failed",
			      "The bridge could not ask Slack who you are (users.info). Nothing was changed; please try "
			      "again later.",
			      e);
	}
	if (!k->email) {
		PQclear(r);
		return settle(ctx, st, c, k, "refused", "no e-mail in Slack", "skipped",
			      "The bridge cannot see an e-mail address on your Slack profile, so it cannot tell which "
			      "Sentry member you are. Nothing was changed.",
			      e);
	}
	bool noop = policy_triage_noop(&cur, &k->req, k->email);
	PQclear(r);
	if (noop) {
		if (k->req.verb == TRIAGE_ASSIGN)
			snprintf(msg, sizeof msg, "Issue %s is already assigned to you.", k->issue);
		else
			snprintf(msg, sizeof msg, "Issue %s is already %s%s%s.", k->issue,
				 k->req.verb == TRIAGE_RESOLVE ? "resolved" : "archived", k->req.detail ? " " : "",
				 k->req.detail ? k->req.detail : "");
		return settle(ctx, st, c, k, "duplicate", "already in that state", "skipped", msg, e);
	}

	char *user_id = NULL;
	int m = sentry_member(st, c, k->email, k->req.verb == TRIAGE_ASSIGN, &user_id, e);
	if (m < 0) {
		if (!last)
			return JOB_RETRY;
		char why[sizeof e->msg];
		snprintf(why, sizeof why, "%s", e->msg);
		snprintf(msg, sizeof msg,
			 "Sentry did not answer (%d tries), so the bridge could not check your membership. Issue %s was "
			 "not changed; please try again later.",
			 tries, k->issue);
		return settle(ctx, st, c, k, "failed", why, "failed", msg, e);
	}
	if (m == 0) {
		snprintf(msg, sizeof msg,
			 "You are not a member of the Sentry organisation as %s, so the bridge did not change issue %s.",
			 k->email, k->issue);
		return settle(ctx, st, c, k, "refused", "not a Sentry member", "skipped", msg, e);
	}

	char actor[48] = "";
	struct sentry_issue_update u = {.status = k->req.status,
					.substatus = k->req.substatus,
					.ignore_minutes = k->req.minutes};
	if (k->req.verb == TRIAGE_ASSIGN) {
		snprintf(actor, sizeof actor, "user:%.40s", user_id);
		u.assigned_to = actor;
	}
	free(user_id);
	struct sentry_result res;
	struct err se;
	err_clear(&se);
	int rc = sentry_update_issue(st->sentry, k->issue, &u, &res, &se);
	enum job_result out;
	if (!rc && res.status >= 200 && res.status <= 299) {
		out = applied(ctx, st, c, k, actor[0] ? actor : NULL, e);
	} else if (!rc && res.status >= 400 && res.status <= 499 && res.status != 429) {
		snprintf(msg, sizeof msg, "Sentry refused to change issue %s (HTTP %ld): %s", k->issue, res.status,
			 res.message ? res.message : "no reason given");
		out = settle(ctx, st, c, k, "refused", res.message ? res.message : "refused by Sentry", "skipped", msg, e);
	} else {
		char why[300];
		if (rc)
			snprintf(why, sizeof why, "%.250s", se.msg);
		else
			snprintf(why, sizeof why, "HTTP %ld: %.250s", res.status, res.message ? res.message : "");
		log_warn(ctx->log, "slack", ctx->request_id, "Sentry did not take a triage change", "issue", k->issue,
			 "error", why, "last", last ? "yes" : "no", NULL);
		if (!last) {
			err_set(e, -1, "sentry: %s", why);
			metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", k->req.action, "outcome", "retry",
				    NULL);
			out = JOB_RETRY;
		} else {
			/* a timeout leaves it open whether Sentry applied the change */
			snprintf(msg, sizeof msg,
				 rc ? "Sentry did not answer after %d tries (%s). Issue %s may not have been changed; "
				      "please check it in Sentry."
				    : "Sentry did not answer after %d tries (%s). Issue %s was not changed; please try "
				      "again later or use Sentry.",
				 tries, why, k->issue);
			out = settle(ctx, st, c, k, "failed", why, "failed", msg, e);
		}
	}
	sentry_result_clear(&res);
	return out;
}

/* ---- the job ---- */

static enum job_result job_slack(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	struct actions *st = arg;
	json_t *jp = json_loads(job->payload, 0, NULL);
	int64_t id = (int64_t)json_integer_value(json_object_get(jp, "inbox_id"));
	json_decref(jp);
	if (id <= 0)
		return err_set(e, -1, "inbox.slack: payload without inbox_id"), JOB_FAIL;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return JOB_RETRY;
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *p1[] = {ids};
	enum job_result res = JOB_RETRY;
	json_t *p = NULL;
	PGresult *r = db_exec(c, "SELECT payload::text, status FROM inbox WHERE id = $1::bigint AND source = 'slack'", 1,
			      p1, e);
	if (!r)
		goto out;
	if (!PQntuples(r) || strcmp(PQgetvalue(r, 0, 1), "pending")) {
		res = JOB_DONE;
		goto out;
	}
	p = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	if (slack_access_handles(ctx->cfg, p)) { /* access requests: commands, buttons, the Deny modal */
		res = slack_access_handle(ctx, c, id, p, e);
		goto out;
	}
	const json_t *act = json_array_get(json_object_get(p, "actions"), 0);
	const char *action_id = json_string_value(json_object_get(act, "action_id"));
	const char *block_id = json_string_value(json_object_get(act, "block_id"));
	const json_t *user = json_object_get(p, "user");
	const char *uid = json_string_value(json_object_get(user, "id"));
	const char *uname = json_string_value(json_object_get(user, "username"));
	if (!uname)
		uname = json_string_value(json_object_get(user, "name"));
	const char *prefix = ctx->cfg->slack.action_id_prefix;
	const char *verb = action_id && strlen(action_id) >= strlen(prefix) ? action_id + strlen(prefix) : "";
	/* block_id "sb_triage:<issue>" names the issue the message is about. */
	const char *issue = block_id && strchr(block_id, ':') ? strchr(block_id, ':') + 1 : NULL;
	const char *choice = json_string_value(json_object_get(json_object_get(act, "selected_option"), "value"));
	char actor[160];
	snprintf(actor, sizeof actor, "slack:%.40s (%.80s)", uid ? uid : "?", uname ? uname : "?");
	struct triage_req treq;
	if (!strcmp(verb, "silence")) {
		const char *dur = !choice ? NULL : !strcmp(choice, "1h") ? "3600000" : !strcmp(choice, "1d") ? "86400000" : NULL;
		bool until_resolved = choice && !strcmp(choice, "resolved");
		if (!issue || !*issue || (!dur && !until_resolved)) {
			tell(st, p, "The bridge could not tell which issue or duration to silence.");
			res = inbox_mark(c, id, "skipped", "silence: no issue or duration", e) ? JOB_RETRY : JOB_DONE;
			goto out;
		}
		char comment[200];
		snprintf(comment, sizeof comment, "silenced from Slack (%s)", choice);
		const char *p2[] = {issue, dur, actor, comment};
		PGresult *ins = NULL;
		int rc = db_begin(c, e);
		if (!rc && !(ins = db_exec(c,
					   "INSERT INTO slack_silences (issue, ends_at, author, comment)"
					   " VALUES ($1, now() + $2::bigint * interval '1 millisecond', $3, $4) RETURNING id",
					   4, p2, e)))
			rc = -1;
		char target[48] = "";
		if (!rc)
			snprintf(target, sizeof target, "silence:%s", PQgetvalue(ins, 0, 0));
		PQclear(ins);
		struct audit_entry ae = {.actor = actor, .action = "silence.create", .target = target, .reason = comment,
					 .request_id = ctx->request_id};
		if (!rc)
			rc = audit_write(c, &ae, e);
		if (!rc)
			rc = inbox_mark(c, id, "done", NULL, e);
		if (!rc)
			rc = db_commit(c, e);
		if (rc) {
			db_rollback(c);
			goto out;
		}
		char msg[200];
		snprintf(msg, sizeof msg, "Silenced issue %s %s.", issue,
			 until_resolved ? "until it is resolved" : !strcmp(choice, "1h") ? "for 1 hour" : "for 1 day");
		tell(st, p, msg);
		metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", "silence", "outcome", "done", NULL);
		res = JOB_DONE;
	} else if (!policy_triage_parse(verb, choice, &treq)) {
		if (!uid || !policy_triage_slack_id_ok(uid) || !policy_triage_issue_ok(issue)) {
			tell(st, p, "The bridge could not tell which issue this button is about, or who clicked it.");
			res = inbox_mark(c, id, "skipped", "triage: no issue or user", e) ? JOB_RETRY : JOB_DONE;
			goto out;
		}
		struct click k = {.inbox_id = id, .p = p, .uid = uid, .issue = issue, .actor = actor, .req = treq};
		/* one triage of an issue at a time, across workers and replicas */
		const char *lp[] = {issue};
		if (db_run(c, "SELECT pg_advisory_lock(hashtextextended('slack-triage:' || $1, 0))", 1, lp, e))
			goto out;
		res = triage(ctx, st, c, job, &k, e);
		struct err ue;
		err_clear(&ue);
		db_run(c, "SELECT pg_advisory_unlock(hashtextextended('slack-triage:' || $1, 0))", 1, lp, &ue);
		free(k.email);
	} else {
		tell(st, p, "The bridge does not know this button. Please use Sentry.");
		metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", "unknown", "outcome", "skipped", NULL);
		res = inbox_mark(c, id, "skipped", "unknown action", e) ? JOB_RETRY : JOB_DONE;
	}
out:
	PQclear(r);
	json_decref(p);
	db_release(ctx->db, c);
	return res;
}

int slack_actions_register(struct ctx *ctx, struct jobs *q)
{
	if (!*ctx->cfg->slack.api_url)
		return 0;
	static struct actions st; /* one per process, set once at start */
	struct err e;
	err_clear(&e);
	st.slack = slack_client_new(ctx->cfg, ctx->log, ctx->metrics, &e);
	if (!st.slack)
		return -1;
	err_clear(&e);
	st.sentry = sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, &e);
	if (!st.sentry)
		log_warn(ctx->log, "slack", NULL, "triage buttons will answer that Sentry is not configured", "error", e.msg,
			 NULL);
	metrics_describe(ctx->metrics, "sb_slack_actions_total", METRIC_COUNTER,
			 "Clicks on the bridge's Slack buttons, by action and outcome.");
	return jobs_register(q, "inbox.slack", job_slack, &st);
}
