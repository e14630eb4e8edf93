/*
 * check_triage.c: the triage policy (policies/policy_triage.c: what a click
 * asks of Sentry, double clicks) and the head message's triage rendering
 * (integrations/slack/slack_blocks.c: status lines, buttons adjusted).
 */
#include "integrations/slack/slack_blocks.h"
#include "policies/policy_triage.h"
#include "suites.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_triage_parse)
{
	struct triage_req r;
	ck_assert_int_eq(policy_triage_parse("resolve", NULL, &r), 0);
	ck_assert_int_eq(r.verb, TRIAGE_RESOLVE);
	ck_assert_str_eq(r.status, "resolved");
	ck_assert_ptr_null(r.substatus);
	ck_assert_str_eq(r.action, "issue.resolve");

	ck_assert_int_eq(policy_triage_parse("archive", "until_escalating", &r), 0);
	ck_assert_str_eq(r.status, "ignored");
	ck_assert_str_eq(r.substatus, "archived_until_escalating");
	ck_assert_int_eq(r.minutes, 0);
	ck_assert_str_eq(r.detail, "until escalating");
	/* the old Archive button had no menu: until escalating */
	ck_assert_int_eq(policy_triage_parse("archive", NULL, &r), 0);
	ck_assert_str_eq(r.substatus, "archived_until_escalating");

	static const struct {
		const char *v;
		long long min;
		const char *detail;
	} d[] = {{"60", 60, "for 1 hour"}, {"1440", 1440, "for 1 day"}, {"10080", 10080, "for 1 week"}};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		ck_assert_int_eq(policy_triage_parse("archive", d[i].v, &r), 0);
		ck_assert_str_eq(r.substatus, "archived_until_condition_met");
		ck_assert_int_eq(r.minutes, d[i].min);
		ck_assert_str_eq(r.detail, d[i].detail);
	}
	ck_assert_int_eq(policy_triage_parse("assign", NULL, &r), 0);
	ck_assert_int_eq(r.verb, TRIAGE_ASSIGN);
	ck_assert_ptr_null(r.status);

	ck_assert_int_eq(policy_triage_parse("archive", "61", &r), -1);
	ck_assert_int_eq(policy_triage_parse("archive", "forever", &r), -1);
	ck_assert_int_eq(policy_triage_parse("delete", NULL, &r), -1);
	ck_assert_int_eq(policy_triage_parse(NULL, NULL, &r), -1);
	/* every option the menu offers parses */
	for (size_t i = 0; policy_triage_archive_options[i].value; i++)
		ck_assert_int_eq(policy_triage_parse("archive", policy_triage_archive_options[i].value, &r), 0);
}
END_TEST

START_TEST(test_triage_noop)
{
	struct triage_req res, esc, hour, day, asg;
	policy_triage_parse("resolve", NULL, &res);
	policy_triage_parse("archive", "until_escalating", &esc);
	policy_triage_parse("archive", "60", &hour);
	policy_triage_parse("archive", "1440", &day);
	policy_triage_parse("assign", NULL, &asg);
	struct triage_state none = {.status_age_ms = -1};
	ck_assert(!policy_triage_noop(&none, &res, "a@x"));
	ck_assert(!policy_triage_noop(NULL, &res, "a@x"));
	ck_assert(!policy_triage_noop(&none, &asg, "a@x"));

	struct triage_state resolved = {.status = "resolved", .status_age_ms = 5};
	ck_assert(policy_triage_noop(&resolved, &res, "a@x"));
	ck_assert(!policy_triage_noop(&resolved, &esc, "a@x"));

	struct triage_state archived = {.status = "ignored", .status_detail = "until escalating", .status_age_ms = 999999};
	ck_assert(policy_triage_noop(&archived, &esc, "a@x"));
	ck_assert(!policy_triage_noop(&archived, &hour, "a@x"));
	ck_assert(!policy_triage_noop(&archived, &res, "a@x"));

	/* the same duration twice: a double click; later it restarts the clock */
	struct triage_state hour_now = {.status = "ignored", .status_detail = "for 1 hour", .status_age_ms = 800};
	ck_assert(policy_triage_noop(&hour_now, &hour, "a@x"));
	ck_assert(!policy_triage_noop(&hour_now, &day, "a@x"));
	hour_now.status_age_ms = TRIAGE_DOUBLE_CLICK_MS + 1;
	ck_assert(!policy_triage_noop(&hour_now, &hour, "a@x"));
	hour_now.status_age_ms = -1;
	ck_assert(!policy_triage_noop(&hour_now, &hour, "a@x"));

	struct triage_state assigned = {.assignee_email = "Ada@Acme.example", .status_age_ms = -1};
	ck_assert(policy_triage_noop(&assigned, &asg, "ada@acme.example"));
	ck_assert(!policy_triage_noop(&assigned, &asg, "bob@acme.example"));
	ck_assert(!policy_triage_noop(&assigned, &asg, NULL));
	ck_assert(!policy_triage_noop(&assigned, &res, "ada@acme.example"));
}
END_TEST

