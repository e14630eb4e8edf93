/*
 * check_db.c: migrations, the inbox and the audit log against a real
 * PostgreSQL (SB_TEST_PG_DSN).
 */
#include "audit.h"
#include "db.h"
#include "inbox.h"
#include "migrate.h"
#include "suites.h"
#include "testdb.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

START_TEST(migrations_idempotent_and_concurrent)
{
	PGconn *c = testdb_fresh();
	struct err e;
	err_clear(&e);
	int applied = -1, v = 0;
	ck_assert_int_eq(migrate_apply(c, &applied, &e), 0);
	ck_assert_int_eq(applied, 0); /* testdb_fresh applied them already */
	ck_assert_int_eq(migrate_current(c, &v, &e), 0);
	ck_assert_int_eq(v, migrate_latest());
	PQfinish(c);
}
END_TEST

struct mig_arg {
	int applied;
	int rc;
};

static void *mig_thread(void *p)
{
	struct mig_arg *a = p;
	struct err e;
	err_clear(&e);
	PGconn *c = db_connect(getenv("SB_TEST_PG_DSN"), 5000, &e);
	a->rc = c ? migrate_apply(c, &a->applied, &e) : -1;
	PQfinish(c);
	return NULL;
}

START_TEST(migrations_two_replicas_at_once)
{
	PGconn *c = testdb_fresh();
	PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	PQclear(r);
	struct mig_arg a[4] = {0};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, mig_thread, &a[i]);
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].rc, 0);
		total += a[i].applied;
	}
	ck_assert_int_eq(total, migrate_count()); /* each applied exactly once */
	PQfinish(c);
}
END_TEST

START_TEST(inbox_dedupes_and_queues)
{
	PGconn *c = testdb_fresh();
	struct err e;
	err_clear(&e);
	struct inbox_item it = {.source = "okta", .external_id = "uuid-1", .kind = "group.user_membership.add",
				.subject = "00u1", .occurred_at = "2026-11-23T10:00:00.000Z",
				.payload = "{\"uuid\":\"uuid-1\"}", .request_id = "r1", .job_kind = "inbox.okta"};
	int64_t id1 = 0, id2 = 0;
	int ins = 0;
	ck_assert_int_eq(inbox_store(c, &it, &id1, &ins, &e), 0);
	ck_assert_int_eq(ins, 1);
	ck_assert_int_eq(inbox_store(c, &it, &id2, &ins, &e), 0);
	ck_assert_int_eq(ins, 0);
	ck_assert_int_eq(id1, id2);
	char *n = testdb_value(c, "SELECT count(*) FROM inbox");
	ck_assert_str_eq(n, "1");
	free(n);
	n = testdb_value(c, "SELECT count(*) || ':' || min(kind) || ':' || min(payload->>'inbox_id') FROM jobs");
	char want[64];
	snprintf(want, sizeof want, "1:inbox.okta:%lld", (long long)id1);
	ck_assert_str_eq(n, want);
	free(n);

	/* bad JSON is refused by the database, nothing stored */
	struct inbox_item bad = it;
	bad.external_id = "uuid-2";
	bad.payload = "{not json";
	ck_assert_int_eq(inbox_store(c, &bad, &id2, &ins, &e), -1);
	ck_assert_str_eq(db_last_sqlstate(), "22P02");

	ck_assert_int_eq(inbox_mark(c, id1, "dead", "boom", &e), 0);
	json_t *list = inbox_list(c, "okta", "dead", 10, &e);
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(json_array_size(list), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "last_error")), "boom");
	json_decref(list);

	/* replay: pending again and a fresh job (the first one is done by now) */
	PQclear(PQexec(c, "UPDATE jobs SET status = 'done'"));
	ck_assert_int_eq(inbox_replay(c, id1, "inbox.okta", &e), 1);
	ck_assert_int_eq(inbox_replay(c, 999999, "inbox.okta", &e), 0);
	n = testdb_value(c, "SELECT status FROM inbox");
	ck_assert_str_eq(n, "pending");
	free(n);
	n = testdb_value(c, "SELECT count(*) FROM jobs WHERE status = 'queued'");
	ck_assert_str_eq(n, "1");
	free(n);
	PQfinish(c);
}
END_TEST

