/*
 * sentry_alert.h: an alert as the routing policy sees it, read from a
 * Sentry integration-platform webhook (reference sentry-api.md section 6)
 * or from a flat JSON object of labels (the `routes test` CLI).
 *
 * Webhook shapes understood:
 *  - event_alert.triggered: data.event (project is a NUMERIC id: the slug
 *    and owning teams come from the mirror, see sentry_alert_set_project),
 *    data.triggered_rule (the rule name), data.event.tags as [[k, v], ...].
 *  - metric_alert.critical|warning|resolved|open: data.metric_alert with
 *    alert_rule{name, projects[slugs]}, data.description_title, web_url.
 *    The level is the action (critical, warning, resolved).
 *  - issue.<action>: data.issue{id, shortId, title, culprit, level,
 *    project{id, slug}, count, userCount, permalink/web_url}.
 * Flat form: {"project", "issue", "level", "environment", "alert_rule",
 * "resource", "team": "a" | ["a", "b"], "tags": {"k": "v"}}.
 */
#ifndef SB_INTEGRATIONS_SENTRY_ALERT_H
#define SB_INTEGRATIONS_SENTRY_ALERT_H

#include "err.h"
#include "policies/policy_routing.h"

#include <jansson.h>
#include <stdint.h>

struct sentry_alert {
	char *resource;     /* event_alert, metric_alert, issue */
	char *action;       /* triggered, critical, resolved, created, ... ("" in the flat form) */
	char *project;      /* slug ("" until enriched when only the id is known) */
	int64_t project_id; /* 0 when unknown */
	char *issue;        /* Sentry issue (group) id */
	char *short_id;
	char *level;
	char *environment;
	char *alert_rule;
	char *title;
	char *culprit;
	char *web_url;      /* link to the issue or alert in Sentry; "" when absent */
	int64_t count;      /* events; -1 when absent */
	int64_t user_count; /* users; -1 when absent */
	char **teams;
	size_t nteams;
	struct policy_tag *tags; /* key and value strings owned */
	size_t ntags;
};

/*
 * Read a webhook body (the parsed JSON of one delivery) of the given
 * Sentry-Hook-Resource into out (free with sentry_alert_clear). 0, or -1
 * with e when the body lacks what the resource needs (e.g. no data.event).
 */
int sentry_alert_from_webhook(const char *resource, const json_t *body, struct sentry_alert *out, struct err *e);

/* Read the flat label form. 0, or -1 with e (not an object, wrong types). */
int sentry_alert_from_labels(const json_t *obj, struct sentry_alert *out, struct err *e);

/* Set one label from "name=value" (CLI pairs; "team" adds a team, "tag:K" a
 * tag). 0, or -1 with e for an unknown label. */
int sentry_alert_set_label(struct sentry_alert *a, const char *pair, struct err *e);

/* Set the project slug and owning teams (copied), from the mirror. 0 or -1 (memory). */
int sentry_alert_set_project(struct sentry_alert *a, const char *slug, const char *const *teams, size_t nteams);

/* The policy's view of a (borrows a's strings; valid while a is). */
void sentry_alert_view(const struct sentry_alert *a, struct policy_alert *out);

/* Free what a holds and zero it. NULL-safe. */
void sentry_alert_clear(struct sentry_alert *a);

#endif
