/*
 * check_policy.c: the role/team policy and its guards (policies/policy_roles.c),
 * table-style: a config, Okta users, Sentry members in; the plan out.
 */
#include "config.h"
#include "policies/policy_roles.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_YAML \
	"sync:\n" \
	"  unmanaged_members: %s\n" \
	"  invite_missing: true\n" \
	"  guards: { max_removals: \"%s\", max_demotions: \"%s\" }\n" \
	"roles:\n" \
	"  access_groups: [\"sentry-users\"]\n" \
	"  default_role: member\n" \
	"  mappings:\n" \
	"    - { group: \"sentry-admins\", role: manager }\n" \
	"    - { group: \"sentry-plain\", role: member }\n" \
	"  owners: [\"Owner@Acme.example\"]\n" \
	"  protected: [\"bot@acme.example\"]\n" \
	"teams:\n" \
	"  - { group: \"team-obs\", team: \"observability\", role: contributor }\n" \
	"  - { group: \"team-pay\", team: \"payments\", role: contributor }\n"

static struct config *cfg_with(const char *unmanaged, const char *maxrem, const char *maxdem)
{
	char yaml[2048];
	snprintf(yaml, sizeof yaml, BASE_YAML, unmanaged, maxrem, maxdem);
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_from_string(yaml, "policy.yaml", &c, &e);
	ck_assert_msg(rc == 0, "config: %s", e.n ? e.msgs[0] : "?");
	config_errors_free(&e);
	return c;
}

#define G(...) ((const char *const[]){__VA_ARGS__})
#define U(id_, email_, active_, ...)                                                                              \
	{                                                                                                        \
		.id = id_, .email = email_, .active = active_, .groups = G(__VA_ARGS__),                         \
		.ngroups = sizeof(G(__VA_ARGS__)) / sizeof(char *)                                               \
	}
#define M(id_, email_, role_, ...)                                                                                \
	{                                                                                                        \
		.id = id_, .email = email_, .role = role_, .role_known = true, .teams = G(__VA_ARGS__),          \
		.nteams = sizeof(G(__VA_ARGS__)) / sizeof(char *)                                                \
	}

/* Render a plan compactly: "kind email [team|before->after];..." */
static char *render(const struct policy_plan *p)
{
	size_t cap = 4096, len = 0;
	char *s = calloc(1, cap);
	for (size_t i = 0; i < p->n; i++) {
		const struct policy_change *c = &p->changes[i];
		char item[512];
		switch (c->kind) {
		case PC_SET_ROLE:
			snprintf(item, sizeof item, "%s %s %s->%s;", policy_change_kind_name(c->kind), c->email,
				 config_role_name(c->role_before), config_role_name(c->role_after));
			break;
		case PC_INVITE: {
			char teams[256] = "";
			for (size_t t = 0; t < c->nteams; t++) {
				strcat(teams, t ? "," : "");
				strcat(teams, c->teams[t]);
			}
			snprintf(item, sizeof item, "invite %s %s [%s];", c->email, config_role_name(c->role_after),
				 teams);
			break;
		}
		case PC_ADD_TEAM:
		case PC_REMOVE_TEAM:
			snprintf(item, sizeof item, "%s %s %s;", policy_change_kind_name(c->kind), c->email, c->team);
			break;
		default:
			snprintf(item, sizeof item, "%s %s;", policy_change_kind_name(c->kind), c->email);
		}
		size_t n = strlen(item);
		if (len + n + 1 > cap) {
			cap *= 2;
			s = realloc(s, cap);
		}
		memcpy(s + len, item, n + 1);
		len += n;
	}
	return s;
}

static char *plan_for(struct config *c, const struct policy_user *u, size_t nu, const struct policy_member *m,
		      size_t nm, struct policy_plan *p)
{
	struct policy_input in = {.users = u, .nusers = nu, .members = m, .nmembers = nm, .cfg = c};
	ck_assert_int_eq(policy_plan_compute(&in, p), 0);
	return render(p);
}