START_TEST(audit_is_append_only)
{
	PGconn *c = testdb_fresh();
	struct err e;
	err_clear(&e);
	struct audit_entry a = {.actor = "sync", .action = "member.role", .target = "a@x.example",
				.reason = "group okta-sentry-admin-users maps to manager",
				.before = "{\"role\":\"member\"}", .after = "{\"role\":\"manager\"}", .run_id = 7,
				.request_id = "job-1"};
	ck_assert_int_eq(audit_write(c, &a, &e), 0);
	a.target = "b@x.example";
	ck_assert_int_eq(audit_write(c, &a, &e), 0);
	ck_assert_int_eq(db_run(c, "UPDATE audit_log SET actor = 'x'", 0, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "append-only"));
	ck_assert_int_eq(db_run(c, "DELETE FROM audit_log", 0, NULL, &e), -1);
	ck_assert_int_eq(db_run(c, "TRUNCATE audit_log", 0, NULL, &e), -1);
	json_t *list = audit_list(c, "a@x.example", 0, 10, &e);
	ck_assert_uint_eq(json_array_size(list), 1);
	json_t *first = json_array_get(list, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(first, "after"), "role")), "manager");
	ck_assert_int_eq(json_integer_value(json_object_get(first, "run_id")), 7);
	json_decref(list);
	list = audit_list(c, NULL, 0, 1, &e);
	ck_assert_uint_eq(json_array_size(list), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "target")), "b@x.example");
	json_decref(list);
	PQfinish(c);
}
END_TEST

START_TEST(pool_reconnects)
{
	PGconn *c = testdb_fresh();
	struct err e;
	err_clear(&e);
	struct db_pool *p = db_pool_new(testdb_dsn(), 2, 2000, NULL);
	PGconn *a = db_acquire(p, 100, &e);
	PGconn *b = db_acquire(p, 100, &e);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(db_acquire(p, 50, &e)); /* pool exhausted */
	ck_assert_ptr_nonnull(strstr(e.msg, "busy"));
	/* kill a's backend; the pool notices on release and reconnects later */
	char *pid = testdb_value(a, "SELECT pg_backend_pid()");
	const char *params[] = {pid};
	ck_assert_int_eq(db_run(c, "SELECT pg_terminate_backend($1::int)", 1, params, &e), 0);
	free(pid);
	db_run(a, "SELECT 1", 0, NULL, &e); /* fails: connection is gone */
	db_release(p, a);
	db_release(p, b);
	ck_assert_int_eq(db_ping(p, &e), 0);
	ck_assert_int_eq(db_ping(p, &e), 0);
	/* a transaction left open is rolled back on release */
	a = db_acquire(p, 100, &e);
	ck_assert_int_eq(db_begin(a, &e), 0);
	db_release(p, a);
	a = db_acquire(p, 100, &e);
	b = db_acquire(p, 100, &e);
	ck_assert_int_eq(PQtransactionStatus(a), PQTRANS_IDLE);
	ck_assert_int_eq(PQtransactionStatus(b), PQTRANS_IDLE);
	db_release(p, a);
	db_release(p, b);
	db_pool_free(p);

	/* releasing what a failed acquire returned (NULL) gives no slot back:
	 * the failed acquire already did, and a second slot would let the pool
	 * hand out more connections than it has room for */
	p = db_pool_new(testdb_dsn(), 1, 2000, NULL);
	a = db_acquire(p, 100, &e);
	ck_assert_ptr_nonnull(a);
	db_release(p, NULL);
	ck_assert_ptr_null(db_acquire(p, 50, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "busy"));
	db_release(p, a);
	db_pool_free(p);

	/* an unreachable database gives a clear error */
	p = db_pool_new("host=/nonexistent port=1 dbname=x connect_timeout=1", 1, 1000, NULL);
	ck_assert_ptr_null(db_acquire(p, 100, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot connect to PostgreSQL"));
	ck_assert(!db_pool_healthy(p));
	db_pool_free(p);
	PQfinish(c);
}
END_TEST

Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("db");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, migrations_idempotent_and_concurrent);
	tcase_add_test(tc, migrations_two_replicas_at_once);
	tcase_add_test(tc, inbox_dedupes_and_queues);
	tcase_add_test(tc, audit_is_append_only);
	tcase_add_test(tc, pool_reconnects);
	suite_add_tcase(s, tc);
	return s;
}
