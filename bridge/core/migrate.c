/*
 * migrate.c: apply the compiled-in migrations (see migrate.h).
 */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>

/* Arbitrary constant shared by every replica: "sb-migr" in ASCII-ish. */
#define MIGRATE_LOCK_KEY "7306246"

int migrate_latest(void)
{
	int v = 0;
	for (unsigned i = 0; i < sb_migrations_count; i++)
		if (sb_migrations[i].version > v)
			v = sb_migrations[i].version;
	return v;
}

int migrate_count(void)
{
	return (int)sb_migrations_count;
}

static int exec_ok(PGconn *conn, const char *sql, struct err *e)
{
	PGresult *r = PQexec(conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		err_set(e, -1, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

int migrate_current(PGconn *conn, int *version, struct err *e)
{
	PGresult *r = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		err_set(e, -1, "reading schema_migrations: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	int exists = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!exists) {
		*version = 0;
		return 0;
	}
	r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		err_set(e, -1, "reading schema_migrations: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int migrate_apply(PGconn *conn, int *applied, struct err *e)
{
	int rc = -1, n = 0, locked = 0;
	PGresult *done = NULL;
	if (applied)
		*applied = 0;
	if (exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", e))
		goto out;
	locked = 1;
	if (exec_ok(conn,
		    "CREATE TABLE IF NOT EXISTS schema_migrations ("
		    " version integer PRIMARY KEY,"
		    " name text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())",
		    e))
		goto out;
	/* Apply every migration not recorded yet, in order: one that landed
	 * with a lower number after a higher one still gets applied. */
	done = PQexec(conn, "SELECT version FROM schema_migrations");
	if (PQresultStatus(done) != PGRES_TUPLES_OK) {
		err_set(e, -1, "reading schema_migrations: %s", PQresultErrorMessage(done));
		goto out;
	}
	for (unsigned i = 0; i < sb_migrations_count; i++) {
		const struct migration *m = &sb_migrations[i];
		int seen = 0;
		for (int k = 0; k < PQntuples(done) && !seen; k++)
			seen = atoi(PQgetvalue(done, k, 0)) == m->version;
		if (seen)
			continue;
		if (exec_ok(conn, "BEGIN", e))
			goto out;
		struct err me;
		err_clear(&me);
		if (exec_ok(conn, m->sql, &me)) {
			err_set(e, -1, "migration %s failed: %s", m->name, me.msg);
			exec_ok(conn, "ROLLBACK", NULL);
			goto out;
		}
		char ver[16];
		snprintf(ver, sizeof ver, "%d", m->version);
		const char *params[2] = {ver, m->name};
		PGresult *r = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
					   2, NULL, params, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			err_set(e, -1, "recording migration %s: %s", m->name, PQresultErrorMessage(r));
		PQclear(r);
		if (!ok) {
			exec_ok(conn, "ROLLBACK", NULL);
			goto out;
		}
		if (exec_ok(conn, "COMMIT", e))
			goto out;
		n++;
	}
	rc = 0;
out:
	PQclear(done);
	if (locked)
		exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL);
	if (applied)
		*applied = n;
	return rc;
}
