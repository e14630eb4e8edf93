/*
 * check_routing.c: the routing policy (policies/policy_routing.c) and the
 * time zone reader (bridge/core/tz.c), table-driven: a route tree, alerts
 * in; receivers, paths, group keys and mutes out. Time zones are the
 * system's zone database (tzdata), read by tz_offset.
 */
#include "config.h"
#include "policies/policy_routing.h"
#include "suites.h"
#include "tz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TREE_YAML                                                                                                  \
	"routing:\n"                                                                                               \
	"  receivers:\n"                                                                                           \
	"    - { name: default, channel: \"#alerts\" }\n"                                                          \
	"    - { name: backend, channel: \"#backend\" }\n"                                                         \
	"    - { name: backend-prod, channel: \"#backend-prod\" }\n"                                               \
	"    - { name: oncall, email: \"oncall@acme.example\" }\n"                                                 \
	"    - { name: audit, channel: C0123AUDIT }\n"                                                             \
	"    - { name: fallback, channel: \"#fallback\" }\n"                                                       \
	"  time_intervals:\n"                                                                                      \
	"    - { name: office, location: Europe/Madrid, weekdays: [\"monday:friday\"], times: [\"09:00-18:00\"] }\n" \
	"    - { name: nights, location: Europe/Madrid, times: [\"00:00-07:00\"] }\n"                              \
	"    - { name: month-end, location: UTC, days_of_month: [\"-1\"], months: [\"january:march\"] }\n"         \
	"  route:\n"                                                                                               \
	"    receiver: default\n"                                                                                  \
	"    group_by: [project, issue]\n"                                                                         \
	"    group_wait: 10s\n"                                                                                    \
	"    routes:\n"                                                                                            \
	"      - matchers: ['alert_rule=~\"audit.*\"']\n"                                                          \
	"        receiver: audit\n"                                                                                \
	"        continue: true\n"                                                                                 \
	"        group_by: [alert_rule]\n"                                                                         \
	"      - matchers: [\"team=backend\"]\n"                                                                   \
	"        receiver: backend\n"                                                                              \
	"        group_interval: 10m\n"                                                                            \
	"        routes:\n"                                                                                        \
	"          - matchers: [\"environment=production\", 'level=~\"error|fatal\"']\n"                           \
	"            receiver: backend-prod\n"                                                                     \
	"            mute_time_intervals: [nights]\n"                                                              \
	"      - matchers: [\"level=fatal\", \"team!=backend\"]\n"                                                 \
	"        receiver: oncall\n"                                                                               \
	"        active_time_intervals: [office]\n"                                                                \
	"        fallback_receiver: fallback\n"                                                                    \
	"      - matchers: [\"tag:customer=acme\"]\n"                                                              \
	"        receiver: backend\n"                                                                              \
	"        group_by: [\"...\"]\n"                                                                            \
	"      - matchers: ['project!~\"web-.*\"', \"resource=metric_alert\"]\n"                                   \
	"        receiver: default\n"                                                                              \
	"        mute_time_intervals: [month-end]\n"

/* Instants used below (UTC). */
#define MON_1200 1795435200000LL  /* 2026-11-23 12:00 Mon: 13:00 in Madrid */
#define MON_0500 1795410000000LL  /* 2026-11-23 05:00 Mon: 06:00 in Madrid */
#define SAT_1200 1795867200000LL  /* 2026-11-28 12:00 Sat */
#define FEB28 1772280000000LL     /* 2026-02-28 12:00 Sat, last day of February */
#define FEB27 1772193600000LL     /* 2026-02-27 12:00 Fri */

static struct config *tree_cfg(void)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_from_string(TREE_YAML, "routing.yaml", &c, &e);
	ck_assert_msg(rc == 0, "config: %s", e.n ? e.msgs[0] : "?");
	config_errors_free(&e);
	return c;
}

#define T(...) ((const char *const[]){__VA_ARGS__})
#define NT(...) (sizeof(T(__VA_ARGS__)) / sizeof(char *))

struct route_case {
	const char *name;
	struct policy_alert alert;
	int64_t now_ms;
	/* Expected results in order: "receiver@path" or "receiver@path!muted_by", joined by " | ". */
	const char *want;
};

