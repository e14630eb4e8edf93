/*
 * testdb.h: a clean, migrated database for tests that need PostgreSQL.
 */
#ifndef SB_TEST_DB_H
#define SB_TEST_DB_H

#include <libpq-fe.h>

/* The DSN of the test cluster (SB_TEST_PG_DSN); fails the test when unset. */
const char *testdb_dsn(void);

/* Drop and recreate the public schema, apply the migrations, and return a
 * connection (caller PQfinish()es). Fails the test on any error. */
PGconn *testdb_fresh(void);

/* Run SQL that must succeed and return the first value of the first row
 * as a malloc'ed string ("" when no row). */
char *testdb_value(PGconn *c, const char *sql);

#endif
