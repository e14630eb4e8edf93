/*
 * suites.h: every unit suite the runner knows.
 */
#ifndef SB_TEST_SUITES_H
#define SB_TEST_SUITES_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

/* Upper bounds on wall-clock time ("answered at once") are ten times looser
 * under valgrind (SB_VALGRIND=1, make valgrind), which runs code 20-50 times
 * slower; lower bounds ("waited at least") stay as they are. */
static inline int64_t tslack(int64_t ms)
{
	const char *v = getenv("SB_VALGRIND");
	return v && v[0] == '1' ? ms * 10 : ms;
}

Suite *buf_suite(void);
Suite *router_suite(void);
Suite *metrics_suite(void);
Suite *log_suite(void);
Suite *http_suite(void);
Suite *config_suite(void);
Suite *httpc_suite(void);
Suite *db_suite(void);
Suite *jobs_suite(void);
Suite *policy_suite(void);
Suite *sentry_suite(void);
Suite *okta_suite(void);
Suite *access_suite(void);
Suite *provision_suite(void);
Suite *gitlab_suite(void);
Suite *console_suite(void);
Suite *routing_suite(void);
Suite *sentry_hooks_suite(void);
Suite *slack_directory_suite(void);
Suite *triage_suite(void);

#endif