static char *render(const struct policy_route_result *r)
{
	size_t cap = 1024;
	char *s = calloc(1, cap);
	size_t len = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct policy_route_match *m = &r->v[i];
		len += (size_t)snprintf(s + len, cap - len, "%s%s@%s%s%s", i ? " | " : "",
					m->receiver ? m->receiver->name : "?", m->path, m->muted_by ? "!" : "",
					m->muted_by ? m->muted_by : "");
	}
	return s;
}

static const struct policy_tag acme[] = {{"customer", "acme"}, {"browser", "Firefox"}};

static const struct route_case route_cases[] = {
    {"backend production error goes to the nested route",
     {.project = "api", .issue = "1", .level = "error", .environment = "production", .teams = T("backend"), .nteams = 1},
     MON_1200, "backend-prod@routing.route.routes[1].routes[0]"},
    {"the nested route is muted at night in Madrid",
     {.project = "api", .issue = "1", .level = "error", .environment = "production", .teams = T("backend"), .nteams = 1},
     MON_0500, "backend-prod@routing.route.routes[1].routes[0]!nights"},
    {"backend staging stops at the parent route",
     {.project = "api", .level = "error", .environment = "staging", .teams = T("backend"), .nteams = 1}, MON_1200,
     "backend@routing.route.routes[1]"},
    {"backend warning in production: child regex fails, parent holds",
     {.project = "api", .level = "warning", .environment = "production", .teams = T("backend"), .nteams = 1},
     MON_1200, "backend@routing.route.routes[1]"},
    {"continue: the audit route and the next match both receive",
     {.project = "api", .level = "error", .environment = "production", .alert_rule = "audit-login",
      .teams = T("backend"), .nteams = 1},
     MON_1200, "audit@routing.route.routes[0] | backend-prod@routing.route.routes[1].routes[0]"},
    {"regex is anchored: a rule containing audit elsewhere does not match",
     {.project = "api", .level = "info", .alert_rule = "no-audit", .teams = T("web"), .nteams = 1}, MON_1200,
     "default@routing.route"},
    {"fatal for another team inside office hours reaches on-call",
     {.project = "web", .level = "fatal", .teams = T("frontend"), .nteams = 1}, MON_1200,
     "oncall@routing.route.routes[2]"},
    {"outside the active interval (Saturday) the on-call route is muted, not skipped",
     {.project = "web", .level = "fatal", .teams = T("frontend"), .nteams = 1}, SAT_1200,
     "oncall@routing.route.routes[2]!office"},
    {"team= holds when any owning team matches; != then fails",
     {.project = "web", .level = "fatal", .teams = T("frontend", "backend"), .nteams = 2}, MON_1200,
     "backend@routing.route.routes[1]"},
    {"no team at all: team!=backend holds",
     {.project = "web", .level = "fatal"}, MON_1200, "oncall@routing.route.routes[2]"},
    {"tag matcher",
     {.project = "web", .level = "error", .teams = T("frontend"), .nteams = 1, .tags = acme, .ntags = 2}, MON_1200,
     "backend@routing.route.routes[3]"},
    {"!~ and resource: a metric alert of a non-web project",
     {.project = "db", .level = "error", .resource = "metric_alert"}, FEB27, "default@routing.route.routes[4]"},
    {"days_of_month -1 and months: muted on the last day of February",
     {.project = "db", .level = "error", .resource = "metric_alert"}, FEB28,
     "default@routing.route.routes[4]!month-end"},
    {"!~ refuses a web project, which falls back to the root",
     {.project = "web-shop", .level = "error", .resource = "metric_alert"}, FEB27, "default@routing.route"},
    {"nothing matches: the root receiver",
     {.project = "misc", .level = "info"}, MON_1200, "default@routing.route"},
    {"all labels missing: the root receiver", {0}, MON_1200, "default@routing.route"},
};

