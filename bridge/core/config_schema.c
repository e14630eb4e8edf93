/*
 * config_schema.c: what the configuration file may contain.
 *
 * One row list per struct of config.h: {key, type, field, default, help,
 * flags, bounds, allowed values, sub-table}. The rows drive parsing,
 * defaults, the redacted dump, config_for_each_key() and the test that
 * keeps docs/config.md and sentry-bridge.example.yaml complete. Add a key
 * here and in both files; the unit test fails until all three agree.
 *
 * Below the tables, cfg_validate() holds the rules that involve more than
 * one key: which secrets each enabled feature requires, Sentry's role rules
 * (admin is retired, owner only by name), and consistency of bounds.
 * The routing tables live in config_route.c.
 */
#include "config_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROW(st, k, T, f, d, h, ...)                                                                                    \
	{                                                                                                              \
		.key = (k), .type = (T), .off = offsetof(st, f), .def = (d), .help = (h), __VA_ARGS__                  \
	}
#define BOUNDS(lo, hi) .bounded = true, .min = (lo), .max = (hi)
#define SEC(st, k, f, subtab, h, ...) ROW(st, k, CT_SECTION, f, NULL, h, .sub = &subtab##_tab, __VA_ARGS__)
#define LIST(st, k, f, nf, subtab, h) ROW(st, k, CT_LIST, f, NULL, h, .sub = &subtab##_tab, .aux = offsetof(st, nf))
/* A secret NAME given by NAME_env or NAME_file. */
#define SECRET(st, name, envdef, h)                                                                                    \
	ROW(st, #name "_env", CT_SECRET_ENV, name##_env, envdef,                                                       \
	    h ": name of the environment variable "                                                                    \
	      "that holds it",                                                                                         \
	    .aux = offsetof(st, name)),                                                                                \
	    ROW(st, #name "_file", CT_SECRET_FILE, name##_file, NULL,                                                  \
		h ": path of a file that holds it "                                                                    \
		  "(trailing newline stripped)",                                                                       \
		.aux = offsetof(st, name))
/* The table name##_tab of the rows name##_rows. */
#define STABLE(name, st, nm, feat)                                                                                     \
	static const struct cfg_table name##_tab = {nm, name##_rows, sizeof name##_rows / sizeof name##_rows[0],       \
						    sizeof(st), feat}

#define SEC_MS 1000LL
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

