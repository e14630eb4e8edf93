/*
 * check_sentry.c: unit tests of the Sentry web API client
 * (integrations/sentry/sentry_client) against the loopback fake server
 * (tests/unit/fake_http).
 *
 * Replies follow sentry-api.md: cursor Link headers whose URLs use a wrong
 * url-prefix host (the client must reuse only the cursor on its own base
 * URL), results="false" on the last page, member objects with orgRole,
 * role, pending, expired and flags, and Sentry's refusal bodies
 * ({"detail": ...}, {"role": [...]}, {"role": "..."}, non_field_errors, a
 * JSON string).
 */
#include "config.h"
#include "fake_http.h"
#include "httpc.h"
#include "integrations/sentry/sentry_client.h"
#include "log.h"
#include "metrics.h"
#include "suites.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Also declared in suites.h once registered there; repeated here so this
 * file builds on its own (a compatible redeclaration is harmless). */
Suite *sentry_suite(void);

#define TOKEN "sntrys-test-token-0123456789"
#define ORG "acme"
/* What Sentry's system.url-prefix says: not where we talk to it. */
#define WRONG "http://sentry.wrong.example:9000"

static struct fake_http *fh;
static struct config cfg;
static struct metrics *mx;
static struct sentry_client *sc;

static const char *const json_hdr[] = {"Content-Type: application/json", NULL};

static void fill_cfg(const char *base_url)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.sentry.base_url = strdup(base_url);
	cfg.sentry.organization = strdup(ORG);
	cfg.sentry.token = strdup(TOKEN);
	ck_assert_ptr_nonnull(cfg.sentry.base_url);
	ck_assert_ptr_nonnull(cfg.sentry.organization);
	ck_assert_ptr_nonnull(cfg.sentry.token);
	cfg.sentry.http.timeout_ms = 5000;
	cfg.sentry.http.connect_timeout_ms = 2000;
	cfg.sentry.http.max_retries = 1;
	cfg.sentry.http.max_concurrency = 8;
}

static void free_cfg(void)
{
	free(cfg.sentry.base_url);
	free(cfg.sentry.organization);
	free(cfg.sentry.token);
	memset(&cfg, 0, sizeof cfg);
}

static void setup(void)
{
	ck_assert_int_eq(httpc_global_init(), 0);
	fh = fake_http_start();
	ck_assert_ptr_nonnull(fh);
	mx = metrics_new();
	ck_assert_ptr_nonnull(mx);
	fill_cfg(fake_http_url(fh));
	struct err e = {0};
	sc = sentry_client_new(&cfg, NULL, mx, &e);
	ck_assert_msg(sc != NULL, "sentry_client_new: %s", e.msg);
}

static void teardown(void)
{
	sentry_client_free(sc);
	sc = NULL;
	fake_http_stop(fh);
	fh = NULL;
	metrics_free(mx);
	mx = NULL;
	free_cfg();
	httpc_global_cleanup();
}

/* Push one reply (status 0 = 200). */
static void push(const char *match, int status, const char *const *headers, const char *body)
{
	struct fake_reply r = {.match = match, .status = status, .headers = headers, .body = body};
	ck_assert_int_eq(fake_http_push(fh, &r), 0);
}

static void push_delayed(const char *match, const char *const *headers, const char *body, int64_t delay_ms)
{
	struct fake_reply r = {.match = match, .headers = headers, .body = body, .delay_ms = delay_ms};
	ck_assert_int_eq(fake_http_push(fh, &r), 0);
}

/* A Link header as Sentry writes it: previous and next, both always
 * present, URLs on the (wrong) url-prefix. next_cursor NULL: last page. */
static char *link_hdr(const char *path, const char *query, const char *prev_cursor, const char *next_cursor,
		      int has_next)
{
	char *s = NULL;
	const char *nc = next_cursor ? next_cursor : "100:9:0";
	int n = asprintf(&s,
			 "Link: <" WRONG "%s?%s&cursor=%s>; rel=\"previous\"; results=\"%s\"; cursor=\"%s\", "
			 "<" WRONG "%s?%s&cursor=%s>; rel=\"next\"; results=\"%s\"; cursor=\"%s\"",
			 path, query, prev_cursor, strcmp(prev_cursor, "100:-1:1") ? "true" : "false", prev_cursor,
			 path, query, nc, has_next ? "true" : "false", nc);
	ck_assert_int_gt(n, 0);
	return s;
}

/* Push a list page with JSON body and a Link header. */
static void push_page(const char *match, const char *path, const char *query, const char *prev_cursor,
		      const char *next_cursor, int has_next, const char *body, int64_t delay_ms)
{
	char *l = link_hdr(path, query, prev_cursor, next_cursor, has_next);
	const char *h[] = {"Content-Type: application/json", l, NULL};
	push_delayed(match, h, body, delay_ms);
	free(l);
}

static const struct fake_request *req_at(size_t i)
{
	const struct fake_request *r = fake_http_request(fh, i);
	ck_assert_msg(r != NULL, "no request %zu", i);
	return r;
}

static void assert_auth(const struct fake_request *r)
{
	const char *a = fake_request_header(r, "Authorization");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a, "Bearer " TOKEN);
}

