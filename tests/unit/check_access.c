/*
 * check_access.c: the rules of access requests (policies/policy_access.c),
 * table-driven: one config, many requests and approvals.
 */
#include "config.h"
#include "policies/policy_access.h"
#include "bridge/slack_access_cmd.h"
#include "suites.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char YAML[] =
    "sentry: { base_url: \"https://sentry.example\", organization: acme, token_env: SB_TEST_ACCESS_TOKEN }\n"
    "roles:\n"
    "  access_groups: [sentry-users]\n"
    "access_requests:\n"
    "  enabled: true\n"
    "  max_role: manager\n"
    "  requestable_teams: [observability, payments]\n"
    "  default_duration: 8h\n"
    "  max_duration: 7d\n"
    "  require_reason: true\n"
    "  approvers:\n"
    "    - { kind: role, groups: [sentry-approvers], approvals: 2 }\n"
    "    - { kind: team, teams: [payments], groups: [payments-leads] }\n"
    "    - { kind: team, groups: [sentry-approvers] }\n"
    "  auto_approve:\n"
    "    - { kind: team, groups: [oncall], teams: [observability], max_duration: 1d }\n";

static struct config *load(void)
{
	setenv("SB_TEST_ACCESS_TOKEN", "t0k3n", 1);
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_from_string(YAML, "access.yaml", &c, &e);
	ck_assert_msg(rc == 0, "config: %s", e.n ? e.msgs[0] : "?");
	config_errors_free(&e);
	return c;
}

#define P(email_, ...) \
	{.email = email_, .groups = (const char *const[]){__VA_ARGS__}, \
	 .ngroups = sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)}
#define H (3600LL * 1000)

START_TEST(request_rules_table)
{
	struct config *c = load();
	struct access_person user = P("u@acme.example", "sentry-users");
	struct access_person oncall = P("o@acme.example", "sentry-users", "oncall");
	struct access_person outsider = P("x@acme.example", "contractors");
	static const struct {
		const char *name;
		int who; /* 0 user, 1 oncall, 2 outsider */
		struct access_ask ask;
		const char *field; /* NULL: accepted */
		int auto_ok, rule, approvals;
		long long duration;
	} t[] = {
	    {"manager for 8h", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .duration_ms = 8 * H, .reason = "INC-1"}, NULL, 0, 0, 2, 8 * H},
	    {"default duration", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .reason = "x"}, NULL, 0, 0, 2, 8 * H},
	    {"owner refused", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_OWNER, .reason = "x"}, "role", 0, -1, 0, 0},
	    {"retired admin refused", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_ADMIN, .reason = "x"}, "role", 0, -1, 0, 0},
	    {"zero duration is default", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MEMBER, .duration_ms = 0, .reason = "x"}, NULL, 0, 0, 2, 8 * H},
	    {"negative duration", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .duration_ms = -5, .reason = "x"}, "duration", 0, -1, 0, 0},
	    {"over max duration", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .duration_ms = 8 * 24 * H, .reason = "x"}, "duration", 0, -1, 0, 0},
	    {"reason required", 0, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .reason = "  "}, "reason", 0, -1, 0, 0},
	    {"outsider refused", 2, {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .reason = "x"}, "requester", 0, -1, 0, 0},
	    {"team not requestable", 0, {.kind = CONFIG_REQUEST_TEAM, .team = "secret", .team_exists = true, .reason = "x"}, "team", 0, -1, 0, 0},
	    {"team missing in Sentry", 0, {.kind = CONFIG_REQUEST_TEAM, .team = "payments", .team_exists = false, .reason = "x"}, "team", 0, -1, 0, 0},
	    {"payments: its own approvers", 0, {.kind = CONFIG_REQUEST_TEAM, .team = "payments", .team_exists = true, .reason = "x"}, NULL, 0, 1, 1, 8 * H},
	    {"observability: generic approvers", 0, {.kind = CONFIG_REQUEST_TEAM, .team = "observability", .team_exists = true, .reason = "x"}, NULL, 0, 2, 1, 8 * H},
	    {"oncall auto-approved", 1, {.kind = CONFIG_REQUEST_TEAM, .team = "observability", .team_exists = true, .duration_ms = 12 * H, .reason = "x"}, NULL, 1, -1, 0, 12 * H},
	    {"oncall beyond auto max", 1, {.kind = CONFIG_REQUEST_TEAM, .team = "observability", .team_exists = true, .duration_ms = 2 * 24 * H, .reason = "x"}, NULL, 0, 2, 1, 2 * 24 * H},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const struct access_person *who = t[i].who == 0 ? &user : t[i].who == 1 ? &oncall : &outsider;
		struct access_verdict v;
		policy_access_check(c, who, &t[i].ask, &v);
		if (t[i].field) {
			ck_assert_msg(!v.ok, "%s: accepted", t[i].name);
			ck_assert_msg(v.field && !strcmp(v.field, t[i].field), "%s: field %s (%s)", t[i].name,
				      v.field ? v.field : "-", v.problem);
			ck_assert_msg(v.problem[0], "%s: no problem text", t[i].name);
		} else {
			ck_assert_msg(v.ok, "%s: refused: %s", t[i].name, v.problem);
			ck_assert_msg(v.auto_approved == (bool)t[i].auto_ok, "%s: auto", t[i].name);
			ck_assert_msg(v.approver_rule == t[i].rule, "%s: rule %d", t[i].name, v.approver_rule);
			ck_assert_msg(v.approvals_needed == t[i].approvals, "%s: approvals %d", t[i].name, v.approvals_needed);
			ck_assert_msg(v.duration_ms == t[i].duration, "%s: duration %lld", t[i].name, (long long)v.duration_ms);
		}
	}
	config_free(c);
}
END_TEST

