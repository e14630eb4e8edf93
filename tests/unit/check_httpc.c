/*
 * check_httpc.c: unit tests of the outbound HTTP client (bridge/core/httpc)
 * against the loopback fake server (tests/unit/fake_http).
 *
 * Pure helpers (Retry-After, backoff, rate-limit decisions, Link headers,
 * URL policy) are table tests; the rest runs real requests over loopback.
 * Waits are kept short: the three tests that honour a 1-second rate-limit
 * reset dominate the run time (~4 s in total).
 */
#include "clock.h"
#include "fake_http.h"
#include "httpc.h"
#include "suites.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static uint64_t rand_zero(void *ctx)
{
	(void)ctx;
	return 0;
}

static uint64_t rand_max(void *ctx)
{
	(void)ctx;
	return UINT64_MAX;
}

static void http_date(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static char *url_of(struct fake_http *f, const char *path)
{
	size_t n = strlen(fake_http_url(f)) + strlen(path) + 1;
	char *u = malloc(n);
	ck_assert_ptr_nonnull(u);
	snprintf(u, n, "%s%s", fake_http_url(f), path);
	return u;
}

/* Options for fast tests: zero backoff, no rate-limit jitter. */
static struct httpc_opts fast_opts(void)
{
	struct httpc_opts o = {
	    .name = "test",
	    .timeout_ms = 5000,
	    .connect_timeout_ms = 2000,
	    .rand = rand_zero,
	    .rl_jitter_ms = -1,
	};
	return o;
}

static int64_t gap_ms(struct fake_http *f, size_t a, size_t b)
{
	const struct fake_request *ra = fake_http_request(f, a), *rb = fake_http_request(f, b);
	ck_assert_ptr_nonnull(ra);
	ck_assert_ptr_nonnull(rb);
	return rb->at_ms - ra->at_ms;
}

/* A loopback port nobody listens on (bound, then released). */
static unsigned short dead_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t sl = sizeof sa;
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	return ntohs(sa.sin_port);
}

static void setup(void)
{
	ck_assert_int_eq(httpc_global_init(), 0);
}

static void teardown(void)
{
	httpc_global_cleanup();
}

/* ---- pure helpers ---- */

START_TEST(test_retry_after_parse)
{
	const int64_t now = 784111777000LL; /* Sun, 06 Nov 1994 08:49:37 GMT */
	/* clang-format off */
	static const struct {
		const char *in;
		int rc;
		int64_t wait;
	} cases[] = {
		{"120", 0, 120000},
		{" 5 ", 0, 5000},
		{"0", 0, 0},
		{"Sun, 06 Nov 1994 08:50:07 GMT", 0, 30000},  /* IMF-fixdate, 30 s ahead */
		{"Sunday, 06-Nov-94 08:49:47 GMT", 0, 10000}, /* RFC 850 */
		{"Sun Nov  6 08:49:38 1994", 0, 1000},        /* asctime */
		{"Sun, 06 Nov 1994 08:00:00 GMT", 0, 0},      /* past: no wait */
		{"garbage", -1, -1},
		{"", -1, -1},
		{"   ", -1, -1},
		{"-5", -1, -1},
		{"1.5", -1, -1},
		{"12abc", -1, -1},
		{"99999999999999999999", -1, -1},
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t w = -1;
		int rc = httpc_parse_retry_after(cases[i].in, now, &w);
		ck_assert_msg(rc == cases[i].rc, "case %zu (%s): rc %d", i, cases[i].in, rc);
		if (!rc)
			ck_assert_msg(w == cases[i].wait, "case %zu (%s): wait %lld", i, cases[i].in, (long long)w);
	}
	int64_t w;
	ck_assert_int_eq(httpc_parse_retry_after(NULL, now, &w), -1);
	/* huge but valid delay-seconds are clamped, not overflowed */
	ck_assert_int_eq(httpc_parse_retry_after("999999999999999", now, &w), 0);
	ck_assert(w > 0);
}
END_TEST

static uint64_t rand_half(void *ctx)
{
	(void)ctx;
	return UINT64_C(1) << 63;
}

START_TEST(test_backoff)
{
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 0, NULL, NULL), 100);
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 1, NULL, NULL), 200);
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 3, NULL, NULL), 800);
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 4, NULL, NULL), 1000);
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 1000, NULL, NULL), 1000);
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 3, rand_zero, NULL), 0);
	ck_assert_int_eq(httpc_backoff_ms(100, 1000, 3, rand_max, NULL), 800);
	int64_t h = httpc_backoff_ms(100, 1000, 3, rand_half, NULL);
	ck_assert(h >= 399 && h <= 401);
	ck_assert_int_eq(httpc_backoff_ms(0, 1000, 3, rand_max, NULL), 0);
	ck_assert_int_eq(httpc_backoff_ms(500, 300, 0, NULL, NULL), 300); /* base above max */
	/* no overflow near INT64_MAX */
	ck_assert_int_eq(httpc_backoff_ms(INT64_MAX / 2 + 1, INT64_MAX, 5, NULL, NULL), INT64_MAX);
	/* full jitter stays in range */
	for (int i = 0; i < 10; i++) {
		int64_t v = httpc_backoff_ms(50, 10000, i, rand_max, NULL);
		ck_assert(v >= 0 && v <= 10000);
	}
}
END_TEST

