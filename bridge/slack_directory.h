/*
 * slack_directory.h: the cached Slack channel and user directory (issue 8).
 *
 * The workspace's channels (conversations.list) and users (users.list) are
 * kept in PostgreSQL (slack_channels, slack_users) so that routing resolves
 * channel names and e-mails without listing the workspace, and operators
 * find channel IDs in milliseconds (GET /api/v1/slack/channels|users).
 *
 *  - Refresh: a scheduled task on the leader queues the job
 *    "slack.directory.refresh" every slack.directory.refresh_interval (and
 *    POST /api/v1/slack/directory/refresh queues one now). The job walks the
 *    listings page by page, waiting out Slack's 429s, into a staging table,
 *    and replaces the cache of a kind in one transaction at the end, so a
 *    failed walk leaves the old copy intact. What each walk did is kept in
 *    slack_directory_state for every replica.
 *  - Events: channel and user events from Slack's Events API update the cache
 *    at once (slack_directory_apply_event, called by POST /slack/events).
 *  - A watcher thread on every replica reads slack_directory_state, keeps the
 *    gauges and the /readyz details current, and, once the directory has
 *    loaded, reports the routing receivers whose channel is missing or
 *    archived (once per receiver).
 */
#ifndef SB_SLACK_DIRECTORY_H
#define SB_SLACK_DIRECTORY_H

#include "app.h"
#include "err.h"

#include <jansson.h>
#include <libpq-fe.h>

/* Register the job, the scheduled task and the watcher (when Slack is
 * configured). Before the scheduler starts. 0 or -1. */
int slack_directory_register(struct app *a);

/* Stop and join the watcher and free the module: after the workers and the
 * HTTP server have stopped. Idempotent. */
void slack_directory_stop(struct app *a);

/* The routes GET /api/v1/slack/channels, GET /api/v1/slack/users and
 * POST /api/v1/slack/directory/refresh. 0 or -1. */
int slack_directory_routes(struct app *a);

/* A search of the cached channels (GET /api/v1/slack/channels), answered
 * from this process's in-memory copy of slack_channels. */
struct slack_chan_query {
	const char *search;     /* substring of the name, ASCII case-insensitive; NULL or "": all */
	int archived;           /* -1: any, 0: not archived, 1: archived */
	const char *after_name; /* keyset: the page starts after (name, id); NULL: at the start */
	const char *after_id;
	int limit;              /* 1..1000 */
};
struct slack_chan_page {
	json_t *items;          /* the channels, in (name, id) byte order */
	int more;               /* more match after the last: last_name, last_id set */
	char *last_name, *last_id;
	json_t *directory;      /* {"loaded", "age_seconds", "last_error"} of the channel walks */
};
/* 0, or -1 with e when there is no copy (Slack is off, or the database was
 * unreachable before the first copy was read). */
int slack_directory_search_channels(const struct slack_chan_query *q, struct slack_chan_page *out, struct err *e);
void slack_chan_page_clear(struct slack_chan_page *p);

/* Add "slack_directory" details to a /readyz body (no-op when Slack is off). */
void slack_directory_readyz(json_t *body);

/* Queue a refresh now (deduplicated with one already waiting). *queued: 1
 * when a new job was queued, 0 when one was already waiting. 0 or -1. */
int slack_directory_queue_refresh(PGconn *c, int *queued, struct err *e);

enum slack_dir_lookup {
	SLACK_DIR_UNLOADED = 0, /* the channel directory never loaded: use the reference as given */
	SLACK_DIR_FOUND,        /* *id is the channel ID */
	SLACK_DIR_ARCHIVED,     /* found, archived (*id set) */
	SLACK_DIR_MISSING,      /* a name the loaded directory does not know */
};

/* 1 when ref ("C0123ABC", "G...", "D...") is a conversation ID rather than
 * a name (Slack names are lower case). */
int slack_directory_is_id(const char *ref);

/*
 * Resolve a channel reference ("#name", "name" or an ID) from the cache.
 * *id (caller frees) is the ID for FOUND and ARCHIVED, and for an ID the
 * cache does not know (used as given: FOUND). 0 or -1 with e.
 */
int slack_directory_channel(PGconn *c, const char *ref, enum slack_dir_lookup *out, char **id, struct err *e);

/* The user ID of an e-mail (case-insensitive, not deleted) from the cache;
 * *id NULL on a miss. 0 or -1 with e. */
int slack_directory_user_by_email(PGconn *c, const char *email, char **id, struct err *e);

/*
 * Apply one Events API event (the "event" object of an event_callback;
 * envelope is the whole body, for event_time and authorizations) to the
 * cache. *handled: 1 when the event type is one the directory consumes
 * (then it is not forwarded to Sentry), 0 otherwise (nothing done).
 * 0 or -1 with e (the caller answers 503 so Slack retries).
 */
int slack_directory_apply_event(PGconn *c, const json_t *envelope, int *handled, struct err *e);

/* 1 when the event type is one the directory consumes. */
int slack_directory_event_type(const char *type);

#endif
