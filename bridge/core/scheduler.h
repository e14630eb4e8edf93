/*
 * scheduler.h: leader-elected periodic tasks.
 *
 * Exactly one replica (the holder of a PostgreSQL session advisory lock,
 * taken on a dedicated connection) runs scheduled tasks. If that replica
 * dies or loses its connection the lock is released and another takes over
 * within a tick. When each task last ran is kept in `schedule_state`, so a
 * new leader keeps the rhythm. Tasks should be quick: typically they queue
 * a job (with a dedupe key), and the job queue does the work on any replica.
 */
#ifndef SB_CORE_SCHEDULER_H
#define SB_CORE_SCHEDULER_H

#include "ctx.h"
#include "err.h"

#include <stdint.h>

/* A task: 0 when done, -1 with e filled on failure (it is retried at the
 * next interval and the failure is logged). */
typedef int (*sched_fn)(struct ctx *ctx, void *arg, struct err *e);

struct sched;

/* A scheduler using base's logger, metrics and pool; conninfo is used for
 * the dedicated leader-lock connection (copied). Free with sched_free(). */
struct sched *sched_new(const struct ctx *base, const char *conninfo, const char *replica);
void sched_free(struct sched *s);

/* Run fn every interval_ms on the leader. Before sched_start(). 0 or -1. */
int sched_add(struct sched *s, const char *name, int64_t interval_ms, sched_fn fn, void *arg);

/* Start and stop the scheduler thread. */
int sched_start(struct sched *s, struct err *e);
void sched_stop(struct sched *s);

/* Whether this replica currently holds leadership. */
int sched_is_leader(const struct sched *s);

#endif
