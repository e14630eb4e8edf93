/*
 * provision.h: provisioning of Sentry projects and teams (issue #5), the
 * wiring around policies/policy_provision: the admin API
 * (POST /api/v1/projects, POST /api/v1/teams) and `sentry-bridge projects
 * lint`. Reads the live organisation, asks the policy, creates in Sentry,
 * records the audit log. docs/provisioning.md is the user's guide.
 */
#ifndef SB_PROVISION_H
#define SB_PROVISION_H

#include "app.h"
#include "config.h"
#include "log.h"

#include <jansson.h>
#include <stdbool.h>

/* Add the provisioning routes to a->router. 0 or -1. */
int provision_routes(struct app *a);

struct metrics;
struct http_resp;

/* A project request, as POST /api/v1/projects takes it. */
struct provision_ask {
	const char *name;
	const char *team;      /* NULL: decided by the rules */
	const char *platform;  /* NULL: none */
	const char *requester; /* an email; NULL: the admin token acting for itself */
	bool dry_run;          /* decide only: nothing created, nothing audited */
	const char *via;       /* "admin-token" (the API, default) or "web" (the console): audit details */
};

/* Decide a project request on a fresh read of the organisation and, unless
 * a dry run, create it in Sentry and audit it: exactly POST
 * /api/v1/projects after its authentication and parsing. The answer (HTTP
 * status and the API's JSON body: "decision", "conflicts", "error", ...)
 * goes into resp. */
void provision_project(struct ctx *ctx, const struct provision_ask *ask, struct http_resp *resp);

/* The `projects lint` report of the live organisation:
 * {"organization","projects","total","counts":{kind: n},"violations":
 * [{"kind","projects":[slugs],"application","detail"}]}. New reference, or
 * NULL with e (Sentry unreachable, memory). */
json_t *provision_lint(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e);

/* `sentry-bridge projects lint`: read the organisation's projects, report
 * the violations (text, or JSON when json_out) on stdout. Returns
 * EXIT_OK (none), EXIT_VIOLATIONS or EXIT_FAILURE_RUNTIME. */
int provision_lint_cli(const struct config *cfg, struct logger *lg, int json_out);

#endif
