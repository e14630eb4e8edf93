/*
 * sim_upstreams.h: the list of simulated upstreams, as an X-macro.
 *
 * sim_server.c includes this twice (declarations, then the dispatch table).
 * Adding an upstream = one new file defining
 * `const struct sim_upstream sim_upstream_<name>` + one line here.
 * Order matters only if prefixes overlap: the first match wins.
 */
SIM_UPSTREAM(oidcctl) /* /_sim/oidc  OIDC control calls (sim_oidc.c); before ctl */
SIM_UPSTREAM(sentryctl) /* /_sim/sentry/issues  Sentry issue control calls (sim_sentry.c); before ctl */
SIM_UPSTREAM(ctl)    /* /_sim    control API (sim_ctl.c) */
SIM_UPSTREAM(okta)   /* /api/v1  Okta Management API (sim_okta.c) */
SIM_UPSTREAM(sentry) /* /api/0   Sentry web API (sim_sentry.c) */
SIM_UPSTREAM(gitlab) /* /api/v4  GitLab REST API v4 (sim_gitlab.c) */
SIM_UPSTREAM(oidc)   /* /oauth2  Okta OIDC authorization server (sim_oidc.c) */
SIM_UPSTREAM(slack)  /* /slack   Slack Web API /slack/api, control /slack/_sim (sim_slack.c) */
SIM_UPSTREAM(sentry_slack) /* /extensions/slack  Sentry's Slack endpoints, recorded (sim_slack.c) */
