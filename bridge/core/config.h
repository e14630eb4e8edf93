/*
 * config.h: the one configuration file of sentry-bridge.
 *
 * One YAML file (libyaml) is parsed into a struct config whose fields are
 * public: other modules read them directly (c->okta.http.rate_per_sec,
 * c->roles.mappings[i].role, ...). The file is described by tables in
 * config.c, one per struct, each row {key, type, offset, default, help,
 * flags}; the same tables drive parsing, defaults, the redacted dump printed
 * by `check-config`, and the test that keeps docs/config.md and
 * sentry-bridge.example.yaml in step with the code.
 *
 * Every problem found is reported (not just the first) as
 * "FILE:LINE: key.path: problem". Secrets never appear in the file: a key
 * NAME_env names an environment variable and NAME_file a file holding the
 * secret; the resolved value is kept in the struct (field NAME) and freed with
 * secret_free(). The config is immutable after loading and may be shared by
 * threads.
 *
 * Conventions of the struct: string fields are never NULL after a successful
 * load ("" when unset); resolved secrets are NULL when not configured;
 * durations are int64_t milliseconds (fields ending in _ms); sizes are bytes.
 */
#ifndef SB_CORE_CONFIG_H
#define SB_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct logger;

/* Hard limits on what the loader reads. */
#define CONFIG_MAX_FILE_BYTES (1024u * 1024u)   /* the YAML file */
#define CONFIG_MAX_SECRET_BYTES (64u * 1024u)   /* one *_file secret (PEM keys fit) */
#define CONFIG_MAX_ROUTE_DEPTH 16               /* routing.route nesting */

/* Sentry organisation roles, in Sentry's order (member < admin < manager < owner).
 * "admin" is retired: it is never newly assigned. */
enum config_role {
	CONFIG_ROLE_MEMBER = 0,
	CONFIG_ROLE_ADMIN,
	CONFIG_ROLE_MANAGER,
	CONFIG_ROLE_OWNER,
};

/* Sentry team roles. */
enum config_team_role { CONFIG_TEAM_ROLE_CONTRIBUTOR = 0, CONFIG_TEAM_ROLE_ADMIN };

/* sync.unmanaged_members: what happens to members with no access group. */
enum config_unmanaged { CONFIG_UNMANAGED_KEEP = 0, CONFIG_UNMANAGED_DEMOTE, CONFIG_UNMANAGED_REMOVE };

/* okta.oauth.algorithm: the client assertion's signature algorithm. */
enum config_jwt_alg { CONFIG_JWT_RS256 = 0, CONFIG_JWT_ES256 };

/* provisioning.non_ascii: what to do with non-ASCII project or team names. */
enum config_non_ascii { CONFIG_NON_ASCII_REFUSE = 0, CONFIG_NON_ASCII_TRANSLITERATE };

/* access_requests.*.kind: what a rule is about. */
enum config_request_kind { CONFIG_REQUEST_ROLE = 0, CONFIG_REQUEST_TEAM };

/* A list of strings (never NULL entries). v is NULL when n == 0. */
struct config_strlist {
	char **v;
	size_t n;
};

/* A count ("10") or a percentage ("5%"): value is the count, or the percent
 * (0..100, decimals allowed) when is_percent. */
struct config_pct {
	bool is_percent;
	double value;
};

/* The outbound HTTP settings of one upstream (YAML key "http" in okta,
 * sentry, gitlab and slack; each provider has its own defaults). */
struct upstream_http {
	int64_t timeout_ms;          /* whole request */
	int64_t connect_timeout_ms;
	int max_retries;             /* for idempotent calls, on 5xx/timeouts */
	int max_concurrency;         /* requests in flight to this upstream */
	double rate_per_sec;         /* client-side rate budget; 0 = none */
	int burst;                   /* token-bucket size for rate_per_sec */
	char *ca_file;               /* extra CA bundle (PEM); "" = system store */
	size_t max_response_bytes;   /* response bodies larger than this fail */
};

struct config_server {
	size_t max_body_bytes;          /* requests above get 413 */
	int64_t connection_timeout_ms;  /* idle connection timeout */
	int threads;                    /* HTTP worker threads */
	int64_t shutdown_grace_ms;      /* time to finish in-flight work on SIGTERM */
};

struct config_database {
	int pool_size;
	int64_t connect_timeout_ms;
	int64_t connect_retry_max_ms;   /* ceiling of the reconnect backoff */
	int64_t statement_timeout_ms;   /* 0 = none */
	char *password_env;
	char *password_file;
	char *password;                 /* resolved; NULL = none (libpq defaults) */
};

struct config_log {
	char *level;   /* "debug" | "info" | "warn" | "error" */
	char *format;  /* "json" | "text" */
};