static const struct sentry_member *find_member(const struct sentry_member *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return &v[i];
	return NULL;
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

#define MEMBERS_PATH "/api/0/organizations/" ORG "/members/"
#define TEAMS_PATH "/api/0/organizations/" ORG "/teams/"

/* ---- construction ---- */

START_TEST(test_new_requires_config)
{
	struct err e = {0};
	struct config c;
	memset(&c, 0, sizeof c);
	c.sentry.base_url = "";
	c.sentry.organization = ORG;
	c.sentry.token = TOKEN;
	ck_assert_ptr_null(sentry_client_new(&c, NULL, NULL, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "base_url"));
	c.sentry.base_url = "http://127.0.0.1:1";
	c.sentry.organization = "";
	ck_assert_ptr_null(sentry_client_new(&c, NULL, NULL, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "organization"));
	c.sentry.organization = ORG;
	c.sentry.token = NULL;
	ck_assert_ptr_null(sentry_client_new(&c, NULL, NULL, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "token"));
	ck_assert_ptr_null(strstr(e.msg, TOKEN));
	ck_assert_ptr_null(sentry_client_new(NULL, NULL, NULL, &e));
	sentry_client_free(NULL);
	sentry_members_free(NULL, 0);
	sentry_teams_free(NULL, 0);
	sentry_ids_free(NULL, 0);
	sentry_result_clear(NULL);
	/* a trailing slash on the base URL is not doubled */
	c.sentry.base_url = "http://127.0.0.1:1/";
	c.sentry.token = TOKEN;
	struct sentry_client *x = sentry_client_new(&c, NULL, NULL, &e);
	ck_assert_ptr_nonnull(x);
	sentry_client_free(x);
}
END_TEST

/* ---- members ---- */

START_TEST(test_members_three_pages)
{
	/* page 1: a full member whose orgRole wins over the deprecated role,
	 * and a member known only by role */
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:-1:1", "100:1:0", 1,
		  "[{\"id\":\"1\",\"email\":\"ann@example.com\",\"orgRole\":\"manager\",\"role\":\"admin\","
		  "\"pending\":false,\"expired\":false,\"user\":{\"id\":\"9\"},\"flags\":{\"idp:provisioned\":false,"
		  "\"sso:linked\":true}},"
		  "{\"id\":\"2\",\"email\":\"bob@example.com\",\"role\":\"member\",\"user\":{\"id\":\"10\"}}]",
		  0);
	/* page 2: a pending (expired) invite and an IdP-provisioned owner */
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:0:1", "100:2:0", 1,
		  "[{\"id\":\"3\",\"email\":\"new@example.com\",\"orgRole\":\"member\",\"pending\":true,"
		  "\"expired\":true,\"user\":null,\"flags\":{}},"
		  "{\"id\":\"4\",\"email\":\"own@example.com\",\"orgRole\":\"owner\",\"pending\":false,"
		  "\"expired\":false,\"user\":{\"id\":\"11\"},\"flags\":{\"idp:provisioned\":true}}]",
		  0);
	/* page 3: rel="next" is still there, with results="false" */
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:1:1", "100:3:0", 0,
		  "[{\"id\":\"5\",\"email\":\"eve@example.com\",\"orgRole\":\"member\",\"pending\":false,"
		  "\"user\":{\"id\":\"12\"}}]",
		  0);
	/* a fourth page would be an error: nothing may ask for it */
	push("GET " MEMBERS_PATH, 500, json_hdr, "{\"detail\":\"should not be asked\"}");

	struct sentry_member *v = NULL;
	size_t n = 0;
	struct err e = {0};
	ck_assert_msg(sentry_list_members(sc, &v, &n, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(fake_http_count(fh), 3);

	/* our own base URL every time; only the cursor is reused */
	const char *want_q[] = {"per_page=100", "per_page=100&cursor=100%3A1%3A0", "per_page=100&cursor=100%3A2%3A0"};
	for (size_t i = 0; i < 3; i++) {
		const struct fake_request *r = req_at(i);
		ck_assert_str_eq(r->method, "GET");
		ck_assert_str_eq(r->path, MEMBERS_PATH);
		ck_assert_ptr_nonnull(r->query);
		ck_assert_str_eq(r->query, want_q[i]);
		assert_auth(r);
	}

	const struct sentry_member *m = find_member(v, n, "1");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->email, "ann@example.com");
	ck_assert_str_eq(m->role, "manager");
	ck_assert(!m->pending && !m->expired && !m->idp_provisioned);
	ck_assert_ptr_null(m->teams);
	ck_assert_uint_eq(m->nteams, 0);
	m = find_member(v, n, "2");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->role, "member");
	ck_assert(!m->pending);
	m = find_member(v, n, "3");
	ck_assert_ptr_nonnull(m);
	ck_assert(m->pending && m->expired && !m->idp_provisioned);
	m = find_member(v, n, "4");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->role, "owner");
	ck_assert(m->idp_provisioned && !m->pending);
	ck_assert_ptr_nonnull(find_member(v, n, "5"));
	sentry_members_free(v, n);
}
END_TEST

START_TEST(test_members_first_page_last)
{
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:-1:1", "100:1:0", 0,
		  "[{\"id\":\"1\",\"email\":\"a@example.com\",\"orgRole\":\"member\"}]", 0);
	struct sentry_member *v = NULL;
	size_t n = 0;
	struct err e = {0};
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(fake_http_count(fh), 1);
	/* pending falls back to "user is null" when the field is absent */
	ck_assert(!v[0].pending);
	sentry_members_free(v, n);

	/* no Link header at all: one page; an empty list is fine */
	fake_http_reset(fh);
	push("GET " MEMBERS_PATH, 200, json_hdr,
	     "[{\"id\":7,\"email\":\"i@example.com\",\"role\":\"member\","
	     "\"user\":null}]");
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].id, "7"); /* integer ids are tolerated */
	ck_assert(v[0].pending);
	sentry_members_free(v, n);
}
END_TEST

/* Whatever Sentry's url-prefix says, the warning is logged once. */
START_TEST(test_members_wrong_prefix_logged)
{
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *lf = open_memstream(&logbuf, &loglen);
	ck_assert_ptr_nonnull(lf);
	struct logger *lg = logger_new(LOG_FORMAT_JSON, LOG_LVL_INFO, lf);
	ck_assert_ptr_nonnull(lg);
	struct err e = {0};
	struct sentry_client *c = sentry_client_new(&cfg, lg, NULL, &e);
	ck_assert_ptr_nonnull(c);
	for (int k = 0; k < 2; k++) {
		push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:-1:1", "100:1:0", 1, "[]", 0);
		push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:0:1", "100:2:0", 0, "[]", 0);
		struct sentry_member *v = NULL;
		size_t n = 0;
		ck_assert_int_eq(sentry_list_members(c, &v, &n, &e), 0);
		ck_assert_uint_eq(n, 0);
		sentry_members_free(v, n);
	}
	sentry_client_free(c);
	logger_free(lg);
	fclose(lf);
	const char *w = strstr(logbuf, "url-prefix");
	ck_assert_msg(w != NULL, "log: %s", logbuf);
	ck_assert_ptr_null(strstr(w + 1, "url-prefix"));
	ck_assert_ptr_null(strstr(logbuf, TOKEN));
	free(logbuf);
}
END_TEST

START_TEST(test_members_bad_answers)
{
	struct sentry_member *v = NULL;
	size_t n = 0;
	struct err e = {0};

	/* a refusal of the listing is an error with Sentry's text */
	push("GET " MEMBERS_PATH, 403, json_hdr, "{\"detail\":\"You do not have permission to perform this action.\"}");
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(e.msg, "403"));
	ck_assert_ptr_nonnull(strstr(e.msg, "You do not have permission"));

	/* not an array */
	push("GET " MEMBERS_PATH, 200, json_hdr, "{\"id\":\"1\"}");
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "array"));

	/* a member without an id fails the listing (never silently dropped) */
	push("GET " MEMBERS_PATH, 200, json_hdr, "[{\"id\":\"1\",\"email\":\"a@x\"},{\"email\":\"b@x\"}]");
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "no id"));

	/* a malformed Link is not "last page": the second page's error must
	 * fail the whole listing */
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:-1:1", "100:1:0", 1,
		  "[{\"id\":\"1\",\"email\":\"a@x\"}]", 0);
	const char *bad_link[] = {"Content-Type: application/json", "Link: <" WRONG "/x; rel=\"next\"", NULL};
	push("GET " MEMBERS_PATH, 200, bad_link, "[{\"id\":\"2\",\"email\":\"b@x\"}]");
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "Link"));
	ck_assert_ptr_null(v);

	/* a next link without a cursor is not followed to another host */
	const char *no_cursor[] = {"Content-Type: application/json",
				   "Link: <" WRONG MEMBERS_PATH "?cursor=1>; rel=\"next\"; results=\"true\"", NULL};
	push("GET " MEMBERS_PATH, 200, no_cursor, "[]");
	size_t before = fake_http_count(fh);
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "cursor"));
	ck_assert_uint_eq(fake_http_count(fh), before + 1);

	/* a cursor that repeats would loop forever */
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:-1:1", "100:1:0", 1, "[]", 0);
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:0:1", "100:1:0", 1, "[]", 0);
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "repeats"));
	ck_assert_ptr_null(strstr(e.msg, TOKEN));
}
END_TEST

