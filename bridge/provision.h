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

/* Add the provisioning routes to a->router. 0 or -1. */
int provision_routes(struct app *a);

/* `sentry-bridge projects lint`: read the organisation's projects, report
 * the violations (text, or JSON when json_out) on stdout. Returns
 * EXIT_OK (none), EXIT_VIOLATIONS or EXIT_FAILURE_RUNTIME. */
int provision_lint_cli(const struct config *cfg, struct logger *lg, int json_out);

#endif
