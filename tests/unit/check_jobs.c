/*
 * check_jobs.c: the durable job queue against a real PostgreSQL.
 */
#include "clock.h"
#include "db.h"
#include "jobs.h"
#include "metrics.h"
#include "suites.h"
#include "testdb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(backoff_grows_with_jitter_and_cap)
{
	for (int attempt = 1; attempt <= 20; attempt++) {
		int64_t cap = 1000;
		for (int i = 1; i < attempt && cap < 60000; i++)
			cap *= 2;
		if (cap > 60000)
			cap = 60000;
		int64_t lo = jobs_backoff_ms(attempt, 1000, 60000, 0);
		int64_t hi = jobs_backoff_ms(attempt, 1000, 60000, UINT64_MAX - 1);
		ck_assert_int_eq(lo, cap - cap / 2);
		ck_assert(hi >= lo && hi <= cap);
	}
	ck_assert_int_eq(jobs_backoff_ms(0, 0, 0, 5), 1); /* nonsense in, sane out */
}
END_TEST

struct counter {
	atomic_int runs;
	enum job_result result;
	int seen[512];
	pthread_mutex_t mu;
};

static enum job_result count_handler(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)ctx;
	struct counter *c = arg;
	atomic_fetch_add(&c->runs, 1);
	json_t *p = json_loads(job->payload, 0, NULL);
	int n = (int)json_integer_value(json_object_get(p, "n"));
	json_decref(p);
	pthread_mutex_lock(&c->mu);
	if (n >= 0 && n < 512)
		c->seen[n]++;
	pthread_mutex_unlock(&c->mu);
	if (c->result != JOB_DONE)
		err_set(e, -1, "simulated failure %d", job->attempt);
	return c->result;
}

struct fixture {
	PGconn *c;
	struct db_pool *pool;
	struct metrics *m;
	struct jobs *q;
	struct counter cnt;
};

static void fx_init(struct fixture *f, int workers, int64_t poll_ms)
{
	memset(f, 0, sizeof *f);
	f->c = testdb_fresh();
	f->pool = db_pool_new(testdb_dsn(), 6, 2000, NULL);
	f->m = metrics_new();
	pthread_mutex_init(&f->cnt.mu, NULL);
	struct ctx base = {.db = f->pool, .metrics = f->m};
	struct jobs_opts o = {.workers = workers, .max_attempts = 3, .backoff_base_ms = 10, .backoff_max_ms = 20,
			      .poll_interval_ms = poll_ms, .lease_ms = 60000, .replica = "test",
			      .conninfo = testdb_dsn()};
	f->q = jobs_new(&base, &o);
	ck_assert_int_eq(jobs_register(f->q, "test.count", count_handler, &f->cnt), 0);
	ck_assert_int_eq(jobs_register(f->q, "Bad Kind", count_handler, &f->cnt), -1);
}

static void fx_free(struct fixture *f)
{
	jobs_stop(f->q);
	jobs_free(f->q);
	db_pool_free(f->pool);
	metrics_free(f->m);
	pthread_mutex_destroy(&f->cnt.mu);
	PQfinish(f->c);
}

static void enqueue(PGconn *c, const char *kind, int n, const char *dedupe, int64_t *id)
{
	char payload[32];
	snprintf(payload, sizeof payload, "{\"n\":%d}", n);
	struct job_spec js = {.kind = kind, .payload = payload, .dedupe_key = dedupe};
	struct err e;
	err_clear(&e);
	ck_assert_msg(jobs_enqueue(c, &js, id, &e) == 0, "enqueue: %s", e.msg);
}

START_TEST(run_one_done_and_dedupe)
{
	struct fixture f;
	fx_init(&f, 1, 1000);
	int64_t id1, id2, id3;
	enqueue(f.c, "test.count", 1, "k", &id1);
	enqueue(f.c, "test.count", 1, "k", &id2);
	enqueue(f.c, "other.kind", 2, NULL, &id3);
	ck_assert(id1 > 0);
	ck_assert_int_eq(id2, 0); /* deduplicated while queued */
	struct err e;
	err_clear(&e);
	int ran = 0;
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	ck_assert_int_eq(ran, 1);
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	ck_assert_int_eq(ran, 0); /* other.kind has no handler here: left alone */
	char *s = testdb_value(f.c, "SELECT string_agg(kind || '=' || status, ',' ORDER BY id) FROM jobs");
	ck_assert_str_eq(s, "test.count=done,other.kind=queued");
	free(s);
	/* once done, the same dedupe key may be queued again */
	enqueue(f.c, "test.count", 1, "k", &id2);
	ck_assert(id2 > id1);
	ck_assert(metrics_get(f.m, "sb_jobs_total", "kind", "test.count", "result", "done", NULL) == 1);
	fx_free(&f);
}
END_TEST