/* 429 without Retry-After (self-hosted sends none): back off, then go on. */
START_TEST(test_members_429_then_success)
{
	push("GET " MEMBERS_PATH, 429, json_hdr,
	     "\"You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds\"");
	push_page("GET " MEMBERS_PATH, MEMBERS_PATH, "per_page=100", "100:-1:1", "100:1:0", 0,
		  "[{\"id\":\"1\",\"email\":\"a@example.com\",\"orgRole\":\"member\"}]", 0);
	struct sentry_member *v = NULL;
	size_t n = 0;
	struct err e = {0};
	ck_assert_msg(sentry_list_members(sc, &v, &n, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(fake_http_count(fh), 2);
	ck_assert_str_eq(req_at(1)->query, "per_page=100");
	sentry_members_free(v, n);
}
END_TEST

/* ---- teams ---- */

START_TEST(test_teams_list)
{
	push_page("GET " TEAMS_PATH, TEAMS_PATH, "detailed=0&per_page=100", "100:-1:1", "100:1:0", 1,
		  "[{\"id\":\"10\",\"slug\":\"backend\",\"name\":\"Backend\",\"isMember\":false,"
		  "\"flags\":{\"idp:provisioned\":false}},"
		  "{\"id\":\"11\",\"slug\":\"scim-team\",\"name\":\"SCIM Team\",\"flags\":{\"idp:provisioned\":true}}]",
		  0);
	push_page("GET " TEAMS_PATH, TEAMS_PATH, "detailed=0&per_page=100", "100:0:1", "100:2:0", 0,
		  "[{\"id\":\"12\",\"slug\":\"ops\",\"name\":\"Ops\"}]", 0);
	struct sentry_team *t = NULL;
	size_t n = 0;
	struct err e = {0};
	ck_assert_msg(sentry_list_teams(sc, &t, &n, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(fake_http_count(fh), 2);
	ck_assert_str_eq(req_at(0)->query, "detailed=0&per_page=100");
	ck_assert_str_eq(req_at(1)->query, "detailed=0&per_page=100&cursor=100%3A1%3A0");
	ck_assert_str_eq(req_at(1)->path, TEAMS_PATH);
	assert_auth(req_at(0));
	ck_assert_str_eq(t[0].id, "10");
	ck_assert_str_eq(t[0].slug, "backend");
	ck_assert_str_eq(t[0].name, "Backend");
	ck_assert(!t[0].idp_provisioned);
	ck_assert_str_eq(t[1].slug, "scim-team");
	ck_assert(t[1].idp_provisioned);
	ck_assert_str_eq(t[2].slug, "ops");
	ck_assert(!t[2].idp_provisioned);
	sentry_teams_free(t, n);

	/* a team without a slug fails the listing */
	push("GET " TEAMS_PATH, 200, json_hdr, "[{\"id\":\"10\",\"name\":\"x\"}]");
	ck_assert_int_eq(sentry_list_teams(sc, &t, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "slug"));
}
END_TEST

/* ---- team members ---- */

#define TM(slug) "/api/0/teams/" ORG "/" slug "/members/"

START_TEST(test_team_members_concurrent)
{
	/* backend: 3 pages, frontend: 2 pages, ops: 1 page. First pages are
	 * slow so that their requests overlap at the server. */
	push_page("GET " TM("backend"), TM("backend"), "per_page=100", "100:-1:1", "100:1:0", 1,
		  "[{\"id\":\"1\",\"teamRole\":null},{\"id\":\"2\",\"teamRole\":\"admin\"}]", 300);
	push_page("GET " TM("backend"), TM("backend"), "per_page=100", "100:0:1", "100:2:0", 1, "[{\"id\":\"3\"}]",
		  100);
	push_page("GET " TM("backend"), TM("backend"), "per_page=100", "100:1:1", "100:3:0", 0, "[{\"id\":\"4\"}]", 0);
	push_page("GET " TM("frontend"), TM("frontend"), "per_page=100", "100:-1:1", "100:1:0", 1, "[{\"id\":\"2\"}]",
		  300);
	push_page("GET " TM("frontend"), TM("frontend"), "per_page=100", "100:0:1", "100:2:0", 0, "[{\"id\":\"5\"}]",
		  100);
	push_page("GET " TM("ops"), TM("ops"), "per_page=100", "100:-1:1", "100:1:0", 0, "[]", 300);

	const char *slugs[] = {"backend", "frontend", "ops"};
	char **ids[3] = {0};
	size_t nids[3] = {0};
	struct err e = {0};
	ck_assert_msg(sentry_teams_members(sc, slugs, 3, ids, nids, &e) == 0, "%s", e.msg);

	ck_assert_uint_eq(fake_http_count(fh), 6);
	ck_assert_uint_eq(fake_http_pending(fh), 0);
	/* the three first pages were in flight together (read one after the
	 * other, the server would never see more than one at a time) */
	ck_assert_int_ge(fake_http_max_concurrent(fh), 3);

	ck_assert_uint_eq(nids[0], 4);
	ck_assert_str_eq(ids[0][0], "1");
	ck_assert_str_eq(ids[0][1], "2");
	ck_assert_str_eq(ids[0][2], "3");
	ck_assert_str_eq(ids[0][3], "4");
	ck_assert_uint_eq(nids[1], 2);
	ck_assert_str_eq(ids[1][0], "2");
	ck_assert_str_eq(ids[1][1], "5");
	ck_assert_uint_eq(nids[2], 0);

	/* per_page on every page, cursors on our own host */
	int saw_backend_p3 = 0;
	for (size_t i = 0; i < 6; i++) {
		const struct fake_request *r = req_at(i);
		ck_assert_ptr_nonnull(r->query);
		ck_assert_ptr_nonnull(strstr(r->query, "per_page=100"));
		assert_auth(r);
		if (!strcmp(r->path, TM("backend")) && !strcmp(r->query, "per_page=100&cursor=100%3A2%3A0"))
			saw_backend_p3 = 1;
	}
	ck_assert(saw_backend_p3);
	for (size_t i = 0; i < 3; i++)
		sentry_ids_free(ids[i], nids[i]);

	/* no teams: nothing asked */
	fake_http_reset(fh);
	ck_assert_int_eq(sentry_teams_members(sc, NULL, 0, NULL, NULL, &e), 0);
	ck_assert_uint_eq(fake_http_count(fh), 0);
}
END_TEST

START_TEST(test_team_members_404)
{
	push_page("GET " TM("backend"), TM("backend"), "per_page=100", "100:-1:1", "100:1:0", 0, "[{\"id\":\"1\"}]", 0);
	push("GET " TM("gone"), 404, json_hdr, "{\"detail\":\"The requested resource does not exist\"}");
	const char *slugs[] = {"backend", "gone"};
	char **ids[2] = {0};
	size_t nids[2] = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_teams_members(sc, slugs, 2, ids, nids, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "\"gone\""));
	ck_assert_ptr_nonnull(strstr(e.msg, "404"));
	/* nothing handed back on failure */
	ck_assert_ptr_null(ids[0]);
	ck_assert_ptr_null(ids[1]);
	ck_assert_uint_eq(nids[0], 0);
}
END_TEST

/* ---- writes ---- */

#define MEMBER42 "/api/0/organizations/" ORG "/members/42/"

START_TEST(test_set_role)
{
	push("PUT " MEMBER42, 200, json_hdr, "{\"id\":\"42\",\"orgRole\":\"manager\"}");
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_set_role(sc, "42", "manager", &res, &e), 0);
	ck_assert_int_eq(res.status, 200);
	ck_assert_ptr_null(res.message);
	ck_assert_ptr_null(res.member_id);
	ck_assert_uint_eq(fake_http_count(fh), 1);
	const struct fake_request *r = req_at(0);
	ck_assert_str_eq(r->method, "PUT");
	ck_assert_str_eq(r->path, MEMBER42);
	/* orgRole only: teamRoles would replace every team membership */
	ck_assert_str_eq(r->body, "{\"orgRole\":\"manager\"}");
	ck_assert_str_eq(fake_request_header(r, "Content-Type"), "application/json");
	assert_auth(r);
	sentry_result_clear(&res);

	/* ids and team slugs are URL-encoded as path segments */
	push(NULL, 200, json_hdr, "{}");
	ck_assert_int_eq(sentry_set_role(sc, "4/2 x", "member", &res, &e), 0);
	ck_assert_str_eq(req_at(1)->uri, "/api/0/organizations/" ORG "/members/4%2F2%20x/");
	sentry_result_clear(&res);

	/* missing arguments are refused before sending */
	ck_assert_int_eq(sentry_set_role(sc, "", "member", &res, &e), -1);
	ck_assert_int_eq(sentry_set_role(sc, "42", NULL, &res, &e), -1);
	ck_assert_uint_eq(fake_http_count(fh), 2);
}
END_TEST

START_TEST(test_add_to_team_statuses)
{
	static const char path[] = MEMBER42 "teams/backend/";
	push("POST " MEMBER42 "teams/backend/", 201, json_hdr, "{\"id\":\"10\",\"slug\":\"backend\"}");
	push("POST " MEMBER42 "teams/backend/", 202, json_hdr, "{\"id\":\"10\",\"slug\":\"backend\"}");
	push("POST " MEMBER42 "teams/backend/", 204, NULL, NULL);
	const long want[] = {201, 202, 204};
	for (size_t i = 0; i < 3; i++) {
		struct sentry_result res = {0};
		struct err e = {0};
		ck_assert_int_eq(sentry_add_to_team(sc, "42", "backend", &res, &e), 0);
		ck_assert_int_eq(res.status, want[i]);
		ck_assert_ptr_null(res.message);
		const struct fake_request *r = req_at(i);
		ck_assert_str_eq(r->method, "POST");
		ck_assert_str_eq(r->path, path);
		ck_assert_uint_eq(r->body_len, 0);
		assert_auth(r);
		sentry_result_clear(&res);
	}

	/* IdP-provisioned team: Sentry's refusal */
	push("POST " MEMBER42 "teams/scim/", 403, json_hdr,
	     "{\"detail\":\"This team is managed through your organization's identity provider.\"}");
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_add_to_team(sc, "42", "scim", &res, &e), 0);
	ck_assert_int_eq(res.status, 403);
	ck_assert_str_eq(res.message, "This team is managed through your organization's identity provider.");
	sentry_result_clear(&res);

	/* a POST is not retried after a 5xx (it may have been applied) */
	push("POST " MEMBER42 "teams/backend/", 503, NULL, "<html>busy</html>");
	push("POST " MEMBER42 "teams/backend/", 201, json_hdr, "{}");
	size_t before = fake_http_count(fh);
	ck_assert_int_eq(sentry_add_to_team(sc, "42", "backend", &res, &e), 0);
	ck_assert_int_eq(res.status, 503);
	ck_assert_str_eq(res.message, "HTTP 503");
	ck_assert_uint_eq(fake_http_count(fh), before + 1);
	sentry_result_clear(&res);
}
END_TEST

START_TEST(test_remove_from_team)
{
	push("DELETE " MEMBER42 "teams/backend/", 200, json_hdr, "{\"id\":\"10\",\"slug\":\"backend\"}");
	push("DELETE " MEMBER42 "teams/backend/", 204, NULL, NULL);
	for (long want = 200; want <= 204; want += 4) {
		struct sentry_result res = {0};
		struct err e = {0};
		ck_assert_int_eq(sentry_remove_from_team(sc, "42", "backend", &res, &e), 0);
		ck_assert_int_eq(res.status, want);
		ck_assert_ptr_null(res.message);
		sentry_result_clear(&res);
	}
	ck_assert_str_eq(req_at(0)->method, "DELETE");
	ck_assert_str_eq(req_at(0)->path, MEMBER42 "teams/backend/");
	/* a DELETE is idempotent: retried after a 5xx */
	push("DELETE " MEMBER42 "teams/backend/", 502, NULL, NULL);
	push("DELETE " MEMBER42 "teams/backend/", 204, NULL, NULL);
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_remove_from_team(sc, "42", "backend", &res, &e), 0);
	ck_assert_int_eq(res.status, 204);
	ck_assert_uint_eq(fake_http_count(fh), 4);
	sentry_result_clear(&res);
}
END_TEST

