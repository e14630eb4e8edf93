/*
 * slack_directory.c: the cached Slack channel and user directory; see
 * slack_directory.h and docs/slack.md ("Channel and user directory").
 *
 * The walk. conversations.list (the configured types, exclude_archived =
 * false, limit 1000) and users.list (limit 200) are read page by page with
 * GET, as Slack's SDKs do, through a Slack client of their own whose 429s
 * come back here: the walk counts them and sleeps Retry-After (Slack: "the
 * Retry-After header tells you how many seconds to wait"), then asks for
 * the same page again. Both methods are Tier 2 (20+ per minute): a large
 * workspace is walked at Slack's pace, about one 429 per minute of walk,
 * without touching the budget of chat.postMessage (limits are per method).
 *
 * Each page goes into a temporary staging table on the walk's connection;
 * at the end one transaction upserts the staged rows (only those that
 * changed), deletes the rows the complete walk did not see, and records the
 * state. A walk that fails half-way changes nothing in the cache.
 *
 * Rows changed by an event after the walk started (event_at) are left as
 * the event made them: the page that said otherwise was read earlier.
 */
#include "slack_directory.h"

#include "api.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "integrations/slack/slack_client.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIR_JOB "slack.directory.refresh"
#define DIR_LOCK "SELECT pg_try_advisory_lock(hashtextextended('sb-slack-directory', 0))"
#define DIR_UNLOCK "SELECT pg_advisory_unlock(hashtextextended('sb-slack-directory', 0))"
#define MAX_PAGES 100000         /* a cursor that never ends is a bug upstream */
#define MAX_CONSECUTIVE_429 60   /* about an hour of Retry-After: give up, keep the old copy */
#define WATCH_INTERVAL_MS 5000   /* how often each replica reads the state */
#define INDEX_CHECK_MS 1000      /* how often it looks for channel changes made elsewhere */

struct chan_snap; /* the channel index: see "the channel index" below */

struct dir {
	struct app *app;
	struct slack_client *slack;
	pthread_t watcher;
	int watcher_started;
	volatile int stop;
	pthread_mutex_t mu;
	json_t *ready;               /* the /readyz details (under mu) */
	long long checked_success;   /* channels' last success (epoch ms) the receiver check used */
	struct config_strlist warned; /* receivers already reported unresolved */
	/* The channel index. imu guards snap and the freshness fields; lmu
	 * makes one thread at a time load a new copy. */
	pthread_mutex_t imu, lmu;
	struct chan_snap *snap;
	_Atomic unsigned long local_changes; /* channel changes this process made */
	long long last_success_ms;     /* channels: 0 = never loaded */
	char *last_error;              /* channels: of the last walk, NULL when it succeeded */
};

static struct dir *D; /* set once at start */

/* ---- the walk ---- */

struct kind {
	const char *name;   /* slack_directory_state.kind */
	const char *method; /* Slack method */
	const char *array;  /* the listing's array in the answer */
	const char *limit;
	const char *stage;  /* CREATE TEMP TABLE */
	const char *insert; /* $1: the page's array (JSON text) */
	const char *merge;  /* $1: walk start */
	const char *remove; /* $1: walk start */
	const char *table;
};

static const struct kind K_CHANNELS = {
    .name = "channels",
    .method = "conversations.list",
    .array = "channels",
    .limit = "1000",
    .stage = "CREATE TEMP TABLE IF NOT EXISTS sb_stage_channels (id text, name text, is_private bool,"
	     " is_archived bool, is_member bool, num_members int)",
    .insert = "INSERT INTO sb_stage_channels SELECT c->>'id', coalesce(c->>'name', c->>'user', c->>'id'),"
	      " coalesce((c->>'is_private')::bool, (c->>'is_group')::bool, false),"
	      " coalesce((c->>'is_archived')::bool, false), coalesce((c->>'is_member')::bool, false),"
	      " (c->>'num_members')::int FROM json_array_elements($1::json) c WHERE c->>'id' IS NOT NULL",
    .merge = "INSERT INTO slack_channels AS t (id, name, is_private, is_archived, is_member, num_members)"
	     " SELECT DISTINCT ON (id) id, name, is_private, is_archived, is_member, num_members"
	     " FROM sb_stage_channels ORDER BY id"
	     " ON CONFLICT (id) DO UPDATE SET name = excluded.name, is_private = excluded.is_private,"
	     " is_archived = excluded.is_archived, is_member = excluded.is_member,"
	     " num_members = excluded.num_members, refreshed_at = now()"
	     " WHERE (t.event_at IS NULL OR t.event_at < $1::timestamptz)"
	     " AND (t.name, t.is_private, t.is_archived, t.is_member, t.num_members) IS DISTINCT FROM"
	     " (excluded.name, excluded.is_private, excluded.is_archived, excluded.is_member, excluded.num_members)",
    .remove = "DELETE FROM slack_channels t WHERE NOT EXISTS (SELECT 1 FROM sb_stage_channels s WHERE s.id = t.id)"
	      " AND (t.event_at IS NULL OR t.event_at < $1::timestamptz)",
    .table = "sb_stage_channels",
};

static const struct kind K_USERS = {
    .name = "users",
    .method = "users.list",
    .array = "members",
    .limit = "200",
    .stage = "CREATE TEMP TABLE IF NOT EXISTS sb_stage_users (id text, name text, real_name text, email text,"
	     " deleted bool, is_bot bool)",
    .insert = "INSERT INTO sb_stage_users SELECT u->>'id', coalesce(u->>'name', ''),"
	      " coalesce(u->>'real_name', u->'profile'->>'real_name', ''), nullif(u->'profile'->>'email', ''),"
	      " coalesce((u->>'deleted')::bool, false), coalesce((u->>'is_bot')::bool, false)"
	      " FROM json_array_elements($1::json) u WHERE u->>'id' IS NOT NULL",
    .merge = "INSERT INTO slack_users AS t (id, name, real_name, email, deleted, is_bot)"
	     " SELECT DISTINCT ON (id) id, name, real_name, email, deleted, is_bot FROM sb_stage_users ORDER BY id"
	     " ON CONFLICT (id) DO UPDATE SET name = excluded.name, real_name = excluded.real_name,"
	     " email = excluded.email, deleted = excluded.deleted, is_bot = excluded.is_bot, refreshed_at = now()"
	     " WHERE (t.event_at IS NULL OR t.event_at < $1::timestamptz)"
	     " AND (t.name, t.real_name, t.email, t.deleted, t.is_bot) IS DISTINCT FROM"
	     " (excluded.name, excluded.real_name, excluded.email, excluded.deleted, excluded.is_bot)",
    .remove = "DELETE FROM slack_users t WHERE NOT EXISTS (SELECT 1 FROM sb_stage_users s WHERE s.id = t.id)"
	      " AND (t.event_at IS NULL OR t.event_at < $1::timestamptz)",
    .table = "sb_stage_users",
};