const char *const cfg_role_values[] = {"member", "admin", "manager", "owner", NULL};
const char *const cfg_team_role_values[] = {"contributor", "admin", NULL};
static const char *const unmanaged_values[] = {"keep", "demote", "remove", NULL};
static const char *const jwt_alg_values[] = {"RS256", "ES256", NULL};
static const char *const non_ascii_values[] = {"refuse", "transliterate", NULL};
static const char *const request_kind_values[] = {"role", "team", NULL};
static const char *const log_level_values[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_format_values[] = {"json", "text", NULL};
static const char *const email_attr_values[] = {"email", "login", NULL};
static const char *const channel_type_values[] = {"public_channel", "private_channel", "mpim", "im", NULL};

/* ---- outbound HTTP, one table per upstream (each has its own defaults) ---- */

/* clang-format off */
#define HTTP_ROWS(T_, C_, R_, B_)                                                                            \
	{                                                                                                    \
		ROW(struct upstream_http, "timeout", CT_DURATION, timeout_ms, T_,                            \
		    "timeout of a whole request (connect, send, receive)", BOUNDS(100, 10 * MIN_MS)),        \
		ROW(struct upstream_http, "connect_timeout", CT_DURATION, connect_timeout_ms, "5s",          \
		    "timeout of the TCP and TLS connect", BOUNDS(100, 5 * MIN_MS)),                          \
		ROW(struct upstream_http, "max_retries", CT_INT, max_retries, "3",                           \
		    "retries of idempotent calls after a 5xx or a timeout", BOUNDS(0, 10)),                  \
		ROW(struct upstream_http, "max_concurrency", CT_INT, max_concurrency, C_,                    \
		    "requests in flight to this upstream at once", BOUNDS(1, 256)),                          \
		ROW(struct upstream_http, "rate_per_sec", CT_NUMBER, rate_per_sec, R_,                       \
		    "client-side request budget per second; 0 = no budget", BOUNDS(0, 100000)),              \
		ROW(struct upstream_http, "burst", CT_INT, burst, B_,                                        \
		    "token-bucket size for rate_per_sec; 0 = ceil(rate_per_sec)", BOUNDS(0, 100000)),        \
		ROW(struct upstream_http, "ca_file", CT_STRING, ca_file, NULL,                               \
		    "extra CA bundle (PEM) to trust for this upstream; empty = the system store"),           \
		ROW(struct upstream_http, "max_response_bytes", CT_SIZE, max_response_bytes, "16MiB",        \
		    "response bodies larger than this fail the call", BOUNDS(KIB, GIB)),                     \
	}
/* clang-format on */

#define HTTP_FEATURE "outbound HTTP client: timeouts, retries, rate budget, TLS (issue 2)"
static const struct cfg_row okta_http_rows[] = HTTP_ROWS("30s", "8", "10", "10");
static const struct cfg_row sentry_http_rows[] = HTTP_ROWS("30s", "8", "20", "20");
static const struct cfg_row gitlab_http_rows[] = HTTP_ROWS("10s", "4", "10", "10");
static const struct cfg_row slack_http_rows[] = HTTP_ROWS("10s", "4", "1", "3");
STABLE(okta_http, struct upstream_http, "upstream_http", HTTP_FEATURE);
STABLE(sentry_http, struct upstream_http, "upstream_http", HTTP_FEATURE);
STABLE(gitlab_http, struct upstream_http, "upstream_http", HTTP_FEATURE);
STABLE(slack_http, struct upstream_http, "upstream_http", HTTP_FEATURE);

/* ---- the daemon ---- */

static const struct cfg_row server_rows[] = {
    ROW(struct config_server, "max_body_bytes", CT_SIZE, max_body_bytes, "1MiB", "request bodies above this get 413",
	BOUNDS(KIB, 64 * MIB)),
    ROW(struct config_server, "connection_timeout", CT_DURATION, connection_timeout_ms, "30s",
	"idle connection timeout", BOUNDS(SEC_MS, HOUR_MS)),
    ROW(struct config_server, "threads", CT_INT, threads, "8", "HTTP worker threads", BOUNDS(1, 256)),
    ROW(struct config_server, "shutdown_grace", CT_DURATION, shutdown_grace_ms, "20s",
	"time to finish in-flight work after SIGTERM", BOUNDS(0, 10 * MIN_MS)),
};
STABLE(server, struct config_server, "config_server", "HTTP server (issue 2)");

static const struct cfg_row database_rows[] = {
    ROW(struct config_database, "pool_size", CT_INT, pool_size, "8", "PostgreSQL connections in the pool",
	BOUNDS(1, 256)),
    ROW(struct config_database, "connect_timeout", CT_DURATION, connect_timeout_ms, "5s",
	"timeout of one connection attempt", BOUNDS(100, 5 * MIN_MS)),
    ROW(struct config_database, "connect_retry_max", CT_DURATION, connect_retry_max_ms, "30s",
	"ceiling of the reconnect backoff while the database is down", BOUNDS(SEC_MS, HOUR_MS)),
    ROW(struct config_database, "statement_timeout", CT_DURATION, statement_timeout_ms, "0",
	"statement_timeout of every session; 0 = none", BOUNDS(0, HOUR_MS)),
    SECRET(struct config_database, password, NULL,
	   "PostgreSQL password (optional; libpq defaults such as ~/.pgpass otherwise)"),
};
STABLE(database, struct config_database, "config_database", "PostgreSQL pool and migrations (issue 2)");

static const struct cfg_row log_rows[] = {
    ROW(struct config_log, "level", CT_STRENUM, level, "info", "lowest level written (--log-level overrides)",
	.values = log_level_values),
    ROW(struct config_log, "format", CT_STRENUM, format, "json",
	"json lines, or text for people (--log-format overrides)", .values = log_format_values),
};
STABLE(log, struct config_log, "config_log", "logging (issue 2)");

static const struct cfg_row jobs_rows[] = {
    ROW(struct config_jobs, "workers", CT_INT, workers, "4", "shared job worker threads", BOUNDS(1, 256)),
    ROW(struct config_jobs, "max_attempts", CT_INT, max_attempts, "8",
	"attempts before a job is dead (visible and replayable)", BOUNDS(1, 100)),
    ROW(struct config_jobs, "backoff_base", CT_DURATION, backoff_base_ms, "1s",
	"first retry delay (doubles each attempt, with jitter)", BOUNDS(10, HOUR_MS)),
    ROW(struct config_jobs, "backoff_max", CT_DURATION, backoff_max_ms, "15m", "longest retry delay",
	BOUNDS(100, 7 * DAY_MS)),
    ROW(struct config_jobs, "poll_interval", CT_DURATION, poll_interval_ms, "1s",
	"how often idle workers look for due jobs", BOUNDS(10, 5 * MIN_MS)),
    ROW(struct config_jobs, "retention", CT_DURATION, retention_ms, "14d",
	"done jobs and processed inbox rows are kept this long", BOUNDS(HOUR_MS, 3650 * DAY_MS)),
};
STABLE(jobs, struct config_jobs, "config_jobs", "durable job queue and inbox (issue 2)");

/* ---- Okta ---- */

static const struct cfg_row okta_oauth_rows[] = {
    ROW(struct config_okta_oauth, "client_id", CT_STRING, client_id, NULL, "client id of the OAuth service app",
	.flags = CF_REQUIRED),
    ROW(struct config_okta_oauth, "private_key_file", CT_SECRET_FILE, private_key_file, NULL,
	"PEM or JWK file with the private key that signs the client assertion (private_key_jwt)", .flags = CF_REQUIRED,
	.aux = offsetof(struct config_okta_oauth, private_key)),
    ROW(struct config_okta_oauth, "key_id", CT_STRING, key_id, NULL,
	"kid header of the client assertion; empty = none"),
    ROW(struct config_okta_oauth, "algorithm", CT_ENUM, algorithm, "RS256",
	"signature algorithm of the client assertion", .values = jwt_alg_values),
    ROW(struct config_okta_oauth, "scopes", CT_STRLIST, scopes, "[okta.users.read, okta.groups.read]",
	"scopes requested (add okta.logs.read for system_log_poll)", .flags = CF_NONEMPTY),
};
STABLE(okta_oauth, struct config_okta_oauth, "config_okta_oauth",
       "Okta OAuth 2.0 service app with private_key_jwt, instead of an SSWS token (issue 3)");

static const struct cfg_row okta_hook_rows[] = {
    ROW(struct config_okta_event_hook, "auth_header", CT_STRING, auth_header, "Authorization",
	"header in which Okta sends the shared secret", .flags = CF_NONEMPTY),
    SECRET(struct config_okta_event_hook, secret, NULL, "shared secret Okta sends in auth_header"),
};
STABLE(okta_hook, struct config_okta_event_hook, "config_okta_event_hook",
       "Okta event hooks: GET/POST /hooks/okta (issue 4)");

static const struct cfg_row okta_syslog_rows[] = {
    ROW(struct config_okta_syslog, "enabled", CT_BOOL, enabled, "false",
	"poll Okta's System Log to catch missed event hook deliveries"),
    ROW(struct config_okta_syslog, "interval", CT_DURATION, interval_ms, "1m", "time between polls",
	BOUNDS(10 * SEC_MS, DAY_MS)),
    ROW(struct config_okta_syslog, "lookback", CT_DURATION, lookback_ms, "1h", "how far back the first poll starts",
	BOUNDS(0, 90 * DAY_MS)),
};
STABLE(okta_syslog, struct config_okta_syslog, "config_okta_syslog", "Okta System Log catch-up polling (issue 4)");

static const struct cfg_row okta_rows[] = {
    ROW(struct config_okta, "base_url", CT_STRING, base_url, NULL,
	"Okta org URL, e.g. https://acme.okta.com; empty = Okta disabled", .flags = CF_UPSTREAM),
    SECRET(struct config_okta, api_token, NULL, "Okta SSWS API token (or an oauth block instead)"),
    SEC(struct config_okta, "oauth", oauth, okta_oauth,
	"OAuth 2.0 service app (client_id, private_key_file, scopes); replaces the SSWS token", .flags = CF_PRESENCE,
	.aux = offsetof(struct config_okta_oauth, configured)),
    SEC(struct config_okta, "event_hook", event_hook, okta_hook,
	"Okta event hook receiver; present = POST /hooks/okta is enabled", .flags = CF_PRESENCE,
	.aux = offsetof(struct config_okta_event_hook, configured)),
    ROW(struct config_okta, "email_attribute", CT_STRENUM, email_attribute, "email",
	"Okta profile field matched (case-insensitively) to Sentry e-mails", .values = email_attr_values),
    ROW(struct config_okta, "group_filter", CT_STRING, group_filter, NULL,
	"Okta filter expression for listing groups; empty = none"),
    ROW(struct config_okta, "rate_limit_reserve", CT_PCT, rate_limit_reserve, "10%",
	"share (or count) of each X-Rate-Limit budget kept unused; the client waits for the reset"),
    SEC(struct config_okta, "system_log_poll", system_log_poll, okta_syslog,
	"System Log polling that feeds missed events into the inbox"),
    SEC(struct config_okta, "http", http, okta_http, "outbound HTTP settings for Okta"),
};
STABLE(okta, struct config_okta, "config_okta",
       "Okta: directory reads for the role sync (issue 3), event hooks (issue 4)");

/* ---- Sentry, GitLab, Slack ---- */

static const struct cfg_row sentry_rows[] = {
    ROW(struct config_sentry, "base_url", CT_STRING, base_url, NULL,
	"Sentry URL, e.g. https://sentry.example.com; empty = Sentry disabled", .flags = CF_UPSTREAM),
    ROW(struct config_sentry, "organization", CT_STRING, organization, NULL, "organisation slug", .flags = CF_SLUG),
    SECRET(struct config_sentry, token, NULL,
	   "Sentry auth token for the web API (member:admin, team:admin, "
	   "project:admin, event:write)"),
    SECRET(struct config_sentry, client_secret, NULL,
	   "client secret of the Sentry integration; verifies Sentry-Hook-Signature on POST /hooks/sentry"),
    SEC(struct config_sentry, "http", http, sentry_http, "outbound HTTP settings for Sentry"),
};
STABLE(sentry, struct config_sentry, "config_sentry",
       "Sentry: role sync (issue 3), provisioning (issue 5), webhooks and triage (issue 8)");

static const struct cfg_row gitlab_rows[] = {
    ROW(struct config_gitlab, "base_url", CT_STRING, base_url, NULL,
	"GitLab URL, e.g. https://gitlab.com; empty = GitLab proxy disabled", .flags = CF_UPSTREAM),
    SECRET(struct config_gitlab, token, NULL, "GitLab token (read_api) that walks the scope for the cache"),
    ROW(struct config_gitlab, "proxy_prefix", CT_STRING, proxy_prefix, "/gitlab",
	"path prefix under which the bridge answers as GitLab (Sentry's \"GitLab URL\")",
	.flags = CF_ABSPATH | CF_NONEMPTY),
    ROW(struct config_gitlab, "scope", CT_STRLIST, scope, NULL,
	"full paths of the groups whose subgroups and projects are cached", .flags = CF_NONEMPTY),
    ROW(struct config_gitlab, "refresh_interval", CT_DURATION, refresh_interval_ms, "15m",
	"time between cache refreshes", BOUNDS(MIN_MS, 7 * DAY_MS)),
    ROW(struct config_gitlab, "auth_cache_ttl", CT_DURATION, auth_cache_ttl_ms, "5m",
	"how long a caller token's verdict for a group is cached", BOUNDS(0, DAY_MS)),
    ROW(struct config_gitlab, "proxy_timeout", CT_DURATION, proxy_timeout_ms, "10s",
	"timeout of a pass-through request to GitLab", BOUNDS(SEC_MS, 5 * MIN_MS)),
    SEC(struct config_gitlab, "http", http, gitlab_http, "outbound HTTP settings for GitLab"),
};
STABLE(gitlab, struct config_gitlab, "config_gitlab", "GitLab integration proxy and cache (issue 6)");

static const struct cfg_row slack_fwd_rows[] = {
    ROW(struct config_slack_forward, "enabled", CT_BOOL, enabled, "true",
	"forward Slack requests the bridge does not own to Sentry's Slack endpoints"),
    ROW(struct config_slack_forward, "action_url", CT_STRING, action_url, NULL,
	"interactivity target; empty = sentry.base_url + /extensions/slack/action/", .flags = CF_UPSTREAM),
    ROW(struct config_slack_forward, "event_url", CT_STRING, event_url, NULL,
	"Events API target; empty = sentry.base_url + /extensions/slack/event/", .flags = CF_UPSTREAM),
    ROW(struct config_slack_forward, "command_url", CT_STRING, command_url, NULL,
	"slash command target; empty = sentry.base_url + /extensions/slack/commands/", .flags = CF_UPSTREAM),
    ROW(struct config_slack_forward, "options_load_url", CT_STRING, options_load_url, NULL,
	"options load target; empty = sentry.base_url + /extensions/slack/options-load/", .flags = CF_UPSTREAM),
    ROW(struct config_slack_forward, "timeout", CT_DURATION, timeout_ms, "2500ms",
	"time Sentry gets to answer a forwarded request (Slack waits 3 s)", BOUNDS(100, 3 * SEC_MS)),
};
STABLE(slack_fwd, struct config_slack_forward, "config_slack_forward",
       "one Slack app shared with Sentry: forwarding (issue 8)");

static const struct cfg_row slack_dir_rows[] = {
    ROW(struct config_slack_directory, "refresh_interval", CT_DURATION, refresh_interval_ms, "1h",
	"time between full refreshes of the channel and user directory", BOUNDS(MIN_MS, 7 * DAY_MS)),
    ROW(struct config_slack_directory, "channel_types", CT_STRLIST, channel_types, "[public_channel, private_channel]",
	"conversation types listed into the directory", .values = channel_type_values, .flags = CF_NONEMPTY),
};
STABLE(slack_dir, struct config_slack_directory, "config_slack_directory",
       "cached Slack channel and user directory (issue 8)");

static const struct cfg_row slack_rows[] = {
    ROW(struct config_slack, "api_url", CT_STRING, api_url, NULL,
	"Slack Web API base, https://slack.com/api; empty = Slack disabled", .flags = CF_UPSTREAM),
    SECRET(struct config_slack, bot_token, NULL, "Slack bot token (xoxb-...)"),
    SECRET(struct config_slack, signing_secret, NULL, "Slack signing secret; verifies X-Slack-Signature"),
    ROW(struct config_slack, "signature_max_age", CT_DURATION, signature_max_age_ms, "5m",
	"requests whose X-Slack-Request-Timestamp is further away are refused (replays)", BOUNDS(10 * SEC_MS, HOUR_MS)),
    ROW(struct config_slack, "action_id_prefix", CT_STRING, action_id_prefix, "sb_",
	"action_id prefix of the bridge's own buttons; other actions go to Sentry", .flags = CF_NONEMPTY),
    ROW(struct config_slack, "slash_command", CT_STRING, slash_command, "/sentry-access",
	"the bridge's own slash command; other commands go to Sentry", .flags = CF_ABSPATH | CF_NONEMPTY),
    SEC(struct config_slack, "forward_to_sentry", forward_to_sentry, slack_fwd,
	"forwarding of Sentry's own Slack interactions"),
    SEC(struct config_slack, "directory", directory, slack_dir, "the cached channel and user directory"),
    SEC(struct config_slack, "http", http, slack_http, "outbound HTTP settings for Slack"),
};
STABLE(slack, struct config_slack, "config_slack", "Slack alerting, triage and directory (issue 8)");

/* ---- policy: sync, roles, teams, provisioning ---- */

static const struct cfg_row guards_rows[] = {
    ROW(struct config_sync_guards, "max_removals", CT_PCT, max_removals, "5%",
	"refuse a plan removing more members than this count or share of managed members"),
    ROW(struct config_sync_guards, "max_demotions", CT_PCT, max_demotions, "5%",
	"refuse a plan demoting more members than this count or share of managed members"),
    ROW(struct config_sync_guards, "event_window", CT_DURATION, event_window_ms, "1h",
	"sliding window over which event-driven removals and demotions count against the guards",
	BOUNDS(MIN_MS, 7 * DAY_MS)),
};
STABLE(guards, struct config_sync_guards, "config_sync_guards", "sync guards (issues 3 and 4)");

static const struct cfg_row sync_rows[] = {
    ROW(struct config_sync, "interval", CT_DURATION, interval_ms, "15m", "time between scheduled syncs",
	BOUNDS(MIN_MS, 7 * DAY_MS)),
    ROW(struct config_sync, "unmanaged_members", CT_ENUM, unmanaged_members, "keep",
	"members in no access group: keep, demote (to member) or remove", .values = unmanaged_values),
    ROW(struct config_sync, "invite_missing", CT_BOOL, invite_missing, "true",
	"invite people in an access group who are not Sentry members yet"),
    ROW(struct config_sync, "dry_run", CT_BOOL, dry_run, "false", "scheduled runs only plan, never apply"),
    ROW(struct config_sync, "apply_concurrency", CT_INT, apply_concurrency, "4", "changes applied to Sentry at once",
	BOUNDS(1, 64)),
    SEC(struct config_sync, "guards", guards, guards, "limits that refuse a whole plan"),
};
STABLE(sync, struct config_sync, "config_sync", "reconcile engine and scheduled sync (issue 3)");

static const struct cfg_row mapping_rows[] = {
    ROW(struct config_role_mapping, "group", CT_STRING, group, NULL, "Okta group name",
	.flags = CF_REQUIRED | CF_NONEMPTY),
    ROW(struct config_role_mapping, "role", CT_ROLE, role, NULL, "Sentry org role its members get: member or manager",
	.flags = CF_REQUIRED),
};
STABLE(mapping, struct config_role_mapping, "config_role_mapping", "role policy (issue 3)");

static const struct cfg_row roles_rows[] = {
    ROW(struct config_roles, "access_groups", CT_STRLIST, access_groups, NULL,
	"Okta groups whose active members belong in Sentry", .flags = CF_NONEMPTY),
    ROW(struct config_roles, "default_role", CT_ROLE, default_role, "member",
	"org role of members no mapping raises: member or manager"),
    LIST(struct config_roles, "mappings", mappings, n_mappings, mapping,
	 "Okta group to org role; the highest matching role wins"),
    ROW(struct config_roles, "owners", CT_STRLIST, owners, NULL,
	"e-mails that may hold owner; never demoted or removed", .flags = CF_EMAIL),
    ROW(struct config_roles, "protected", CT_STRLIST, protected, NULL, "e-mails the bridge never touches",
	.flags = CF_EMAIL),
};
STABLE(roles, struct config_roles, "config_roles", "org role policy (issue 3)");

static const struct cfg_row team_rows[] = {
    ROW(struct config_team_mapping, "group", CT_STRING, group, NULL, "Okta group name",
	.flags = CF_REQUIRED | CF_NONEMPTY),
    ROW(struct config_team_mapping, "team", CT_STRING, team, NULL, "Sentry team slug", .flags = CF_REQUIRED | CF_SLUG),
    ROW(struct config_team_mapping, "role", CT_TEAM_ROLE, role, "contributor", "team role: contributor or admin"),
};
STABLE(team, struct config_team_mapping, "config_team_mapping", "team membership policy (issue 3)");

static const struct cfg_row prov_rows[] = {
    ROW(struct config_provisioning, "default_team", CT_STRING, default_team, NULL,
	"team slug a new project gets when the request names none", .flags = CF_SLUG),
    ROW(struct config_provisioning, "env_suffixes", CT_STRLIST, env_suffixes,
	"[pre, gstg, gprd, staging, production, prod, dev]",
	"environment words stripped from project names (case-insensitive)", .flags = CF_NONEMPTY),
    ROW(struct config_provisioning, "allow_team_creation", CT_BOOL, allow_team_creation, "false",
	"a project request may create its team"),
    ROW(struct config_provisioning, "team_creator_groups", CT_STRLIST, team_creator_groups, NULL,
	"Okta groups whose members may create teams; empty = admins only", .flags = CF_NONEMPTY),
    ROW(struct config_provisioning, "requester_groups", CT_STRLIST, requester_groups, NULL,
	"Okta groups whose members may request projects; empty = anyone", .flags = CF_NONEMPTY),
    ROW(struct config_provisioning, "project_slug_max", CT_INT, project_slug_max, "100", "longest project slug",
	BOUNDS(1, 100)),
    ROW(struct config_provisioning, "near_duplicate_distance", CT_INT, near_duplicate_distance, "2",
	"edit distance under which two canonical names are near-duplicates; 0 = off", BOUNDS(0, 10)),
    ROW(struct config_provisioning, "reserved_slugs", CT_STRLIST, reserved_slugs, NULL,
	"slugs refused in addition to Sentry's own reserved ones", .flags = CF_NONEMPTY),
    ROW(struct config_provisioning, "non_ascii", CT_ENUM, non_ascii, "refuse",
	"non-ASCII names: refuse, or transliterate to ASCII", .values = non_ascii_values),
};
STABLE(prov, struct config_provisioning, "config_provisioning", "project and team provisioning (issue 5)");

/* ---- access requests ---- */

static const struct cfg_row approver_rows[] = {
    ROW(struct config_approver_rule, "kind", CT_ENUM, kind, NULL, "what the rule covers: role or team",
	.flags = CF_REQUIRED, .values = request_kind_values),
    ROW(struct config_approver_rule, "teams", CT_STRLIST, teams, NULL, "kind team: team slugs it covers; empty = all",
	.flags = CF_SLUG),
    ROW(struct config_approver_rule, "groups", CT_STRLIST, groups, NULL, "Okta groups whose members approve",
	.flags = CF_NONEMPTY),
    ROW(struct config_approver_rule, "team_admins", CT_BOOL, team_admins, "false",
	"kind team: the admins of the requested team in Sentry (team role admin) approve too"),
    ROW(struct config_approver_rule, "approvals", CT_INT, approvals, "1",
	"distinct approvals needed (never the requester)", BOUNDS(1, 2)),
};
STABLE(approver, struct config_approver_rule, "config_approver_rule", "access request approvals (issue 9)");

static const struct cfg_row autoapp_rows[] = {
    ROW(struct config_auto_approve_rule, "kind", CT_ENUM, kind, NULL, "what the rule covers: role or team",
	.flags = CF_REQUIRED, .values = request_kind_values),
    ROW(struct config_auto_approve_rule, "groups", CT_STRLIST, groups, NULL,
	"requesters in one of these Okta groups are approved at once", .flags = CF_NONEMPTY),
    ROW(struct config_auto_approve_rule, "teams", CT_STRLIST, teams, NULL,
	"kind team: team slugs it covers; empty = all", .flags = CF_SLUG),
    ROW(struct config_auto_approve_rule, "max_role", CT_ROLE, max_role, "member",
	"kind role: highest role approved automatically (member or manager)"),
    ROW(struct config_auto_approve_rule, "max_duration", CT_DURATION, max_duration_ms, "8h",
	"longest grant approved automatically", BOUNDS(MIN_MS, 365 * DAY_MS)),
};
STABLE(autoapp, struct config_auto_approve_rule, "config_auto_approve_rule", "access request auto-approval (issue 9)");

static const struct cfg_row notify_rows[] = {
    ROW(struct config_access_notify, "channel", CT_STRING, channel, NULL,
	"Slack channel (name or ID) where approvers are notified; empty = none"),
    ROW(struct config_access_notify, "dm_approvers", CT_BOOL, dm_approvers, "true",
	"also notify each approver by direct message"),
};
STABLE(notify, struct config_access_notify, "config_access_notify", "access request notices (issue 9)");

static const struct cfg_row access_rows[] = {
    ROW(struct config_access_requests, "enabled", CT_BOOL, enabled, "false", "people may request access"),
    ROW(struct config_access_requests, "max_role", CT_ROLE, max_role, "manager",
	"highest org role that may be requested (member or manager)"),
    ROW(struct config_access_requests, "requestable_teams", CT_STRLIST, requestable_teams, NULL,
	"team slugs whose membership may be requested", .flags = CF_SLUG),
    ROW(struct config_access_requests, "any_team", CT_BOOL, any_team, "false",
	"membership of any team may be requested"),
    ROW(struct config_access_requests, "requester_groups", CT_STRLIST, requester_groups, NULL,
	"Okta groups whose members may request; empty = everyone in an access group", .flags = CF_NONEMPTY),
    ROW(struct config_access_requests, "default_duration", CT_DURATION, default_duration_ms, "8h",
	"duration of a grant when the request names none", BOUNDS(MIN_MS, 365 * DAY_MS)),
    ROW(struct config_access_requests, "max_duration", CT_DURATION, max_duration_ms, "7d",
	"longest grant that may be requested", BOUNDS(MIN_MS, 365 * DAY_MS)),
    ROW(struct config_access_requests, "require_reason", CT_BOOL, require_reason, "true",
	"a request must give a reason"),
    ROW(struct config_access_requests, "expiry_warning", CT_DURATION, expiry_warning_ms, "1h",
	"the holder is warned this long before a grant ends; 0 = no warning", BOUNDS(0, 7 * DAY_MS)),
    ROW(struct config_access_requests, "expiry_check_interval", CT_DURATION, expiry_check_interval_ms, "30s",
	"how often the expiry job runs", BOUNDS(5 * SEC_MS, HOUR_MS)),
    LIST(struct config_access_requests, "approvers", approvers, n_approvers, approver, "who approves which requests"),
    LIST(struct config_access_requests, "auto_approve", auto_approve, n_auto_approve, autoapp,
	 "requests approved without a person"),
    SEC(struct config_access_requests, "notify", notify, notify, "where approvers are notified"),
};
STABLE(access, struct config_access_requests, "config_access_requests", "time-bound access requests (issue 9)");

/* ---- web console ---- */

static const struct cfg_row oidc_rows[] = {
    ROW(struct config_console_oidc, "issuer", CT_STRING, issuer, NULL,
	"OIDC issuer, e.g. https://acme.okta.com; empty = console disabled", .flags = CF_UPSTREAM),
    ROW(struct config_console_oidc, "client_id", CT_STRING, client_id, NULL, "OIDC client id"),
    SECRET(struct config_console_oidc, client_secret, NULL, "OIDC client secret"),
    ROW(struct config_console_oidc, "redirect_path", CT_STRING, redirect_path, "/console/callback",
	"callback path under public_url registered at the issuer", .flags = CF_ABSPATH | CF_NONEMPTY),
    ROW(struct config_console_oidc, "scopes", CT_STRLIST, scopes, "[openid, profile, email, groups]",
	"scopes requested at sign-in (must include openid)", .flags = CF_NONEMPTY),
    ROW(struct config_console_oidc, "groups_claim", CT_STRING, groups_claim, "groups",
	"ID token claim holding the groups; else the Okta mirror", .flags = CF_NONEMPTY),
    ROW(struct config_console_oidc, "jwks_cache_ttl", CT_DURATION, jwks_cache_ttl_ms, "1h",
	"how long the discovery document and JWKS are cached", BOUNDS(MIN_MS, 7 * DAY_MS)),
};
STABLE(oidc, struct config_console_oidc, "config_console_oidc", "web console sign-in with Okta (issue 10)");

static const struct cfg_row session_rows[] = {
    ROW(struct config_console_session, "idle_timeout", CT_DURATION, idle_timeout_ms, "1h",
	"a session unused this long ends", BOUNDS(MIN_MS, 30 * DAY_MS)),
    ROW(struct config_console_session, "absolute_timeout", CT_DURATION, absolute_timeout_ms, "12h",
	"a session ends this long after sign-in", BOUNDS(MIN_MS, 30 * DAY_MS)),
    ROW(struct config_console_session, "cookie_name", CT_STRING, cookie_name, "sb_session",
	"name of the session cookie", .flags = CF_NONEMPTY),
};
STABLE(session, struct config_console_session, "config_console_session", "web console sessions (issue 10)");

static const struct cfg_row console_rows[] = {
    SEC(struct config_console, "oidc", oidc, oidc, "OpenID Connect sign-in"),
    ROW(struct config_console, "admin_groups", CT_STRLIST, admin_groups, NULL,
	"Okta groups whose members are console admins", .flags = CF_NONEMPTY),
    SEC(struct config_console, "session", session, session, "server-side sessions"),
};
STABLE(console, struct config_console, "config_console", "web console (issue 10)");

/* ---- the file ---- */

static const struct cfg_row top_rows[] = {
    ROW(struct config, "listen", CT_STRING, listen, "127.0.0.1:8080", "address the HTTP server listens on",
	.flags = CF_HOSTPORT | CF_NONEMPTY),
    ROW(struct config, "database_url", CT_STRING, database_url, NULL,
	"PostgreSQL connection string (URL or key=value); empty = the embedded PostgreSQL under run_dir",
	.flags = CF_MASKPW),
    ROW(struct config, "public_url", CT_STRING, public_url, "http://127.0.0.1:8080",
	"URL at which people and upstreams reach the bridge", .flags = CF_URL | CF_NONEMPTY),
    SECRET(struct config, admin_token, "BRIDGE_ADMIN_TOKEN", "Bearer token for /api/v1 automation"),
    ROW(struct config, "run_dir", CT_STRING, run_dir, "run",
	"directory of the embedded PostgreSQL and other runtime files", .flags = CF_NONEMPTY),
    SEC(struct config, "server", server, server, "HTTP server"),
    SEC(struct config, "database", database, database, "PostgreSQL"),
    SEC(struct config, "log", log, log, "logging"),
    SEC(struct config, "jobs", jobs, jobs, "durable job queue"),
    SEC(struct config, "okta", okta, okta, "Okta, the source of truth for people and groups"),
    SEC(struct config, "sentry", sentry, sentry, "the Sentry organisation the bridge manages"),
    SEC(struct config, "gitlab", gitlab, gitlab, "GitLab integration proxy"),
    SEC(struct config, "slack", slack, slack, "Slack app shared with Sentry"),
    SEC(struct config, "sync", sync, sync, "scheduled reconcile of Okta groups into Sentry"),
    SEC(struct config, "roles", roles, roles, "who is a member and with which org role"),
    LIST(struct config, "teams", teams, n_teams, team, "Okta group to Sentry team membership"),
    SEC(struct config, "provisioning", provisioning, prov, "rules for new projects and teams"),
    ROW(struct config, "routing", CT_SECTION, routing, NULL, "alert routing to Slack", .sub = &cfg_routing_table),
    SEC(struct config, "access_requests", access_requests, access, "time-bound access requests"),
    SEC(struct config, "console", console, console, "web console"),
};
const struct cfg_table cfg_top_table = {"config", top_rows, sizeof top_rows / sizeof top_rows[0], sizeof(struct config),
					"the daemon (issue 2)"};

/* ================================================================== */
/* cross-field validation                                              */

static int fline(const struct cfg_ctx *x, const void *field)
{
	return cfg_line(x, field, POS_FIELD);
}

static int nline(const struct cfg_ctx *x, const void *node)
{
	return cfg_line(x, node, POS_NODE);
}

/* The path recorded for a field, or fallback. */
static const char *fpath(const struct cfg_ctx *x, const void *field, const char *fallback)
{
	const char *p = cfg_path(x, field, POS_FIELD);
	return p ? p : fallback;
}

/* The line of the first written key among a secret's pair. */
static int secret_line(const struct cfg_ctx *x, char *const *env, char *const *file)
{
	int l = env ? fline(x, env) : 0;
	return l ? l : file ? fline(x, file) : 0;
}

static void check_http(struct cfg_ctx *x, const struct upstream_http *h, const char *section)
{
	if (h->connect_timeout_ms > h->timeout_ms) {
		char p[64];
		snprintf(p, sizeof p, "%s.http.connect_timeout", section);
		cfg_error(
		    x, fline(x, &h->connect_timeout_ms) ? fline(x, &h->connect_timeout_ms) : fline(x, &h->timeout_ms),
		    p, "must not be longer than %s.http.timeout", section);
	}
}

/* A role assigned by configuration: never the retired admin, never owner. */
static void check_assignable_role(struct cfg_ctx *x, const enum config_role *role, const char *fallback_path,
				  int fallback_line, const char *what)
{
	int line = fline(x, role) ? fline(x, role) : fallback_line;
	const char *path = fpath(x, role, fallback_path);
	if (*role == CONFIG_ROLE_ADMIN)
		cfg_error(x, line, path, "the retired \"admin\" role cannot be %s (Sentry refuses it): use \"manager\"",
			  what);
	else if (*role == CONFIG_ROLE_OWNER)
		cfg_error(x, line, path,
			  "\"owner\" is never %s: list the accounts that may hold it by e-mail in roles.owners", what);
}

static void validate_okta(struct cfg_ctx *x, struct config_okta *o)
{
	int bl = fline(x, &o->base_url);
	int tl = secret_line(x, &o->api_token_env, &o->api_token_file);
	if (o->oauth.configured && tl)
		cfg_error(x, tl, fpath(x, &o->api_token_env, fpath(x, &o->api_token_file, "okta.api_token_env")),
			  "set either an SSWS token (okta.api_token_env/_file) or an okta.oauth block, not both");
	if (*o->base_url) {
		if (!o->oauth.configured)
			cfg_require_secret(x, &o->api_token, bl,
					   "when okta.base_url is set and there is no okta.oauth block");
		if (o->oauth.configured && o->system_log_poll.enabled &&
		    !cfg_strlist_has(&o->oauth.scopes, "okta.logs.read"))
			cfg_warn(x, nline(x, &o->oauth), "okta.oauth.scopes",
				 "okta.system_log_poll is enabled but okta.logs.read is not requested");
	} else {
		if (o->system_log_poll.enabled)
			cfg_error(x, fline(x, &o->system_log_poll.enabled), "okta.system_log_poll.enabled",
				  "System Log polling needs okta.base_url");
		if (o->oauth.configured)
			cfg_warn(x, nline(x, &o->oauth), "okta.oauth", "unused while okta.base_url is empty");
	}
	if (o->event_hook.configured)
		cfg_require_secret(x, &o->event_hook.secret, nline(x, &o->event_hook),
				   "when the okta.event_hook block is present");
	check_http(x, &o->http, "okta");
}

static void validate_upstreams(struct cfg_ctx *x, struct config *c)
{
	struct config_sentry *s = &c->sentry;
	if (*s->base_url) {
		int bl = fline(x, &s->base_url);
		cfg_require_secret(x, &s->token, bl, "when sentry.base_url is set");
		if (!*s->organization)
			cfg_error(x, bl, "sentry.organization", "required when sentry.base_url is set");
		const struct cfg_secret *cs = cfg_secret_of(x, &s->client_secret);
		if (cs && cs->state != SECRET_RESOLVED && cs->state != SECRET_FAILED)
			cfg_warn(x, bl, "sentry.client_secret_env",
				 "not set: POST /hooks/sentry (alert intake) refuses every delivery until it is");
	}
	check_http(x, &s->http, "sentry");

	struct config_gitlab *g = &c->gitlab;
	static const char *const reserved[] = {"/api",	   "/hooks",  "/slack",	  "/console",
					       "/healthz", "/readyz", "/metrics", NULL};
	int pl = fline(x, &g->proxy_prefix);
	size_t plen = strlen(g->proxy_prefix);
	if (plen && (plen == 1 || g->proxy_prefix[plen - 1] == '/' || strpbrk(g->proxy_prefix, "?#% ")))
		cfg_error(x, pl, "gitlab.proxy_prefix",
			  "must be a path like \"/gitlab\" (not \"/\", no trailing \"/\", no query), got \"%.80s\"",
			  g->proxy_prefix);
	for (size_t i = 0; reserved[i]; i++) {
		size_t rl = strlen(reserved[i]);
		if (!strncmp(g->proxy_prefix, reserved[i], rl) &&
		    (g->proxy_prefix[rl] == '\0' || g->proxy_prefix[rl] == '/'))
			cfg_error(x, pl, "gitlab.proxy_prefix",
				  "\"%s\" is used by the bridge itself; pick another "
				  "prefix such as \"/gitlab\"",
				  reserved[i]);
	}
	if (*g->base_url) {
		int bl = fline(x, &g->base_url);
		cfg_require_secret(x, &g->token, bl, "when gitlab.base_url is set");
		if (!g->scope.n)
			cfg_error(x, bl, "gitlab.scope", "at least one group is required when gitlab.base_url is set");
	}
	check_http(x, &g->http, "gitlab");

	struct config_slack *sl = &c->slack;
	if (*sl->api_url) {
		int al = fline(x, &sl->api_url);
		cfg_require_secret(x, &sl->bot_token, al, "when slack.api_url is set");
		cfg_require_secret(x, &sl->signing_secret, al, "when slack.api_url is set");
		const struct config_slack_forward *f = &sl->forward_to_sentry;
		if (f->enabled && !*s->base_url &&
		    (!*f->action_url || !*f->event_url || !*f->command_url || !*f->options_load_url))
			cfg_error(x, fline(x, &f->enabled) ? fline(x, &f->enabled) : al, "slack.forward_to_sentry",
				  "forwarding to Sentry needs sentry.base_url (or every *_url set), or "
				  "slack.forward_to_sentry.enabled: false");
	}
	check_http(x, &sl->http, "slack");

	struct config_console *co = &c->console;
	if (*co->oidc.issuer) {
		int il = fline(x, &co->oidc.issuer);
		if (!*co->oidc.client_id)
			cfg_error(x, il, "console.oidc.client_id", "required when console.oidc.issuer is set");
		cfg_require_secret(x, &co->oidc.client_secret, il, "when console.oidc.issuer is set");
		if (!cfg_strlist_has(&co->oidc.scopes, "openid"))
			cfg_error(x, fline(x, &co->oidc.scopes), "console.oidc.scopes", "must include \"openid\"");
		if (!strncasecmp(c->public_url, "http://", 7)) {
			const char *h = c->public_url + 7;
			size_t hl = strcspn(h, ":/?#");
			bool loop = (hl == 9 && !strncasecmp(h, "localhost", 9)) || !strncmp(h, "127.", 4) ||
				    !strncmp(h, "[::1]", 5);
			if (!loop)
				cfg_warn(x, fline(x, &c->public_url), "public_url",
					 "the console is enabled over plain http: session cookies cannot be Secure");
		}
	}
	if (co->session.idle_timeout_ms > co->session.absolute_timeout_ms)
		cfg_error(x, fline(x, &co->session.idle_timeout_ms), "console.session.idle_timeout",
			  "must not be longer than console.session.absolute_timeout");
	for (const char *p = co->session.cookie_name; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("!#$&'*+-.^_`|~", *p))) {
			cfg_error(x, fline(x, &co->session.cookie_name), "console.session.cookie_name",
				  "is not a valid cookie name");
			break;
		}
}