START_TEST(test_route_table)
{
	struct config *c = tree_cfg();
	char err[256];
	struct policy_routing *pr = policy_routing_new(&c->routing, err, sizeof err);
	ck_assert_msg(pr != NULL, "%s", err);
	for (size_t i = 0; i < sizeof route_cases / sizeof route_cases[0]; i++) {
		const struct route_case *tc = &route_cases[i];
		struct policy_route_result r;
		ck_assert_msg(policy_route(pr, &tc->alert, tc->now_ms, tz_offset, &r, err, sizeof err) == 0, "%s: %s",
			      tc->name, err);
		char *got = render(&r);
		ck_assert_msg(!strcmp(got, tc->want), "%s:\n  got  %s\n  want %s", tc->name, got, tc->want);
		free(got);
		policy_route_result_clear(&r);
	}
	policy_routing_free(pr);
	config_free(c);
}
END_TEST

START_TEST(test_route_inheritance_and_trail)
{
	struct config *c = tree_cfg();
	char err[256];
	struct policy_routing *pr = policy_routing_new(&c->routing, err, sizeof err);
	ck_assert_ptr_nonnull(pr);
	struct policy_alert a = {.project = "api",
				 .issue = "42",
				 .level = "error",
				 .environment = "production",
				 .teams = T("backend"),
				 .nteams = 1};
	struct policy_route_result r;
	ck_assert_int_eq(policy_route(pr, &a, MON_1200, tz_offset, &r, err, sizeof err), 0);
	ck_assert_uint_eq(r.n, 1);
	const struct config_route *leaf = r.v[0].route;
	/* group_wait from the root, group_interval from the parent, repeat_interval defaulted. */
	ck_assert_int_eq(leaf->group_wait_ms, 10000);
	ck_assert_int_eq(leaf->group_interval_ms, 600000);
	ck_assert_int_eq(leaf->repeat_interval_ms, 4 * 3600000LL);
	ck_assert_uint_eq(leaf->group_by.n, 2);
	ck_assert_str_eq(r.v[0].trail, "routing.route > routing.route.routes[1] {team=backend} > "
				       "routing.route.routes[1].routes[0] {environment=production, level=~\"error|fatal\"}");
	ck_assert_str_eq(r.v[0].group_key, "routing.route.routes[1].routes[0]{project=\"api\",issue=\"42\"}");
	/* The fallback receiver is inherited; mute intervals are not. */
	struct policy_alert f = {.project = "web", .level = "fatal"};
	policy_route_result_clear(&r);
	ck_assert_int_eq(policy_route(pr, &f, MON_1200, tz_offset, &r, err, sizeof err), 0);
	ck_assert_str_eq(r.v[0].route->fallback_receiver, "fallback");
	ck_assert_uint_eq(c->routing.route.routes[1].routes[0].mute_time_intervals.n, 1);
	policy_route_result_clear(&r);
	policy_routing_free(pr);
	config_free(c);
}
END_TEST

START_TEST(test_group_keys)
{
	struct config *c = tree_cfg();
	char err[256];
	struct policy_routing *pr = policy_routing_new(&c->routing, err, sizeof err);
	struct policy_alert a1 = {.project = "misc", .issue = "1", .level = "info"};
	struct policy_alert a2 = {.project = "misc", .issue = "1", .level = "error"};
	struct policy_alert a3 = {.project = "misc", .issue = "2", .level = "info"};
	struct policy_route_result r1, r2, r3;
	ck_assert_int_eq(policy_route(pr, &a1, MON_1200, tz_offset, &r1, err, sizeof err), 0);
	ck_assert_int_eq(policy_route(pr, &a2, MON_1200, tz_offset, &r2, err, sizeof err), 0);
	ck_assert_int_eq(policy_route(pr, &a3, MON_1200, tz_offset, &r3, err, sizeof err), 0);
	/* group_by [project, issue]: the level does not split a group, the issue does. */
	ck_assert_str_eq(r1.v[0].group_key, r2.v[0].group_key);
	ck_assert_str_ne(r1.v[0].group_key, r3.v[0].group_key);
	policy_route_result_clear(&r1);
	policy_route_result_clear(&r2);
	policy_route_result_clear(&r3);
	/* "..." groups by every label, tags included. */
	struct policy_alert t = {.project = "web", .issue = "7", .level = "error", .teams = T("a", "b"), .nteams = 2,
				 .tags = acme, .ntags = 2};
	ck_assert_int_eq(policy_route(pr, &t, MON_1200, tz_offset, &r1, err, sizeof err), 0);
	ck_assert_str_eq(r1.v[0].group_key,
			 "routing.route.routes[3]{project=\"web\",issue=\"7\",team=\"a,b\",level=\"error\","
			 "environment=\"\",alert_rule=\"\",resource=\"\",tag:customer=\"acme\",tag:browser=\"Firefox\"}");
	policy_route_result_clear(&r1);
	/* The audit route groups by alert_rule only: two issues share a message. */
	struct policy_alert u1 = {.project = "x", .issue = "1", .alert_rule = "audit-a"};
	struct policy_alert u2 = {.project = "y", .issue = "2", .alert_rule = "audit-a"};
	ck_assert_int_eq(policy_route(pr, &u1, MON_1200, tz_offset, &r1, err, sizeof err), 0);
	ck_assert_int_eq(policy_route(pr, &u2, MON_1200, tz_offset, &r2, err, sizeof err), 0);
	ck_assert_str_eq(r1.v[0].group_key, "routing.route.routes[0]{alert_rule=\"audit-a\"}");
	ck_assert_str_eq(r1.v[0].group_key, r2.v[0].group_key);
	policy_route_result_clear(&r1);
	policy_route_result_clear(&r2);
	policy_routing_free(pr);
	config_free(c);
}
END_TEST

