/*
 * db.h: PostgreSQL access through libpq: a connection pool and helpers.
 *
 * The pool hands out connections to one thread at a time. A connection that
 * broke is reset on release; acquire reconnects lazily, so a database that
 * went away and came back heals without a restart. All SQL is parameterised
 * (db_exec takes $1..$n parameters; there is no formatted-SQL helper).
 */
#ifndef SB_CORE_DB_H
#define SB_CORE_DB_H

#include "err.h"
#include "log.h"

#include <libpq-fe.h>
#include <stdint.h>

struct db_pool;

/* A pool of at most size connections to conninfo (a libpq URI or key=value
 * string). No connection is opened yet. Caller frees with db_pool_free(),
 * after every connection is released. */
struct db_pool *db_pool_new(const char *conninfo, int size, int64_t connect_timeout_ms, struct logger *lg);
void db_pool_free(struct db_pool *p);

/* Borrow a connection, waiting up to wait_ms for one to be free, opening or
 * re-opening it as needed. NULL with e filled when the database cannot be
 * reached or the pool stayed busy. Give it back with db_release(). */
PGconn *db_acquire(struct db_pool *p, int64_t wait_ms, struct err *e);

/* Open every connection of the pool that is not open yet, so the first
 * burst of requests after a start does not pay for them (a webhook acked
 * in milliseconds must not wait for a PostgreSQL backend to start). Returns
 * how many were opened, or -1 with e when one could not be. */
int db_pool_warm(struct db_pool *p, struct err *e);

/* Return a connection. A connection left inside a transaction is rolled
 * back; a broken one is closed (and reopened by a later acquire). */
void db_release(struct db_pool *p, PGconn *c);

/* Open a single connection outside any pool (for LISTEN, the CLI, tests). */
PGconn *db_connect(const char *conninfo, int64_t connect_timeout_ms, struct err *e);

/* Run one parameterised statement. Returns the result (caller PQclear()s)
 * when it succeeded (COMMAND_OK or TUPLES_OK); NULL with e filled, the
 * SQLSTATE in e->code as a number when it is all digits, else -1. */
PGresult *db_exec(PGconn *c, const char *sql, int nparams, const char *const *params, struct err *e);

/* Run a statement whose result is not needed. 0 or -1 with e filled. */
int db_run(PGconn *c, const char *sql, int nparams, const char *const *params, struct err *e);

/* The SQLSTATE of the last failed db_exec/db_run on this thread ("" if none). */
const char *db_last_sqlstate(void);

/* BEGIN / COMMIT / ROLLBACK helpers: 0 or -1 with e filled. */
int db_begin(PGconn *c, struct err *e);
int db_commit(PGconn *c, struct err *e);
void db_rollback(PGconn *c);

/* Something to run after a transaction commits: the job queue's wake-up
 * (bridge/core/jobs.c), so that a statement queueing work needs no NOTIFY
 * inside the transaction (NOTIFY serialises every committing transaction
 * that used it on one lock). Process-wide; h must stay valid until it is
 * replaced or cleared (NULL). */
struct db_commit_hook {
	void (*fn)(void *arg, unsigned mask);
	void *arg;
};
void db_set_commit_hook(const struct db_commit_hook *h);

/* Ask for the commit hook to run with mask (OR-ed over the calls of one
 * transaction; what the hook makes of it is its business) once c's work is
 * committed: now, when c is
 * not inside a transaction block (the statement that queued the work has
 * committed), or after db_commit(c) succeeds. Returns 1 when that is
 * arranged, 0 when it cannot be (no hook is set, as in the CLI, or this
 * thread already waits on several transactions): the caller then NOTIFYs. */
int db_on_commit(PGconn *c, unsigned mask);

/* 0 when a trivial query succeeds on a pooled connection. */
int db_ping(struct db_pool *p, struct err *e);

/* Whether the last attempt to use the database failed (for /readyz). */
int db_pool_healthy(struct db_pool *p);

/* Conninfo for the embedded cluster under run_dir (see scripts/pg.sh).
 * Caller frees. NULL when run_dir holds no cluster description. */
char *db_embedded_conninfo(const char *run_dir);

#endif
