/*
 * check_config.c: the configuration loader (bridge/core/config*.c).
 *
 * Every error class is checked with its exact "FILE:LINE: key: message"
 * text, because operators and the integration tests read those lines. The
 * last cases keep docs/config.md and sentry-bridge.example.yaml in step
 * with the tables (files read relative to $SB_SRCDIR, default ".").
 * Environment variables are set per test; the fixture clears them so the
 * suite also runs with CK_FORK=no (valgrind).
 */
#include "suites.h"

#include "buf.h"
#include "config.h"
#include "config_int.h"
#include "log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F "t.yaml"

static const char *const test_env[] = {
    "BRIDGE_ADMIN_TOKEN",
    "OKTA_API_TOKEN",
    "OKTA_HOOK_SECRET",
    "SENTRY_TOKEN",
    "SENTRY_CLIENT_SECRET",
    "GITLAB_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "CONSOLE_CLIENT_SECRET",
    "SB_T_EMPTY",
    NULL,
};

static void clear_env(void)
{
	for (size_t i = 0; test_env[i]; i++)
		unsetenv(test_env[i]);
}

static void set_issue2_env(void)
{
	setenv("BRIDGE_ADMIN_TOKEN", "adm-tok-1111", 1);
	setenv("OKTA_API_TOKEN", "okta-tok-2222", 1);
	setenv("OKTA_HOOK_SECRET", "hook-sec-3333", 1);
	setenv("SENTRY_TOKEN", "sentry-tok-4444", 1);
	setenv("SENTRY_CLIENT_SECRET", "sentry-cs-5555", 1);
	setenv("GITLAB_TOKEN", "gitlab-tok-6666", 1);
	setenv("SLACK_BOT_TOKEN", "xoxb-7777", 1);
	setenv("SLACK_SIGNING_SECRET", "slack-ss-8888", 1);
}

/* The example of issue #2, unchanged. */
static const char issue2_yaml[] =
    "listen: \"127.0.0.1:8080\"\n"
    "database_url: \"\"                 # empty: the embedded default started by `make run`\n"
    "public_url: \"http://127.0.0.1:8080\"\n"
    "admin_token_env: BRIDGE_ADMIN_TOKEN   # Bearer token for /api/v1 automation\n"
    "okta:\n"
    "  base_url: \"https://example.okta.com\"\n"
    "  api_token_env: OKTA_API_TOKEN        # SSWS; or an oauth: block (client_id, private_key_file, scopes)\n"
    "  event_hook: { auth_header: \"Authorization\", secret_env: OKTA_HOOK_SECRET }\n"
    "sentry:\n"
    "  base_url: \"https://sentry.example.com\"\n"
    "  organization: \"acme\"\n"
    "  token_env: SENTRY_TOKEN\n"
    "  client_secret_env: SENTRY_CLIENT_SECRET\n"
    "gitlab:\n"
    "  base_url: \"https://gitlab.com\"\n"
    "  token_env: GITLAB_TOKEN\n"
    "  proxy_prefix: \"/gitlab\"\n"
    "  scope: [\"acme-com\", \"acme-org\"]\n"
    "  refresh_interval: \"15m\"\n"
    "slack:\n"
    "  api_url: \"https://slack.com/api\"\n"
    "  bot_token_env: SLACK_BOT_TOKEN\n"
    "  signing_secret_env: SLACK_SIGNING_SECRET\n"
    "sync:\n"
    "  interval: \"15m\"\n"
    "  unmanaged_members: keep         # keep | demote | remove\n"
    "  invite_missing: true\n"
    "  guards: { max_removals: \"5%\", max_demotions: \"5%\" }\n"
    "roles:\n"
    "  access_groups: [\"okta-sentry-member-users\"]\n"
    "  default_role: member\n"
    "  mappings:\n"
    "    - { group: \"okta-sentry-admin-users\", role: manager }\n"
    "  owners: [\"ops-contact@acme.example\"]\n"
    "  protected: [\"ops-contact@acme.example\"]\n"
    "teams:\n"
    "  - { group: \"team-observability\", team: \"observability\", role: contributor }\n"
    "provisioning:\n"
    "  default_team: \"acme\"\n"
    "  env_suffixes: [pre, gstg, gprd, staging, production, prod, dev]\n"
    "  allow_team_creation: false\n";

/* ---- helpers ---- */

static char *join_msgs(char **v, size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(buf_printf(&b, "%s\n", v[i]), 0);
	return buf_take(&b);
}

static struct config *load_ok_ex(const char *yaml, unsigned flags)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_from_string_ex(yaml, F, flags, &c, &e);
	char *all = join_msgs(e.msgs, e.n);
	ck_assert_msg(rc == 0 && c, "load failed:\n%s", all);
	free(all);
	config_errors_free(&e);
	return c;
}

static struct config *load_ok(const char *yaml)
{
	return load_ok_ex(yaml, 0);
}

/* Load that must fail; returns every error, one per line (caller frees). */
static char *load_err_ex(const char *yaml, unsigned flags)
{
	struct config *c = (struct config *)1;
	struct config_errors e = {0};
	int rc = config_from_string_ex(yaml, F, flags, &c, &e);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(c);
	ck_assert_uint_gt(e.n, 0);
	char *all = join_msgs(e.msgs, e.n);
	config_errors_free(&e);
	return all;
}

static char *load_err(const char *yaml)
{
	return load_err_ex(yaml, 0);
}

#define HAS(hay, needle) ck_assert_msg(strstr((hay), (needle)) != NULL, "expected <%s> in:\n%s", (needle), (hay))
#define HASNT(hay, needle) ck_assert_msg(strstr((hay), (needle)) == NULL, "unexpected <%s> in:\n%s", (needle), (hay))

/* The one error of yaml must be exactly want. */
static void expect_error(const char *yaml, const char *want)
{
	char *all = load_err(yaml);
	char *exp = cfg_strdupf("%s\n", want);
	ck_assert_str_eq(all, exp);
	free(exp);
	free(all);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	struct buf b;
	buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ck_assert_int_eq(buf_append(&b, chunk, n), 0);
	fclose(f);
	return buf_take(&b);
}

static char *tmp_file(const char *content)
{
	char *path = strdup("/tmp/sb-cfg-XXXXXX");
	ck_assert_ptr_nonnull(path);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t n = strlen(content);
	ck_assert_int_eq(write(fd, content, n), (ssize_t)n);
	close(fd);
	return path;
}

static void rm_tmp(char *path)
{
	unlink(path);
	free(path);
}

/* ---- the foundation example and defaults ---- */

