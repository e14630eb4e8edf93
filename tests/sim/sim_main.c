/*
 * sim_main.c: entry point of sentry-bridge-sim, the upstream simulator
 * (Okta Management API, Sentry web API and a /_sim control API on one
 * port). Parses the command line, builds the starting state, starts the
 * HTTP server, writes the port file once listening, and exits 0 on
 * SIGTERM/SIGINT. See docs/simulator.md.
 */
#include "sim.h"

#include "sim_oktalog.h"
#include "sim_server.h"
#include "sim_util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Print usage to f. */
static void usage(FILE *f)
{
	fputs("usage: sentry-bridge-sim [options]\n"
	      "  --listen HOST:PORT      address to bind (default 127.0.0.1:0 = any free port;\n"
	      "                          IPv6 as [::1]:PORT)\n"
	      "  --port-file FILE        write the bound port here (atomically) once listening\n"
	      "  --demo                  seed the fixed demo organisation (the default)\n"
	      "  --users N               seed a generated org of N users ...\n"
	      "  --groups M              ... and M team groups (default 20)\n"
	      "  --seed S                generator / fault-probability seed (default 1)\n"
	      "  --fixture FILE.json     load an explicit state (see docs/simulator.md)\n"
	      "  --okta-token T          expected 'Authorization: SSWS T' (default sim-okta-token)\n"
	      "  --sentry-token T        expected 'Authorization: Bearer T' (default sim-sentry-token)\n"
	      "  --org SLUG              Sentry organization slug (default acme)\n"
	      "  --latency-ms N          delay every Okta/Sentry answer by N ms\n"
	      "  --okta-rate-limit N     requests per minute per Okta bucket (default 600000)\n"
	      "  --okta-logs-rate-limit N  requests per minute for /api/v1/logs (default 120)\n"
	      "  --gitlab-token T        GitLab token with admin reach (default sim-gitlab-token)\n"
	      "  --gitlab-projects N     generated GitLab tree of N projects ...\n"
	      "  --gitlab-subgroups M    ... in M subgroups of group bigco (default: demo tree acme)\n"
	      "  --gitlab-rate-limit N   GitLab requests per minute per token (default 600000)\n"
	      "  --threads N             HTTP worker threads (default 4)\n"
	      "  --quiet                 no per-request log lines on stderr\n"
	      "  --help                  this text\n", f);
}

/* Parse a non-negative integer option value or exit 2. */
static int64_t num_arg(const char *opt, const char *v, int64_t max)
{
	int64_t n;

	if (!sim_parse_i64(v, &n) || n < 0 || n > max) {
		fprintf(stderr, "sentry-bridge-sim: %s: expected an integer in 0..%lld, got '%s'\n",
			opt, (long long)max, v);
		exit(2);
	}
	return n;
}

/* Split "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" into opts; exit 2 if malformed. */
static void parse_listen(struct sim_opts *o, const char *v)
{
	const char *colon;
	char *host;

	if (v[0] == '[') {
		const char *end = strchr(v, ']');

		if (!end || end[1] != ':') {
			fprintf(stderr, "sentry-bridge-sim: --listen: expected [ADDR]:PORT\n");
			exit(2);
		}
		host = sim_strndup(v + 1, (size_t)(end - v - 1));
		colon = end + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon) {
			host = strdup("127.0.0.1");
			colon = v - 1;
		} else {
			host = colon == v ? strdup("127.0.0.1") : sim_strndup(v, (size_t)(colon - v));
		}
	}
	if (!host) {
		fprintf(stderr, "sentry-bridge-sim: out of memory\n");
		exit(1);
	}
	free(o->listen_host);
	o->listen_host = host;
	o->listen_port = (int)num_arg("--listen", colon + 1, 65535);
}

