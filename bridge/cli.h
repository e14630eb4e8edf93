/*
 * cli.h: subcommands implemented outside main.c.
 */
#ifndef SB_CLI_H
#define SB_CLI_H

#include "config.h"
#include "log.h"

/* `sentry-bridge access ...` (bridge/cli_access.c). Returns an exit code. */
int cli_access(const struct config *cfg, struct logger *lg, int argc, char **argv);
const char *cli_access_usage(void);

#endif