START_TEST(test_triage_ids)
{
	ck_assert(policy_triage_issue_ok("1001"));
	ck_assert(policy_triage_issue_ok("12345678901234567890"));
	ck_assert(!policy_triage_issue_ok("123456789012345678901"));
	ck_assert(!policy_triage_issue_ok(""));
	ck_assert(!policy_triage_issue_ok(NULL));
	ck_assert(!policy_triage_issue_ok("10/../1"));
	ck_assert(!policy_triage_issue_ok("-1"));
	ck_assert(policy_triage_slack_id_ok("U0ADA"));
	ck_assert(!policy_triage_slack_id_ok("u0ada"));
	ck_assert(!policy_triage_slack_id_ok("U0>!here"));
	ck_assert(!policy_triage_slack_id_ok(""));
	ck_assert(!policy_triage_slack_id_ok(NULL));
}
END_TEST

/* The head of an issue alert rendered with opts; the blocks as one string. */
static char *render(const struct slack_head_opts *o, char **text)
{
	json_t *alert = json_pack("{s:s,s:s,s:s,s:s,s:s}", "title", "KeyError: x", "project", "api", "level", "error",
				  "issue", "1001", "resource", "event_alert");
	json_t *b = slack_blocks_head(alert, o, text);
	ck_assert_ptr_nonnull(b);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_decref(alert);
	return s;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_head_triage_lines)
{
	char *text, *s;
	struct slack_head_opts o = {.count = 1, .action_prefix = "sb_"};
	s = render(&o, &text);
	ck_assert_int_eq(count(s, "\"action_id\":\"sb_resolve\""), 1);
	ck_assert_int_eq(count(s, "\"action_id\":\"sb_archive\",\"placeholder\""), 1); /* a menu */
	ck_assert_int_eq(count(s, "\"value\":\"until_escalating\""), 1);
	ck_assert_int_eq(count(s, "\"value\":\"10080\""), 1);
	ck_assert_int_eq(count(s, "via the bridge"), 0);
	ck_assert_str_eq(text, "[api] KeyError: x");
	free(s);
	free(text);

	o.archived = "until escalating";
	o.archived_by = "U0ADA";
	o.assignee = "U0BOB";
	s = render(&o, &text);
	ck_assert_int_eq(count(s, ":zzz: Archived until escalating by <@U0ADA> via the bridge"), 1);
	ck_assert_int_eq(count(s, ":bust_in_silhouette: Assigned to <@U0BOB> via the bridge"), 1);
	ck_assert_int_eq(count(s, "sb_archive"), 0);
	ck_assert_int_eq(count(s, "sb_resolve"), 1);
	ck_assert_int_eq(count(s, "sb_assign"), 1);
	ck_assert_str_eq(text, "Archived: [api] KeyError: x");
	free(s);
	free(text);

	struct slack_head_opts r = {.count = 3, .action_prefix = "sb_", .resolved_by_user = "U0ADA", .resolved_by = NULL};
	s = render(&r, &text);
	ck_assert_int_eq(count(s, "Resolved by <@U0ADA> via the bridge"), 1);
	ck_assert_int_eq(count(s, "\"type\":\"actions\""), 0);
	ck_assert_int_eq(count(s, "Resolved: KeyError: x"), 1);
	free(s);
	free(text);

	/* done in Sentry's UI: names, escaped, "in Sentry" */
	struct slack_head_opts sa = {.count = 2, .action_prefix = "sb_", .archived = "for 1 hour",
				     .archived_by_name = "Ada <Lovelace>", .assignee_name = "Team & Co"};
	s = render(&sa, &text);
	ck_assert_int_eq(count(s, ":zzz: Archived for 1 hour by Ada &lt;Lovelace&gt; in Sentry"), 1);
	ck_assert_int_eq(count(s, ":bust_in_silhouette: Assigned to Team &amp; Co in Sentry"), 1);
	ck_assert_int_eq(count(s, "sb_archive"), 0);
	ck_assert_int_eq(count(s, "sb_resolve"), 1);
	free(s);
	free(text);
	struct slack_head_opts sr = {.count = 2, .action_prefix = "sb_", .resolved_by_name = "Ada"};
	s = render(&sr, &text);
	ck_assert_int_eq(count(s, "Resolved by Ada in Sentry"), 1);
	ck_assert_int_eq(count(s, "\"type\":\"actions\""), 0);
	free(s);
	free(text);

	/* an id that is not a Slack user id is written as escaped text, never a mention */
	struct slack_head_opts bad = {.count = 1, .action_prefix = "sb_", .assignee = "<!channel>"};
	s = render(&bad, &text);
	ck_assert_int_eq(count(s, "<!channel>"), 0);
	ck_assert_int_eq(count(s, "&lt;!channel&gt;"), 1);
	free(s);
	free(text);
}
END_TEST

