/*
 * alerts.h: what happens to a Sentry webhook after /hooks/sentry stored it
 * (issue 8). The job "inbox.sentry" reads the inbox item, turns an alert
 * resource into a routing alert (integrations/sentry/sentry_alert.h),
 * enriches it with the project's slug and owning teams from the mirror
 * table sentry_projects (refreshed from Sentry on a miss), routes it
 * (policies/policy_routing.h), checks the silences, and writes one row per
 * receiver into the durable outbox slack_outbox, all in one transaction
 * with the inbox item's completion. Delivery to Slack reads the outbox.
 */
#ifndef SB_ALERTS_H
#define SB_ALERTS_H

#include "ctx.h"
#include "err.h"

#include <libpq-fe.h>

struct jobs;
struct sched;

/* Register the "inbox.sentry" job kind and its metrics. Compiles the route
 * tree once. 0 or -1. The state lives until the process ends. */
int alerts_register(struct ctx *ctx, struct jobs *q, struct sched *s);

#endif