/* Write the port atomically (tmp file + rename). 0 or -1. */
static int write_port_file(const char *path, int port)
{
	char *tmp = sim_asprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f;
	int rc = -1;

	if (!tmp)
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		goto out;
	if (fprintf(f, "%d\n", port) < 0) {
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* Parse argv into o (exits on --help or errors). */
static void parse_args(int argc, char **argv, struct sim_opts *o)
{
	enum { O_LISTEN = 256, O_PORTFILE, O_SEED, O_USERS, O_GROUPS, O_FIXTURE, O_DEMO,
	       O_OKTATOK, O_SENTRYTOK, O_ORG, O_LATENCY, O_RATE, O_LOGRATE, O_THREADS, O_QUIET, O_HELP,
	       O_GLTOK, O_GLPROJ, O_GLSUB, O_GLRATE };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "port-file", required_argument, NULL, O_PORTFILE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "users", required_argument, NULL, O_USERS },
		{ "groups", required_argument, NULL, O_GROUPS },
		{ "fixture", required_argument, NULL, O_FIXTURE },
		{ "demo", no_argument, NULL, O_DEMO },
		{ "okta-token", required_argument, NULL, O_OKTATOK },
		{ "sentry-token", required_argument, NULL, O_SENTRYTOK },
		{ "org", required_argument, NULL, O_ORG },
		{ "latency-ms", required_argument, NULL, O_LATENCY },
		{ "okta-rate-limit", required_argument, NULL, O_RATE },
		{ "okta-logs-rate-limit", required_argument, NULL, O_LOGRATE },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "gitlab-token", required_argument, NULL, O_GLTOK },
		{ "gitlab-projects", required_argument, NULL, O_GLPROJ },
		{ "gitlab-subgroups", required_argument, NULL, O_GLSUB },
		{ "gitlab-rate-limit", required_argument, NULL, O_GLRATE },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool groups_given = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN: parse_listen(o, optarg); break;
		case O_PORTFILE: o->port_file = optarg; break;
		case O_SEED: o->seed = (uint64_t)num_arg("--seed", optarg, INT64_MAX); break;
		case O_USERS: o->users = (int)num_arg("--users", optarg, 10000000); break;
		case O_GROUPS:
			o->groups = (int)num_arg("--groups", optarg, 100000);
			groups_given = true;
			break;
		case O_FIXTURE: o->fixture_path = optarg; break;
		case O_DEMO: o->demo = true; break;
		case O_OKTATOK: o->okta_token = optarg; break;
		case O_SENTRYTOK: o->sentry_token = optarg; break;
		case O_ORG:
			o->org = optarg;
			o->org_explicit = true;
			break;
		case O_LATENCY: o->latency_ms = (int)num_arg("--latency-ms", optarg, 3600000); break;
		case O_RATE: o->okta_rate_limit = (long)num_arg("--okta-rate-limit", optarg, INT32_MAX); break;
		case O_LOGRATE:
			o->okta_logs_rate_limit = (long)num_arg("--okta-logs-rate-limit", optarg, INT32_MAX);
			break;
		case O_THREADS: o->threads = (int)num_arg("--threads", optarg, 256); break;
		case O_QUIET: o->quiet = true; break;
		case O_GLTOK: o->gitlab_token = optarg; break;
		case O_GLPROJ: o->gitlab_projects = (int)num_arg("--gitlab-projects", optarg, 1000000); break;
		case O_GLSUB: o->gitlab_subgroups = (int)num_arg("--gitlab-subgroups", optarg, 100000); break;
		case O_GLRATE: o->gitlab_rate_limit = (long)num_arg("--gitlab-rate-limit", optarg, INT32_MAX); break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sentry-bridge-sim: unexpected argument '%s'\n", argv[optind]);
		exit(2);
	}
	if ((o->demo ? 1 : 0) + (o->users > 0 ? 1 : 0) + (o->fixture_path ? 1 : 0) > 1) {
		fprintf(stderr, "sentry-bridge-sim: --demo, --users and --fixture are exclusive\n");
		exit(2);
	}
	if (groups_given && o->users <= 0) {
		fprintf(stderr, "sentry-bridge-sim: --groups needs --users\n");
		exit(2);
	}
	/* the org slug must be a valid Sentry org slug (letters, digits, inner dashes) */
	{
		const char *p = o->org;
		bool digits_only = true, ok = *p && *p != '-' && p[strlen(p) - 1] != '-';

		for (; *p && ok; p++) {
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-'))
				ok = false;
			if (*p < '0' || *p > '9')
				digits_only = false;
		}
		if (!ok || digits_only || strlen(o->org) > 50) {
			fprintf(stderr, "sentry-bridge-sim: --org: not a valid organization slug: %s\n",
				o->org);
			exit(2);
		}
	}
	if (o->threads == 0)
		o->threads = 4;
	if (o->okta_rate_limit == 0)
		o->okta_rate_limit = 600000;
	if (o->okta_logs_rate_limit == 0)
		o->okta_logs_rate_limit = 120;
}

