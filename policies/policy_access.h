/*
 * policy_access.h: the rules of access requests (issue 9). Pure code: the
 * caller supplies who the people are (their Okta groups) and what exists
 * (the Sentry teams); these functions say whether a request may be filed,
 * whether it is approved automatically, who may approve it and when it is
 * approved. No I/O, no clock.
 *
 * Rules (docs/access-requests.md tells them in prose):
 *  - a role request names member or manager, at most access_requests.max_role;
 *    owner is never requestable; a team request names an existing team that
 *    is in requestable_teams, or any team when any_team is set;
 *  - the duration is positive and at most max_duration (0 = default_duration);
 *  - a reason is required when require_reason is set;
 *  - requesters are members of requester_groups, or of an access group
 *    (roles.access_groups) when that list is empty;
 *  - the first matching auto_approve rule (kind, requester group, team,
 *    max_role, max_duration) approves without a person;
 *  - otherwise the first matching approvers rule (kind, teams) decides: its
 *    groups' members approve (and, with team_admins on a team rule, the
 *    admins of the requested Sentry team), never the requester, each person
 *    once, and `approvals` distinct approvals complete the request.
 */
#ifndef SB_POLICY_ACCESS_H
#define SB_POLICY_ACCESS_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct access_person {
	const char *email;
	const char *const *groups; /* the person's Okta group names */
	size_t ngroups;
	const char *const *admin_of; /* Sentry teams where the person has the team role admin (may be NULL) */
	size_t nadmin_of;
};

struct access_ask {
	enum config_request_kind kind;
	enum config_role role;    /* kind role */
	const char *team;         /* kind team */
	int64_t duration_ms;      /* 0: default_duration */
	const char *reason;       /* may be NULL or "" */
	bool team_exists;         /* kind team: the caller looked it up in Sentry */
};

struct access_verdict {
	bool ok;                  /* the request may be filed */
	char problem[256];        /* !ok: why, for the person (and the HTTP field) */
	const char *field;        /* !ok: which input is wrong ("role", "team", "duration", ...) */
	int64_t duration_ms;      /* the duration that applies */
	bool auto_approved;       /* an auto_approve rule matched */
	int approver_rule;        /* index in access_requests.approvers, -1 when none applies */
	int approvals_needed;     /* 0 when auto-approved */
};

/* May requester file ask? Fills v. */
void policy_access_check(const struct config *cfg, const struct access_person *requester,
			 const struct access_ask *ask, struct access_verdict *v);

struct access_approval_verdict {
	bool ok;
	char problem[256];
	bool complete;            /* with this approval the request is approved */
};

/*
 * May approver approve a pending request of ask filed by requester_email,
 * given the distinct approvers so far (approved_by, n_approved) and the
 * rule chosen at filing (approver_rule, approvals_needed)?
 */
void policy_access_can_approve(const struct config *cfg, const struct access_ask *ask, const char *requester_email,
			       int approver_rule, int approvals_needed, const char *const *approved_by,
			       size_t n_approved, const struct access_person *approver,
			       struct access_approval_verdict *v);

/* May person decide (approve or deny) requests of approver_rule at all?
 * Group members only: team admins need the team (see the next one). */
bool policy_access_is_approver(const struct config *cfg, int approver_rule, const struct access_person *person);

/* The same for a request about team (NULL for role requests): also true for
 * an admin of that team (person->admin_of) when the rule has team_admins. */
bool policy_access_is_approver_for(const struct config *cfg, int approver_rule, const char *team,
				   const struct access_person *person);

/* Does approver_rule let the admins of team approve (team_admins on a team rule)? */
bool policy_access_rule_team_admins(const struct config *cfg, int approver_rule, const char *team);

#endif
