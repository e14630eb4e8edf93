/*
 * slack_actions.c: the job "inbox.slack": what a click on one of the
 * bridge's buttons does (issue 8). The click was verified, stored and
 * acknowledged by bridge/slack_inbound.c.
 *
 *   sb_silence (1h, 1d, until resolved): a silence of the message's issue,
 *     authored by the Slack user (recorded as "slack:<user id> (<name>)"),
 *     audited, confirmed to the person with an ephemeral message.
 *   sb_resolve, sb_archive, sb_assign: not built yet; the person is told so
 *     in an ephemeral message and the click is recorded as skipped.
 */
#include "slack_actions.h"

#include "audit.h"
#include "config.h"
#include "db.h"
#include "inbox.h"
#include "integrations/slack/slack_client.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "slack_access.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct actions {
	struct slack_client *slack;
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
	const char *verb = action_id ? action_id + strlen(prefix) : "";
	/* block_id "sb_triage:<issue>" names the issue the message is about. */
	const char *issue = block_id && strchr(block_id, ':') ? strchr(block_id, ':') + 1 : NULL;
	char actor[160];
	snprintf(actor, sizeof actor, "slack:%.40s (%.80s)", uid ? uid : "?", uname ? uname : "?");
	if (!strcmp(verb, "silence")) {
		const char *choice = json_string_value(json_object_get(json_object_get(act, "selected_option"), "value"));
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
	} else {
		tell(st, p, "Triage from Slack (resolve, archive, assign) is not available in this version of the bridge "
			    "yet: please use Sentry.");
		metrics_add(ctx->metrics, "sb_slack_actions_total", 1, "action", verb, "outcome", "not_available", NULL);
		res = inbox_mark(c, id, "skipped", "action not available yet", e) ? JOB_RETRY : JOB_DONE;
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
	metrics_describe(ctx->metrics, "sb_slack_actions_total", METRIC_COUNTER,
			 "Clicks on the bridge's Slack buttons, by action and outcome.");
	return jobs_register(q, "inbox.slack", job_slack, &st);
}