START_TEST(role_precedence_and_invites)
{
	struct config *c = cfg_with("keep", "50%", "50%");
	struct policy_user u[] = {
		U("00u1", "Alice@Acme.example", true, "sentry-users"),
		U("00u2", "bob@acme.example", true, "sentry-users", "sentry-admins", "team-obs"),
		U("00u3", "carol@acme.example", true, "sentry-admins", "sentry-plain"), /* mapped only */
		U("00u4", "dave@acme.example", true, "team-pay"),                       /* team-mapped only */
		U("00u5", "erin@acme.example", false, "sentry-users"),                  /* suspended: no invite */
		U("00u6", "frank@acme.example", true, "unrelated"),                     /* not in scope */
	};
	struct policy_member m[] = {
		M("1", "alice@acme.example", CONFIG_ROLE_MANAGER),  /* demoted to member */
		M("2", "BOB@acme.example", CONFIG_ROLE_MEMBER),     /* promoted, case-insensitive */
		M("9", "owner@acme.example", CONFIG_ROLE_OWNER),
	};
	struct policy_plan p;
	char *s = plan_for(c, u, 6, m, 3, &p);
	ck_assert_str_eq(s, "invite carol@acme.example manager [];"
			    "invite dave@acme.example member [payments];"
			    "set_role alice@acme.example manager->member;"
			    "set_role bob@acme.example member->manager;"
			    "add_team bob@acme.example observability;");
	ck_assert(!p.refused);
	ck_assert_int_eq(p.demotions, 1);
	/* reasons name the group or rule */
	ck_assert_ptr_nonnull(strstr(p.changes[3].reason, "sentry-admins maps to manager"));
	ck_assert_ptr_nonnull(strstr(p.changes[2].reason, "default_role member"));
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(owners_protected_and_retired_admin)
{
	struct config *c = cfg_with("remove", "100%", "100%");
	struct policy_user u[] = {
		U("00u1", "owner@acme.example", true, "sentry-users"), /* listed owner: never demoted */
		U("00u2", "bot@acme.example", false, "sentry-users"),  /* protected: never touched */
		U("00u3", "adm@acme.example", true, "sentry-users"),   /* retired admin, no mapping: kept */
		U("00u4", "adm2@acme.example", true, "sentry-admins"), /* retired admin, mapping: manager */
		U("00u5", "rogue@acme.example", true, "sentry-users"), /* owner not listed: demoted */
	};
	struct policy_member m[] = {
		M("1", "owner@acme.example", CONFIG_ROLE_OWNER, "secret-team"),
		M("2", "bot@acme.example", CONFIG_ROLE_MANAGER),
		M("3", "adm@acme.example", CONFIG_ROLE_ADMIN),
		M("4", "adm2@acme.example", CONFIG_ROLE_ADMIN),
		M("5", "rogue@acme.example", CONFIG_ROLE_OWNER),
	};
	struct policy_plan p;
	char *s = plan_for(c, u, 5, m, 5, &p);
	ck_assert_str_eq(s, "set_role adm2@acme.example admin->manager;"
			    "set_role rogue@acme.example owner->member;");
	ck_assert(!p.refused); /* owner@ remains an owner */
	ck_assert_ptr_nonnull(strstr(p.changes[1].reason, "owner is reserved to roles.owners"));
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(unmanaged_modes)
{
	struct policy_user u[] = {U("00u1", "a@acme.example", true, "sentry-users"),
				  U("00u2", "gone@acme.example", false, "sentry-users")};
	struct policy_member m[] = {
		M("1", "a@acme.example", CONFIG_ROLE_MEMBER),
		M("2", "gone@acme.example", CONFIG_ROLE_MEMBER),      /* deactivated in Okta: removed in every mode */
		M("3", "handmade@acme.example", CONFIG_ROLE_MANAGER), /* in no access group */
		M("4", "owner@acme.example", CONFIG_ROLE_OWNER),      /* listed owner: never */
	};
	const char *modes[] = {"keep", "demote", "remove"};
	const char *want[] = {
		"remove_member gone@acme.example;",
		"set_role handmade@acme.example manager->member;remove_member gone@acme.example;",
		"remove_member gone@acme.example;remove_member handmade@acme.example;",
	};
	for (int i = 0; i < 3; i++) {
		struct config *c = cfg_with(modes[i], "100%", "100%");
		struct policy_plan p;
		char *s = plan_for(c, u, 2, m, 4, &p);
		ck_assert_msg(!strcmp(s, want[i]), "mode %s: got %s", modes[i], s);
		free(s);
		policy_plan_free(&p);
		config_free(c);
	}
}
END_TEST

START_TEST(teams_follow_groups)
{
	struct config *c = cfg_with("keep", "5%", "5%");
	struct policy_user u[] = {U("00u1", "a@acme.example", true, "sentry-users", "team-obs"),
				  U("00u2", "b@acme.example", true, "sentry-users")};
	struct policy_member m[] = {
		M("1", "a@acme.example", CONFIG_ROLE_MEMBER, "payments", "unmanaged-team"),
		M("2", "b@acme.example", CONFIG_ROLE_MEMBER, "observability"),
		M("3", "inv@acme.example", CONFIG_ROLE_MEMBER), /* pending: teams not listed by Sentry */
	};
	m[2].pending = true;
	struct policy_user u3[] = {U("00u1", "a@acme.example", true, "sentry-users", "team-obs"),
				   U("00u2", "b@acme.example", true, "sentry-users"),
				   U("00u3", "inv@acme.example", true, "sentry-users", "team-obs")};
	(void)u;
	struct policy_plan p;
	char *s = plan_for(c, u3, 3, m, 3, &p);
	ck_assert_str_eq(s, "add_team a@acme.example observability;"
			    "remove_team a@acme.example payments;"
			    "remove_team b@acme.example observability;");
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

/* Access grants (issue 9): the highest of the group role and the active
 * grants, the union of teams, grants ignored for people not entitled, an
 * ended grant's team taken back, owner never granted. */
START_TEST(grants_raise_roles_and_add_teams)
{
	struct config *c = cfg_with("keep", "50%", "50%");
	struct policy_user u[] = {
	    U("00u1", "a@acme.example", true, "sentry-users"),
	    U("00u2", "b@acme.example", true, "sentry-users", "sentry-admins"),
	    U("00u3", "c@acme.example", false, "sentry-users"), /* suspended: grants do not help */
	    U("00u4", "d@acme.example", true, "sentry-users"),
	    U("00u5", "e@acme.example", true, "sentry-users"),
	};
	struct policy_member m[] = {
	    M("1", "a@acme.example", CONFIG_ROLE_MEMBER),
	    M("2", "b@acme.example", CONFIG_ROLE_MANAGER),
	    M("3", "c@acme.example", CONFIG_ROLE_MEMBER),
	    M("4", "d@acme.example", CONFIG_ROLE_MEMBER, "incident-42"), /* its grant ended */
	    M("5", "e@acme.example", CONFIG_ROLE_MEMBER),
	};
	struct policy_grant g[] = {
	    {.email = "A@acme.example", .is_role = true, .role = CONFIG_ROLE_MANAGER, .reason = "grant #1 until 18:00Z"},
	    {.email = "a@acme.example", .is_role = false, .team = "incident-42", .reason = "grant #2 until 18:00Z"},
	    {.email = "b@acme.example", .is_role = true, .role = CONFIG_ROLE_MEMBER, .reason = "grant #3"},
	    {.email = "c@acme.example", .is_role = true, .role = CONFIG_ROLE_MANAGER, .reason = "grant #4"},
	    {.email = "e@acme.example", .is_role = true, .role = CONFIG_ROLE_OWNER, .reason = "grant #5"},
	};
	const char *gteams[] = {"incident-42"};
	struct policy_input in = {.users = u, .nusers = 5, .members = m, .nmembers = 5, .cfg = c, .grants = g,
				  .ngrants = 5, .grant_teams = gteams, .ngrant_teams = 1};
	struct policy_plan p;
	ck_assert_int_eq(policy_plan_compute(&in, &p), 0);
	char *s = render(&p);
	ck_assert_str_eq(s, "set_role a@acme.example member->manager;"
			    "add_team a@acme.example incident-42;"
			    "remove_team d@acme.example incident-42;"
			    "remove_member c@acme.example;");
	ck_assert_str_eq(p.changes[0].reason, "grant #1 until 18:00Z");
	ck_assert_str_eq(p.changes[1].reason, "grant #2 until 18:00Z");
	free(s);
	policy_plan_free(&p);
	/* Without the grants the group role comes back: the grant's end is a demotion. */
	in.grants = NULL;
	in.ngrants = 0;
	m[0].role = CONFIG_ROLE_MANAGER;
	ck_assert_int_eq(policy_plan_compute(&in, &p), 0);
	s = render(&p);
	ck_assert_ptr_nonnull(strstr(s, "set_role a@acme.example manager->member;"));
	ck_assert_int_eq(p.demotions, 1);
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(no_drift_no_changes)
{
	struct config *c = cfg_with("remove", "5%", "5%");
	struct policy_user u[] = {U("00u1", "a@acme.example", true, "sentry-users", "team-obs"),
				  U("00u2", "b@acme.example", true, "sentry-admins")};
	struct policy_member m[] = {
		M("1", "a@acme.example", CONFIG_ROLE_MEMBER, "observability"),
		M("2", "b@acme.example", CONFIG_ROLE_MANAGER),
		M("3", "owner@acme.example", CONFIG_ROLE_OWNER),
		M("4", "bot@acme.example", CONFIG_ROLE_MANAGER),
	};
	struct policy_plan p;
	char *s = plan_for(c, u, 2, m, 4, &p);
	ck_assert_str_eq(s, "");
	ck_assert(!p.refused);
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(guards_refuse)
{
	/* 20 managed members, 2 removals: over 5% (1), under 10% (2) */
	struct policy_user u[22];
	struct policy_member m[22];
	char emails[22][32], ids[22][8];
	const char *const grp[] = {"sentry-users"};
	for (int i = 0; i < 20; i++) {
		snprintf(emails[i], sizeof emails[i], "u%02d@acme.example", i);
		snprintf(ids[i], sizeof ids[i], "%d", i + 1);
		u[i] = (struct policy_user){.id = ids[i], .email = emails[i], .active = i >= 2, .groups = grp, .ngroups = 1};
		m[i] = (struct policy_member){.id = ids[i], .email = emails[i], .role = CONFIG_ROLE_MEMBER, .role_known = true};
	}
	struct config *c = cfg_with("keep", "5%", "5%");
	struct policy_plan p;
	char *s = plan_for(c, u, 20, m, 20, &p);
	ck_assert(p.refused);
	ck_assert_uint_eq(p.nrefusals, 1);
	ck_assert_ptr_nonnull(strstr(p.refusals[0], "2 removals exceed sync.guards.max_removals"));
	free(s);
	policy_plan_free(&p);
	config_free(c);

	c = cfg_with("keep", "10%", "5%");
	s = plan_for(c, u, 20, m, 20, &p);
	ck_assert(!p.refused);
	free(s);
	policy_plan_free(&p);
	config_free(c);

	c = cfg_with("keep", "1", "5%"); /* a count */
	s = plan_for(c, u, 20, m, 20, &p);
	ck_assert(p.refused);
	free(s);
	policy_plan_free(&p);

	/* an access group that had members came back empty */
	struct policy_group_count gc[] = {{.group = "sentry-users", .previous = 20, .current = 0}};
	struct policy_input in = {.users = NULL, .nusers = 0, .members = m, .nmembers = 20, .group_counts = gc,
				  .ngroup_counts = 1, .cfg = c};
	ck_assert_int_eq(policy_plan_compute(&in, &p), 0);
	ck_assert(p.refused);
	int found = 0;
	for (size_t i = 0; i < p.nrefusals; i++)
		found |= strstr(p.refusals[i], "access group sentry-users had 20 members and came back empty") != NULL;
	ck_assert(found);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(last_owner_guard)
{
	struct config *c = cfg_with("demote", "100%", "100%");
	/* the only owner is not in roles.owners and in no access group */
	struct policy_member m[] = {M("1", "solo@acme.example", CONFIG_ROLE_OWNER)};
	struct policy_plan p;
	char *s = plan_for(c, NULL, 0, m, 1, &p);
	ck_assert_str_eq(s, "set_role solo@acme.example owner->member;");
	ck_assert(p.refused);
	ck_assert_ptr_nonnull(strstr(p.refusals[0], "without an owner"));
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(bad_data_is_tolerated)
{
	struct config *c = cfg_with("keep", "100%", "100%");
	struct policy_user u[] = {
		U("00u1", "", true, "sentry-users"),                                 /* no email */
		U("00u2", "dup@acme.example", false, "sentry-users"),                /* duplicate email ... */
		U("00u3", "DUP@acme.example", true, "sentry-users", "sentry-admins"), /* ... one of them active */
	};
	struct policy_member m[] = {
		M("1", "twin@acme.example", CONFIG_ROLE_MEMBER),
		M("2", "Twin@Acme.example", CONFIG_ROLE_MEMBER),
		{.id = "3", .email = "odd@acme.example", .role_known = false},
	};
	struct policy_plan p;
	char *s = plan_for(c, u, 3, m, 3, &p);
	ck_assert_str_eq(s, "invite dup@acme.example manager [];");
	ck_assert_uint_ge(p.nwarnings, 3);
	free(s);
	policy_plan_free(&p);
	config_free(c);
}
END_TEST

START_TEST(admin_mapping_is_a_config_error)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_from_string("roles:\n  mappings:\n    - { group: g, role: admin }\n", "x.yaml", &c, &e);
	ck_assert_int_eq(rc, -1);
	ck_assert_uint_ge(e.n, 1);
	ck_assert_ptr_nonnull(strstr(e.msgs[0], "manager"));
	config_errors_free(&e);
}
END_TEST

Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("roles");
	tcase_add_test(tc, role_precedence_and_invites);
	tcase_add_test(tc, owners_protected_and_retired_admin);
	tcase_add_test(tc, unmanaged_modes);
	tcase_add_test(tc, teams_follow_groups);
	tcase_add_test(tc, grants_raise_roles_and_add_teams);
	tcase_add_test(tc, no_drift_no_changes);
	tcase_add_test(tc, guards_refuse);
	tcase_add_test(tc, last_owner_guard);
	tcase_add_test(tc, bad_data_is_tolerated);
	tcase_add_test(tc, admin_mapping_is_a_config_error);
	suite_add_tcase(s, tc);
	return s;
}
