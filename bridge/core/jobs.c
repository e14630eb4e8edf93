/*
 * jobs.c: durable job queue and workers (see jobs.h).
 */
#include "jobs.h"

#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define JOBS_NOTIFY_CHANNEL "sb_jobs"

struct handler {
	char *kind;
	job_fn fn;
	void *arg;
};

struct jobs {
	struct ctx base;
	struct jobs_opts o;
	char *replica;
	char *conninfo;
	struct handler *handlers;
	size_t nhandlers;
	char *kinds_array; /* {"a","b"} text[] literal of registered kinds */
	pthread_t *threads;
	int nthreads;
	pthread_t listener;
	int listener_started;
	volatile int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned wake_seq;
};

int64_t jobs_backoff_ms(int attempt, int64_t base, int64_t max, uint64_t rnd)
{
	if (attempt < 1)
		attempt = 1;
	if (base < 1)
		base = 1;
	if (max < base)
		max = base;
	int64_t d = base;
	for (int i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	int64_t half = d / 2;
	return d - half + (half > 0 ? (int64_t)(rnd % (uint64_t)(half + 1)) : 0);
}

struct jobs *jobs_new(const struct ctx *base, const struct jobs_opts *o)
{
	struct jobs *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->base = *base;
	q->o = *o;
	q->replica = strdup(o->replica ? o->replica : "sentry-bridge");
	q->conninfo = o->conninfo ? strdup(o->conninfo) : NULL;
	if (!q->replica || (o->conninfo && !q->conninfo)) {
		free(q->replica);
		free(q->conninfo);
		free(q);
		return NULL;
	}
	if (q->o.workers < 1)
		q->o.workers = 1;
	if (q->o.max_attempts < 1)
		q->o.max_attempts = 8;
	if (q->o.poll_interval_ms < 10)
		q->o.poll_interval_ms = 1000;
	if (q->o.lease_ms < 1000)
		q->o.lease_ms = 300000;
	if (q->o.backoff_base_ms < 1)
		q->o.backoff_base_ms = 1000;
	if (q->o.backoff_max_ms < q->o.backoff_base_ms)
		q->o.backoff_max_ms = q->o.backoff_base_ms;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	struct metrics *m = base->metrics;
	metrics_describe(m, "sb_jobs_total", METRIC_COUNTER, "Jobs run, by kind and result (done, retry, dead).");
	metrics_describe(m, "sb_job_duration_seconds", METRIC_HISTOGRAM, "Time spent in job handlers, by kind.");
	metrics_describe(m, "sb_jobs", METRIC_GAUGE, "Jobs in the queue, by status (queued, running, dead).");
	metrics_describe(m, "sb_jobs_oldest_ready_seconds", METRIC_GAUGE,
			 "Age of the oldest job that is ready to run (queue lag).");
	return q;
}

void jobs_free(struct jobs *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nhandlers; i++)
		free(q->handlers[i].kind);
	free(q->handlers);
	free(q->kinds_array);
	free(q->threads);
	free(q->replica);
	free(q->conninfo);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

/* Rebuild the text[] literal of registered kinds. Kinds are our own
 * identifiers ([a-z0-9._-]), checked at registration, so no escaping is
 * needed; the literal is still passed as a parameter, never spliced. */
static int rebuild_kinds(struct jobs *q)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "{");
	for (size_t i = 0; i < q->nhandlers; i++)
		buf_printf(&b, "%s\"%s\"", i ? "," : "", q->handlers[i].kind);
	buf_puts(&b, "}");
	free(q->kinds_array);
	q->kinds_array = buf_take(&b);
	return q->kinds_array ? 0 : -1;
}

int jobs_register(struct jobs *q, const char *kind, job_fn fn, void *arg)
{
	if (!kind || !*kind || strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(kind))
		return -1;
	struct handler *h = realloc(q->handlers, (q->nhandlers + 1) * sizeof *h);
	if (!h)
		return -1;
	q->handlers = h;
	h[q->nhandlers].kind = strdup(kind);
	if (!h[q->nhandlers].kind)
		return -1;
	h[q->nhandlers].fn = fn;
	h[q->nhandlers].arg = arg;
	q->nhandlers++;
	return rebuild_kinds(q);
}

