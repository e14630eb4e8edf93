/*
 * routes_cli.h: `sentry-bridge routes show` and `sentry-bridge routes test`.
 *
 *   routes show                      the route tree with inherited values
 *   routes test --alert FILE.json    the receivers an alert reaches and why
 *   routes test [--at TIME] label=value ... (labels: project, issue, team,
 *                                    level, environment, alert_rule,
 *                                    resource, tag:NAME)
 *
 * Offline: reads only the configuration and the time zone database.
 */
#ifndef SB_ROUTES_CLI_H
#define SB_ROUTES_CLI_H

#include "config.h"

#include <stdio.h>

extern const char *const routes_cli_usage;

/* Run the subcommand in argv[0..argc) (after "routes"), printing to out and
 * errors to err. Returns an exit code (enum exit_code). */
int routes_cli(const struct config *cfg, int argc, char **argv, FILE *out, FILE *err);

#endif