START_TEST(test_invite)
{
	push("POST " MEMBERS_PATH, 201, json_hdr,
	     "{\"id\":\"77\",\"email\":\"new@example.com\",\"orgRole\":\"member\",\"pending\":true}");
	const char *teams[] = {"backend", "ops"};
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_invite(sc, "new@example.com", "member", teams, 2, &res, &e), 0);
	ck_assert_int_eq(res.status, 201);
	ck_assert_ptr_null(res.message);
	ck_assert_ptr_nonnull(res.member_id);
	ck_assert_str_eq(res.member_id, "77");
	const struct fake_request *r = req_at(0);
	ck_assert_str_eq(r->method, "POST");
	ck_assert_str_eq(r->path, MEMBERS_PATH);
	ck_assert_str_eq(r->body,
			 "{\"email\":\"new@example.com\",\"orgRole\":\"member\",\"teams\":[\"backend\",\"ops\"],"
			 "\"sendInvite\":true}");
	ck_assert_str_eq(fake_request_header(r, "Content-Type"), "application/json");
	assert_auth(r);
	sentry_result_clear(&res);

	/* no teams: an empty list */
	push("POST " MEMBERS_PATH, 201, json_hdr, "{\"id\":\"78\"}");
	ck_assert_int_eq(sentry_invite(sc, "x\"y@example.com", "manager", NULL, 0, &res, &e), 0);
	ck_assert_str_eq(req_at(1)->body,
			 "{\"email\":\"x\\\"y@example.com\",\"orgRole\":\"manager\",\"teams\":[],\"sendInvite\":true}");
	ck_assert_str_eq(res.member_id, "78");
	sentry_result_clear(&res);

	/* already there: status and message for the engine to decide */
	push("POST " MEMBERS_PATH, 400, json_hdr, "{\"email\":[\"The user new@example.com is already a member\"]}");
	ck_assert_int_eq(sentry_invite(sc, "new@example.com", "member", NULL, 0, &res, &e), 0);
	ck_assert_int_eq(res.status, 400);
	ck_assert_str_eq(res.message, "email: The user new@example.com is already a member");
	ck_assert_ptr_null(res.member_id);
	sentry_result_clear(&res);
	push("POST " MEMBERS_PATH, 400, json_hdr,
	     "{\"email\":[\"The user new@example.com has already been invited\"]}");
	ck_assert_int_eq(sentry_invite(sc, "new@example.com", "member", NULL, 0, &res, &e), 0);
	ck_assert_ptr_nonnull(strstr(res.message, "already been invited"));
	sentry_result_clear(&res);

	/* bad input is refused before sending */
	ck_assert_int_eq(sentry_invite(sc, "bad\xff@example.com", "member", NULL, 0, &res, &e), -1);
	ck_assert_int_eq(sentry_invite(sc, "", "member", NULL, 0, &res, &e), -1);
	ck_assert_uint_eq(fake_http_count(fh), 4);
}
END_TEST