START_TEST(test_rl_decide)
{
	const char *date = "Sun, 06 Nov 1994 08:49:37 GMT"; /* 784111777 */
	const int64_t far = 1700000000000LL;		    /* our clock, far from theirs */
	const int64_t srv = 784111777000LL;
	/* clang-format off */
	static const struct {
		enum httpc_rl_style style;
		long status;
		const char *h[5];
		int use_date;
		long headroom;
		enum httpc_rl_action want;
		int64_t wait;
	} cases[] = {
		/* Okta: reset compared with the Date header, not our clock */
		{HTTPC_RL_OKTA, 429, {"x-rate-limit-limit: 600", "x-rate-limit-remaining: 0",
				      "x-rate-limit-reset: 784111787"}, 1, 0, HTTPC_RL_RETRY_AFTER, 10000},
		{HTTPC_RL_OKTA, 429, {"X-Rate-Limit-Reset: 784111787"}, 1, 0, HTTPC_RL_RETRY_AFTER, 10000},
		/* concurrency violation: 0/0, Reset only an estimate */
		{HTTPC_RL_OKTA, 429, {"x-rate-limit-limit: 0", "x-rate-limit-remaining: 0",
				      "x-rate-limit-reset: 784111787"}, 1, 0, HTTPC_RL_BACKOFF, -1},
		{HTTPC_RL_OKTA, 429, {NULL}, 1, 0, HTTPC_RL_BACKOFF, -1},
		{HTTPC_RL_OKTA, 429, {"x-rate-limit-reset: soon"}, 1, 0, HTTPC_RL_BACKOFF, -1},
		{HTTPC_RL_OKTA, 429, {"retry-after: 4"}, 1, 0, HTTPC_RL_RETRY_AFTER, 4000},
		/* throttle ahead */
		{HTTPC_RL_OKTA, 200, {"x-rate-limit-remaining: 0", "x-rate-limit-reset: 784111782"}, 1, 0,
		 HTTPC_RL_THROTTLE, 5000},
		{HTTPC_RL_OKTA, 200, {"x-rate-limit-remaining: 3", "x-rate-limit-reset: 784111782"}, 1, 0,
		 HTTPC_RL_GO, -1},
		{HTTPC_RL_OKTA, 200, {"x-rate-limit-remaining: 3", "x-rate-limit-reset: 784111782"}, 1, 5,
		 HTTPC_RL_THROTTLE, 5000},
		{HTTPC_RL_OKTA, 200, {"x-rate-limit-remaining: 0", "x-rate-limit-reset: 784111782"}, 1, -1,
		 HTTPC_RL_GO, -1},
		{HTTPC_RL_OKTA, 200, {"x-rate-limit-remaining: 0", "x-rate-limit-reset: 784111700"}, 1, 0,
		 HTTPC_RL_GO, -1}, /* reset already passed */
		/* Sentry: Retry-After, else X-Sentry-Rate-Limit-Reset, else backoff */
		{HTTPC_RL_SENTRY, 429, {"retry-after: 7", "x-sentry-rate-limit-reset: 784111800"}, 1, 0,
		 HTTPC_RL_RETRY_AFTER, 7000},
		{HTTPC_RL_SENTRY, 429, {"x-sentry-rate-limit-reset: 784111800"}, 1, 0, HTTPC_RL_RETRY_AFTER,
		 23000},
		{HTTPC_RL_SENTRY, 429, {"content-type: application/json"}, 1, 0, HTTPC_RL_BACKOFF, -1},
		{HTTPC_RL_SENTRY, 200, {"x-sentry-rate-limit-remaining: 0", "x-sentry-rate-limit-reset: 784111779"},
		 1, 0, HTTPC_RL_THROTTLE, 2000},
		/* GitLab */
		{HTTPC_RL_GITLAB, 429, {"retry-after: 30", "ratelimit-reset: 784111800"}, 1, 0,
		 HTTPC_RL_RETRY_AFTER, 30000},
		{HTTPC_RL_GITLAB, 429, {"ratelimit-reset: 784111800"}, 1, 0, HTTPC_RL_RETRY_AFTER, 23000},
		{HTTPC_RL_GITLAB, 429, {"ratelimit-resettime: Sun, 06 Nov 1994 08:50:37 GMT"}, 1, 0,
		 HTTPC_RL_RETRY_AFTER, 60000},
		{HTTPC_RL_GITLAB, 429, {NULL}, 1, 0, HTTPC_RL_BACKOFF, -1},
		{HTTPC_RL_GITLAB, 200, {"ratelimit-remaining: 0", "ratelimit-reset: 784111787"}, 1, 0,
		 HTTPC_RL_THROTTLE, 10000},
		/* Slack: Retry-After only */
		{HTTPC_RL_SLACK, 429, {"retry-after: 3"}, 1, 0, HTTPC_RL_RETRY_AFTER, 3000},
		{HTTPC_RL_SLACK, 429, {"x-rate-limit-reset: 784111787"}, 1, 0, HTTPC_RL_BACKOFF, -1},
		{HTTPC_RL_SLACK, 200, {"x-rate-limit-remaining: 0", "x-rate-limit-reset: 784111787"}, 1, 0,
		 HTTPC_RL_GO, -1},
		/* none: standard Retry-After still honoured */
		{HTTPC_RL_NONE, 429, {"retry-after: 2"}, 1, 0, HTTPC_RL_RETRY_AFTER, 2000},
		{HTTPC_RL_NONE, 503, {"retry-after: 2"}, 1, 0, HTTPC_RL_GO, -1},
		/* no Date: our clock is the base */
		{HTTPC_RL_OKTA, 429, {"x-rate-limit-reset: 1700000003"}, 0, 0, HTTPC_RL_RETRY_AFTER, 3000},
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = 0;
		while (n < 5 && cases[i].h[n])
			n++;
		int64_t w = 12345;
		enum httpc_rl_action a = httpc_rl_decide(cases[i].style, cases[i].status, cases[i].h, n,
							 cases[i].use_date ? far : 1700000000000LL,
							 cases[i].use_date ? date : NULL, cases[i].headroom, &w);
		ck_assert_msg(a == cases[i].want, "case %zu: action %d want %d", i, (int)a, (int)cases[i].want);
		ck_assert_msg(w == cases[i].wait, "case %zu: wait %lld want %lld", i, (long long)w,
			      (long long)cases[i].wait);
	}
	(void)srv;
}
END_TEST

START_TEST(test_link_next)
{
	/* clang-format off */
	static const struct {
		const char *v[3];
		int rc;
		const char *next;
		const char *cursor;
	} cases[] = {
		/* Okta: one relation per header line */
		{{"<https://o.example/api/v1/users?limit=2>; rel=\"self\"",
		  "<https://o.example/api/v1/users?after=00u1&limit=2>; rel=\"next\""},
		 0, "https://o.example/api/v1/users?after=00u1&limit=2", NULL},
		{{"<https://o.example/api/v1/users?limit=2>; rel=\"self\""}, 0, NULL, NULL},
		/* several values on one line */
		{{"<https://o.example/a>; rel=\"self\", <https://o.example/b>; rel=\"next\""}, 0,
		 "https://o.example/b", NULL},
		/* Sentry cursor links */
		{{"<https://s.example/api/0/organizations/o/members/?&cursor=0:0:1>; rel=\"previous\"; "
		  "results=\"false\"; cursor=\"0:0:1\", "
		  "<https://s.example/api/0/organizations/o/members/?&cursor=0:100:0>; rel=\"next\"; "
		  "results=\"true\"; cursor=\"0:100:0\""},
		 0, "https://s.example/api/0/organizations/o/members/?&cursor=0:100:0", "0:100:0"},
		{{"<https://s.example/x/?&cursor=0:0:1>; rel=\"previous\"; results=\"true\"; cursor=\"0:0:1\", "
		  "<https://s.example/x/?&cursor=0:200:0>; rel=\"next\"; results=\"false\"; cursor=\"0:200:0\""},
		 0, NULL, NULL},
		{{"<https://s.example/x/?&cursor=1:0:0>; rel=\"next\"; results=\"FALSE\"; cursor=\"1:0:0\""}, 0,
		 NULL, NULL},
		/* token values, relation lists, case, whitespace, empty list elements */
		{{"<https://x/u>; rel=next"}, 0, "https://x/u", NULL},
		{{"<https://x/u>; rel=\"next last\""}, 0, "https://x/u", NULL},
		{{"<https://x/u> ;REL = \"NEXT\""}, 0, "https://x/u", NULL},
		{{" , <https://x/u>;rel=next ,"}, 0, "https://x/u", NULL},
		{{"<https://x/u>; title=\"a \\\"q\\\", b\"; rel=next"}, 0, "https://x/u", NULL},
		{{"<https://x/u>; crossorigin; rel=next"}, 0, "https://x/u", NULL},
		/* only the first rel counts; first next wins */
		{{"<https://x/a>; rel=self; rel=next"}, 0, NULL, NULL},
		{{"<https://x/a>; rel=next", "<https://x/b>; rel=next"}, 0, "https://x/a", NULL},
		{{NULL}, 0, NULL, NULL},
		/* malformed: an error, never "last page" */
		{{"https://x/b; rel=next"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/b; rel=next"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/b> rel=next"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/b>; rel=\"next"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/b>; =x"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/b>; rel="}, HTTPC_E_PARSE, NULL, NULL},
		{{"<>; rel=next"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/a b>; rel=next"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/a>; rel=next, garbage"}, HTTPC_E_PARSE, NULL, NULL},
		{{"<https://x/a>; rel=self", "<https://x/b>; rel=\"next\"\x01"}, HTTPC_E_PARSE, NULL, NULL},
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = 0;
		while (n < 3 && cases[i].v[n])
			n++;
		char *next = (char *)"sentinel", *cur = (char *)"sentinel";
		struct err e = {0};
		int rc = httpc_link_next(cases[i].v, n, &next, &cur, &e);
		ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d (%s)", i, rc, e.msg);
		if (cases[i].next)
			ck_assert_msg(next && !strcmp(next, cases[i].next), "case %zu: next %s", i,
				      next ? next : "(null)");
		else
			ck_assert_msg(next == NULL, "case %zu: next %s", i, next);
		if (cases[i].cursor)
			ck_assert_msg(cur && !strcmp(cur, cases[i].cursor), "case %zu: cursor", i);
		else
			ck_assert_msg(cur == NULL, "case %zu: cursor %s", i, cur);
		free(next);
		free(cur);
	}
	/* cursor out-parameter is optional */
	const char *v = "<https://x/a>; rel=next; cursor=\"c\"";
	char *next = NULL;
	ck_assert_int_eq(httpc_link_next(&v, 1, &next, NULL, NULL), 0);
	ck_assert_str_eq(next, "https://x/a");
	free(next);
}
END_TEST