struct walk_stats {
	long calls, limited, entries, removed, pages;
	int64_t ms;
};

static int stopping(const struct ctx *ctx)
{
	const struct app *a = ctx->app;
	return (a && a->stopping) || (D && D->stop);
}

static const volatile int *stop_flag(const struct ctx *ctx)
{
	const struct app *a = ctx->app;
	return a ? &a->stopping : NULL;
}

static char *types_param(const struct config *cfg)
{
	struct buf b;
	buf_init(&b, 0);
	const struct config_strlist *t = &cfg->slack.directory.channel_types;
	for (size_t i = 0; i < t->n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", t->v[i]);
	if (!t->n)
		buf_puts(&b, "public_channel,private_channel");
	return buf_take(&b);
}

/* One walk of a kind into the cache. 0, or -1 with e (the cache unchanged). */
static int walk(struct ctx *ctx, struct dir *d, PGconn *c, const struct kind *k, struct walk_stats *st,
		struct err *e)
{
	memset(st, 0, sizeof *st);
	int64_t t0 = clock_mono_ms();
	char *types = types_param(ctx->cfg), *cursor = NULL, *start = NULL;
	int rc = -1, consecutive_429 = 0;
	char drop[96];
	snprintf(drop, sizeof drop, "DROP TABLE IF EXISTS pg_temp.%s", k->table);
	const char *sp[] = {k->name, ((struct app *)ctx->app)->replica};
	PGresult *r = db_exec(c,
			      "UPDATE slack_directory_state SET last_attempt_at = now(), running_since = now(),"
			      " replica = $2 WHERE kind = $1 RETURNING now()::text",
			      2, sp, e);
	if (!r)
		goto out;
	start = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	if (!start) {
		err_set(e, -1, "slack_directory_state has no row for %s", k->name);
		goto out;
	}
	if (db_run(c, drop, 0, NULL, e) || db_run(c, k->stage, 0, NULL, e))
		goto out;
	for (;;) {
		if (stopping(ctx)) {
			err_set(e, -1, "interrupted by shutdown");
			goto out;
		}
		if (st->pages >= MAX_PAGES) {
			err_set(e, -1, "%s: more than %d pages; stopped", k->method, MAX_PAGES);
			goto out;
		}
		const char *params[12];
		size_t np = 0;
		if (k == &K_CHANNELS) {
			params[np++] = "types";
			params[np++] = types;
			params[np++] = "exclude_archived";
			params[np++] = "false";
		}
		params[np++] = "limit";
		params[np++] = k->limit;
		if (cursor) {
			params[np++] = "cursor";
			params[np++] = cursor;
		}
		params[np] = NULL;
		struct slack_result res;
		json_t *body = NULL;
		if (slack_call_get(d->slack, k->method, params, stop_flag(ctx), &res, &body, e))
			goto out;
		st->calls++;
		if (!res.ok && res.error && !strcmp(res.error, "ratelimited")) {
			st->limited++;
			int64_t wait = res.retry_after_ms > 0 ? res.retry_after_ms : 1000;
			metrics_add(ctx->metrics, "sb_slack_directory_rate_limited_total", 1, "kind", k->name, NULL);
			slack_result_clear(&res);
			json_decref(body);
			if (++consecutive_429 > MAX_CONSECUTIVE_429) {
				err_set(e, -1, "%s: still rate limited after %d waits", k->method, MAX_CONSECUTIVE_429);
				goto out;
			}
			char ws[24];
			snprintf(ws, sizeof ws, "%lld", (long long)wait);
			log_debug(ctx->log, "slack-directory", ctx->request_id, "rate limited: waiting Retry-After", "kind",
				  k->name, "#wait_ms", ws, NULL);
			clock_sleep_ms(wait + 50, stop_flag(ctx));
			continue;
		}
		consecutive_429 = 0;
		if (!res.ok) {
			err_set(e, -1, "%s: %s", k->method, res.error ? res.error : "failed");
			slack_result_clear(&res);
			json_decref(body);
			goto out;
		}
		slack_result_clear(&res);
		const json_t *arr = json_object_get(body, k->array);
		if (!json_is_array(arr)) {
			json_decref(body);
			err_set(e, -1, "%s: the answer has no \"%s\" list", k->method, k->array);
			goto out;
		}
		st->pages++;
		if (json_array_size(arr)) {
			char *text = json_dumps(arr, JSON_COMPACT);
			const char *ip[] = {text};
			int irc = text ? db_run(c, k->insert, 1, ip, e) : err_set(e, -1, "out of memory");
			free(text);
			if (irc) {
				json_decref(body);
				goto out;
			}
		}
		const char *next =
		    json_string_value(json_object_get(json_object_get(body, "response_metadata"), "next_cursor"));
		free(cursor);
		cursor = next && *next ? strdup(next) : NULL;
		json_decref(body);
		if (!cursor)
			break;
	}
	/* The walk is complete: replace the cache of this kind in one transaction. */
	const char *mp[] = {start};
	if (db_begin(c, e))
		goto out;
	if (db_run(c, k->merge, 1, mp, e))
		goto rollback;
	r = db_exec(c, k->remove, 1, mp, e);
	if (!r)
		goto rollback;
	st->removed = atol(PQcmdTuples(r));
	PQclear(r);
	char cnt[160];
	snprintf(cnt, sizeof cnt, "SELECT count(*) FROM %s", k == &K_CHANNELS ? "slack_channels" : "slack_users");
	r = db_exec(c, cnt, 0, NULL, e);
	if (!r)
		goto rollback;
	st->entries = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	st->ms = clock_mono_ms() - t0;
	char n[4][24], ms[24];
	snprintf(n[0], sizeof n[0], "%ld", st->entries);
	snprintf(n[1], sizeof n[1], "%ld", st->removed);
	snprintf(n[2], sizeof n[2], "%ld", st->calls);
	snprintf(n[3], sizeof n[3], "%ld", st->limited);
	snprintf(ms, sizeof ms, "%lld", (long long)st->ms);
	const char *up[] = {k->name, n[0], n[1], n[2], n[3], ms};
	if (db_run(c,
		   "UPDATE slack_directory_state SET last_success_at = now(), last_error = NULL, entries = $2::int,"
		   " removed = $3::int, calls = $4::int, rate_limited = $5::int, duration_ms = $6::bigint,"
		   " running_since = NULL WHERE kind = $1",
		   6, up, e) ||
	    db_commit(c, e))
		goto rollback;
	rc = 0;
	if (k == &K_CHANNELS)
		atomic_fetch_add(&d->local_changes, 1);
	/* Fresh statistics for the search plans after a bulk change (autovacuum
	 * would get there later); cheap next to the walk. */
	if (st->removed || st->entries) {
		char an[64];
		struct err ae;
		err_clear(&ae);
		snprintf(an, sizeof an, "ANALYZE %s", k == &K_CHANNELS ? "slack_channels" : "slack_users");
		db_run(c, an, 0, NULL, &ae);
	}
	goto out;
rollback:
	db_rollback(c);
out:
	if (rc) {
		st->ms = clock_mono_ms() - t0;
		char fn[2][24], fms[24];
		snprintf(fn[0], sizeof fn[0], "%ld", st->calls);
		snprintf(fn[1], sizeof fn[1], "%ld", st->limited);
		snprintf(fms, sizeof fms, "%lld", (long long)st->ms);
		const char *fp[] = {k->name, e->msg, fn[0], fn[1], fms};
		struct err fe;
		err_clear(&fe);
		db_run(c,
		       "UPDATE slack_directory_state SET last_error = $2, calls = $3::int, rate_limited = $4::int,"
		       " duration_ms = $5::bigint, running_since = NULL WHERE kind = $1",
		       5, fp, &fe);
	}
	if (start) {
		struct err de;
		err_clear(&de);
		db_run(c, drop, 0, NULL, &de);
	}
	free(types);
	free(cursor);
	free(start);
	return rc;
}

static void record(struct ctx *ctx, const struct kind *k, int rc, const struct walk_stats *st, const struct err *e)
{
	char n[4][24], ms[24];
	snprintf(n[0], sizeof n[0], "%ld", st->entries);
	snprintf(n[1], sizeof n[1], "%ld", st->calls);
	snprintf(n[2], sizeof n[2], "%ld", st->limited);
	snprintf(n[3], sizeof n[3], "%ld", st->removed);
	snprintf(ms, sizeof ms, "%lld", (long long)st->ms);
	metrics_add(ctx->metrics, "sb_slack_directory_refresh_total", 1, "kind", k->name, "outcome", rc ? "failed" : "ok",
		    NULL);
	if (rc) {
		log_warn(ctx->log, "slack-directory", ctx->request_id, "directory refresh failed; the old copy is kept",
			 "kind", k->name, "error", e->msg, "#calls", n[1], "#rate_limited", n[2], "#duration_ms", ms, NULL);
		return;
	}
	metrics_set(ctx->metrics, "sb_slack_directory_entries", (double)st->entries, "kind", k->name, NULL);
	metrics_set(ctx->metrics, "sb_slack_directory_age_seconds", 0, "kind", k->name, NULL);
	log_info(ctx->log, "slack-directory", ctx->request_id, "directory refreshed", "kind", k->name, "#entries", n[0],
		 "#removed", n[3], "#calls", n[1], "#rate_limited", n[2], "#duration_ms", ms, NULL);
}

/* auth.test: the bot's user ID, for member_joined_channel events. */
static void learn_bot(struct ctx *ctx, struct dir *d, PGconn *c)
{
	json_t *args = json_object(), *body = NULL;
	struct slack_result res;
	struct err e;
	err_clear(&e);
	if (args && !slack_call(d->slack, "auth.test", args, &res, &body, &e) && res.ok) {
		const char *uid = json_string_value(json_object_get(body, "user_id"));
		const char *p[] = {uid};
		if (uid)
			db_run(c, "UPDATE slack_directory_state SET bot_user_id = $1", 1, p, &e);
	} else {
		log_warn(ctx->log, "slack-directory", ctx->request_id, "auth.test failed", "error",
			 res.error ? res.error : e.msg, NULL);
	}
	slack_result_clear(&res);
	json_decref(body);
	json_decref(args);
}

static enum job_result job_refresh(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)job;
	struct dir *d = arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return JOB_RETRY;
	PGresult *r = db_exec(c, DIR_LOCK, 0, NULL, e);
	if (!r) {
		db_release(ctx->db, c);
		return JOB_RETRY;
	}
	int locked = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!locked) {
		log_info(ctx->log, "slack-directory", ctx->request_id, "a directory refresh is already running elsewhere",
			 NULL);
		db_release(ctx->db, c);
		return JOB_DONE;
	}
	learn_bot(ctx, d, c);
	int failed = 0;
	const struct kind *kinds[] = {&K_CHANNELS, &K_USERS};
	struct buf msg;
	buf_init(&msg, 0);
	for (size_t i = 0; i < 2 && !stopping(ctx); i++) {
		struct walk_stats st;
		struct err we;
		err_clear(&we);
		int rc = walk(ctx, d, c, kinds[i], &st, &we);
		record(ctx, kinds[i], rc, &st, &we);
		if (rc) {
			failed = 1;
			buf_printf(&msg, "%s%s: %s", msg.len ? "; " : "", kinds[i]->name, we.msg);
		}
	}
	struct err ue;
	err_clear(&ue);
	db_run(c, DIR_UNLOCK, 0, NULL, &ue);
	db_release(ctx->db, c);
	if (stopping(ctx)) {
		buf_reset(&msg);
		err_set(e, -1, "interrupted by shutdown");
		return JOB_RETRY;
	}
	if (failed) {
		err_set(e, -1, "%s", buf_str(&msg));
		buf_reset(&msg);
		return JOB_RETRY;
	}
	buf_reset(&msg);
	return JOB_DONE;
}