START_TEST(test_issue2_example)
{
	set_issue2_env();
	struct config *c = NULL;
	struct config_errors e = {0};
	ck_assert_int_eq(config_from_string(issue2_yaml, "sentry-bridge.yaml", &c, &e), 0);
	ck_assert_uint_eq(e.n, 0);
	ck_assert_uint_eq(e.nwarnings, 0);
	ck_assert_str_eq(c->path, "sentry-bridge.yaml");
	ck_assert_str_eq(c->listen, "127.0.0.1:8080");
	ck_assert_str_eq(c->database_url, "");
	ck_assert_str_eq(c->admin_token, "adm-tok-1111");
	ck_assert_str_eq(c->okta.base_url, "https://example.okta.com");
	ck_assert_str_eq(c->okta.api_token, "okta-tok-2222");
	ck_assert(!c->okta.oauth.configured);
	ck_assert(c->okta.event_hook.configured);
	ck_assert_str_eq(c->okta.event_hook.auth_header, "Authorization");
	ck_assert_str_eq(c->okta.event_hook.secret, "hook-sec-3333");
	ck_assert_str_eq(c->sentry.organization, "acme");
	ck_assert_str_eq(c->sentry.token, "sentry-tok-4444");
	ck_assert_str_eq(c->sentry.client_secret, "sentry-cs-5555");
	ck_assert_str_eq(c->gitlab.token, "gitlab-tok-6666");
	ck_assert_str_eq(c->gitlab.proxy_prefix, "/gitlab");
	ck_assert_uint_eq(c->gitlab.scope.n, 2);
	ck_assert_str_eq(c->gitlab.scope.v[1], "acme-org");
	ck_assert_int_eq(c->gitlab.refresh_interval_ms, 15 * 60000);
	ck_assert_str_eq(c->slack.bot_token, "xoxb-7777");
	ck_assert_str_eq(c->slack.signing_secret, "slack-ss-8888");
	ck_assert_int_eq(c->sync.interval_ms, 15 * 60000);
	ck_assert_int_eq(c->sync.unmanaged_members, CONFIG_UNMANAGED_KEEP);
	ck_assert(c->sync.invite_missing);
	ck_assert(c->sync.guards.max_removals.is_percent);
	ck_assert(c->sync.guards.max_demotions.value == 5.0);
	ck_assert_uint_eq(c->roles.access_groups.n, 1);
	ck_assert_int_eq(c->roles.default_role, CONFIG_ROLE_MEMBER);
	ck_assert_uint_eq(c->roles.n_mappings, 1);
	ck_assert_str_eq(c->roles.mappings[0].group, "okta-sentry-admin-users");
	ck_assert_int_eq(c->roles.mappings[0].role, CONFIG_ROLE_MANAGER);
	ck_assert_str_eq(c->roles.owners.v[0], "ops-contact@acme.example");
	ck_assert_str_eq(c->roles.protected.v[0], "ops-contact@acme.example");
	ck_assert_uint_eq(c->n_teams, 1);
	ck_assert_str_eq(c->teams[0].team, "observability");
	ck_assert_int_eq(c->teams[0].role, CONFIG_TEAM_ROLE_CONTRIBUTOR);
	ck_assert_str_eq(c->provisioning.default_team, "acme");
	ck_assert_uint_eq(c->provisioning.env_suffixes.n, 7);
	ck_assert_str_eq(c->provisioning.env_suffixes.v[6], "dev");
	ck_assert(!c->provisioning.allow_team_creation);
	config_free(c);
	config_errors_free(&e);
}
END_TEST

START_TEST(test_defaults)
{
	struct config *c = load_ok("");
	ck_assert_str_eq(c->listen, "127.0.0.1:8080");
	ck_assert_str_eq(c->database_url, "");
	ck_assert_str_eq(c->public_url, "http://127.0.0.1:8080");
	ck_assert_str_eq(c->admin_token_env, "BRIDGE_ADMIN_TOKEN");
	ck_assert_ptr_null(c->admin_token);
	ck_assert_str_eq(c->run_dir, "run");
	ck_assert_uint_eq(c->server.max_body_bytes, 1024 * 1024);
	ck_assert_int_eq(c->server.connection_timeout_ms, 30000);
	ck_assert_int_eq(c->server.threads, 8);
	ck_assert_int_eq(c->server.shutdown_grace_ms, 20000);
	ck_assert_int_eq(c->database.pool_size, 8);
	ck_assert_int_eq(c->database.connect_timeout_ms, 5000);
	ck_assert_int_eq(c->database.connect_retry_max_ms, 30000);
	ck_assert_ptr_null(c->database.password);
	ck_assert_str_eq(c->log.level, "info");
	ck_assert_str_eq(c->log.format, "json");
	ck_assert_int_eq(c->jobs.workers, 4);
	ck_assert_int_eq(c->jobs.max_attempts, 8);
	ck_assert_int_eq(c->jobs.backoff_base_ms, 1000);
	ck_assert_int_eq(c->jobs.backoff_max_ms, 15 * 60000);
	ck_assert_int_eq(c->jobs.poll_interval_ms, 1000);
	ck_assert_int_eq(c->jobs.retention_ms, 14LL * 86400000);
	const struct upstream_http *h[4] = {&c->okta.http, &c->sentry.http, &c->gitlab.http, &c->slack.http};
	const int64_t timeout[4] = {30000, 30000, 10000, 10000};
	const int conc[4] = {8, 8, 4, 4};
	const double rate[4] = {10, 20, 10, 1};
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(h[i]->timeout_ms, timeout[i]);
		ck_assert_int_eq(h[i]->connect_timeout_ms, 5000);
		ck_assert_int_eq(h[i]->max_retries, 3);
		ck_assert_int_eq(h[i]->max_concurrency, conc[i]);
		ck_assert(h[i]->rate_per_sec == rate[i]);
		ck_assert_int_gt(h[i]->burst, 0);
		ck_assert_str_eq(h[i]->ca_file, "");
		ck_assert_uint_eq(h[i]->max_response_bytes, 16u * 1024 * 1024);
	}
	ck_assert_str_eq(c->okta.email_attribute, "email");
	ck_assert_str_eq(c->gitlab.proxy_prefix, "/gitlab");
	ck_assert_int_eq(c->gitlab.refresh_interval_ms, 15 * 60000);
	ck_assert_int_eq(c->sync.interval_ms, 15 * 60000);
	ck_assert_int_eq(c->sync.unmanaged_members, CONFIG_UNMANAGED_KEEP);
	ck_assert(c->sync.invite_missing);
	ck_assert(c->sync.guards.max_removals.is_percent && c->sync.guards.max_removals.value == 5);
	ck_assert(c->sync.guards.max_demotions.is_percent && c->sync.guards.max_demotions.value == 5);
	ck_assert_int_eq(c->roles.default_role, CONFIG_ROLE_MEMBER);
	ck_assert_int_eq(c->provisioning.project_slug_max, 100);
	ck_assert_uint_eq(c->provisioning.env_suffixes.n, 7);
	ck_assert_str_eq(c->provisioning.env_suffixes.v[0], "pre");
	ck_assert(!c->okta.oauth.configured && !c->okta.event_hook.configured && !c->routing.route.configured);
	ck_assert_int_eq(c->access_requests.max_role, CONFIG_ROLE_MANAGER);
	config_free(c);
}
END_TEST

