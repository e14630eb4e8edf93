/*
 * audit.c: append-only audit log (see audit.h).
 */
#include "audit.h"

#include "db.h"

#include <stdio.h>

int audit_write(PGconn *conn, const struct audit_entry *a, struct err *e)
{
	char run[32];
	snprintf(run, sizeof run, "%lld", (long long)a->run_id);
	const char *p[] = {a->actor, a->action, a->target, a->reason, a->before, a->after,
			   a->run_id ? run : NULL, a->request_id, a->details};
	return db_run(conn,
		      "INSERT INTO audit_log (actor, action, target, reason, before, after, run_id, request_id, details)"
		      " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::bigint, $8, $9::jsonb)",
		      9, p, e);
}

json_t *audit_list(PGconn *conn, const char *target, int64_t before_id, int limit, struct err *e)
{
	char lim[16], before[32];
	snprintf(lim, sizeof lim, "%d", limit > 0 && limit <= 1000 ? limit : 100);
	snprintf(before, sizeof before, "%lld", (long long)before_id);
	const char *p[] = {target, before_id > 0 ? before : NULL, lim};
	PGresult *r = db_exec(conn,
			      "SELECT coalesce(json_agg(a ORDER BY a.id DESC), '[]')::text FROM ("
			      " SELECT id, at, actor, action, target, reason, before, after, run_id, request_id, details"
			      " FROM audit_log WHERE ($1::text IS NULL OR target = $1)"
			      " AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3::int) a",
			      3, p, e);
	if (!r)
		return NULL;
	json_error_t je;
	json_t *out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
	PQclear(r);
	if (!out)
		err_set(e, -1, "decoding audit list: %s", je.text);
	return out;
}