int slack_directory_queue_refresh(PGconn *c, int *queued, struct err *e)
{
	struct job_spec js = {.kind = DIR_JOB, .dedupe_key = "refresh", .max_attempts = 3};
	int64_t id = 0;
	if (jobs_enqueue(c, &js, &id, e))
		return -1;
	if (queued)
		*queued = id != 0;
	return 0;
}

static int task_refresh(struct ctx *ctx, void *arg, struct err *e)
{
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	int rc = slack_directory_queue_refresh(c, NULL, e);
	db_release(ctx->db, c);
	return rc;
}

/* ---- lookups ---- */

int slack_directory_is_id(const char *ref)
{
	if (!ref || (ref[0] != 'C' && ref[0] != 'G' && ref[0] != 'D') || strlen(ref) < 3 || strlen(ref) > 32)
		return 0;
	for (const char *p = ref; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

int slack_directory_channel(PGconn *c, const char *ref, enum slack_dir_lookup *out, char **id, struct err *e)
{
	*out = SLACK_DIR_UNLOADED;
	*id = NULL;
	int is_id = slack_directory_is_id(ref);
	const char *key = ref[0] == '#' ? ref + 1 : ref;
	const char *p[] = {key, is_id ? "t" : "f"};
	/* Prefer a live channel over an archived one of the same name. */
	PGresult *r = db_exec(c,
			      "SELECT (SELECT last_success_at IS NOT NULL FROM slack_directory_state WHERE kind = 'channels'),"
			      " ch.id, ch.is_archived FROM (SELECT 1) one LEFT JOIN LATERAL ("
			      "  SELECT id, is_archived FROM slack_channels"
			      "  WHERE CASE WHEN $2::bool THEN id = $1 ELSE name = $1 END"
			      "  ORDER BY is_archived, id LIMIT 1) ch ON true",
			      2, p, e);
	if (!r)
		return -1;
	bool loaded = PQgetvalue(r, 0, 0)[0] == 't';
	bool found = !PQgetisnull(r, 0, 1);
	if (found) {
		*id = strdup(PQgetvalue(r, 0, 1));
		*out = PQgetvalue(r, 0, 2)[0] == 't' ? SLACK_DIR_ARCHIVED : SLACK_DIR_FOUND;
	} else if (is_id) {
		*id = strdup(key); /* an ID is used as given */
		*out = SLACK_DIR_FOUND;
	} else {
		*out = loaded ? SLACK_DIR_MISSING : SLACK_DIR_UNLOADED;
	}
	PQclear(r);
	if ((*out == SLACK_DIR_FOUND || *out == SLACK_DIR_ARCHIVED) && !*id)
		return err_set(e, -1, "out of memory");
	return 0;
}

int slack_directory_user_by_email(PGconn *c, const char *email, char **id, struct err *e)
{
	*id = NULL;
	const char *p[] = {email};
	PGresult *r = db_exec(c,
			      "SELECT id FROM slack_users WHERE lower(email) = lower($1) AND NOT deleted"
			      " ORDER BY is_bot, id LIMIT 1",
			      1, p, e);
	if (!r)
		return -1;
	if (PQntuples(r))
		*id = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* ---- events ---- */

static const char *const EVENTS[] = {
    "channel_created", "channel_rename",  "channel_archive",	   "channel_unarchive",	  "channel_deleted",
    "group_rename",    "group_archive",	  "group_unarchive",	   "group_deleted",	  "member_joined_channel",
    "member_left_channel", "user_change", "team_join",		   NULL,
};

int slack_directory_event_type(const char *type)
{
	for (size_t i = 0; type && EVENTS[i]; i++)
		if (!strcmp(type, EVENTS[i]))
			return 1;
	return 0;
}

/* The channel ID of an event: "channel" is an ID, or an object with "id". */
static const char *event_channel(const json_t *ev)
{
	const json_t *ch = json_object_get(ev, "channel");
	return json_is_string(ch) ? json_string_value(ch) : json_string_value(json_object_get(ch, "id"));
}

static int apply_event(PGconn *c, const json_t *envelope, int *handled, struct err *e)
{
	const json_t *ev = json_object_get(envelope, "event");
	const char *type = json_string_value(json_object_get(ev, "type"));
	*handled = slack_directory_event_type(type);
	if (!*handled)
		return 0;
	/* When it happened, by Slack's clock: older events than the row's are ignored. */
	char when[32] = "";
	const json_t *et = json_object_get(envelope, "event_time");
	if (json_is_integer(et))
		snprintf(when, sizeof when, "%lld", (long long)json_integer_value(et));
	const char *at = *when ? when : NULL;
	const char *chan = event_channel(ev);
	if (!strncmp(type, "user_change", 11) || !strcmp(type, "team_join")) {
		const json_t *u = json_object_get(ev, "user");
		if (!json_is_object(u) || !json_is_string(json_object_get(u, "id")))
			return 0; /* nothing usable: acknowledged, the next walk catches up */
		char *text = json_dumps(u, JSON_COMPACT);
		const char *p[] = {text, at};
		int rc = text ? db_run(c,
				       "WITH v AS (SELECT $1::json AS u,"
				       " coalesce(to_timestamp($2::double precision), now()) AS at)"
				       " INSERT INTO slack_users AS t (id, name, real_name, email, deleted, is_bot, event_at)"
				       " SELECT u->>'id', coalesce(u->>'name', ''),"
				       " coalesce(u->>'real_name', u->'profile'->>'real_name', ''),"
				       " nullif(u->'profile'->>'email', ''), coalesce((u->>'deleted')::bool, false),"
				       " coalesce((u->>'is_bot')::bool, false), at FROM v"
				       " ON CONFLICT (id) DO UPDATE SET name = excluded.name, real_name = excluded.real_name,"
				       " email = excluded.email, deleted = excluded.deleted, is_bot = excluded.is_bot,"
				       " event_at = excluded.event_at, refreshed_at = now()"
				       " WHERE t.event_at IS NULL OR t.event_at <= excluded.event_at",
				       2, p, e)
			      : err_set(e, -1, "out of memory");
		free(text);
		return rc;
	}
	if (!chan || !*chan || strlen(chan) > 64)
		return 0;
	if (!strcmp(type, "channel_created") || !strcmp(type, "channel_rename") || !strcmp(type, "group_rename")) {
		const char *name = json_string_value(json_object_get(json_object_get(ev, "channel"), "name"));
		if (!name || !*name)
			return 0;
		const char *p[] = {chan, name, !strcmp(type, "group_rename") ? "t" : "f", at};
		return db_run(c,
			      "INSERT INTO slack_channels AS t (id, name, is_private, event_at)"
			      " VALUES ($1, $2, $3::bool, coalesce(to_timestamp($4::double precision), now()))"
			      " ON CONFLICT (id) DO UPDATE SET name = excluded.name, event_at = excluded.event_at,"
			      " refreshed_at = now() WHERE t.event_at IS NULL OR t.event_at <= excluded.event_at",
			      4, p, e);
	}
	if (strstr(type, "_archive") || strstr(type, "_unarchive")) {
		const char *p[] = {chan, strstr(type, "_unarchive") ? "f" : "t", at};
		return db_run(c,
			      "UPDATE slack_channels SET is_archived = $2::bool,"
			      " event_at = coalesce(to_timestamp($3::double precision), now()), refreshed_at = now()"
			      " WHERE id = $1 AND (event_at IS NULL OR event_at <= coalesce(to_timestamp($3::double precision), now()))",
			      3, p, e);
	}
	if (strstr(type, "_deleted")) {
		const char *p[] = {chan};
		return db_run(c, "DELETE FROM slack_channels WHERE id = $1", 1, p, e);
	}
	/* member_joined_channel / member_left_channel: only the bot's own membership matters. */
	const char *user = json_string_value(json_object_get(ev, "user"));
	const char *bot = NULL;
	size_t i;
	const json_t *au;
	json_array_foreach(json_object_get(envelope, "authorizations"), i, au)
	{
		if (json_is_true(json_object_get(au, "is_bot")) && json_is_string(json_object_get(au, "user_id")))
			bot = json_string_value(json_object_get(au, "user_id"));
	}
	if (!user)
		return 0;
	const char *p[] = {chan, !strcmp(type, "member_joined_channel") ? "t" : "f", at, user, bot};
	return db_run(c,
		      "UPDATE slack_channels SET is_member = $2::bool,"
		      " event_at = coalesce(to_timestamp($3::double precision), now()), refreshed_at = now()"
		      " WHERE id = $1 AND $4 = coalesce($5, (SELECT bot_user_id FROM slack_directory_state"
		      "  WHERE kind = 'channels'))",
		      5, p, e);
}

/* ---- the channel index ----
 *
 * GET /api/v1/slack/channels?search= answers from a copy of slack_channels
 * in memory, in (name, id) byte order: a substring scan of 50,000 names
 * takes well under a millisecond, where the trigram query took 2 to 13 ms
 * and more on a busy database. The copy is reloaded whole (about 100 ms for
 * 50,000 channels):
 *   - before the next search, after this process changed a channel (an
 *     event, a walk), so an answer never misses what this process wrote;
 *   - by the watcher, within INDEX_CHECK_MS, after another replica changed
 *     one: a statement trigger on slack_channels counts changes in
 *     slack_directory_state.version (migration 014).
 */

struct chan {
	const char *id, *name, *lname, *refreshed_at;
	int num_members; /* -1: not known */
	bool is_private, is_archived, is_member;
};

struct chan_snap {
	_Atomic int refs;
	long long version;    /* slack_directory_state.version it was read at */
	long long success_ms; /* and the channels' last_success_at (0: never) */
	char *error;          /* and last_error */
	unsigned long local;  /* local_changes when it was read */
	size_t n;
	struct chan *v;
	char *arena;          /* every string of v */
};

static void snap_unref(struct chan_snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->v);
	free(s->arena);
	free(s->error);
	free(s);
}

/* Read every channel, and the version, in one snapshot of the database. */
static struct chan_snap *snap_read(PGconn *c, struct err *e)
{
	if (db_run(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, e))
		return NULL;
	PGresult *v = db_exec(c,
			      "SELECT version, coalesce((extract(epoch FROM last_success_at) * 1000)::bigint, 0), last_error"
			      " FROM slack_directory_state WHERE kind = 'channels'",
			      0, NULL, e);
	PGresult *r = v ? db_exec(c,
				  "SELECT id, name, is_private, is_archived, is_member, coalesce(num_members, -1),"
				  " to_json(refreshed_at)#>>'{}' FROM slack_channels"
				  " ORDER BY name COLLATE \"C\", id COLLATE \"C\"",
				  0, NULL, e)
			: NULL;
	db_rollback(c);
	struct chan_snap *s = r ? calloc(1, sizeof *s) : NULL;
	if (!s) {
		if (r)
			err_set(e, -1, "out of memory");
		PQclear(v);
		PQclear(r);
		return NULL;
	}
	if (PQntuples(v)) {
		s->version = atoll(PQgetvalue(v, 0, 0));
		s->success_ms = atoll(PQgetvalue(v, 0, 1));
		s->error = PQgetisnull(v, 0, 2) ? NULL : strdup(PQgetvalue(v, 0, 2));
	}
	PQclear(v);
	size_t n = (size_t)PQntuples(r), bytes = 1;
	for (size_t i = 0; i < n; i++)
		bytes += 2 * (size_t)PQgetlength(r, (int)i, 1) + (size_t)PQgetlength(r, (int)i, 0) +
			 (size_t)PQgetlength(r, (int)i, 6) + 4;
	s->v = calloc(n ? n : 1, sizeof *s->v);
	s->arena = malloc(bytes);
	if (!s->v || !s->arena) {
		PQclear(r);
		free(s->v);
		free(s->arena);
		free(s->error);
		free(s);
		err_set(e, -1, "out of memory");
		return NULL;
	}
	char *a = s->arena;
	for (size_t i = 0; i < n; i++) {
		struct chan *ch = &s->v[i];
		int row = (int)i;
		const int cols[] = {0, 1, 1, 6};
		const char **dst[] = {&ch->id, &ch->name, &ch->lname, &ch->refreshed_at};
		for (int k = 0; k < 4; k++) {
			size_t len = (size_t)PQgetlength(r, row, cols[k]);
			memcpy(a, PQgetvalue(r, row, cols[k]), len + 1);
			if (k == 2)
				for (size_t j = 0; j < len; j++)
					a[j] = (char)(a[j] >= 'A' && a[j] <= 'Z' ? a[j] - 'A' + 'a' : a[j]);
			*dst[k] = a;
			a += len + 1;
		}
		ch->is_private = PQgetvalue(r, row, 2)[0] == 't';
		ch->is_archived = PQgetvalue(r, row, 3)[0] == 't';
		ch->is_member = PQgetvalue(r, row, 4)[0] == 't';
		ch->num_members = atoi(PQgetvalue(r, row, 5));
	}
	s->n = n;
	PQclear(r);
	atomic_store(&s->refs, 1);
	return s;
}

/* Load a new copy and swap it in. Called with lmu held. */
static int snap_reload(struct dir *d, struct err *e)
{
	unsigned long local = atomic_load(&d->local_changes);
	PGconn *c = db_acquire(d->app->ctx.db, 5000, e);
	if (!c)
		return -1;
	struct chan_snap *s = snap_read(c, e);
	db_release(d->app->ctx.db, c);
	if (!s)
		return -1;
	s->local = local;
	pthread_mutex_lock(&d->imu);
	struct chan_snap *old = d->snap;
	d->snap = s;
	d->last_success_ms = s->success_ms;
	free(d->last_error);
	d->last_error = s->error ? strdup(s->error) : NULL;
	pthread_mutex_unlock(&d->imu);
	snap_unref(old);
	metrics_set(d->app->ctx.metrics, "sb_slack_channel_index_entries", (double)s->n, NULL);
	return 0;
}

/* The current copy (a reference: snap_unref it), reloaded first when this
 * process changed a channel since it was read, or there is none yet. NULL
 * with e only when there is no copy at all. */
static struct chan_snap *snap_get(struct dir *d, struct err *e)
{
	for (int pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&d->imu);
		struct chan_snap *s = d->snap;
		bool fresh = s && s->local == atomic_load(&d->local_changes);
		if (s && (fresh || pass))
			atomic_fetch_add(&s->refs, 1);
		pthread_mutex_unlock(&d->imu);
		if (s && (fresh || pass))
			return s;
		if (pass)
			return NULL; /* the reload failed and there is no old copy: e says why */
		pthread_mutex_lock(&d->lmu);
		pthread_mutex_lock(&d->imu);
		s = d->snap;
		fresh = s && s->local == atomic_load(&d->local_changes);
		pthread_mutex_unlock(&d->imu);
		if (!fresh && snap_reload(d, e))
			log_warn(d->app->ctx.log, "slack-directory", NULL,
				 s ? "cannot reload the channel index; searching the previous copy"
				   : "cannot load the channel index",
				 "error", e->msg, NULL);
		pthread_mutex_unlock(&d->lmu);
	}
	return NULL;
}

/* Index of the first channel after (name, id) in the copy's order. */
static size_t snap_after(const struct chan_snap *s, const char *name, const char *id)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].name, name);
		if (!c)
			c = strcmp(s->v[mid].id, id);
		if (c <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int slack_directory_search_channels(const struct slack_chan_query *q, struct slack_chan_page *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	struct dir *d = D;
	if (!d)
		return err_set(e, -1, "Slack is not configured");
	struct chan_snap *s = snap_get(d, e);
	if (!s)
		return -1;
	char *term = q->search && *q->search ? strdup(q->search) : NULL;
	for (char *p = term; p && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	out->items = json_array();
	size_t i = q->after_name && q->after_id ? snap_after(s, q->after_name, q->after_id) : 0;
	const struct chan *last = NULL;
	int found = 0;
	for (; i < s->n && out->items; i++) {
		const struct chan *ch = &s->v[i];
		if ((q->archived >= 0 && ch->is_archived != (q->archived > 0)) || (term && !strstr(ch->lname, term)))
			continue;
		if (found == q->limit) {
			out->more = 1;
			break;
		}
		found++;
		last = ch;
		json_array_append_new(
		    out->items, json_pack("{s:s,s:s,s:b,s:b,s:b,s:o,s:s}", "id", ch->id, "name", ch->name, "is_private",
					  ch->is_private, "is_archived", ch->is_archived, "is_member", ch->is_member,
					  "num_members", ch->num_members >= 0 ? json_integer(ch->num_members) : json_null(),
					  "refreshed_at", ch->refreshed_at));
	}
	if (out->more && last) {
		out->last_name = strdup(last->name);
		out->last_id = strdup(last->id);
	}
	free(term);
	snap_unref(s);
	pthread_mutex_lock(&d->imu);
	bool loaded = d->last_success_ms > 0;
	out->directory = json_pack("{s:b,s:o,s:o}", "loaded", loaded, "age_seconds",
				   loaded ? json_integer((clock_now_ms() - d->last_success_ms) / 1000) : json_null(),
				   "last_error", d->last_error ? json_string(d->last_error) : json_null());
	pthread_mutex_unlock(&d->imu);
	if (!out->items || !out->directory || (out->more && (!out->last_name || !out->last_id))) {
		slack_chan_page_clear(out);
		return err_set(e, -1, "out of memory");
	}
	return 0;
}

void slack_chan_page_clear(struct slack_chan_page *p)
{
	json_decref(p->items);
	json_decref(p->directory);
	free(p->last_name);
	free(p->last_id);
	memset(p, 0, sizeof *p);
}

int slack_directory_apply_event(PGconn *c, const json_t *envelope, int *handled, struct err *e)
{
	int rc = apply_event(c, envelope, handled, e);
	const char *type = json_string_value(json_object_get(json_object_get(envelope, "event"), "type"));
	struct dir *d = D;
	if (rc || !*handled || !d || !type || !strncmp(type, "user_change", 11) || !strcmp(type, "team_join"))
		return rc;
	/* Committed. When it changed a channel (the version moved past the
	 * copy's), the next search here reloads the channel index first. */
	struct err ve;
	err_clear(&ve);
	PGresult *r = db_exec(c, "SELECT version FROM slack_directory_state WHERE kind = 'channels'", 0, NULL, &ve);
	long long v = r && PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	pthread_mutex_lock(&d->imu);
	bool changed = !d->snap || v < 0 || v != d->snap->version;
	pthread_mutex_unlock(&d->imu);
	if (changed)
		atomic_fetch_add(&d->local_changes, 1);
	return rc;
}

/* The watcher's look at the channels' version and freshness: reload the
 * copy when another replica changed a channel. */
static void index_check(struct dir *d)
{
	struct ctx *ctx = &d->app->ctx;
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 1000, &e);
	if (!c)
		return;
	PGresult *r = db_exec(c,
			      "SELECT version, (extract(epoch FROM last_success_at) * 1000)::bigint, last_error"
			      " FROM slack_directory_state WHERE kind = 'channels'",
			      0, NULL, &e);
	db_release(ctx->db, c);
	if (!r || PQntuples(r) != 1) {
		PQclear(r);
		return;
	}
	long long version = atoll(PQgetvalue(r, 0, 0));
	pthread_mutex_lock(&d->imu);
	d->last_success_ms = PQgetisnull(r, 0, 1) ? 0 : atoll(PQgetvalue(r, 0, 1));
	free(d->last_error);
	d->last_error = PQgetisnull(r, 0, 2) ? NULL : strdup(PQgetvalue(r, 0, 2));
	/* No copy yet: load one as soon as the directory has loaded, so the
	 * first search does not pay for it. */
	bool stale = d->snap ? d->snap->version != version : d->last_success_ms > 0;
	pthread_mutex_unlock(&d->imu);
	PQclear(r);
	if (stale) {
		pthread_mutex_lock(&d->lmu);
		pthread_mutex_lock(&d->imu);
		stale = d->snap ? d->snap->version != version : d->last_success_ms > 0;
		pthread_mutex_unlock(&d->imu);
		if (stale && snap_reload(d, &e))
			log_warn(ctx->log, "slack-directory", NULL, "cannot reload the channel index", "error", e.msg, NULL);
		pthread_mutex_unlock(&d->lmu);
	}
}

/* ---- the watcher: state, gauges, /readyz, the receiver check ---- */

static json_t *kind_json(PGresult *r, int row)
{
	/* kind, success_ms, attempt_ms, error, entries, removed, duration, calls, limited, running */
	bool loaded = !PQgetisnull(r, row, 1);
	bool failing = !PQgetisnull(r, row, 3);
	json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:b}", "loaded", loaded, "entries",
			      (json_int_t)atoll(PQgetvalue(r, row, 4)), "removed", (json_int_t)atoll(PQgetvalue(r, row, 5)),
			      "calls", (json_int_t)atoll(PQgetvalue(r, row, 7)), "rate_limited",
			      (json_int_t)atoll(PQgetvalue(r, row, 8)), "refreshing", PQgetvalue(r, row, 9)[0] == 't');
	char iso[40];
	if (loaded) {
		int64_t ms = atoll(PQgetvalue(r, row, 1));
		clock_format_iso(ms, iso, sizeof iso);
		json_object_set_new(o, "last_success", json_string(iso));
		json_object_set_new(o, "age_seconds", json_integer((clock_now_ms() - ms) / 1000));
	}
	if (!PQgetisnull(r, row, 2)) {
		clock_format_iso(atoll(PQgetvalue(r, row, 2)), iso, sizeof iso);
		json_object_set_new(o, "last_attempt", json_string(iso));
	}
	if (!PQgetisnull(r, row, 6))
		json_object_set_new(o, "duration_ms", json_integer(atoll(PQgetvalue(r, row, 6))));
	json_object_set_new(o, "last_error", failing ? json_string(PQgetvalue(r, row, 3)) : json_null());
	return o;
}