/* Walk a struct by its table: no string field may be NULL after a load. */
static void assert_strings_set(const struct cfg_table *t, const void *base)
{
	for (size_t i = 0; i < t->nrows; i++) {
		const struct cfg_row *r = &t->rows[i];
		if (r->type == CT_STRING || r->type == CT_STRENUM || r->type == CT_SECRET_ENV ||
		    r->type == CT_SECRET_FILE)
			ck_assert_msg(*CFG_CAT(base, r->off, char *) != NULL, "%s.%s is NULL", t->name, r->key);
		else if (r->type == CT_SECTION)
			assert_strings_set(r->sub, CFG_CAT(base, r->off, char));
		else if (r->type == CT_LIST || r->type == CT_ROUTES)
			for (size_t k = 0; k < *CFG_CAT(base, r->aux, size_t); k++)
				assert_strings_set(r->sub, *CFG_CAT(base, r->off, char *) + k * r->sub->size);
	}
}

START_TEST(test_strings_never_null)
{
	struct config *c = load_ok("roles:\n  mappings: [{group: g, role: member}]\n"
				   "routing:\n  receivers: [{name: a, channel: \"#a\"}]\n"
				   "  route: {receiver: a, routes: [{matchers: [\"level=error\"]}]}\n"
				   "  time_intervals: [{name: n}]\n"
				   "access_requests:\n  approvers: [{kind: role, groups: [g]}]\n"
				   "  auto_approve: [{kind: team, groups: [g]}]\n");
	assert_strings_set(&cfg_top_table, c);
	config_free(c);
}
END_TEST

START_TEST(test_null_sections)
{
	struct config *c = load_ok("server:\nokta:\n  event_hook:\n  oauth: ~\nroles:\n  access_groups:\n");
	ck_assert_int_eq(c->server.threads, 8);
	ck_assert(!c->okta.event_hook.configured);
	ck_assert(!c->okta.oauth.configured);
	ck_assert_uint_eq(c->roles.access_groups.n, 0);
	config_free(c);
}
END_TEST

/* ---- error classes ---- */

START_TEST(test_unknown_key_suggestion)
{
	expect_error("listen: \"127.0.0.1:1\"\ndatabse_url: \"\"\n",
		     F ":2: unknown key \"databse_url\" (did you mean \"database_url\"?)");
	expect_error("okta:\n  base_ur: \"https://x.okta.com\"\n",
		     F ":2: okta: unknown key \"base_ur\" (did you mean \"base_url\"?)");
	expect_error("completely_different: 1\n", F ":1: unknown key \"completely_different\"");
	expect_error("okta:\n  api_token: abc\n",
		     F ":2: okta: unknown key \"api_token\": secrets are never written in the file; use "
		       "api_token_env (an environment variable) or api_token_file (a file)");
}
END_TEST

START_TEST(test_wrong_types)
{
	expect_error("server:\n  threads: eight\n", F ":2: server.threads: expected an integer, got \"eight\"");
	expect_error("sync:\n  invite_missing: yes\n",
		     F ":2: sync.invite_missing: expected true or false, got \"yes\"");
	expect_error("listen: [a]\n", F ":1: listen: expected a string, got a list");
	expect_error("gitlab:\n  scope: acme\n",
		     F ":2: gitlab.scope: expected a list of strings like [\"a\", \"b\"], got a scalar");
	expect_error("server: 5\n", F ":1: server: expected a mapping, got a scalar");
	expect_error("teams: {group: g}\n", F ":1: teams: expected a list of mappings, got a mapping");
	expect_error("server:\n  connection_timeout: 30\n",
		     F ":2: server.connection_timeout: expected a duration like \"30s\" or \"15m\" (units ms, s, m, "
		       "h, d, w), got \"30\"");
	expect_error("server:\n  max_body_bytes: lots\n",
		     F ":2: server.max_body_bytes: expected a size like \"512KiB\" or \"1MiB\" (units B, KB, MB, GB, "
		       "KiB, MiB, GiB), got \"lots\"");
	expect_error("okta:\n  http:\n    rate_per_sec: fast\n",
		     F ":3: okta.http.rate_per_sec: expected a number, got \"fast\"");
	expect_error("server:\n  threads:\n", F ":2: server.threads: expected an integer, got nothing (null)");
	expect_error("- a\n", F ":1: the file must be a mapping of keys (listen:, okta:, sentry:, ...), got a list");
}
END_TEST

START_TEST(test_out_of_range)
{
	expect_error("server:\n  threads: 0\n", F ":2: server.threads: must be between 1 and 256, got 0");
	expect_error("jobs:\n  retention: 1m\n", F ":2: jobs.retention: must be between 1h and 3650d, got \"1m\"");
	expect_error("server:\n  max_body_bytes: 1GiB\n",
		     F ":2: server.max_body_bytes: must be between 1KiB and 64MiB, got \"1GiB\"");
	expect_error("jobs:\n  backoff_base: 1h\n  backoff_max: 1m\n",
		     F ":2: jobs.backoff_base: must not be longer than jobs.backoff_max");
}
END_TEST

START_TEST(test_duplicate_key)
{
	expect_error("server:\n  threads: 2\n  threads: 3\n",
		     F ":3: server.threads: duplicate key (first set on line 2)");
}
END_TEST

START_TEST(test_bad_enum)
{
	expect_error("sync:\n  unmanaged_members: delete\n",
		     F ":2: sync.unmanaged_members: must be one of keep, demote, remove; got \"delete\"");
	expect_error("log:\n  level: verbose\n",
		     F ":2: log.level: must be one of debug, info, warn, error; got \"verbose\"");
	expect_error("teams:\n  - {group: g, team: t, role: owner}\n",
		     F ":2: teams[0].role: must be one of contributor, admin; got \"owner\"");
}
END_TEST

START_TEST(test_percent_or_count)
{
	expect_error("sync:\n  guards:\n    max_removals: lots\n",
		     F ":3: sync.guards.max_removals: expected a count or a percentage like \"5%\", got \"lots\"");
	expect_error("sync:\n  guards: { max_demotions: \"150%\" }\n",
		     F ":2: sync.guards.max_demotions: a percentage must be between 0% and 100%, got \"150%\"");
	struct config *c = load_ok("sync:\n  guards: { max_removals: 10, max_demotions: 2.5% }\n");
	ck_assert(!c->sync.guards.max_removals.is_percent && c->sync.guards.max_removals.value == 10);
	ck_assert(c->sync.guards.max_demotions.is_percent && c->sync.guards.max_demotions.value == 2.5);
	config_free(c);
}
END_TEST

START_TEST(test_yaml_syntax_error)
{
	char *all = load_err("listen: \"127.0.0.1:1\"\nokta:\n  base_url: [unclosed\n");
	HAS(all, F ":4: YAML syntax error: ");
	HAS(all, "flow sequence on line 3");
	free(all);
	all = load_err("a: 1\n---\nb: 2\n");
	HAS(all, F ":3: only one YAML document is allowed");
	free(all);
}
END_TEST

START_TEST(test_errors_collected_sorted)
{
	/* The secret error (found after the walk) is on line 1, the typo on line 3. */
	char *all = load_err("gitlab: {base_url: \"https://gitlab.com\", scope: [a], token_env: GITLAB_TOKEN}\n"
			     "server:\n  threadz: 3\n  threads: -1\n");
	ck_assert_str_eq(all, F ":1: gitlab.token_env: environment variable GITLAB_TOKEN is not set\n" F
				":3: server: unknown key \"threadz\" (did you mean \"threads\"?)\n" F
				":4: server.threads: must be between 1 and 256, got -1\n");
	free(all);
}
END_TEST

