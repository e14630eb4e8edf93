/*
 * main.c: the sentry-bridge command line.
 *
 *   sentry-bridge [--config FILE] [--log-format json|text] [--log-level L] COMMAND [options]
 *
 * Commands: serve, sync, projects lint, migrate, check-config, access, gitlab, routes, version. Exit codes are in
 * app.h and docs/operations.md.
 */
#include "api_gitlab.h"
#include "app.h"
#include "cli.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "httpc.h"
#include "log.h"
#include "provision.h"
#include "routes_cli.h"
#include "sso/okta_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_main =
	"usage: sentry-bridge [global options] COMMAND [options]\n"
	"\n"
	"Keeps Sentry org roles and teams in line with Okta groups, and more.\n"
	"\n"
	"Commands:\n"
	"  serve          run the HTTP server, the job workers and the scheduler\n"
	"  sync           reconcile Okta groups against Sentry once (--dry-run, --output json)\n"
	"  projects lint  check the organisation's projects against the provisioning rules\n"
	"  gitlab refresh walk the GitLab scope now and store the cache the proxy answers from\n"
	"  migrate        apply database migrations (--status to only report)\n"
	"  check-config   validate the configuration and print it with secrets redacted\n"
	"  access         time-bound access: list, grant, revoke\n"
	"  routes         show the alert route tree, or test where an alert goes (show | test)\n"
	"  version        print the version\n"
	"\n"
	"Global options:\n"
	"  --config FILE        configuration file (default: $SENTRY_BRIDGE_CONFIG or ./sentry-bridge.yaml)\n"
	"  --log-format FORMAT  json (default) or text\n"
	"  --log-level LEVEL    debug, info (default), warn or error\n"
	"  -h, --help           this help; `sentry-bridge COMMAND --help` for a command\n"
	"\n"
	"Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 plan refused by a safety guard,\n"
	"4 database unavailable, 5 projects lint found violations, 78 invalid configuration.\n";

static const char *usage_serve =
	"usage: sentry-bridge [global options] serve\n"
	"\n"
	"Runs the service: the HTTP server on `listen`, the job workers and the\n"
	"leader-elected scheduler. Applies pending migrations at start. Stops cleanly\n"
	"on SIGTERM or SIGINT: stops accepting, finishes requests and jobs in flight,\n"
	"exits 0. /healthz answers as soon as it listens; /readyz once the database\n"
	"is reachable and migrated.\n";

static const char *usage_sync =
	"usage: sentry-bridge [global options] sync [--dry-run] [--output text|json]\n"
	"\n"
	"Reconciles Okta groups against Sentry members, roles and teams once: reads\n"
	"both sides, computes the plan, checks the safety guards, applies it, and\n"
	"records the run, every change and an audit entry per change.\n"
	"  --dry-run        compute and print the plan; change nothing\n"
	"  --output FORMAT  text (default) or json\n"
	"Exit codes: 0 done (or nothing to do), 3 refused by a safety guard, 1 error.\n";

static const char *usage_migrate =
	"usage: sentry-bridge [global options] migrate [--status]\n"
	"\n"
	"Applies the database migrations this binary carries, each in a transaction,\n"
	"serialised with an advisory lock (safe while replicas start).\n"
	"  --status   only report the schema version; exit 4 when not current\n";

static const char *usage_check =
	"usage: sentry-bridge [global options] check-config\n"
	"\n"
	"Loads and validates the configuration, resolves every secret it names, and\n"
	"prints the resolved configuration with secrets redacted. Every problem is\n"
	"reported as FILE:LINE: key: message. Exit 0 when valid, 78 when not.\n";

static const char *usage_projects =
	"usage: sentry-bridge [global options] projects lint [--output text|json]\n"
	"\n"
	"Reads every project of the Sentry organisation and reports what breaks the\n"
	"provisioning rules (docs/provisioning.md): one application split into\n"
	"projects by environment, a project named after an environment, projects\n"
	"without a team, near-duplicate names. Changes nothing.\n"
	"  --output FORMAT  text (default) or json\n"
	"Exit codes: 0 no violations, 5 violations found, 1 error.\n";

static const char *usage_gitlab =
	"usage: sentry-bridge [global options] gitlab refresh\n"
	"\n"
	"Walks the GitLab groups of gitlab.scope now and stores the snapshot that\n"
	"the GitLab proxy answers from; running services load it within seconds.\n";
static const char *usage_version = "usage: sentry-bridge version\n\nPrints the version and build.\n";

static int has_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

/* Credentials that can be checked without the network: the Okta OAuth key
 * is parsed and matched against okta.oauth.algorithm, so a wrong key stops
 * check-config and serve at once rather than the first sync. */
static int check_credentials(const char *path, const struct config *cfg, struct logger *lg)
{
	if (!cfg->okta.base_url || !*cfg->okta.base_url || !cfg->okta.oauth.configured)
		return 0;
	struct err e = {0};
	struct okta_client *oc = okta_client_new(cfg, lg, NULL, &e);
	if (!oc) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		return -1;
	}
	okta_client_free(oc);
	return 0;
}