START_TEST(test_check_url)
{
	/* clang-format off */
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
		{"https://example.okta.com/api/v1/groups", 1},
		{"https://sentry.internal:9000/api/0/", 1},
		{"http://127.0.0.1:8080/x", 1},
		{"http://127.1.2.3/x", 1},
		{"http://localhost:9/x", 1},
		{"http://LOCALHOST/x", 1},
		{"http://[::1]:8080/x", 1},
		{"http://[::ffff:127.0.0.1]/x", 1},
		{"http://example.com/api", 0},
		{"HTTP://EXAMPLE.COM/", 0},
		{"http://10.0.0.1/", 0},
		{"http://localhost.evil.example/", 0},
		{"http://127.0.0.1.evil.example/", 0},
		{"http://[::2]/", 0},
		{"ftp://example.com/", 0},
		{"file:///etc/passwd", 0},
		{"gopher://127.0.0.1/", 0},
		{"https://user:pw@example.com/", 0},
		{"not a url", 0},
		{"", 0},
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct err e = {0};
		int rc = httpc_check_url(cases[i].url, &e);
		ck_assert_msg((rc == 0) == cases[i].ok, "case %zu (%s): rc %d %s", i, cases[i].url, rc, e.msg);
	}
	ck_assert_int_eq(httpc_check_url("http://example.com/", NULL), HTTPC_E_REFUSED);
	ck_assert_int_eq(httpc_check_url(NULL, NULL), HTTPC_E_ARG);
}
END_TEST

/* ---- requests over loopback ---- */

START_TEST(test_success_and_body)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	static const char *const rh[] = {"Content-Type: application/json",
					 "Link: <https://o.example/api/v1/groups?limit=2>; rel=\"self\"",
					 "Link: <https://o.example/api/v1/groups?after=g2&limit=2>; rel=\"next\"",
					 "X-Okta-Request-Id: req-123", NULL};
	fake_http_push(f, &(struct fake_reply){.status = 200, .headers = rh, .body = "{\"ok\":true}"});
	fake_http_push(f,
		       &(struct fake_reply){.match = "POST /api/v1/groups", .status = 201, .body = "{\"id\":\"g1\"}"});
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_OKTA;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	ck_assert_ptr_nonnull(c);

	char *url = url_of(f, "/api/v1/groups?limit=2&q=a%20b");
	static const char *const qh[] = {"Authorization: SSWS t0ken", "Accept: application/json", NULL};
	struct httpc_req req = {
	    .method = "GET", .url = url, .headers = qh, .endpoint = "GET /api/v1/groups", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.rc, 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(buf_str(&resp.body), "{\"ok\":true}");
	ck_assert_int_eq(resp.attempts, 1);
	ck_assert_int_eq(resp.retry_after_ms, -1);
	ck_assert_str_eq(httpc_resp_header(&resp, "Content-Type"), "application/json");
	ck_assert_str_eq(httpc_resp_header(&resp, "x-okta-request-id"), "req-123");
	ck_assert_ptr_null(httpc_resp_header(&resp, "x-missing"));
	/* names are stored lowercased */
	int saw_ct = 0;
	for (size_t i = 0; i < resp.nheaders; i++)
		if (!strncmp(resp.headers[i], "content-type: ", 14))
			saw_ct = 1;
	ck_assert(saw_ct);
	/* iterate the repeated link header */
	size_t pos = 0, nlink = 0;
	const char *lv;
	while ((lv = httpc_resp_header_next(&resp, "LINK", &pos)))
		nlink++;
	ck_assert_int_eq(nlink, 2);
	char *next = NULL;
	ck_assert_int_eq(httpc_resp_link_next(&resp, &next, NULL, &e), 0);
	ck_assert_str_eq(next, "https://o.example/api/v1/groups?after=g2&limit=2");
	free(next);
	httpc_resp_free(&resp);

	/* what the server received, exactly */
	const struct fake_request *r = fake_http_request(f, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->method, "GET");
	ck_assert_str_eq(r->path, "/api/v1/groups");
	ck_assert_str_eq(r->query, "limit=2&q=a%20b");
	ck_assert_str_eq(fake_request_header(r, "authorization"), "SSWS t0ken");
	ck_assert_str_eq(fake_request_header(r, "Accept"), "application/json");
	ck_assert_str_eq(fake_request_header(r, "User-Agent"), "sentry-bridge");
	ck_assert_ptr_null(fake_request_header(r, "Expect"));
	ck_assert_int_eq(r->body_len, 0);

	/* a POST with a body */
	free(url);
	url = url_of(f, "/api/v1/groups");
	static const char *const ph[] = {"Content-Type: application/json", NULL};
	const char *body = "{\"profile\":{\"name\":\"g\"}}";
	struct httpc_req post = {.method = "POST",
				 .url = url,
				 .headers = ph,
				 .body = body,
				 .body_len = strlen(body),
				 .endpoint = "POST /api/v1/groups",
				 .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &post, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 201);
	ck_assert_str_eq(buf_str(&resp.body), "{\"id\":\"g1\"}");
	httpc_resp_free(&resp);
	r = fake_http_request(f, 1);
	ck_assert_str_eq(r->method, "POST");
	ck_assert_ptr_null(r->query);
	ck_assert_str_eq(r->body, body);
	ck_assert_str_eq(fake_request_header(r, "content-type"), "application/json");

	/* PUT and DELETE go out with their own verbs */
	fake_http_push(f, &(struct fake_reply){.status = 204});
	fake_http_push(f, &(struct fake_reply){.status = 204});
	struct httpc_req put = {.method = "PUT", .url = url, .body = "{}", .body_len = 2, .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &put, &resp, &e), 0);
	httpc_resp_free(&resp);
	struct httpc_req del = {.method = "DELETE", .url = url, .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &del, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 204);
	httpc_resp_free(&resp);
	ck_assert_str_eq(fake_http_request(f, 2)->method, "PUT");
	ck_assert_str_eq(fake_http_request(f, 2)->body, "{}");
	ck_assert_str_eq(fake_http_request(f, 3)->method, "DELETE");

	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_bad_requests)
{
	struct httpc_opts o = fast_opts();
	struct httpc *c = httpc_new(&o, NULL, NULL);
	ck_assert_ptr_nonnull(c);
	struct httpc_resp resp;
	struct err e = {0};
	static const char *const inj[] = {"X-A: 1\r\nX-Injected: 2", NULL};
	struct httpc_req r1 = {.method = "GET", .url = "http://127.0.0.1:9/", .headers = inj, .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &r1, &resp, &e), HTTPC_E_ARG);
	ck_assert_int_eq(resp.attempts, 0);
	httpc_resp_free(&resp);
	struct httpc_req r2 = {.method = "BREW", .url = "http://127.0.0.1:9/", .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &r2, &resp, &e), HTTPC_E_ARG);
	httpc_resp_free(&resp);
	struct httpc_req r3 = {.method = "POST", .url = "http://127.0.0.1:9/", .body_len = 3, .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &r3, &resp, &e), HTTPC_E_ARG);
	httpc_resp_free(&resp);
	ck_assert_int_eq(httpc_call(c, NULL, &resp, &e), HTTPC_E_ARG);
	httpc_resp_free(&resp);
	/* invalid options are refused */
	struct httpc_opts bad = fast_opts();
	bad.timeout_ms = -5;
	ck_assert_ptr_null(httpc_new(&bad, NULL, NULL));
	bad = fast_opts();
	bad.rate_per_sec = -1;
	ck_assert_ptr_null(httpc_new(&bad, NULL, NULL));
	ck_assert_ptr_null(httpc_new(NULL, NULL, NULL));
	httpc_free(NULL);
	httpc_resp_free(NULL);
	httpc_free(c);
}
END_TEST