START_TEST(test_missing_and_large_file)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	ck_assert_int_eq(config_load("/nonexistent/dir/sentry-bridge.yaml", &c, &e), -1);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(e.n, 1);
	HAS(e.msgs[0], "/nonexistent/dir/sentry-bridge.yaml");
	config_errors_free(&e);

	struct buf b;
	buf_init(&b, 0);
	while (b.len <= CONFIG_MAX_FILE_BYTES)
		ck_assert_int_eq(buf_puts(&b, "# padding padding padding padding padding padding padding\n"), 0);
	char *path = tmp_file(buf_str(&b));
	buf_reset(&b);
	ck_assert_int_eq(config_load(path, &c, &e), -1);
	ck_assert_uint_eq(e.n, 1);
	HAS(e.msgs[0], "larger than 1048576 bytes");
	config_errors_free(&e);
	rm_tmp(path);

	path = tmp_file("server:\n  threads: 3\n");
	ck_assert_int_eq(config_load(path, &c, &e), 0);
	ck_assert_int_eq(c->server.threads, 3);
	ck_assert_str_eq(c->path, path);
	config_free(c);
	rm_tmp(path);
}
END_TEST

/* ---- secrets ---- */

START_TEST(test_missing_env_secret)
{
	set_issue2_env();
	unsetenv("OKTA_HOOK_SECRET");
	struct config *c = NULL;
	struct config_errors e = {0};
	ck_assert_int_eq(config_from_string(issue2_yaml, "sentry-bridge.yaml", &c, &e), -1);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.msgs[0], "sentry-bridge.yaml:8: okta.event_hook.secret_env: environment variable "
				    "OKTA_HOOK_SECRET is not set");
	config_errors_free(&e);
	setenv("SB_T_EMPTY", "", 1);
	expect_error("sentry:\n  token_env: SB_T_EMPTY\n",
		     F ":2: sentry.token_env: environment variable SB_T_EMPTY is empty");
	expect_error("sentry:\n  token_env: \"NOT A NAME\"\n",
		     F ":2: sentry.token_env: \"NOT A NAME\" is not a valid environment variable name");
}
END_TEST

START_TEST(test_written_secret_must_resolve)
{
	/* Written explicitly: must resolve even without CONFIG_FOR_SERVE (check-config, exit 3). */
	const char *m = "listen: \"127.0.0.1:5\"\ndatabase_url: \"x\"\npublic_url: \"http://127.0.0.1:5\"\n"
			"admin_token_env: BRIDGE_ADMIN_TOKEN\nlog:\n  level: debug\n";
	expect_error(m, F ":4: admin_token_env: environment variable BRIDGE_ADMIN_TOKEN is not set");
	/* Slack disabled, but a written key must still resolve. */
	expect_error("slack:\n  bot_token_env: SLACK_BOT_TOKEN\n",
		     F ":2: slack.bot_token_env: environment variable SLACK_BOT_TOKEN is not set");
	setenv("BRIDGE_ADMIN_TOKEN", "adm-tok-1111", 1);
	struct config *c = load_ok(m);
	ck_assert_str_eq(c->admin_token, "adm-tok-1111");
	config_free(c);
}
END_TEST

START_TEST(test_default_admin_token)
{
	/* The default name is only required by serve. */
	struct config *c = load_ok("listen: \"127.0.0.1:5\"\n");
	ck_assert_ptr_null(c->admin_token);
	config_free(c);
	char *all = load_err_ex("listen: \"127.0.0.1:5\"\n", CONFIG_FOR_SERVE);
	ck_assert_str_eq(all, F ": admin_token_env: environment variable BRIDGE_ADMIN_TOKEN is not set (required "
				"by serve, as the Bearer token of /api/v1)\n");
	free(all);
	setenv("BRIDGE_ADMIN_TOKEN", "adm-tok-1111", 1);
	c = load_ok_ex("", CONFIG_FOR_SERVE);
	ck_assert_str_eq(c->admin_token, "adm-tok-1111");
	config_free(c);
	c = load_ok(""); /* resolved when it can be, even if not required */
	ck_assert_str_eq(c->admin_token, "adm-tok-1111");
	config_free(c);
}
END_TEST

START_TEST(test_secret_file)
{
	char *path = tmp_file("file-secret-9999\n\n");
	char *yaml = cfg_strdupf("sentry:\n  token_file: %s\n", path);
	struct config *c = load_ok(yaml);
	ck_assert_str_eq(c->sentry.token, "file-secret-9999");
	config_free(c);
	free(yaml);

	/* A written file wins over the default variable name. */
	setenv("BRIDGE_ADMIN_TOKEN", "adm-tok-1111", 1);
	yaml = cfg_strdupf("admin_token_file: %s\n", path);
	c = load_ok_ex(yaml, CONFIG_FOR_SERVE);
	ck_assert_str_eq(c->admin_token, "file-secret-9999");
	ck_assert_str_eq(c->admin_token_env, "");
	config_free(c);
	free(yaml);
	rm_tmp(path);

	path = tmp_file("\n");
	yaml = cfg_strdupf("sentry:\n  token_file: %s\n", path);
	char *all = load_err(yaml);
	char *want = cfg_strdupf(F ":2: sentry.token_file: secret file %s is empty\n", path);
	ck_assert_str_eq(all, want);
	free(all);
	free(want);
	free(yaml);
	rm_tmp(path);

	yaml = strdup("sentry:\n  token_file: /nonexistent/secret\n");
	expect_error(yaml, F ":2: sentry.token_file: cannot read secret file /nonexistent/secret: No such file or "
			     "directory");
	free(yaml);

	struct buf b;
	buf_init(&b, 0);
	while (b.len <= CONFIG_MAX_SECRET_BYTES)
		ck_assert_int_eq(buf_puts(&b, "0123456789abcdef"), 0);
	path = tmp_file(buf_str(&b));
	buf_reset(&b);
	yaml = cfg_strdupf("sentry:\n  token_file: %s\n", path);
	all = load_err(yaml);
	HAS(all, "is larger than 65536 bytes");
	free(all);
	free(yaml);
	rm_tmp(path);
}
END_TEST

START_TEST(test_env_and_file_is_error)
{
	setenv("SENTRY_TOKEN", "sentry-tok-4444", 1);
	expect_error("sentry:\n  token_env: SENTRY_TOKEN\n  token_file: /etc/hostname\n",
		     F ":3: sentry.token_file: set either sentry.token_env or sentry.token_file, not both");
}
END_TEST

