/*
 * suites.h: every unit suite the runner knows.
 */
#ifndef SB_TEST_SUITES_H
#define SB_TEST_SUITES_H

#include <check.h>

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

#endif