int jobs_enqueue(PGconn *conn, const struct job_spec *s, int64_t *id, struct err *e)
{
	if (id)
		*id = 0;
	if (!s->kind || !*s->kind)
		return err_set(e, -1, "job kind is required");
	char delay[32], maxa[16], prio[16];
	snprintf(delay, sizeof delay, "%lld", (long long)(s->delay_ms > 0 ? s->delay_ms : 0));
	snprintf(maxa, sizeof maxa, "%d", s->max_attempts > 0 ? s->max_attempts : 0);
	snprintf(prio, sizeof prio, "%d", s->priority);
	const char *p[] = {s->kind, s->payload ? s->payload : "{}", s->dedupe_key, delay, maxa, prio};
	/* max_attempts 0 means "the queue default", resolved by the worker
	 * (stored as 0 and read as default). */
	PGresult *r = db_exec(conn,
			      "WITH ins AS ("
			      " INSERT INTO jobs (kind, payload, dedupe_key, run_at, max_attempts, priority)"
			      " VALUES ($1, $2::jsonb, $3, now() + $4::bigint * interval '1 millisecond', $5::int, $6::int)"
			      " ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running')"
			      " DO NOTHING RETURNING id)"
			      " SELECT id, pg_notify('" JOBS_NOTIFY_CHANNEL "', $1) FROM ins",
			      6, p, e);
	if (!r)
		return -1;
	if (PQntuples(r) == 1 && id)
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int jobs_replay(PGconn *conn, int64_t id, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *p[] = {ids};
	PGresult *r = db_exec(conn,
			      "WITH upd AS ("
			      " UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), updated_at = now(),"
			      " finished_at = NULL, locked_by = NULL, lease_until = NULL"
			      " WHERE id = $1::bigint AND status = 'dead' RETURNING kind)"
			      " SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', kind) FROM upd",
			      1, p, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	PQclear(r);
	return n > 0;
}

json_t *jobs_list(PGconn *conn, const char *status, int limit, struct err *e)
{
	char lim[16];
	snprintf(lim, sizeof lim, "%d", limit > 0 && limit <= 1000 ? limit : 100);
	const char *p[] = {status, lim};
	PGresult *r = db_exec(conn,
			      "SELECT coalesce(json_agg(j ORDER BY j.id DESC), '[]')::text FROM ("
			      " SELECT id, kind, payload, dedupe_key, status, priority, attempts, max_attempts,"
			      " run_at, locked_by, lease_until, last_error, created_at, updated_at, finished_at"
			      " FROM jobs WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2::int) j",
			      2, p, e);
	if (!r)
		return NULL;
	json_error_t je;
	json_t *out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
	PQclear(r);
	if (!out)
		err_set(e, -1, "decoding job list: %s", je.text);
	return out;
}

static const struct handler *find_handler(const struct jobs *q, const char *kind)
{
	for (size_t i = 0; i < q->nhandlers; i++)
		if (!strcmp(q->handlers[i].kind, kind))
			return &q->handlers[i];
	return NULL;
}

static uint64_t rnd64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint64_t)clock_mono_ns();
	return v;
}

