/*
 * check_sentry_hooks.c: Sentry webhook signatures and payloads
 * (integrations/sentry/sentry_webhook.c, sentry_alert.c).
 */
#include "integrations/sentry/sentry_alert.h"
#include "integrations/sentry/sentry_webhook.h"
#include "integrations/slack/slack_sign.h"
#include "suites.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_signature)
{
	const char *msg = "The quick brown fox jumps over the lazy dog";
	char sig[SENTRY_SIG_HEX_LEN + 1];
	ck_assert_int_eq(sentry_webhook_sign("key", msg, strlen(msg), sig), 0);
	/* RFC 4231-style known answer (HMAC-SHA256, key "key"). */
	ck_assert_str_eq(sig, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
	ck_assert_int_eq(sentry_webhook_verify("key", msg, strlen(msg), sig), 1);
	ck_assert_int_eq(sentry_webhook_verify("key", msg, strlen(msg),
					       "F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8"),
			 1);
	ck_assert_int_eq(sentry_webhook_verify("other", msg, strlen(msg), sig), 0);
	ck_assert_int_eq(sentry_webhook_verify("key", msg, strlen(msg) - 1, sig), 0); /* raw bytes matter */
	ck_assert_int_eq(sentry_webhook_verify("key", msg, strlen(msg), "sha256=f7bc83"), 0);
	ck_assert_int_eq(sentry_webhook_verify("key", msg, strlen(msg), ""), 0);
	ck_assert_int_eq(sentry_webhook_verify("key", msg, strlen(msg), NULL), 0);
	ck_assert_int_eq(sentry_webhook_verify("", msg, strlen(msg), sig), 0);
	ck_assert_int_eq(sentry_webhook_verify(NULL, msg, strlen(msg), sig), 0);
	/* An empty body signs too. */
	ck_assert_int_eq(sentry_webhook_sign("key", NULL, 0, sig), 0);
	ck_assert_int_eq(sentry_webhook_verify("key", "", 0, sig), 1);
}
END_TEST

START_TEST(test_handled)
{
	ck_assert(sentry_webhook_handled("event_alert", "triggered"));
	ck_assert(sentry_webhook_handled("metric_alert", "critical"));
	ck_assert(sentry_webhook_handled("metric_alert", "resolved"));
	ck_assert(!sentry_webhook_handled("metric_alert", "open"));
	ck_assert(sentry_webhook_handled("issue", "ignored"));
	ck_assert(sentry_webhook_handled("issue", "archived"));
	ck_assert(sentry_webhook_handled("installation", "deleted"));
	ck_assert(!sentry_webhook_handled("comment", "created"));
	ck_assert(!sentry_webhook_handled("issue", "issue"));
	ck_assert(!sentry_webhook_handled("issu", "created"));
	ck_assert(!sentry_webhook_handled(NULL, "created"));
	ck_assert(sentry_webhook_request_id_ok("0123456789abcdef0123456789abcdef"));
	ck_assert(!sentry_webhook_request_id_ok(""));
	ck_assert(!sentry_webhook_request_id_ok("a b"));
	ck_assert(!sentry_webhook_request_id_ok(NULL));
}
END_TEST

static json_t *parse(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	ck_assert_msg(j != NULL, "%s", je.text);
	return j;
}

START_TEST(test_event_alert)
{
	json_t *j = parse("{\"action\":\"triggered\",\"data\":{\"event\":{\"project\":42,\"issue_id\":\"1001\","
			  "\"level\":\"error\",\"title\":\"Boom\",\"culprit\":\"a.b\",\"web_url\":\"https://s/x\","
			  "\"tags\":[[\"environment\",\"prod\"],[\"customer\",\"acme\"],[\"bad\"],7]},"
			  "\"triggered_rule\":\"Rule A\"}}");
	struct sentry_alert a;
	struct err e = {0};
	ck_assert_int_eq(sentry_alert_from_webhook("event_alert", j, &a, &e), 0);
	ck_assert_int_eq(a.project_id, 42);
	ck_assert_str_eq(a.project, "");
	ck_assert_str_eq(a.issue, "1001");
	ck_assert_str_eq(a.alert_rule, "Rule A");
	ck_assert_str_eq(a.environment, "prod"); /* from the tags when the event has none */
	ck_assert_uint_eq(a.ntags, 2);           /* malformed pairs skipped */
	const char *teams[] = {"payments", "core"};
	ck_assert_int_eq(sentry_alert_set_project(&a, "checkout", teams, 2), 0);
	struct policy_alert pa;
	sentry_alert_view(&a, &pa);
	ck_assert_str_eq(pa.project, "checkout");
	ck_assert_uint_eq(pa.nteams, 2);
	ck_assert_str_eq(pa.resource, "event_alert");
	sentry_alert_clear(&a);
	json_decref(j);

	j = parse("{\"action\":\"triggered\",\"data\":{}}");
	ck_assert_int_eq(sentry_alert_from_webhook("event_alert", j, &a, &e), -1);
	ck_assert_str_eq(e.msg, "event_alert without data.event");
	json_decref(j);
	j = parse("[1]");
	ck_assert_int_eq(sentry_alert_from_webhook("issue", j, &a, &e), -1);
	json_decref(j);
}
END_TEST

START_TEST(test_issue_and_metric)
{
	json_t *j = parse("{\"action\":\"resolved\",\"data\":{\"issue\":{\"id\":\"5\",\"shortId\":\"P-5\","
			  "\"level\":\"fatal\",\"project\":{\"id\":\"2\",\"slug\":\"api\"},\"count\":\"12\","
			  "\"userCount\":3,\"permalink\":\"https://s/i/5\"}}}");
	struct sentry_alert a;
	struct err e = {0};
	ck_assert_int_eq(sentry_alert_from_webhook("issue", j, &a, &e), 0);
	ck_assert_str_eq(a.project, "api");
	ck_assert_int_eq(a.project_id, 2);
	ck_assert_int_eq(a.count, 12);
	ck_assert_int_eq(a.user_count, 3);
	ck_assert_str_eq(a.web_url, "https://s/i/5");
	ck_assert_str_eq(a.action, "resolved");
	sentry_alert_clear(&a);
	json_decref(j);
	j = parse("{\"action\":\"warning\",\"data\":{\"metric_alert\":{\"id\":7,\"alert_rule\":{\"name\":\"p95\","
		  "\"projects\":[\"api\"]}},\"description_title\":\"Slow\"}}");
	ck_assert_int_eq(sentry_alert_from_webhook("metric_alert", j, &a, &e), 0);
	ck_assert_str_eq(a.level, "warning");
	ck_assert_str_eq(a.alert_rule, "p95");
	ck_assert_str_eq(a.project, "api");
	ck_assert_str_eq(a.issue, "7");
	ck_assert_str_eq(a.title, "Slow");
	sentry_alert_clear(&a);
	json_decref(j);
	j = parse("{\"project\":\"x\",\"team\":[\"a\",\"b\"],\"tags\":{\"k\":\"v\"},\"level\":\"error\"}");
	ck_assert_int_eq(sentry_alert_from_labels(j, &a, &e), 0);
	ck_assert_uint_eq(a.nteams, 2);
	ck_assert_int_eq(sentry_alert_set_label(&a, "tag:k=w", &e), 0);
	ck_assert_uint_eq(a.ntags, 1);
	ck_assert_str_eq(a.tags[0].value, "w");
	ck_assert_int_eq(sentry_alert_set_label(&a, "nope=1", &e), -1);
	sentry_alert_clear(&a);
	json_decref(j);
}
END_TEST

/* Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack). */
START_TEST(test_slack_signature)
{
	const char *secret = "8f742231b10e8888abcd99yyyzzz85a5", *ts = "1531420618";
	const char *body =
	    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name="
	    "foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F"
	    "hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
	    "47445629121.803a0bc887a14d10d2c447fce8b6703c";
	const char *want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
	char sig[SLACK_SIG_LEN + 1];
	ck_assert_int_eq(slack_sign(secret, ts, body, strlen(body), sig), 0);
	ck_assert_str_eq(sig, want);
	size_t n = strlen(body);
	ck_assert_int_eq(slack_verify(secret, ts, want, body, n, 1531420618, 300), SLACK_SIG_OK);
	ck_assert_int_eq(slack_verify(secret, ts, want, body, n, 1531420618 + 300, 300), SLACK_SIG_OK);
	ck_assert_int_eq(slack_verify(secret, ts, want, body, n, 1531420618 + 301, 300), SLACK_SIG_STALE);
	ck_assert_int_eq(slack_verify(secret, ts, want, body, n, 1531420618 - 301, 300), SLACK_SIG_STALE);
	ck_assert_int_eq(slack_verify(secret, "15314x0618", want, body, n, 1531420618, 300), SLACK_SIG_STALE);
	ck_assert_int_eq(slack_verify(secret, ts, want, body, n - 1, 1531420618, 300), SLACK_SIG_MISMATCH);
	ck_assert_int_eq(slack_verify("other", ts, want, body, n, 1531420618, 300), SLACK_SIG_MISMATCH);
	ck_assert_int_eq(slack_verify(secret, ts, want + 3, body, n, 1531420618, 300), SLACK_SIG_MISMATCH);
	ck_assert_int_eq(slack_verify(secret, NULL, want, body, n, 1531420618, 300), SLACK_SIG_MISSING);
	ck_assert_int_eq(slack_verify(secret, ts, NULL, body, n, 1531420618, 300), SLACK_SIG_MISSING);
	ck_assert_int_eq(slack_verify(NULL, ts, want, body, n, 1531420618, 300), SLACK_SIG_MISSING);
}
END_TEST

Suite *sentry_hooks_suite(void)
{
	Suite *s = suite_create("sentry_hooks");
	TCase *tc = tcase_create("webhooks");
	tcase_add_test(tc, test_signature);
	tcase_add_test(tc, test_handled);
	tcase_add_test(tc, test_event_alert);
	tcase_add_test(tc, test_issue_and_metric);
	tcase_add_test(tc, test_slack_signature);
	suite_add_tcase(s, tc);
	return s;
}
