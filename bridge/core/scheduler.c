/*
 * scheduler.c: leader-elected periodic tasks (see scheduler.h).
 */
#include "scheduler.h"

#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock key for leadership ("sb-lead"). */
#define SCHED_LOCK_KEY "7306247"
#define SCHED_TICK_MS 1000

struct task {
	char *name;
	int64_t interval_ms;
	sched_fn fn;
	void *arg;
};

struct sched {
	struct ctx base;
	char *conninfo;
	char *replica;
	struct task *tasks;
	size_t ntasks;
	pthread_t thread;
	int started;
	volatile int stop;
	atomic_int leader;
};

struct sched *sched_new(const struct ctx *base, const char *conninfo, const char *replica)
{
	struct sched *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = *base;
	s->conninfo = strdup(conninfo);
	s->replica = strdup(replica ? replica : "sentry-bridge");
	if (!s->conninfo || !s->replica) {
		sched_free(s);
		return NULL;
	}
	metrics_describe(base->metrics, "sb_leader", METRIC_GAUGE,
			 "1 when this replica holds the scheduler leadership, else 0.");
	metrics_describe(base->metrics, "sb_scheduled_runs_total", METRIC_COUNTER,
			 "Scheduled task runs on this replica, by task and result.");
	metrics_set(base->metrics, "sb_leader", 0, NULL);
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntasks; i++)
		free(s->tasks[i].name);
	free(s->tasks);
	free(s->conninfo);
	free(s->replica);
	free(s);
}

int sched_add(struct sched *s, const char *name, int64_t interval_ms, sched_fn fn, void *arg)
{
	if (interval_ms < 1000)
		return -1;
	struct task *t = realloc(s->tasks, (s->ntasks + 1) * sizeof *t);
	if (!t)
		return -1;
	s->tasks = t;
	t[s->ntasks].name = strdup(name);
	if (!t[s->ntasks].name)
		return -1;
	t[s->ntasks].interval_ms = interval_ms;
	t[s->ntasks].fn = fn;
	t[s->ntasks].arg = arg;
	s->ntasks++;
	return 0;
}

int sched_is_leader(const struct sched *s)
{
	return s && atomic_load(&((struct sched *)s)->leader);
}

/* Run each task that is due. Due-ness is decided in the database, under the
 * leader lock, so a task never runs twice for one interval across replicas. */
static void run_due(struct sched *s, PGconn *c)
{
	for (size_t i = 0; i < s->ntasks && !s->stop; i++) {
		struct task *t = &s->tasks[i];
		char iv[32];
		snprintf(iv, sizeof iv, "%lld", (long long)t->interval_ms);
		const char *p[] = {t->name, iv, s->replica};
		struct err e;
		err_clear(&e);
		PGresult *r = db_exec(c,
				      "INSERT INTO schedule_state (name, last_run_at, last_replica) VALUES ($1, now(), $3)"
				      " ON CONFLICT (name) DO UPDATE SET last_run_at = now(), last_replica = $3"
				      " WHERE schedule_state.last_run_at <= now() - $2::bigint * interval '1 millisecond'"
				      " RETURNING name",
				      3, p, &e);
		if (!r) {
			log_warn(s->base.log, "sched", NULL, "cannot read the schedule", "error", e.msg, NULL);
			return;
		}
		int due = PQntuples(r) == 1;
		PQclear(r);
		if (!due)
			continue;
		char run_id[96];
		snprintf(run_id, sizeof run_id, "sched-%s", t->name);
		struct ctx ctx = s->base;
		ctx.request_id = run_id;
		int rc = t->fn(&ctx, t->arg, &e);
		metrics_add(s->base.metrics, "sb_scheduled_runs_total", 1, "task", t->name, "result",
			    rc ? "error" : "ok", NULL);
		if (rc)
			log_warn(s->base.log, "sched", run_id, "scheduled task failed", "task", t->name, "error",
				 e.msg, NULL);
	}
}

static void set_leader(struct sched *s, int on)
{
	if (atomic_exchange(&s->leader, on) != on) {
		metrics_set(s->base.metrics, "sb_leader", on, NULL);
		log_info(s->base.log, "sched", NULL, on ? "this replica is now the scheduler leader"
							: "this replica is no longer the scheduler leader",
			 "replica", s->replica, NULL);
	}
}

static void *sched_main(void *arg)
{
	struct sched *s = arg;
	PGconn *c = NULL;
	while (!s->stop) {
		struct err e;
		err_clear(&e);
		if (c && PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
			set_leader(s, 0);
		}
		if (!c)
			c = db_connect(s->conninfo, 5000, &e);
		if (c && !atomic_load(&s->leader)) {
			PGresult *r = db_exec(c, "SELECT pg_try_advisory_lock(" SCHED_LOCK_KEY ")", 0, NULL, &e);
			if (r) {
				set_leader(s, PQgetvalue(r, 0, 0)[0] == 't');
				PQclear(r);
			} else {
				PQfinish(c);
				c = NULL;
			}
		}
		if (c && atomic_load(&s->leader))
			run_due(s, c);
		clock_sleep_ms(SCHED_TICK_MS, &s->stop);
	}
	if (c)
		PQfinish(c); /* releases the session lock */
	set_leader(s, 0);
	return NULL;
}

int sched_start(struct sched *s, struct err *e)
{
	s->stop = 0;
	if (pthread_create(&s->thread, NULL, sched_main, s))
		return err_set(e, -1, "cannot start the scheduler thread");
	s->started = 1;
	return 0;
}

void sched_stop(struct sched *s)
{
	if (!s || !s->started)
		return;
	s->stop = 1;
	pthread_join(s->thread, NULL);
	s->started = 0;
}