START_TEST(test_remove_member)
{
	push("DELETE " MEMBER42, 204, NULL, NULL);
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_int_eq(res.status, 204);
	ck_assert_ptr_null(res.message);
	ck_assert_str_eq(req_at(0)->method, "DELETE");
	ck_assert_str_eq(req_at(0)->path, MEMBER42);
	ck_assert_uint_eq(req_at(0)->body_len, 0);
	assert_auth(req_at(0));
	sentry_result_clear(&res);
}
END_TEST

/* Sentry's refusals come back as status + message, not as call failures. */
START_TEST(test_refusal_messages)
{
	struct sentry_result res = {0};
	struct err e = {0};

	/* last owner (newest and older wording) */
	push("DELETE " MEMBER42, 403, json_hdr,
	     "{\"detail\":\"You cannot remove the only remaining owner or manager of the organization.\"}");
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_int_eq(res.status, 403);
	ck_assert_str_eq(res.message, "You cannot remove the only remaining owner or manager of the organization.");
	sentry_result_clear(&res);

	/* the retired admin role: a DRF field error list */
	push("PUT " MEMBER42, 400, json_hdr,
	     "{\"role\":[\"The role 'admin' is deprecated and may no longer be assigned.\"]}");
	ck_assert_int_eq(sentry_set_role(sc, "42", "admin", &res, &e), 0);
	ck_assert_int_eq(res.status, 400);
	ck_assert_str_eq(res.message, "role: The role 'admin' is deprecated and may no longer be assigned.");
	sentry_result_clear(&res);

	/* insufficient rights: the field error as a plain string */
	push("PUT " MEMBER42, 403, json_hdr, "{\"role\":\"You do not have permission to assign the given role.\"}");
	ck_assert_int_eq(sentry_set_role(sc, "42", "owner", &res, &e), 0);
	ck_assert_int_eq(res.status, 403);
	ck_assert_str_eq(res.message, "role: You do not have permission to assign the given role.");
	sentry_result_clear(&res);

	/* IdP-provisioned member */
	push("DELETE " MEMBER42, 403, json_hdr,
	     "{\"detail\":\"This user is managed through your organization's identity provider.\"}");
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_str_eq(res.message, "This user is managed through your organization's identity provider.");
	sentry_result_clear(&res);

	/* detail wins over field errors; non_field_errors come after them */
	push("PUT " MEMBER42, 409, json_hdr,
	     "{\"non_field_errors\":[\"A team with this slug already exists.\"],\"detail\":\"Conflict here\"}");
	ck_assert_int_eq(sentry_set_role(sc, "42", "member", &res, &e), 0);
	ck_assert_str_eq(res.message, "Conflict here");
	sentry_result_clear(&res);
	push("PUT " MEMBER42, 409, json_hdr, "{\"non_field_errors\":[\"A team with this slug already exists.\"]}");
	ck_assert_int_eq(sentry_set_role(sc, "42", "member", &res, &e), 0);
	ck_assert_str_eq(res.message, "A team with this slug already exists.");
	sentry_result_clear(&res);

	/* newer Sentry: detail as an object with a message */
	push("DELETE " MEMBER42, 401, json_hdr,
	     "{\"detail\":{\"code\":\"sudo-required\",\"message\":\"Account verification required.\"}}");
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_str_eq(res.message, "Account verification required.");
	sentry_result_clear(&res);

	/* a JSON string body (the rate-limit middleware's shape) */
	push("DELETE " MEMBER42, 403, json_hdr, "\"You are attempting to use this endpoint too frequently.\"");
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_str_eq(res.message, "You are attempting to use this endpoint too frequently.");
	sentry_result_clear(&res);

	/* no usable body */
	push("DELETE " MEMBER42, 404, NULL, "<html>Not Found</html>");
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_int_eq(res.status, 404);
	ck_assert_str_eq(res.message, "HTTP 404");
	sentry_result_clear(&res);

	/* a long message is bounded, control characters are blanked */
	size_t big = 3000;
	char *body = malloc(big + 64);
	ck_assert_ptr_nonnull(body);
	strcpy(body, "{\"detail\":\"line1\\nline2 ");
	size_t l = strlen(body);
	memset(body + l, 'x', big);
	strcpy(body + l + big, "\"}");
	push("DELETE " MEMBER42, 400, json_hdr, body);
	free(body);
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	ck_assert_uint_le(strlen(res.message), 500);
	ck_assert_uint_ge(strlen(res.message), 400);
	ck_assert(!strncmp(res.message, "line1 line2 xxx", 15));
	sentry_result_clear(&res);

	/* multi-byte characters are not cut in the middle */
	char *ub = malloc(2000);
	ck_assert_ptr_nonnull(ub);
	strcpy(ub, "{\"detail\":\"x");
	for (int i = 0; i < 300; i++)
		strcat(ub, "\xc3\xa9"); /* é: 2 bytes, from an odd offset */
	strcat(ub, "\"}");
	push("DELETE " MEMBER42, 400, json_hdr, ub);
	free(ub);
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), 0);
	size_t ml = strlen(res.message);
	ck_assert_uint_le(ml, 500);
	ck_assert_int_ne((unsigned char)res.message[ml - 1], 0xc3);
	ck_assert_uint_eq(ml % 2, 1);
	sentry_result_clear(&res);
}
END_TEST