static int warned_before(struct dir *d, const char *name)
{
	for (size_t i = 0; i < d->warned.n; i++)
		if (!strcmp(d->warned.v[i], name))
			return 1;
	char **v = realloc(d->warned.v, (d->warned.n + 1) * sizeof *v);
	if (!v)
		return 1;
	d->warned.v = v;
	v[d->warned.n] = strdup(name);
	if (v[d->warned.n])
		d->warned.n++;
	return 0;
}

/* Every receiver's channel against the loaded directory: a JSON list of
 * the unresolved ones. Each is logged once per process. */
static json_t *check_receivers(struct dir *d, PGconn *c)
{
	struct ctx *ctx = &d->app->ctx;
	const struct config *cfg = ctx->cfg;
	const struct config_routing *rt = &cfg->routing;
	json_t *list = json_array();
	for (size_t i = 0; list && i < rt->n_receivers; i++) {
		const struct config_receiver *rc = &rt->receivers[i];
		if (!rc->channel || !*rc->channel)
			continue;
		enum slack_dir_lookup lk;
		char *id = NULL;
		struct err e;
		err_clear(&e);
		if (slack_directory_channel(c, rc->channel, &lk, &id, &e)) {
			json_decref(list);
			return NULL;
		}
		free(id);
		if (lk != SLACK_DIR_MISSING && lk != SLACK_DIR_ARCHIVED)
			continue;
		const char *problem = lk == SLACK_DIR_MISSING ? "channel_not_found" : "is_archived";
		char where[512];
		if (rc->line > 0)
			snprintf(where, sizeof where, "%s:%d", cfg->path ? cfg->path : "config", rc->line);
		else
			snprintf(where, sizeof where, "%s", cfg->path ? cfg->path : "config");
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "receiver", rc->name, "channel", rc->channel,
						      "problem", problem, "config", where));
		if (!warned_before(d, rc->name))
			log_warn(d->app->ctx.log, "slack-directory", NULL,
				 lk == SLACK_DIR_MISSING
				     ? "a routing receiver names a channel the Slack workspace does not have"
				     : "a routing receiver names an archived Slack channel",
				 "receiver", rc->name, "channel", rc->channel, "problem", problem, "config", where, NULL);
	}
	return list;
}

