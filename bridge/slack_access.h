/*
 * slack_access.h: access requests in Slack (issue 9). docs/access-requests.md
 * tells it for people.
 *
 * - The bridge's slash command (slack.slash_command, default /sentry-access):
 *   `help` and bad input are answered at once; everything else is stored in
 *   the inbox and acknowledged in milliseconds, and the job "inbox.slack"
 *   (bridge/slack_actions.c dispatches to slack_access_handle) maps the
 *   Slack user to a person by e-mail, files, lists or cancels through
 *   bridge/access.c (source "slack"), and answers through the command's
 *   response_url.
 * - Notices: a durable outbox (table access_notices, migration 011) filled
 *   by the hooks below inside access.c's transactions and posted by the job
 *   "access.notify": approvers once per request (a channel and/or DMs) with
 *   Approve / Deny buttons; every approver message updated (chat.update)
 *   when the request is decided, from any source; the requester told by DM
 *   on a decision; the holder warned before the end with an Extend button.
 *   Each notice has an idempotency key; a post is recorded with its channel
 *   and ts; Slack down delays notices and loses none.
 * - Buttons (action_id <prefix>access_approve | access_deny | access_extend,
 *   value = the request id) and the Deny modal (callback_id
 *   <prefix>access_deny, a reason input) act as the clicking person.
 */
#ifndef SB_SLACK_ACCESS_H
#define SB_SLACK_ACCESS_H

#include "config.h"
#include "ctx.h"
#include "err.h"
#include "http.h"
#include "jobs.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct sched;

/* Hooks for bridge/access.c, on its connection inside its transaction; no-ops
 * when Slack or access requests are not configured. 0 or -1 with e. */
int access_notify_filed(PGconn *c, const struct config *cfg, long long id, bool auto_approved, const char *source,
			struct err *e);
/* action: approve (completed: the request is now approved), deny, cancel,
 * revoke, expire; by: who acted (an email, "admin-token", "bridge"). */
int access_notify_decided(PGconn *c, const struct config *cfg, long long id, const char *action, const char *by,
			  bool completed, struct err *e);
int access_notify_warning(PGconn *c, const struct config *cfg, long long id, struct err *e);

/* Is command the bridge's own slash command? */
bool slack_access_owns_command(const struct config *cfg, const char *command);
/* The HTTP side of the slash command (verified by the caller). */
void slack_access_command(struct ctx *ctx, const struct http_req *req, struct http_resp *resp);
/* Is this interaction payload (view_submission / view_closed) one of our modals? */
bool slack_access_owns_view(const struct config *cfg, const json_t *payload);

/* Is this stored inbox payload (a command, a click, a modal) for us? */
bool slack_access_handles(const struct config *cfg, const json_t *payload);
/* Act on it and mark inbox item inbox_id. */
enum job_result slack_access_handle(struct ctx *ctx, PGconn *c, int64_t inbox_id, const json_t *payload,
				    struct err *e);

/* The job "access.notify" and its sweep. 0 or -1. */
int slack_access_register(struct ctx *ctx, struct jobs *q, struct sched *s);

#endif
