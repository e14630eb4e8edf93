/*
 * sync.h: the reconcile engine. Snapshot Okta (the groups the policy uses
 * and their members) and Sentry (members, invites, managed teams), compute
 * the plan with policies/policy_roles, check its guards, apply it with
 * bounded concurrency, and record the run, every change and an audit entry
 * per applied change in PostgreSQL. The mirror tables are refreshed from
 * the snapshot of every run whose plan was not refused.
 *
 * One reconcile at a time across all replicas: sync_run() holds a
 * PostgreSQL advisory lock for its whole duration.
 */
#ifndef SB_SYNC_H
#define SB_SYNC_H

#include "ctx.h"
#include "err.h"
#include "policies/policy_roles.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct jobs;
struct sched;

/* What became of one change of the plan. */
enum sync_change_status {
	SCS_PLANNED = 0, /* not attempted (dry run, refused, or interrupted) */
	SCS_APPLIED,
	SCS_FAILED,      /* Sentry refused it or could not be reached: error says why */
	SCS_REQUESTED,   /* Sentry only recorded an access request (202): not applied */
	SCS_SKIPPED,     /* nothing to do after all (already invited, already gone) */
	SCS_REFUSED,     /* held back by the event guards' sliding window; not applied */
};

enum sync_status {
	SYNC_DONE = 0,     /* planned (dry run) or applied, maybe with failed changes */
	SYNC_REFUSED,      /* a guard refused the plan; nothing applied */
	SYNC_FAILED,       /* could not read a side, or a database error */
	SYNC_BUSY,         /* another reconcile holds the lock */
};

struct sync_opts {
	bool dry_run;
	const char *trigger;  /* "cli", "schedule", "api" */
	int64_t run_id;       /* an existing queued sync_runs row to use, or 0 */
	FILE *progress;       /* when not NULL, progress lines go there (a TTY) */
};

struct sync_report {
	int64_t run_id;
	enum sync_status status;
	bool dry_run;
	struct policy_plan plan;
	enum sync_change_status *cstatus; /* per plan change */
	char **cerror;                    /* per plan change: Sentry's message or NULL */
	char **cmember;                   /* per plan change: an applied invite's new member id */
	const char *actor;                /* audit actor: "sync" (default) or "okta-event" */
	size_t applied, failed, requested, skipped, refused;
	size_t okta_users, sentry_members; /* sizes of the snapshots */
	char error[512];
	int64_t duration_ms;
};

/* Run one reconcile. Returns 0 when the run finished (see rep->status) or
 * -1 when it could not start (no database: e filled). rep is always filled
 * enough to free with sync_report_free(). */
int sync_run(struct ctx *ctx, const struct sync_opts *o, struct sync_report *rep, struct err *e);
void sync_report_free(struct sync_report *rep);

/* The plan and results as JSON (for --output json and the API). New reference. */
json_t *sync_report_json(const struct sync_report *rep);

/* Print the plan for people: grouped by kind, a summary line, colour when
 * colour is set. */
void sync_report_print(const struct sync_report *rep, FILE *out, bool colour);

/* ---- the event path (issue 4) ---- */

/* Take the reconcile lock on c without waiting: 1 taken, 0 held by someone
 * else (a full reconcile runs), -1 with e. Release with sync_unlock(). */
int sync_lock_try(PGconn *c, struct err *e);
void sync_unlock(PGconn *c);

struct sync_users_in {
	const char *const *user_ids;    /* Okta ids whose mirror rows changed */
	const char *const *user_emails; /* their emails (parallel to user_ids; NULL entries allowed) */
	size_t n;
	const char *const *emails;      /* more Sentry emails to look at (an old email after a change) */
	size_t nemails;
	const char *trigger;            /* sync_runs.trigger: "event" (default) or "access" */
	const char *actor;              /* audit actor: "okta-event" (default) or "access" */
};

struct sentry_client;

/*
 * Reconcile a few users from the mirrors (the Okta mirror already updated
 * from their events): the policy's plan for them (without the
 * whole-organisation guards), removals and demotions beyond what
 * sync.guards allow over sync.guards.event_window held back as "refused",
 * applied with the same code as a full reconcile, recorded as a run with
 * trigger "event" (only when there is a change), an audit entry per
 * applied or refused change, and the Sentry mirror brought up to date.
 * The caller holds the reconcile lock on c. 0 (rep filled; run_id 0 when
 * there was nothing to change) or -1 with e (database). Free rep with
 * sync_report_free().
 */
int sync_users(struct ctx *ctx, PGconn *c, struct sentry_client *sc, const struct sync_users_in *in,
	       struct sync_report *rep, struct err *e);

/* Queue a reconcile job ("sync.reconcile") with a new queued sync_runs row;
 * *run_id gets its id. 0 or -1. */
int sync_enqueue(struct ctx *ctx, bool dry_run, const char *trigger, int64_t *run_id, struct err *e);

/* The job handler of "sync.reconcile" and the scheduled task "sync". */
int sync_register(struct ctx *ctx, struct jobs *q, struct sched *s);

#endif
