/*
 * audit.h: the append-only audit log.
 *
 * Every change the bridge makes upstream, and every change it refused, is
 * written here with who or what caused it and why. The table refuses UPDATE,
 * DELETE and TRUNCATE (a trigger in the first migration).
 */
#ifndef SB_CORE_AUDIT_H
#define SB_CORE_AUDIT_H

#include "err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

struct audit_entry {
	const char *actor;      /* "sync", "okta-hook", "admin-token", a person's email, ... */
	const char *action;     /* "member.invite", "member.role", "sync.refused", ... */
	const char *target;     /* what it acted on (an email, a team slug) */
	const char *reason;     /* why (the group or rule) */
	const char *before;     /* JSON text or NULL */
	const char *after;      /* JSON text or NULL */
	int64_t run_id;         /* the sync run, 0 when none */
	const char *request_id; /* the request or job id, for tracing */
	const char *details;    /* JSON text or NULL */
};

/* Append one entry on conn (inside the caller's transaction if open).
 * 0 or -1 with e filled. */
int audit_write(PGconn *conn, const struct audit_entry *a, struct err *e);

/* Entries, newest first, optionally only for a target and only older
 * than before_id (0: no bound), at most limit. New JSON array or NULL. */
json_t *audit_list(PGconn *conn, const char *target, int64_t before_id, int limit, struct err *e);

#endif
