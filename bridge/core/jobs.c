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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#define JOBS_NOTIFY_CHANNEL "sb_jobs"

#define JOBS_GROUPS_MAX 16

struct handler {
	char *kind;
	job_fn fn;
	void *arg;
	int threads; /* 0: run by the shared workers; else by this many of its own */
	int batch;   /* with threads of its own: jobs claimed at once (1) */
	int group;   /* index in jobs.groups (set by jobs_start) */
};

/* Workers that claim the same kinds: the shared workers (group 0) and one
 * group per kind with threads of its own (jobs_limit). */
struct group {
	char *kinds;      /* {"a","b"} text[] literal of its kinds */
	int threads;
	int batch;        /* jobs claimed at once (jobs_batch; 1 for the shared workers) */
	unsigned tokens;  /* wake-ups not yet taken by a worker (under jobs.mu) */
	pthread_cond_t cv;
};

struct worker_arg {
	struct jobs *q;
	int group;
};

struct jobs {
	struct ctx base;
	struct jobs_opts o;
	char *replica;
	char *conninfo;
	struct handler *handlers;
	size_t nhandlers;
	char *kinds_array; /* {"a","b"} text[] literal of registered kinds */
	struct group groups[JOBS_GROUPS_MAX];
	int ngroups;
	pthread_t *threads;
	struct worker_arg *wargs;
	int nthreads;
	pthread_t listener;
	int listener_started;
	volatile int stop;
	pthread_mutex_t mu;
	struct db_commit_hook hook; /* jobs_kick(), run after a commit that queued work */
	int kick_fd;                /* eventfd: kicks the listener to NOTIFY other replicas */
	_Atomic unsigned kicks;     /* kicks since the listener's last NOTIFY */
};

/* The queue whose workers run in this process (for jobs_wake_on_commit). */
static struct jobs *_Atomic active_queue;

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
	for (int g = 0; g < JOBS_GROUPS_MAX; g++)
		pthread_cond_init(&q->groups[g].cv, NULL);
	q->kick_fd = -1;
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
	for (int g = 0; g < JOBS_GROUPS_MAX; g++) {
		free(q->groups[g].kinds);
		pthread_cond_destroy(&q->groups[g].cv);
	}
	free(q->threads);
	free(q->wargs);
	free(q->replica);
	free(q->conninfo);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/* The text[] literal of the registered kinds of group g (-1: all). Kinds
 * are our own identifiers ([a-z0-9._-]), checked at registration, so no
 * escaping is needed; the literal is still passed as a parameter, never
 * spliced. Caller frees. */
static char *kinds_literal(const struct jobs *q, int g)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "{");
	int n = 0;
	for (size_t i = 0; i < q->nhandlers; i++)
		if (g < 0 || q->handlers[i].group == g)
			buf_printf(&b, "%s\"%s\"", n++ ? "," : "", q->handlers[i].kind);
	buf_puts(&b, "}");
	return buf_take(&b);
}

static int rebuild_kinds(struct jobs *q)
{
	free(q->kinds_array);
	q->kinds_array = kinds_literal(q, -1);
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
	h[q->nhandlers].threads = 0;
	h[q->nhandlers].batch = 1;
	h[q->nhandlers].group = 0;
	q->nhandlers++;
	return rebuild_kinds(q);
}

int jobs_limit(struct jobs *q, const char *kind, int threads)
{
	int dedicated = 0;
	for (size_t i = 0; i < q->nhandlers; i++)
		dedicated += q->handlers[i].threads > 0 && strcmp(q->handlers[i].kind, kind);
	for (size_t i = 0; i < q->nhandlers; i++)
		if (!strcmp(q->handlers[i].kind, kind)) {
			if (threads > 0 && dedicated + 1 >= JOBS_GROUPS_MAX)
				return -1;
			q->handlers[i].threads = threads > 0 ? threads : 0;
			return 0;
		}
	return -1;
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
			      " " JOBS_INSERT
			      " VALUES ($1, $2::jsonb, $3, now() + $4::bigint * interval '1 millisecond', $5::int, $6::int)"
			      JOBS_DEDUPE_CONFLICT " RETURNING id)"
			      " SELECT id FROM ins",
			      6, p, e);
	if (!r)
		return -1;
	int queued = PQntuples(r) == 1;
	if (queued && id)
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return queued ? jobs_wake_on_commit(conn, s->kind, e) : 0;
}

int jobs_batch(struct jobs *q, const char *kind, int n)
{
	for (size_t i = 0; i < q->nhandlers; i++)
		if (!strcmp(q->handlers[i].kind, kind)) {
			q->handlers[i].batch = n > 1 ? (n < 1000 ? n : 1000) : 1;
			return 0;
		}
	return -1;
}

