/*
 * check_provision.c: the provisioning rules (policies/policy_provision),
 * table-driven: canonical names and slugs of many real-looking requests,
 * duplicates against an existing organisation, the team decision, who may,
 * the edit distance and the lint of an organisation.
 */
#include "config.h"
#include "policies/policy_provision.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROV_YAML                                                                                                  \
	"provisioning:\n"                                                                                          \
	"  default_team: %s\n"                                                                                     \
	"  env_suffixes: [%s]\n"                                                                                   \
	"  allow_team_creation: true\n"                                                                            \
	"  team_creator_groups: [team-leads]\n"                                                                    \
	"  project_slug_max: %d\n"                                                                                 \
	"  near_duplicate_distance: %d\n"                                                                          \
	"  reserved_slugs: [internal]\n"                                                                           \
	"  non_ascii: %s\n"

#define SUFFIXES "pre, gstg, gprd, staging, production, prod, dev"

static struct config *cfg_make(const char *default_team, const char *suffixes, int slug_max, int dist,
			       const char *non_ascii)
{
	char yaml[2048];
	snprintf(yaml, sizeof yaml, PROV_YAML, default_team, suffixes, slug_max, dist, non_ascii);
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_from_string(yaml, "provision.yaml", &c, &e);
	ck_assert_msg(rc == 0, "config: %s", e.n ? e.msgs[0] : "?");
	config_errors_free(&e);
	return c;
}

static struct config *cfg_default(void)
{
	return cfg_make("acme", SUFFIXES, 100, 2, "refuse");
}

/* ---- canonical names and slugs ------------------------------------------ */

struct name_case {
	const char *in;
	int kind;	       /* PROV_PROJECT / PROV_TEAM */
	int translit;	       /* non_ascii: transliterate */
	int code;	       /* 0 = valid, else enum prov_invalid */
	const char *canonical; /* when valid */
	const char *slug;
	int nstripped;
};

