/*
 * jobs.h: the durable job queue in PostgreSQL, and the workers that run it.
 *
 * A job is a row in `jobs` with a kind, a JSON payload and a schedule.
 * Enqueueing joins the caller's transaction (so "store the webhook and
 * queue its processing" commits or fails as one) and wakes the workers once
 * it has committed: in the process that runs them, one idle worker at once
 * and the other replicas by one coalesced NOTIFY from the listener; in a
 * process without workers (the CLI), by a NOTIFY in the transaction.
 * Workers claim one job at a time with FOR UPDATE SKIP LOCKED under a lease:
 * several replicas share the queue and a job whose worker died is claimed
 * again when its lease runs out. A failing job is retried with exponential
 * backoff and jitter; after max_attempts it is parked as `dead`, where
 * operators see it (GET /api/v1/jobs?status=dead) and replay it.
 *
 * Handlers must be idempotent: a job can run more than once (a crash
 * between the work and the completion update, a lease that expired).
 */
#ifndef SB_CORE_JOBS_H
#define SB_CORE_JOBS_H

#include "ctx.h"
#include "err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

enum job_result {
	JOB_DONE = 0,  /* finished */
	JOB_RETRY = 1, /* failed for now: retry with backoff (dead after max_attempts) */
	JOB_FAIL = 2,  /* failed for good: dead at once */
};

struct job {
	int64_t id;
	const char *kind;
	const char *payload;   /* JSON text */
	int attempt;           /* 1 for the first run */
	int max_attempts;
};

/* A handler. ctx carries the run id (job-<id>). Fill e when not JOB_DONE. */
typedef enum job_result (*job_fn)(struct ctx *ctx, const struct job *job, void *arg, struct err *e);

struct job_spec {
	const char *kind;       /* required */
	const char *payload;    /* JSON object text; NULL means {} */
	const char *dedupe_key; /* optional: no second queued/running job with the same kind+key */
	int64_t delay_ms;       /* run no earlier than now + delay */
	int max_attempts;       /* 0: the queue's default */
	int priority;           /* higher runs first */
};

struct jobs_opts {
	int workers;              /* shared worker threads (kinds with their own: jobs_limit) */
	int max_attempts;         /* default for jobs that do not set one */
	int64_t backoff_base_ms;
	int64_t backoff_max_ms;
	int64_t poll_interval_ms; /* how often idle workers look without a NOTIFY */
	int64_t lease_ms;         /* how long a claim holds before others may retake it */
	const char *replica;      /* this process's name in locked_by (copied) */
	const char *conninfo;     /* for the LISTEN connection (copied) */
};

struct jobs;

/* A queue runner using base's logger, metrics and pool. Caller frees with
 * jobs_free() (after jobs_stop()). */
struct jobs *jobs_new(const struct ctx *base, const struct jobs_opts *o);
void jobs_free(struct jobs *q);

/* Register the handler of a kind before jobs_start(). Workers claim only
 * kinds they have handlers for. 0 or -1. */
int jobs_register(struct jobs *q, const char *kind, job_fn fn, void *arg);

/* Before jobs_start(): run a registered kind on `threads` workers of its
 * own, and no longer on the shared ones (0: back to the shared workers).
 * So at most that many of its jobs run at once in this process, and a
 * backlog of it never delays the other kinds. For kinds that are database
 * work only, where more at once than the machine has cores slows everything
 * else, above all the webhook intake. 0, or -1 when the kind is not
 * registered or there are too many such kinds (15). */
int jobs_limit(struct jobs *q, const char *kind, int threads);

/* Before jobs_start(), for a kind with workers of its own (jobs_limit):
 * claim up to n of its ready jobs at once (default 1). They still run one
 * by one, oldest first, each with its own outcome; the claim and the
 * completion of the done ones are one statement each per batch instead of
 * per job. 0, or -1 when the kind is not registered. */
int jobs_batch(struct jobs *q, const char *kind, int n);

/* Start the worker threads and the NOTIFY listener. 0 or -1 with e. */
int jobs_start(struct jobs *q, struct err *e);

/* Ask workers to stop, let running handlers finish, join the threads. */
void jobs_stop(struct jobs *q);

/* Claim and run at most one ready job on the calling thread; *ran tells
 * whether one ran. For tests and one-shot CLI use. 0 or -1 with e. */
int jobs_run_one(struct jobs *q, int *ran, struct err *e);

/* Queue a job on conn, inside the caller's transaction if one is open.
 * *id gets the new id, or 0 when an equal dedupe_key was already waiting.
 * 0 or -1 with e. */
int jobs_enqueue(PGconn *conn, const struct job_spec *spec, int64_t *id, struct err *e);

/* Wake workers for a job of kind that a statement on conn queued (called by
 * jobs_enqueue; for statements that insert into jobs themselves, such as
 * inbox_store). 0 or -1 with e. */
int jobs_wake_on_commit(PGconn *conn, const char *kind, struct err *e);

/* For statements that insert into jobs themselves: the column list, and the
 * conflict clause that makes dedupe_key work. */
#define JOBS_INSERT "INSERT INTO jobs (kind, payload, dedupe_key, run_at, max_attempts, priority)"
#define JOBS_DEDUPE_CONFLICT                                                                                   \
	" ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running')"      \
	" DO NOTHING"

/* Put a dead job back in the queue with a fresh attempt count.
 * Returns 1 when replayed, 0 when no dead job has that id, -1 on error. */
int jobs_replay(PGconn *conn, int64_t id, struct err *e);

/* Jobs with the given status (NULL: any), newest first, at most limit.
 * Returns a new JSON array or NULL with e filled. */
json_t *jobs_list(PGconn *conn, const char *status, int limit, struct err *e);

/* Count jobs per status into the gauge sb_jobs{status} and the age of the
 * oldest ready job into sb_jobs_oldest_ready_seconds. 0 or -1. */
int jobs_refresh_metrics(struct jobs *q, struct err *e);

/* Backoff before retry number `attempt` (1-based): base*2^(attempt-1)
 * capped at max, then "equal jitter": half fixed, half from rnd. Pure. */
int64_t jobs_backoff_ms(int attempt, int64_t base, int64_t max, uint64_t rnd);

#endif