START_TEST(test_required_secrets)
{
	expect_error("sentry:\n  base_url: \"https://sentry.example.com\"\n  organization: acme\n",
		     F ":2: sentry.token_env: a secret is required when sentry.base_url is set: set sentry.token_env "
		       "(an environment variable) or sentry.token_file (a file)");
	expect_error("okta:\n  base_url: \"https://acme.okta.com\"\n",
		     F ":2: okta.api_token_env: a secret is required when okta.base_url is set and there is no "
		       "okta.oauth block: set okta.api_token_env (an environment variable) or okta.api_token_file (a "
		       "file)");
	/* Written but empty is the same as not written. */
	expect_error("okta:\n  base_url: \"https://acme.okta.com\"\n  api_token_env: \"\"\n",
		     F ":2: okta.api_token_env: a secret is required when okta.base_url is set and there is no "
		       "okta.oauth block: set okta.api_token_env (an environment variable) or okta.api_token_file (a "
		       "file)");
	/* A refused name is reported once, not again as missing. */
	expect_error("okta:\n  base_url: \"https://acme.okta.com\"\n  api_token_env: \"bad name\"\n",
		     F ":3: okta.api_token_env: \"bad name\" is not a valid environment variable name");
	expect_error("okta:\n  event_hook:\n    auth_header: X-Hook\n", F
		     ":2: okta.event_hook.secret_env: a secret is required when the okta.event_hook block is present: "
		     "set okta.event_hook.secret_env (an environment variable) or okta.event_hook.secret_file (a "
		     "file)");
	char *all = load_err("slack:\n  api_url: \"https://slack.com/api\"\n  forward_to_sentry: {enabled: false}\n");
	HAS(all, F ":2: slack.bot_token_env: a secret is required when slack.api_url is set");
	HAS(all, F ":2: slack.signing_secret_env: a secret is required when slack.api_url is set");
	free(all);
	all = load_err("console:\n  oidc:\n    issuer: \"https://acme.okta.com\"\n");
	HAS(all, F ":3: console.oidc.client_id: required when console.oidc.issuer is set");
	HAS(all, F ":3: console.oidc.client_secret_env: a secret is required");
	free(all);

	/* OAuth instead of SSWS: the private key file must resolve; no token needed. */
	char *key = tmp_file("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
	char *yaml = cfg_strdupf("okta:\n  base_url: \"https://acme.okta.com\"\n  oauth:\n    client_id: abc\n"
				 "    private_key_file: %s\n",
				 key);
	struct config *c = load_ok(yaml);
	ck_assert(c->okta.oauth.configured);
	ck_assert_ptr_nonnull(strstr(c->okta.oauth.private_key, "END PRIVATE KEY-----"));
	ck_assert_ptr_null(c->okta.api_token);
	ck_assert_int_eq(c->okta.oauth.algorithm, CONFIG_JWT_RS256);
	config_free(c);
	free(yaml);
	rm_tmp(key);
	expect_error("okta:\n  oauth:\n    client_id: abc\n",
		     F ":2: okta.oauth: missing required key \"private_key_file\"");
}
END_TEST

START_TEST(test_sentry_client_secret_optional)
{
	setenv("SENTRY_TOKEN", "sentry-tok-4444", 1);
	struct config *c = NULL;
	struct config_errors e = {0};
	ck_assert_int_eq(
	    config_from_string("sentry:\n  base_url: \"https://sentry.example.com\"\n  organization: acme\n"
			       "  token_env: SENTRY_TOKEN\n",
			       F, &c, &e),
	    0);
	ck_assert_uint_eq(e.nwarnings, 1);
	HAS(e.warnings[0], F ":2: sentry.client_secret_env: not set");
	ck_assert_ptr_null(c->sentry.client_secret);
	config_free(c);
	config_errors_free(&e);
}
END_TEST

/* ---- the dump ---- */

static char *dump_of(const struct config *c)
{
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(config_dump(c, &b), 0);
	return buf_take(&b);
}

START_TEST(test_dump_redacts)
{
	set_issue2_env();
	char *path = tmp_file("db-pass-0000\n");
	char *yaml = cfg_strdupf("%sdatabase:\n  password_file: %s\n", issue2_yaml, path);
	struct config *c = load_ok(yaml);
	char *d = dump_of(c);
	const char *secrets[] = {"adm-tok-1111",    "okta-tok-2222",  "hook-sec-3333",
				 "sentry-tok-4444", "sentry-cs-5555", "gitlab-tok-6666",
				 "xoxb-7777",	    "slack-ss-8888",  "db-pass-0000"};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		HASNT(d, secrets[i]);
	HAS(d, "okta:\n  base_url: \"https://example.okta.com\"\n");
	HAS(d, "api_token_env: \"OKTA_API_TOKEN\"  # <redacted: from env OKTA_API_TOKEN>\n");
	char *want = cfg_strdupf("password_file: \"%s\"  # <redacted: from file %s>\n", path, path);
	HAS(d, want);
	free(want);
	HAS(d, "    - group: \"okta-sentry-admin-users\"\n      role: manager\n");
	HAS(d, "max_removals: \"5%\"");
	free(d);
	config_free(c);

	/* A password written in the connection string is masked too (and warned about). */
	c = load_ok("database_url: \"postgresql://app:pa55word@db.example:5432/bridge?sslmode=require\"\n");
	d = dump_of(c);
	HASNT(d, "pa55word");
	HAS(d, "postgresql://app:<redacted>@db.example:5432/bridge");
	free(d);
	config_free(c);
	c = load_ok("database_url: \"host=db user=app password='p w\\\\'x' dbname=b\"\n");
	d = dump_of(c);
	HAS(d, "host=db user=app password=<redacted> dbname=b");
	free(d);
	config_free(c);
	free(yaml);
	rm_tmp(path);
}
END_TEST

START_TEST(test_dump_roundtrip)
{
	set_issue2_env();
	struct config *c =
	    load_ok("routing:\n  receivers: [{name: a, channel: \"#a\"}, {name: b, email: b@x.io}]\n"
		    "  route:\n    receiver: a\n    group_wait: 2500ms\n"
		    "    routes:\n      - {receiver: b, matchers: ['level=~\"error|fatal\"'], continue: true}\n"
		    "slack: {api_url: \"https://slack.com/api\", bot_token_env: SLACK_BOT_TOKEN, "
		    "signing_secret_env: SLACK_SIGNING_SECRET, forward_to_sentry: {enabled: false}}\n");
	char *d1 = dump_of(c);
	config_free(c);
	c = load_ok(d1);
	char *d2 = dump_of(c);
	config_free(c);
	/* Only the header line names the source. */
	ck_assert_str_eq(strchr(d1, '\n'), strchr(d2, '\n'));
	HAS(d1, "group_wait: 2500ms");
	free(d1);
	free(d2);
}
END_TEST

START_TEST(test_register_secrets)
{
	set_issue2_env();
	struct config *c = load_ok(issue2_yaml);
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	struct logger *lg = logger_new(LOG_FORMAT_JSON, LOG_LVL_DEBUG, f);
	ck_assert_ptr_nonnull(lg);
	config_register_secrets(c, lg);
	config_register_secrets(NULL, lg);
	config_register_secrets(c, NULL);
	log_info(lg, "test", NULL, "token okta-tok-2222 and xoxb-7777", "k", "hook-sec-3333", NULL);
	logger_free(lg);
	rewind(f);
	char line[2048] = {0};
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	HASNT(line, "okta-tok-2222");
	HASNT(line, "xoxb-7777");
	HASNT(line, "hook-sec-3333");
	HAS(line, "REDACTED");
	config_free(c);
}
END_TEST

/* ---- Sentry role rules and other cross-field checks ---- */

START_TEST(test_role_mapping_rules)
{
	expect_error("roles:\n  mappings:\n    - { group: \"okta-admins\", role: admin }\n",
		     F ":3: roles.mappings[0].role: the retired \"admin\" role cannot be granted by a group mapping "
		       "(Sentry refuses it): use \"manager\"");
	expect_error("roles:\n  mappings:\n    - group: \"okta-owners\"\n      role: owner\n",
		     F ":4: roles.mappings[0].role: \"owner\" is never granted by a group mapping: list the accounts "
		       "that may hold it by e-mail in roles.owners");
	expect_error("roles:\n  default_role: admin\n",
		     F ":2: roles.default_role: the retired \"admin\" role cannot be a default role (Sentry refuses "
		       "it): use \"manager\"");
	expect_error("roles:\n  mappings: [{role: member}]\n",
		     F ":2: roles.mappings[0]: missing required key \"group\"");
	expect_error("roles:\n  owners: [\"ops-contact\"]\n",
		     F ":2: roles.owners[0]: \"ops-contact\" is not an e-mail address (name@domain)");
	struct config *c = load_ok("roles:\n  default_role: manager\n");
	ck_assert_int_eq(c->roles.default_role, CONFIG_ROLE_MANAGER);
	config_free(c);
	expect_error("access_requests:\n  max_role: owner\n",
		     F ":2: access_requests.max_role: \"owner\" is never requested: list the accounts that may hold it "
		       "by e-mail in roles.owners");
}
END_TEST

START_TEST(test_url_rules)
{
	expect_error("okta:\n  base_url: \"http://acme.okta.com\"\n",
		     F ":2: okta.base_url: \"http://acme.okta.com\" must use https (plain http is allowed only to a "
		       "loopback host: 127.0.0.1, ::1 or localhost)");
	expect_error("sentry:\n  base_url: \"https://user:pw@sentry.io\"\n",
		     F ":2: sentry.base_url: \"https://user:pw@sentry.io\" must not contain credentials "
		       "(user:password@): secrets come from *_env or *_file keys");
	expect_error("public_url: \"ftp://x\"\n", F ":1: public_url: \"ftp://x\" must be an http:// or https:// URL");
	const char *ok[] = {"http://127.0.0.1:9000", "http://localhost/api", "http://[::1]:8080",
			    "https://slack.com/api", "http://127.1.2.3"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char *y = cfg_strdupf("slack:\n  api_url: \"%s\"\n  bot_token_file: /etc/hostname\n"
				      "  signing_secret_file: /etc/hostname\n  forward_to_sentry: {enabled: false}\n",
				      ok[i]);
		struct config *c = load_ok(y);
		config_free(c);
		free(y);
	}
	struct config *c = load_ok("public_url: \"http://bridge.internal:8080\"\n"); /* not an upstream */
	config_free(c);
	expect_error("listen: \"8080\"\n", F ":1: listen: \"8080\" must be host:port, e.g. \"127.0.0.1:8080\"");
	expect_error("listen: \"::1:8080\"\n", F ":1: listen: \"::1:8080\" has no host");
	expect_error("listen: \"h:99999\"\n", F ":1: listen: \"h:99999\" has a port above 65535");
	c = load_ok("listen: \"[::1]:8080\"\n");
	config_free(c);
}
END_TEST

START_TEST(test_gitlab_prefix)
{
	expect_error("gitlab:\n  proxy_prefix: gitlab\n",
		     F ":2: gitlab.proxy_prefix: must start with \"/\", got \"gitlab\"");
	expect_error("gitlab:\n  proxy_prefix: /api\n",
		     F ":2: gitlab.proxy_prefix: \"/api\" is used by the bridge itself; pick another prefix such as "
		       "\"/gitlab\"");
	char *all = load_err("gitlab:\n  proxy_prefix: /\n");
	HAS(all, "must be a path like \"/gitlab\"");
	free(all);
}
END_TEST

START_TEST(test_access_requests_rules)
{
	char *all = load_err("access_requests:\n  enabled: true\n  default_duration: 8d\n"
			     "  approvers:\n    - {kind: role, team_admins: true}\n"
			     "  auto_approve:\n    - {kind: role, max_role: admin, max_duration: 30d}\n");
	HAS(all, F ":2: access_requests.enabled: access requests need sentry.base_url\n");
	HAS(all, F ":3: access_requests.default_duration: must not be longer than access_requests.max_duration\n");
	HAS(all, F ":5: access_requests.approvers[0]: team_admins applies to kind: team only\n");
	HAS(all, F ":7: access_requests.auto_approve[0]: groups is required");
	HAS(all, F ":7: access_requests.auto_approve[0].max_role: the retired \"admin\" role");
	HAS(all, F ":7: access_requests.auto_approve[0].max_duration: must not be longer than");
	free(all);
}
END_TEST

/* ---- routing ---- */

START_TEST(test_route_inheritance)
{
	struct config *c =
	    load_ok("routing:\n"
		    "  receivers:\n    - {name: ops, channel: \"#ops\"}\n    - {name: db, channel: C0123}\n"
		    "  time_intervals:\n    - {name: nights, times: [\"00:00-07:00\"], location: Europe/Madrid}\n"
		    "  route:\n"
		    "    receiver: ops\n    group_by: [alert_rule]\n    group_wait: 10s\n"
		    "    mute_time_intervals: [nights]\n"
		    "    routes:\n"
		    "      - receiver: db\n"
		    "        matchers: [\"team=database\"]\n"
		    "        routes:\n"
		    "          - {group_wait: 1m, matchers: ['level=~\"fatal|error\"'], continue: true}\n"
		    "      - {matchers: [\"tag:customer!=acme\"]}\n");
	const struct config_route *root = &c->routing.route;
	ck_assert(root->configured);
	ck_assert_uint_eq(root->n_routes, 2);
	const struct config_route *db = &root->routes[0], *leaf = &db->routes[0], *other = &root->routes[1];
	ck_assert_str_eq(db->receiver, "db");
	ck_assert_int_eq(db->group_wait_ms, 10000);
	ck_assert_str_eq(db->group_by.v[0], "alert_rule");
	ck_assert_int_eq(db->repeat_interval_ms, 4 * 3600000);
	ck_assert_uint_eq(db->mute_time_intervals.n, 0); /* not inherited */
	ck_assert_str_eq(leaf->receiver, "db");
	ck_assert_int_eq(leaf->group_wait_ms, 60000);
	ck_assert(leaf->continue_);
	ck_assert_str_eq(other->receiver, "ops");
	ck_assert_int_eq(config_route_key_set(db, "receiver"), 1);
	ck_assert_int_eq(config_route_key_set(db, "group_wait"), 0);
	ck_assert_int_eq(config_route_key_set(leaf, "group_wait"), 1);
	ck_assert_int_eq(config_route_key_set(leaf, "receiver"), 0);
	ck_assert_int_eq(config_route_key_set(root, "mute_time_intervals"), 1);
	ck_assert_int_eq(config_route_key_set(root, "nope"), -1);
	config_free(c);
}
END_TEST

START_TEST(test_route_errors)
{
	char *all = load_err("routing:\n"
			     "  receivers:\n    - {name: ops, channel: \"#ops\"}\n    - {name: ops, email: a@b.c}\n"
			     "    - {name: none}\n"
			     "  time_intervals:\n    - {name: w, weekdays: [\"friday:monday\"], months: [13], "
			     "days_of_month: [\"0\"], location: Mars/Base}\n"
			     "  route:\n    receiver: nobody\n    matchers: [\"level=error\"]\n"
			     "    routes:\n      - matchers: ['level=~\"(oops\"', \"bogus=1\", \"level\"]\n"
			     "        active_time_intervals: [days]\n        group_by: [color]\n");
	HAS(all, F ":4: routing.receivers[1]: duplicate receiver name \"ops\" (first on line 3)\n");
	HAS(all, F ":5: routing.receivers[2]: a receiver needs a channel or an email\n");
	HAS(all, F ":7: routing.time_intervals[0].weekdays[0]: invalid weekday \"friday:monday\"");
	HAS(all, F ":7: routing.time_intervals[0].months[0]: invalid month \"13\"");
	HAS(all, F ":7: routing.time_intervals[0].days_of_month[0]: invalid day of month \"0\"");
	HAS(all, F ":7: routing.time_intervals[0].location: unknown time zone \"Mars/Base\"");
	HAS(all, F ":9: routing.route.receiver: unknown receiver \"nobody\" (defined: ops, ops, none)\n");
	HAS(all, F ":10: routing.route.matchers: the root route matches every alert: it cannot have matchers\n");
	HAS(all, F ":12: routing.route.routes[0].matchers[0]: invalid matcher \"level=~\"(oops\"\": invalid regular "
		   "expression");
	HAS(all, F ":12: routing.route.routes[0].matchers[1]: invalid matcher \"bogus=1\": unknown label");
	HAS(all, F ":12: routing.route.routes[0].matchers[2]: invalid matcher \"level\": expected an operator");
	HAS(all, F ":13: routing.route.routes[0].active_time_intervals[0]: unknown time interval \"days\"");
	HAS(all, F ":14: routing.route.routes[0].group_by[0]: unknown alert attribute \"color\"");
	free(all);
	/* Nesting is bounded (an alias can even make it cyclic). */
	all = load_err(
	    "routing:\n  receivers: [{name: a, channel: a}]\n  route: &r\n    receiver: a\n    routes: [*r]\n");
	HAS(all, "routes are nested deeper than 16 levels");
	free(all);
}
END_TEST

START_TEST(test_matcher_parse)
{
	struct config_matcher m;
	const char *why = NULL;
	ck_assert_int_eq(config_matcher_parse("level=~\"error|fatal\"", &m, &why), 0);
	ck_assert_str_eq(m.name, "level");
	ck_assert_int_eq(m.op, CONFIG_MATCH_RE);
	ck_assert_str_eq(m.value, "error|fatal");
	config_matcher_clear(&m);
	ck_assert_int_eq(config_matcher_parse(" tag:customer != acme corp ", &m, &why), 0);
	ck_assert_str_eq(m.name, "tag:customer");
	ck_assert_int_eq(m.op, CONFIG_MATCH_NE);
	ck_assert_str_eq(m.value, "acme corp");
	config_matcher_clear(&m);
	ck_assert_int_eq(config_matcher_parse("project=\"say \\\"hi\\\"\"", &m, &why), 0);
	ck_assert_str_eq(m.value, "say \"hi\"");
	config_matcher_clear(&m);
	ck_assert_int_eq(config_matcher_parse("environment!~prod.*", &m, &why), 0);
	ck_assert_int_eq(m.op, CONFIG_MATCH_NRE);
	config_matcher_clear(&m);
	ck_assert_int_eq(config_matcher_parse("team=\"\"", &m, &why), 0);
	ck_assert_str_eq(m.value, "");
	config_matcher_clear(&m);
	const char *bad[] = {"",
			     "level",
			     "level=",
			     "colour=red",
			     "tag:=x",
			     "level=~a)|(b",
			     "level=~a)|b",
			     "level=\"open",
			     "level=\"x\" y",
			     "level=~[z-a]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		ck_assert_msg(config_matcher_parse(bad[i], &m, &why) == -1, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(why);
		ck_assert_ptr_null(m.name);
	}
	config_matcher_clear(NULL);
}
END_TEST

START_TEST(test_time_intervals_ok)
{
	struct config *c = load_ok(
	    "routing:\n  time_intervals:\n"
	    "    - name: office\n      location: America/New_York\n"
	    "      weekdays: [\"monday:friday\", saturday]\n      times: [\"09:00-17:30\", \"18:00-24:00\"]\n"
	    "      days_of_month: [\"1:7\", \"-1\", \"-7:-1\"]\n      months: [january, \"1:3\", \"december\"]\n");
	ck_assert_uint_eq(c->routing.n_time_intervals, 1);
	ck_assert_uint_eq(c->routing.time_intervals[0].times.n, 2);
	config_free(c);
}
END_TEST

/* ---- value parsers ---- */

START_TEST(test_duration_and_size_parsers)
{
	const struct {
		const char *s;
		int64_t ms;
	} d[] = {{"250ms", 250},    {"30s", 30000},	{"15m", 900000}, {"1h", 3600000},
		 {"2d", 172800000}, {"1h30m", 5400000}, {"0", 0},	 {"1w", 604800000}};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		int64_t v = -1;
		ck_assert_msg(cfg_parse_duration(d[i].s, &v) == 0 && v == d[i].ms, "%s", d[i].s);
		char out[32];
		int64_t back = -1;
		cfg_fmt_duration(v, out, sizeof out);
		ck_assert_int_eq(cfg_parse_duration(out, &back), 0);
		ck_assert_int_eq(back, v);
	}
	const char *dbad[] = {"30", "1x", "m", "30m1h", "", "-1s", "1.5h", "99999999999999999999s", "1 s"};
	for (size_t i = 0; i < sizeof dbad / sizeof dbad[0]; i++) {
		int64_t v;
		ck_assert_msg(cfg_parse_duration(dbad[i], &v) == -1, "accepted %s", dbad[i]);
	}
	const struct {
		const char *s;
		size_t n;
	} z[] = {{"1MiB", 1048576}, {"512KiB", 524288}, {"2MB", 2000000}, {"1024", 1024}, {"1 KiB", 1024}, {"3B", 3}};
	for (size_t i = 0; i < sizeof z / sizeof z[0]; i++) {
		size_t v = 0;
		ck_assert_msg(cfg_parse_size(z[i].s, &v) == 0 && v == z[i].n, "%s", z[i].s);
	}
	const char *zbad[] = {"1.5MiB", "lots", "-1", "1mib", "", "1 ", "99999999999999999999GiB"};
	for (size_t i = 0; i < sizeof zbad / sizeof zbad[0]; i++) {
		size_t v;
		ck_assert_msg(cfg_parse_size(zbad[i], &v) == -1, "accepted %s", zbad[i]);
	}
}
END_TEST