#define P PROV_PROJECT
#define T PROV_TEAM
static const struct name_case name_cases[] = {
    /* the application names of issue #5 */
    {"my-awesome-app", P, 0, 0, "my-awesome-app", "my-awesome-app", 0},
    {"my-awesome-app-pre", P, 0, 0, "my-awesome-app", "my-awesome-app", 1},
    {"my-awesome-app-gstg", P, 0, 0, "my-awesome-app", "my-awesome-app", 1},
    {"my-awesome-app-gprd", P, 0, 0, "my-awesome-app", "my-awesome-app", 1},
    {"My-Awesome-App-GPRD", P, 0, 0, "My-Awesome-App", "my-awesome-app", 1},
    {"my_awesome_app_prod", P, 0, 0, "my_awesome_app", "my_awesome_app", 1},
    {"my.awesome.app.staging", P, 0, 0, "my.awesome.app", "my-awesome-app", 1},
    {"My Awesome App Production", P, 0, 0, "My Awesome App", "my-awesome-app", 1},
    {"checkout-api-gprd-gstg", P, 0, 0, "checkout-api", "checkout-api", 2},
    {"checkout-api - prod", P, 0, 0, "checkout-api", "checkout-api", 1},
    {"billing-worker-dev.", P, 0, 0, "billing-worker", "billing-worker", 1},
    /* canary is not a suffix here: nothing is stripped (issue #5's example) */
    {"api-gprd-canary", P, 0, 0, "api-gprd-canary", "api-gprd-canary", 0},
    /* whole words only */
    {"preview-service", P, 0, 0, "preview-service", "preview-service", 0},
    {"service-preprod", P, 0, 0, "service-preprod", "service-preprod", 0},
    {"devtools", P, 0, 0, "devtools", "devtools", 0},
    {"gprd-api", P, 0, 0, "gprd-api", "gprd-api", 0},
    {"productionize", P, 0, 0, "productionize", "productionize", 0},
    /* blanks and punctuation */
    {"  billing worker  ", P, 0, 0, "billing worker", "billing-worker", 0},
    {"C++ SDK", P, 0, 0, "C++ SDK", "c-sdk", 0},
    {"api/v2 gateway", P, 0, 0, "api/v2 gateway", "api-v2-gateway", 0},
    {"-leading-dash", P, 0, 0, "leading-dash", "leading-dash", 0},
    {"Data Pipeline (ETL)", P, 0, 0, "Data Pipeline (ETL)", "data-pipeline-etl", 0},
    {"_internal_tools", P, 0, 0, "internal_tools", "internal_tools", 0},
    {"web3", P, 0, 0, "web3", "web3", 0},
    {"2fa-service", P, 0, 0, "2fa-service", "2fa-service", 0},
    /* cannot be made valid */
    {"", P, 0, PROV_BAD_EMPTY, NULL, NULL, 0},
    {"    ", P, 0, PROV_BAD_EMPTY, NULL, NULL, 0},
    {"---", P, 0, PROV_BAD_NO_ALNUM, NULL, NULL, 0},
    {"!!!", P, 0, PROV_BAD_NO_ALNUM, NULL, NULL, 0},
    {"dev", P, 0, PROV_BAD_ONLY_SUFFIXES, NULL, NULL, 0},
    {"PROD", P, 0, PROV_BAD_ONLY_SUFFIXES, NULL, NULL, 0},
    {"prod-gprd", P, 0, PROV_BAD_ONLY_SUFFIXES, NULL, NULL, 0},
    {"staging.pre", P, 0, PROV_BAD_ONLY_SUFFIXES, NULL, NULL, 0},
    {"12345", P, 0, PROV_BAD_ALL_DIGITS, NULL, NULL, 0},
    {"2024-prod", P, 0, PROV_BAD_ALL_DIGITS, NULL, NULL, 0},
    {"settings", P, 0, PROV_BAD_RESERVED, NULL, NULL, 0},
    {"Settings-prod", P, 0, PROV_BAD_RESERVED, NULL, NULL, 0},
    {"api-keys", P, 0, PROV_BAD_RESERVED, NULL, NULL, 0},
    {"internal", P, 0, PROV_BAD_RESERVED, NULL, NULL, 0},
    {"this-application-name-is-far-too-long-for-sentry-to-take", P, 0, PROV_BAD_TOO_LONG, NULL, NULL, 0},
    {"api\x01", P, 0, PROV_BAD_ENCODING, NULL, NULL, 0},
    {"\xff\xfe", P, 0, PROV_BAD_ENCODING, NULL, NULL, 0},
    {"caf\xc3", P, 1, PROV_BAD_ENCODING, NULL, NULL, 0},
    /* non-ASCII: refused, or transliterated when the letters allow */
    {"Caf\xc3\xa9-API", P, 0, PROV_BAD_NON_ASCII, NULL, NULL, 0},
    {"Caf\xc3\xa9-API", P, 1, 0, "Cafe-API", "cafe-api", 0},
    {"Gr\xc3\xbc\xc3\x9f" "e-Service-prod", P, 1, 0, "Grusse-Service", "grusse-service", 1},
    {"\xc5\x81\xc3\xb3" "d\xc5\xba-backend", P, 1, 0, "Lodz-backend", "lodz-backend", 0},
    {"frontend\xe2\x80\x94web", P, 1, 0, "frontend-web", "frontend-web", 0},
    {"frontend\xe2\x80\x94web", P, 0, PROV_BAD_NON_ASCII, NULL, NULL, 0},
    {"\xe6\x97\xa5\xe6\x9c\xac-api", P, 1, PROV_BAD_NON_ASCII, NULL, NULL, 0},
    {"rocket-\xf0\x9f\x9a\x80", P, 1, PROV_BAD_NON_ASCII, NULL, NULL, 0},
    /* teams: no environment suffixes, 50-character slugs, 64-character names */
    {"Platform SRE", T, 0, 0, "Platform SRE", "platform-sre", 0},
    {"payments-prod", T, 0, 0, "payments-prod", "payments-prod", 0},
    {"settings", T, 0, 0, "settings", "settings", 0},
    {"internal", T, 0, PROV_BAD_RESERVED, NULL, NULL, 0},
    {"a team with a very long name that goes on and on and on past 64 chars", T, 0, PROV_BAD_TOO_LONG, NULL, NULL,
     0},
    {"team_with_a_name_of_fifty_five_characters_exactly_ok", T, 0, PROV_BAD_TOO_LONG, NULL, NULL, 0},
    {"42", T, 0, PROV_BAD_ALL_DIGITS, NULL, NULL, 0},
};