struct matcher_case {
	const char *matcher;
	struct policy_alert alert;
	int want;
};

static const struct policy_tag tags_ab[] = {{"a", "1"}, {"b", ""}};

static const struct matcher_case matcher_cases[] = {
    {"project=api", {.project = "api"}, 1},
    {"project=api", {.project = "api2"}, 0},
    {"project!=api", {.project = "api2"}, 1},
    {"project!=api", {.project = "api"}, 0},
    {"project=~\"ap.\"", {.project = "api"}, 1},
    {"project=~\"ap\"", {.project = "api"}, 0},         /* anchored */
    {"project=~\"a|b\"", {.project = "a"}, 1},          /* alternation inside the anchors */
    {"project=~\"a|b\"", {.project = "ab"}, 0},
    {"project!~\"web-.*\"", {.project = "web-x"}, 0},
    {"project!~\"web-.*\"", {.project = "api"}, 1},
    {"environment=\"\"", {.project = "x"}, 1},          /* missing label is "" */
    {"environment!=\"\"", {.environment = "prod"}, 1},
    {"level =~ \"error|fatal\"", {.level = "fatal"}, 1}, /* spaces around the operator */
    {"tag:a=1", {.tags = tags_ab, .ntags = 2}, 1},
    {"tag:a!=1", {.tags = tags_ab, .ntags = 2}, 0},
    {"tag:b=\"\"", {.tags = tags_ab, .ntags = 2}, 1},
    {"tag:c=\"\"", {.tags = tags_ab, .ntags = 2}, 1},   /* absent tag */
    {"tag:c=x", {.tags = tags_ab, .ntags = 2}, 0},
    {"team=b", {.teams = T("a", "b"), .nteams = 2}, 1},
    {"team!=b", {.teams = T("a", "b"), .nteams = 2}, 0},
    {"team=~\"c|d\"", {.teams = T("a", "b"), .nteams = 2}, 0},
    {"team!~\"c|d\"", {.teams = T("a", "b"), .nteams = 2}, 1},
    {"team=\"\"", {0}, 1},
    {"alert_rule=\"High \\\"p99\\\"\"", {.alert_rule = "High \"p99\""}, 1},
    {"resource=issue", {.resource = "issue"}, 1},
};

