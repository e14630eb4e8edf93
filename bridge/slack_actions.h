/*
 * slack_actions.h: the job "inbox.slack" that carries out clicks on the
 * bridge's Slack buttons (see slack_actions.c).
 */
#ifndef SB_SLACK_ACTIONS_H
#define SB_SLACK_ACTIONS_H

#include "ctx.h"

struct jobs;

/* Register "inbox.slack" (only when Slack is configured). 0 or -1. */
int slack_actions_register(struct ctx *ctx, struct jobs *q);

#endif