START_TEST(test_names_table)
{
	struct config *ref = cfg_default(), *tr = cfg_make("acme", SUFFIXES, 100, 2, "transliterate");
	size_t n = sizeof name_cases / sizeof name_cases[0];
	for (size_t i = 0; i < n; i++) {
		const struct name_case *c = &name_cases[i];
		const struct config *cfg = c->translit ? tr : ref;
		struct prov_name pn;
		struct err e = {0};
		int rc = policy_prov_name(&cfg->provisioning, (enum prov_kind)c->kind, c->in, &pn, &e);
		if (c->code) {
			ck_assert_msg(rc == -1 && e.code == c->code, "case %zu \"%s\": want code %d, got rc %d code %d (%s)",
				      i, c->in, c->code, rc, e.code, e.msg);
			ck_assert_msg(e.msg[0], "case %zu: no message", i);
			continue;
		}
		ck_assert_msg(rc == 0, "case %zu \"%s\": %s", i, c->in, e.msg);
		ck_assert_msg(!strcmp(pn.canonical, c->canonical), "case %zu \"%s\": canonical \"%s\", want \"%s\"", i,
			      c->in, pn.canonical, c->canonical);
		ck_assert_msg(!strcmp(pn.slug, c->slug), "case %zu \"%s\": slug \"%s\", want \"%s\"", i, c->in, pn.slug,
			      c->slug);
		ck_assert_msg((int)pn.nstripped == c->nstripped, "case %zu \"%s\": %zu suffixes stripped, want %d", i,
			      c->in, pn.nstripped, c->nstripped);
		ck_assert_msg(policy_prov_slug_ok(&cfg->provisioning, (enum prov_kind)c->kind, pn.slug),
			      "case %zu: slug not valid", i);
		policy_prov_name_clear(&pn);
	}
	config_free(ref);
	config_free(tr);
}
END_TEST

START_TEST(test_names_suffix_config)
{
	/* with canary configured, api-gprd-canary is api (issue #5) */
	struct config *c = cfg_make("acme", SUFFIXES ", canary", 100, 2, "refuse");
	struct prov_name pn;
	struct err e = {0};
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, "api-gprd-canary", &pn, &e), 0);
	ck_assert_str_eq(pn.canonical, "api");
	ck_assert_uint_eq(pn.nstripped, 2);
	ck_assert_str_eq(pn.stripped[0], "canary");
	ck_assert_str_eq(pn.stripped[1], "gprd");
	policy_prov_name_clear(&pn);
	config_free(c);

	/* a shorter project slug maximum */
	c = cfg_make("acme", SUFFIXES, 20, 2, "refuse");
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, "a-very-long-application", &pn, &e), -1);
	ck_assert_int_eq(e.code, PROV_BAD_TOO_LONG);
	ck_assert_ptr_nonnull(strstr(e.msg, "maximum is 20"));
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, "short-app-prod", &pn, &e), 0);
	ck_assert_str_eq(pn.slug, "short-app");
	policy_prov_name_clear(&pn);
	config_free(c);

	/* a very long input is refused before anything else */
	char *big = malloc(PROV_INPUT_MAX + 2);
	memset(big, 'a', PROV_INPUT_MAX + 1);
	big[PROV_INPUT_MAX + 1] = '\0';
	c = cfg_default();
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, big, &pn, &e), -1);
	ck_assert_int_eq(e.code, PROV_BAD_TOO_LONG);
	free(big);
	/* NULL is empty */
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, NULL, &pn, &e), -1);
	ck_assert_int_eq(e.code, PROV_BAD_EMPTY);
	config_free(c);
}
END_TEST

/* ---- duplicates ---------------------------------------------------------- */

