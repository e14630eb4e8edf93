/*
 * app.c: the daemon's wiring and the `serve` loop (see app.h).
 *
 * Start-up order: listen first (so /healthz answers and /readyz says why we
 * are not ready), then, on a bootstrap thread, reach the database with
 * backoff, apply migrations, and only then start the workers and the
 * scheduler. Shutdown: stop accepting, let requests in flight finish, stop
 * the workers after their current job, then exit 0.
 */
#include "app.h"

#include "alerts.h"
#include "api.h"
#include "api_gitlab.h"
#include "clock.h"
#include "db.h"
#include "httpd.h"
#include "jobs.h"
#include "metrics.h"
#include "migrate.h"
#include "router.h"
#include "scheduler.h"
#include "access.h"
#include "okta_hooks.h"
#include "slack_directory.h"
#include "sync.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *app_conninfo(const struct config *cfg, struct err *e)
{
	if (cfg->database_url && cfg->database_url[0]) {
		char *s = strdup(cfg->database_url);
		if (!s)
			err_set(e, -1, "out of memory");
		return s;
	}
	char *s = db_embedded_conninfo(cfg->run_dir);
	if (!s)
		err_set(e, -1,
			"database_url is empty and there is no embedded PostgreSQL under %s/pg: "
			"start the service with `make run`, or set database_url",
			cfg->run_dir);
	return s;
}

static void replica_name(char *out, size_t n)
{
	char host[128] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	snprintf(out, n, "%s:%d", host, (int)getpid());
}

