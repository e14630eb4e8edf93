/*
 * alerts.c: the "inbox.sentry" job: a stored Sentry webhook becomes routed
 * notifications in the outbox (see alerts.h).
 *
 * Idempotent: the outbox key is "sentry:<Request-ID>:<route path>" and the
 * rows are inserted with ON CONFLICT DO NOTHING in the same transaction that
 * marks the inbox item done, so a job that runs twice (a crash before the
 * completion update) adds nothing the second time.
 */
#include "alerts.h"

#include "audit.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "delivery.h"
#include "slack_actions.h"
#include "inbox.h"
#include "integrations/sentry/sentry_alert.h"
#include "integrations/sentry/sentry_client.h"
#include "integrations/sentry/sentry_webhook.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "policies/policy_routing.h"
#include "policies/policy_triage.h"
#include "tz.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A project missing from the mirror triggers a refresh at most this often. */
#define PROJECT_REFRESH_MIN_MS 10000
/* Attempts during which a failed enrichment is retried before routing without it. */
#define ENRICH_ATTEMPTS 3

struct alerts {
	struct policy_routing *pr;
	pthread_mutex_t mu;
	int64_t last_refresh_ms;
};

/* ---- the project mirror ---- */

static int refresh_projects(struct ctx *ctx, struct alerts *st, PGconn *c, struct err *e)
{
	pthread_mutex_lock(&st->mu);
	int64_t now = clock_mono_ms();
	bool due = !st->last_refresh_ms || now - st->last_refresh_ms >= PROJECT_REFRESH_MIN_MS;
	if (due)
		st->last_refresh_ms = now;
	pthread_mutex_unlock(&st->mu);
	if (!due)
		return 0;
	struct sentry_client *sc = sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, e);
	if (!sc)
		return -1;
	struct sentry_project *v = NULL;
	size_t n = 0;
	int rc = sentry_list_projects(sc, &v, &n, e);
	sentry_client_free(sc);
	if (rc) {
		pthread_mutex_lock(&st->mu);
		st->last_refresh_ms = 0; /* a failure does not count against the throttle */
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		json_t *teams = json_array();
		for (size_t k = 0; teams && k < v[i].nteams; k++)
			json_array_append_new(teams, json_string(v[i].teams[k]));
		char *tj = teams ? json_dumps(teams, JSON_COMPACT) : NULL;
		json_decref(teams);
		const char *p[] = {v[i].id, v[i].slug, tj ? tj : "[]"};
		rc = db_run(c,
			    "INSERT INTO sentry_projects (id, slug, teams, synced_at)"
			    " VALUES ($1::bigint, $2, ARRAY(SELECT json_array_elements_text($3::json)), now())"
			    " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, teams = EXCLUDED.teams,"
			    " synced_at = now()",
			    3, p, e);
		free(tj);
	}
	char cnt[16];
	snprintf(cnt, sizeof cnt, "%zu", n);
	log_info(ctx->log, "alerts", ctx->request_id, "sentry project mirror refreshed", "#projects", cnt, NULL);
	metrics_add(ctx->metrics, "sb_sentry_project_refreshes_total", 1, "outcome", rc ? "failed" : "ok", NULL);
	sentry_projects_free(v, n);
	return rc;
}

/* 1 found (slug and teams set on a), 0 not in the mirror, -1 error. */
static int lookup_project(PGconn *c, struct sentry_alert *a, struct err *e)
{
	char id[32];
	snprintf(id, sizeof id, "%lld", (long long)a->project_id);
	const char *p[] = {a->project_id ? id : a->project};
	PGresult *r = db_exec(c,
			      a->project_id ? "SELECT slug, array_to_json(teams)::text FROM sentry_projects WHERE id = $1::bigint"
					    : "SELECT slug, array_to_json(teams)::text FROM sentry_projects WHERE slug = $1"
					      " ORDER BY synced_at DESC LIMIT 1",
			      1, p, e);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) > 0) {
		json_t *teams = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
		size_t n = json_array_size(teams);
		const char **tv = calloc(n ? n : 1, sizeof *tv);
		for (size_t i = 0; tv && i < n; i++)
			tv[i] = json_string_value(json_array_get(teams, i));
		rc = tv && !sentry_alert_set_project(a, PQgetvalue(r, 0, 0), tv, n) ? 1 : -1;
		if (rc < 0)
			err_set(e, -1, "out of memory");
		free(tv);
		json_decref(teams);
	}
	PQclear(r);
	return rc;
}

