/*
 * policy_triage.h: what a click on the bridge's triage buttons asks of
 * Sentry (issue 8). Pure code: no I/O.
 *
 *   Resolve                 status "resolved"
 *   Archive until escalating status "ignored", substatus "archived_until_escalating"
 *   Archive for 1h/1d/1w    status "ignored", substatus "archived_until_condition_met",
 *                           statusDetails.ignoreDuration in minutes
 *   Assign to me            assignedTo "user:<Sentry user id>"
 *
 * (Sentry's "Update an Issue", PUT /api/0/organizations/{org}/issues/{id}/;
 * the substatus names are Sentry's SUBSTATUS_UPDATE_CHOICES.)
 *
 * A click for a state the issue is already in (as the bridge last set it)
 * changes nothing: policy_triage_noop tells, so a double click calls
 * Sentry once.
 */
#ifndef SB_POLICY_TRIAGE_H
#define SB_POLICY_TRIAGE_H

#include <stdbool.h>
#include <stdint.h>

enum triage_verb { TRIAGE_RESOLVE, TRIAGE_ARCHIVE, TRIAGE_ASSIGN };

struct triage_req {
	enum triage_verb verb;
	const char *status;    /* "resolved", "ignored", NULL (assign) */
	const char *substatus; /* archive: Sentry's substatus; else NULL */
	int64_t minutes;       /* archive for a duration: ignoreDuration; else 0 */
	const char *detail;    /* archive: "until escalating", "for 1 hour", ...; else NULL */
	const char *action;    /* audit action: "issue.resolve", "issue.archive", "issue.assign" */
	const char *done;      /* past tense for messages: "Resolved", "Archived", "Assigned" */
};

/* The archive menu (value, label), in display order, ended by {NULL, NULL}. */
struct triage_option {
	const char *value;
	const char *label;
};
extern const struct triage_option policy_triage_archive_options[];

/*
 * Read a click: verb is the action_id without the prefix ("resolve",
 * "archive", "assign"); choice is the selected menu value for archive
 * ("until_escalating", "60", "1440", "10080"; NULL = until escalating, the
 * old Archive button). 0, or -1 for an unknown verb or choice.
 */
int policy_triage_parse(const char *verb, const char *choice, struct triage_req *out);

/* What the bridge last set on an issue (columns of slack_triage; NULLs allowed). */
struct triage_state {
	const char *status;         /* "resolved", "ignored" or NULL */
	const char *status_detail;  /* archive detail */
	const char *assignee_email; /* who "Assign to me" assigned */
	int64_t status_age_ms;      /* how long ago status was set; -1 unknown */
};

/* Archiving again for the same duration within this time is a double click;
 * later it restarts the duration. */
#define TRIAGE_DOUBLE_CLICK_MS 60000

/* True when r would change nothing on an issue in state cur (email: the
 * clicking person's, for Assign to me). */
bool policy_triage_noop(const struct triage_state *cur, const struct triage_req *r, const char *email);

/*
 * A change a person made in Sentry's own UI, from an issue webhook
 * (issue.resolved, .ignored, .archived, .assigned with an actor of type
 * "user"), for the heads of the issue's groups to show ("Archived until
 * escalating by Ada in Sentry"). Changes by an application (the bridge's
 * own token, Sentry's auto-resolve) are not: the bridge recorded its own
 * with the person who clicked. Pure.
 */
struct triage_from_sentry {
	const char *status;    /* "resolved", "ignored"; NULL for an assignment */
	const char *substatus; /* Sentry's, for "ignored" (may be NULL) */
	char detail[48];       /* "until escalating", "for 1 hour", "for 90 minutes", "forever", ... */
	bool assign;           /* an assignment: the assignee comes from data.issue.assignedTo */
};
/* 1 with *out when the change is to be recorded, 0 when not. ignore_minutes:
 * statusDetails.ignoreDuration (0 when absent). */
int policy_triage_from_sentry(const char *action, const char *actor_type, const char *substatus,
			      int64_t ignore_minutes, struct triage_from_sentry *out);

/* True for an issue id Sentry could have: 1 to 20 decimal digits. */
bool policy_triage_issue_ok(const char *issue);

/* True for a Slack user id we may put into a mention: 1 to 32 of [A-Z0-9]. */
bool policy_triage_slack_id_ok(const char *id);

#endif
