/*
 * sentry_client.h: the Sentry web API as the reconcile engine needs it.
 *
 * Reads: organisation members (cursor pagination, per_page=100, following
 * rel="next" only while results="true"), teams, each team's members, and
 * projects with their teams.
 * Writes: set orgRole, add/remove one team membership, invite, remove;
 * create a team, delete a team, create a project under a team.
 * All through httpc (429 without Retry-After backs off). Sentry's refusals
 * (4xx: last owner, retired role, insufficient rights, IdP-provisioned
 * member) are not errors of the call: they come back as a result with the
 * status and Sentry's own message, for the engine to record as a failed
 * change.
 *
 * Thread-safe: one client may be used by several threads.
 */
#ifndef SB_INTEGRATIONS_SENTRY_CLIENT_H
#define SB_INTEGRATIONS_SENTRY_CLIENT_H

#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <stdbool.h>
#include <stddef.h>

struct sentry_client;

struct sentry_member {
	char *id;
	char *email;
	char *role;           /* orgRole (falls back to role) */
	bool pending;         /* invite not accepted (user is null) */
	bool expired;
	bool idp_provisioned; /* flags["idp:provisioned"] */
	char **teams;         /* filled by the caller from team member lists; the array
			       * is freed by sentry_members_free, the strings are not */
	size_t nteams;
};

struct sentry_team {
	char *id;
	char *slug;
	char *name;
	bool idp_provisioned;
};

struct sentry_project {
	char *id;
	char *slug;
	char *name;
	char *platform;       /* NULL when not set */
	char **teams;         /* team slugs ("teams", else "team"); may be empty */
	size_t nteams;
};

/* What a write got back. message is Sentry's text for a refusal (from
 * "detail", the first field error, or the body), NULL on success. */
struct sentry_result {
	long status;          /* HTTP status */
	char *message;
	char *member_id;      /* invite: the new member's id */
	char *id;             /* create team/project (201): the new object's id */
	char *slug;           /* create team/project (201): the slug Sentry gave it */
};

/* A client for cfg->sentry (base_url, organization, token, http settings).
 * NULL with e filled when Sentry is not configured. */
struct sentry_client *sentry_client_new(const struct config *cfg, struct logger *lg, struct metrics *m,
					struct err *e);
void sentry_client_free(struct sentry_client *c);

/* Every member and pending invite of the organisation. Caller frees with
 * sentry_members_free. 0 or -1 with e. */
int sentry_list_members(struct sentry_client *c, struct sentry_member **out, size_t *n, struct err *e);

/* Every team of the organisation (detailed=0). 0 or -1 with e. */
int sentry_list_teams(struct sentry_client *c, struct sentry_team **out, size_t *n, struct err *e);

/* Every project of the organisation with its teams (all pages). Caller
 * frees with sentry_projects_free. 0 or -1 with e. */
int sentry_list_projects(struct sentry_client *c, struct sentry_project **out, size_t *n, struct err *e);

/* The member ids of each team in slugs (GET /api/0/teams/{org}/{team}/members/,
 * all pages), read concurrently. ids[i]/nids[i] for team i (free each with
 * sentry_ids_free). Pending invites are not listed by Sentry here. 0 or -1. */
int sentry_teams_members(struct sentry_client *c, const char *const *slugs, size_t n, char ***ids, size_t *nids,
			 struct err *e);

/* Writes. 0 when Sentry answered (any status: see res->status), -1 with e
 * on transport failure. Free res with sentry_result_clear. */
int sentry_set_role(struct sentry_client *c, const char *member_id, const char *role, struct sentry_result *res,
		    struct err *e);
/* 201 added, 204 already a member, 202 only an access request (not applied). */
int sentry_add_to_team(struct sentry_client *c, const char *member_id, const char *team, struct sentry_result *res,
		       struct err *e);
int sentry_remove_from_team(struct sentry_client *c, const char *member_id, const char *team,
			    struct sentry_result *res, struct err *e);
int sentry_invite(struct sentry_client *c, const char *email, const char *role, const char *const *teams,
		  size_t nteams, struct sentry_result *res, struct err *e);
int sentry_remove_member(struct sentry_client *c, const char *member_id, struct sentry_result *res,
			 struct err *e);

/* POST /api/0/organizations/{org}/teams/ {slug, name}: 201 created (res->id,
 * res->slug), 409 the slug is taken, 400 invalid. Not retried after a 5xx
 * (not idempotent). */
int sentry_create_team(struct sentry_client *c, const char *slug, const char *name, struct sentry_result *res,
		       struct err *e);
/* DELETE /api/0/teams/{org}/{team}/: 204 (Sentry schedules the deletion and
 * releases the slug at once), 404 no such team. */
int sentry_delete_team(struct sentry_client *c, const char *slug, struct sentry_result *res, struct err *e);
/* POST /api/0/teams/{org}/{team}/projects/ {name, slug, platform?}: 201
 * created (res->id, res->slug), 409 the slug is taken, 400 invalid (Sentry's
 * field error in res->message), 403 not allowed. platform may be NULL. */
int sentry_create_project(struct sentry_client *c, const char *team, const char *name, const char *slug,
			  const char *platform, struct sentry_result *res, struct err *e);

/* The e-mails of the members with the team role admin in team (GET
 * /api/0/teams/{org}/{team}/members/, teamRole, all pages). Free with
 * sentry_ids_free. 0 or -1 with e (a 404 for an unknown team is an error). */
int sentry_team_admins(struct sentry_client *c, const char *team, char ***emails, size_t *n, struct err *e);

/* ---- issues (Slack triage, issue 8) ---- */

/* A change of one issue; NULL / 0 fields are not sent. */
struct sentry_issue_update {
	const char *status;      /* "resolved", "ignored", "unresolved" */
	const char *substatus;   /* "archived_until_escalating", "archived_until_condition_met", ... */
	long long ignore_minutes; /* statusDetails.ignoreDuration (minutes) */
	const char *assigned_to; /* "user:<user id>", "team:<id>", a username or e-mail */
};

/*
 * PUT /api/0/organizations/{org}/issues/{issue_id}/ ("Update an Issue";
 * Sentry records the token's integration as the actor). 0 when Sentry
 * answered: res->status, and for a non-2xx res->message with Sentry's
 * reason ({"detail"} or the first field error, "status: ..."). -1 with e on
 * transport failure or timeout. httpc does not retry it after a 5xx or a
 * timeout: the caller's job queue does, with its backoff.
 */
int sentry_update_issue(struct sentry_client *c, const char *issue_id, const struct sentry_issue_update *u,
			struct sentry_result *res, struct err *e);

/* A member found by e-mail. */
struct sentry_member_ref {
	char *id;      /* member id */
	char *user_id; /* the user's id (user.id); NULL for a pending invite */
	char *email;
	bool pending;
};

/*
 * The member with this e-mail (GET /organizations/{org}/members/?query=email:X,
 * which matches the member e-mail and the user's e-mails). 1 found (out
 * filled; free with sentry_member_ref_clear), 0 none, -1 with e (transport,
 * or a non-2xx answer).
 */
int sentry_find_member(struct sentry_client *c, const char *email, struct sentry_member_ref *out, struct err *e);
void sentry_member_ref_clear(struct sentry_member_ref *m);

void sentry_members_free(struct sentry_member *v, size_t n);
void sentry_teams_free(struct sentry_team *v, size_t n);
void sentry_projects_free(struct sentry_project *v, size_t n);
void sentry_ids_free(char **ids, size_t n);
void sentry_result_clear(struct sentry_result *r);

#endif
