/*
 * check_core.c: unit tests of the small core modules: buf, router,
 * metrics, log, http helpers.
 */
#include "buf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "secret.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buf ---- */

START_TEST(buf_limit_enforced)
{
	struct buf b;
	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "1234"), BUF_OK);
	ck_assert_int_eq(buf_puts(&b, "5678"), BUF_OK);
	ck_assert_int_eq(buf_puts(&b, "9"), BUF_TOO_BIG);
	ck_assert_str_eq(buf_str(&b), "12345678");
	ck_assert_uint_eq(b.len, 8);
	buf_reset(&b);
}
END_TEST

START_TEST(buf_printf_and_escape)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%d-%s", 42, "x");
	buf_json_escape(&b, "a\"b\\c\n\x01");
	ck_assert_str_eq(buf_str(&b), "42-xa\\\"b\\\\c\\n\\u0001");
	char *s = buf_take(&b);
	ck_assert_str_eq(s, "42-xa\\\"b\\\\c\\n\\u0001");
	free(s);
	ck_assert_str_eq(buf_str(&b), "");
	s = buf_take(&b);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(buf_overflow_sizes)
{
	struct buf b;
	buf_init(&b, 16);
	ck_assert_int_eq(buf_append(&b, "x", (size_t)-1), BUF_TOO_BIG);
	buf_init(&b, 0);
	ck_assert_int_ne(buf_append(&b, "x", (size_t)-1 / 2), BUF_OK);
	buf_reset(&b);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");
	tcase_add_test(tc, buf_limit_enforced);
	tcase_add_test(tc, buf_printf_and_escape);
	tcase_add_test(tc, buf_overflow_sizes);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- router ---- */

static void h_mark(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)ctx;
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s", (const char *)arg);
	for (size_t i = 0; i < req->nparams; i++)
		buf_printf(&b, " %s=%s", req->param_names[i], req->param_values[i]);
	http_resp_text(resp, 200, buf_str(&b));
	buf_reset(&b);
}

static struct http_resp route_one(struct router *r, const char *method, const char *path)
{
	struct http_req req;
	memset(&req, 0, sizeof req);
	req.method = method;
	req.path = path;
	req.query = "";
	struct http_resp resp;
	http_resp_init(&resp);
	struct ctx ctx = {0};
	router_dispatch(r, &ctx, &req, &resp);
	http_req_clear_params(&req);
	return resp;
}

START_TEST(router_matches)
{
	struct router *r = router_new();
	ck_assert_int_eq(router_add(r, "GET", "/healthz", h_mark, "health"), 0);
	ck_assert_int_eq(router_add(r, "POST", "/api/v1/jobs/{id}/replay", h_mark, "replay"), 0);
	ck_assert_int_eq(router_add(r, "GET", "/api/v1/things/{a}/{b}", h_mark, "two"), 0);
	ck_assert_int_eq(router_add(r, "*", "/gitlab/*", h_mark, "proxy"), 0);
	ck_assert_int_eq(router_add(r, "GET", "no-slash", h_mark, "bad"), -1);

	struct http_resp resp = route_one(r, "GET", "/healthz");
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(buf_str(&resp.body), "health");
	http_resp_free(&resp);

	resp = route_one(r, "POST", "/api/v1/jobs/42/replay");
	ck_assert_str_eq(buf_str(&resp.body), "replay id=42");
	http_resp_free(&resp);

	resp = route_one(r, "GET", "/api/v1/things/a%20b/c");
	ck_assert_str_eq(buf_str(&resp.body), "two a=a b b=c");
	http_resp_free(&resp);

	resp = route_one(r, "DELETE", "/gitlab/api/v4/projects");
	ck_assert_str_eq(buf_str(&resp.body), "proxy");
	http_resp_free(&resp);

	resp = route_one(r, "HEAD", "/healthz");
	ck_assert_int_eq(resp.status, 200);
	http_resp_free(&resp);
	router_free(r);
}
END_TEST

START_TEST(router_404_405)
{
	struct router *r = router_new();
	router_add(r, "GET", "/healthz", h_mark, "health");
	router_add(r, "POST", "/api/v1/jobs/{id}/replay", h_mark, "replay");

	struct http_resp resp = route_one(r, "GET", "/nope");
	ck_assert_int_eq(resp.status, 404);
	ck_assert_ptr_nonnull(strstr(buf_str(&resp.body), "\"code\":\"not_found\""));
	http_resp_free(&resp);

	resp = route_one(r, "DELETE", "/healthz");
	ck_assert_int_eq(resp.status, 405);
	ck_assert_uint_eq(resp.nheaders, 1);
	ck_assert_str_eq(resp.headers[0].name, "Allow");
	ck_assert_str_eq(resp.headers[0].value, "GET");
	http_resp_free(&resp);

	/* an empty segment does not match a parameter */
	resp = route_one(r, "POST", "/api/v1/jobs//replay");
	ck_assert_int_eq(resp.status, 404);
	http_resp_free(&resp);
	/* a bad escape in a parameter does not match */
	resp = route_one(r, "POST", "/api/v1/jobs/%zz/replay");
	ck_assert_int_eq(resp.status, 404);
	http_resp_free(&resp);
	/* trailing garbage does not match */
	resp = route_one(r, "GET", "/healthz/x");
	ck_assert_int_eq(resp.status, 404);
	http_resp_free(&resp);
	router_free(r);
}
END_TEST

Suite *router_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("router");
	tcase_add_test(tc, router_matches);
	tcase_add_test(tc, router_404_405);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- metrics ---- */

