/*
 * policy_roles.h: who should hold which Sentry org role and teams, and the
 * plan that gets Sentry there. Pure code: no I/O, no clock, no globals.
 *
 * Input: the Okta users in scope (status, email, group names), the Sentry
 * members (pending invites included) and the roles:, teams: and sync:
 * sections of the config. Output: an ordered plan of changes, each with its
 * reason and before/after, plus the verdict of the safety guards.
 *
 * Rules (docs/sync.md tells them in prose):
 *  - A user belongs in Sentry when ACTIVE in Okta and in an access group,
 *    a role-mapped group or a team-mapped group.
 *  - Their role is the highest of roles.default_role and every mapping that
 *    matches (member < admin < manager < owner). Owner is never granted.
 *    A member holding the retired admin role keeps it unless a mapping
 *    matched them.
 *  - roles.owners are never demoted or removed; roles.protected are never
 *    touched. Both are matched by email, case-insensitively.
 *  - Teams listed in teams: are managed: members of the mapped group are
 *    added, other managed members removed. Other teams are left alone.
 *  - A Sentry member matching an Okta user in scope who is not ACTIVE is
 *    removed. A member matching no user in scope follows
 *    sync.unmanaged_members (keep, demote to member, remove).
 */
#ifndef SB_POLICY_ROLES_H
#define SB_POLICY_ROLES_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

/* An Okta user as the policy needs it. */
struct policy_user {
	const char *id;           /* Okta user id */
	const char *email;        /* the configured profile attribute; may be NULL/"" */
	bool active;              /* status ACTIVE (not SUSPENDED, DEPROVISIONED, ...) */
	const char *const *groups; /* names of the in-scope groups the user is in */
	size_t ngroups;
};

/* A Sentry member (or pending invite). */
struct policy_member {
	const char *id;           /* Sentry member id */
	const char *email;
	enum config_role role;
	bool role_known;          /* false: a role this build does not know (billing, custom) */
	bool pending;             /* an invite not yet accepted */
	bool idp_provisioned;     /* SCIM-managed: Sentry refuses DELETE */
	const char *const *teams; /* team slugs */
	size_t nteams;
};

/* Member counts of access groups in the previous run, for the empty-group guard. */
struct policy_group_count {
	const char *group;
	long previous;            /* -1 when unknown (first run) */
	long current;
};

/* An active access grant (issue 9): raises the holder's role or adds a
 * team on top of what their groups give, while the holder is entitled
 * (ACTIVE and in scope). */
struct policy_grant {
	const char *email;        /* the holder */
	bool is_role;
	enum config_role role;    /* is_role: never owner (refused when requested) */
	const char *team;         /* !is_role: a team slug */
	const char *reason;       /* e.g. "grant #42 until 18:00Z, approved by x@y" */
};

struct policy_input {
	const struct policy_user *users;
	size_t nusers;
	const struct policy_member *members;
	size_t nmembers;
	const struct policy_group_count *group_counts;
	size_t ngroup_counts;
	const struct config *cfg; /* roles, teams, sync */
	const struct policy_grant *grants; /* active grants */
	size_t ngrants;
	const char *const *grant_teams; /* teams managed because of grants (active or recently
					   ended), so an ended grant's team is taken back */
	size_t ngrant_teams;
	bool skip_guards;         /* a few users only (the event path): the whole-organisation
				     guards do not apply; the caller bounds removals and demotions */
};

enum policy_change_kind {
	PC_INVITE = 0,        /* invite email with role and teams */
	PC_SET_ROLE,          /* change org role */
	PC_ADD_TEAM,          /* add member to team */
	PC_REMOVE_TEAM,       /* remove member from team */
	PC_REMOVE_MEMBER,     /* remove from the organisation */
};

struct policy_change {
	enum policy_change_kind kind;
	char *email;          /* lower-cased */
	char *member_id;      /* NULL for invites */
	char *okta_id;        /* NULL when the member matches no Okta user */
	char *team;           /* ADD_TEAM / REMOVE_TEAM */
	enum config_role role_before;  /* SET_ROLE, REMOVE_MEMBER */
	enum config_role role_after;   /* SET_ROLE, INVITE */
	char **teams;         /* INVITE: teams to invite into */
	size_t nteams;
	char *reason;         /* which group or rule */
	bool demotion;        /* SET_ROLE to a lower role */
};

struct policy_plan {
	struct policy_change *changes;
	size_t n;
	size_t counts[5];     /* per policy_change_kind */
	size_t demotions;
	size_t managed;       /* members the guards' percentages refer to */
	bool refused;
	char **refusals;      /* why, one line each */
	size_t nrefusals;
	char **warnings;      /* data problems that did not stop the plan (duplicate emails, ...) */
	size_t nwarnings;
};

/* Compute the plan. Returns 0 and fills *out (free with policy_plan_free),
 * or -1 when memory ran out. The guards are evaluated: out->refused says
 * whether the plan may be applied. */
int policy_plan_compute(const struct policy_input *in, struct policy_plan *out);

/* How many removals (or demotions) a guard allows among managed members. */
size_t policy_guard_limit(const struct config_pct *g, size_t managed);

/* Free the contents of a plan. NULL-safe. */
void policy_plan_free(struct policy_plan *p);

/* The YAML/JSON name of a change kind ("invite", "set_role", ...). */
const char *policy_change_kind_name(enum policy_change_kind k);

/* Parse a Sentry role id; 0 or -1 for roles this build does not know. */
int policy_role_parse(const char *s, enum config_role *out);

/* Lower-case ASCII copy of an email (NULL on allocation failure). */
char *policy_email_norm(const char *email);

#endif