static void validate_policy(struct cfg_ctx *x, struct config *c)
{
	struct config_roles *r = &c->roles;
	if (r->default_role == CONFIG_ROLE_ADMIN || r->default_role == CONFIG_ROLE_OWNER)
		check_assignable_role(x, &r->default_role, "roles.default_role", 0, "a default role");
	for (size_t i = 0; i < r->n_mappings; i++) {
		char fb[64];
		snprintf(fb, sizeof fb, "roles.mappings[%zu].role", i);
		check_assignable_role(x, &r->mappings[i].role, fb, nline(x, &r->mappings[i]),
				      "granted by a group mapping");
	}

	struct config_jobs *j = &c->jobs;
	if (j->backoff_base_ms > j->backoff_max_ms)
		cfg_error(x,
			  fline(x, &j->backoff_base_ms) ? fline(x, &j->backoff_base_ms) : fline(x, &j->backoff_max_ms),
			  "jobs.backoff_base", "must not be longer than jobs.backoff_max");

	struct config_access_requests *a = &c->access_requests;
	check_assignable_role(x, &a->max_role, "access_requests.max_role", 0, "requested");
	if (a->default_duration_ms > a->max_duration_ms)
		cfg_error(x,
			  fline(x, &a->default_duration_ms) ? fline(x, &a->default_duration_ms)
							    : fline(x, &a->max_duration_ms),
			  "access_requests.default_duration", "must not be longer than access_requests.max_duration");
	for (size_t i = 0; i < a->n_approvers; i++) {
		const struct config_approver_rule *ar = &a->approvers[i];
		char p[64];
		int l = nline(x, ar);
		snprintf(p, sizeof p, "access_requests.approvers[%zu]", i);
		if (!ar->groups.n && !ar->team_admins)
			cfg_error(x, l, p, "nobody can approve: set groups, or team_admins: true for kind team");
		if (ar->kind == CONFIG_REQUEST_ROLE && ar->team_admins)
			cfg_error(x, fline(x, &ar->team_admins), p, "team_admins applies to kind: team only");
		if (ar->kind == CONFIG_REQUEST_ROLE && ar->teams.n)
			cfg_error(x, fline(x, &ar->teams), p, "teams applies to kind: team only");
	}
	for (size_t i = 0; i < a->n_auto_approve; i++) {
		struct config_auto_approve_rule *ar = &a->auto_approve[i];
		char p[64];
		int l = nline(x, ar);
		snprintf(p, sizeof p, "access_requests.auto_approve[%zu]", i);
		if (!ar->groups.n)
			cfg_error(x, l, p, "groups is required: whose requests are approved automatically");
		snprintf(p, sizeof p, "access_requests.auto_approve[%zu].max_role", i);
		check_assignable_role(x, &ar->max_role, p, l, "approved automatically");
		if (ar->kind == CONFIG_REQUEST_ROLE && ar->teams.n)
			cfg_error(x, fline(x, &ar->teams), fpath(x, &ar->teams, p), "teams applies to kind: team only");
		if (ar->max_duration_ms > a->max_duration_ms)
			cfg_error(x, fline(x, &ar->max_duration_ms) ? fline(x, &ar->max_duration_ms) : l,
				  fpath(x, &ar->max_duration_ms, p),
				  "must not be longer than access_requests.max_duration");
	}
	if (a->enabled) {
		int el = fline(x, &a->enabled);
		if (!a->n_approvers && !a->n_auto_approve)
			cfg_error(x, el, "access_requests.approvers",
				  "access requests are enabled but nobody approves them: add approvers");
		if (!*c->sentry.base_url)
			cfg_error(x, el, "access_requests.enabled", "access requests need sentry.base_url");
	}
}

void cfg_validate(struct cfg_ctx *x)
{
	struct config *c = x->c;
	if (x->flags & CONFIG_FOR_SERVE)
		cfg_require_secret(x, &c->admin_token, 0, "by serve, as the Bearer token of /api/v1");
	bool has_pw = false;
	char *masked = cfg_mask_dsn(c->database_url, &has_pw);
	if (!masked)
		x->oom = true;
	free(masked);
	if (has_pw)
		cfg_warn(x, fline(x, &c->database_url), "database_url",
			 "contains a password: prefer database.password_env or database.password_file");
	validate_okta(x, &c->okta);
	validate_upstreams(x, c);
	validate_policy(x, c);
}