static void watch_once(struct dir *d)
{
	struct app *a = d->app;
	struct ctx *ctx = &a->ctx;
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 1000, &e);
	if (!c)
		return;
	PGresult *r = db_exec(c,
			      "SELECT kind, (extract(epoch FROM last_success_at) * 1000)::bigint,"
			      " (extract(epoch FROM last_attempt_at) * 1000)::bigint, last_error, entries, removed,"
			      " duration_ms, calls, rate_limited, running_since IS NOT NULL"
			      " FROM slack_directory_state ORDER BY kind",
			      0, NULL, &e);
	if (!r) {
		db_release(ctx->db, c);
		return;
	}
	json_t *det = json_object();
	bool all_ok = true, any_never = false;
	long long ch_success = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *kind = PQgetvalue(r, i, 0);
		json_t *k = kind_json(r, i);
		json_object_set_new(det, kind, k);
		bool loaded = !PQgetisnull(r, i, 1);
		any_never |= !loaded;
		all_ok &= loaded && PQgetisnull(r, i, 3);
		metrics_set(ctx->metrics, "sb_slack_directory_entries", (double)atoll(PQgetvalue(r, i, 4)), "kind", kind,
			    NULL);
		if (loaded)
			metrics_set(ctx->metrics, "sb_slack_directory_age_seconds",
				    (double)(clock_now_ms() - atoll(PQgetvalue(r, i, 1))) / 1000.0, "kind", kind, NULL);
		if (loaded && !strcmp(kind, "channels"))
			ch_success = atoll(PQgetvalue(r, i, 1));
	}
	PQclear(r);
	json_object_set_new(det, "status", json_string(all_ok ? "ok" : any_never ? "not_loaded" : "degraded"));
	if (!all_ok)
		json_object_set_new(det, "note",
				    json_string(any_never ? "the directory has not loaded yet: channel names are posted "
							    "as given and e-mails looked up in Slack"
							  : "the last refresh failed: the previous copy is served"));
	/* The receiver check, after each new successful channel walk. */
	json_t *unresolved = NULL;
	pthread_mutex_lock(&d->mu);
	bool recheck = ch_success && ch_success != d->checked_success;
	pthread_mutex_unlock(&d->mu);
	if (recheck && (unresolved = check_receivers(d, c))) {
		metrics_set(ctx->metrics, "sb_slack_receivers_unresolved", (double)json_array_size(unresolved), NULL);
		pthread_mutex_lock(&d->mu);
		d->checked_success = ch_success;
		pthread_mutex_unlock(&d->mu);
	}
	db_release(ctx->db, c);
	pthread_mutex_lock(&d->mu);
	json_t *old = d->ready;
	const json_t *prev_unres = json_object_get(old, "unresolved_receivers");
	json_object_set_new(det, "unresolved_receivers",
			    unresolved ? unresolved : prev_unres ? json_incref((json_t *)prev_unres) : json_array());
	d->ready = det;
	pthread_mutex_unlock(&d->mu);
	json_decref(old);
}