/* The team lists do not matter to these rules, only whether there is one. */
static const char *const has_team[] = {"owners"};
static const struct prov_existing org_projects[] = {
    {"my-awesome-app", "my-awesome-app", has_team, 1},
    {"checkout-api", "checkout-api", has_team, 1},
    {"billing-worker", "billing-worker", has_team, 1},
    {"search-api-gstg", "Search API gstg", has_team, 1},
    {"legacy-portal", "Customer Portal", has_team, 1},
    {"payments-gateway", "payments-gateway", has_team, 1},
    {"api", "api", has_team, 1},
    {"orders-api", "orders-api", has_team, 1},
    {"ledger-v1", "ledger-v1", has_team, 1},
    {"shard1-store", "shard1-store", has_team, 1},
};

struct dup_case {
	const char *in;
	int reason;	   /* -1: no conflict */
	const char *slug;  /* the strongest conflict */
	int distance;
};

static const struct dup_case dup_cases[] = {
    {"my-awesome-app", PROV_SAME_SLUG, "my-awesome-app", 0},
    {"my-awesome-app-gprd", PROV_SAME_SLUG, "my-awesome-app", 0},
    {"My Awesome App", PROV_SAME_SLUG, "my-awesome-app", 0},
    {"my_awesome_app", PROV_SAME_SEPARATORS, "my-awesome-app", 0},
    {"myawesomeapp", PROV_SAME_SEPARATORS, "my-awesome-app", 0},
    {"MyAwesomeApp-pre", PROV_SAME_SEPARATORS, "my-awesome-app", 0},
    {"search-api", PROV_SAME_CANONICAL, "search-api-gstg", 0},
    {"search-api-gprd", PROV_SAME_CANONICAL, "search-api-gstg", 0},
    {"Search API", PROV_SAME_CANONICAL, "search-api-gstg", 0},
    {"customer portal", PROV_SAME_CANONICAL, "legacy-portal", 0},
    {"my-awsome-app", PROV_EDIT_DISTANCE, "my-awesome-app", 1},
    {"my-awesme-app", PROV_EDIT_DISTANCE, "my-awesome-app", 1},
    {"myawesomeap", PROV_EDIT_DISTANCE, "my-awesome-app", 1}, /* other word count: whole keys */
    {"my-awesoem-app", PROV_EDIT_DISTANCE, "my-awesome-app", 1},
    {"checkout-apo", -1, NULL, 0},      /* three-letter words never count as typos */
    {"my-awesome-ap", -1, NULL, 0},
    {"orders-ui", -1, NULL, 0},         /* api / ui: another component, not a typo */
    {"orders-app", -1, NULL, 0},
    {"ledger-v2", -1, NULL, 0},         /* numbers are not typos */
    {"shard2-store", -1, NULL, 0},
    {"ordres-api", PROV_EDIT_DISTANCE, "orders-api", 1},
    {"biling-wroker", PROV_EDIT_DISTANCE, "billing-worker", 2},
    {"payments-gateways-prod", PROV_EDIT_DISTANCE, "payments-gateway", 1},
    {"checkout-web", -1, NULL, 0},
    {"billing-api", -1, NULL, 0},
    {"app", -1, NULL, 0}, /* "api" is one edit away, but three letters are too short for typos */
    {"inventory-service", -1, NULL, 0},
    {"search-web", -1, NULL, 0},
    {"api-gateway", -1, NULL, 0},
};