START_TEST(approval_rules)
{
	struct config *c = load();
	struct access_ask ask = {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MANAGER, .reason = "x"};
	struct access_person a1 = P("a1@acme.example", "sentry-approvers");
	struct access_person a2 = P("A2@acme.example", "sentry-approvers", "sentry-users");
	struct access_person self = P("u@acme.example", "sentry-approvers");
	struct access_person lead = P("lead@acme.example", "payments-leads");
	struct access_approval_verdict v;
	/* self-approval */
	policy_access_can_approve(c, &ask, "U@acme.example", 0, 2, NULL, 0, &self, &v);
	ck_assert(!v.ok);
	ck_assert_ptr_nonnull(strstr(v.problem, "own request"));
	/* outside the approver group */
	policy_access_can_approve(c, &ask, "u@acme.example", 0, 2, NULL, 0, &lead, &v);
	ck_assert(!v.ok);
	ck_assert_ptr_nonnull(strstr(v.problem, "not an approver"));
	/* first of two approvals */
	policy_access_can_approve(c, &ask, "u@acme.example", 0, 2, NULL, 0, &a1, &v);
	ck_assert(v.ok && !v.complete);
	/* the same person again */
	const char *by[] = {"a1@acme.example"};
	policy_access_can_approve(c, &ask, "u@acme.example", 0, 2, by, 1, &a1, &v);
	ck_assert(!v.ok);
	ck_assert_ptr_nonnull(strstr(v.problem, "already approved"));
	/* a second, distinct approver completes it */
	policy_access_can_approve(c, &ask, "u@acme.example", 0, 2, by, 1, &a2, &v);
	ck_assert(v.ok && v.complete);
	/* a team lead approves the payments rule, not the role rule */
	ck_assert(policy_access_is_approver(c, 1, &lead));
	ck_assert(!policy_access_is_approver(c, 0, &lead));
	ck_assert(!policy_access_is_approver(c, 7, &a1));
	config_free(c);
}
END_TEST

START_TEST(disabled_refuses)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	ck_assert_int_eq(config_from_string("roles: { access_groups: [g] }\n", "x.yaml", &c, &e), 0);
	config_errors_free(&e);
	struct access_person p = P("u@acme.example", "g");
	struct access_ask ask = {.kind = CONFIG_REQUEST_ROLE, .role = CONFIG_ROLE_MEMBER, .reason = "x"};
	struct access_verdict v;
	policy_access_check(c, &p, &ask, &v);
	ck_assert(!v.ok);
	ck_assert_ptr_nonnull(strstr(v.problem, "not enabled"));
	config_free(c);
}
END_TEST

/* team_admins: the admins of the requested Sentry team approve team requests
 * of that team (besides the rule's groups), never their own, never a role. */
static const char YAML_TA[] =
    "sentry: { base_url: \"https://sentry.example\", organization: acme, token_env: SB_TEST_ACCESS_TOKEN }\n"
    "roles:\n"
    "  access_groups: [sentry-users]\n"
    "access_requests:\n"
    "  enabled: true\n"
    "  any_team: true\n"
    "  approvers:\n"
    "    - { kind: role, groups: [sentry-approvers] }\n"
    "    - { kind: team, teams: [payments], team_admins: true }\n"
    "    - { kind: team, groups: [sentry-approvers], team_admins: true, approvals: 2 }\n";

