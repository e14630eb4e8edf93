/*
 * delivery.c: the "slack.deliver" job; see delivery.h and docs/slack.md.
 *
 * One group at a time: a session advisory lock on the group key serialises
 * deliveries of a group across threads and replicas (a replica that dies
 * loses its session and with it the lock).
 *
 * Exactly-once posting: before a post, the rows it covers are marked
 * `sending` and the group records the post's key (carried in the message's
 * metadata) in inflight_key, committed. After the post the ts is recorded
 * and inflight_key cleared in one transaction. If the process dies in
 * between, the next delivery of the group finds inflight_key set, looks the
 * key up in the channel history (or the thread), and records the message it
 * finds instead of posting again; only when Slack shows no such message is
 * it posted again.
 */
#include "delivery.h"

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "integrations/slack/slack_blocks.h"
#include "integrations/slack/slack_client.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "policies/policy_routing.h"
#include "slack_directory.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELIVERY_MAX_ATTEMPTS 8
#define DELIVERY_BACKOFF_BASE_MS 1000
#define DELIVERY_BACKOFF_MAX_MS 300000

struct delivery {
	struct slack_client *slack;
};

struct row {
	long long id;
	char *kind, *receiver, *target, *route_path, *status, *alert_text;
	int attempts;
};

struct rows {
	struct row *v;
	size_t n;
};

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].kind);
		free(r->v[i].receiver);
		free(r->v[i].target);
		free(r->v[i].route_path);
		free(r->v[i].status);
		free(r->v[i].alert_text);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

struct group {
	bool exists;
	char *channel, *head_ts, *inflight_key, *inflight_thread, *inflight_oldest;
	long alerts;
	int64_t last_update_ms, last_post_ms; /* 0: never */
	bool resolved;
};

static void group_free(struct group *g)
{
	free(g->channel);
	free(g->head_ts);
	free(g->inflight_key);
	free(g->inflight_thread);
	free(g->inflight_oldest);
	memset(g, 0, sizeof *g);
}

static char *col(PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? NULL : strdup(PQgetvalue(r, row, c));
}

int delivery_enqueue(PGconn *conn, const char *group_key, int64_t delay_ms, struct err *e)
{
	json_t *p = json_pack("{s:s}", "group_key", group_key);
	char *ps = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (!ps)
		return err_set(e, -1, "out of memory");
	struct job_spec spec = {.kind = "slack.deliver", .payload = ps, .delay_ms = delay_ms > 0 ? delay_ms : 0};
	int64_t id;
	int rc = jobs_enqueue(conn, &spec, &id, e);
	free(ps);
	return rc;
}

static int load_group(PGconn *c, const char *key, struct group *g, struct err *e)
{
	memset(g, 0, sizeof *g);
	const char *p[] = {key};
	PGresult *r = db_exec(c,
			      "SELECT slack_channel, head_ts, alerts,"
			      " coalesce((extract(epoch FROM last_update_at) * 1000)::bigint, 0),"
			      " coalesce((extract(epoch FROM last_post_at) * 1000)::bigint, 0),"
			      " resolved_at IS NOT NULL, inflight_key, inflight_thread, inflight_oldest"
			      " FROM slack_groups WHERE group_key = $1",
			      1, p, e);
	if (!r)
		return -1;
	if (PQntuples(r)) {
		g->exists = true;
		g->channel = col(r, 0, 0);
		g->head_ts = col(r, 0, 1);
		g->alerts = atol(PQgetvalue(r, 0, 2));
		g->last_update_ms = atoll(PQgetvalue(r, 0, 3));
		g->last_post_ms = atoll(PQgetvalue(r, 0, 4));
		g->resolved = PQgetvalue(r, 0, 5)[0] == 't';
		g->inflight_key = col(r, 0, 6);
		g->inflight_thread = col(r, 0, 7);
		g->inflight_oldest = col(r, 0, 8);
	}
	PQclear(r);
	return 0;
}