/* ---- the key list, the docs and the example ---- */

struct keyset {
	char **paths;
	size_t n;
};

static void collect(const char *path, const char *help, void *arg)
{
	struct keyset *k = arg;
	ck_assert_ptr_nonnull(help);
	ck_assert_uint_gt(strlen(help), 0);
	char **v = realloc(k->paths, (k->n + 1) * sizeof *v);
	ck_assert_ptr_nonnull(v);
	k->paths = v;
	k->paths[k->n] = strdup(path);
	ck_assert_ptr_nonnull(k->paths[k->n]);
	k->n++;
}

static void keyset_free(struct keyset *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->paths[i]);
	free(k->paths);
}

static bool has_path(const struct keyset *k, const char *p)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->paths[i], p))
			return true;
	return false;
}

START_TEST(test_for_each_key)
{
	struct keyset k = {0};
	config_for_each_key(collect, &k);
	ck_assert(has_path(&k, "okta"));
	ck_assert(has_path(&k, "okta.event_hook"));
	ck_assert(has_path(&k, "okta.event_hook.secret_env"));
	ck_assert(has_path(&k, "roles.mappings"));
	ck_assert(has_path(&k, "roles.mappings[].group"));
	ck_assert(has_path(&k, "routing.route.routes"));
	ck_assert(has_path(&k, "okta.http.max_response_bytes"));
	size_t routes = 0;
	for (size_t i = 0; i < k.n; i++) {
		routes += strstr(k.paths[i], "routes") != NULL;
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(k.paths[i], k.paths[j]), "duplicate path %s", k.paths[i]);
	}
	ck_assert_uint_eq(routes, 1);
	keyset_free(&k);
}
END_TEST