START_TEST(team_admins_table)
{
	setenv("SB_TEST_ACCESS_TOKEN", "t0k3n", 1);
	struct config *c = NULL;
	struct config_errors ce = {0};
	ck_assert_msg(config_from_string(YAML_TA, "ta.yaml", &c, &ce) == 0, "config: %s", ce.n ? ce.msgs[0] : "?");
	config_errors_free(&ce);
	static const char *const pay[] = {"payments"}, *const obs[] = {"observability"}, *const both[] = {"observability",
													     "payments"};
	static const struct {
		const char *name;
		const char *approver;
		const char *const *admin_of;
		size_t nadmin;
		const char *group;   /* the approver's one Okta group */
		int kind;            /* 0 role, 1 team */
		const char *team;
		const char *already; /* an earlier approver, or NULL */
		int ok, complete;
		const char *problem;
	} t[] = {
	    {"payments admin approves payments", "pa@acme.example", pay, 1, "sentry-users", 1, "payments", NULL, 1, 1, NULL},
	    {"observability admin does not approve payments", "oa@acme.example", obs, 1, "sentry-users", 1, "payments", NULL, 0, 0, "not an approver"},
	    {"admin of both approves payments", "ba@acme.example", both, 2, "sentry-users", 1, "payments", NULL, 1, 1, NULL},
	    {"no admin rights, no group", "u2@acme.example", NULL, 0, "sentry-users", 1, "payments", NULL, 0, 0, "not an approver"},
	    {"rule without groups: approvers group does not count", "ap@acme.example", NULL, 0, "sentry-approvers", 1, "payments", NULL, 0, 0, "not an approver"},
	    {"team admin never approves own request", "u@acme.example", pay, 1, "sentry-users", 1, "payments", NULL, 0, 0, "own request"},
	    {"team admin of a role request: no", "pa@acme.example", pay, 1, "sentry-users", 0, NULL, NULL, 0, 0, "not an approver"},
	    {"observability admin: first of two", "oa@acme.example", obs, 1, "sentry-users", 1, "observability", NULL, 1, 0, NULL},
	    {"group member completes after an admin", "ap@acme.example", NULL, 0, "sentry-approvers", 1, "observability", "oa@acme.example", 1, 1, NULL},
	    {"the same admin twice", "oa@acme.example", obs, 1, "sentry-users", 1, "observability", "oa@acme.example", 0, 0, "already approved"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct access_person requester = P("u@acme.example", "sentry-users");
		struct access_ask ask = {.kind = t[i].kind ? CONFIG_REQUEST_TEAM : CONFIG_REQUEST_ROLE,
					 .role = CONFIG_ROLE_MANAGER,
					 .team = t[i].team,
					 .team_exists = true,
					 .reason = "x"};
		struct access_verdict fv;
		policy_access_check(c, &requester, &ask, &fv);
		ck_assert_msg(fv.ok, "%s: filing refused: %s", t[i].name, fv.problem);
		const char *g[] = {t[i].group};
		struct access_person ap = {.email = t[i].approver, .groups = g, .ngroups = 1, .admin_of = t[i].admin_of,
					   .nadmin_of = t[i].nadmin};
		const char *by[] = {t[i].already};
		struct access_approval_verdict v;
		policy_access_can_approve(c, &ask, "u@acme.example", fv.approver_rule, fv.approvals_needed,
					  t[i].already ? by : NULL, t[i].already ? 1 : 0, &ap, &v);
		ck_assert_msg(v.ok == (t[i].ok != 0), "%s: ok %d (%s)", t[i].name, v.ok, v.problem);
		ck_assert_msg(v.complete == (t[i].complete != 0), "%s: complete %d", t[i].name, v.complete);
		if (t[i].problem)
			ck_assert_msg(strstr(v.problem, t[i].problem), "%s: problem \"%s\"", t[i].name, v.problem);
	}
	ck_assert(policy_access_rule_team_admins(c, 1, "payments"));
	ck_assert(!policy_access_rule_team_admins(c, 0, "payments"));
	ck_assert(!policy_access_rule_team_admins(c, 1, NULL));
	ck_assert(!policy_access_rule_team_admins(c, 9, "payments"));
	config_free(c);
}
END_TEST

/* The /sentry-access grammar (bridge/slack_access_cmd.c). */
START_TEST(slack_command_table)
{
	static const struct {
		const char *text;
		enum slack_access_cmd_kind kind;
		const char *role, *team, *duration, *reason;
		long long id;
		const char *error; /* a substring of the message */
	} t[] = {
	    {NULL, SA_CMD_HELP, NULL, NULL, NULL, NULL, 0, NULL},
	    {"", SA_CMD_HELP, NULL, NULL, NULL, NULL, 0, NULL},
	    {"   \t ", SA_CMD_HELP, NULL, NULL, NULL, NULL, 0, NULL},
	    {"help", SA_CMD_HELP, NULL, NULL, NULL, NULL, 0, NULL},
	    {"HELP me", SA_CMD_HELP, NULL, NULL, NULL, NULL, 0, NULL},
	    {"list", SA_CMD_LIST, NULL, NULL, NULL, NULL, 0, NULL},
	    {" List ", SA_CMD_LIST, NULL, NULL, NULL, NULL, 0, NULL},
	    {"list all", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "takes nothing"},
	    {"cancel 42", SA_CMD_CANCEL, NULL, NULL, NULL, NULL, 42, NULL},
	    {"cancel #7", SA_CMD_CANCEL, NULL, NULL, NULL, NULL, 7, NULL},
	    {"cancel", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "which request"},
	    {"cancel x", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "one request number"},
	    {"cancel 0", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "one request number"},
	    {"cancel -3", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "one request number"},
	    {"cancel 4 5", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "one request number"},
	    {"cancel 12345678901234567890", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "one request number"},
	    {"manager 8h investigating INC-123", SA_CMD_ROLE, "manager", NULL, "8h", "investigating INC-123", 0, NULL},
	    {"Manager   8h   investigating  INC-123  ", SA_CMD_ROLE, "manager", NULL, "8h", "investigating  INC-123", 0, NULL},
	    {"role manager 30m why not", SA_CMD_ROLE, "manager", NULL, "30m", "why not", 0, NULL},
	    {"manager", SA_CMD_ROLE, "manager", NULL, NULL, NULL, 0, NULL},
	    {"manager because of an incident", SA_CMD_ROLE, "manager", NULL, NULL, "because of an incident", 0, NULL},
	    {"member 2d", SA_CMD_ROLE, "member", NULL, "2d", NULL, 0, NULL},
	    {"owner 1h x", SA_CMD_ROLE, "owner", NULL, "1h", "x", 0, NULL}, /* the rules refuse it, with their words */
	    {"manager -1h oops", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "must be positive"},
	    {"manager 0h zero", SA_CMD_ROLE, "manager", NULL, "0h", "zero", 0, NULL},
	    {"manager 8 hours", SA_CMD_ROLE, "manager", NULL, NULL, "8 hours", 0, NULL},
	    {"role", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "which role"},
	    {"role wizard", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "not a Sentry role"},
	    {"team observability 7d on call this week", SA_CMD_TEAM, NULL, "observability", "7d", "on call this week", 0, NULL},
	    {"team Payments", SA_CMD_TEAM, NULL, "payments", NULL, NULL, 0, NULL},
	    {"team", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "which team"},
	    {"team ../etc 1h", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "not a team slug"},
	    {"team a_b-c9 1h x", SA_CMD_TEAM, NULL, "a_b-c9", "1h", "x", 0, NULL},
	    {"frobnicate", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "I do not know"},
	    {"\xc3\xa9t\xc3\xa9", SA_CMD_ERROR, NULL, NULL, NULL, NULL, 0, "I do not know"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct slack_access_cmd c;
		ck_assert_int_eq(slack_access_cmd_parse(t[i].text, &c), 0);
		const char *n = t[i].text ? t[i].text : "(null)";
		ck_assert_msg(c.kind == t[i].kind, "\"%s\": kind %d, want %d (%s)", n, c.kind, t[i].kind,
			      c.error ? c.error : "");
#define SAME(f)                                                                                               \
	ck_assert_msg((!t[i].f && !c.f) || (t[i].f && c.f && !strcmp(t[i].f, c.f)), "\"%s\": " #f " \"%s\"", n, \
		      c.f ? c.f : "(null)")
		SAME(role);
		SAME(team);
		SAME(duration);
		SAME(reason);
#undef SAME
		ck_assert_msg(c.id == t[i].id, "\"%s\": id %lld", n, c.id);
		if (t[i].error)
			ck_assert_msg(c.error && strstr(c.error, t[i].error), "\"%s\": error \"%s\"", n,
				      c.error ? c.error : "(null)");
		else
			ck_assert_ptr_null(c.error);
		slack_access_cmd_free(&c);
	}
	/* Oversized text is refused, not read. */
	char *big = malloc(SLACK_ACCESS_CMD_MAX + 10);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', SLACK_ACCESS_CMD_MAX + 9);
	big[SLACK_ACCESS_CMD_MAX + 9] = 0;
	struct slack_access_cmd c;
	ck_assert_int_eq(slack_access_cmd_parse(big, &c), 0);
	ck_assert_int_eq(c.kind, SA_CMD_ERROR);
	ck_assert_ptr_nonnull(strstr(c.error, "too long"));
	slack_access_cmd_free(&c);
	free(big);
	char *h = slack_access_cmd_help("/grant-me");
	ck_assert_ptr_nonnull(strstr(h, "`/grant-me manager 8h investigating INC-123`"));
	free(h);
}
END_TEST

Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, request_rules_table);
	tcase_add_test(tc, approval_rules);
	tcase_add_test(tc, disabled_refuses);
	tcase_add_test(tc, team_admins_table);
	suite_add_tcase(s, tc);
	TCase *sc = tcase_create("slack_command");
	tcase_add_test(sc, slack_command_table);
	suite_add_tcase(s, sc);
	return s;
}