/* 429 without Retry-After: httpc backs off and the write goes through. */
START_TEST(test_write_429_then_success)
{
	push("PUT " MEMBER42, 429, json_hdr, "\"You are attempting to use this endpoint too frequently.\"");
	push("PUT " MEMBER42, 200, json_hdr, "{\"id\":\"42\"}");
	/* a POST too: a 429 certainly was not processed */
	push("POST " MEMBER42 "teams/ops/", 429, json_hdr, "{\"detail\":\"slow down\"}");
	push("POST " MEMBER42 "teams/ops/", 201, json_hdr, "{}");
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_set_role(sc, "42", "manager", &res, &e), 0);
	ck_assert_int_eq(res.status, 200);
	ck_assert_ptr_null(res.message);
	sentry_result_clear(&res);
	ck_assert_int_eq(sentry_add_to_team(sc, "42", "ops", &res, &e), 0);
	ck_assert_int_eq(res.status, 201);
	sentry_result_clear(&res);
	ck_assert_uint_eq(fake_http_count(fh), 4);
	ck_assert_str_eq(req_at(1)->body, "{\"orgRole\":\"manager\"}");
}
END_TEST

START_TEST(test_transport_failure)
{
	struct sentry_result res = {0};
	struct err e = {0};

	/* a POST cut off mid-way is not retried (it may have been applied) */
	struct fake_reply drop = {.match = "POST " MEMBERS_PATH, .drop = 1, .times = -1};
	ck_assert_int_eq(fake_http_push(fh, &drop), 0);
	ck_assert_int_eq(sentry_invite(sc, "a@example.com", "member", NULL, 0, &res, &e), -1);
	ck_assert_int_ne(e.code, 0);
	ck_assert(e.msg[0] != '\0');
	ck_assert_ptr_null(strstr(e.msg, TOKEN));
	ck_assert_int_eq(res.status, 0);
	ck_assert_ptr_null(res.message);
	ck_assert_uint_eq(fake_http_count(fh), 1);
	sentry_result_clear(&res);

	/* a PUT is retried (max_retries 1), then fails */
	struct fake_reply drop_put = {.match = "PUT " MEMBER42, .drop = 1, .times = -1};
	ck_assert_int_eq(fake_http_push(fh, &drop_put), 0);
	ck_assert_int_eq(sentry_set_role(sc, "42", "member", &res, &e), -1);
	ck_assert_uint_eq(fake_http_count(fh), 3);
	sentry_result_clear(&res);

	/* nobody listening: reads fail too */
	sentry_client_free(sc);
	sc = NULL;
	free_cfg();
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u", dead_port());
	fill_cfg(url);
	cfg.sentry.http.max_retries = 0; /* config 0: no retries */
	sc = sentry_client_new(&cfg, NULL, NULL, &e);
	ck_assert_ptr_nonnull(sc);
	struct sentry_member *v = NULL;
	size_t n = 7;
	ck_assert_int_eq(sentry_list_members(sc, &v, &n, &e), -1);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(sentry_remove_member(sc, "42", &res, &e), -1);
	const char *slugs[] = {"a", "b"};
	char **ids[2];
	size_t nids[2];
	ck_assert_int_eq(sentry_teams_members(sc, slugs, 2, ids, nids, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "team \"a\""));
	ck_assert_ptr_null(ids[0]);
	ck_assert_ptr_null(ids[1]);
}
END_TEST

/* ---- projects and team/project creation ---- */

#define PROJECTS_PATH "/api/0/organizations/" ORG "/projects/"