struct config_jobs {
	int workers;
	int max_attempts;           /* then the job is dead (visible, replayable) */
	int64_t backoff_base_ms;
	int64_t backoff_max_ms;
	int64_t poll_interval_ms;
	int64_t retention_ms;       /* done jobs and processed inbox rows kept this long */
};

struct config_okta_oauth {
	bool configured;            /* the block is present: OAuth replaces the SSWS token */
	char *client_id;
	char *private_key_file;
	char *private_key;          /* resolved: PEM or JWK text of private_key_file */
	char *key_id;               /* "kid" header; "" = none */
	enum config_jwt_alg algorithm;
	struct config_strlist scopes;
};

struct config_okta_event_hook {
	bool configured;            /* the block is present: POST /hooks/okta is enabled */
	char *auth_header;
	char *secret_env;
	char *secret_file;
	char *secret;               /* resolved */
};

struct config_okta_syslog {
	bool enabled;
	int64_t interval_ms;
	int64_t lookback_ms;        /* first poll starts this far back */
};

struct config_okta {
	char *base_url;             /* "" = Okta disabled */
	char *api_token_env;
	char *api_token_file;
	char *api_token;            /* resolved SSWS token */
	struct config_okta_oauth oauth;
	struct config_okta_event_hook event_hook;
	char *email_attribute;      /* "email" | "login" */
	char *group_filter;         /* Okta filter for listing groups; "" = none */
	struct config_pct rate_limit_reserve;
	struct config_okta_syslog system_log_poll;
	struct upstream_http http;
};

struct config_sentry {
	char *base_url;             /* "" = Sentry disabled */
	char *organization;
	char *token_env;
	char *token_file;
	char *token;                /* resolved */
	char *client_secret_env;
	char *client_secret_file;
	char *client_secret;        /* resolved; verifies /hooks/sentry */
	struct upstream_http http;
};

struct config_gitlab {
	char *base_url;             /* "" = GitLab proxy disabled */
	char *token_env;
	char *token_file;
	char *token;                /* resolved; walks the scope for the cache */
	char *proxy_prefix;
	struct config_strlist scope;
	int64_t refresh_interval_ms;
	int64_t auth_cache_ttl_ms;
	int64_t proxy_timeout_ms;
	struct upstream_http http;
};

struct config_slack_forward {
	bool enabled;
	char *action_url;           /* "" = sentry.base_url + /extensions/slack/action/ */
	char *event_url;
	char *command_url;
	char *options_load_url;
	int64_t timeout_ms;
};

struct config_slack_directory {
	int64_t refresh_interval_ms;
	struct config_strlist channel_types;
};

struct config_slack {
	char *api_url;              /* "" = Slack disabled */
	char *bot_token_env;
	char *bot_token_file;
	char *bot_token;            /* resolved */
	char *signing_secret_env;
	char *signing_secret_file;
	char *signing_secret;       /* resolved */
	int64_t signature_max_age_ms;
	char *action_id_prefix;
	char *slash_command;
	struct config_slack_forward forward_to_sentry;
	struct config_slack_directory directory;
	struct upstream_http http;
};

struct config_sync_guards {
	struct config_pct max_removals;
	struct config_pct max_demotions;
	int64_t event_window_ms;    /* sliding window bounding event-driven changes */
};

struct config_sync {
	int64_t interval_ms;
	enum config_unmanaged unmanaged_members;
	bool invite_missing;
	bool dry_run;               /* scheduled runs only plan */
	int apply_concurrency;
	struct config_sync_guards guards;
};

struct config_role_mapping {
	char *group;
	enum config_role role;      /* never admin or owner (rejected at load) */
};

struct config_roles {
	struct config_strlist access_groups;
	enum config_role default_role;
	struct config_role_mapping *mappings;
	size_t n_mappings;
	struct config_strlist owners;     /* emails */
	struct config_strlist protected;  /* emails: never touched */
};

struct config_team_mapping {
	char *group;
	char *team;                 /* Sentry team slug */
	enum config_team_role role;
};

struct config_provisioning {
	char *default_team;
	struct config_strlist env_suffixes;
	bool allow_team_creation;
	struct config_strlist team_creator_groups;
	struct config_strlist requester_groups;
	int project_slug_max;
	int near_duplicate_distance;
	struct config_strlist reserved_slugs;
	enum config_non_ascii non_ascii;
};

struct config_receiver {
	char *name;
	char *channel;              /* "#name", "name" or a channel ID; or "" */
	char *email;                /* DM to this person; or "" */
	bool send_resolved;
	struct config_strlist tags; /* Sentry tags shown in the message */
	int line;                   /* where it is defined in the config file (0: unknown) */
};