/* 1 enriched, 0 not (unknown project), -1 transient failure. */
static int enrich(struct ctx *ctx, struct alerts *st, PGconn *c, struct sentry_alert *a, struct err *e)
{
	if (!a->project_id && !*a->project)
		return 0;
	int rc = lookup_project(c, a, e);
	if (rc)
		return rc;
	if (!*ctx->cfg->sentry.base_url)
		return 0;
	if (refresh_projects(ctx, st, c, e))
		return -1;
	return lookup_project(c, a, e);
}

/* ---- silences ---- */

struct silence_set {
	struct policy_matchers **m;
	char **ids;
	char **issues; /* NULL: any issue */
	size_t n;
};

static void silences_free(struct silence_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		policy_matchers_free(s->m[i]);
		free(s->ids[i]);
		free(s->issues[i]);
	}
	free(s->m);
	free(s->ids);
	free(s->issues);
	memset(s, 0, sizeof *s);
}

static int silences_load(PGconn *c, struct silence_set *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	PGresult *r = db_exec(c,
			      "SELECT id, array_to_json(matchers)::text, issue FROM slack_silences"
			      " WHERE expired_at IS NULL AND starts_at <= now() AND (ends_at IS NULL OR ends_at > now())"
			      " ORDER BY id",
			      0, NULL, e);
	if (!r)
		return -1;
	size_t n = (size_t)PQntuples(r);
	out->m = calloc(n ? n : 1, sizeof *out->m);
	out->ids = calloc(n ? n : 1, sizeof *out->ids);
	out->issues = calloc(n ? n : 1, sizeof *out->issues);
	if (!out->m || !out->ids || !out->issues) {
		PQclear(r);
		silences_free(out);
		return err_set(e, -1, "out of memory"), -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *arr = json_loads(PQgetvalue(r, (int)i, 1), 0, NULL);
		size_t k = json_array_size(arr);
		const char **strs = calloc(k ? k : 1, sizeof *strs);
		for (size_t j = 0; strs && j < k; j++)
			strs[j] = json_string_value(json_array_get(arr, j));
		char merr[256];
		struct policy_matchers *m = strs ? policy_matchers_new(strs, k, merr, sizeof merr) : NULL;
		free(strs);
		json_decref(arr);
		if (!m) /* validated when created; a bad row silences nothing */
			continue;
		out->m[out->n] = m;
		out->ids[out->n] = strdup(PQgetvalue(r, (int)i, 0));
		out->issues[out->n] = PQgetisnull(r, (int)i, 2) ? NULL : strdup(PQgetvalue(r, (int)i, 2));
		out->n++;
	}
	PQclear(r);
	return 0;
}

/* The id of the first silence matching a, or NULL. */
static const char *silenced_by(const struct silence_set *s, const struct policy_alert *a)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->issues[i] && strcmp(s->issues[i], a->issue ? a->issue : ""))
			continue;
		if (policy_matchers_match(s->m[i], a))
			return s->ids[i];
	}
	return NULL;
}

/* ---- the job ---- */

static json_t *alert_json(const struct sentry_alert *a, bool enriched)
{
	json_t *tags = json_object(), *teams = json_array();
	for (size_t i = 0; tags && i < a->ntags; i++)
		json_object_set_new(tags, a->tags[i].key, json_string(a->tags[i].value));
	for (size_t i = 0; teams && i < a->nteams; i++)
		json_array_append_new(teams, json_string(a->teams[i]));
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b}", "resource", a->resource,
			      "action", a->action, "project", a->project, "issue", a->issue, "short_id", a->short_id,
			      "level", a->level, "environment", a->environment, "alert_rule", a->alert_rule, "title",
			      a->title, "culprit", a->culprit, "web_url", a->web_url, "tags", tags ? tags : json_null(),
			      "teams", teams ? teams : json_null(), "enriched", enriched);
	if (o && a->project_id)
		json_object_set_new(o, "project_id", json_integer((json_int_t)a->project_id));
	if (o && a->count >= 0)
		json_object_set_new(o, "count", json_integer((json_int_t)a->count));
	if (o && a->user_count >= 0)
		json_object_set_new(o, "user_count", json_integer((json_int_t)a->user_count));
	return o;
}