START_TEST(test_refuse_plain_http_remote)
{
	struct httpc_opts o = fast_opts();
	struct httpc *c = httpc_new(&o, NULL, NULL);
	ck_assert_ptr_nonnull(c);
	struct httpc_req req = {.method = "GET", .url = "http://example.com/api/0/", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	int64_t t0 = clock_mono_ms();
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_REFUSED);
	ck_assert_int_eq(e.code, HTTPC_E_REFUSED);
	ck_assert_int_eq(resp.attempts, 0);
	ck_assert_int_eq(resp.status, 0);
	ck_assert(clock_mono_ms() - t0 < 500); /* nothing was resolved or sent */
	httpc_resp_free(&resp);
	struct httpc_req ftp = {.method = "GET", .url = "ftp://127.0.0.1/x", .idempotent = -1};
	ck_assert_int_eq(httpc_call(c, &ftp, &resp, &e), HTTPC_E_REFUSED);
	httpc_resp_free(&resp);
	httpc_free(c);
}
END_TEST

START_TEST(test_size_cap)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	char *big = malloc(10001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = big, .times = -1});
	struct httpc_opts o = fast_opts();
	o.max_response_bytes = 1000;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/big");
	struct httpc_req req = {.method = "GET", .url = url, .endpoint = "GET /big", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_TOO_BIG);
	ck_assert_int_eq(e.code, HTTPC_E_TOO_BIG);
	ck_assert_int_eq(resp.attempts, 1); /* not retried */
	ck_assert(resp.body.len <= 1000);
	httpc_resp_free(&resp);
	ck_assert_int_eq(fake_http_count(f), 1);
	/* exactly at the cap is fine */
	big[1000] = '\0';
	fake_http_reset(f);
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = big});
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.body.len, 1000);
	httpc_resp_free(&resp);
	free(big);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_timeout)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 200, .delay_ms = 2000, .times = -1});
	struct httpc_opts o = fast_opts();
	o.timeout_ms = 200;
	o.max_retries = -1;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/slow");
	struct httpc_req req = {.method = "GET", .url = url, .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_TIMEOUT);
	ck_assert_int_eq(resp.attempts, 1);
	ck_assert(resp.elapsed_ms >= 150 && resp.elapsed_ms < tslack(1500));
	ck_assert_int_eq(resp.status, 0);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_retry_503_then_success)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 503, .times = 2});
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = "done"});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.rand = rand_max; /* backoff = its cap: 40 ms, then 80 ms */
	o.backoff_base_ms = 40;
	o.backoff_max_ms = 1000;
	struct httpc *c = httpc_new(&o, NULL, m);
	char *url = url_of(f, "/flaky");
	struct httpc_req req = {.method = "GET", .url = url, .endpoint = "GET /flaky", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(buf_str(&resp.body), "done");
	ck_assert_int_eq(resp.attempts, 3);
	ck_assert_int_eq(fake_http_count(f), 3);
	ck_assert_int_ge(gap_ms(f, 0, 1), 38);
	ck_assert_int_ge(gap_ms(f, 1, 2), 78);
	ck_assert(metrics_get(m, "sb_upstream_retries_total", "upstream", "test", "reason", "status_5xx", NULL) == 2);
	ck_assert(metrics_get(m, "sb_upstream_requests_total", "upstream", "test", "endpoint", "GET /flaky", "status",
			      "503", NULL) == 2);
	httpc_resp_free(&resp);

	/* exhausted budget: the last 5xx is returned as a response */
	fake_http_reset(f);
	fake_http_push(f, &(struct fake_reply){.status = 502, .times = -1});
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 502);
	ck_assert_int_eq(resp.attempts, 4); /* 1 + default max_retries 3 */
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_no_retry_post_500)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 500, .times = -1});
	struct httpc_opts o = fast_opts();
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/api/0/organizations/o/members/");
	struct httpc_req req = {.method = "POST", .url = url, .body = "{}", .body_len = 2, .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 500);
	ck_assert_int_eq(resp.attempts, 1);
	ck_assert_int_eq(fake_http_count(f), 1);
	httpc_resp_free(&resp);
	/* PATCH is not idempotent either */
	req.method = "PATCH";
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.attempts, 1);
	httpc_resp_free(&resp);
	/* a caller may declare a POST idempotent (e.g. a search endpoint) */
	req.method = "POST";
	req.idempotent = 1;
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.attempts, 4);
	httpc_resp_free(&resp);
	/* and a GET not */
	req.method = "GET";
	req.idempotent = 0;
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.attempts, 1);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

