/*
 * testdb.c: a clean, migrated database for tests (see testdb.h).
 */
#include "testdb.h"

#include "db.h"
#include "migrate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

const char *testdb_dsn(void)
{
	const char *dsn = getenv("SB_TEST_PG_DSN");
	ck_assert_msg(dsn && *dsn, "SB_TEST_PG_DSN is not set: run the tests with `make check`");
	return dsn;
}

PGconn *testdb_fresh(void)
{
	struct err e;
	err_clear(&e);
	PGconn *c = db_connect(testdb_dsn(), 5000, &e);
	ck_assert_msg(c != NULL, "cannot connect to the test database: %s", e.msg);
	PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "reset failed: %s", PQresultErrorMessage(r));
	PQclear(r);
	ck_assert_msg(migrate_apply(c, NULL, &e) == 0, "migrations failed: %s", e.msg);
	return c;
}

char *testdb_value(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
		      "%s: %s", sql, PQresultErrorMessage(r));
	char *v = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return v;
}