/*
 * One node of the routing tree. The root is routing.route; children are
 * routes[]. Keys a child does not set are inherited from its parent at load
 * time (set_mask says which were written in the file, bit i = table row i:
 * see config_route_key_set()). mute/active_time_intervals are not inherited.
 */
struct config_route {
	bool configured;
	uint64_t set_mask;
	char *receiver;
	char *fallback_receiver;
	struct config_strlist group_by;
	int64_t group_wait_ms;
	int64_t group_interval_ms;
	int64_t repeat_interval_ms;
	struct config_strlist matchers;   /* validated: see config_matcher_parse() */
	bool continue_;                   /* YAML key "continue" */
	struct config_strlist mute_time_intervals;
	struct config_strlist active_time_intervals;
	struct config_route *routes;
	size_t n_routes;
};

struct config_time_interval {
	char *name;
	char *location;                   /* IANA time zone, e.g. "Europe/Madrid" */
	struct config_strlist weekdays;   /* "monday", "monday:friday" */
	struct config_strlist times;      /* "09:00-17:30" */
	struct config_strlist days_of_month; /* "1", "1:7", "-1" */
	struct config_strlist months;     /* "january", "1:3", "december" */
};

struct config_routing {
	struct config_receiver *receivers;
	size_t n_receivers;
	struct config_route route;        /* route.configured: routing is on */
	struct config_time_interval *time_intervals;
	size_t n_time_intervals;
	int64_t silence_max_duration_ms;
	int workers;                      /* routing jobs at once (jobs_limit) */
};

struct config_approver_rule {
	enum config_request_kind kind;
	struct config_strlist teams;      /* kind team: teams it covers; empty = all */
	struct config_strlist groups;     /* Okta groups whose members approve */
	bool team_admins;                 /* kind team: the team's admins approve */
	int approvals;                    /* distinct approvals needed (1 or 2) */
};

struct config_auto_approve_rule {
	enum config_request_kind kind;
	struct config_strlist groups;     /* requesters in one of these groups */
	struct config_strlist teams;      /* kind team: teams it covers; empty = all */
	enum config_role max_role;        /* kind role: up to this role */
	int64_t max_duration_ms;
};

struct config_access_notify {
	char *channel;                    /* approvers' channel; "" = none */
	bool dm_approvers;
};

struct config_access_requests {
	bool enabled;
	enum config_role max_role;
	struct config_strlist requestable_teams;
	bool any_team;
	struct config_strlist requester_groups;
	int64_t default_duration_ms;
	int64_t max_duration_ms;
	bool require_reason;
	int64_t expiry_warning_ms;
	int64_t expiry_check_interval_ms;
	struct config_approver_rule *approvers;
	size_t n_approvers;
	struct config_auto_approve_rule *auto_approve;
	size_t n_auto_approve;
	struct config_access_notify notify;
};

struct config_console_oidc {
	char *issuer;                     /* "" = console disabled */
	char *client_id;
	char *client_secret_env;
	char *client_secret_file;
	char *client_secret;              /* resolved */
	char *redirect_path;
	struct config_strlist scopes;
	char *groups_claim;
	int64_t jwks_cache_ttl_ms;
};

struct config_console_session {
	int64_t idle_timeout_ms;
	int64_t absolute_timeout_ms;
	char *cookie_name;
};

struct config_console {
	struct config_console_oidc oidc;
	struct config_strlist admin_groups;
	struct config_console_session session;
};

struct config {
	char *path;                 /* file name (or display name) it was loaded from */
	char *listen;               /* "host:port" */
	char *database_url;         /* "" = the embedded PostgreSQL under run_dir */
	char *public_url;
	char *admin_token_env;
	char *admin_token_file;
	char *admin_token;          /* resolved; NULL when not configured */
	char *run_dir;
	struct config_server server;
	struct config_database database;
	struct config_log log;
	struct config_jobs jobs;
	struct config_okta okta;
	struct config_sentry sentry;
	struct config_gitlab gitlab;
	struct config_slack slack;
	struct config_sync sync;
	struct config_roles roles;
	struct config_team_mapping *teams;
	size_t n_teams;
	struct config_provisioning provisioning;
	struct config_routing routing;
	struct config_access_requests access_requests;
	struct config_console console;
};

/* Problems found while loading. Initialise with {0}; the loader appends.
 * msgs are errors ("FILE:LINE: key.path: problem", sorted by line), warnings
 * are the same format but do not stop the load. Free with config_errors_free. */
struct config_errors {
	char **msgs;
	size_t n;
	char **warnings;
	size_t nwarnings;
};

