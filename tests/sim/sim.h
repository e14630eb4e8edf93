/*
 * sim.h: the upstream simulator's shared context and the contract between
 * the HTTP adapter (sim_server.c) and the simulated upstreams.
 *
 * Each upstream (Okta, Sentry, the /_sim control API, later GitLab and
 * Slack) is one file that defines a `const struct sim_upstream
 * sim_upstream_<name>` and one line in sim_upstreams.h. The adapter picks
 * the upstream by path prefix, applies latency and faults, records the
 * request and sends the response.
 */
#ifndef SIM_H
#define SIM_H

#include "sim_http.h"
#include "sim_state.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Start options (immutable once the server runs). */
struct sim_opts {
	char *listen_host;         /* "127.0.0.1", "::1", ... */
	int listen_port;           /* 0: any free port */
	const char *port_file;     /* written once listening, or NULL */
	uint64_t seed;
	int users;                 /* generator sizes (users > 0 selects the generator) */
	int groups;
	const char *fixture_path;  /* fixture file, or NULL */
	bool demo;
	const char *okta_token;
	const char *sentry_token;
	const char *org;           /* Sentry org slug */
	bool org_explicit;         /* --org was given (overrides a fixture's org) */
	int latency_ms;            /* added to every upstream (non-control) request */
	long okta_rate_limit;      /* requests per minute per Okta bucket */
	long okta_logs_rate_limit; /* requests per minute in the System Log bucket (/api/v1/logs) */
	int threads;
	bool quiet;
	const char *gitlab_token;  /* the bridge's walker token (admin reach) */
	int gitlab_projects;       /* > 0: generated GitLab tree instead of the demo one */
	int gitlab_subgroups;
	long gitlab_rate_limit;    /* requests per minute per GitLab token */
};

struct okta_log; /* System Log, event hooks, hook receivers (sim_oktalog.h) */
struct sim_ctl; /* faults, request log, rate-limit buckets (sim_ctl.c) */

/* The one context every handler receives first. */
struct sim_ctx {
	struct sim_opts opts;
	pthread_rwlock_t lock;        /* guards state */
	struct sim_state *state;
	json_t *start_fixture;        /* fixture loaded at start (for /_sim/reset), or NULL */
	struct sim_ctl *ctl;
	struct okta_log *oktalog;     /* Okta System Log + event hooks (sim_oktalog.c) */
	atomic_uint_fast64_t next_seq;/* request sequence numbers */
};

/*
 * A handler fills resp (status, headers, body). It runs with ctx->lock
 * held for reading when `method` is GET/HEAD and for writing otherwise
 * (sim_server.c takes it), so handlers never lock the state themselves.
 * Returning -1 means "internal error": the adapter answers 500.
 */
typedef int (*sim_handler_fn)(struct sim_ctx *ctx, const struct sim_request *req,
			      struct sim_response *resp);

/*
 * Build the upstream's own rendering of an injected fault with this status
 * (e.g. Okta's E0000047 429 with X-Rate-Limit-* headers, Sentry's JSON
 * string body). retry_after < 0 means "not set by the fault".
 */
typedef int (*sim_fault_fn)(struct sim_ctx *ctx, const struct sim_request *req,
			    struct sim_response *resp, int status, int retry_after);

struct sim_upstream {
	const char *name;     /* "okta", "sentry", "ctl" (recorded in the request log) */
	const char *prefix;   /* path prefix without trailing '/', e.g. "/api/v1" */
	bool control;         /* control API: no latency, no faults, not logged */
	bool locked;          /* run the handler under ctx->lock (false: handler locks) */
	sim_handler_fn handle;
	sim_fault_fn fault;   /* may be NULL: a generic JSON error body is used */
};

/* ---- control plane (sim_ctl.c) ------------------------------------------------- */

/* What a matching fault rule asks for (copied out of the rule under its lock). */
struct sim_fault_effect {
	int64_t id;           /* rule id */
	int latency_ms;
	int status;           /* 0: keep the handler's status */
	int retry_after;      /* -1: not set */
	bool drop;
	bool truncate;
	int slow_body_ms;
	bool apply;           /* run the real handler before replacing the answer */
};

/* New control-plane object; NULL on failure. */
struct sim_ctl *sim_ctl_new(void);

/* Free it. NULL-safe. */
void sim_ctl_free(struct sim_ctl *ctl);

/*
 * Find the first fault rule matching this request and consume one use of
 * it. Returns true and fills *eff when a fault applies.
 */
bool sim_ctl_fault_pick(struct sim_ctx *ctx, const struct sim_request *req, struct sim_fault_effect *eff);

/* Append to the request log (status 0 = dropped). */
void sim_ctl_log_request(struct sim_ctx *ctx, const struct sim_request *req, const char *upstream,
			 int status, int64_t fault_id);

/*
 * Take one request from rate-limit bucket `bucket` with `limit` requests
 * per 60 s window (window starts at first use). Fills the header values;
 * returns true if allowed, false if over the limit (429).
 */
bool sim_ctl_rate_take(struct sim_ctx *ctx, const char *bucket, long limit, long *out_limit,
		       long *out_remaining, int64_t *out_reset_s);

/* Current window of a bucket without taking from it (for 429 faults). */
void sim_ctl_rate_peek(struct sim_ctx *ctx, const char *bucket, long limit, long *out_limit,
		       long *out_remaining, int64_t *out_reset_s);

/* Clear faults, the request log and rate-limit windows. */
void sim_ctl_reset(struct sim_ctx *ctx);

/* Build the state the start options ask for (demo, generator or fixture). */
int sim_build_start_state(struct sim_ctx *ctx, struct sim_state **out, char **err);

/* ---- seeding (sim_seed.c) ------------------------------------------------------- */

/* The fixed demo organisation (see docs/simulator.md). */
int sim_seed_demo(const char *org, struct sim_state **out);

/* Deterministic generated org of `users` users and `groups` team groups. */
int sim_seed_generate(const char *org, int users, int groups, uint64_t seed,
		      struct sim_state **out);

#endif