START_TEST(test_projects_list)
{
	push_page("GET " PROJECTS_PATH, PROJECTS_PATH, "per_page=100", "100:-1:1", "100:1:0", 1,
		  "[{\"id\":\"1\",\"slug\":\"api\",\"name\":\"API\",\"platform\":\"python\","
		  "\"team\":{\"id\":\"5\",\"slug\":\"platform\",\"name\":\"Platform\"},"
		  "\"teams\":[{\"id\":\"5\",\"slug\":\"platform\",\"name\":\"Platform\"},"
		  "{\"id\":\"6\",\"slug\":\"sre\",\"name\":\"SRE\"}]},"
		  "{\"id\":\"2\",\"slug\":\"orphan\",\"name\":\"orphan\",\"platform\":null,\"team\":null,\"teams\":[]}]",
		  0);
	/* an older release: only "team" */
	push_page("GET " PROJECTS_PATH, PROJECTS_PATH, "per_page=100", "100:0:1", "100:2:0", 0,
		  "[{\"id\":3,\"slug\":\"web\",\"name\":\"Web\",\"team\":{\"id\":\"7\",\"slug\":\"frontend\"}}]", 0);
	struct sentry_project *p = NULL;
	size_t n = 0;
	struct err e = {0};
	ck_assert_msg(sentry_list_projects(sc, &p, &n, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(fake_http_count(fh), 2);
	ck_assert_str_eq(req_at(0)->query, "per_page=100");
	ck_assert_str_eq(req_at(1)->query, "per_page=100&cursor=100%3A1%3A0");
	assert_auth(req_at(0));
	ck_assert_str_eq(p[0].slug, "api");
	ck_assert_str_eq(p[0].name, "API");
	ck_assert_str_eq(p[0].platform, "python");
	ck_assert_uint_eq(p[0].nteams, 2);
	ck_assert_str_eq(p[0].teams[1], "sre");
	ck_assert_str_eq(p[1].slug, "orphan");
	ck_assert_ptr_null(p[1].platform);
	ck_assert_uint_eq(p[1].nteams, 0);
	ck_assert_str_eq(p[2].id, "3");
	ck_assert_uint_eq(p[2].nteams, 1);
	ck_assert_str_eq(p[2].teams[0], "frontend");
	sentry_projects_free(p, n);

	/* a project without a slug fails the listing */
	push("GET " PROJECTS_PATH, 200, json_hdr, "[{\"id\":\"1\",\"name\":\"x\"}]");
	ck_assert_int_eq(sentry_list_projects(sc, &p, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "slug"));
}
END_TEST

START_TEST(test_create_team)
{
	push("POST " TEAMS_PATH, 201, json_hdr, "{\"id\":\"42\",\"slug\":\"platform-sre\",\"name\":\"Platform SRE\"}");
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_create_team(sc, "platform-sre", "Platform SRE", &res, &e), 0);
	ck_assert_int_eq(res.status, 201);
	ck_assert_str_eq(res.id, "42");
	ck_assert_str_eq(res.slug, "platform-sre");
	ck_assert_str_eq(req_at(0)->body, "{\"slug\":\"platform-sre\",\"name\":\"Platform SRE\"}");
	assert_auth(req_at(0));
	sentry_result_clear(&res);
	/* taken: Sentry's 409 body (sentry-api.md 3.1) */
	push("POST " TEAMS_PATH, 409, json_hdr,
	     "{\"non_field_errors\":[\"A team with this slug already exists.\"],"
	     "\"detail\":\"A team with this slug already exists.\"}");
	ck_assert_int_eq(sentry_create_team(sc, "platform-sre", "Platform SRE", &res, &e), 0);
	ck_assert_int_eq(res.status, 409);
	ck_assert_str_eq(res.message, "A team with this slug already exists.");
	ck_assert_ptr_null(res.id);
	sentry_result_clear(&res);
	/* a 5xx on a create is not retried (not idempotent) */
	push("POST " TEAMS_PATH, 500, json_hdr, "{\"detail\":\"Internal Error\"}");
	ck_assert_int_eq(sentry_create_team(sc, "x", "x", &res, &e), 0);
	ck_assert_int_eq(res.status, 500);
	ck_assert_uint_eq(fake_http_count(fh), 3);
	sentry_result_clear(&res);
	ck_assert_int_eq(sentry_create_team(sc, "", "x", &res, &e), -1);
}
END_TEST

START_TEST(test_delete_team)
{
	push("DELETE /api/0/teams/" ORG "/platform-sre/", 204, NULL, NULL);
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_delete_team(sc, "platform-sre", &res, &e), 0);
	ck_assert_int_eq(res.status, 204);
	ck_assert_str_eq(req_at(0)->method, "DELETE");
	ck_assert_str_eq(req_at(0)->path, "/api/0/teams/" ORG "/platform-sre/");
	sentry_result_clear(&res);
	push("DELETE /api/0/teams/" ORG "/gone/", 404, json_hdr, "{\"detail\":\"The requested resource does not exist\"}");
	ck_assert_int_eq(sentry_delete_team(sc, "gone", &res, &e), 0);
	ck_assert_int_eq(res.status, 404);
	ck_assert_str_eq(res.message, "The requested resource does not exist");
	sentry_result_clear(&res);
}
END_TEST

START_TEST(test_create_project)
{
	push("POST /api/0/teams/" ORG "/payments/projects/", 201, json_hdr,
	     "{\"id\":\"9\",\"slug\":\"ledger\",\"name\":\"Ledger\",\"platform\":\"go\","
	     "\"team\":{\"id\":\"3\",\"slug\":\"payments\"},\"teams\":[{\"id\":\"3\",\"slug\":\"payments\"}]}");
	struct sentry_result res = {0};
	struct err e = {0};
	ck_assert_int_eq(sentry_create_project(sc, "payments", "Ledger", "ledger", "go", &res, &e), 0);
	ck_assert_int_eq(res.status, 201);
	ck_assert_str_eq(res.id, "9");
	ck_assert_str_eq(res.slug, "ledger");
	ck_assert_str_eq(req_at(0)->body, "{\"name\":\"Ledger\",\"slug\":\"ledger\",\"platform\":\"go\"}");
	ck_assert_str_eq(fake_request_header(req_at(0), "Content-Type"), "application/json");
	sentry_result_clear(&res);
	/* no platform: none sent */
	push("POST /api/0/teams/" ORG "/payments/projects/", 201, json_hdr, "{\"id\":\"10\",\"slug\":\"ledger2\"}");
	ck_assert_int_eq(sentry_create_project(sc, "payments", "Ledger2", "ledger2", NULL, &res, &e), 0);
	ck_assert_str_eq(req_at(1)->body, "{\"name\":\"Ledger2\",\"slug\":\"ledger2\"}");
	sentry_result_clear(&res);
	/* the slug was taken between our check and the create (sentry-api.md 3.3) */
	push("POST /api/0/teams/" ORG "/payments/projects/", 409, json_hdr,
	     "{\"detail\":\"A project with this slug already exists.\"}");
	ck_assert_int_eq(sentry_create_project(sc, "payments", "Ledger", "ledger", NULL, &res, &e), 0);
	ck_assert_int_eq(res.status, 409);
	ck_assert_str_eq(res.message, "A project with this slug already exists.");
	sentry_result_clear(&res);
	/* a field error */
	push("POST /api/0/teams/" ORG "/payments/projects/", 400, json_hdr,
	     "{\"name\":[\"The name \\\"settings\\\" is reserved and not allowed.\"]}");
	ck_assert_int_eq(sentry_create_project(sc, "payments", "settings", "settings-x", NULL, &res, &e), 0);
	ck_assert_int_eq(res.status, 400);
	ck_assert_ptr_nonnull(strstr(res.message, "name: The name"));
	sentry_result_clear(&res);
	/* refused */
	push("POST /api/0/teams/" ORG "/payments/projects/", 403, json_hdr,
	     "{\"detail\":\"You do not have permission to perform this action.\"}");
	ck_assert_int_eq(sentry_create_project(sc, "payments", "Ledger", "ledger", NULL, &res, &e), 0);
	ck_assert_int_eq(res.status, 403);
	ck_assert_ptr_nonnull(strstr(res.message, "permission"));
	sentry_result_clear(&res);
	/* team slugs are one path segment */
	push("POST /api/0/teams/" ORG "/a%2Fb/projects/", 404, json_hdr, "{\"detail\":\"nope\"}");
	ck_assert_int_eq(sentry_create_project(sc, "a/b", "Ledger", "ledger", NULL, &res, &e), 0);
	ck_assert_int_eq(res.status, 404);
	sentry_result_clear(&res);
	ck_assert_int_eq(sentry_create_project(sc, "payments", "Ledger", "", NULL, &res, &e), -1);
	ck_assert_int_eq(sentry_create_project(sc, "payments", "Ledger\xff", "ledger", NULL, &res, &e), -1);
}
END_TEST

/* ---- issues (Slack triage) ---- */

#define ISSUE_PATH "/api/0/organizations/" ORG "/issues/1001/"

