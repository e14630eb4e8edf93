/*
 * api_slack.h: the routes of issue 8 (Slack alert routing): /hooks/sentry
 * and the Slack admin API. Called once from api_register().
 */
#ifndef SB_API_SLACK_H
#define SB_API_SLACK_H

#include "app.h"

/* Add the issue-8 routes to a->router. 0 or -1. */
int slack_routes(struct app *a);

/* The Slack Request URL endpoints (/slack/...), bridge/slack_inbound.c. 0 or -1. */
int slack_inbound_routes(struct app *a);

#endif