START_TEST(test_matchers)
{
	for (size_t i = 0; i < sizeof matcher_cases / sizeof matcher_cases[0]; i++) {
		const struct matcher_case *tc = &matcher_cases[i];
		char err[256];
		struct policy_matchers *m = policy_matchers_new(&tc->matcher, 1, err, sizeof err);
		ck_assert_msg(m != NULL, "%s: %s", tc->matcher, err);
		ck_assert_msg(policy_matchers_match(m, &tc->alert) == tc->want, "case %zu: %s", i, tc->matcher);
		policy_matchers_free(m);
	}
	char err[256];
	const char *bad[] = {"level=~\"(oops\"", "nolabel=1", "level"};
	for (size_t i = 0; i < 3; i++) {
		ck_assert_ptr_null(policy_matchers_new(&bad[i], 1, err, sizeof err));
		ck_assert_msg(strstr(err, bad[i]) != NULL, "error names the matcher: %s", err);
	}
	/* An empty list matches everything. */
	struct policy_matchers *m = policy_matchers_new(NULL, 0, err, sizeof err);
	struct policy_alert a = {0};
	ck_assert_int_eq(policy_matchers_match(m, &a), 1);
	policy_matchers_free(m);
}
END_TEST

START_TEST(test_silences)
{
	char err[256];
	const char *m1[] = {"project=api", "level=~\"error|fatal\""};
	const char *m2[] = {"tag:customer=acme"};
	struct policy_matchers *a = policy_matchers_new(m1, 2, err, sizeof err);
	struct policy_matchers *b = policy_matchers_new(m2, 1, err, sizeof err);
	struct policy_silence s[] = {
	    {.id = "s1", .matchers = a, .starts_ms = 1000, .ends_ms = 2000},
	    {.id = "s2", .matchers = b, .starts_ms = 0, .ends_ms = INT64_MAX},
	};
	struct policy_alert err_api = {.project = "api", .level = "error"};
	struct policy_alert warn_api = {.project = "api", .level = "warning"};
	struct policy_alert acme_alert = {.project = "web", .tags = acme, .ntags = 2};
	ck_assert_int_eq(policy_silenced(s, 2, &err_api, 999), -1);   /* not started */
	ck_assert_int_eq(policy_silenced(s, 2, &err_api, 1000), 0);   /* start is inclusive */
	ck_assert_int_eq(policy_silenced(s, 2, &err_api, 1999), 0);
	ck_assert_int_eq(policy_silenced(s, 2, &err_api, 2000), -1);  /* end is exclusive: expired */
	ck_assert_int_eq(policy_silenced(s, 2, &warn_api, 1500), -1); /* a matcher fails */
	ck_assert_int_eq(policy_silenced(s, 2, &acme_alert, 5), 1);
	ck_assert_int_eq(policy_silenced(s, 0, &acme_alert, 5), -1);
	policy_matchers_free(a);
	policy_matchers_free(b);
}
END_TEST

struct tz_case {
	const char *zone;
	int64_t t;
	int want;
};

static const struct tz_case tz_cases[] = {
    {"Europe/Madrid", 1774745999, 3600},  /* 2026-03-29 00:59:59 UTC: still CET */
    {"Europe/Madrid", 1774746000, 7200},  /* 01:00 UTC: CEST */
    {"Europe/Madrid", 2531955599, 3600},  /* 2050: beyond the table, from the POSIX footer */
    {"Europe/Madrid", 2531955600, 7200},
    {"Europe/Madrid", 2550704399, 7200},
    {"Europe/Madrid", 2550704400, 3600},
    {"Australia/Sydney", 1775318399, 39600}, /* southern hemisphere: DST over the new year */
    {"Australia/Sydney", 1775318400, 36000},
    {"Australia/Sydney", 1791043199, 36000},
    {"Australia/Sydney", 1791043200, 39600},
    {"America/New_York", 1772953199, -18000},
    {"America/New_York", 1772953200, -14400},
    {"America/New_York", 1793512799, -14400},
    {"America/New_York", 1793512800, -18000},
    {"Asia/Kolkata", 1795435200, 19800},
    {"UTC", 1795435200, 0},
};

