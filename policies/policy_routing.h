/*
 * policy_routing.h: where an alert goes. Pure code (no I/O, no clock): the
 * route tree of the `routing:` config, modelled on Prometheus Alertmanager,
 * plus silences.
 *
 * Rules (docs/slack.md tells them in prose):
 *  - Every alert enters at the root route, which matches everything. A node
 *    matches when all its matchers match. Its children are tried in order;
 *    the first child that matches is descended into, and the search stops
 *    there unless that child says `continue: true`. A node none of whose
 *    children matched is itself a result (with its receiver).
 *  - Labels: project, issue, team, level, environment, alert_rule, resource
 *    and tag:NAME. A missing label is the empty string. `team` has one value
 *    per owning team: `team=X` and `team=~X` hold when any team matches,
 *    `team!=X` and `team!~X` when none does (no team = one empty value).
 *    Regexes are POSIX extended, anchored at both ends.
 *  - Receivers, group_by and the group timers are inherited at config load
 *    (config_route.c). mute_time_intervals / active_time_intervals apply to
 *    the node that matched only: a muted match still stops the search (the
 *    alert is recorded as muted, not sent elsewhere).
 *  - The group key is the matched node's path plus the values of its
 *    group_by labels ("..." = every label): alerts with equal keys make one
 *    Slack message.
 *  - A silence is a set of matchers with a start and an end; it silences an
 *    alert when now is in [start, end) and all its matchers match.
 */
#ifndef SB_POLICY_ROUTING_H
#define SB_POLICY_ROUTING_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One Sentry tag of an alert. */
struct policy_tag {
	const char *key;
	const char *value;
};

/* An alert as routing sees it. Any string may be NULL (= ""). */
struct policy_alert {
	const char *project;         /* project slug */
	const char *issue;           /* Sentry issue id */
	const char *level;           /* fatal, error, warning, info, debug */
	const char *environment;
	const char *alert_rule;      /* name of the Sentry alert rule, if any */
	const char *resource;        /* event_alert, metric_alert, issue */
	const char *const *teams;    /* slugs of the project's owning teams */
	size_t nteams;
	const struct policy_tag *tags;
	size_t ntags;
};

/*
 * Offset from UTC in seconds of time zone `zone` at unix_sec (east positive).
 * 0 or -1 (unknown zone). The wiring passes tz_offset (bridge/core/tz.h).
 */
typedef int (*policy_tz_fn)(const char *zone, int64_t unix_sec, int *offset_sec);

/* A compiled route tree (regexes compiled once). Immutable; shareable. */
struct policy_routing;

/*
 * Compile rt (already validated by the config loader). Returns a new object
 * (free with policy_routing_free) that borrows rt, which must outlive it;
 * NULL when routing is off (rt->route.configured false) or on error, with
 * a description in err (errlen bytes) in the latter case.
 */
struct policy_routing *policy_routing_new(const struct config_routing *rt, char *err, size_t errlen);

/* NULL-safe. */
void policy_routing_free(struct policy_routing *pr);

/* One receiver an alert reaches. */
struct policy_route_match {
	const struct config_route *route;       /* the node that matched (borrowed from the config) */
	const struct config_receiver *receiver; /* its receiver (borrowed) */
	char *path;            /* owned: "routing.route.routes[0].routes[1]" */
	char *trail;           /* owned: the matched nodes root first, " > " between, with matchers */
	char *group_key;       /* owned: path + "{label=\"value\",...}" */
	const char *muted_by;  /* NULL, or the time interval that mutes it (borrowed) */
};

struct policy_route_result {
	struct policy_route_match *v;
	size_t n;
};

/*
 * Route alert a at now_ms (time intervals are evaluated with tz). Fills out
 * (free with policy_route_result_clear). Returns 0, or -1 when memory runs
 * out or a time zone cannot be resolved (then err says which).
 */
int policy_route(const struct policy_routing *pr, const struct policy_alert *a, int64_t now_ms, policy_tz_fn tz,
		 struct policy_route_result *out, char *err, size_t errlen);

/* Free the contents of r and reset it. NULL-safe. */
void policy_route_result_clear(struct policy_route_result *r);

/* 1 when time interval ti contains the instant now_ms, 0 when not, -1 when
 * its time zone is unknown. */
int policy_interval_contains(const struct config_time_interval *ti, int64_t now_ms, policy_tz_fn tz);

/* The node at path ("routing.route.routes[1].routes[0]"), or NULL. */
const struct config_route *policy_route_at(const struct config_routing *rt, const char *path);

/* The receiver named name, or NULL. */
const struct config_receiver *policy_receiver(const struct config_routing *rt, const char *name);

/* ---- matchers and silences ---- */

/* A compiled list of matchers (all must match). */
struct policy_matchers;

/*
 * Compile matcher strings ("level=~\"error|fatal\"", "tag:customer=acme").
 * Returns a new object (free with policy_matchers_free) or NULL with a
 * description naming the bad matcher in err.
 */
struct policy_matchers *policy_matchers_new(const char *const *strs, size_t n, char *err, size_t errlen);

/* NULL-safe. */
void policy_matchers_free(struct policy_matchers *m);

/* 1 when every matcher holds for a (an empty list matches everything). */
int policy_matchers_match(const struct policy_matchers *m, const struct policy_alert *a);

/* A silence as stored (matchers compiled by the caller). */
struct policy_silence {
	const char *id;
	const struct policy_matchers *matchers;
	int64_t starts_ms;
	int64_t ends_ms;                 /* INT64_MAX: until resolved (the issue's) */
};

/* Index of the first silence in s[0..n) active at now_ms that matches a,
 * or -1 when none does. */
long policy_silenced(const struct policy_silence *s, size_t n, const struct policy_alert *a, int64_t now_ms);

/* Format a duration in ms the way the config writes it ("30s", "5m", "4h",
 * "1h30m", "0s") into out (outlen >= 24). */
void policy_format_duration(int64_t ms, char *out, size_t outlen);

#endif