START_TEST(metrics_render_format)
{
	struct metrics *m = metrics_new();
	metrics_describe(m, "sb_test_total", METRIC_COUNTER, "A test counter.");
	metrics_describe(m, "sb_test_seconds", METRIC_HISTOGRAM, "A test histogram.");
	metrics_add(m, "sb_test_total", 1, "route", "/a", "status", "200", NULL);
	metrics_add(m, "sb_test_total", 2, "route", "/a", "status", "200", NULL);
	metrics_add(m, "sb_test_total", 1, "route", "q\"uo\\te\n", NULL);
	metrics_observe(m, "sb_test_seconds", 0.003, "route", "/a", NULL);
	metrics_observe(m, "sb_test_seconds", 2.0, "route", "/a", NULL);
	metrics_set(m, "sb_gauge", 7, NULL);
	ck_assert(metrics_get(m, "sb_test_total", "route", "/a", "status", "200", NULL) == 3);
	ck_assert(metrics_get(m, "sb_test_seconds", "route", "/a", NULL) == 2);
	struct buf b;
	buf_init(&b, 0);
	metrics_render(m, &b);
	const char *out = buf_str(&b);
	ck_assert_ptr_nonnull(strstr(out, "# HELP sb_test_total A test counter.\n# TYPE sb_test_total counter\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_test_total{route=\"/a\",status=\"200\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_test_total{route=\"q\\\"uo\\\\te\\n\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_test_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_test_seconds_bucket{route=\"/a\",le=\"2.5\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_test_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_test_seconds_count{route=\"/a\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "sb_gauge 7\n"));
	buf_reset(&b);
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_test(tc, metrics_render_format);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- log ---- */

static char *capture(enum log_format fmt, const char *secret)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	struct logger *lg = logger_new(fmt, LOG_LVL_INFO, f);
	logger_add_secret(lg, secret);
	log_debug(lg, "mod", NULL, "hidden", NULL);
	log_info(lg, "mod", "rid-1", "hello \"world\"", "key", "value with spaces", "#n", "42", "tok",
		 "Bearer s3cr3t-token", "nil", NULL, NULL);
	logger_free(lg);
	fclose(f);
	return data;
}

START_TEST(log_json_and_redaction)
{
	char *out = capture(LOG_FORMAT_JSON, "s3cr3t-token");
	ck_assert_ptr_null(strstr(out, "hidden"));
	ck_assert_ptr_null(strstr(out, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(out, "\"level\":\"info\",\"module\":\"mod\",\"msg\":\"hello \\\"world\\\"\""));
	ck_assert_ptr_nonnull(strstr(out, "\"request_id\":\"rid-1\""));
	ck_assert_ptr_nonnull(strstr(out, "\"key\":\"value with spaces\""));
	ck_assert_ptr_nonnull(strstr(out, "\"n\":42"));
	ck_assert_ptr_nonnull(strstr(out, "\"tok\":\"Bearer [REDACTED]\""));
	ck_assert_ptr_nonnull(strstr(out, "\"nil\":null}"));
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	ck_assert_msg(j != NULL, "log line is not JSON: %s", je.text);
	json_decref(j);
	free(out);

	out = capture(LOG_FORMAT_TEXT, "s3cr3t-token");
	ck_assert_ptr_null(strstr(out, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(out, "info  [mod] hello \"world\" request_id=rid-1 key=\"value with spaces\" n=42"));
	free(out);
}
END_TEST

START_TEST(secret_compare)
{
	ck_assert(secret_equal("abc", "abc"));
	ck_assert(!secret_equal("abc", "abd"));
	ck_assert(!secret_equal("abc", "abcd"));
	ck_assert(!secret_equal("", "a"));
	ck_assert(secret_equal("", ""));
	ck_assert(!secret_equal(NULL, NULL));
	ck_assert(!secret_equal("a", NULL));
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_test(tc, log_json_and_redaction);
	tcase_add_test(tc, secret_compare);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- http helpers ---- */

START_TEST(http_query_and_headers)
{
	struct http_header hs[] = {{"Content-Type", "application/json"}, {"X-Request-Id", "abc"}};
	struct http_req req;
	memset(&req, 0, sizeof req);
	req.headers = hs;
	req.nheaders = 2;
	req.query = "status=dead&limit=10&q=a%20b+c&empty=&flag&bad=%zz";
	ck_assert_str_eq(http_req_header(&req, "content-type"), "application/json");
	ck_assert_ptr_null(http_req_header(&req, "Authorization"));
	char *v = http_req_query(&req, "status");
	ck_assert_str_eq(v, "dead");
	free(v);
	v = http_req_query(&req, "q");
	ck_assert_str_eq(v, "a b c");
	free(v);
	v = http_req_query(&req, "empty");
	ck_assert_str_eq(v, "");
	free(v);
	v = http_req_query(&req, "flag");
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_ptr_null(http_req_query(&req, "bad"));
	ck_assert_ptr_null(http_req_query(&req, "stat"));
	ck_assert_ptr_null(http_req_query(&req, "missing"));
}
END_TEST

START_TEST(http_error_body)
{
	struct http_resp r;
	http_resp_init(&r);
	http_resp_error(&r, 413, "payload_too_large", "body over %d bytes", 10);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(buf_str(&r.body),
			 "{\"error\":{\"code\":\"payload_too_large\",\"message\":\"body over 10 bytes\"}}\n");
	ck_assert_str_eq(r.content_type, "application/json");
	http_resp_free(&r);
}
END_TEST

Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");
	tcase_add_test(tc, http_query_and_headers);
	tcase_add_test(tc, http_error_body);
	suite_add_tcase(s, tc);
	return s;
}