struct late_server {
	unsigned short port;
	struct fake_http *f;
};

static void *start_late(void *arg)
{
	struct late_server *ls = arg;
	clock_sleep_ms(100, NULL);
	ls->f = fake_http_start_on(ls->port);
	if (ls->f)
		fake_http_push(ls->f, &(struct fake_reply){.status = 201, .body = "created"});
	return NULL;
}

START_TEST(test_retry_post_connect_failure)
{
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.max_retries = 2;
	struct httpc *c = httpc_new(&o, NULL, m);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/groups", (unsigned)dead_port());
	struct httpc_req req = {.method = "POST",
				.url = url,
				.body = "{}",
				.body_len = 2,
				.endpoint = "POST /api/v1/groups",
				.idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_CONNECT);
	ck_assert_int_eq(resp.attempts, 3); /* connect refused: certainly not processed */
	ck_assert(metrics_get(m, "sb_upstream_retries_total", "upstream", "test", "reason", "connect", NULL) == 2);
	ck_assert(metrics_get(m, "sb_upstream_requests_total", "upstream", "test", "endpoint", "POST /api/v1/groups",
			      "status", "error", NULL) == 3);
	ck_assert(strstr(e.msg, "POST /api/v1/groups") != NULL);
	httpc_resp_free(&resp);
	httpc_free(c);

	/* the upstream comes up between the attempts: one POST arrives */
	struct late_server ls = {.port = dead_port()};
	snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/groups", (unsigned)ls.port);
	o.rand = rand_max;
	o.backoff_base_ms = 400;
	c = httpc_new(&o, NULL, m);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, start_late, &ls), 0);
	int rc = httpc_call(c, &req, &resp, &e);
	pthread_join(th, NULL);
	ck_assert_ptr_nonnull(ls.f);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(resp.status, 201);
	ck_assert_int_eq(resp.attempts, 2);
	ck_assert_int_eq(fake_http_count(ls.f), 1);
	ck_assert_str_eq(fake_http_request(ls.f, 0)->body, "{}");
	httpc_resp_free(&resp);
	httpc_free(c);
	fake_http_stop(ls.f);
	metrics_free(m);
}
END_TEST