START_TEST(test_tz_offsets)
{
	for (size_t i = 0; i < sizeof tz_cases / sizeof tz_cases[0]; i++) {
		int off = 12345;
		ck_assert_msg(tz_offset(tz_cases[i].zone, tz_cases[i].t, &off) == 0, "%s", tz_cases[i].zone);
		ck_assert_msg(off == tz_cases[i].want, "%s at %lld: %d, want %d", tz_cases[i].zone,
			      (long long)tz_cases[i].t, off, tz_cases[i].want);
	}
	int off;
	ck_assert_int_eq(tz_offset("Mars/Base", 0, &off), -1);
	ck_assert_int_eq(tz_offset("../../etc/passwd", 0, &off), -1);
	/* POSIX rules by themselves. */
	ck_assert_int_eq(tz_posix_offset("CET-1CEST,M3.5.0,M10.5.0/3", 1774745999, &off), 0);
	ck_assert_int_eq(off, 3600);
	ck_assert_int_eq(tz_posix_offset("CET-1CEST,M3.5.0,M10.5.0/3", 1774746000, &off), 0);
	ck_assert_int_eq(off, 7200);
	ck_assert_int_eq(tz_posix_offset("AEST-10AEDT,M10.1.0,M4.1.0/3", 1775318400, &off), 0);
	ck_assert_int_eq(off, 36000);
	ck_assert_int_eq(tz_posix_offset("<+0530>-5:30", 0, &off), 0);
	ck_assert_int_eq(off, 19800);
	ck_assert_int_eq(tz_posix_offset("EST5EDT,M3.2.0,M11.1.0", 1772953200, &off), 0);
	ck_assert_int_eq(off, -14400);
	ck_assert_int_eq(tz_posix_offset("bogus", 0, &off), -1);
	ck_assert_int_eq(tz_posix_offset("CET-1CEST,M13.5.0,M10.5.0", 0, &off), -1);
}
END_TEST

/* Office hours 09:00-18:00 Monday to Friday in Madrid, across both
 * daylight-saving changes of 2026. */
START_TEST(test_interval_dst)
{
	struct config *c = tree_cfg();
	const struct config_time_interval *office = &c->routing.time_intervals[0];
	ck_assert_str_eq(office->name, "office");
	struct {
		int64_t t;
		int want;
	} cases[] = {
	    {1774600200000LL, 1}, /* Fri 27 Mar 08:30 UTC = 09:30 CET */
	    {1774596600000LL, 0}, /* Fri 27 Mar 07:30 UTC = 08:30 CET */
	    {1774855800000LL, 1}, /* Mon 30 Mar 07:30 UTC = 09:30 CEST (after the change) */
	    {1792999800000LL, 0}, /* Mon 26 Oct 07:30 UTC = 08:30 CET (after the change back) */
	    {1793003400000LL, 1}, /* Mon 26 Oct 08:30 UTC = 09:30 CET */
	    {1792913400000LL, 0}, /* Sun 25 Oct: a weekend */
	    {MON_1200, 1},
	    {SAT_1200, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(policy_interval_contains(office, cases[i].t, tz_offset) == cases[i].want, "case %zu", i);
	config_free(c);
}
END_TEST

START_TEST(test_format_duration)
{
	char out[24];
	policy_format_duration(30000, out, sizeof out);
	ck_assert_str_eq(out, "30s");
	policy_format_duration(5400000, out, sizeof out);
	ck_assert_str_eq(out, "1h30m");
	policy_format_duration(0, out, sizeof out);
	ck_assert_str_eq(out, "0s");
	policy_format_duration(2500, out, sizeof out);
	ck_assert_str_eq(out, "2s500ms");
	policy_format_duration(86400000LL * 30, out, sizeof out);
	ck_assert_str_eq(out, "30d");
}
END_TEST

START_TEST(test_routing_off)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	ck_assert_int_eq(config_from_string("listen: \"127.0.0.1:0\"\n", "off.yaml", &c, &e), 0);
	char err[64] = "x";
	ck_assert_ptr_null(policy_routing_new(&c->routing, err, sizeof err));
	ck_assert_str_eq(err, "");
	config_errors_free(&e);
	config_free(c);
}
END_TEST

Suite *routing_suite(void)
{
	Suite *s = suite_create("routing");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, test_route_table);
	tcase_add_test(tc, test_route_inheritance_and_trail);
	tcase_add_test(tc, test_group_keys);
	tcase_add_test(tc, test_matchers);
	tcase_add_test(tc, test_silences);
	tcase_add_test(tc, test_tz_offsets);
	tcase_add_test(tc, test_interval_dst);
	tcase_add_test(tc, test_format_duration);
	tcase_add_test(tc, test_routing_off);
	suite_add_tcase(s, tc);
	return s;
}