/* Record the outcome of a claimed job. */
static void complete(struct jobs *q, int64_t id, const char *kind, int attempt, int max_attempts,
		     enum job_result res, const char *error)
{
	struct err e;
	err_clear(&e);
	char ids[32], delay[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *result = "done";
	const char *sql;
	int dead = res == JOB_FAIL || (res == JOB_RETRY && attempt >= max_attempts);
	if (res == JOB_DONE) {
		sql = "UPDATE jobs SET status = 'done', finished_at = now(), updated_at = now(), last_error = NULL,"
		      " lease_until = NULL WHERE id = $1::bigint AND locked_by = $2";
	} else if (dead) {
		result = "dead";
		sql = "UPDATE jobs SET status = 'dead', finished_at = now(), updated_at = now(), last_error = $3,"
		      " lease_until = NULL WHERE id = $1::bigint AND locked_by = $2";
	} else {
		result = "retry";
		sql = "UPDATE jobs SET status = 'queued', updated_at = now(), last_error = $3, lease_until = NULL,"
		      " run_at = now() + $4::bigint * interval '1 millisecond'"
		      " WHERE id = $1::bigint AND locked_by = $2";
	}
	snprintf(delay, sizeof delay, "%lld",
		 (long long)jobs_backoff_ms(attempt, q->o.backoff_base_ms, q->o.backoff_max_ms, rnd64()));
	const char *p[] = {ids, q->replica, error ? error : "", delay};
	int np = res == JOB_DONE ? 2 : dead ? 3 : 4;
	/* The completion must land: retry briefly if the database blipped.
	 * If it never lands, the lease expires and the job runs again, which
	 * handlers tolerate (they are idempotent). */
	for (int tries = 0; tries < 5 && (tries == 0 || !q->stop); tries++) {
		PGconn *c = db_acquire(q->base.db, 5000, &e);
		if (c) {
			int rc = db_run(c, sql, np, p, &e);
			db_release(q->base.db, c);
			if (!rc)
				break;
		}
		clock_sleep_ms(200 * (tries + 1), NULL);
	}
	metrics_add(q->base.metrics, "sb_jobs_total", 1, "kind", kind, "result", result, NULL);
	if (dead)
		log_error(q->base.log, "jobs", NULL, "job failed for good and is parked as dead", "#id", ids, "kind",
			  kind, "error", error ? error : "", NULL);
	else if (res == JOB_RETRY)
		log_warn(q->base.log, "jobs", NULL, "job failed, will retry", "#id", ids, "kind", kind, "error",
			 error ? error : "", "#retry_in_ms", delay, NULL);
}

int jobs_run_one(struct jobs *q, int *ran, struct err *e)
{
	*ran = 0;
	if (!q->nhandlers)
		return 0;
	PGconn *c = db_acquire(q->base.db, 5000, e);
	if (!c)
		return -1;
	char lease[32];
	snprintf(lease, sizeof lease, "%lld", (long long)q->o.lease_ms);
	const char *p[] = {q->replica, lease, q->kinds_array};
	PGresult *r = db_exec(c,
			      "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1,"
			      " lease_until = now() + $2::bigint * interval '1 millisecond', updated_at = now()"
			      " WHERE id = (SELECT id FROM jobs"
			      "  WHERE kind = ANY($3::text[]) AND ((status = 'queued' AND run_at <= now())"
			      "   OR (status = 'running' AND lease_until < now()))"
			      "  ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
			      " RETURNING id, kind, payload::text, attempts, max_attempts",
			      3, p, e);
	db_release(q->base.db, c);
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	struct job job = {
		.id = strtoll(PQgetvalue(r, 0, 0), NULL, 10),
		.kind = PQgetvalue(r, 0, 1),
		.payload = PQgetvalue(r, 0, 2),
		.attempt = atoi(PQgetvalue(r, 0, 3)),
		.max_attempts = atoi(PQgetvalue(r, 0, 4)),
	};
	if (job.max_attempts <= 0)
		job.max_attempts = q->o.max_attempts;
	*ran = 1;
	const struct handler *h = find_handler(q, job.kind);
	char run_id[48];
	snprintf(run_id, sizeof run_id, "job-%lld", (long long)job.id);
	struct ctx ctx = q->base;
	ctx.request_id = run_id;
	struct err je;
	err_clear(&je);
	int64_t t0 = clock_mono_ns();
	enum job_result res = h ? h->fn(&ctx, &job, h->arg, &je) : JOB_RETRY;
	if (!h)
		err_set(&je, -1, "no handler for job kind %s", job.kind);
	metrics_observe(q->base.metrics, "sb_job_duration_seconds", (double)(clock_mono_ns() - t0) / 1e9, "kind",
			job.kind, NULL);
	if (res != JOB_DONE && !je.msg[0])
		snprintf(je.msg, sizeof je.msg, "handler reported failure without detail");
	complete(q, job.id, job.kind, job.attempt, job.max_attempts, res, res == JOB_DONE ? NULL : je.msg);
	PQclear(r);
	return 0;
}

static void wake_all(struct jobs *q)
{
	pthread_mutex_lock(&q->mu);
	q->wake_seq++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void wait_for_work(struct jobs *q, unsigned seen)
{
	pthread_mutex_lock(&q->mu);
	if (q->wake_seq == seen && !q->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (q->o.poll_interval_ms % 1000) * 1000000;
		ts.tv_sec += (time_t)(q->o.poll_interval_ms / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
	}
	pthread_mutex_unlock(&q->mu);
}

static void *worker_main(void *arg)
{
	struct jobs *q = arg;
	int64_t err_backoff = 100;
	while (!q->stop) {
		pthread_mutex_lock(&q->mu);
		unsigned seen = q->wake_seq;
		pthread_mutex_unlock(&q->mu);
		int ran = 0;
		struct err e;
		err_clear(&e);
		if (jobs_run_one(q, &ran, &e)) {
			log_warn(q->base.log, "jobs", NULL, "cannot claim jobs", "error", e.msg, NULL);
			clock_sleep_ms(err_backoff, &q->stop);
			err_backoff = err_backoff * 2 > 10000 ? 10000 : err_backoff * 2;
			continue;
		}
		err_backoff = 100;
		if (!ran)
			wait_for_work(q, seen);
	}
	return NULL;
}

/* LISTEN for enqueue notifications and wake the workers; reconnect with
 * backoff when the connection drops. Also refreshes queue metrics. */
static void *listener_main(void *arg)
{
	struct jobs *q = arg;
	PGconn *c = NULL;
	int64_t backoff = 200, next_metrics = 0;
	while (!q->stop) {
		if (!c) {
			struct err e;
			err_clear(&e);
			c = q->conninfo ? db_connect(q->conninfo, 5000, &e) : NULL;
			if (c && db_run(c, "LISTEN " JOBS_NOTIFY_CHANNEL, 0, NULL, &e)) {
				PQfinish(c);
				c = NULL;
			}
			if (!c) {
				wake_all(q); /* workers keep polling meanwhile */
				clock_sleep_ms(backoff, &q->stop);
				backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
				continue;
			}
			backoff = 200;
		}
		if (clock_mono_ms() >= next_metrics) {
			jobs_refresh_metrics(q, NULL);
			next_metrics = clock_mono_ms() + 5000;
		}
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		int pr = poll(&pfd, 1, 200);
		if (pr < 0)
			continue;
		if (pr > 0) {
			if (!PQconsumeInput(c)) {
				PQfinish(c);
				c = NULL;
				continue;
			}
			int got = 0;
			PGnotify *n;
			while ((n = PQnotifies(c))) {
				got = 1;
				PQfreemem(n);
			}
			if (got)
				wake_all(q);
		}
	}
	if (c)
		PQfinish(c);
	return NULL;
}

int jobs_refresh_metrics(struct jobs *q, struct err *e)
{
	PGconn *c = db_acquire(q->base.db, 1000, e);
	if (!c)
		return -1;
	PGresult *r = db_exec(c,
			      "SELECT s.status, count(j.id),"
			      " coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.run_at <= now())), 0)"
			      " FROM (VALUES ('queued'), ('running'), ('dead')) s(status)"
			      " LEFT JOIN jobs j ON j.status = s.status GROUP BY s.status",
			      0, NULL, e);
	db_release(q->base.db, c);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *st = PQgetvalue(r, i, 0);
		metrics_set(q->base.metrics, "sb_jobs", atof(PQgetvalue(r, i, 1)), "status", st, NULL);
		if (!strcmp(st, "queued"))
			metrics_set(q->base.metrics, "sb_jobs_oldest_ready_seconds", atof(PQgetvalue(r, i, 2)), NULL);
	}
	PQclear(r);
	return 0;
}

int jobs_start(struct jobs *q, struct err *e)
{
	q->threads = calloc((size_t)q->o.workers, sizeof *q->threads);
	if (!q->threads)
		return err_set(e, -1, "out of memory");
	q->stop = 0;
	if (pthread_create(&q->listener, NULL, listener_main, q))
		return err_set(e, -1, "cannot start the job listener thread");
	q->listener_started = 1;
	for (int i = 0; i < q->o.workers; i++) {
		if (pthread_create(&q->threads[i], NULL, worker_main, q)) {
			jobs_stop(q);
			return err_set(e, -1, "cannot start job worker threads");
		}
		q->nthreads++;
	}
	return 0;
}

void jobs_stop(struct jobs *q)
{
	if (!q)
		return;
	q->stop = 1;
	wake_all(q);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
	if (q->listener_started)
		pthread_join(q->listener, NULL);
	q->listener_started = 0;
}