static int load_rows(PGconn *c, const char *key, struct rows *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	const char *p[] = {key};
	PGresult *r = db_exec(c,
			      "SELECT id, kind, receiver, target, route_path, status, alert::text, attempts"
			      " FROM slack_outbox WHERE group_key = $1"
			      " AND (status = 'sending' OR (status = 'pending' AND next_attempt_at <= now()))"
			      " ORDER BY id LIMIT 5000",
			      1, p, e);
	if (!r)
		return -1;
	size_t n = (size_t)PQntuples(r);
	out->v = calloc(n ? n : 1, sizeof *out->v);
	if (!out->v) {
		PQclear(r);
		return err_set(e, -1, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct row *w = &out->v[i];
		w->id = atoll(PQgetvalue(r, (int)i, 0));
		w->kind = col(r, (int)i, 1);
		w->receiver = col(r, (int)i, 2);
		w->target = col(r, (int)i, 3);
		w->route_path = col(r, (int)i, 4);
		w->status = col(r, (int)i, 5);
		w->alert_text = col(r, (int)i, 6);
		w->attempts = atoi(PQgetvalue(r, (int)i, 7));
		out->n++;
	}
	PQclear(r);
	return 0;
}

/* "{1,2,3}" of the row ids whose kind is in kinds (NULL: all). */
static char *id_array(const struct rows *r, const char *kinds)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "{");
	bool first = true;
	for (size_t i = 0; i < r->n; i++) {
		if (kinds && !strstr(kinds, r->v[i].kind))
			continue;
		buf_printf(&b, "%s%lld", first ? "" : ",", r->v[i].id);
		first = false;
	}
	buf_puts(&b, "}");
	return buf_take(&b);
}

static int set_rows(PGconn *c, const char *ids, const char *status, const char *reason, const char *channel,
		    const char *ts, struct err *e)
{
	const char *p[] = {ids, status, reason, channel, ts};
	return db_run(c,
		      "UPDATE slack_outbox SET status = $2, reason = coalesce($3, reason), slack_channel = coalesce($4, "
		      "slack_channel), slack_ts = coalesce($5, slack_ts),"
		      " sent_at = CASE WHEN $2 IN ('sent', 'grouped') THEN now() ELSE sent_at END,"
		      " attempts = attempts + CASE WHEN $2 = 'sending' THEN 1 ELSE 0 END,"
		      " lease_until = NULL, last_error = CASE WHEN $2 = 'dead' THEN $3 ELSE last_error END"
		      " WHERE id = ANY($1::bigint[])",
		      5, p, e);
}

static int set_inflight_in(PGconn *c, const char *key, const char *ikey, const char *thread, const char *channel,
			   struct err *e)
{
	char oldest[32];
	snprintf(oldest, sizeof oldest, "%lld.000000", (long long)(clock_now_ms() / 1000 - 2));
	const char *p[] = {key, ikey, thread, ikey ? oldest : NULL, channel};
	return db_run(c,
		      "UPDATE slack_groups SET inflight_key = $2, inflight_thread = $3, inflight_oldest = $4,"
		      " slack_channel = coalesce($5, slack_channel) WHERE group_key = $1",
		      5, p, e);
}

static int set_inflight(PGconn *c, const char *key, const char *ikey, const char *thread, struct err *e)
{
	return set_inflight_in(c, key, ikey, thread, NULL, e);
}

/* A Slack conversation ID (C..., G..., D...), which conversations.history
 * takes; a channel name is not one. */