START_TEST(retry_then_dead_then_replay)
{
	struct fixture f;
	fx_init(&f, 1, 1000);
	f.cnt.result = JOB_RETRY;
	int64_t id;
	enqueue(f.c, "test.count", 1, NULL, &id);
	struct err e;
	err_clear(&e);
	int ran;
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	char *s = testdb_value(f.c, "SELECT status || ':' || attempts || ':' || last_error || ':' ||"
				    " (run_at > updated_at) FROM jobs");
	ck_assert_str_eq(s, "queued:1:simulated failure 1:true");
	free(s);
	/* run until dead: 3 attempts in all */
	for (int i = 0; i < 500 && atomic_load(&f.cnt.runs) < 3; i++) {
		clock_sleep_ms(10, NULL);
		jobs_run_one(f.q, &ran, &e);
	}
	s = testdb_value(f.c, "SELECT status || ':' || attempts FROM jobs");
	ck_assert_str_eq(s, "dead:3");
	free(s);
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 3);
	json_t *dead = jobs_list(f.c, "dead", 10, &e);
	ck_assert_uint_eq(json_array_size(dead), 1);
	json_decref(dead);

	ck_assert_int_eq(jobs_replay(f.c, id, &e), 1);
	ck_assert_int_eq(jobs_replay(f.c, id, &e), 0); /* not dead any more */
	f.cnt.result = JOB_DONE;
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	ck_assert_int_eq(ran, 1);
	s = testdb_value(f.c, "SELECT status || ':' || attempts FROM jobs");
	ck_assert_str_eq(s, "done:1");
	free(s);

	/* JOB_FAIL parks at once */
	f.cnt.result = JOB_FAIL;
	enqueue(f.c, "test.count", 2, NULL, &id);
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	s = testdb_value(f.c, "SELECT status || ':' || attempts FROM jobs ORDER BY id DESC LIMIT 1");
	ck_assert_str_eq(s, "dead:1");
	free(s);
	fx_free(&f);
}
END_TEST

START_TEST(expired_lease_is_reclaimed)
{
	struct fixture f;
	fx_init(&f, 1, 1000);
	int64_t id;
	enqueue(f.c, "test.count", 1, NULL, &id);
	/* a worker of another replica claimed it and died */
	PQclear(PQexec(f.c, "UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'dead-replica',"
			    " lease_until = now() - interval '1 second'"));
	struct err e;
	err_clear(&e);
	int ran;
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	ck_assert_int_eq(ran, 1);
	char *s = testdb_value(f.c, "SELECT status || ':' || attempts || ':' || locked_by FROM jobs");
	ck_assert_str_eq(s, "done:2:test");
	free(s);
	/* a live lease is not taken */
	enqueue(f.c, "test.count", 2, NULL, &id);
	PQclear(PQexec(f.c, "UPDATE jobs SET status = 'running', locked_by = 'alive',"
			    " lease_until = now() + interval '1 minute' WHERE status = 'queued'"));
	ck_assert_int_eq(jobs_run_one(f.q, &ran, &e), 0);
	ck_assert_int_eq(ran, 0);
	fx_free(&f);
}
END_TEST

START_TEST(workers_run_each_job_once)
{
	struct fixture f;
	fx_init(&f, 4, 50);
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	for (int i = 0; i < 300; i++)
		enqueue(f.c, "test.count", i, NULL, NULL);
	for (int i = 0; i < 500 && atomic_load(&f.cnt.runs) < 300; i++)
		clock_sleep_ms(20, NULL);
	jobs_stop(f.q);
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 300);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(f.cnt.seen[i], 1);
	char *s = testdb_value(f.c, "SELECT count(*) FROM jobs WHERE status = 'done'");
	ck_assert_str_eq(s, "300");
	free(s);
	fx_free(&f);
}
END_TEST

START_TEST(notify_wakes_idle_workers)
{
	struct fixture f;
	fx_init(&f, 2, 30000); /* polling alone would take 30 s */
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	clock_sleep_ms(300, NULL); /* let the listener connect and workers go idle */
	int64_t t0 = clock_mono_ms();
	enqueue(f.c, "test.count", 1, NULL, NULL);
	while (atomic_load(&f.cnt.runs) < 1 && clock_mono_ms() - t0 < 5000)
		clock_sleep_ms(5, NULL);
	int64_t took = clock_mono_ms() - t0;
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 1);
	ck_assert_msg(took < 2000, "job took %lld ms to start after NOTIFY", (long long)took);
	ck_assert_int_eq(jobs_refresh_metrics(f.q, &e), 0);
	fx_free(&f);
}
END_TEST