static void *bootstrap_main(void *arg)
{
	struct app *a = arg;
	int64_t backoff = 250;
	int warned = 0;
	while (!a->stopping) {
		struct err e;
		err_clear(&e);
		PGconn *c = db_acquire(a->ctx.db, 1000, &e);
		if (c) {
			int applied = 0;
			int rc = migrate_apply(c, &applied, &e);
			db_release(a->ctx.db, c);
			if (!rc) {
				char n[16], v[16];
				snprintf(n, sizeof n, "%d", applied);
				snprintf(v, sizeof v, "%d", migrate_latest());
				log_info(a->ctx.log, "db", NULL, "database ready", "#migrations_applied", n,
					 "#schema_version", v, NULL);
				break;
			}
			log_error(a->ctx.log, "db", NULL, "migrations failed; will retry", "error", e.msg, NULL);
		} else {
			log_error(a->ctx.log, "db", NULL,
				  warned ? "database still unreachable; retrying"
					 : "database unreachable; /readyz answers 503 until it is reachable",
				  "error", e.msg, NULL);
			warned = 1;
		}
		clock_sleep_ms(backoff, &a->stopping);
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
	if (a->stopping)
		return NULL;
	struct err e;
	err_clear(&e);
	if (db_pool_warm(a->ctx.db, &e) < 0)
		log_warn(a->ctx.log, "db", NULL, "cannot open the pool's connections ahead of use", "error", e.msg, NULL);
	err_clear(&e);
	if (jobs_start(a->jobs, &e))
		log_error(a->ctx.log, "jobs", NULL, "cannot start workers", "error", e.msg, NULL);
	else
		a->jobs_started = 1;
	if (sched_start(a->sched, &e))
		log_error(a->ctx.log, "sched", NULL, "cannot start scheduler", "error", e.msg, NULL);
	else
		a->sched_started = 1;
	if (okta_hooks_start(a->okta_hooks, &e))
		log_error(a->ctx.log, "okta-events", NULL, "cannot start the Okta event drainer", "error", e.msg, NULL);
	atomic_store(&a->ready, 1);
	return NULL;
}

/* Delete finished jobs and handled inbox items past the retention period. */
static int task_cleanup(struct ctx *ctx, void *arg, struct err *e)
{
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	char ret[32];
	snprintf(ret, sizeof ret, "%lld", (long long)ctx->cfg->jobs.retention_ms);
	const char *p[] = {ret};
	int rc = db_run(c,
			"DELETE FROM jobs WHERE status = 'done'"
			" AND finished_at < now() - $1::bigint * interval '1 millisecond'",
			1, p, e);
	if (!rc)
		rc = db_run(c,
			    "DELETE FROM inbox WHERE status IN ('done', 'skipped')"
			    " AND processed_at < now() - $1::bigint * interval '1 millisecond'",
			    1, p, e);
	db_release(ctx->db, c);
	return rc;
}

int app_serve(const struct config *cfg, struct logger *lg)
{
	int code = EXIT_FAILURE_RUNTIME;
	struct err e;
	err_clear(&e);
	struct app *a = calloc(1, sizeof *a);
	char *conninfo = NULL;
	if (!a)
		return EXIT_FAILURE_RUNTIME;
	atomic_init(&a->ready, 0);
	a->ctx.log = lg;
	a->ctx.cfg = cfg;
	a->ctx.app = a;
	replica_name(a->replica, sizeof a->replica);

	/* Signals are taken by sigwait on this thread only. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	conninfo = app_conninfo(cfg, &e);
	if (!conninfo) {
		log_error(lg, "main", NULL, "no database", "error", e.msg, NULL);
		code = EXIT_CONFIG;
		goto out;
	}
	a->ctx.metrics = metrics_new();
	a->ctx.db = db_pool_new(conninfo, cfg->database.pool_size, cfg->database.connect_timeout_ms, lg);
	a->router = router_new();
	if (!a->ctx.metrics || !a->ctx.db || !a->router)
		goto out;
	if (api_register(a)) {
		log_error(lg, "main", NULL, "cannot register routes", NULL);
		goto out;
	}
	struct jobs_opts jo = {
		.workers = cfg->jobs.workers,
		.max_attempts = cfg->jobs.max_attempts,
		.backoff_base_ms = cfg->jobs.backoff_base_ms,
		.backoff_max_ms = cfg->jobs.backoff_max_ms,
		.poll_interval_ms = cfg->jobs.poll_interval_ms,
		.replica = a->replica,
		.conninfo = conninfo,
	};
	a->jobs = jobs_new(&a->ctx, &jo);
	a->sched = sched_new(&a->ctx, conninfo, a->replica);
	if (!a->jobs || !a->sched)
		goto out;
	if (sched_add(a->sched, "cleanup", 3600 * 1000, task_cleanup, NULL))
		goto out;
	if (sync_register(&a->ctx, a->jobs, a->sched) || access_register(&a->ctx, a->jobs, a->sched)) {
		log_error(lg, "main", NULL, "cannot register the reconcile and access jobs", NULL);
		goto out;
	}
	a->okta_hooks = okta_hooks_new(a, conninfo);
	if (!a->okta_hooks || okta_hooks_register(a->okta_hooks, a->router, a->jobs, a->sched)) {
		log_error(lg, "main", NULL, "cannot register the Okta event hooks", NULL);
		goto out;
	}
	if (gitlab_start(a))
		goto out;
	if (alerts_register(&a->ctx, a->jobs, a->sched)) {
		log_error(lg, "main", NULL, "cannot register the alert routing job", NULL);
		goto out;
	}
	if (slack_directory_register(a)) {
		log_error(lg, "main", NULL, "cannot register the Slack directory refresh", NULL);
		goto out;
	}

	struct httpd_opts ho = {
		.listen = cfg->listen,
		.threads = cfg->server.threads,
		.connection_timeout_ms = cfg->server.connection_timeout_ms,
		.max_body_bytes = cfg->server.max_body_bytes,
	};
	a->httpd = httpd_start(&ho, api_handle, a, lg, &e);
	if (!a->httpd) {
		log_error(lg, "main", NULL, "cannot start the HTTP server", "error", e.msg, NULL);
		goto out;
	}
	char port[16];
	snprintf(port, sizeof port, "%d", httpd_port(a->httpd));
	log_info(lg, "main", NULL, "listening", "listen", cfg->listen, "#port", port, "version", SB_VERSION,
		 "replica", a->replica, NULL);

	pthread_t boot;
	if (pthread_create(&boot, NULL, bootstrap_main, a)) {
		log_error(lg, "main", NULL, "cannot start the bootstrap thread", NULL);
		goto out;
	}

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info(lg, "main", NULL, "stop signal received; finishing in-flight work", "signal",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	a->stopping = 1;
	atomic_store(&a->ready, 0);
	httpd_quiesce(a->httpd);
	int left = httpd_wait_idle(a->httpd, cfg->server.shutdown_grace_ms);
	if (left) {
		char n[16];
		snprintf(n, sizeof n, "%d", left);
		log_warn(lg, "main", NULL, "requests still running at the end of the grace period", "#count", n, NULL);
	}
	pthread_join(boot, NULL);
	if (a->jobs_started)
		jobs_stop(a->jobs);
	if (a->sched_started)
		sched_stop(a->sched);
	okta_hooks_stop(a->okta_hooks);
	httpd_stop(a->httpd);
	a->httpd = NULL;
	log_info(lg, "main", NULL, "stopped", NULL);
	code = EXIT_OK;
out:
	httpd_stop(a->httpd);
	okta_hooks_free(a->okta_hooks);
	gitlab_stop(a);
	slack_directory_stop(a);
	jobs_free(a->jobs);
	sched_free(a->sched);
	router_free(a->router);
	db_pool_free(a->ctx.db);
	metrics_free(a->ctx.metrics);
	free(conninfo);
	free(a);
	return code;
}

int app_migrate(const struct config *cfg, struct logger *lg, int status_only)
{
	struct err e;
	err_clear(&e);
	char *conninfo = app_conninfo(cfg, &e);
	if (!conninfo) {
		log_error(lg, "migrate", NULL, "no database", "error", e.msg, NULL);
		return EXIT_CONFIG;
	}
	int code = EXIT_DATABASE;
	PGconn *c = db_connect(conninfo, cfg->database.connect_timeout_ms, &e);
	free(conninfo);
	if (!c) {
		log_error(lg, "migrate", NULL, "cannot reach the database", "error", e.msg, NULL);
		return EXIT_DATABASE;
	}
	int cur = 0, applied = 0;
	if (status_only) {
		if (migrate_current(c, &cur, &e))
			goto out;
		printf("schema version %d, binary knows %d: %s\n", cur, migrate_latest(),
		       cur == migrate_latest() ? "up to date"
		       : cur < migrate_latest() ? "migrations pending (run `sentry-bridge migrate`)"
						: "database is newer than this binary");
		code = cur == migrate_latest() ? EXIT_OK : EXIT_DATABASE;
		goto out;
	}
	if (migrate_apply(c, &applied, &e))
		goto out;
	if (migrate_current(c, &cur, &e))
		goto out;
	printf("applied %d migration(s); schema version %d\n", applied, cur);
	code = EXIT_OK;
out:
	if (code == EXIT_DATABASE && e.msg[0])
		log_error(lg, "migrate", NULL, "migration failed", "error", e.msg, NULL);
	PQfinish(c);
	return code;
}

int app_cli_open(const struct config *cfg, struct logger *lg, struct ctx *ctx, const char *module)
{
	struct err e;
	err_clear(&e);
	memset(ctx, 0, sizeof *ctx);
	char *conninfo = app_conninfo(cfg, &e);
	if (!conninfo) {
		log_error(lg, module, NULL, "no database", "error", e.msg, NULL);
		return EXIT_CONFIG;
	}
	ctx->log = lg;
	ctx->cfg = cfg;
	ctx->request_id = "cli";
	ctx->metrics = metrics_new();
	ctx->db = db_pool_new(conninfo, 2, cfg->database.connect_timeout_ms, lg);
	free(conninfo);
	PGconn *c = ctx->metrics && ctx->db ? db_acquire(ctx->db, 5000, &e) : NULL;
	if (!c) {
		log_error(lg, module, NULL, "cannot reach the database", "error", e.msg[0] ? e.msg : "out of memory", NULL);
		app_cli_close(ctx);
		return EXIT_DATABASE;
	}
	int mrc = migrate_apply(c, NULL, &e);
	db_release(ctx->db, c);
	if (mrc) {
		log_error(lg, module, NULL, "migrations failed", "error", e.msg, NULL);
		app_cli_close(ctx);
		return EXIT_DATABASE;
	}
	return 0;
}

void app_cli_close(struct ctx *ctx)
{
	db_pool_free(ctx->db);
	metrics_free(ctx->metrics);
	ctx->db = NULL;
	ctx->metrics = NULL;
}

int app_sync(const struct config *cfg, struct logger *lg, int dry_run, int json_out)
{
	struct err e;
	err_clear(&e);
	char *conninfo = app_conninfo(cfg, &e);
	if (!conninfo) {
		log_error(lg, "sync", NULL, "no database", "error", e.msg, NULL);
		return EXIT_CONFIG;
	}
	int code = EXIT_FAILURE_RUNTIME;
	struct ctx ctx = {.log = lg, .cfg = cfg, .request_id = "cli"};
	ctx.metrics = metrics_new();
	ctx.db = db_pool_new(conninfo, 2, cfg->database.connect_timeout_ms, lg);
	free(conninfo);
	if (!ctx.metrics || !ctx.db)
		goto out;
	/* The CLI may be the first thing to touch a new database. */
	PGconn *c = db_acquire(ctx.db, 5000, &e);
	if (!c) {
		log_error(lg, "sync", NULL, "cannot reach the database", "error", e.msg, NULL);
		code = EXIT_DATABASE;
		goto out;
	}
	int mrc = migrate_apply(c, NULL, &e);
	db_release(ctx.db, c);
	if (mrc) {
		log_error(lg, "sync", NULL, "migrations failed", "error", e.msg, NULL);
		code = EXIT_DATABASE;
		goto out;
	}
	struct sync_opts o = {.dry_run = dry_run, .trigger = "cli",
			      .progress = isatty(fileno(stderr)) && !json_out ? stderr : NULL};
	struct sync_report rep;
	if (sync_run(&ctx, &o, &rep, &e)) {
		log_error(lg, "sync", NULL, "cannot start the reconcile", "error", e.msg, NULL);
		code = EXIT_DATABASE;
		goto out;
	}
	if (json_out) {
		json_t *j = sync_report_json(&rep);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
	} else {
		sync_report_print(&rep, stdout, isatty(fileno(stdout)));
	}
	code = rep.status == SYNC_DONE      ? EXIT_OK
	       : rep.status == SYNC_REFUSED ? EXIT_REFUSED
					    : EXIT_FAILURE_RUNTIME;
	sync_report_free(&rep);
out:
	db_pool_free(ctx.db);
	metrics_free(ctx.metrics);
	return code;
}