/* Entry point. */
int main(int argc, char **argv)
{
	struct sim_ctx ctx;
	struct sim_server *srv = NULL;
	pthread_rwlockattr_t ra;
	sigset_t sigs;
	json_error_t jerr;
	char *err = NULL;
	int port = 0, sig = 0, rc = 1;
	bool lock_ready = false;

	memset(&ctx, 0, sizeof(ctx));
	ctx.opts.listen_host = strdup("127.0.0.1");
	ctx.opts.listen_port = 0;
	ctx.opts.seed = 1;
	ctx.opts.groups = 20;
	ctx.opts.okta_token = "sim-okta-token";
	ctx.opts.sentry_token = "sim-sentry-token";
	ctx.opts.org = "acme";
	ctx.opts.okta_rate_limit = 600000;
	ctx.opts.okta_logs_rate_limit = 120;
	ctx.opts.threads = 4;
	ctx.opts.gitlab_token = "sim-gitlab-token";
	ctx.opts.gitlab_rate_limit = 600000;
	if (!ctx.opts.listen_host) {
		fprintf(stderr, "sentry-bridge-sim: out of memory\n");
		return 1;
	}
	parse_args(argc, argv, &ctx.opts);
	atomic_init(&ctx.next_seq, 1);

	/* signals: handled synchronously by sigwait in this thread only */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (ctx.opts.fixture_path) {
		ctx.start_fixture = json_load_file(ctx.opts.fixture_path, JSON_REJECT_DUPLICATES, &jerr);
		if (!ctx.start_fixture) {
			fprintf(stderr, "sentry-bridge-sim: %s:%d: %s\n", ctx.opts.fixture_path,
				jerr.line, jerr.text);
			goto out;
		}
	}
	ctx.ctl = sim_ctl_new();
	if (!ctx.ctl) {
		fprintf(stderr, "sentry-bridge-sim: out of memory\n");
		goto out;
	}
	ctx.oktalog = okta_log_new();
	if (!ctx.oktalog) {
		fprintf(stderr, "sentry-bridge-sim: out of memory\n");
		goto out;
	}
	if (sim_build_start_state(&ctx, &ctx.state, &err)) {
		fprintf(stderr, "sentry-bridge-sim: %s\n", err ? err : "cannot build the state");
		goto out;
	}
	/* writers (state changes, resets) must not starve behind a stream of GETs */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ctx.lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	lock_ready = true;

	if (sim_server_start(&ctx, &srv, &port, &err)) {
		fprintf(stderr, "sentry-bridge-sim: %s\n", err ? err : "cannot start the server");
		goto out;
	}
	if (ctx.opts.port_file && write_port_file(ctx.opts.port_file, port)) {
		fprintf(stderr, "sentry-bridge-sim: cannot write %s: %s\n", ctx.opts.port_file,
			strerror(errno));
		goto out;
	}
	/* the server runs: a /_sim/reset may already be swapping the state */
	pthread_rwlock_rdlock(&ctx.lock);
	fprintf(stderr, "sentry-bridge-sim: listening on http://%s%s%s:%d (okta /api/v1, sentry "
		"/api/0 org %s, control /_sim; %zu okta users, %zu groups, %zu sentry members)\n",
		strchr(ctx.opts.listen_host, ':') ? "[" : "", ctx.opts.listen_host,
		strchr(ctx.opts.listen_host, ':') ? "]" : "", port, ctx.state->sentry.org_slug,
		ctx.state->okta.nusers, ctx.state->okta.ngroups, ctx.state->sentry.nmembers);
	pthread_rwlock_unlock(&ctx.lock);

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	if (!ctx.opts.quiet)
		fprintf(stderr, "sentry-bridge-sim: %s received, stopping\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	sim_server_stop(srv);
	okta_log_free(ctx.oktalog);
	free(err);
	sim_state_free(ctx.state);
	sim_ctl_free(ctx.ctl);
	json_decref(ctx.start_fixture);
	if (lock_ready)
		pthread_rwlock_destroy(&ctx.lock);
	free(ctx.opts.listen_host);
	return rc;
}