/* A job queued inside a transaction wakes a worker when db_commit() commits
 * it, not before (the worker would find nothing) and not by polling. */
START_TEST(commit_wakes_workers)
{
	struct fixture f;
	fx_init(&f, 2, 30000);
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	clock_sleep_ms(300, NULL);
	ck_assert_int_eq(db_begin(f.c, &e), 0);
	enqueue(f.c, "test.count", 1, NULL, NULL);
	clock_sleep_ms(300, NULL);
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 0); /* not committed yet */
	int64_t t0 = clock_mono_ms();
	ck_assert_int_eq(db_commit(f.c, &e), 0);
	while (atomic_load(&f.cnt.runs) < 1 && clock_mono_ms() - t0 < 5000)
		clock_sleep_ms(5, NULL);
	int64_t took = clock_mono_ms() - t0;
	ck_assert_msg(took < 2000, "job took %lld ms to start after the commit", (long long)took);
	/* A rolled-back enqueue runs nothing. */
	ck_assert_int_eq(db_begin(f.c, &e), 0);
	enqueue(f.c, "test.count", 2, NULL, NULL);
	db_rollback(f.c);
	clock_sleep_ms(200, NULL);
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 1);
	fx_free(&f);
}
END_TEST

/* Another process (the CLI, another replica) wakes the workers by NOTIFY:
 * with a kind as payload, or a count from a replica's listener. */
START_TEST(notify_from_elsewhere_wakes_workers)
{
	struct fixture f;
	fx_init(&f, 2, 30000);
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	clock_sleep_ms(300, NULL);
	const char *payloads[] = {"test.count", "3"};
	for (int i = 0; i < 2; i++) {
		char sql[400];
		snprintf(sql, sizeof sql,
			 "INSERT INTO jobs (kind, payload, max_attempts) VALUES ('test.count', '{\"n\":%d}', 0);"
			 " SELECT pg_notify('sb_jobs', '%s')",
			 i, payloads[i]);
		PGresult *r = PQexec(f.c, sql);
		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		PQclear(r);
		int64_t t0 = clock_mono_ms();
		while (atomic_load(&f.cnt.runs) < i + 1 && clock_mono_ms() - t0 < 5000)
			clock_sleep_ms(5, NULL);
		ck_assert_msg(clock_mono_ms() - t0 < 2000, "NOTIFY %s did not wake a worker", payloads[i]);
	}
	fx_free(&f);
}
END_TEST

static _Atomic int slow_now, slow_max, slow_runs;

static enum job_result slow_handler(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)ctx, (void)job, (void)arg, (void)e;
	int now = atomic_fetch_add(&slow_now, 1) + 1;
	for (int m = atomic_load(&slow_max); now > m && !atomic_compare_exchange_weak(&slow_max, &m, now);)
		;
	clock_sleep_ms(20, NULL);
	atomic_fetch_sub(&slow_now, 1);
	atomic_fetch_add(&slow_runs, 1);
	return JOB_DONE;
}

/* A kind with threads of its own (jobs_limit) never runs more than that
 * many at once, and its backlog does not hold up the other kinds. */
START_TEST(own_threads_limit_a_kind)
{
	struct fixture f;
	fx_init(&f, 4, 50);
	atomic_store(&slow_now, 0), atomic_store(&slow_max, 0), atomic_store(&slow_runs, 0);
	ck_assert_int_eq(jobs_register(f.q, "test.slow", slow_handler, NULL), 0);
	ck_assert_int_eq(jobs_limit(f.q, "test.slow", 2), 0);
	ck_assert_int_eq(jobs_limit(f.q, "no.such.kind", 2), -1);
	for (int i = 0; i < 40; i++)
		enqueue(f.c, "test.slow", i, NULL, NULL);
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	clock_sleep_ms(100, NULL);
	for (int i = 0; i < 30; i++)
		enqueue(f.c, "test.count", i, NULL, NULL);
	int64_t t0 = clock_mono_ms();
	while (atomic_load(&f.cnt.runs) < 30 && clock_mono_ms() - t0 < 5000)
		clock_sleep_ms(5, NULL);
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 30);
	ck_assert_msg(atomic_load(&slow_runs) < 40, "the other kind waited for the whole backlog");
	while (atomic_load(&slow_runs) < 40 && clock_mono_ms() - t0 < 10000)
		clock_sleep_ms(10, NULL);
	ck_assert_int_eq(atomic_load(&slow_runs), 40);
	ck_assert_int_le(atomic_load(&slow_max), 2);
	ck_assert_int_eq(atomic_load(&slow_max), 2);
	fx_free(&f);
}
END_TEST