START_TEST(test_duplicates_table)
{
	struct config *c = cfg_default();
	size_t np = sizeof org_projects / sizeof org_projects[0];
	for (size_t i = 0; i < sizeof dup_cases / sizeof dup_cases[0]; i++) {
		const struct dup_case *d = &dup_cases[i];
		struct prov_name pn;
		struct err e = {0};
		ck_assert_msg(policy_prov_name(&c->provisioning, PROV_PROJECT, d->in, &pn, &e) == 0, "case %zu: %s", i,
			      e.msg);
		struct prov_conflict *v = NULL;
		size_t nv = 0;
		ck_assert_int_eq(policy_prov_conflicts(&c->provisioning, PROV_PROJECT, &pn, org_projects, np, &v, &nv), 0);
		if (d->reason < 0) {
			ck_assert_msg(nv == 0, "case %zu \"%s\": unexpected conflict: %s", i, d->in, nv ? v[0].why : "");
		} else {
			ck_assert_msg(nv >= 1, "case %zu \"%s\": no conflict", i, d->in);
			ck_assert_msg((int)v[0].reason == d->reason, "case %zu \"%s\": reason %s, want %s (%s)", i, d->in,
				      policy_prov_reason_name(v[0].reason),
				      policy_prov_reason_name((enum prov_reason)d->reason), v[0].why);
			ck_assert_msg(!strcmp(org_projects[v[0].index].slug, d->slug), "case %zu: with %s, want %s", i,
				      org_projects[v[0].index].slug, d->slug);
			ck_assert_int_eq(v[0].distance, d->distance);
			ck_assert_ptr_nonnull(strstr(v[0].why, d->slug));
		}
		policy_prov_conflicts_free(v, nv);
		policy_prov_name_clear(&pn);
	}
	config_free(c);
}
END_TEST

START_TEST(test_duplicates_distance_off)
{
	struct config *c = cfg_make("acme", SUFFIXES, 100, 0, "refuse");
	struct prov_name pn;
	struct err e = {0};
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, "my-awsome-app", &pn, &e), 0);
	struct prov_conflict *v = NULL;
	size_t nv = 9;
	ck_assert_int_eq(policy_prov_conflicts(&c->provisioning, PROV_PROJECT, &pn, org_projects,
					       sizeof org_projects / sizeof org_projects[0], &v, &nv),
			 0);
	ck_assert_uint_eq(nv, 0);
	policy_prov_name_clear(&pn);
	/* separators still count with the distance off */
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_PROJECT, "my_awesome_app", &pn, &e), 0);
	ck_assert_int_eq(policy_prov_conflicts(&c->provisioning, PROV_PROJECT, &pn, org_projects,
					       sizeof org_projects / sizeof org_projects[0], &v, &nv),
			 0);
	ck_assert_uint_eq(nv, 1);
	policy_prov_conflicts_free(v, nv);
	policy_prov_name_clear(&pn);
	config_free(c);
}
END_TEST

START_TEST(test_team_duplicates)
{
	struct config *c = cfg_default();
	static const struct prov_existing teams[] = {
	    {"acme", "Acme", NULL, 0}, {"observability", "Observability", NULL, 0}, {"payments", "Payments", NULL, 0}};
	struct prov_name pn;
	struct err e = {0};
	struct prov_conflict *v = NULL;
	size_t nv = 0;
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_TEAM, "Observability", &pn, &e), 0);
	ck_assert_int_eq(policy_prov_conflicts(&c->provisioning, PROV_TEAM, &pn, teams, 3, &v, &nv), 0);
	ck_assert_uint_eq(nv, 1);
	ck_assert_int_eq(v[0].reason, PROV_SAME_SLUG);
	ck_assert_ptr_nonnull(strstr(v[0].why, "team"));
	policy_prov_conflicts_free(v, nv);
	policy_prov_name_clear(&pn);
	/* teams keep environment words: payments-prod is not payments... */
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_TEAM, "observabilty", &pn, &e), 0);
	ck_assert_int_eq(policy_prov_conflicts(&c->provisioning, PROV_TEAM, &pn, teams, 3, &v, &nv), 0);
	ck_assert_uint_eq(nv, 1);
	ck_assert_int_eq(v[0].reason, PROV_EDIT_DISTANCE);
	policy_prov_conflicts_free(v, nv);
	policy_prov_name_clear(&pn);
	ck_assert_int_eq(policy_prov_name(&c->provisioning, PROV_TEAM, "payments-prod", &pn, &e), 0);
	ck_assert_int_eq(policy_prov_conflicts(&c->provisioning, PROV_TEAM, &pn, teams, 3, &v, &nv), 0);
	ck_assert_uint_eq(nv, 0);
	policy_prov_name_clear(&pn);
	config_free(c);
}
END_TEST

