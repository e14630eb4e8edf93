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
	size_t applied, failed, requested, skipped;
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

/* Queue a reconcile job ("sync.reconcile") with a new queued sync_runs row;
 * *run_id gets its id. 0 or -1. */
int sync_enqueue(struct ctx *ctx, bool dry_run, const char *trigger, int64_t *run_id, struct err *e);

/* The job handler of "sync.reconcile" and the scheduled task "sync". */
int sync_register(struct ctx *ctx, struct jobs *q, struct sched *s);

#endif
