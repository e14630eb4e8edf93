/*
 * check_main.c: the one runner of every unit suite.
 *
 *   check_unit            run all suites
 *   CK_RUN_SUITE=jobs     run one (Check's own variable)
 *
 * Suites that need PostgreSQL read SB_TEST_PG_DSN, which tests/run.sh sets
 * after starting a private cluster. tests/unit/check_registration.sh fails
 * the build when a START_TEST is never added to a case.
 */
#include "suites.h"

#include <check.h>
#include <stdlib.h>

int main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	srunner_add_suite(sr, router_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, http_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, httpc_suite());
	srunner_add_suite(sr, db_suite());
	srunner_add_suite(sr, jobs_suite());
	srunner_add_suite(sr, policy_suite());
	srunner_add_suite(sr, sentry_suite());
	srunner_add_suite(sr, okta_suite());
	srunner_add_suite(sr, access_suite());
	srunner_add_suite(sr, provision_suite());
	srunner_add_suite(sr, gitlab_suite());
	srunner_add_suite(sr, console_suite());
	srunner_add_suite(sr, routing_suite());
	srunner_add_suite(sr, sentry_hooks_suite());
	srunner_add_suite(sr, slack_directory_suite());
	srunner_add_suite(sr, triage_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