START_TEST(test_drop_and_truncate)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.drop = 1});
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = "{\"a\":1}", .truncate = 1});
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = "ok"});
	struct httpc_opts o = fast_opts();
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/x");
	struct httpc_req req = {.method = "GET", .url = url, .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(buf_str(&resp.body), "ok");
	ck_assert_int_eq(resp.attempts, 3);
	httpc_resp_free(&resp);
	httpc_free(c);

	/* a POST whose connection dies may have been processed: not retried */
	fake_http_reset(f);
	fake_http_push(f, &(struct fake_reply){.drop = 1});
	fake_http_push(f, &(struct fake_reply){.status = 201});
	c = httpc_new(&o, NULL, NULL); /* fresh client: no reused connection */
	req.method = "POST";
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_TRANSPORT);
	ck_assert_int_eq(resp.attempts, 1);
	ck_assert_int_eq(fake_http_count(f), 1);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_okta_429_reset)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	/* The upstream's clock runs an hour behind ours: only a wait computed
	 * against its Date header is right. */
	time_t srv = time(NULL) - 3600;
	char date[64], dh[96], reset[64], ok_reset[64];
	http_date(srv, date, sizeof date);
	snprintf(dh, sizeof dh, "Date: %s", date);
	snprintf(reset, sizeof reset, "X-Rate-Limit-Reset: %lld", (long long)srv + 1);
	snprintf(ok_reset, sizeof ok_reset, "X-Rate-Limit-Reset: %lld", (long long)srv + 60);
	const char *h429[] = {dh,    "X-Rate-Limit-Limit: 600",	       "X-Rate-Limit-Remaining: 0",
			      reset, "Content-Type: application/json", NULL};
	const char *h200[] = {dh, "X-Rate-Limit-Limit: 600", "X-Rate-Limit-Remaining: 599", ok_reset, NULL};
	fake_http_push(f, &(struct fake_reply){
			      .status = 429,
			      .headers = h429,
			      .body = "{\"errorCode\":\"E0000047\",\"errorSummary\":\"API call exceeded rate limit "
				      "due to too many requests.\"}"});
	fake_http_push(f, &(struct fake_reply){.status = 200, .headers = h200, .body = "[]"});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_OKTA;
	o.name = "okta";
	struct httpc *c = httpc_new(&o, NULL, m);
	char *url = url_of(f, "/api/v1/groups/00g1/users");
	struct httpc_req req = {
	    .method = "GET", .url = url, .endpoint = "GET /api/v1/groups/{id}/users", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.attempts, 2);
	int64_t g = gap_ms(f, 0, 1);
	ck_assert_msg(g >= 950 && g < tslack(2500), "gap %lld", (long long)g);
	ck_assert(metrics_get(m, "sb_upstream_rate_limit_waits_total", "upstream", "okta", NULL) == 1);
	ck_assert(metrics_get(m, "sb_upstream_rate_limit_wait_seconds_total", "upstream", "okta", NULL) >= 0.99);
	ck_assert(metrics_get(m, "sb_upstream_retries_total", "upstream", "okta", "reason", "rate_limited", NULL) == 1);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_slack_retry_after)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	static const char *const h429[] = {"Retry-After: 1", "Content-Type: application/json", NULL};
	fake_http_push(f, &(struct fake_reply){
			      .status = 429, .headers = h429, .body = "{\"ok\":false,\"error\":\"ratelimited\"}"});
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = "{\"ok\":true,\"ts\":\"1.2\"}"});
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_SLACK;
	o.name = "slack";
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/api/chat.postMessage");
	static const char *const qh[] = {"Content-Type: application/json; charset=utf-8", NULL};
	const char *body = "{\"channel\":\"C1\",\"text\":\"hi\"}";
	/* chat.postMessage is a POST: a 429 means it was not processed */
	struct httpc_req req = {.method = "POST",
				.url = url,
				.headers = qh,
				.body = body,
				.body_len = strlen(body),
				.endpoint = "POST chat.postMessage",
				.idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.attempts, 2);
	int64_t g = gap_ms(f, 0, 1);
	ck_assert_msg(g >= 950 && g < tslack(2500), "gap %lld", (long long)g);
	ck_assert_str_eq(fake_http_request(f, 1)->body, body);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_sentry_429_no_header)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	/* SaaS-style body: a JSON string; no Retry-After, no X-Sentry-* */
	fake_http_push(
	    f, &(struct fake_reply){.status = 429,
				    .body = "\"You are attempting to use this endpoint too frequently. Limit is 40 "
					    "requests in 1 seconds\""});
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = "[]"});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_SENTRY;
	o.name = "sentry";
	o.rand = rand_max;
	o.backoff_base_ms = 100;
	struct httpc *c = httpc_new(&o, NULL, m);
	char *url = url_of(f, "/api/0/organizations/o/members/");
	struct httpc_req req = {.method = "GET", .url = url, .endpoint = "GET members", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.attempts, 2);
	ck_assert_int_ge(gap_ms(f, 0, 1), 95);
	ck_assert(metrics_get(m, "sb_upstream_retries_total", "upstream", "sentry", "reason", "rate_limited", NULL) ==
		  1);
	httpc_resp_free(&resp);

	/* 429s have their own budget: with max_rl_retries 2 the third 429 is returned */
	httpc_free(c);
	fake_http_reset(f);
	fake_http_push(f, &(struct fake_reply){.status = 429, .times = -1});
	o.rand = rand_zero;
	o.max_rl_retries = 2;
	o.max_retries = -1;
	c = httpc_new(&o, NULL, m);
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 429);
	ck_assert_int_eq(resp.attempts, 3);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_throttle_ahead)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	time_t now = time(NULL);
	char date[64], dh[96], reset[64];
	http_date(now, date, sizeof date);
	snprintf(dh, sizeof dh, "Date: %s", date);
	snprintf(reset, sizeof reset, "X-Rate-Limit-Reset: %lld", (long long)now + 1);
	const char *h[] = {dh, "X-Rate-Limit-Limit: 600", "X-Rate-Limit-Remaining: 0", reset, NULL};
	fake_http_push(f, &(struct fake_reply){.match = "/api/v1/users", .status = 200, .headers = h, .body = "[]"});
	fake_http_default(f, &(struct fake_reply){.status = 200, .body = "[]"});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_OKTA;
	o.name = "okta";
	struct httpc *c = httpc_new(&o, NULL, m);
	char *u1 = url_of(f, "/api/v1/users?limit=200");
	char *u2 = url_of(f, "/api/v1/groups");
	struct httpc_req users = {.method = "GET", .url = u1, .endpoint = "GET /api/v1/users", .idempotent = -1};
	struct httpc_req groups = {.method = "GET", .url = u2, .endpoint = "GET /api/v1/groups", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	/* the answer that spends the quota comes back at once */
	ck_assert_int_eq(httpc_call(c, &users, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert(resp.elapsed_ms < tslack(500));
	httpc_resp_free(&resp);
	/* another endpoint (another Okta bucket) is not held */
	ck_assert_int_eq(httpc_call(c, &groups, &resp, &e), 0);
	ck_assert(resp.elapsed_ms < tslack(500));
	httpc_resp_free(&resp);
	/* the next request to the spent endpoint waits for the reset */
	ck_assert_int_eq(httpc_call(c, &users, &resp, &e), 0);
	ck_assert_int_eq(resp.attempts, 1);
	httpc_resp_free(&resp);
	ck_assert_int_eq(fake_http_count(f), 3);
	ck_assert_int_lt(gap_ms(f, 0, 1), tslack(500));
	int64_t g = gap_ms(f, 0, 2);
	ck_assert_msg(g >= 950 && g < tslack(2500), "gap %lld", (long long)g);
	ck_assert(metrics_get(m, "sb_upstream_rate_limit_waits_total", "upstream", "okta", NULL) == 1);
	free(u1);
	free(u2);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

/* A reserve given as a share of the window's limit: with Limit 100 and a
 * 10 % reserve, Remaining 8 already holds the endpoint until the reset. */
START_TEST(test_throttle_reserve_percent)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	time_t now = time(NULL);
	char date[64], dh[96], reset[64];
	http_date(now, date, sizeof date);
	snprintf(dh, sizeof dh, "Date: %s", date);
	snprintf(reset, sizeof reset, "X-Rate-Limit-Reset: %lld", (long long)now + 1);
	const char *h[] = {dh, "X-Rate-Limit-Limit: 100", "X-Rate-Limit-Remaining: 8", reset, NULL};
	fake_http_push(f, &(struct fake_reply){.match = "/api/v1/users", .status = 200, .headers = h, .body = "[]"});
	fake_http_default(f, &(struct fake_reply){.status = 200, .body = "[]"});
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_OKTA;
	o.name = "okta";
	o.rl_headroom_pct = 10;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *u1 = url_of(f, "/api/v1/users?limit=200");
	struct httpc_req users = {.method = "GET", .url = u1, .endpoint = "GET /api/v1/users", .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &users, &resp, &e), 0);
	httpc_resp_free(&resp);
	ck_assert_int_eq(httpc_call(c, &users, &resp, &e), 0);
	httpc_resp_free(&resp);
	int64_t g = gap_ms(f, 0, 1);
	ck_assert_msg(g >= 950 && g < tslack(2500), "gap %lld", (long long)g);
	free(u1);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_hold_longer_than_max_wait)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	static const char *const h[] = {"Retry-After: 120", NULL};
	fake_http_push(f, &(struct fake_reply){.status = 429, .headers = h, .times = -1});
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_SLACK;
	o.max_wait_ms = 1000;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/api/chat.postMessage");
	struct httpc_req req = {.method = "POST", .url = url, .body = "{}", .body_len = 2, .idempotent = -1};
	struct httpc_resp resp;
	struct err e = {0};
	/* the 429 is handed back at once, with the wait the upstream asked for */
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 429);
	ck_assert_int_eq(resp.attempts, 1);
	ck_assert_int_eq(resp.retry_after_ms, 120000);
	ck_assert(resp.elapsed_ms < tslack(500));
	httpc_resp_free(&resp);
	/* and nothing more is sent to that upstream until then */
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_RATE_LIMITED);
	ck_assert_int_eq(resp.attempts, 0);
	ck_assert(resp.retry_after_ms > 110000);
	httpc_resp_free(&resp);
	ck_assert_int_eq(fake_http_count(f), 1);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_call_many_concurrency)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 200, .body = "{}", .delay_ms = 50, .times = -1});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.max_concurrency = 3;
	struct httpc *c = httpc_new(&o, NULL, m);
	enum { N = 20 };
	struct httpc_req reqs[N];
	struct httpc_resp resps[N];
	char *urls[N];
	for (int i = 0; i < N; i++) {
		char p[64];
		snprintf(p, sizeof p, "/api/v1/groups/g%d/users", i);
		urls[i] = url_of(f, p);
		reqs[i] = (struct httpc_req){
		    .method = "GET", .url = urls[i], .endpoint = "GET /api/v1/groups/{id}/users", .idempotent = -1};
	}
	struct err e = {0};
	int64_t t0 = clock_mono_ms();
	ck_assert_int_eq(httpc_call_many(c, reqs, resps, N, &e), 0);
	int64_t el = clock_mono_ms() - t0;
	int seen[N] = {0};
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(resps[i].rc, 0);
		ck_assert_int_eq(resps[i].status, 200);
		ck_assert_int_eq(resps[i].attempts, 1);
		httpc_resp_free(&resps[i]);
		free(urls[i]);
	}
	ck_assert_int_eq(fake_http_count(f), N);
	for (int i = 0; i < N; i++) {
		int k;
		ck_assert_int_eq(sscanf(fake_http_request(f, (size_t)i)->path, "/api/v1/groups/g%d/users", &k), 1);
		ck_assert(k >= 0 && k < N);
		seen[k]++;
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(seen[i], 1);
	int mc = fake_http_max_concurrent(f);
	ck_assert_msg(mc <= 3, "max concurrent %d", mc);
	ck_assert_msg(mc >= 2, "max concurrent %d: no parallelism", mc);
	ck_assert_int_ge(el, 7 * 50 - 20); /* ceil(20/3) rounds of 50 ms */
	ck_assert(metrics_get(m, "sb_upstream_in_flight", "upstream", "test", NULL) == 0);
	ck_assert(metrics_get(m, "sb_upstream_requests_total", "upstream", "test", "endpoint",
			      "GET /api/v1/groups/{id}/users", "status", "200", NULL) == N);

	/* mixed outcomes: one bad URL does not stop the others */
	struct httpc_req mix[2] = {
	    {.method = "GET", .url = "http://example.com/", .idempotent = -1},
	    {.method = "GET", .url = fake_http_url(f), .idempotent = -1},
	};
	struct httpc_resp mr[2];
	ck_assert_int_eq(httpc_call_many(c, mix, mr, 2, &e), HTTPC_E_REFUSED);
	ck_assert_int_eq(mr[0].rc, HTTPC_E_REFUSED);
	ck_assert_int_eq(mr[1].rc, 0);
	ck_assert_int_eq(mr[1].status, 200);
	httpc_resp_free(&mr[0]);
	httpc_resp_free(&mr[1]);
	ck_assert_int_eq(httpc_call_many(c, NULL, NULL, 0, &e), HTTPC_E_ARG);
	ck_assert_int_eq(httpc_call_many(c, mix, mr, 0, &e), 0);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

struct thr_arg {
	struct httpc *c;
	const char *url;
	int fails;
};

static void *thr_calls(void *p)
{
	struct thr_arg *a = p;
	for (int i = 0; i < 4; i++) {
		struct httpc_req req = {.method = "GET", .url = a->url, .endpoint = "GET /t", .idempotent = -1};
		struct httpc_resp resp;
		if (httpc_call(a->c, &req, &resp, NULL) || resp.status != 200)
			a->fails++;
		httpc_resp_free(&resp);
	}
	return NULL;
}

START_TEST(test_threads_share_limit)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 200, .delay_ms = 30, .times = -1});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.max_concurrency = 2;
	struct httpc *c = httpc_new(&o, NULL, m);
	char *url = url_of(f, "/t");
	enum { T = 6 };
	pthread_t th[T];
	struct thr_arg args[T];
	for (int i = 0; i < T; i++) {
		args[i] = (struct thr_arg){.c = c, .url = url};
		ck_assert_int_eq(pthread_create(&th[i], NULL, thr_calls, &args[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].fails, 0);
	}
	ck_assert_int_eq(fake_http_count(f), T * 4);
	ck_assert_int_le(fake_http_max_concurrent(f), 2);
	ck_assert(metrics_get(m, "sb_upstream_in_flight", "upstream", "test", NULL) == 0);
	free(url);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_token_bucket)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 200, .times = -1});
	struct httpc_opts o = fast_opts();
	o.rate_per_sec = 20; /* one every 50 ms */
	o.burst = 1;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/r");
	enum { N = 6 };
	struct httpc_req reqs[N];
	struct httpc_resp resps[N];
	for (int i = 0; i < N; i++)
		reqs[i] = (struct httpc_req){.method = "GET", .url = url, .idempotent = -1};
	/* Measured on the client: the last request cannot start before its
	 * token, 5 x 50 ms after the first (server-side gaps between these
	 * concurrent requests would include connection setup noise). */
	int64_t t0 = clock_mono_ms();
	ck_assert_int_eq(httpc_call_many(c, reqs, resps, N, NULL), 0);
	int64_t el = clock_mono_ms() - t0;
	for (int i = 0; i < N; i++)
		httpc_resp_free(&resps[i]);
	ck_assert_int_eq(fake_http_count(f), N);
	ck_assert_msg(el >= (N - 1) * 50 - 5, "elapsed %lld", (long long)el);
	/* a full bucket lets `burst` requests go at once: at 5/s, three
	 * requests paced one by one would take at least 400 ms */
	httpc_free(c);
	o.rate_per_sec = 5;
	o.burst = 3;
	c = httpc_new(&o, NULL, NULL);
	t0 = clock_mono_ms();
	ck_assert_int_eq(httpc_call_many(c, reqs, resps, 3, NULL), 0);
	el = clock_mono_ms() - t0;
	ck_assert_msg(el < 350, "burst was paced: %lld ms", (long long)el);
	for (int i = 0; i < 3; i++)
		httpc_resp_free(&resps[i]);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