/* A kind claimed in batches (jobs_batch) runs each job once. */
START_TEST(batches_run_each_job_once)
{
	struct fixture f;
	fx_init(&f, 1, 50);
	ck_assert_int_eq(jobs_limit(f.q, "test.count", 2), 0);
	ck_assert_int_eq(jobs_batch(f.q, "test.count", 8), 0);
	ck_assert_int_eq(jobs_batch(f.q, "no.such.kind", 8), -1);
	for (int i = 0; i < 100; i++)
		enqueue(f.c, "test.count", i, NULL, NULL);
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	int64_t t0 = clock_mono_ms();
	while (atomic_load(&f.cnt.runs) < 100 && clock_mono_ms() - t0 < 10000)
		clock_sleep_ms(10, NULL);
	for (int i = 0; i < 200; i++) {
		char *n = testdb_value(f.c, "SELECT count(*) FROM jobs WHERE status = 'done'");
		int done = atoi(n);
		free(n);
		if (done == 100)
			break;
		clock_sleep_ms(10, NULL);
	}
	jobs_stop(f.q);
	ck_assert_int_eq(atomic_load(&f.cnt.runs), 100);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(f.cnt.seen[i], 1);
	char *s = testdb_value(f.c, "SELECT count(*) FROM jobs WHERE status = 'done'");
	ck_assert_str_eq(s, "100");
	free(s);
	ck_assert(metrics_get(f.m, "sb_jobs_total", "kind", "test.count", "result", "done", NULL) == 100);
	fx_free(&f);
}
END_TEST

static enum job_result mixed_handler(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)ctx, (void)arg;
	json_t *p = json_loads(job->payload, 0, NULL);
	int n = (int)json_integer_value(json_object_get(p, "n"));
	json_decref(p);
	if (n % 2 && job->attempt == 1) {
		err_set(e, -1, "odd jobs fail once");
		return JOB_RETRY;
	}
	return JOB_DONE;
}

/* Failing jobs in a batch are retried on their own; the others are done. */
START_TEST(batch_with_failures)
{
	struct fixture f;
	fx_init(&f, 1, 50);
	ck_assert_int_eq(jobs_register(f.q, "test.mixed", mixed_handler, NULL), 0);
	ck_assert_int_eq(jobs_limit(f.q, "test.mixed", 1), 0);
	ck_assert_int_eq(jobs_batch(f.q, "test.mixed", 8), 0);
	for (int i = 0; i < 20; i++)
		enqueue(f.c, "test.mixed", i, NULL, NULL);
	struct err e;
	err_clear(&e);
	ck_assert_int_eq(jobs_start(f.q, &e), 0);
	char *s = NULL;
	for (int i = 0; i < 500; i++) {
		free(s);
		s = testdb_value(f.c, "SELECT count(*) FILTER (WHERE status = 'done') || ' '"
				      " || count(*) FILTER (WHERE status = 'done' AND attempts = (payload->>'n')::int % 2 + 1)"
				      " FROM jobs WHERE kind = 'test.mixed'");
		if (!strcmp(s, "20 20"))
			break;
		clock_sleep_ms(10, NULL);
	}
	ck_assert_str_eq(s, "20 20"); /* all done; the odd ones on their second attempt */
	free(s);
	ck_assert(metrics_get(f.m, "sb_jobs_total", "kind", "test.mixed", "result", "retry", NULL) == 10);
	ck_assert(metrics_get(f.m, "sb_jobs_total", "kind", "test.mixed", "result", "done", NULL) == 20);
	fx_free(&f);
}
END_TEST

Suite *jobs_suite(void)
{
	Suite *s = suite_create("jobs");
	TCase *tc = tcase_create("jobs");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, backoff_grows_with_jitter_and_cap);
	tcase_add_test(tc, run_one_done_and_dedupe);
	tcase_add_test(tc, retry_then_dead_then_replay);
	tcase_add_test(tc, expired_lease_is_reclaimed);
	tcase_add_test(tc, workers_run_each_job_once);
	tcase_add_test(tc, notify_wakes_idle_workers);
	tcase_add_test(tc, commit_wakes_workers);
	tcase_add_test(tc, notify_from_elsewhere_wakes_workers);
	tcase_add_test(tc, own_threads_limit_a_kind);
	tcase_add_test(tc, batches_run_each_job_once);
	tcase_add_test(tc, batch_with_failures);
	suite_add_tcase(s, tc);
	return s;
}
