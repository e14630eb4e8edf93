/*
 * slack_access_cmd.h: the grammar of the bridge's slash command (issue 9,
 * default /sentry-access). Pure: text in, a command out; no I/O.
 *
 *   /sentry-access help                      (or no text)
 *   /sentry-access list                      my requests and grants
 *   /sentry-access cancel 42                 (or #42) cancel my pending request
 *   /sentry-access manager 8h investigating INC-123
 *   /sentry-access role manager 8h ...       the same
 *   /sentry-access team observability 7d on call this week
 *
 * The duration is optional (the configured default then applies) and
 * written like the config writes durations (30m, 8h, 7d). Everything after
 * it (or after the role or team when there is none) is the reason. Whether
 * the role, team, duration and reason are allowed is for the rules
 * (policies/policy_access.c), not for the parser: it only reads.
 */
#ifndef SB_SLACK_ACCESS_CMD_H
#define SB_SLACK_ACCESS_CMD_H

/* Longest command text read; Slack's own limit is far below. */
#define SLACK_ACCESS_CMD_MAX 4000

enum slack_access_cmd_kind {
	SA_CMD_ERROR = 0, /* error says why */
	SA_CMD_HELP,
	SA_CMD_LIST,
	SA_CMD_CANCEL,    /* id */
	SA_CMD_ROLE,      /* role, duration?, reason? */
	SA_CMD_TEAM,      /* team, duration?, reason? */
};

struct slack_access_cmd {
	enum slack_access_cmd_kind kind;
	char *role;       /* as written, lower-cased */
	char *team;       /* as written */
	char *duration;   /* NULL: the default */
	char *reason;     /* NULL when none */
	long long id;     /* cancel */
	char *error;      /* SA_CMD_ERROR: for the person */
};

/* Read text (may be NULL). 0 with out filled (kind SA_CMD_ERROR for bad
 * input), -1 out of memory. Free with slack_access_cmd_free. */
int slack_access_cmd_parse(const char *text, struct slack_access_cmd *out);
void slack_access_cmd_free(struct slack_access_cmd *c);

/* The help text (mrkdwn), naming the command as configured. Caller frees. */
char *slack_access_cmd_help(const char *command);

#endif