static const char *notification_kind(const char *resource, const char *action)
{
	if (!strcmp(action, "resolved"))
		return "resolved";
	if (!strcmp(resource, "issue") && strcmp(action, "created"))
		return "update"; /* assigned, ignored, archived, unresolved: the head message changes */
	return "alert";
}

/*
 * A change a person made in Sentry's own UI (policy_triage_from_sentry),
 * recorded in slack_triage for the heads to show. Written in the routing
 * transaction, before the "update" notification it goes with is delivered.
 */
static int record_sentry_triage(PGconn *c, const char *action, const char *issue, const json_t *body, struct err *e)
{
	const json_t *actor = json_object_get(body, "actor");
	const json_t *is = json_object_get(json_object_get(body, "data"), "issue");
	const json_t *sd = json_object_get(is, "statusDetails");
	const json_t *mins = json_object_get(sd, "ignoreDuration");
	struct triage_from_sentry t;
	if (!policy_triage_from_sentry(action, json_string_value(json_object_get(actor, "type")),
				       json_string_value(json_object_get(is, "substatus")),
				       json_is_integer(mins) ? (int64_t)json_integer_value(mins) : 0, &t))
		return 0;
	const char *who = json_string_value(json_object_get(actor, "name"));
	if (t.assign) {
		const json_t *to = json_object_get(is, "assignedTo");
		const char *name = json_string_value(json_object_get(to, "name"));
		if (!name)
			name = json_string_value(json_object_get(to, "email"));
		char sa[96] = "";
		const char *type = json_string_value(json_object_get(to, "type"));
		const json_t *tid = json_object_get(to, "id");
		if (type && json_is_string(tid))
			snprintf(sa, sizeof sa, "%.20s:%.60s", type, json_string_value(tid));
		const char *p[] = {issue, name, *sa ? sa : NULL};
		return db_run(c,
			      "INSERT INTO slack_triage (issue, assignee_name, sentry_actor, assigned_at) VALUES ($1, $2, $3, now())"
			      " ON CONFLICT (issue) DO UPDATE SET assignee = NULL, assignee_email = NULL,"
			      " assignee_name = excluded.assignee_name, sentry_actor = excluded.sentry_actor, assigned_at = now(),"
			      " updated_at = now()",
			      3, p, e);
	}
	const char *p[] = {issue, t.status, t.status[0] == 'i' ? t.detail : NULL, t.substatus, who ? who : "someone"};
	return db_run(c,
		      "INSERT INTO slack_triage (issue, status, status_detail, substatus, status_by_name, status_at)"
		      " VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (issue) DO UPDATE SET status = excluded.status,"
		      " status_detail = excluded.status_detail, substatus = excluded.substatus, status_by = NULL,"
		      " status_by_name = excluded.status_by_name, status_at = now(), updated_at = now()",
		      5, p, e);
}

static enum job_result finish_item(PGconn *c, int64_t id, const char *status, const char *why, struct err *e)
{
	return inbox_mark(c, id, status, why, e) ? JOB_RETRY : JOB_DONE;
}