struct canceller {
	volatile int *flag;
	int64_t after_ms;
};

static void *do_cancel(void *p)
{
	struct canceller *k = p;
	clock_sleep_ms(k->after_ms, NULL);
	*k->flag = 1;
	return NULL;
}

START_TEST(test_cancel)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 200, .delay_ms = 3000});
	static const char *const h429[] = {"Retry-After: 5", NULL};
	fake_http_push(f, &(struct fake_reply){.status = 429, .headers = h429});
	struct httpc_opts o = fast_opts();
	o.rl = HTTPC_RL_SLACK;
	struct httpc *c = httpc_new(&o, NULL, NULL);
	char *url = url_of(f, "/c");
	volatile int stop = 0;
	struct httpc_req req = {.method = "GET", .url = url, .idempotent = -1, .cancel = &stop};
	struct httpc_resp resp;
	struct err e = {0};
	struct canceller k = {.flag = &stop, .after_ms = 100};
	pthread_t th;

	/* while the request is on the wire */
	ck_assert_int_eq(pthread_create(&th, NULL, do_cancel, &k), 0);
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_CANCELLED);
	pthread_join(th, NULL);
	ck_assert(resp.elapsed_ms < tslack(1000));
	httpc_resp_free(&resp);

	/* while waiting out a 429 */
	stop = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, do_cancel, &k), 0);
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_CANCELLED);
	pthread_join(th, NULL);
	ck_assert(resp.elapsed_ms < tslack(1000));
	ck_assert_int_eq(resp.attempts, 1);
	httpc_resp_free(&resp);
	free(url);
	httpc_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(test_metrics)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	fake_http_push(f, &(struct fake_reply){.status = 404, .body = "{}"});
	struct metrics *m = metrics_new();
	struct httpc_opts o = fast_opts();
	o.name = "gitlab";
	o.max_retries = -1;
	struct httpc *c = httpc_new(&o, NULL, m);
	char *url = url_of(f, "/api/v4/projects/1");
	struct httpc_req req = {.method = "GET", .url = url, .endpoint = "GET /api/v4/projects/:id", .idempotent = -1};
	struct httpc_resp resp;
	ck_assert_int_eq(httpc_call(c, &req, &resp, NULL), 0);
	ck_assert_int_eq(resp.status, 404); /* the caller decides about 4xx */
	httpc_resp_free(&resp);
	char dead[64];
	snprintf(dead, sizeof dead, "http://127.0.0.1:%u/api/v4/projects/1", (unsigned)dead_port());
	req.url = dead;
	ck_assert_int_eq(httpc_call(c, &req, &resp, NULL), HTTPC_E_CONNECT);
	httpc_resp_free(&resp);
	ck_assert(metrics_get(m, "sb_upstream_requests_total", "upstream", "gitlab", "endpoint",
			      "GET /api/v4/projects/:id", "status", "404", NULL) == 1);
	ck_assert(metrics_get(m, "sb_upstream_requests_total", "upstream", "gitlab", "endpoint",
			      "GET /api/v4/projects/:id", "status", "error", NULL) == 1);
	/* histogram: metrics_get returns the observation count */
	ck_assert(metrics_get(m, "sb_upstream_request_duration_seconds", "upstream", "gitlab", "endpoint",
			      "GET /api/v4/projects/:id", NULL) == 2);
	ck_assert(metrics_get(m, "sb_upstream_in_flight", "upstream", "gitlab", NULL) == 0);
	struct buf out;
	buf_init(&out, 0);
	metrics_render(m, &out);
	ck_assert(strstr(buf_str(&out), "# TYPE sb_upstream_requests_total counter") != NULL);
	ck_assert(strstr(buf_str(&out), "# TYPE sb_upstream_request_duration_seconds histogram") != NULL);
	ck_assert(strstr(buf_str(&out), "# TYPE sb_upstream_in_flight gauge") != NULL);
	buf_reset(&out);
	free(url);
	httpc_free(c);
	metrics_free(m);
	fake_http_stop(f);
}
END_TEST