/* The bit of the group that runs kind here; 0 when no worker here does. */
static unsigned group_mask(const struct jobs *q, const char *kind)
{
	for (size_t i = 0; q && i < q->nhandlers; i++)
		if (!strcmp(q->handlers[i].kind, kind))
			return 1u << q->handlers[i].group;
	return 0;
}

int jobs_wake_on_commit(PGconn *conn, const char *kind, struct err *e)
{
	if (db_on_commit(conn, group_mask(atomic_load(&active_queue), kind)))
		return 0;
	const char *p[] = {kind};
	return db_run(conn, "SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', $1)", 1, p, e);
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

/* Record the outcome of n claimed jobs of one kind, ids a bigint[] literal
 * ("{12,13}"): done, or (n = 1) retry or dead. */
static void complete(struct jobs *q, const char *ids, int n, const char *kind, int attempt, int max_attempts,
		     enum job_result res, const char *error)
{
	struct err e;
	err_clear(&e);
	char delay[32];
	const char *result = "done";
	const char *sql;
	int dead = res == JOB_FAIL || (res == JOB_RETRY && attempt >= max_attempts);
	if (res == JOB_DONE) {
		sql = "UPDATE jobs SET status = 'done', finished_at = now(), updated_at = now(), last_error = NULL,"
		      " lease_until = NULL WHERE id = ANY($1::bigint[]) AND locked_by = $2";
	} else if (dead) {
		result = "dead";
		sql = "UPDATE jobs SET status = 'dead', finished_at = now(), updated_at = now(), last_error = $3,"
		      " lease_until = NULL WHERE id = ANY($1::bigint[]) AND locked_by = $2";
	} else {
		result = "retry";
		sql = "UPDATE jobs SET status = 'queued', updated_at = now(), last_error = $3, lease_until = NULL,"
		      " run_at = now() + $4::bigint * interval '1 millisecond'"
		      " WHERE id = ANY($1::bigint[]) AND locked_by = $2";
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
	metrics_add(q->base.metrics, "sb_jobs_total", n, "kind", kind, "result", result, NULL);
	if (dead)
		log_error(q->base.log, "jobs", NULL, "job failed for good and is parked as dead", "id", ids, "kind",
			  kind, "error", error ? error : "", NULL);
	else if (res == JOB_RETRY)
		log_warn(q->base.log, "jobs", NULL, "job failed, will retry", "id", ids, "kind", kind, "error",
			 error ? error : "", "#retry_in_ms", delay, NULL);
}

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Claim up to batch ready jobs of kinds (a text[] literal) and run them,
 * oldest first; the done ones are completed in one statement. */
static int claim_and_run(struct jobs *q, const char *kinds, int threads, int batch, int *ran, struct err *e)
{
	*ran = 0;
	if (!strcmp(kinds, "{}"))
		return 0;
	PGconn *c = db_acquire(q->base.db, 5000, e);
	if (!c)
		return -1;
	char lease[32], cand[16], lim[16];
	snprintf(lease, sizeof lease, "%lld", (long long)q->o.lease_ms);
	snprintf(cand, sizeof cand, "%d", threads + batch);
	snprintf(lim, sizeof lim, "%d", batch);
	const char *p[] = {q->replica, lease, kinds, cand, lim};
	/* Candidates first: per kind, the first few ready jobs from
	 * jobs_ready_kind (migration 013), and jobs whose lease ran out; then
	 * the best of them that no other worker holds. A few per kind, not one,
	 * so that workers claiming at the same moment each find one. The cost
	 * does not grow with the backlog. */
	PGresult *r = db_exec(c,
			      "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1,"
			      " lease_until = now() + $2::bigint * interval '1 millisecond', updated_at = now()"
			      " WHERE id IN (SELECT j.id FROM jobs j WHERE j.id = ANY(ARRAY("
			      "   SELECT c.id FROM unnest($3::text[]) k(kind) CROSS JOIN LATERAL ("
			      "    SELECT id FROM jobs WHERE jobs.kind = k.kind AND status = 'queued' AND run_at <= now()"
			      "    ORDER BY priority DESC, run_at, id LIMIT $4::int) c"
			      "   UNION ALL (SELECT id FROM jobs WHERE status = 'running' AND lease_until < now()"
			      "    AND kind = ANY($3::text[]) ORDER BY lease_until LIMIT $4::int)))"
			      "  AND ((j.status = 'queued' AND j.run_at <= now()) OR (j.status = 'running' AND j.lease_until < now()))"
			      "  ORDER BY j.priority DESC, j.run_at, j.id LIMIT $5::int FOR UPDATE SKIP LOCKED)"
			      " RETURNING id, kind, payload::text, attempts, max_attempts",
			      5, p, e);
	db_release(q->base.db, c);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n == 0) {
		PQclear(r);
		return 0;
	}
	*ran = 1;
	/* (id, row) pairs in id order: a batch runs oldest first */
	int64_t(*order)[2] = calloc((size_t)n, sizeof *order);
	struct buf done;
	buf_init(&done, 0);
	int ndone = 0;
	for (int i = 0; i < n && order; i++) {
		order[i][0] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		order[i][1] = i;
	}
	if (order)
		qsort(order, (size_t)n, sizeof *order, by_id);
	for (int k = 0; k < n; k++) {
		int i = order ? (int)order[k][1] : k;
		struct job job = {
			.id = strtoll(PQgetvalue(r, i, 0), NULL, 10),
			.kind = PQgetvalue(r, i, 1),
			.payload = PQgetvalue(r, i, 2),
			.attempt = atoi(PQgetvalue(r, i, 3)),
			.max_attempts = atoi(PQgetvalue(r, i, 4)),
		};
		if (job.max_attempts <= 0)
			job.max_attempts = q->o.max_attempts;
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
		metrics_observe(q->base.metrics, "sb_job_duration_seconds", (double)(clock_mono_ns() - t0) / 1e9,
				"kind", job.kind, NULL);
		char one[32];
		snprintf(one, sizeof one, "{%lld}", (long long)job.id);
		if (res == JOB_DONE && n > 1) {
			buf_printf(&done, "%s%lld", ndone++ ? "," : "{", (long long)job.id);
			continue;
		}
		if (res != JOB_DONE && !je.msg[0])
			snprintf(je.msg, sizeof je.msg, "handler reported failure without detail");
		complete(q, one, 1, job.kind, job.attempt, job.max_attempts, res, res == JOB_DONE ? NULL : je.msg);
	}
	if (ndone) {
		buf_puts(&done, "}");
		/* one kind per batch: batches are claimed for a kind with workers of its own */
		complete(q, buf_str(&done), ndone, PQgetvalue(r, 0, 1), 1, 1, JOB_DONE, NULL);
	}
	buf_reset(&done);
	free(order);
	PQclear(r);
	return 0;
}

int jobs_run_one(struct jobs *q, int *ran, struct err *e)
{
	*ran = 0;
	if (!q->nhandlers)
		return 0;
	return claim_and_run(q, q->kinds_array, q->o.workers, 1, ran, e);
}

/* Give group g n wake-ups (at most one per thread) and wake that many. A
 * wake-up is a token: a worker that found nothing sleeps only when none is
 * left, so a job queued while it was claiming is not missed. Waking n
 * workers, not all: at hundreds of jobs a second, waking every worker for
 * every job only multiplies the claim queries competing with the work. */
static void wake_group(struct jobs *q, int g, unsigned n)
{
	struct group *gr = &q->groups[g];
	pthread_mutex_lock(&q->mu);
	for (unsigned i = 0; i < n && gr->tokens < (unsigned)gr->threads; i++) {
		gr->tokens++;
		pthread_cond_signal(&gr->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

static void wake_all(struct jobs *q)
{
	for (int g = 0; g < q->ngroups; g++) {
		wake_group(q, g, (unsigned)q->groups[g].threads);
		pthread_mutex_lock(&q->mu);
		pthread_cond_broadcast(&q->groups[g].cv);
		pthread_mutex_unlock(&q->mu);
	}
}

/* The commit hook: a transaction that queued jobs of the groups in mask has
 * committed. Wake one worker of each now, and have the listener tell the
 * other replicas. */
static void jobs_kick(void *arg, unsigned mask)
{
	struct jobs *q = arg;
	for (int g = 0; g < q->ngroups; g++)
		if (mask & (1u << g))
			wake_group(q, g, 1);
	if (atomic_fetch_add(&q->kicks, 1) == 0 && q->kick_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(q->kick_fd, &one, sizeof one);
		(void)w; /* full (cannot be, at 2^64) or closed: the poll still runs */
	}
}

static void wait_for_work(struct jobs *q, int g)
{
	struct group *gr = &q->groups[g];
	pthread_mutex_lock(&q->mu);
	if (!gr->tokens && !q->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (q->o.poll_interval_ms % 1000) * 1000000;
		ts.tv_sec += (time_t)(q->o.poll_interval_ms / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&gr->cv, &q->mu, &ts);
	}
	if (gr->tokens)
		gr->tokens--;
	pthread_mutex_unlock(&q->mu);
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct jobs *q = wa->q;
	const struct group *gr = &q->groups[wa->group];
	int64_t err_backoff = 100;
	while (!q->stop) {
		int ran = 0;
		struct err e;
		err_clear(&e);
		if (claim_and_run(q, gr->kinds, gr->threads, gr->batch, &ran, &e)) {
			log_warn(q->base.log, "jobs", NULL, "cannot claim jobs", "error", e.msg, NULL);
			clock_sleep_ms(err_backoff, &q->stop);
			err_backoff = err_backoff * 2 > 10000 ? 10000 : err_backoff * 2;
			continue;
		}
		err_backoff = 100;
		if (!ran)
			wait_for_work(q, wa->group);
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
		struct pollfd pfd[2] = {{.fd = PQsocket(c), .events = POLLIN}, {.fd = q->kick_fd, .events = POLLIN}};
		int pr = poll(pfd, q->kick_fd >= 0 ? 2 : 1, 200);
		if (pr < 0)
			continue;
		if (pr > 0 && q->kick_fd >= 0 && (pfd[1].revents & POLLIN)) {
			/* Jobs were queued here: one NOTIFY for all of them, outside their
			 * transactions, with the count so a listener wakes that many. */
			uint64_t v;
			ssize_t rd = read(q->kick_fd, &v, sizeof v);
			(void)rd;
			unsigned n = atomic_exchange(&q->kicks, 0);
			char cnt[16];
			snprintf(cnt, sizeof cnt, "%u", n ? n : 1);
			const char *p[] = {cnt};
			struct err e;
			err_clear(&e);
			if (db_run(c, "SELECT pg_notify('" JOBS_NOTIFY_CHANNEL "', $1)", 1, p, &e)) {
				PQfinish(c);
				c = NULL;
				continue;
			}
		}
		if (pr > 0 && (pfd[0].revents & POLLIN)) {
			if (!PQconsumeInput(c)) {
				PQfinish(c);
				c = NULL;
				continue;
			}
		}
		/* Notifications may also have arrived during our own NOTIFY. */
		int self = PQbackendPID(c);
		PGnotify *n;
		while ((n = PQnotifies(c))) {
			if (n->be_pid != self) {
				/* A count from a replica's listener: wake that many in each
				 * group (its kinds are not known). A kind, from an enqueue in a
				 * process without workers (the CLI): one in its group. */
				const char *x = n->extra;
				unsigned mask = *x && strspn(x, "0123456789") != strlen(x) ? group_mask(q, x) : 0;
				long k = mask ? 1 : *x ? atol(x) : 1;
				for (int g = 0; g < q->ngroups; g++)
					if (!mask || (mask & (1u << g)))
						wake_group(q, g, k > 0 && k < 1000000 ? (unsigned)k : 1);
			}
			PQfreemem(n);
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
	/* Group 0: the shared workers and every kind without threads of its
	 * own; then one group per kind that has (jobs_limit). */
	q->ngroups = 1;
	q->groups[0].threads = q->o.workers;
	q->groups[0].batch = 1;
	for (size_t i = 0; i < q->nhandlers; i++) {
		struct handler *h = &q->handlers[i];
		h->group = 0;
		if (h->threads > 0) {
			h->group = q->ngroups++;
			q->groups[h->group].threads = h->threads;
			q->groups[h->group].batch = h->batch;
		}
	}
	int total = 0;
	for (int g = 0; g < q->ngroups; g++) {
		free(q->groups[g].kinds);
		q->groups[g].kinds = kinds_literal(q, g);
		q->groups[g].tokens = 0;
		if (!q->groups[g].kinds)
			return err_set(e, -1, "out of memory");
		total += q->groups[g].threads;
	}
	q->threads = calloc((size_t)total, sizeof *q->threads);
	q->wargs = calloc((size_t)total, sizeof *q->wargs);
	if (!q->threads || !q->wargs)
		return err_set(e, -1, "out of memory");
	q->stop = 0;
	if (q->kick_fd < 0)
		q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->hook.fn = jobs_kick;
	q->hook.arg = q;
	atomic_store(&active_queue, q);
	db_set_commit_hook(&q->hook);
	if (pthread_create(&q->listener, NULL, listener_main, q))
		return err_set(e, -1, "cannot start the job listener thread");
	q->listener_started = 1;
	for (int g = 0, k = 0; g < q->ngroups; g++)
		for (int t = 0; t < q->groups[g].threads; t++, k++) {
			q->wargs[k] = (struct worker_arg){q, g};
			if (pthread_create(&q->threads[k], NULL, worker_main, &q->wargs[k])) {
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
	/* Commits from now on NOTIFY in their transaction again (q stays valid
	 * until jobs_free, so a kick already under way is harmless). */
	if (q->hook.arg) {
		db_set_commit_hook(NULL);
		atomic_store(&active_queue, NULL);
	}
	wake_all(q);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
	if (q->listener_started)
		pthread_join(q->listener, NULL);
	q->listener_started = 0;
}
