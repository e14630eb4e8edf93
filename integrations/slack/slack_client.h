/*
 * slack_client.h: the Slack Web API as the alert delivery needs it
 * (reference gitlab-slack-api.md section 4): chat.postMessage, chat.update,
 * conversations.history / replies (to find a message by its metadata after
 * a crash), users.lookupByEmail (DMs).
 *
 * All calls go through httpc (bridge/core/httpc.h) with JSON bodies and
 * "Authorization: Bearer <bot token>" (Slack requires the header with JSON
 * bodies). A 429 is retried after Retry-After by httpc; when Slack asks for
 * a longer wait than httpc may sleep, the call returns with
 * res->retry_after_ms so the durable queue can reschedule.
 *
 * Slack answers errors as HTTP 200 {"ok": false, "error": "..."}: those are
 * not failures of the call (return 0) but results with ok = false and the
 * error code; res->permanent tells which ones retrying will not fix
 * (channel_not_found, is_archived, not_in_channel, invalid_auth, ...).
 *
 * chat.postMessage is paced to one message per second per channel in this
 * process (Slack's Special tier); replicas pace independently and Slack's
 * 429 + Retry-After covers the rest. Thread-safe.
 */
#ifndef SB_INTEGRATIONS_SLACK_CLIENT_H
#define SB_INTEGRATIONS_SLACK_CLIENT_H

#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct slack_client;

struct slack_result {
	bool ok;                /* Slack said ok: true */
	char *error;            /* Slack's error code, or a transport description; NULL when ok */
	bool permanent;         /* retrying will not help */
	long status;            /* HTTP status (0: no response) */
	int64_t retry_after_ms; /* rate limited beyond what httpc waits: retry after this; else -1 */
	char *channel;          /* chat.postMessage: the channel ID the message went to */
	char *ts;               /* chat.postMessage / chat.update: the message ts */
};

/* A client for cfg->slack. NULL with e when Slack is not configured. */
struct slack_client *slack_client_new(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e);

/* Options of a second client with its own httpc (own rate-limit state). */
struct slack_client_opts {
	const char *name;      /* httpc name, the upstream label of the metrics (default "slack") */
	bool caller_waits_429; /* hand every 429 back (res->retry_after_ms) instead of waiting in httpc */
};

/*
 * slack_client_new with options. The directory walk uses its own client
 * that hands 429s back: a walk's 429 on a Tier 2 listing then does not hold
 * the alert posts (Slack counts limits per method), and the walk counts and
 * waits them itself.
 */
struct slack_client *slack_client_new_opts(const struct config *cfg, struct logger *lg, struct metrics *m,
					   const struct slack_client_opts *o, struct err *e);
void slack_client_free(struct slack_client *c);

/*
 * Call method with args (a JSON object, borrowed). 0 with res filled (ok or
 * Slack's error), -1 with e only for a local failure (memory). Transport
 * failures are results: ok false, error "transport: ...", not permanent.
 * body, when not NULL, receives the parsed response (caller decrefs).
 */
int slack_call(struct slack_client *c, const char *method, const json_t *args, struct slack_result *res, json_t **body,
	       struct err *e);

/*
 * A read method as GET with a query string (what Slack's SDKs do for
 * conversations.list and users.list): params are key, value pairs ending
 * with NULL (values URL-encoded here). Results as slack_call; cancel (may
 * be NULL) ends the call early when it becomes nonzero.
 */
int slack_call_get(struct slack_client *c, const char *method, const char *const *params, const volatile int *cancel,
		   struct slack_result *res, json_t **body, struct err *e);

/* chat.postMessage. thread_ts and metadata may be NULL; blocks (borrowed) may be NULL. */
int slack_post(struct slack_client *c, const char *channel, const char *text, const json_t *blocks,
	       const char *thread_ts, const json_t *metadata, struct slack_result *res, struct err *e);

/* chat.update of (channel ID, ts). */
int slack_update(struct slack_client *c, const char *channel, const char *ts, const char *text, const json_t *blocks,
		 struct slack_result *res, struct err *e);

/*
 * Look for a message of ours posted at or after oldest_ts (Slack ts string,
 * may be NULL) whose metadata event_payload.key equals key: in the channel
 * history, or in the thread of thread_ts when not NULL. *ts gets a copy of
 * its ts (caller frees) or NULL when none. 0, or -1 with e (Slack error or
 * transport: we cannot tell, the caller must not post).
 */
int slack_find_by_key(struct slack_client *c, const char *channel, const char *thread_ts, const char *oldest_ts,
		      const char *key, char **ts, struct err *e);

/* users.lookupByEmail: *user_id (caller frees) or NULL when not found. 0 or -1 with e. */
int slack_lookup_email(struct slack_client *c, const char *email, char **user_id, struct slack_result *res,
		       struct err *e);

/* conversations.open {users: user_id}: the ID of the bot's DM channel with
 * the user (D...), in *channel (caller frees), or NULL with Slack's error
 * in res. Needs im:write. 0 or -1 with e. */
int slack_open_dm(struct slack_client *c, const char *user_id, char **channel, struct slack_result *res,
		  struct err *e);

/* Free what res holds and reset it. NULL-safe. */
void slack_result_clear(struct slack_result *res);

/* 1 when Slack error code `error` is permanent for a post to a channel. */
int slack_error_permanent(const char *error);

#endif
