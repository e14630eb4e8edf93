/*
 * slack_blocks.h: the Block Kit messages of alert notifications.
 *
 * Input is the alert as the outbox stores it (bridge/alerts.c: title,
 * level, project, environment, culprit, count, user_count, tags, web_url,
 * issue, resource). Pure formatting: no I/O.
 *
 * The head message of a group: a header with the title, a section with
 * level, project, environment, culprit, event and user counts, the
 * receiver's configured tags, the route that matched, "N alerts in this
 * group", a link to Sentry, and the triage buttons (Resolve, Archive,
 * Assign to me, Silence), whose action_ids start with the configured
 * prefix (slack.action_id_prefix) so interactions can be told apart from
 * Sentry's own. A resolved group keeps its text, loses its buttons and says
 * who resolved it. Archive is a menu: until escalating, for 1 hour, 1 day,
 * 1 week (values "until_escalating", "60", "1440", "10080": minutes, read
 * back by policies/policy_triage.c). What was done from Slack shows as
 * status lines ("Archived until escalating by @ada via the bridge").
 */
#ifndef SB_INTEGRATIONS_SLACK_BLOCKS_H
#define SB_INTEGRATIONS_SLACK_BLOCKS_H

#include "config.h"

#include <jansson.h>

/* Options of the head message. */
struct slack_head_opts {
	long count;                        /* alerts in the group so far */
	const char *route;                 /* route path that matched */
	const struct config_strlist *tags; /* tags to show (the receiver's); may be NULL */
	const char *action_prefix;         /* "sb_" */
	const char *resolved_by;           /* non-NULL: the group is resolved (by this actor) */
	/* Triage from Slack (bridge/slack_actions.c), shown as status lines;
	 * the ids are Slack user ids, rendered as mentions. */
	const char *resolved_by_user; /* resolved via the bridge by this person (no buttons) */
	const char *archived;         /* archived via the bridge: "until escalating", "for 1 hour", ... */
	const char *archived_by;      /* ... by this person (the Archive menu is left out) */
	const char *assignee;         /* assigned via the bridge to this person */
	/* Triage done in Sentry's own UI by a person (issue webhooks), shown
	 * with names as Sentry gives them: "... by Ada Lovelace in Sentry". */
	const char *resolved_by_name; /* resolved in Sentry by this person */
	const char *archived_by_name; /* archived (o->archived says how) in Sentry by this person */
	const char *assignee_name;    /* assigned in Sentry to this user or team */
};

#define SLACK_ARCHIVE_VALUES "until_escalating", "60", "1440", "10080"

/* Blocks of a group's head message. New array; *text gets the notification
 * fallback (caller frees). NULL on allocation failure. */
json_t *slack_blocks_head(const json_t *alert, const struct slack_head_opts *o, char **text);

/* Text of a thread reply announcing n new alerts (the latest is alert).
 * Caller frees. */
char *slack_text_thread(const json_t *alert, long n_new, long total);

/* Text of the thread reply when the issue is resolved. Caller frees. */
char *slack_text_resolved(const json_t *alert);

#endif