/* Flags for config_load_ex / config_from_string_ex. */
#define CONFIG_FOR_SERVE 0x1u   /* also require what `serve` needs (the admin token) */

/*
 * Load and validate the YAML file at path. Returns 0 and a new config in *out
 * (caller frees with config_free), or -1 with *out NULL and every problem
 * appended to errs (a missing file is one error naming the path). Warnings
 * may be appended in both cases. Secrets are read from the environment and
 * files named in the config. errs must not be NULL.
 */
int config_load(const char *path, struct config **out, struct config_errors *errs);

/* config_load with CONFIG_* flags. */
int config_load_ex(const char *path, unsigned flags, struct config **out, struct config_errors *errs);

/*
 * Same as config_load for YAML text already in memory (tests, fuzzing);
 * display_name is used as FILE in messages and as c->path.
 */
int config_from_string(const char *yaml, const char *display_name, struct config **out,
		       struct config_errors *errs);

/* config_from_string with CONFIG_* flags. */
int config_from_string_ex(const char *yaml, const char *display_name, unsigned flags,
			  struct config **out, struct config_errors *errs);

/* Free a config and its resolved secrets (wiped). NULL-safe. */
void config_free(struct config *c);

/* Free the messages in e and reset it to empty (e itself is the caller's). NULL-safe. */
void config_errors_free(struct config_errors *e);

/*
 * Append the resolved configuration to out as YAML: every key, defaults
 * included, in table order. Secrets appear only as the name of their
 * variable or file with a comment "<redacted: from env NAME>" or
 * "<redacted: from file PATH>"; their values never. Returns 0, or -1 when
 * out is full or memory runs out.
 */
int config_dump(const struct config *c, struct buf *out);

/* Register every resolved secret with the logger so it is redacted from all
 * output (logger_add_secret). Either argument may be NULL. */
void config_register_secrets(const struct config *c, struct logger *lg);

/*
 * Call fn for every documented key path, in table order: leaves and the
 * sections and lists that contain them ("okta", "okta.event_hook",
 * "okta.event_hook.secret_env", "roles.mappings", "roles.mappings[].group").
 * The recursive route list is reported once as "routing.route.routes".
 * help is the one-line description from the table.
 */
void config_for_each_key(void (*fn)(const char *path, const char *help, void *arg), void *arg);

/* Everything the tables know about one key, for documentation tools. */
struct config_key_info {
	const char *path;       /* as in config_for_each_key */
	const char *type;       /* "string", "duration", "enum", "list of mappings", ... */
	const char *def;        /* default as written in YAML; NULL = none/empty */
	const char *help;
	const char *const *values; /* enum: allowed values, NULL-terminated; else NULL */
	int64_t min, max;       /* int, size, duration (ms), number; min > max: no bounds */
	bool required;          /* within its mapping */
	bool secret;            /* a *_env or *_file key */
	const char *section_feature; /* which part of the product uses the section */
};

/* Like config_for_each_key with the full row description. */
void config_for_each_key_info(void (*fn)(const struct config_key_info *k, void *arg), void *arg);

/* The YAML name of a role ("member", "admin", "manager", "owner"). */
const char *config_role_name(enum config_role r);

/* Parse a duration as the config writes it ("90s", "8h", "7d", "1h30m").
 * 0 or -1 when malformed. */
int config_parse_duration(const char *s, int64_t *out);

/* The YAML name of a team role ("contributor", "admin"). */
const char *config_team_role_name(enum config_team_role r);

/* Operators of a matcher. */
enum config_match_op { CONFIG_MATCH_EQ = 0, CONFIG_MATCH_NE, CONFIG_MATCH_RE, CONFIG_MATCH_NRE };

/* A parsed matcher such as `level=~"error|fatal"` or `tag:customer!=acme`. */
struct config_matcher {
	char *name;             /* "project", "team", "level", "environment", "alert_rule",
				   "resource" or "tag:NAME" */
	enum config_match_op op;
	char *value;            /* unquoted; for =~ and !~ a POSIX extended regex,
				   matched against the whole value */
};

/*
 * Parse one matcher (routes, silences). Returns 0 and fills m (caller frees
 * with config_matcher_clear), or -1 with a static description of the problem
 * in *why. A regex is checked to compile (anchored at both ends).
 */
int config_matcher_parse(const char *s, struct config_matcher *m, const char **why);

/* Free the strings of a matcher filled by config_matcher_parse. NULL-safe. */
void config_matcher_clear(struct config_matcher *m);

/* 1 when route key `key` (e.g. "group_wait") was written in the file for this
 * node, 0 when it was inherited or defaulted, -1 for an unknown key. */
int config_route_key_set(const struct config_route *r, const char *key);

#endif