static void *watcher_main(void *arg)
{
	struct dir *d = arg;
	int64_t next_watch = 0;
	while (!d->stop && !d->app->stopping) {
		if (atomic_load(&d->app->ready)) {
			if (clock_mono_ms() >= next_watch) {
				watch_once(d);
				next_watch = clock_mono_ms() + WATCH_INTERVAL_MS;
			}
			index_check(d);
		}
		clock_sleep_ms(atomic_load(&d->app->ready) ? INDEX_CHECK_MS : 200, &d->stop);
	}
	return NULL;
}

void slack_directory_readyz(json_t *body)
{
	struct dir *d = D;
	if (!d || !body)
		return;
	pthread_mutex_lock(&d->mu);
	json_t *det = d->ready ? json_deep_copy(d->ready) : json_pack("{s:s}", "status", "unknown");
	pthread_mutex_unlock(&d->mu);
	json_object_set_new(body, "slack_directory", det);
}

int slack_directory_register(struct app *a)
{
	struct ctx *ctx = &a->ctx;
	if (!ctx->cfg->slack.api_url || !*ctx->cfg->slack.api_url)
		return 0;
	struct dir *d = calloc(1, sizeof *d);
	if (!d)
		return -1;
	d->app = a;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->imu, NULL);
	pthread_mutex_init(&d->lmu, NULL);
	struct err e;
	err_clear(&e);
	struct slack_client_opts so = {.name = "slack_directory", .caller_waits_429 = true};
	d->slack = slack_client_new_opts(ctx->cfg, ctx->log, ctx->metrics, &so, &e);
	if (!d->slack) {
		log_error(ctx->log, "slack-directory", NULL, "cannot create the Slack client", "error", e.msg, NULL);
		pthread_mutex_destroy(&d->mu);
		free(d);
		return -1;
	}
	struct metrics *m = ctx->metrics;
	metrics_describe(m, "sb_slack_directory_refresh_total", METRIC_COUNTER,
			 "Slack directory walks run on this replica, by kind (channels, users) and outcome (ok, failed).");
	metrics_describe(m, "sb_slack_directory_entries", METRIC_GAUGE, "Entries in the cached Slack directory, by kind.");
	metrics_describe(m, "sb_slack_directory_age_seconds", METRIC_GAUGE,
			 "Time since the last complete walk of the Slack directory, by kind.");
	metrics_describe(m, "sb_slack_directory_rate_limited_total", METRIC_COUNTER,
			 "429 answers to the directory walk (each waited out with Retry-After), by kind.");
	metrics_describe(m, "sb_slack_channel_index_entries", METRIC_GAUGE,
			 "Channels in this replica's in-memory search index (GET /api/v1/slack/channels).");
	metrics_describe(m, "sb_slack_receivers_unresolved", METRIC_GAUGE,
			 "Routing receivers whose Slack channel is missing or archived in the loaded directory.");
	D = d;
	if (jobs_register(a->jobs, DIR_JOB, job_refresh, d) ||
	    sched_add(a->sched, "slack-directory", ctx->cfg->slack.directory.refresh_interval_ms, task_refresh, NULL))
		return -1;
	if (pthread_create(&d->watcher, NULL, watcher_main, d))
		return -1;
	d->watcher_started = 1;
	return 0;
}

void slack_directory_stop(struct app *a)
{
	(void)a;
	struct dir *d = D;
	if (!d)
		return;
	d->stop = 1;
	if (d->watcher_started)
		pthread_join(d->watcher, NULL);
	D = NULL;
	slack_client_free(d->slack);
	json_decref(d->ready);
	for (size_t i = 0; i < d->warned.n; i++)
		free(d->warned.v[i]);
	free(d->warned.v);
	snap_unref(d->snap);
	free(d->last_error);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->imu);
	pthread_mutex_destroy(&d->lmu);
	free(d);
}