START_TEST(test_distance)
{
	ck_assert_int_eq(policy_prov_distance("kitten", "sitting", 5), 3);
	ck_assert_int_eq(policy_prov_distance("kitten", "sitting", 2), -1);
	ck_assert_int_eq(policy_prov_distance("abcd", "abdc", 2), 1); /* a transposition is one edit */
	ck_assert_int_eq(policy_prov_distance("same", "same", 0), 0);
	ck_assert_int_eq(policy_prov_distance("", "abc", 3), 3);
	ck_assert_int_eq(policy_prov_distance("a", "abcdef", 2), -1); /* lengths alone rule it out */
	ck_assert_int_eq(policy_prov_distance("billingworker", "bilingwroker", 2), 2);
}
END_TEST

/* ---- team decision ------------------------------------------------------- */

static const struct prov_existing org_teams[] = {
    {"acme", "Acme", NULL, 0}, {"observability", "Observability", NULL, 0}, {"payments", "Payments", NULL, 0}};

struct team_case {
	const char *requested;
	int allow; /* allow_team_creation */
	int may;   /* the requester may create teams */
	int rc;
	int source;
	const char *slug;
	const char *note_has;
};

static const struct team_case team_cases[] = {
    {NULL, 1, 1, 0, PROV_TEAM_DEFAULT, "acme", "names no team"},
    {"", 1, 1, 0, PROV_TEAM_DEFAULT, "acme", "names no team"},
    {"observability", 1, 1, 0, PROV_TEAM_NAMED, "observability", "exists"},
    {"Observability", 0, 0, 0, PROV_TEAM_NAMED, "observability", "exists"},
    {" payments", 0, 0, 0, PROV_TEAM_NAMED, "payments", "exists"},
    {"platform", 1, 1, 0, PROV_TEAM_CREATE, "platform", "created"},
    {"Platform SRE", 1, 1, 0, PROV_TEAM_CREATE, "platform-sre", "created"},
    {"platform", 1, 0, 0, PROV_TEAM_DEFAULT, "acme", "may not create teams"},
    {"platform", 0, 1, 0, PROV_TEAM_DEFAULT, "acme", "allow_team_creation is off"},
    {"!!!", 1, 1, -1, 0, NULL, "cannot be created"},
    {"!!!", 0, 1, 0, PROV_TEAM_DEFAULT, "acme", "default team"},
};

START_TEST(test_team_table)
{
	for (size_t i = 0; i < sizeof team_cases / sizeof team_cases[0]; i++) {
		const struct team_case *t = &team_cases[i];
		struct config *c = cfg_default();
		c->provisioning.allow_team_creation = t->allow;
		struct prov_team_decision d;
		struct err e = {0};
		int rc = policy_prov_team(&c->provisioning, t->requested, org_teams, 3, t->may, &d, &e);
		ck_assert_msg(rc == t->rc, "case %zu: rc %d (%s)", i, rc, e.msg);
		if (rc == 0) {
			ck_assert_msg((int)d.source == t->source, "case %zu: source %d", i, d.source);
			ck_assert_str_eq(d.slug, t->slug);
			ck_assert_msg(strstr(d.note, t->note_has), "case %zu: note \"%s\"", i, d.note);
			policy_prov_team_clear(&d);
		} else {
			ck_assert_msg(strstr(e.msg, t->note_has), "case %zu: message \"%s\"", i, e.msg);
		}
		config_free(c);
	}
}
END_TEST

START_TEST(test_team_default_missing)
{
	struct config *c = cfg_make("\"\"", SUFFIXES, 100, 2, "refuse");
	struct prov_team_decision d;
	struct err e = {0};
	ck_assert_int_eq(policy_prov_team(&c->provisioning, NULL, org_teams, 3, true, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "default_team is not set"));
	config_free(c);
	c = cfg_make("ghost", SUFFIXES, 100, 2, "refuse");
	ck_assert_int_eq(policy_prov_team(&c->provisioning, "nope", org_teams, 3, false, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "\"ghost\""));
	ck_assert_ptr_nonnull(strstr(e.msg, "does not exist in Sentry"));
	config_free(c);
}
END_TEST