static void check_info(const struct config_key_info *k, void *arg)
{
	int *seen = arg;
	if (!strcmp(k->path, "sync.unmanaged_members")) {
		ck_assert_str_eq(k->type, "enum");
		ck_assert_str_eq(k->values[2], "remove");
		ck_assert_str_eq(k->def, "keep");
		(*seen)++;
	} else if (!strcmp(k->path, "server.threads")) {
		ck_assert_int_eq(k->min, 1);
		ck_assert_int_eq(k->max, 256);
		(*seen)++;
	} else if (!strcmp(k->path, "okta.oauth.private_key_file")) {
		ck_assert(k->secret && k->required);
		(*seen)++;
	} else if (!strcmp(k->path, "listen")) {
		ck_assert(!k->secret && k->min > k->max);
		ck_assert_ptr_nonnull(k->section_feature);
		(*seen)++;
	}
}

START_TEST(test_key_info)
{
	int seen = 0;
	config_for_each_key_info(check_info, &seen);
	ck_assert_int_eq(seen, 4);
	ck_assert_str_eq(config_role_name(CONFIG_ROLE_MANAGER), "manager");
	ck_assert_str_eq(config_team_role_name(CONFIG_TEAM_ROLE_ADMIN), "admin");
	config_free(NULL);
	config_errors_free(NULL);
}
END_TEST

