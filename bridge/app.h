/*
 * app.h: the daemon's wiring. Builds the long-lived parts from a config
 * (logger, metrics, database pool, job queue, scheduler, router, HTTP
 * server), registers routes, job kinds and scheduled tasks, and runs
 * `serve` until SIGTERM/SIGINT.
 */
#ifndef SB_APP_H
#define SB_APP_H

#include "config.h"
#include "ctx.h"
#include "err.h"
#include "log.h"

#include <stdatomic.h>

struct httpd;
struct router;
struct jobs;
struct sched;
struct okta_hooks;

/* The running service. One per process; handlers reach it via ctx->app. */
struct app {
	struct ctx ctx;          /* logger, config, metrics, pool; request_id NULL */
	struct router *router;
	struct httpd *httpd;
	struct jobs *jobs;
	struct sched *sched;
	struct okta_hooks *okta_hooks; /* Okta event hooks and the event drainer */
	char replica[160];       /* host:pid, used in job locks and logs */
	atomic_int ready;        /* database reachable and schema migrated */
	volatile int stopping;
	int jobs_started;
	int sched_started;
};

/* Exit codes of the CLI (documented in docs/operations.md). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_RUNTIME = 1, /* something failed while running */
	EXIT_USAGE = 2,           /* bad command line */
	EXIT_REFUSED = 3,         /* sync: the plan was refused by a safety guard */
	EXIT_DATABASE = 4,        /* the database is unreachable or its schema is wrong */
	EXIT_VIOLATIONS = 5,      /* projects lint: the organisation breaks the provisioning rules */
	EXIT_CONFIG = 78,         /* the configuration is invalid (sysexits EX_CONFIG) */
};

/* Resolve the PostgreSQL conninfo: database_url, or the embedded cluster
 * under run_dir. Returns a malloc'ed string or NULL with e filled. */
char *app_conninfo(const struct config *cfg, struct err *e);

/* Run the service until a stop signal. Returns an exit code. */
int app_serve(const struct config *cfg, struct logger *lg);

/* Apply migrations (or with status_only, report them). Returns an exit code. */
int app_migrate(const struct config *cfg, struct logger *lg, int status_only);

/* For CLI commands that work on the database: a ctx with a small pool and
 * metrics, the schema migrated. Returns 0 or an exit code (then nothing to
 * close). Close with app_cli_close(). */
int app_cli_open(const struct config *cfg, struct logger *lg, struct ctx *ctx, const char *module);
void app_cli_close(struct ctx *ctx);

/* One reconcile from the command line (`sentry-bridge sync`). Returns an exit code. */
int app_sync(const struct config *cfg, struct logger *lg, int dry_run, int json_out);

#endif