static int load_config(const char *path, unsigned flags, struct config **out)
{
	struct config_errors errs = {0};
	int rc = config_load_ex(path, flags, out, &errs);
	for (size_t i = 0; i < errs.nwarnings; i++)
		fprintf(stderr, "warning: %s\n", errs.warnings[i]);
	if (rc) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fprintf(stderr, "sentry-bridge: the configuration is invalid (%zu problem%s)\n", errs.n,
			errs.n == 1 ? "" : "s");
		config_errors_free(&errs);
		return -1;
	}
	config_errors_free(&errs);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = getenv("SENTRY_BRIDGE_CONFIG");
	const char *log_format = NULL, *log_level = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_main, stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "--version")) {
			printf("sentry-bridge %s (%s)\n", SB_VERSION, SB_GIT_REV);
			return EXIT_OK;
		} else if ((!strcmp(a, "--config") || !strcmp(a, "-c")) && i + 1 < argc) {
			config_path = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			config_path = a + 9;
		} else if (!strcmp(a, "--log-format") && i + 1 < argc) {
			log_format = argv[++i];
		} else if (!strcmp(a, "--log-level") && i + 1 < argc) {
			log_level = argv[++i];
		} else {
			fprintf(stderr, "sentry-bridge: unknown or incomplete option %s\n\n%s", a, usage_main);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[i++];
	int cargc = argc - i;
	char **cargv = argv + i;
	if (!config_path || !*config_path)
		config_path = "sentry-bridge.yaml";

	const char *usage = !strcmp(cmd, "serve") ? usage_serve
			    : !strcmp(cmd, "sync") ? usage_sync
			    : !strcmp(cmd, "projects") ? usage_projects
			    : !strcmp(cmd, "migrate") ? usage_migrate
			    : !strcmp(cmd, "check-config") ? usage_check
			    : !strcmp(cmd, "version") ? usage_version
			    : !strcmp(cmd, "access") ? cli_access_usage()
			    : !strcmp(cmd, "gitlab") ? usage_gitlab
			    : !strcmp(cmd, "routes") ? routes_cli_usage
						      : NULL;
	if (!usage) {
		fprintf(stderr, "sentry-bridge: unknown command \"%s\"\n\n%s", cmd, usage_main);
		return EXIT_USAGE;
	}
	if (has_help(cargc, cargv)) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "version")) {
		printf("sentry-bridge %s (%s)\n", SB_VERSION, SB_GIT_REV);
		return EXIT_OK;
	}

	/* Command options. */
	int dry_run = 0, status_only = 0, json_out = 0, lint = 0;
	for (int k = 0; k < cargc && strcmp(cmd, "access") && strcmp(cmd, "routes"); k++) { /* access, routes parse their own */
		const char *a = cargv[k];
		if (!strcmp(cmd, "sync") && !strcmp(a, "--dry-run")) {
			dry_run = 1;
		} else if (!strcmp(cmd, "projects") && k == 0 && !strcmp(a, "lint")) {
			lint = 1;
		} else if ((!strcmp(cmd, "sync") || (!strcmp(cmd, "projects") && lint)) && !strcmp(a, "--output") &&
			   k + 1 < cargc) {
			const char *f = cargv[++k];
			if (strcmp(f, "json") && strcmp(f, "text")) {
				fprintf(stderr, "sentry-bridge %s: --output must be text or json\n", cmd);
				return EXIT_USAGE;
			}
			json_out = !strcmp(f, "json");
		} else if (!strcmp(cmd, "gitlab") && k == 0 && !strcmp(a, "refresh")) {
			continue;
		} else if (!strcmp(cmd, "migrate") && !strcmp(a, "--status")) {
			status_only = 1;
		} else {
			fprintf(stderr, "sentry-bridge %s: unknown or incomplete option %s\n\n%s", cmd, a, usage);
			return EXIT_USAGE;
		}
	}

	if (!strcmp(cmd, "projects") && !lint) {
		fprintf(stderr, "sentry-bridge projects: a subcommand is needed\n\n%s", usage);
		return EXIT_USAGE;
	}

	clock_init_from_env();
	struct config *cfg = NULL;
	if (load_config(config_path, !strcmp(cmd, "serve") ? CONFIG_FOR_SERVE : 0, &cfg))
		return EXIT_CONFIG;

	enum log_format lf = LOG_FORMAT_JSON;
	enum log_level ll = LOG_LVL_INFO;
	const char *fs = log_format ? log_format : cfg->log.format;
	const char *ls = log_level ? log_level : cfg->log.level;
	if (log_format_parse(fs, &lf) || log_level_parse(ls, &ll)) {
		fprintf(stderr, "sentry-bridge: --log-format must be json or text and --log-level one of "
				"debug, info, warn, error\n");
		config_free(cfg);
		return EXIT_USAGE;
	}
	struct logger *lg = logger_new(lf, ll, stderr);
	if (!lg) {
		config_free(cfg);
		return EXIT_FAILURE_RUNTIME;
	}
	config_register_secrets(cfg, lg);

	int code = EXIT_OK;
	httpc_global_init();
	if (strcmp(cmd, "migrate") && check_credentials(config_path, cfg, lg)) {
		code = EXIT_CONFIG;
	} else if (!strcmp(cmd, "check-config")) {
		struct buf out;
		buf_init(&out, 0);
		config_dump(cfg, &out);
		fputs(buf_str(&out), stdout);
		buf_reset(&out);
		fprintf(stderr, "%s: configuration is valid\n", config_path);
	} else if (!strcmp(cmd, "migrate")) {
		code = app_migrate(cfg, lg, status_only);
	} else if (!strcmp(cmd, "serve")) {
		code = app_serve(cfg, lg);
	} else if (!strcmp(cmd, "sync")) {
		code = app_sync(cfg, lg, dry_run, json_out);
	} else if (!strcmp(cmd, "access")) {
		code = cli_access(cfg, lg, cargc, cargv);
	} else if (!strcmp(cmd, "projects")) {
		code = provision_lint_cli(cfg, lg, json_out);
	} else if (!strcmp(cmd, "gitlab")) {
		code = gitlab_cli(cfg, lg, cargc, cargv);
	} else if (!strcmp(cmd, "routes")) {
		code = routes_cli(cfg, cargc, cargv, stdout, stderr);
	}
	httpc_global_cleanup();
	logger_free(lg);
	config_free(cfg);
	return code;
}
