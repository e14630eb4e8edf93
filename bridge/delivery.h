/*
 * delivery.h: posting the Slack outbox (issue 8). The job "slack.deliver"
 * ({"group_key": K}) takes the group's advisory lock, reads the group's due
 * notifications and makes Slack show them: the first alert of a group (after
 * group_wait) posts the head message; later alerts update the head with the
 * count and add one thread reply per group_interval; after repeat_interval a
 * still-firing group is posted again; a resolution updates the head and
 * replies in its thread. Details, idempotency and the crash story are in
 * docs/slack.md.
 */
#ifndef SB_DELIVERY_H
#define SB_DELIVERY_H

#include "ctx.h"
#include "err.h"

#include <libpq-fe.h>
#include <stdint.h>

struct jobs;

/* Register "slack.deliver" (only when Slack is configured). 0 or -1. */
int delivery_register(struct ctx *ctx, struct jobs *q);

/* Queue a delivery of group_key in delay_ms, on conn (inside the caller's
 * transaction if one is open). 0 or -1 with e. */
int delivery_enqueue(PGconn *conn, const char *group_key, int64_t delay_ms, struct err *e);

#endif