static enum job_result job_inbox_sentry(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	struct alerts *st = arg;
	json_t *jp = json_loads(job->payload, 0, NULL);
	int64_t id = (int64_t)json_integer_value(json_object_get(jp, "inbox_id"));
	json_decref(jp);
	if (id <= 0)
		return err_set(e, -1, "inbox.sentry: payload without inbox_id"), JOB_FAIL;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return JOB_RETRY;
	enum job_result res = JOB_RETRY;
	PGresult *r = NULL;
	json_t *body = NULL;
	struct sentry_alert a;
	memset(&a, 0, sizeof a);
	struct silence_set sil = {0};
	struct policy_route_result routed = {0};
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *p1[] = {ids};
	r = db_exec(c, "SELECT kind, payload::text, external_id, status FROM inbox WHERE id = $1::bigint AND source = 'sentry'",
		    1, p1, e);
	if (!r)
		goto out;
	if (PQntuples(r) == 0 || !strcmp(PQgetvalue(r, 0, 3), "done") || !strcmp(PQgetvalue(r, 0, 3), "skipped")) {
		res = JOB_DONE; /* gone (retention) or already processed */
		goto out;
	}
	char *kind = strdup(PQgetvalue(r, 0, 0)), *ext = strdup(PQgetvalue(r, 0, 2));
	body = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
	PQclear(r);
	r = NULL;
	if (!kind || !ext) {
		free(kind);
		free(ext);
		err_set(e, -1, "out of memory");
		goto out;
	}
	char *dot = strchr(kind, '.');
	const char *resource = kind, *action = dot ? dot + 1 : "";
	if (dot)
		*dot = '\0';
	if (!sentry_webhook_handled(resource, action)) {
		metrics_add(ctx->metrics, "sb_sentry_webhooks_processed_total", 1, "outcome", "skipped", NULL);
		res = finish_item(c, id, "skipped", "resource or action not handled", e);
	} else if (!strcmp(resource, "installation")) {
		struct audit_entry ae = {.actor = "sentry", .action = "sentry.installation", .target = action,
					 .reason = "integration-platform webhook", .request_id = ext};
		res = audit_write(c, &ae, e) ? JOB_RETRY : finish_item(c, id, "done", NULL, e);
	} else if (!st->pr) {
		metrics_add(ctx->metrics, "sb_sentry_webhooks_processed_total", 1, "outcome", "skipped", NULL);
		res = finish_item(c, id, "skipped", "routing is off (no routing.route in the config)", e);
	} else if (sentry_alert_from_webhook(resource, body, &a, e)) {
		log_warn(ctx->log, "alerts", ctx->request_id, "webhook payload not understood", "error", e->msg, NULL);
		metrics_add(ctx->metrics, "sb_sentry_webhooks_processed_total", 1, "outcome", "invalid", NULL);
		res = finish_item(c, id, "dead", e->msg, e);
	} else {
		int en = enrich(ctx, st, c, &a, e);
		if (en < 0 && job->attempt < ENRICH_ATTEMPTS) {
			free(kind);
			free(ext);
			goto out; /* Sentry or the database is down: try again later */
		}
		if (en < 0)
			log_warn(ctx->log, "alerts", ctx->request_id,
				 "project lookup failed; routing without the project's slug and teams", "error", e->msg,
				 NULL);
		err_clear(e);
		struct policy_alert pa;
		sentry_alert_view(&a, &pa);
		char perr[256];
		if (silences_load(c, &sil, e) ||
		    policy_route(st->pr, &pa, clock_now_ms(), tz_offset, &routed, perr, sizeof perr)) {
			if (!e->msg[0])
				err_set(e, -1, "routing: %s", perr);
			free(kind);
			free(ext);
			goto out;
		}
		const char *nkind = notification_kind(resource, action);
		const char *silence = silenced_by(&sil, &pa);
		json_t *aj = alert_json(&a, en > 0);
		char *ajs = aj ? json_dumps(aj, JSON_COMPACT) : NULL;
		json_decref(aj);
		int rc = ajs ? db_begin(c, e) : -1;
		for (size_t i = 0; !rc && i < routed.n; i++) {
			const struct policy_route_match *m = &routed.v[i];
			const struct config_receiver *rcv = m->receiver;
			const char *status = "pending", *reason = NULL;
			char why[160];
			if (silence) {
				status = "silenced";
				snprintf(why, sizeof why, "silence %s", silence);
				reason = why;
			} else if (m->muted_by) {
				status = "muted";
				snprintf(why, sizeof why, "time interval %s", m->muted_by);
				reason = why;
			} else if (!strcmp(nkind, "resolved") && rcv && !rcv->send_resolved) {
				status = "suppressed";
				reason = "receiver has send_resolved: false";
			}
			struct buf key;
			buf_init(&key, 0);
			buf_printf(&key, "sentry:%s:%s", ext, m->path);
			const char *p[] = {buf_str(&key), ids, nkind,  m->route->receiver,
					   rcv ? (*rcv->channel ? rcv->channel : rcv->email) : "",
					   m->path, m->trail, m->group_key, a.issue, status, reason, ajs};
			rc = db_run(c,
				    "INSERT INTO slack_outbox (idem_key, inbox_id, kind, receiver, target, route_path,"
				    " route_trail, group_key, issue, status, reason, alert)"
				    " VALUES ($1, $2::bigint, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), $10, $11, $12::jsonb)"
				    " ON CONFLICT (idem_key) DO NOTHING",
				    12, p, e);
			buf_reset(&key);
			/* Delivery waits group_wait for the first message of a group (the
			 * job then finds every alert that arrived meanwhile). */
			if (!rc && !strcmp(status, "pending") && *ctx->cfg->slack.api_url)
				rc = delivery_enqueue(c, m->group_key, strcmp(nkind, "alert") ? 0 : m->route->group_wait_ms,
						      e);
			if (!rc)
				metrics_add(ctx->metrics, "sb_alert_notifications_total", 1, "receiver", m->route->receiver,
					    "status", status, NULL);
		}
		if (!rc && !strcmp(resource, "issue") && !strcmp(action, "resolved") && *a.issue) {
			/* "Until resolved" silences end with the issue. */
			const char *p[] = {a.issue};
			rc = db_run(c,
				    "UPDATE slack_silences SET expired_at = now() WHERE issue = $1 AND ends_at IS NULL"
				    " AND expired_at IS NULL",
				    1, p, e);
		}
		if (!rc && !strcmp(resource, "issue") && !strcmp(action, "unresolved") && *a.issue) {
			/* The issue is open again: what was done from Slack no longer
			 * shows on its messages (bridge/slack_actions.c). */
			const char *p[] = {a.issue};
			rc = db_run(c,
				    "UPDATE slack_triage SET status = NULL, status_detail = NULL, substatus = NULL,"
				    " status_by = NULL, status_by_name = NULL, status_at = NULL, updated_at = now()"
				    " WHERE issue = $1",
				    1, p, e);
		}
		if (!rc && !strcmp(resource, "issue") && *a.issue)
			rc = record_sentry_triage(c, action, a.issue, body, e);
		if (!rc)
			rc = inbox_mark(c, id, "done", NULL, e);
		if (!rc)
			rc = db_commit(c, e);
		if (rc) {
			db_rollback(c);
			if (!ajs)
				err_set(e, -1, "out of memory");
		} else {
			res = JOB_DONE;
			char nr[16];
			snprintf(nr, sizeof nr, "%zu", routed.n);
			log_info(ctx->log, "alerts", ctx->request_id, "alert routed", "kind", kind, "action", action,
				 "project", a.project, "issue", a.issue, "#receivers", nr, "silence", silence, NULL);
			metrics_add(ctx->metrics, "sb_sentry_webhooks_processed_total", 1, "outcome", "routed", NULL);
		}
		free(ajs);
	}
	free(kind);
	free(ext);
out:
	PQclear(r);
	json_decref(body);
	sentry_alert_clear(&a);
	silences_free(&sil);
	policy_route_result_clear(&routed);
	db_release(ctx->db, c);
	return res;
}

