/*
 * api_gitlab.h: the GitLab proxy's wiring (issue 6): routes under
 * gitlab.proxy_prefix, the cache refresh (a scheduled task on the leader),
 * the loader that keeps every replica on the newest snapshot, /readyz
 * details and the `sentry-bridge gitlab` command. See docs/gitlab.md.
 */
#ifndef SB_API_GITLAB_H
#define SB_API_GITLAB_H

#include "app.h"

#include <jansson.h>

/* Add the proxy route (when gitlab.base_url is set). 0 or -1. */
int gitlab_routes(struct app *a);

/* Register the refresh task with a->sched and start the snapshot loader.
 * A no-op when the proxy is disabled. 0 or -1. */
int gitlab_start(struct app *a);

/* Stop the loader and free the module (NULL-safe state). */
void gitlab_stop(struct app *a);

/* Add {"gitlab": {...}} (cache age and size, last refresh and its error)
 * to a /readyz body when the proxy is enabled. */
void gitlab_readyz(json_t *body);

/* `sentry-bridge gitlab refresh`: walk, store, report. Returns an exit code. */
int gitlab_cli(const struct config *cfg, struct logger *lg, int argc, char **argv);

#endif