START_TEST(test_update_issue)
{
	struct sentry_result res = {0};
	struct err e = {0};
	push("PUT " ISSUE_PATH, 200, json_hdr, "{\"id\":\"1001\",\"status\":\"resolved\"}");
	struct sentry_issue_update u = {.status = "resolved"};
	ck_assert_int_eq(sentry_update_issue(sc, "1001", &u, &res, &e), 0);
	ck_assert_int_eq(res.status, 200);
	ck_assert_ptr_null(res.message);
	ck_assert_str_eq(req_at(0)->method, "PUT");
	ck_assert_str_eq(req_at(0)->path, ISSUE_PATH);
	ck_assert_str_eq(req_at(0)->body, "{\"status\":\"resolved\",\"statusDetails\":{}}");
	assert_auth(req_at(0));
	sentry_result_clear(&res);

	push("PUT " ISSUE_PATH, 200, json_hdr, "{}");
	u = (struct sentry_issue_update){.status = "ignored", .substatus = "archived_until_condition_met", .ignore_minutes = 60};
	ck_assert_int_eq(sentry_update_issue(sc, "1001", &u, &res, &e), 0);
	ck_assert_str_eq(req_at(1)->body, "{\"status\":\"ignored\",\"substatus\":\"archived_until_condition_met\","
					  "\"statusDetails\":{\"ignoreDuration\":60}}");
	sentry_result_clear(&res);

	push("PUT " ISSUE_PATH, 200, json_hdr, "{}");
	u = (struct sentry_issue_update){.assigned_to = "user:42"};
	ck_assert_int_eq(sentry_update_issue(sc, "1001", &u, &res, &e), 0);
	ck_assert_str_eq(req_at(2)->body, "{\"assignedTo\":\"user:42\"}");
	sentry_result_clear(&res);

	/* a DRF field error names the field; 404 carries detail */
	push("PUT " ISSUE_PATH, 400, json_hdr, "{\"assignedTo\":[\"Unknown actor input\"]}");
	ck_assert_int_eq(sentry_update_issue(sc, "1001", &u, &res, &e), 0);
	ck_assert_int_eq(res.status, 400);
	ck_assert_str_eq(res.message, "assignedTo: Unknown actor input");
	sentry_result_clear(&res);
	push("PUT /api/0/organizations/" ORG "/issues/9/", 404, json_hdr,
	     "{\"detail\":\"The requested resource does not exist\"}");
	ck_assert_int_eq(sentry_update_issue(sc, "9", &u, &res, &e), 0);
	ck_assert_int_eq(res.status, 404);
	ck_assert_str_eq(res.message, "The requested resource does not exist");
	sentry_result_clear(&res);

	/* a 500 is not retried by the client: the job queue retries */
	size_t before = fake_http_count(fh);
	push("PUT " ISSUE_PATH, 500, json_hdr, "{\"detail\":\"Internal Error\"}");
	ck_assert_int_eq(sentry_update_issue(sc, "1001", &u, &res, &e), 0);
	ck_assert_int_eq(res.status, 500);
	ck_assert_uint_eq(fake_http_count(fh), before + 1);
	sentry_result_clear(&res);

	/* the id is one path segment */
	push(NULL, 200, json_hdr, "{}");
	ck_assert_int_eq(sentry_update_issue(sc, "1/../2", &u, &res, &e), 0);
	ck_assert_str_eq(req_at(before + 1)->uri, "/api/0/organizations/" ORG "/issues/1%2F..%2F2/");
	sentry_result_clear(&res);
	ck_assert_int_eq(sentry_update_issue(sc, "", &u, &res, &e), -1);
	ck_assert_int_eq(sentry_update_issue(sc, "1001", NULL, &res, &e), -1);
}
END_TEST

START_TEST(test_find_member)
{
	struct sentry_member_ref m;
	struct err e = {0};
	push("GET " MEMBERS_PATH, 200, json_hdr,
	     "[{\"id\":\"7\",\"email\":\"ada@acme.example\",\"pending\":false,\"user\":{\"id\":\"42\"}}]");
	ck_assert_int_eq(sentry_find_member(sc, "ada@acme.example", &m, &e), 1);
	ck_assert_str_eq(m.id, "7");
	ck_assert_str_eq(m.user_id, "42");
	ck_assert(!m.pending);
	ck_assert_str_eq(req_at(0)->query, "per_page=100&query=email%3Aada%40acme.example");
	sentry_member_ref_clear(&m);

	push("GET " MEMBERS_PATH, 200, json_hdr, "[{\"id\":\"8\",\"email\":\"new@acme.example\",\"user\":null}]");
	ck_assert_int_eq(sentry_find_member(sc, "new@acme.example", &m, &e), 1);
	ck_assert(m.pending);
	ck_assert_ptr_null(m.user_id);
	sentry_member_ref_clear(&m);

	push("GET " MEMBERS_PATH, 200, json_hdr, "[]");
	ck_assert_int_eq(sentry_find_member(sc, "nobody@acme.example", &m, &e), 0);
	/* what Sentry's query tokenizer would split is nobody, without a call */
	size_t before = fake_http_count(fh);
	ck_assert_int_eq(sentry_find_member(sc, "a b@acme.example", &m, &e), 0);
	ck_assert_uint_eq(fake_http_count(fh), before);

	push("GET " MEMBERS_PATH, 403, json_hdr, "{\"detail\":\"You do not have permission to perform this action.\"}");
	ck_assert_int_eq(sentry_find_member(sc, "ada@acme.example", &m, &e), -1);
	ck_assert_msg(strstr(e.msg, "HTTP 403") != NULL, "%s", e.msg);
}
END_TEST

Suite *sentry_suite(void)
{
	Suite *s = suite_create("sentry");
	TCase *tc = tcase_create("client");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_new_requires_config);
	tcase_add_test(tc, test_members_three_pages);
	tcase_add_test(tc, test_members_first_page_last);
	tcase_add_test(tc, test_members_wrong_prefix_logged);
	tcase_add_test(tc, test_members_bad_answers);
	tcase_add_test(tc, test_members_429_then_success);
	tcase_add_test(tc, test_teams_list);
	tcase_add_test(tc, test_team_members_concurrent);
	tcase_add_test(tc, test_team_members_404);
	tcase_add_test(tc, test_set_role);
	tcase_add_test(tc, test_add_to_team_statuses);
	tcase_add_test(tc, test_remove_from_team);
	tcase_add_test(tc, test_invite);
	tcase_add_test(tc, test_remove_member);
	tcase_add_test(tc, test_refusal_messages);
	tcase_add_test(tc, test_write_429_then_success);
	tcase_add_test(tc, test_transport_failure);
	tcase_add_test(tc, test_projects_list);
	tcase_add_test(tc, test_create_team);
	tcase_add_test(tc, test_delete_team);
	tcase_add_test(tc, test_create_project);
	tcase_add_test(tc, test_update_issue);
	tcase_add_test(tc, test_find_member);
	suite_add_tcase(s, tc);
	return s;
}