static char *src_file(const char *rel)
{
	const char *dir = getenv("SB_SRCDIR");
	char *path = cfg_strdupf("%s/%s", dir && *dir ? dir : ".", rel);
	ck_assert_ptr_nonnull(path);
	char *text = read_text(path);
	free(path);
	return text;
}

/* "key:" written as a YAML key (possibly commented out) somewhere in text. */
static bool yaml_mentions(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
		char before = p == text ? '\n' : p[-1];
		if (p[n] == ':' && strchr("\n #{,-", before))
			return true;
	}
	return false;
}

START_TEST(test_docs_and_example_cover_every_key)
{
	char *docs = src_file("docs/config.md"), *example = src_file("sentry-bridge.example.yaml");
	struct keyset k = {0};
	config_for_each_key(collect, &k);
	for (size_t i = 0; i < k.n; i++) {
		char *q = cfg_strdupf("`%s`", k.paths[i]);
		ck_assert_msg(strstr(docs, q) != NULL, "docs/config.md does not document `%s`", k.paths[i]);
		free(q);
		const char *leaf = strrchr(k.paths[i], '.');
		leaf = leaf ? leaf + 1 : k.paths[i];
		ck_assert_msg(yaml_mentions(example, leaf), "sentry-bridge.example.yaml does not show %s", k.paths[i]);
	}
	keyset_free(&k);
	free(docs);
	free(example);
}
END_TEST

START_TEST(test_example_file_loads)
{
	char *example = src_file("sentry-bridge.example.yaml");
	/* Set every variable the example names (in keys that are not commented out). */
	for (const char *line = example; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *p = line;
		while (*p == ' ')
			p++;
		const char *env = strstr(p, "_env: ");
		const char *eol = strchr(p, '\n');
		if (*p == '#' || !env || (eol && env > eol))
			continue;
		env += 6;
		size_t n = strspn(env, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		char *name = strndup(env, n);
		ck_assert_ptr_nonnull(name);
		setenv(name, "example-secret-value", 1);
		free(name);
	}
	free(example);
	const char *dir = getenv("SB_SRCDIR");
	char *path = cfg_strdupf("%s/sentry-bridge.example.yaml", dir && *dir ? dir : ".");
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_load_ex(path, CONFIG_FOR_SERVE, &c, &e);
	char *all = join_msgs(e.msgs, e.n);
	ck_assert_msg(rc == 0, "the example does not load:\n%s", all);
	free(all);
	ck_assert_uint_eq(e.nwarnings, 0);
	config_free(c);
	config_errors_free(&e);
	free(path);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, clear_env, clear_env);
	tcase_add_test(tc, test_issue2_example);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_strings_never_null);
	tcase_add_test(tc, test_null_sections);
	tcase_add_test(tc, test_unknown_key_suggestion);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_bad_enum);
	tcase_add_test(tc, test_percent_or_count);
	tcase_add_test(tc, test_yaml_syntax_error);
	tcase_add_test(tc, test_errors_collected_sorted);
	tcase_add_test(tc, test_missing_and_large_file);
	tcase_add_test(tc, test_missing_env_secret);
	tcase_add_test(tc, test_written_secret_must_resolve);
	tcase_add_test(tc, test_default_admin_token);
	tcase_add_test(tc, test_secret_file);
	tcase_add_test(tc, test_env_and_file_is_error);
	tcase_add_test(tc, test_required_secrets);
	tcase_add_test(tc, test_sentry_client_secret_optional);
	tcase_add_test(tc, test_dump_redacts);
	tcase_add_test(tc, test_dump_roundtrip);
	tcase_add_test(tc, test_register_secrets);
	tcase_add_test(tc, test_role_mapping_rules);
	tcase_add_test(tc, test_url_rules);
	tcase_add_test(tc, test_gitlab_prefix);
	tcase_add_test(tc, test_access_requests_rules);
	tcase_add_test(tc, test_route_inheritance);
	tcase_add_test(tc, test_route_errors);
	tcase_add_test(tc, test_matcher_parse);
	tcase_add_test(tc, test_time_intervals_ok);
	tcase_add_test(tc, test_duration_and_size_parsers);
	tcase_add_test(tc, test_for_each_key);
	tcase_add_test(tc, test_key_info);
	tcase_add_test(tc, test_docs_and_example_cover_every_key);
	tcase_add_test(tc, test_example_file_loads);
	suite_add_tcase(s, tc);
	return s;
}