int alerts_register(struct ctx *ctx, struct jobs *q, struct sched *s)
{
	(void)s;
	static struct alerts st; /* one per process, set once at start */
	pthread_mutex_init(&st.mu, NULL);
	char err[256] = "";
	st.pr = policy_routing_new(&ctx->cfg->routing, err, sizeof err);
	if (!st.pr && *err) {
		log_error(ctx->log, "alerts", NULL, "cannot compile the route tree", "error", err, NULL);
		return -1;
	}
	metrics_describe(ctx->metrics, "sb_sentry_webhooks_total", METRIC_COUNTER,
			 "Sentry webhooks received, by resource and outcome (stored, duplicate, refused).");
	metrics_describe(ctx->metrics, "sb_sentry_webhooks_processed_total", METRIC_COUNTER,
			 "Stored Sentry webhooks processed, by outcome (routed, skipped, invalid).");
	metrics_describe(ctx->metrics, "sb_alert_notifications_total", METRIC_COUNTER,
			 "Notifications written to the Slack outbox, by receiver and status.");
	metrics_describe(ctx->metrics, "sb_sentry_project_refreshes_total", METRIC_COUNTER,
			 "Refreshes of the Sentry project mirror, by outcome.");
	if (delivery_register(ctx, q) || slack_actions_register(ctx, q))
		return -1;
	if (jobs_register(q, "inbox.sentry", job_inbox_sentry, &st))
		return -1;
	/* Routing is database work only: more of it at once than the cores
	 * starve the webhook intake (docs/slack.md, "Throughput"). */
	return jobs_limit(q, "inbox.sentry", ctx->cfg->routing.workers) || jobs_batch(q, "inbox.sentry", 16) ? -1 : 0;
}