START_TEST(test_triage_from_sentry)
{
	struct triage_from_sentry t;
	ck_assert_int_eq(policy_triage_from_sentry("resolved", "application", NULL, 0, &t), 0); /* the bridge, auto */
	ck_assert_int_eq(policy_triage_from_sentry("created", "user", NULL, 0, &t), 0);
	ck_assert_int_eq(policy_triage_from_sentry("unresolved", "user", NULL, 0, &t), 0);
	ck_assert_int_eq(policy_triage_from_sentry(NULL, "user", NULL, 0, &t), 0);
	ck_assert_int_eq(policy_triage_from_sentry("resolved", "user", NULL, 0, &t), 1);
	ck_assert_str_eq(t.status, "resolved");
	ck_assert(!t.assign);
	ck_assert_int_eq(policy_triage_from_sentry("assigned", "user", NULL, 0, &t), 1);
	ck_assert(t.assign && !t.status);
	const struct {
		const char *action, *substatus;
		int64_t minutes;
		const char *detail;
	} cases[] = {
	    {"ignored", "archived_until_escalating", 0, "until escalating"},
	    {"archived", "archived_until_escalating", 0, "until escalating"},
	    {"ignored", "archived_until_condition_met", 60, "for 1 hour"},
	    {"ignored", "archived_until_condition_met", 10080, "for 1 week"},
	    {"ignored", "archived_until_condition_met", 90, "for 90 minutes"},
	    {"ignored", "archived_until_condition_met", 0, "until a condition is met"},
	    {"ignored", "archived_forever", 0, "forever"},
	    {"ignored", NULL, 0, "forever"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(policy_triage_from_sentry(cases[i].action, "user", cases[i].substatus, cases[i].minutes, &t),
				 1);
		ck_assert_str_eq(t.status, "ignored");
		ck_assert_str_eq(t.detail, cases[i].detail);
	}
}
END_TEST

Suite *triage_suite(void)
{
	Suite *s = suite_create("triage");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, test_triage_parse);
	tcase_add_test(tc, test_triage_noop);
	tcase_add_test(tc, test_triage_ids);
	tcase_add_test(tc, test_head_triage_lines);
	tcase_add_test(tc, test_triage_from_sentry);
	suite_add_tcase(s, tc);
	return s;
}
