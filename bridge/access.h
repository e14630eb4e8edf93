/*
 * access.h: time-bound access requests and grants (issue 9).
 *
 * A request (role or team, a duration, a reason) is checked by
 * policies/policy_access against the people's Okta groups (read from Okta)
 * and the Sentry teams, stored, and either approved at once by an
 * auto-approval rule or left pending for its approvers. The completing
 * approval creates a grant; grants are an input of the role policy (the
 * holder's role is the highest of their groups' and their grants', their
 * teams the union), so the full sync keeps them while they last and takes
 * them back after. A grant is applied at once by the job "access.apply"
 * (the event path's per-user reconcile), and the scheduled task
 * "access.expire" ends grants at ends_at, and at once for a person no
 * longer ACTIVE in Okta. Every step is audited with actor, source and
 * reason. docs/access-requests.md tells it for people.
 */
#ifndef SB_ACCESS_H
#define SB_ACCESS_H

#include "ctx.h"
#include "err.h"
#include "policies/policy_roles.h"

#include <jansson.h>
#include <libpq-fe.h>

struct jobs;
struct sched;

/* The active grants and the teams grants manage, as policy input. */
struct access_grants {
	struct policy_grant *v;
	size_t n;
	const char **teams;
	size_t nteams;
	PGresult *rows;  /* backing store */
	PGresult *trows;
	char **reasons;
};

int access_grants_load(PGconn *c, struct access_grants *g, struct err *e);
void access_grants_free(struct access_grants *g);

/* What an API call or CLI command gets back: an HTTP status and a JSON body
 * (the request, or {"code","message","field"} for a refusal). */
struct access_answer {
	int status;
	json_t *body;
};

/* File a request for person (an email). role or team per kind; duration
 * like the config writes it ("8h"), NULL for the default. source is "api",
 * "cli", "slack" or "web"; actor who filed it (for the audit log). */
int access_request_create(struct ctx *ctx, const char *person, const char *kind, const char *role, const char *team,
			  const char *duration, const char *reason, const char *source, const char *actor,
			  struct access_answer *out);

/* action: "approve", "deny", "cancel" (the requester) or "revoke" (an
 * approver or the admin token: the grant ends now). by: who acts. */
int access_request_decide(struct ctx *ctx, long long id, const char *action, const char *by, const char *reason,
			  const char *source, struct access_answer *out);

/* Requests, newest first, filtered by status and/or person (NULL: any). */
json_t *access_request_list(PGconn *c, const char *status, const char *person, int limit, struct err *e);
/* One request with its approvals and grant; NULL and e->code 404 when none. */
json_t *access_request_show(PGconn *c, long long id, struct err *e);

/* End what is due now: grants past ends_at (expired) and grants of people
 * not ACTIVE in the Okta mirror (revoked); warn holders expiry_warning
 * before the end; queue the reconcile of each person. Returns how many
 * grants ended, -1 with e. */
long access_expire_due(struct ctx *ctx, struct err *e);

/* Job kinds "access.apply" and "access.expire", the scheduled expiry. */
int access_register(struct ctx *ctx, struct jobs *q, struct sched *s);

struct router;
/* The /api/v1/access-requests routes (bridge/api_access.c). 0 or -1. */
int access_routes(struct router *r);

/* Reconcile one person (by email) now, from the mirrors and their grants.
 * 0 done, 1 a full reconcile holds the lock (try later), -1 with e. */
int access_apply_person(struct ctx *ctx, const char *email, struct err *e);

#endif