static char *slurp(FILE *fp)
{
	fflush(fp);
	long n = ftell(fp);
	ck_assert_int_ge(n, 0);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	rewind(fp);
	size_t got = fread(s, 1, (size_t)n, fp);
	s[got] = '\0';
	return s;
}

START_TEST(test_secrets_never_logged)
{
	struct fake_http *f = fake_http_start();
	ck_assert_ptr_nonnull(f);
	static const char *const rh[] = {"X-Request-Id: upstream-rid-1", NULL};
	fake_http_push(f, &(struct fake_reply){.status = 503, .headers = rh, .body = "RESPONSE-SECRET-1"});
	fake_http_push(f, &(struct fake_reply){.status = 200, .headers = rh, .body = "RESPONSE-SECRET-2"});
	static const char *const h429[] = {"Retry-After: 0", NULL};
	fake_http_push(f, &(struct fake_reply){.status = 429, .headers = h429, .body = "RESPONSE-SECRET-3"});
	fake_http_push(f, &(struct fake_reply){.status = 500, .body = "RESPONSE-SECRET-4", .times = -1});
	FILE *logf = tmpfile();
	ck_assert_ptr_nonnull(logf);
	/* Deliberately no logger_add_secret(): the client itself must not log them. */
	struct logger *lg = logger_new(LOG_FORMAT_JSON, LOG_LVL_DEBUG, logf);
	struct httpc_opts o = fast_opts();
	o.max_retries = 1;
	struct httpc *c = httpc_new(&o, lg, NULL);
	char *url = url_of(f, "/api/0/organizations/o/members/?query=QUERY-SECRET");
	static const char *const qh[] = {"Authorization: Bearer sntrys_AUTH-SECRET-VALUE", NULL};
	const char *body = "{\"password\":\"BODY-SECRET\"}";
	struct httpc_req req = {.method = "PUT",
				.url = url,
				.headers = qh,
				.body = body,
				.body_len = strlen(body),
				.endpoint = "PUT members",
				.idempotent = -1,
				.log_id = "run-42"};
	struct httpc_resp resp;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(httpc_call(c, &req, &resp, NULL), 0);
		httpc_resp_free(&resp);
	}
	char dead[80];
	snprintf(dead, sizeof dead, "http://127.0.0.1:%u/x?token=QUERY-SECRET", (unsigned)dead_port());
	req.url = dead;
	struct err e = {0};
	ck_assert_int_eq(httpc_call(c, &req, &resp, &e), HTTPC_E_CONNECT);
	httpc_resp_free(&resp);
	char *log = slurp(logf);
	ck_assert_msg(strstr(log, "upstream attempt") != NULL, "nothing logged: %s", log);
	ck_assert(strstr(log, "upstream retry") != NULL);
	ck_assert(strstr(log, "upstream retries stopped") != NULL); /* the PUT that kept failing */
	ck_assert(strstr(log, "upstream-rid-1") != NULL);	    /* the upstream request id is */
	ck_assert(strstr(log, "run-42") != NULL);
	ck_assert(strstr(log, "PUT members") != NULL);
	static const char *const secrets[] = {"AUTH-SECRET",  "sntrys_",       "Bearer",
					      "BODY-SECRET",  "password",      "RESPONSE-SECRET",
					      "QUERY-SECRET", "Authorization", NULL};
	for (const char *const *s = secrets; *s; s++) {
		ck_assert_msg(strstr(log, *s) == NULL, "log contains %s", *s);
		ck_assert_msg(strstr(e.msg, *s) == NULL, "error contains %s", *s);
	}
	free(log);
	free(url);
	httpc_free(c);
	logger_free(lg);
	fclose(logf);
	fake_http_stop(f);
}
END_TEST

Suite *httpc_suite(void)
{
	Suite *s = suite_create("httpc");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, test_retry_after_parse);
	tcase_add_test(pure, test_backoff);
	tcase_add_test(pure, test_rl_decide);
	tcase_add_test(pure, test_link_next);
	suite_add_tcase(s, pure);

	TCase *net = tcase_create("net");
	tcase_add_checked_fixture(net, setup, teardown);
	/* Generous per-test limit for valgrind runs; each test takes < 2 s natively. */
	tcase_set_timeout(net, 60);
	tcase_add_test(net, test_check_url);
	tcase_add_test(net, test_success_and_body);
	tcase_add_test(net, test_bad_requests);
	tcase_add_test(net, test_refuse_plain_http_remote);
	tcase_add_test(net, test_size_cap);
	tcase_add_test(net, test_timeout);
	tcase_add_test(net, test_retry_503_then_success);
	tcase_add_test(net, test_no_retry_post_500);
	tcase_add_test(net, test_retry_post_connect_failure);
	tcase_add_test(net, test_drop_and_truncate);
	tcase_add_test(net, test_okta_429_reset);
	tcase_add_test(net, test_slack_retry_after);
	tcase_add_test(net, test_sentry_429_no_header);
	tcase_add_test(net, test_throttle_ahead);
	tcase_add_test(net, test_throttle_reserve_percent);
	tcase_add_test(net, test_hold_longer_than_max_wait);
	tcase_add_test(net, test_call_many_concurrency);
	tcase_add_test(net, test_threads_share_limit);
	tcase_add_test(net, test_token_bucket);
	tcase_add_test(net, test_cancel);
	tcase_add_test(net, test_metrics);
	tcase_add_test(net, test_secrets_never_logged);
	suite_add_tcase(s, net);
	return s;
}
