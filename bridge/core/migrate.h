/*
 * migrate.h: versioned schema migrations, compiled into the binary.
 *
 * bridge/migrations/NNN_name.sql become sb_migrations[] at build time
 * (scripts/embed-migrations.sh). migrate_apply() applies the missing ones in
 * order, each in its own transaction, under a PostgreSQL advisory lock so
 * that replicas starting at once apply each migration exactly once.
 */
#ifndef SB_CORE_MIGRATE_H
#define SB_CORE_MIGRATE_H

#include "err.h"

#include <libpq-fe.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration sb_migrations[];
extern const unsigned sb_migrations_count;

/* The newest version compiled in. */
int migrate_latest(void);

/* How many migrations this build carries (numbers may have gaps). */
int migrate_count(void);

/* Apply every missing migration on conn. *applied (may be NULL) gets the
 * number applied now. Returns 0, or -1 with e filled (the failing migration
 * is rolled back; earlier ones stay). A database newer than the binary is
 * not an error for apply, but see migrate_status(). */
int migrate_apply(PGconn *conn, int *applied, struct err *e);

/* The highest applied version (0 for an empty database) into *version.
 * Returns 0 or -1 with e filled. */
int migrate_current(PGconn *conn, int *version, struct err *e);

#endif
