/*
 * inbox.c: durable inbox of received webhooks (see inbox.h).
 */
#include "inbox.h"

#include "db.h"
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>

static int queue_for(PGconn *conn, int64_t id, const char *job_kind, int64_t delay_ms, struct err *e)
{
	char payload[64], key[32];
	snprintf(payload, sizeof payload, "{\"inbox_id\":%lld}", (long long)id);
	snprintf(key, sizeof key, "inbox-%lld", (long long)id);
	struct job_spec js = {.kind = job_kind, .payload = payload, .dedupe_key = key, .delay_ms = delay_ms};
	return jobs_enqueue(conn, &js, NULL, e);
}

int inbox_store(PGconn *conn, const struct inbox_item *it, int64_t *id, int *inserted, struct err *e)
{
	*inserted = 0;
	*id = 0;
	char delay[32];
	snprintf(delay, sizeof delay, "%lld", (long long)(it->job_delay_ms > 0 ? it->job_delay_ms : 0));
	const char *p[] = {it->source,	   it->external_id, it->kind,	    it->subject,
			   it->occurred_at, it->payload,     it->request_id, it->status ? it->status : "pending",
			   it->status_reason, it->job_kind,  delay};
	/* One statement, so one round trip and (outside a transaction) one
	 * commit: the item, and its job when it is new and pending. ON CONFLICT
	 * DO NOTHING returns no row for a duplicate; the last branch then finds
	 * the existing one. */
	PGresult *r = db_exec(conn,
			      "WITH ins AS ("
			      " INSERT INTO inbox (source, external_id, kind, subject, occurred_at, payload, request_id,"
			      " status, last_error, processed_at)"
			      " VALUES ($1, $2, $3, $4, $5::timestamptz, $6::jsonb, $7, $8, $9,"
			      " CASE WHEN $8 = 'pending' THEN NULL ELSE now() END)"
			      " ON CONFLICT (source, external_id) DO NOTHING RETURNING id),"
			      " job AS (" JOBS_INSERT
			      " SELECT $10, jsonb_build_object('inbox_id', id), 'inbox-' || id,"
			      " now() + $11::bigint * interval '1 millisecond', 0, 0"
			      " FROM ins WHERE $10::text IS NOT NULL AND $8 = 'pending'" JOBS_DEDUPE_CONFLICT " RETURNING id)"
			      " SELECT id, true, (SELECT count(*) FROM job) FROM ins"
			      " UNION ALL SELECT id, false, 0 FROM inbox WHERE source = $1 AND external_id = $2"
			      " AND NOT EXISTS (SELECT 1 FROM ins)",
			      11, p, e);
	if (!r)
		return -1;
	if (PQntuples(r) < 1) {
		PQclear(r);
		return err_set(e, -1, "inbox insert returned no row");
	}
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*inserted = PQgetvalue(r, 0, 1)[0] == 't';
	int queued = atoi(PQgetvalue(r, 0, 2)) > 0;
	PQclear(r);
	return queued ? jobs_wake_on_commit(conn, it->job_kind, e) : 0;
}

int inbox_mark(PGconn *conn, int64_t id, const char *status, const char *error, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *p[] = {ids, status, error};
	return db_run(conn,
		      "UPDATE inbox SET status = $2, last_error = $3,"
		      " attempts = attempts + CASE WHEN $2 IN ('failed', 'dead') THEN 1 ELSE 0 END,"
		      " processed_at = CASE WHEN $2 IN ('done', 'skipped', 'dead') THEN now() ELSE processed_at END"
		      " WHERE id = $1::bigint",
		      3, p, e);
}

json_t *inbox_list(PGconn *conn, const char *source, const char *status, int limit, struct err *e)
{
	char lim[16];
	snprintf(lim, sizeof lim, "%d", limit > 0 && limit <= 1000 ? limit : 100);
	const char *p[] = {source, status, lim};
	PGresult *r = db_exec(conn,
			      "SELECT coalesce(json_agg(i ORDER BY i.id DESC), '[]')::text FROM ("
			      " SELECT id, source, external_id, kind, subject, status, attempts, last_error,"
			      " received_at, occurred_at, processed_at, request_id, payload FROM inbox"
			      " WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR status = $2)"
			      " ORDER BY id DESC LIMIT $3::int) i",
			      3, p, e);
	if (!r)
		return NULL;
	json_error_t je;
	json_t *out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
	PQclear(r);
	if (!out)
		err_set(e, -1, "decoding inbox list: %s", je.text);
	return out;
}

int inbox_replay(PGconn *conn, int64_t id, const char *job_kind, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *p[] = {ids};
	PGresult *r = db_exec(conn,
			      "UPDATE inbox SET status = 'pending', last_error = NULL, processed_at = NULL"
			      " WHERE id = $1::bigint RETURNING id",
			      1, p, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	PQclear(r);
	if (n == 0)
		return 0;
	if (job_kind && queue_for(conn, id, job_kind, 0, e))
		return -1;
	return 1;
}