START_TEST(test_may)
{
	struct config *c = cfg_default();
	const struct config_strlist *req = &c->provisioning.requester_groups; /* empty */
	const struct config_strlist *cre = &c->provisioning.team_creator_groups; /* [team-leads] */
	const char *const g1[] = {"engineering", "team-leads"};
	const char *const g2[] = {"engineering"};
	ck_assert(policy_prov_may(req, true, false, NULL, 0));	/* empty requester_groups: everyone */
	ck_assert(policy_prov_may(cre, false, false, g1, 2));
	ck_assert(!policy_prov_may(cre, false, false, g2, 1));
	ck_assert(!policy_prov_may(cre, false, false, NULL, 0));
	ck_assert(policy_prov_may(cre, false, true, NULL, 0));	/* the admin token itself */
	struct config_strlist none = {0};
	ck_assert(!policy_prov_may(&none, false, false, g1, 2)); /* empty team_creator_groups: admins only */
	ck_assert(policy_prov_may(&none, false, true, NULL, 0));
	config_free(c);
}
END_TEST

/* ---- lint ---------------------------------------------------------------- */

START_TEST(test_lint)
{
	struct config *c = cfg_default();
	static const struct prov_existing projects[] = {
	    {"api", "api", has_team, 1},
	    {"api-gprd", "api-gprd", has_team, 1},
	    {"api-gstg", "API gstg", has_team, 1},
	    {"billing-worker", "billing-worker", has_team, 1},
	    {"billing_worker", "billing_worker", has_team, 1},
	    {"checkout-service", "checkout-service", has_team, 1},
	    {"checkout-servce", "checkout-servce", has_team, 1},
	    {"orphan", "orphan", NULL, 0},
	    {"search", "search", has_team, 1},
	    {"web-prod", "Web (prod)", has_team, 1},
	};
	struct prov_lint l;
	ck_assert_int_eq(policy_prov_lint(&c->provisioning, projects, 10, &l), 0);
	int counts[4] = {0};
	for (size_t i = 0; i < l.n; i++) {
		counts[l.v[i].kind]++;
		ck_assert_ptr_nonnull(l.v[i].detail);
		if (l.v[i].kind == PROV_V_ENV_SPLIT) {
			ck_assert_uint_eq(l.v[i].nprojects, 3);
			ck_assert_str_eq(l.v[i].application, "api");
		}
		if (l.v[i].kind == PROV_V_ENV_SUFFIX)
			ck_assert_str_eq(projects[l.v[i].projects[0]].slug, "web-prod");
		if (l.v[i].kind == PROV_V_NO_TEAM)
			ck_assert_str_eq(projects[l.v[i].projects[0]].slug, "orphan");
	}
	ck_assert_int_eq(counts[PROV_V_ENV_SPLIT], 1);
	ck_assert_int_eq(counts[PROV_V_ENV_SUFFIX], 1);
	ck_assert_int_eq(counts[PROV_V_NO_TEAM], 1);
	ck_assert_int_eq(counts[PROV_V_NEAR_DUPLICATE], 2); /* separators, and one edit */
	policy_prov_lint_free(&l);

	/* a clean organisation */
	static const struct prov_existing clean[] = {
	    {"my-awesome-app", "my-awesome-app", has_team, 1},
	    {"checkout-api", "checkout-api", has_team, 1},
	    {"billing-worker", "billing-worker", has_team, 1},
	};
	ck_assert_int_eq(policy_prov_lint(&c->provisioning, clean, 3, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	policy_prov_lint_free(&l);
	ck_assert_int_eq(policy_prov_lint(&c->provisioning, NULL, 0, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	config_free(c);
}
END_TEST

Suite *provision_suite(void)
{
	Suite *s = suite_create("provision");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_names_table);
	tcase_add_test(tc, test_names_suffix_config);
	tcase_add_test(tc, test_duplicates_table);
	tcase_add_test(tc, test_duplicates_distance_off);
	tcase_add_test(tc, test_team_duplicates);
	tcase_add_test(tc, test_distance);
	tcase_add_test(tc, test_team_table);
	tcase_add_test(tc, test_team_default_missing);
	tcase_add_test(tc, test_may);
	tcase_add_test(tc, test_lint);
	suite_add_tcase(s, tc);
	return s;
}