static bool conversation_id(const char *s)
{
	if (!s || (s[0] != 'C' && s[0] != 'G' && s[0] != 'D') || strlen(s) < 2)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

/*
 * Where a receiver's messages go, from the cached directory
 * (bridge/slack_directory.c) so that sending never lists the workspace:
 *  - a channel ID is used as is (dead letter is_archived when the cache
 *    knows it archived);
 *  - a channel name ("#alerts" or "alerts") becomes its ID; a name the
 *    loaded directory does not know is channel_not_found, an archived one
 *    is_archived, both without calling Slack; before the directory ever
 *    loaded the name is posted as given (Slack resolves it);
 *  - an e-mail (DM) is looked up in the cached users, and with
 *    users.lookupByEmail only on a miss.
 * *ch is malloc'ed. 0, 1 (permanent: *why says why), -1 (retry later).
 */
static int resolve_target(struct delivery *d, PGconn *c, const struct config_receiver *rcv, const char *target,
			  char **ch, char **why, struct err *e)
{
	*ch = NULL;
	if (rcv && *rcv->email) {
		if (slack_directory_user_by_email(c, rcv->email, ch, e))
			return -1;
		if (*ch)
			return 0;
		struct slack_result res;
		int rc = slack_lookup_email(d->slack, rcv->email, ch, &res, e);
		if (!rc && !*ch) {
			*why = strdup(res.error ? res.error : "users_not_found");
			rc = res.permanent ? 1 : -1;
			if (rc < 0)
				err_set(e, -1, "slack: users.lookupByEmail: %s", *why);
		}
		slack_result_clear(&res);
		return rc;
	}
	enum slack_dir_lookup lk;
	if (slack_directory_channel(c, target, &lk, ch, e))
		return -1;
	switch (lk) {
	case SLACK_DIR_FOUND:
		return 0;
	case SLACK_DIR_ARCHIVED:
		free(*ch);
		*ch = NULL;
		*why = strdup("is_archived");
		return 1;
	case SLACK_DIR_MISSING:
		*why = strdup("channel_not_found");
		return 1;
	case SLACK_DIR_UNLOADED:
		break;
	}
	const char *t = target[0] == '#' ? target + 1 : target;
	*ch = strdup(t);
	return *ch ? 0 : -1;
}

/*
 * After a permanent failure (error) of a head post: re-target the rows to
 * the route's fallback receiver, if it has one other than this receiver.
 * 1 when it did (*res set), 0 when no fallback applies.
 */
static int use_fallback(struct ctx *ctx, PGconn *c, const char *key, const struct config_route *route,
			const struct config_receiver *rcv, const char *ids, const char *error, enum job_result *res,
			struct err *e)
{
	const struct config *cfg = ctx->cfg;
	if (!route || !*route->fallback_receiver || !rcv || !strcmp(route->fallback_receiver, rcv->name))
		return 0;
	const struct config_receiver *fb = policy_receiver(&cfg->routing, route->fallback_receiver);
	const char *p[] = {ids, fb ? (*fb->channel ? fb->channel : fb->email) : "", route->fallback_receiver, error};
	log_warn(ctx->log, "delivery", ctx->request_id, "posting failed; using the fallback receiver", "group", key,
		 "error", error, "fallback", route->fallback_receiver, NULL);
	metrics_add(ctx->metrics, "sb_slack_dead_letters_total", 1, "reason", error, NULL);
	*res = db_run(c,
		      "UPDATE slack_outbox SET status = 'pending', target = $2, receiver = $3,"
		      " reason = 'fallback after ' || $4 WHERE id = ANY($1::bigint[])",
		      4, p, e) ||
			   set_inflight(c, key, NULL, NULL, e) || delivery_enqueue(c, key, 0, e)
		   ? JOB_RETRY
		   : JOB_DONE;
	return 1;
}

static int64_t backoff_ms(int attempts)
{
	int64_t b = DELIVERY_BACKOFF_BASE_MS;
	for (int i = 1; i < attempts && b < DELIVERY_BACKOFF_MAX_MS; i++)
		b *= 2;
	return b > DELIVERY_BACKOFF_MAX_MS ? DELIVERY_BACKOFF_MAX_MS : b;
}

/* A failed post or update: dead letter (permanent, or out of attempts) or
 * pending again later. */
static int fail_rows(struct ctx *ctx, PGconn *c, const char *key, const struct rows *rows, const char *ids,
		     const struct slack_result *res, struct err *e)
{
	int attempts = 0;
	for (size_t i = 0; i < rows->n; i++)
		if (rows->v[i].attempts + 1 > attempts)
			attempts = rows->v[i].attempts + 1;
	const char *why = res->error ? res->error : "unknown error";
	if (res->permanent || attempts >= DELIVERY_MAX_ATTEMPTS) {
		metrics_add(ctx->metrics, "sb_slack_dead_letters_total", 1, "reason", res->permanent ? why : "attempts",
			    NULL);
		log_warn(ctx->log, "delivery", ctx->request_id, "notification dead-lettered", "group", key, "error", why,
			 NULL);
		return set_rows(c, ids, "dead", why, NULL, NULL, e);
	}
	int64_t wait = res->retry_after_ms > 0 ? res->retry_after_ms : backoff_ms(attempts);
	char w[32];
	snprintf(w, sizeof w, "%lld", (long long)wait);
	const char *p[] = {ids, why, w};
	metrics_add(ctx->metrics, "sb_slack_delivery_retries_total", 1, "reason",
		    !strcmp(why, "ratelimited") ? "ratelimited" : "error", NULL);
	if (db_run(c,
		   "UPDATE slack_outbox SET status = 'pending', last_error = $2,"
		   " next_attempt_at = now() + $3::bigint * interval '1 millisecond' WHERE id = ANY($1::bigint[])",
		   3, p, e))
		return -1;
	return delivery_enqueue(c, key, wait, e);
}

/* Resolve an interrupted post (see the file comment). 0 done, -1 retry later. */
static int recover(struct ctx *ctx, struct delivery *d, PGconn *c, const char *key, struct group *g,
		   const struct rows *rows, struct err *e)
{
	char *ids = id_array(rows, NULL);
	char *found = NULL;
	int rc = 0;
	if (g->channel && slack_find_by_key(d->slack, g->channel, g->inflight_thread, g->inflight_oldest,
					    g->inflight_key, &found, e)) {
		free(ids);
		return -1;
	}
	/* rows marked sending belong to the interrupted post */
	struct buf sb;
	buf_init(&sb, 0);
	buf_puts(&sb, "{");
	bool first = true;
	for (size_t i = 0; i < rows->n; i++)
		if (!strcmp(rows->v[i].status, "sending")) {
			buf_printf(&sb, "%s%lld", first ? "" : ",", rows->v[i].id);
			first = false;
		}
	buf_puts(&sb, "}");
	if (found) {
		log_info(ctx->log, "delivery", ctx->request_id, "interrupted post found in Slack; not posting again",
			 "group", key, "ts", found, NULL);
		metrics_add(ctx->metrics, "sb_slack_recovered_posts_total", 1, "outcome", "found", NULL);
		rc = set_rows(c, buf_str(&sb), g->inflight_thread ? "grouped" : "sent", NULL, g->channel, found, e);
		if (!rc && !g->inflight_thread) {
			const char *p[] = {key, found};
			rc = db_run(c, "UPDATE slack_groups SET head_ts = $2, last_post_at = now(), last_update_at = now()"
				       " WHERE group_key = $1",
				    2, p, e);
			free(g->head_ts);
			g->head_ts = strdup(found);
		}
	} else {
		metrics_add(ctx->metrics, "sb_slack_recovered_posts_total", 1, "outcome", "not_found", NULL);
		rc = set_rows(c, buf_str(&sb), "pending", NULL, NULL, NULL, e);
	}
	if (!rc)
		rc = set_inflight(c, key, NULL, NULL, e);
	free(g->inflight_key);
	g->inflight_key = NULL;
	buf_reset(&sb);
	free(found);
	free(ids);
	return rc;
}

/* What was done to the issue from Slack (slack_triage, bridge/slack_actions.c). */
struct triage_view {
	char *status, *detail, *by, *assignee;
	char *by_name, *assignee_name; /* done in Sentry's UI (migration 015) */
	int64_t status_at_ms;
};

static void triage_view_free(struct triage_view *t)
{
	free(t->status);
	free(t->detail);
	free(t->by);
	free(t->assignee);
	free(t->by_name);
	free(t->assignee_name);
	memset(t, 0, sizeof *t);
}

static int load_triage(PGconn *c, const json_t *alert, struct triage_view *t, struct err *e)
{
	memset(t, 0, sizeof *t);
	const char *issue = json_string_value(json_object_get(alert, "issue"));
	if (!issue || !*issue)
		return 0;
	const char *p[] = {issue};
	PGresult *r = db_exec(c,
			      "SELECT status, status_detail, status_by, assignee,"
			      " coalesce((extract(epoch FROM status_at) * 1000)::bigint, 0), status_by_name, assignee_name"
			      " FROM slack_triage WHERE issue = $1",
			      1, p, e);
	if (!r)
		return -1;
	if (PQntuples(r)) {
		t->status = col(r, 0, 0);
		t->detail = col(r, 0, 1);
		t->by = col(r, 0, 2);
		t->assignee = col(r, 0, 3);
		t->status_at_ms = atoll(PQgetvalue(r, 0, 4));
		t->by_name = col(r, 0, 5);
		t->assignee_name = col(r, 0, 6);
	}
	PQclear(r);
	return 0;
}

/*
 * Show the triage state on a head: the assignee always; a status only when
 * it was set after the head was posted (a head posted again for new alerts
 * is about an issue that came back). A resolution from Sentry names the
 * person when the bridge resolved it.
 */
static void apply_triage(struct slack_head_opts *ho, const struct triage_view *t, int64_t head_posted_ms,
			 bool resolved)
{
	ho->assignee = t->assignee;
	ho->assignee_name = t->assignee ? NULL : t->assignee_name;
	bool current = t->status && head_posted_ms && t->status_at_ms >= head_posted_ms - 1000;
	if (current && !strcmp(t->status, "resolved") && t->by) {
		ho->resolved_by_user = t->by;
		ho->resolved_by = NULL;
	} else if (current && resolved && !strcmp(t->status, "resolved") && t->by_name) {
		ho->resolved_by_name = t->by_name;
		ho->resolved_by = NULL;
	} else if (current && !resolved && !strcmp(t->status, "ignored")) {
		ho->archived = t->detail ? t->detail : "";
		ho->archived_by = t->by;
		ho->archived_by_name = t->by ? NULL : t->by_name;
	}
}

static json_t *metadata(const char *ikey)
{
	return json_pack("{s:s,s:{s:s}}", "event_type", "sentry_bridge_notification", "event_payload", "key", ikey);
}

static enum job_result deliver_group(struct ctx *ctx, struct delivery *d, PGconn *c, const char *key, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	struct group g;
	struct rows rows = {0};
	enum job_result res = JOB_RETRY;
	json_t *alert = NULL, *blocks = NULL;
	char *text = NULL, *ids = NULL, *ch = NULL, *why = NULL, *dm = NULL;
	struct slack_result sr = {.retry_after_ms = -1};
	struct triage_view tv = {0};
	if (load_group(c, key, &g, e) || load_rows(c, key, &rows, e))
		goto out;
	if (!rows.n) {
		res = JOB_DONE;
		goto out;
	}
	if (g.inflight_key) {
		if (recover(ctx, d, c, key, &g, &rows, e))
			goto out;
		rows_free(&rows);
		if (load_rows(c, key, &rows, e))
			goto out;
	}
	if (!rows.n) {
		res = JOB_DONE;
		goto out;
	}
	const struct row *last = &rows.v[rows.n - 1];
	const struct config_route *route = policy_route_at(&cfg->routing, last->route_path);
	const struct config_receiver *rcv = policy_receiver(&cfg->routing, last->receiver);
	int64_t now = clock_now_ms();
	size_t n_alert = 0, n_resolved = 0;
	for (size_t i = 0; i < rows.n; i++) {
		n_alert += !strcmp(rows.v[i].kind, "alert");
		n_resolved += !strcmp(rows.v[i].kind, "resolved");
	}
	alert = json_loads(last->alert_text, 0, NULL);
	if (!alert) {
		err_set(e, -1, "outbox row %lld: unreadable alert", last->id);
		goto out;
	}
	if (load_triage(c, alert, &tv, e))
		goto out;
	int64_t group_interval = route ? route->group_interval_ms : 300000;
	int64_t repeat_interval = route ? route->repeat_interval_ms : 4 * 3600000LL;
	bool need_head = !g.head_ts || (g.resolved && n_alert) ||
			 (n_alert && !n_resolved && g.last_post_ms && now - g.last_post_ms >= repeat_interval);
	if (!g.exists) {
		const char *p[] = {key, last->receiver};
		if (db_run(c, "INSERT INTO slack_groups (group_key, receiver) VALUES ($1, $2) ON CONFLICT DO NOTHING",
			   2, p, e))
			goto out;
	}
	if (need_head && !n_alert) {
		/* A resolution or an update of a group whose message was never posted. */
		ids = id_array(&rows, NULL);
		res = set_rows(c, ids, "suppressed", "no message to update", NULL, NULL, e) ? JOB_RETRY : JOB_DONE;
		goto out;
	}
	if (!need_head && n_alert && !n_resolved && g.last_update_ms && now - g.last_update_ms < group_interval) {
		/* At most one update per group_interval: come back then. */
		res = delivery_enqueue(c, key, g.last_update_ms + group_interval - now, e) ? JOB_RETRY : JOB_DONE;
		goto out;
	}
	int prc = resolve_target(d, c, rcv, g.channel && !need_head ? g.channel : last->target, &ch, &why, e);
	if (prc < 0)
		goto out;
	ids = id_array(&rows, NULL);
	if (prc > 0 && need_head && use_fallback(ctx, c, key, route, rcv, ids, why, &res, e))
		goto out;
	if (prc > 0) {
		sr.error = why;
		why = NULL;
		sr.permanent = true;
		res = fail_rows(ctx, c, key, &rows, ids, &sr, e) ? JOB_RETRY : JOB_DONE;
		goto out;
	}
	char ikey[48];
	snprintf(ikey, sizeof ikey, "ob:%lld", rows.v[0].id);
	if (need_head) {
		long count = (g.resolved || !g.head_ts) ? (long)n_alert : g.alerts + (long)n_alert;
		struct slack_head_opts ho = {.count = count,
					     .route = last->route_path,
					     .tags = rcv ? &rcv->tags : NULL,
					     .action_prefix = cfg->slack.action_id_prefix,
					     .assignee = tv.assignee};
		json_t *md = metadata(ikey);
		if (!(blocks = slack_blocks_head(alert, &ho, &text)) || !md) {
			json_decref(md);
			err_set(e, -1, "out of memory");
			goto out;
		}
		/* A channel ID is known after the first post. For a DM's first post
		 * the bot's IM channel is opened first (conversations.open), so
		 * that, like a channel ID, it is recorded before the post and a
		 * crash between the post and its record can be looked up in that
		 * channel's history (im:history) instead of posting again. */
		const char *to = g.channel && g.head_ts ? g.channel : ch;
		if (rcv && *rcv->email && !(g.channel && g.head_ts)) {
			int orc = slack_open_dm(d->slack, ch, &dm, &sr, e);
			if (orc || (!sr.ok && !sr.permanent)) {
				if (!orc)
					err_set(e, -1, "slack: conversations.open: %s", sr.error ? sr.error : "?");
				json_decref(md);
				goto out;
			}
			if (!sr.ok) {
				json_decref(md);
				res = fail_rows(ctx, c, key, &rows, ids, &sr, e) ? JOB_RETRY : JOB_DONE;
				goto out;
			}
			slack_result_clear(&sr);
			to = dm;
		}
		if (set_rows(c, ids, "sending", NULL, NULL, NULL, e) ||
		    set_inflight_in(c, key, ikey, NULL, conversation_id(to) ? to : NULL, e)) {
			json_decref(md);
			goto out;
		}
		int crc = slack_post(d->slack, to, text, blocks, NULL, md, &sr, e);
		json_decref(md);
		if (crc)
			goto out;
		if (!sr.ok) {
			if (sr.permanent && use_fallback(ctx, c, key, route, rcv, ids, sr.error, &res, e))
				goto out;
			res = fail_rows(ctx, c, key, &rows, ids, &sr, e) || set_inflight(c, key, NULL, NULL, e) ? JOB_RETRY
														 : JOB_DONE;
			goto out;
		}
		/* Record: the first alert row is the head, the others are grouped into it. */
		char first[32];
		snprintf(first, sizeof first, "{%lld}", rows.v[0].id);
		char cnt[16];
		snprintf(cnt, sizeof cnt, "%ld", count);
		const char *p[] = {key, sr.channel, sr.ts, cnt};
		int rc = db_begin(c, e);
		if (!rc)
			rc = set_rows(c, ids, "grouped", NULL, sr.channel, sr.ts, e);
		if (!rc)
			rc = set_rows(c, first, "sent", NULL, sr.channel, sr.ts, e);
		if (!rc)
			rc = db_run(c,
				    "UPDATE slack_groups SET slack_channel = $2, head_ts = $3, alerts = $4::int,"
				    " last_post_at = now(), last_update_at = now(), last_alert_at = now(), resolved_at = NULL,"
				    " inflight_key = NULL, inflight_thread = NULL, inflight_oldest = NULL WHERE group_key = $1",
				    4, p, e);
		if (!rc)
			rc = db_commit(c, e);
		if (rc) {
			db_rollback(c);
			goto out; /* the post is in flight in the group row: recovered next time */
		}
		metrics_add(ctx->metrics, "sb_slack_messages_total", 1, "op", "post", NULL);
		res = JOB_DONE;
		goto out;
	}
	/* The head exists: update it (count, or resolved), and reply in its thread. */
	long count = g.alerts + (long)n_alert;
	struct slack_head_opts ho = {.count = count,
				     .route = last->route_path,
				     .tags = rcv ? &rcv->tags : NULL,
				     .action_prefix = cfg->slack.action_id_prefix,
				     .resolved_by = n_resolved || g.resolved ? "Sentry" : NULL};
	apply_triage(&ho, &tv, g.last_post_ms, n_resolved || g.resolved);
	if (!(blocks = slack_blocks_head(alert, &ho, &text))) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	if (slack_update(d->slack, g.channel, g.head_ts, text, blocks, &sr, e))
		goto out;
	if (!sr.ok) {
		if (sr.error && !strcmp(sr.error, "message_not_found")) {
			/* The head was deleted: post a new one next time. */
			const char *p[] = {key};
			if (db_run(c, "UPDATE slack_groups SET head_ts = NULL WHERE group_key = $1", 1, p, e))
				goto out;
			res = delivery_enqueue(c, key, 0, e) ? JOB_RETRY : JOB_DONE;
			goto out;
		}
		res = fail_rows(ctx, c, key, &rows, ids, &sr, e) ? JOB_RETRY : JOB_DONE;
		goto out;
	}
	metrics_add(ctx->metrics, "sb_slack_messages_total", 1, "op", "update", NULL);
	slack_result_clear(&sr);
	char *reply = n_resolved ? slack_text_resolved(alert)
				 : n_alert ? slack_text_thread(alert, (long)n_alert, count) : NULL;
	if (reply) {
		json_t *md = metadata(ikey);
		if (set_rows(c, ids, "sending", NULL, NULL, NULL, e) || set_inflight(c, key, ikey, g.head_ts, e)) {
			json_decref(md);
			free(reply);
			goto out;
		}
		int crc = slack_post(d->slack, g.channel, reply, NULL, g.head_ts, md, &sr, e);
		json_decref(md);
		free(reply);
		if (crc)
			goto out;
		if (!sr.ok) {
			res = fail_rows(ctx, c, key, &rows, ids, &sr, e) || set_inflight(c, key, NULL, NULL, e) ? JOB_RETRY
														 : JOB_DONE;
			goto out;
		}
		metrics_add(ctx->metrics, "sb_slack_messages_total", 1, "op", "thread_reply", NULL);
	}
	char cnt[16];
	snprintf(cnt, sizeof cnt, "%ld", count);
	const char *p[] = {key, cnt, n_resolved ? "t" : "f", n_alert ? "t" : "f"};
	int rc = db_begin(c, e);
	if (!rc)
		rc = set_rows(c, ids, n_resolved ? "sent" : "grouped", NULL, g.channel, sr.ts ? sr.ts : g.head_ts, e);
	if (!rc)
		rc = db_run(c,
			    "UPDATE slack_groups SET alerts = $2::int, last_update_at = now(),"
			    " last_thread_at = CASE WHEN $3::bool OR $4::bool THEN now() ELSE last_thread_at END,"
			    " last_alert_at = CASE WHEN $4::bool THEN now() ELSE last_alert_at END,"
			    " resolved_at = CASE WHEN $3::bool THEN now() ELSE resolved_at END,"
			    " inflight_key = NULL, inflight_thread = NULL, inflight_oldest = NULL WHERE group_key = $1",
			    4, p, e);
	if (!rc)
		rc = db_commit(c, e);
	if (rc) {
		db_rollback(c);
		goto out;
	}
	res = JOB_DONE;
out:
	slack_result_clear(&sr);
	triage_view_free(&tv);
	group_free(&g);
	rows_free(&rows);
	json_decref(alert);
	json_decref(blocks);
	free(text);
	free(ids);
	free(ch);
	free(dm);
	free(why);
	return res;
}

static enum job_result job_deliver(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	struct delivery *d = arg;
	json_t *p = json_loads(job->payload, 0, NULL);
	const char *key = json_string_value(json_object_get(p, "group_key"));
	if (!key) {
		json_decref(p);
		return err_set(e, -1, "slack.deliver: payload without group_key"), JOB_FAIL;
	}
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c) {
		json_decref(p);
		return JOB_RETRY;
	}
	const char *lp[] = {key};
	enum job_result res = JOB_RETRY;
	if (!db_run(c, "SELECT pg_advisory_lock(hashtextextended('slack-group:' || $1, 0))", 1, lp, e)) {
		res = deliver_group(ctx, d, c, key, e);
		struct err ue;
		err_clear(&ue);
		db_run(c, "SELECT pg_advisory_unlock(hashtextextended('slack-group:' || $1, 0))", 1, lp, &ue);
	}
	db_release(ctx->db, c);
	json_decref(p);
	return res;
}

int delivery_register(struct ctx *ctx, struct jobs *q)
{
	if (!*ctx->cfg->slack.api_url)
		return 0;
	static struct delivery d; /* one per process, set once at start */
	struct err e;
	err_clear(&e);
	d.slack = slack_client_new(ctx->cfg, ctx->log, ctx->metrics, &e);
	if (!d.slack) {
		log_error(ctx->log, "delivery", NULL, "cannot create the Slack client", "error", e.msg, NULL);
		return -1;
	}
	metrics_describe(ctx->metrics, "sb_slack_messages_total", METRIC_COUNTER,
			 "Slack messages posted or updated, by op (post, update, thread_reply).");
	metrics_describe(ctx->metrics, "sb_slack_dead_letters_total", METRIC_COUNTER,
			 "Notifications that could not be posted for good, by reason.");
	metrics_describe(ctx->metrics, "sb_slack_delivery_retries_total", METRIC_COUNTER,
			 "Deliveries put back for later, by reason (ratelimited, error).");
	metrics_describe(ctx->metrics, "sb_slack_recovered_posts_total", METRIC_COUNTER,
			 "Posts interrupted by a crash, by outcome (found in Slack, not found and posted again).");
	return jobs_register(q, "slack.deliver", job_deliver, &d);
}
