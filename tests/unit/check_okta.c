/*
 * check_okta.c: unit tests of the Okta Management API client
 * (sso/okta_client, sso/okta_auth) against the loopback fake server
 * (tests/unit/fake_http).
 *
 * Replies follow okta-api.md: arrays of group and user objects, one `link`
 * header line per relation whose next URL must be followed verbatim,
 * X-Rate-Limit-* headers and 429s, error bodies {errorCode, errorSummary,
 * errorLink, errorId, errorCauses}, and the org authorization server's
 * token endpoint for private_key_jwt (whose client assertion is verified
 * here with cjose against a key generated at test time with OpenSSL).
 */
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "fake_http.h"
#include "httpc.h"
#include "log.h"
#include "metrics.h"
#include "sso/okta_client.h"
#include "sso/okta_events.h"
#include "suites.h"

#include <check.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN "00aSSWS-test-token-0123456789abcdef"
#define CLIENT_ID "0oa1serviceapp"
#define NOW_MS 1800000000123LL /* pinned wall clock for OAuth tests */

static struct fake_http *fh;
static struct config cfg;
static struct metrics *mx;
static struct okta_client *oc;
static char *scope_v[2];

static const char *const json_hdr[] = {"Content-Type: application/json", NULL};

static void fill_cfg(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.okta.base_url = strdup(fake_http_url(fh));
	cfg.okta.api_token = strdup(TOKEN);
	cfg.okta.email_attribute = strdup("email");
	cfg.okta.group_filter = strdup("");
	ck_assert_ptr_nonnull(cfg.okta.base_url);
	ck_assert_ptr_nonnull(cfg.okta.api_token);
	ck_assert_ptr_nonnull(cfg.okta.email_attribute);
	ck_assert_ptr_nonnull(cfg.okta.group_filter);
	cfg.okta.rate_limit_reserve.is_percent = true;
	cfg.okta.rate_limit_reserve.value = 10;
	cfg.okta.http.timeout_ms = 5000;
	cfg.okta.http.connect_timeout_ms = 2000;
	cfg.okta.http.max_retries = 1;
	cfg.okta.http.max_concurrency = 8;
	cfg.okta.http.max_response_bytes = 1024 * 1024;
}

static void free_cfg(void)
{
	free(cfg.okta.base_url);
	free(cfg.okta.api_token);
	free(cfg.okta.email_attribute);
	free(cfg.okta.group_filter);
	free(cfg.okta.oauth.client_id);
	free(cfg.okta.oauth.private_key);
	free(cfg.okta.oauth.key_id);
	memset(&cfg, 0, sizeof cfg);
}

/* Switch cfg to OAuth with the given key text (PEM or JWK). */
static void use_oauth(const char *key_text, const char *kid, enum config_jwt_alg alg)
{
	free(cfg.okta.api_token);
	cfg.okta.api_token = NULL;
	cfg.okta.oauth.configured = true;
	cfg.okta.oauth.client_id = strdup(CLIENT_ID);
	cfg.okta.oauth.private_key = strdup(key_text);
	cfg.okta.oauth.key_id = strdup(kid);
	cfg.okta.oauth.algorithm = alg;
	scope_v[0] = "okta.groups.read";
	scope_v[1] = "okta.users.read";
	cfg.okta.oauth.scopes.v = scope_v;
	cfg.okta.oauth.scopes.n = 2;
}

static void new_client(void)
{
	struct err e = {0};
	oc = okta_client_new(&cfg, NULL, mx, &e);
	ck_assert_msg(oc != NULL, "okta_client_new: %s", e.msg);
}

static void setup(void)
{
	ck_assert_int_eq(httpc_global_init(), 0);
	fh = fake_http_start();
	ck_assert_ptr_nonnull(fh);
	mx = metrics_new();
	ck_assert_ptr_nonnull(mx);
	fill_cfg();
	oc = NULL;
}

static void teardown(void)
{
	okta_client_free(oc);
	oc = NULL;
	fake_http_stop(fh);
	fh = NULL;
	metrics_free(mx);
	mx = NULL;
	free_cfg();
	clock_set_fake_ms(0);
	httpc_global_cleanup();
}

static void push_full(const char *match, int status, const char *const *headers, const char *body, int64_t delay_ms)
{
	struct fake_reply r = {
	    .match = match, .status = status, .headers = headers, .body = body, .delay_ms = delay_ms};
	ck_assert_int_eq(fake_http_push(fh, &r), 0);
}

static void push(const char *match, int status, const char *const *headers, const char *body)
{
	push_full(match, status, headers, body, 0);
}

/* "<base><path_query>" (caller frees). */
static char *url_of(const char *path_query)
{
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "%s%s", fake_http_url(fh), path_query), 0);
	return buf_take(&b);
}

/* A "Link: <base+path_query>; rel=\"rel\"" header line (caller frees). */
static char *link_line(const char *base, const char *path_query, const char *rel)
{
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "Link: <%s%s>; rel=\"%s\"", base, path_query, rel), 0);
	return buf_take(&b);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) ('+' is a space); caller frees. */
static char *url_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* The decoded value of name in an x-www-form-urlencoded string, or NULL. */
static char *form_param(const char *q, const char *name)
{
	size_t nl = strlen(name);
	while (q && *q) {
		size_t len = strcspn(q, "&");
		if (len > nl && !strncmp(q, name, nl) && q[nl] == '=')
			return url_decode(q + nl + 1, len - nl - 1);
		q += len;
		if (*q == '&')
			q++;
	}
	return NULL;
}

static void user_json(struct buf *b, const char *id, const char *status, const char *login, const char *email)
{
	ck_assert_int_eq(buf_printf(b,
				    "{\"id\":\"%s\",\"status\":\"%s\",\"created\":\"2024-01-01T00:00:00.000Z\","
				    "\"profile\":{\"login\":\"%s\",\"email\":\"%s\",\"firstName\":\"F\"},"
				    "\"_links\":{}}",
				    id, status, login, email),
			 0);
}

static const char USER_BODY[] =
    "{\"id\":\"00u1\",\"status\":\"ACTIVE\",\"profile\":{\"login\":\"a@b\",\"email\":\"a@b\"}}";

static void get_user_ok(void)
{
	struct okta_user u;
	struct err e = {0};
	ck_assert_msg(okta_get_user(oc, "00u1", &u, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(u.id, "00u1");
	okta_user_clear(&u);
}

/* ---- SSWS, get_user ---- */

START_TEST(test_ssws_header_and_get_user)
{
	new_client();
	struct buf b;
	buf_init(&b, 0);
	user_json(&b, "00u1", "ACTIVE", "ann@example.com", "ann.mail@example.com");
	push("GET /api/v1/users/", 200, json_hdr, buf_str(&b));
	struct okta_user u;
	struct err e = {0};
	ck_assert_int_eq(okta_get_user(oc, "a/b+c@example.com", &u, &e), 0);
	ck_assert_str_eq(u.id, "00u1");
	ck_assert_str_eq(u.status, "ACTIVE");
	ck_assert_str_eq(u.login, "ann@example.com");
	ck_assert_str_eq(u.email, "ann.mail@example.com");
	const struct fake_request *r = fake_http_request(fh, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->method, "GET");
	/* The login is one path segment: '/', '+' and '@' escaped. */
	ck_assert_str_eq(r->uri, "/api/v1/users/a%2Fb%2Bc%40example.com");
	ck_assert_str_eq(fake_request_header(r, "Authorization"), "SSWS " TOKEN);
	ck_assert_str_eq(fake_request_header(r, "Accept"), "application/json");
	ck_assert(metrics_get(mx, "sb_upstream_requests_total", "upstream", "okta", "endpoint",
			      "GET /api/v1/users/{id}", "status", "200", NULL) == 1);
	okta_user_clear(&u);
	buf_reset(&b);
}
END_TEST

START_TEST(test_get_user_404)
{
	new_client();
	push("GET /api/v1/users/", 404, json_hdr,
	     "{\"errorCode\":\"E0000007\",\"errorSummary\":\"Not found: Resource not found: 00uX (User)\","
	     "\"errorLink\":\"E0000007\",\"errorId\":\"oae1\",\"errorCauses\":[]}");
	struct okta_user u;
	struct err e = {0};
	ck_assert_int_eq(okta_get_user(oc, "00uX", &u, &e), 1);
	ck_assert_ptr_null(u.id);
	okta_user_clear(&u);
}
END_TEST

START_TEST(test_email_attribute_login)
{
	free(cfg.okta.email_attribute);
	cfg.okta.email_attribute = strdup("login");
	new_client();
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(buf_puts(&b, "["), 0);
	user_json(&b, "00u1", "ACTIVE", "ann@corp.example", "ann@private.example");
	ck_assert_int_eq(buf_puts(&b, ",{\"id\":\"00u2\",\"status\":\"SUSPENDED\",\"profile\":{\"email\":\"x@y\"}}]"),
			 0);
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, buf_str(&b));
	const char *ids[] = {"00g1"};
	struct okta_user *out[1];
	size_t nout[1];
	struct err e = {0};
	ck_assert_msg(okta_groups_members(oc, ids, 1, out, nout, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(nout[0], 2);
	ck_assert_str_eq(out[0][0].email, "ann@corp.example");
	ck_assert_str_eq(out[0][0].login, "ann@corp.example");
	ck_assert_str_eq(out[0][1].status, "SUSPENDED");
	ck_assert_ptr_null(out[0][1].email); /* no login: no email either */
	ck_assert_ptr_null(out[0][1].login);
	okta_users_free(out[0], nout[0]);
	buf_reset(&b);
}
END_TEST

/* ---- groups by name ---- */

START_TEST(test_groups_by_name_search_and_pages)
{
	new_client();
	const char *base = fake_http_url(fh);
	/* Page 1: one exact match, one near miss; self and next links on
	 * separate lines, the way Okta sends them. */
	char *self1 = link_line(base, "/api/v1/groups?limit=200", "self");
	char *next1 = link_line(base, "/api/v1/groups?after=00gB%3D%3D&limit=200&search=opaque", "next");
	const char *h1[] = {"Content-Type: application/json", self1, next1, NULL};
	push("GET /api/v1/groups", 200, h1,
	     "[{\"id\":\"00gA\",\"type\":\"OKTA_GROUP\",\"lastMembershipUpdated\":\"2026-01-02T03:04:05.000Z\","
	     "\"profile\":{\"name\":\"Eng\",\"description\":\"d\"}},"
	     "{\"id\":\"00gN\",\"type\":\"OKTA_GROUP\",\"profile\":{\"name\":\"Engineering\"}}]");
	push("GET /api/v1/groups", 200, json_hdr,
	     "[{\"id\":\"00gB\",\"type\":\"APP_GROUP\",\"profile\":{\"name\":\"Ops \\\"Core\\\"\"}},"
	     "{\"id\":\"00gC\",\"type\":\"OKTA_GROUP\",\"profile\":{\"name\":\"eng\"}}]");
	const char *names[] = {"Eng", "Ops \"Core\"", "back\\slash"};
	struct okta_group *g = NULL;
	size_t ng = 0;
	struct err e = {0};
	ck_assert_msg(okta_groups_by_name(oc, names, 3, &g, &ng, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(fake_http_count(fh), 2);

	const struct fake_request *r0 = fake_http_request(fh, 0);
	ck_assert_str_eq(r0->path, "/api/v1/groups");
	char *search = form_param(r0->query, "search");
	char *limit = form_param(r0->query, "limit");
	ck_assert_ptr_nonnull(search);
	ck_assert_str_eq(search, "profile.name eq \"Eng\" or profile.name eq \"Ops \\\"Core\\\"\" or profile.name eq "
				 "\"back\\\\slash\"");
	ck_assert_str_eq(limit, "200");
	/* Spaces and quotes are percent-encoded, never sent raw. */
	ck_assert_ptr_null(strchr(r0->uri, ' '));
	ck_assert_ptr_null(strchr(r0->uri, '"'));
	/* The next link is followed exactly as given. */
	ck_assert_str_eq(fake_http_request(fh, 1)->uri, "/api/v1/groups?after=00gB%3D%3D&limit=200&search=opaque");

	ck_assert_uint_eq(ng, 2);
	ck_assert_str_eq(g[0].id, "00gA");
	ck_assert_str_eq(g[0].name, "Eng");
	ck_assert_str_eq(g[0].type, "OKTA_GROUP");
	ck_assert_str_eq(g[0].last_membership_updated, "2026-01-02T03:04:05.000Z");
	ck_assert_str_eq(g[1].id, "00gB");
	ck_assert_str_eq(g[1].name, "Ops \"Core\"");
	ck_assert_str_eq(g[1].type, "APP_GROUP");
	ck_assert_ptr_null(g[1].last_membership_updated);
	ck_assert(metrics_get(mx, "sb_upstream_requests_total", "upstream", "okta", "endpoint", "GET /api/v1/groups",
			      "status", "200", NULL) == 2);
	okta_groups_free(g, ng);
	free(search);
	free(limit);
	free(self1);
	free(next1);
}
END_TEST

START_TEST(test_groups_by_name_filter)
{
	free(cfg.okta.group_filter);
	cfg.okta.group_filter = strdup("type eq \"OKTA_GROUP\"");
	new_client();
	push("GET /api/v1/groups", 200, json_hdr, "[]");
	const char *names[] = {"A", "B"};
	struct okta_group *g = NULL;
	size_t ng = 7;
	struct err e = {0};
	ck_assert_msg(okta_groups_by_name(oc, names, 2, &g, &ng, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(ng, 0); /* absent groups are simply absent */
	char *search = form_param(fake_http_request(fh, 0)->query, "search");
	ck_assert_str_eq(search, "(type eq \"OKTA_GROUP\") and (profile.name eq \"A\" or profile.name eq \"B\")");
	free(search);
	okta_groups_free(g, ng);
}
END_TEST

START_TEST(test_groups_by_name_split)
{
	new_client();
	struct fake_reply r = {.match = "GET /api/v1/groups", .headers = json_hdr, .body = "[]", .times = -1};
	ck_assert_int_eq(fake_http_push(fh, &r), 0);
	enum { N = 300 };
	static char bufs[N][48];
	const char *names[N];
	for (int i = 0; i < N; i++) {
		snprintf(bufs[i], sizeof bufs[i], "team-%03d with a rather long name", i);
		names[i] = bufs[i];
	}
	struct okta_group *g = NULL;
	size_t ng = 0;
	struct err e = {0};
	ck_assert_msg(okta_groups_by_name(oc, names, N, &g, &ng, &e) == 0, "%s", e.msg);
	size_t nreq = fake_http_count(fh);
	ck_assert_uint_gt(nreq, 1);
	/* Every name asked exactly once over the searches; every URL short. */
	int seen[N] = {0};
	for (size_t k = 0; k < nreq; k++) {
		const struct fake_request *q = fake_http_request(fh, k);
		ck_assert_uint_le(strlen(fake_http_url(fh)) + strlen(q->uri), 6144);
		char *s = form_param(q->query, "search");
		ck_assert_ptr_nonnull(s);
		for (int i = 0; i < N; i++) {
			char clause[80];
			snprintf(clause, sizeof clause, "profile.name eq \"%s\"", names[i]);
			if (strstr(s, clause))
				seen[i]++;
		}
		free(s);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(seen[i], 1);
	okta_groups_free(g, ng);
}
END_TEST

/* ---- group members ---- */

/* One page of users id_prefix1..n as JSON (caller buf_reset). */
static void page_json(struct buf *b, const char *prefix, int from, int n)
{
	buf_init(b, 0);
	ck_assert_int_eq(buf_puts(b, "["), 0);
	for (int i = 0; i < n; i++) {
		char id[32], mail[64];
		snprintf(id, sizeof id, "%s%d", prefix, from + i);
		snprintf(mail, sizeof mail, "%s@example.com", id);
		if (i)
			ck_assert_int_eq(buf_puts(b, ","), 0);
		user_json(b, id, "ACTIVE", mail, mail);
	}
	ck_assert_int_eq(buf_puts(b, "]"), 0);
}

START_TEST(test_members_pages_concurrent)
{
	new_client();
	const char *base = fake_http_url(fh);
	/* g1: 3 pages, g2: 2 pages, g3: 3 pages; next links with odd but
	 * opaque cursors that must come back byte for byte. */
	static const char *const nx[3][2] = {
	    {"/api/v1/groups/00g1/users?after=00u1b&limit=1000",
	     "/api/v1/groups/00g1/users?limit=1000&after=00u%2F1c%3D"},
	    {"/api/v1/groups/00g2/users?after=X2&limit=1000", NULL},
	    {"/api/v1/groups/00g3/users?after=a%20b&limit=1000", "/api/v1/groups/00g3/users?after=zz&limit=1000&x=1"}};
	static const int pages[3] = {3, 2, 3};
	static const char *const match[3] = {"GET /api/v1/groups/00g1/users", "GET /api/v1/groups/00g2/users",
					     "GET /api/v1/groups/00g3/users"};
	static const char *const prefix[3] = {"00u1p", "00u2p", "00u3p"};
	char *links[3][2] = {{0}};
	struct buf bodies[3][3];
	for (int g = 0; g < 3; g++)
		for (int p = 0; p < pages[g]; p++) {
			page_json(&bodies[g][p], prefix[g], p * 10, p + 1);
			const char *h[3] = {"Content-Type: application/json", NULL, NULL};
			if (p + 1 < pages[g]) {
				links[g][p] = link_line(base, nx[g][p], "next");
				h[1] = links[g][p];
			}
			/* Slow replies: the groups' pages can only overlap if
			 * they are requested concurrently. */
			push_full(match[g], 200, h, buf_str(&bodies[g][p]), 150);
		}
	const char *ids[] = {"00g1", "00g2", "00g3"};
	struct okta_user *out[3];
	size_t nout[3];
	struct err e = {0};
	ck_assert_msg(okta_groups_members(oc, ids, 3, out, nout, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(fake_http_count(fh), 8);
	ck_assert_uint_eq(fake_http_pending(fh), 0);
	/* 1+2+3 users, 1+2, 1+2+3 */
	ck_assert_uint_eq(nout[0], 6);
	ck_assert_uint_eq(nout[1], 3);
	ck_assert_uint_eq(nout[2], 6);
	ck_assert_str_eq(out[0][0].id, "00u1p0");
	ck_assert_str_eq(out[0][5].id, "00u1p22");
	ck_assert_str_eq(out[1][2].id, "00u2p11");
	ck_assert_str_eq(out[2][3].email, "00u3p20@example.com");

	/* First page of each group: ?limit=1000; later pages: the link. */
	int firsts = 0, follows = 0;
	for (size_t k = 0; k < 8; k++) {
		const struct fake_request *q = fake_http_request(fh, k);
		if (q->query && !strcmp(q->query, "limit=1000")) {
			firsts++;
			continue;
		}
		int found = 0;
		for (int g = 0; g < 3; g++)
			for (int p = 0; p < 2; p++)
				found |= nx[g][p] && !strcmp(q->uri, nx[g][p]);
		ck_assert_msg(found, "unexpected request %s", q->uri);
		follows++;
	}
	ck_assert_int_eq(firsts, 3);
	ck_assert_int_eq(follows, 5);
	/* Waves: the first three requests are page 1 of the three groups, so
	 * the groups' requests interleave rather than one group after another. */
	int seen[3] = {0};
	for (size_t k = 0; k < 3; k++) {
		const struct fake_request *q = fake_http_request(fh, k);
		ck_assert_str_eq(q->query, "limit=1000");
		for (int g = 0; g < 3; g++)
			if (strstr(q->path, ids[g]))
				seen[g]++;
	}
	ck_assert(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	ck_assert_int_ge(fake_http_max_concurrent(fh), 2);
	ck_assert(metrics_get(mx, "sb_upstream_requests_total", "upstream", "okta", "endpoint",
			      "GET /api/v1/groups/{id}/users", "status", "200", NULL) == 8);

	for (int g = 0; g < 3; g++) {
		okta_users_free(out[g], nout[g]);
		for (int p = 0; p < pages[g]; p++)
			buf_reset(&bodies[g][p]);
		free(links[g][0]);
		free(links[g][1]);
	}
}
END_TEST

/* A next link to a foreign origin is refused (and not requested). */
static void check_next_refused(const char *next_url)
{
	char *lk = NULL;
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "Link: <%s>; rel=\"next\"", next_url), 0);
	lk = buf_take(&b);
	const char *h[] = {"Content-Type: application/json", lk, NULL};
	push("GET /api/v1/groups/00g1/users", 200, h, "[]");
	push(NULL, 200, json_hdr, "[]"); /* would serve a followed link */
	const char *ids[] = {"00g1"};
	struct okta_user *out[1] = {(void *)1};
	size_t nout[1] = {9};
	struct err e = {0};
	ck_assert_int_eq(okta_groups_members(oc, ids, 1, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "outside okta.base_url") != NULL, "%s", e.msg);
	ck_assert_msg(strstr(e.msg, "00g1") != NULL, "%s", e.msg);
	ck_assert_ptr_null(out[0]);
	ck_assert_uint_eq(nout[0], 0);
	ck_assert_uint_eq(fake_http_count(fh), 1);
	fake_http_reset(fh);
	free(lk);
}

START_TEST(test_members_next_other_host_refused)
{
	new_client();
	char other[128];
	unsigned short port = fake_http_port(fh);
	snprintf(other, sizeof other, "http://evil.example:%u/api/v1/groups/00g1/users?after=x", port);
	check_next_refused(other);
	/* Same host, another port. */
	snprintf(other, sizeof other, "http://127.0.0.1:%u/api/v1/groups/00g1/users?after=x",
		 (unsigned)(port == 65535 ? 1 : port + 1));
	check_next_refused(other);
	/* userinfo trick: the host is really evil.example. */
	snprintf(other, sizeof other, "http://127.0.0.1:%u@evil.example/api/v1/groups/00g1/users", port);
	check_next_refused(other);
	/* Another scheme. */
	snprintf(other, sizeof other, "https://127.0.0.1:%u/api/v1/groups/00g1/users?after=x", port);
	check_next_refused(other);
}
END_TEST

START_TEST(test_members_429_then_success)
{
	new_client();
	char reset[64], ok_reset[64];
	time_t now = time(NULL);
	snprintf(reset, sizeof reset, "X-Rate-Limit-Reset: %lld", (long long)now + 2);
	snprintf(ok_reset, sizeof ok_reset, "X-Rate-Limit-Reset: %lld", (long long)now + 60);
	const char *h429[] = {"Content-Type: application/json", "X-Rate-Limit-Limit: 600", "X-Rate-Limit-Remaining: 0",
			      reset, NULL};
	const char *h200[] = {"Content-Type: application/json", "X-Rate-Limit-Limit: 600",
			      "X-Rate-Limit-Remaining: 599", ok_reset, NULL};
	push(
	    "GET /api/v1/groups/00g1/users", 429, h429,
	    "{\"errorCode\":\"E0000047\",\"errorSummary\":\"API call exceeded rate limit due to too many requests.\"}");
	push("GET /api/v1/groups/00g1/users", 200, h200,
	     "[{\"id\":\"00u1\",\"status\":\"ACTIVE\",\"profile\":{\"login\":\"a@b\",\"email\":\"a@b\"}}]");
	const char *ids[] = {"00g1"};
	struct okta_user *out[1];
	size_t nout[1];
	struct err e = {0};
	ck_assert_msg(okta_groups_members(oc, ids, 1, out, nout, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(nout[0], 1);
	ck_assert_uint_eq(fake_http_count(fh), 2);
	const struct fake_request *a = fake_http_request(fh, 0), *b = fake_http_request(fh, 1);
	ck_assert_str_eq(a->uri, b->uri);
	/* Waited for the reset (about a second away), not a blind retry. */
	ck_assert_msg(b->at_ms - a->at_ms >= 500, "gap %lld", (long long)(b->at_ms - a->at_ms));
	ck_assert(metrics_get(mx, "sb_upstream_retries_total", "upstream", "okta", "reason", "rate_limited", NULL) ==
		  1);
	okta_users_free(out[0], nout[0]);
}
END_TEST

/* The reserve: an answer leaving Remaining at or under it holds the next
 * request on that endpoint until X-Rate-Limit-Reset. */
static void check_reserve_holds(const char *limit, const char *remaining)
{
	char reset[64];
	snprintf(reset, sizeof reset, "X-Rate-Limit-Reset: %lld", (long long)time(NULL) + 2);
	const char *h[] = {"Content-Type: application/json", limit, remaining, reset, NULL};
	push("GET /api/v1/users/", 200, h, USER_BODY);
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);
	get_user_ok();
	get_user_ok();
	const struct fake_request *a = fake_http_request(fh, 0), *b = fake_http_request(fh, 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(b->at_ms - a->at_ms >= 500, "not held: gap %lld", (long long)(b->at_ms - a->at_ms));
	fake_http_reset(fh);
}

START_TEST(test_rate_limit_reserve)
{
	/* 10% of the bucket's own limit (the default). */
	new_client();
	check_reserve_holds("X-Rate-Limit-Limit: 200", "X-Rate-Limit-Remaining: 20");
	/* Above the reserve: no hold. */
	static const char *const above[] = {"Content-Type: application/json", "X-Rate-Limit-Limit: 200",
					    "X-Rate-Limit-Remaining: 21", "X-Rate-Limit-Reset: 4102444800", NULL};
	push("GET /api/v1/users/", 200, above, USER_BODY);
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);
	get_user_ok();
	get_user_ok();
	ck_assert_int_lt(fake_http_request(fh, 1)->at_ms - fake_http_request(fh, 0)->at_ms, 1000);
	fake_http_reset(fh);
	okta_client_free(oc);
	oc = NULL;
	/* A count. */
	cfg.okta.rate_limit_reserve.is_percent = false;
	cfg.okta.rate_limit_reserve.value = 5;
	new_client();
	check_reserve_holds("X-Rate-Limit-Limit: 1000", "X-Rate-Limit-Remaining: 5");
	ck_assert(metrics_get(mx, "sb_upstream_rate_limit_waits_total", "upstream", "okta", NULL) >= 2);
}
END_TEST

START_TEST(test_error_body_names_error_code)
{
	new_client();
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, "[]");
	push_full("GET /api/v1/groups/00g2/users", 403, json_hdr,
		  "{\"errorCode\":\"E0000006\",\"errorSummary\":\"You do not have permission to perform the "
		  "requested action\",\"errorLink\":\"E0000006\",\"errorId\":\"oaeBODYONLY\",\"errorCauses\":[]}",
		  50);
	const char *ids[] = {"00g1", "00g2"};
	struct okta_user *out[2];
	size_t nout[2];
	struct err e = {0};
	ck_assert_int_eq(okta_groups_members(oc, ids, 2, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "E0000006") && strstr(e.msg, "You do not have permission"), "%s", e.msg);
	ck_assert_msg(strstr(e.msg, "00g2") && strstr(e.msg, "403"), "%s", e.msg);
	ck_assert_msg(!strstr(e.msg, "oaeBODYONLY"), "body leaked: %s", e.msg);
	ck_assert_ptr_null(out[0]);
	ck_assert_ptr_null(out[1]);
	ck_assert_uint_eq(nout[0], 0);

	/* An SSWS token refused: 401 is an error at once (a retry would send
	 * the same token). */
	fake_http_reset(fh);
	push("GET /api/v1/users/", 401, json_hdr,
	     "{\"errorCode\":\"E0000011\",\"errorSummary\":\"Invalid token provided\"}");
	struct okta_user u;
	ck_assert_int_eq(okta_get_user(oc, "00u1", &u, &e), -1);
	ck_assert_msg(strstr(e.msg, "E0000011"), "%s", e.msg);
	ck_assert_uint_eq(fake_http_count(fh), 1);
}
END_TEST

START_TEST(test_members_404_names_group)
{
	new_client();
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, "[]");
	push("GET /api/v1/groups/00gGONE/users", 404, json_hdr,
	     "{\"errorCode\":\"E0000007\",\"errorSummary\":\"Not found: Resource not found: 00gGONE (UserGroup)\"}");
	const char *ids[] = {"00g1", "00gGONE"};
	struct okta_user *out[2];
	size_t nout[2];
	struct err e = {0};
	ck_assert_int_eq(okta_groups_members(oc, ids, 2, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "group 00gGONE") && strstr(e.msg, "404"), "%s", e.msg);
}
END_TEST

START_TEST(test_members_transport_error_names_group)
{
	new_client();
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, "[]");
	struct fake_reply r = {.match = "GET /api/v1/groups/00gDROP/users", .drop = 1, .times = -1};
	ck_assert_int_eq(fake_http_push(fh, &r), 0);
	const char *ids[] = {"00g1", "00gDROP"};
	struct okta_user *out[2];
	size_t nout[2];
	struct err e = {0};
	ck_assert_int_eq(okta_groups_members(oc, ids, 2, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "okta: the members of Okta group 00gDROP: "), "%s", e.msg);
	ck_assert_ptr_null(out[0]);
	ck_assert_ptr_null(out[1]);
}
END_TEST

START_TEST(test_malformed_answers)
{
	new_client();
	const char *ids[] = {"00g1"};
	struct okta_user *out[1];
	size_t nout[1];
	struct err e = {0};
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, "[{\"id\":\"00u1\",");
	ck_assert_int_eq(okta_groups_members(oc, ids, 1, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "malformed JSON"), "%s", e.msg);
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, "{\"id\":\"00u1\"}");
	ck_assert_int_eq(okta_groups_members(oc, ids, 1, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "not a JSON array"), "%s", e.msg);
	/* A user without a status must not pass for an inactive one. */
	push("GET /api/v1/groups/00g1/users", 200, json_hdr, "[{\"id\":\"00u1\",\"profile\":{}}]");
	ck_assert_int_eq(okta_groups_members(oc, ids, 1, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "without id or status"), "%s", e.msg);
	/* A malformed Link header is an error, never "last page". */
	static const char *const bad_link[] = {"Content-Type: application/json", "Link: <http://127.0.0.1/x; rel=next",
					       NULL};
	push("GET /api/v1/groups/00g1/users", 200, bad_link, "[]");
	ck_assert_int_eq(okta_groups_members(oc, ids, 1, out, nout, &e), -1);
	ck_assert_msg(strstr(e.msg, "Link"), "%s", e.msg);
	push("GET /api/v1/groups", 200, json_hdr, "[{\"id\":");
	const char *names[] = {"A"};
	struct okta_group *g;
	size_t ng;
	ck_assert_int_eq(okta_groups_by_name(oc, names, 1, &g, &ng, &e), -1);
	ck_assert_msg(strstr(e.msg, "malformed JSON"), "%s", e.msg);
}
END_TEST

START_TEST(test_client_new_errors)
{
	struct err e = {0};
	free(cfg.okta.base_url);
	cfg.okta.base_url = strdup("");
	ck_assert_ptr_null(okta_client_new(&cfg, NULL, mx, &e));
	ck_assert_msg(strstr(e.msg, "base_url"), "%s", e.msg);
	free(cfg.okta.base_url);
	cfg.okta.base_url = strdup(fake_http_url(fh));
	free(cfg.okta.api_token);
	cfg.okta.api_token = NULL;
	ck_assert_ptr_null(okta_client_new(&cfg, NULL, mx, &e));
	ck_assert_msg(strstr(e.msg, "token"), "%s", e.msg);
}
END_TEST

/* ---- OAuth private_key_jwt ---- */

static EVP_PKEY *gen_key(int rsa)
{
	EVP_PKEY *pk = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(pk);
	return pk;
}

static char *pem_of(EVP_PKEY *pk, int traditional)
{
	BIO *bio = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(bio);
	int ok = traditional ? PEM_write_bio_PrivateKey_traditional(bio, pk, NULL, NULL, 0, NULL, NULL)
			     : PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	ck_assert_int_eq(ok, 1);
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	ck_assert_int_gt(n, 0);
	char *s = strndup(data, (size_t)n);
	ck_assert_ptr_nonnull(s);
	BIO_free(bio);
	return s;
}

static uint8_t *bn_bytes(EVP_PKEY *pk, const char *name, size_t pad, size_t *len)
{
	BIGNUM *bn = NULL;
	ck_assert_int_eq(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
	size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
	uint8_t *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(BN_bn2binpad(bn, p, (int)n), (int)n);
	BN_free(bn);
	*len = n;
	return p;
}

/* The public half of pk as a cjose JWK, built independently of the code
 * under test (public parameters only). */
static cjose_jwk_t *public_jwk(EVP_PKEY *pk)
{
	cjose_err ce;
	cjose_jwk_t *jwk;
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
		cjose_jwk_rsa_keyspec s;
		memset(&s, 0, sizeof s);
		s.n = bn_bytes(pk, OSSL_PKEY_PARAM_RSA_N, 0, &s.nlen);
		s.e = bn_bytes(pk, OSSL_PKEY_PARAM_RSA_E, 0, &s.elen);
		jwk = cjose_jwk_create_RSA_spec(&s, &ce);
		free(s.n);
		free(s.e);
	} else {
		cjose_jwk_ec_keyspec s;
		memset(&s, 0, sizeof s);
		s.crv = CJOSE_JWK_EC_P_256;
		s.x = bn_bytes(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32, &s.xlen);
		s.y = bn_bytes(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32, &s.ylen);
		jwk = cjose_jwk_create_EC_spec(&s, &ce);
		free(s.x);
		free(s.y);
	}
	ck_assert_ptr_nonnull(jwk);
	return jwk;
}

/*
 * Check token request number k: the form, the assertion's signature
 * (against pub) and claims. Returns the jti (caller frees).
 */
static char *check_token_request(const struct fake_request *r, cjose_jwk_t *pub, const char *alg, const char *kid,
				 int64_t now_ms)
{
	ck_assert_str_eq(r->method, "POST");
	ck_assert_str_eq(r->path, "/oauth2/v1/token");
	ck_assert_str_eq(fake_request_header(r, "Content-Type"), "application/x-www-form-urlencoded");
	ck_assert_ptr_null(fake_request_header(r, "Authorization"));
	char *gt = form_param(r->body, "grant_type");
	char *sc = form_param(r->body, "scope");
	char *cat = form_param(r->body, "client_assertion_type");
	char *ca = form_param(r->body, "client_assertion");
	ck_assert_str_eq(gt, "client_credentials");
	ck_assert_str_eq(sc, "okta.groups.read okta.users.read");
	ck_assert_str_eq(cat, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
	ck_assert_ptr_nonnull(ca);

	cjose_err ce;
	cjose_jws_t *jws = cjose_jws_import(ca, strlen(ca), &ce);
	ck_assert_ptr_nonnull(jws);
	ck_assert_msg(cjose_jws_verify(jws, pub, &ce), "signature does not verify: %s", ce.message);
	cjose_header_t *h = cjose_jws_get_protected(jws);
	ck_assert_str_eq(cjose_header_get(h, CJOSE_HDR_ALG, &ce), alg);
	const char *hk = cjose_header_get(h, CJOSE_HDR_KID, &ce);
	if (kid)
		ck_assert_str_eq(hk, kid);
	else
		ck_assert_ptr_null(hk);
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	ck_assert(cjose_jws_get_plaintext(jws, &pt, &ptlen, &ce));
	json_error_t je;
	json_t *claims = json_loadb((const char *)pt, ptlen, 0, &je);
	ck_assert_ptr_nonnull(claims);
	char *aud = url_of("/oauth2/v1/token");
	ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")), CLIENT_ID);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), CLIENT_ID);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "aud")), aud);
	json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
	json_int_t exp = json_integer_value(json_object_get(claims, "exp"));
	ck_assert_int_eq(iat, now_ms / 1000);
	ck_assert_int_eq(exp, iat + 300);
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	ck_assert_ptr_nonnull(jti);
	ck_assert_uint_ge(strlen(jti), 32);
	char *jti_copy = strdup(jti);
	json_decref(claims);
	cjose_jws_release(jws);
	free(aud);
	free(gt);
	free(sc);
	free(cat);
	free(ca);
	return jti_copy;
}

/* Index of the k-th recorded request with the given path (-1 if none). */
static const struct fake_request *nth_with_path(const char *path, int k)
{
	for (size_t i = 0; i < fake_http_count(fh); i++) {
		const struct fake_request *r = fake_http_request(fh, i);
		if (!strcmp(r->path, path) && k-- == 0)
			return r;
	}
	return NULL;
}

static void push_token(const char *tok, int expires_in)
{
	char body[256];
	snprintf(body, sizeof body,
		 "{\"token_type\":\"Bearer\",\"expires_in\":%d,\"access_token\":\"%s\","
		 "\"scope\":\"okta.groups.read okta.users.read\"}",
		 expires_in, tok);
	push("POST /oauth2/v1/token", 200, json_hdr, body);
}

START_TEST(test_oauth_rs256_pem_cache_and_401)
{
	clock_set_fake_ms(NOW_MS);
	EVP_PKEY *pk = gen_key(1);
	char *pem = pem_of(pk, 0); /* PKCS#8 "BEGIN PRIVATE KEY" */
	use_oauth(pem, "key-1", CONFIG_JWT_RS256);
	/* Capture every log line to check nothing secret is written. */
	char *logtext = NULL;
	size_t loglen = 0;
	FILE *lf = open_memstream(&logtext, &loglen);
	ck_assert_ptr_nonnull(lf);
	struct logger *lg = logger_new(LOG_FORMAT_JSON, LOG_LVL_DEBUG, lf);
	struct err e = {0};
	oc = okta_client_new(&cfg, lg, mx, &e);
	ck_assert_msg(oc != NULL, "%s", e.msg);
	ck_assert_uint_eq(fake_http_count(fh), 0); /* no token fetched before it is needed */

	push_token("tok-one-0123456789", 3600);
	push_token("tok-two-0123456789", 3600);
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);
	push("GET /api/v1/users/", 401, json_hdr,
	     "{\"errorCode\":\"E0000011\",\"errorSummary\":\"Invalid token provided\"}");
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);

	get_user_ok();
	get_user_ok(); /* cached token: no second token request */
	ck_assert_uint_eq(fake_http_count(fh), 3);
	ck_assert_ptr_null(nth_with_path("/oauth2/v1/token", 1));
	get_user_ok(); /* 401, new token, one retry */
	ck_assert_uint_eq(fake_http_count(fh), 6);

	cjose_jwk_t *pub = public_jwk(pk);
	char *jti1 = check_token_request(nth_with_path("/oauth2/v1/token", 0), pub, "RS256", "key-1", NOW_MS);
	char *jti2 = check_token_request(nth_with_path("/oauth2/v1/token", 1), pub, "RS256", "key-1", NOW_MS);
	ck_assert_str_ne(jti1, jti2); /* every assertion is unique */
	const char *p = "/api/v1/users/00u1";
	ck_assert_str_eq(fake_request_header(nth_with_path(p, 0), "Authorization"), "Bearer tok-one-0123456789");
	ck_assert_str_eq(fake_request_header(nth_with_path(p, 1), "Authorization"), "Bearer tok-one-0123456789");
	ck_assert_str_eq(fake_request_header(nth_with_path(p, 2), "Authorization"), "Bearer tok-one-0123456789");
	ck_assert_str_eq(fake_request_header(nth_with_path(p, 3), "Authorization"), "Bearer tok-two-0123456789");
	ck_assert(metrics_get(mx, "sb_upstream_requests_total", "upstream", "okta", "endpoint", "POST /oauth2/v1/token",
			      "status", "200", NULL) == 2);

	okta_client_free(oc);
	oc = NULL;
	logger_free(lg);
	fclose(lf);
	ck_assert_ptr_nonnull(logtext);
	ck_assert_msg(strstr(logtext, "access token obtained"), "log: %s", logtext);
	ck_assert_msg(!strstr(logtext, "tok-one") && !strstr(logtext, "tok-two"), "token logged: %s", logtext);
	ck_assert_msg(!strstr(logtext, "eyJ"), "assertion logged: %s", logtext);
	ck_assert_msg(!strstr(logtext, "PRIVATE KEY"), "key logged");
	free(logtext);
	free(jti1);
	free(jti2);
	cjose_jwk_release(pub);
	free(pem);
	EVP_PKEY_free(pk);
}
END_TEST

START_TEST(test_oauth_es256_pem_no_kid)
{
	clock_set_fake_ms(NOW_MS);
	EVP_PKEY *pk = gen_key(0);
	char *pem = pem_of(pk, 1); /* traditional "BEGIN EC PRIVATE KEY" */
	use_oauth(pem, "", CONFIG_JWT_ES256);
	new_client();
	push_token("tok-ec-0123456789", 3600);
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);
	get_user_ok();
	cjose_jwk_t *pub = public_jwk(pk);
	char *jti = check_token_request(nth_with_path("/oauth2/v1/token", 0), pub, "ES256", NULL, NOW_MS);
	ck_assert_str_eq(fake_request_header(nth_with_path("/api/v1/users/00u1", 0), "Authorization"),
			 "Bearer tok-ec-0123456789");
	free(jti);
	cjose_jwk_release(pub);
	free(pem);
	EVP_PKEY_free(pk);
}
END_TEST

START_TEST(test_oauth_jwk_text)
{
	clock_set_fake_ms(NOW_MS);
	cjose_err ce;
	cjose_jwk_t *jwk = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &ce);
	ck_assert_ptr_nonnull(jwk);
	ck_assert(cjose_jwk_set_kid(jwk, "jwk-kid-7", strlen("jwk-kid-7"), &ce));
	char *priv = cjose_jwk_to_json(jwk, true, &ce);
	ck_assert_ptr_nonnull(priv);
	/* As a JWK Set with one key: its kid is used when key_id is empty. */
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "  {\"keys\":[%s]}\n", priv), 0);
	use_oauth(buf_str(&b), "", CONFIG_JWT_ES256);
	new_client();
	push_token("tok-jwk-0123456789", 3600);
	push("GET /api/v1/users/", 200, json_hdr, USER_BODY);
	get_user_ok();
	char *jti = check_token_request(nth_with_path("/oauth2/v1/token", 0), jwk, "ES256", "jwk-kid-7", NOW_MS);
	free(jti);
	/* A public-only JWK is refused at start, without quoting it. */
	okta_client_free(oc);
	oc = NULL;
	char *pub = cjose_jwk_to_json(jwk, false, &ce);
	free(cfg.okta.oauth.private_key);
	cfg.okta.oauth.private_key = strdup(pub);
	struct err e = {0};
	ck_assert_ptr_null(okta_client_new(&cfg, NULL, mx, &e));
	ck_assert_msg(strstr(e.msg, "private part"), "%s", e.msg);
	ck_assert_msg(!strstr(e.msg, "\"x\""), "%s", e.msg);
	free(pub);
	free(priv);
	buf_reset(&b);
	cjose_jwk_release(jwk);
}
END_TEST

START_TEST(test_oauth_token_expiry)
{
	clock_set_fake_ms(NOW_MS);
	EVP_PKEY *pk = gen_key(0);
	char *pem = pem_of(pk, 0);
	use_oauth(pem, "k", CONFIG_JWT_ES256);
	new_client();
	push_token("tok-a-0123456789", 120); /* refetch from NOW + 60 s */
	push_token("tok-b-0123456789", 120);
	struct fake_reply r = {.match = "GET /api/v1/users/", .headers = json_hdr, .body = USER_BODY, .times = -1};
	ck_assert_int_eq(fake_http_push(fh, &r), 0);
	get_user_ok();
	clock_set_fake_ms(NOW_MS + 59 * 1000);
	get_user_ok();
	ck_assert_ptr_null(nth_with_path("/oauth2/v1/token", 1));
	clock_set_fake_ms(NOW_MS + 61 * 1000);
	get_user_ok();
	const struct fake_request *t2 = nth_with_path("/oauth2/v1/token", 1);
	ck_assert_ptr_nonnull(t2);
	cjose_jwk_t *pub = public_jwk(pk);
	char *jti = check_token_request(t2, pub, "ES256", "k", NOW_MS + 61 * 1000);
	ck_assert_str_eq(fake_request_header(nth_with_path("/api/v1/users/00u1", 2), "Authorization"),
			 "Bearer tok-b-0123456789");
	free(jti);
	cjose_jwk_release(pub);
	free(pem);
	EVP_PKEY_free(pk);
}
END_TEST

START_TEST(test_oauth_dpop_and_errors)
{
	EVP_PKEY *pk = gen_key(0);
	char *pem = pem_of(pk, 0);
	use_oauth(pem, "", CONFIG_JWT_ES256);
	new_client();
	static const char *const nonce_hdr[] = {"Content-Type: application/json", "DPoP-Nonce: abc", NULL};
	push("POST /oauth2/v1/token", 400, nonce_hdr,
	     "{\"error\":\"use_dpop_nonce\",\"error_description\":\"Authorization server requires nonce in DPoP "
	     "proof.\"}");
	struct okta_user u;
	struct err e = {0};
	ck_assert_int_eq(okta_get_user(oc, "00u1", &u, &e), -1);
	ck_assert_msg(strstr(e.msg, "DPoP") && strstr(e.msg, "untick"), "%s", e.msg);
	push("POST /oauth2/v1/token", 400, json_hdr,
	     "{\"error\":\"invalid_dpop_proof\",\"error_description\":\"The DPoP proof JWT header is missing.\"}");
	ck_assert_int_eq(okta_get_user(oc, "00u1", &u, &e), -1);
	ck_assert_msg(strstr(e.msg, "DPoP") && strstr(e.msg, "invalid_dpop_proof"), "%s", e.msg);
	/* Other OAuth errors carry error and error_description. */
	push("POST /oauth2/v1/token", 401, json_hdr,
	     "{\"error\":\"invalid_client\",\"error_description\":\"The client_assertion signature is invalid.\"}");
	ck_assert_int_eq(okta_get_user(oc, "00u1", &u, &e), -1);
	ck_assert_msg(strstr(e.msg, "invalid_client") && strstr(e.msg, "401"), "%s", e.msg);
	/* A DPoP-bound token is refused too. */
	push("POST /oauth2/v1/token", 200, json_hdr,
	     "{\"token_type\":\"DPoP\",\"expires_in\":3600,\"access_token\":\"tok-dpop-0123456789\"}");
	ck_assert_int_eq(okta_get_user(oc, "00u1", &u, &e), -1);
	ck_assert_msg(strstr(e.msg, "DPoP") && !strstr(e.msg, "tok-dpop"), "%s", e.msg);
	/* No API request was ever sent without a token. */
	ck_assert_ptr_null(nth_with_path("/api/v1/users/00u1", 0));
	free(pem);
	EVP_PKEY_free(pk);
}
END_TEST

START_TEST(test_oauth_key_errors)
{
	EVP_PKEY *pk = gen_key(0);
	char *pem = pem_of(pk, 0);
	struct err e = {0};
	/* An EC key with RS256. */
	use_oauth(pem, "", CONFIG_JWT_RS256);
	ck_assert_ptr_null(okta_client_new(&cfg, NULL, mx, &e));
	ck_assert_msg(strstr(e.msg, "RS256") && strstr(e.msg, "RSA"), "%s", e.msg);
	/* Garbage: the text is not echoed. */
	free(cfg.okta.oauth.private_key);
	cfg.okta.oauth.private_key = strdup("-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----\n");
	cfg.okta.oauth.algorithm = CONFIG_JWT_ES256;
	ck_assert_ptr_null(okta_client_new(&cfg, NULL, mx, &e));
	ck_assert_msg(strstr(e.msg, "PEM") && !strstr(e.msg, "SECRETSTUFF"), "%s", e.msg);
	/* An encrypted PEM key is refused without prompting. */
	BIO *bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pk, EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"pass"), 1);
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	free(cfg.okta.oauth.private_key);
	cfg.okta.oauth.private_key = strndup(data, (size_t)n);
	BIO_free(bio);
	ck_assert_ptr_null(okta_client_new(&cfg, NULL, mx, &e));
	ck_assert_msg(strstr(e.msg, "encrypted"), "%s", e.msg);
	ck_assert_uint_eq(fake_http_count(fh), 0);
	free(pem);
	EVP_PKEY_free(pk);
}
END_TEST

/* ---- a user's groups, the System Log ---- */

START_TEST(test_user_groups_pages)
{
	new_client();
	char *next = link_line(fake_http_url(fh), "/api/v1/users/00u1/groups?after=00g2", "next");
	const char *h1[] = {"Content-Type: application/json", next, NULL};
	push("GET /api/v1/users/00u1/groups", 200, h1,
	     "[{\"id\":\"00g1\",\"type\":\"OKTA_GROUP\",\"profile\":{\"name\":\"a\"}},"
	     "{\"id\":\"00g2\",\"type\":\"APP_GROUP\",\"profile\":{\"name\":\"b\"}}]");
	push("GET /api/v1/users/00u1/groups", 200, json_hdr,
	     "[{\"id\":\"00g3\",\"type\":\"OKTA_GROUP\",\"profile\":{\"name\":\"c\"}}]");
	struct okta_group *g = NULL;
	size_t n = 0;
	struct err e = {0};
	ck_assert_msg(okta_user_groups(oc, "00u1", &g, &n, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(g[0].name, "a");
	ck_assert_str_eq(g[2].id, "00g3");
	ck_assert_str_eq(fake_http_request(fh, 1)->query, "after=00g2");
	okta_groups_free(g, n);
	free(next);
	/* A user that does not exist. */
	push("GET /api/v1/users/00uX/groups", 404, json_hdr,
	     "{\"errorCode\":\"E0000007\",\"errorSummary\":\"Not found: Resource not found: 00uX (User)\"}");
	ck_assert_int_eq(okta_user_groups(oc, "00uX", &g, &n, &e), 1);
	/* A broken answer is an error, not an empty list. */
	push("GET /api/v1/users/00u2/groups", 200, json_hdr, "[{\"id\":\"00g1\"}]");
	ck_assert_int_eq(okta_user_groups(oc, "00u2", &g, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "profile.name"));
}
END_TEST

START_TEST(test_logs_page)
{
	new_client();
	char *next = link_line(fake_http_url(fh), "/api/v1/logs?after=cursor2&limit=1000", "next");
	const char *h1[] = {"Content-Type: application/json", next, NULL};
	push("GET /api/v1/logs", 200, h1, "[{\"uuid\":\"u1\"},{\"uuid\":\"u2\"}]");
	const char *types[] = {"group.user_membership.add", "user.lifecycle.suspend"};
	json_t *ev = NULL;
	char *nx = NULL;
	struct err e = {0};
	ck_assert_msg(okta_logs_page(oc, NULL, "2026-11-23T00:00:00.000Z", types, 2, &ev, &nx, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(json_array_size(ev), 2);
	ck_assert_ptr_nonnull(nx);
	ck_assert_ptr_nonnull(strstr(nx, "after=cursor2"));
	const struct fake_request *r = fake_http_request(fh, 0);
	char *since = form_param(r->query, "since"), *filter = form_param(r->query, "filter");
	char *order = form_param(r->query, "sortOrder"), *limit = form_param(r->query, "limit");
	ck_assert_str_eq(since, "2026-11-23T00:00:00.000Z");
	ck_assert_str_eq(filter, "eventType eq \"group.user_membership.add\" or eventType eq \"user.lifecycle.suspend\"");
	ck_assert_str_eq(order, "ASCENDING");
	ck_assert_str_eq(limit, "1000");
	free(since);
	free(filter);
	free(order);
	free(limit);
	json_decref(ev);
	/* The next poll follows the link verbatim. */
	push("GET /api/v1/logs", 200, json_hdr, "[]");
	char *nx2 = NULL;
	ck_assert_msg(okta_logs_page(oc, nx, NULL, types, 2, &ev, &nx2, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(fake_http_request(fh, 1)->query, "after=cursor2&limit=1000");
	ck_assert_uint_eq(json_array_size(ev), 0);
	json_decref(ev);
	free(nx2);
	/* A cursor pointing elsewhere is refused. */
	ck_assert_int_eq(okta_logs_page(oc, "https://evil.example/api/v1/logs", NULL, types, 2, &ev, &nx2, &e), -1);
	free(nx);
	free(next);
}
END_TEST

/* ---- event hook deliveries ---- */

START_TEST(test_delivery_parse)
{
	static const char body[] =
	    "{\"eventType\":\"com.okta.event_hook\",\"eventId\":\"env1\",\"data\":{\"events\":["
	    "{\"uuid\":\"e1\",\"published\":\"2026-11-23T10:00:00.123Z\",\"eventType\":\"group.user_membership.add\","
	    "\"target\":[{\"id\":\"00g1\",\"type\":\"UserGroup\",\"displayName\":\"admins\"},"
	    "{\"id\":\"00u1\",\"type\":\"User\",\"alternateId\":\"a@b.example\"}]},"
	    "{\"uuid\":\"e2\",\"published\":\"2026-11-23T10:00:01Z\",\"eventType\":\"USER.LIFECYCLE.SUSPEND\","
	    "\"actor\":null,\"target\":null},"
	    "{\"published\":\"2026-11-23T10:00:01Z\",\"eventType\":\"user.lifecycle.activate\"},"
	    "{\"uuid\":\"e4\",\"published\":\"yesterday\",\"eventType\":\"user.lifecycle.activate\"},"
	    "{\"uuid\":\"e5\",\"published\":\"2026-11-23T10:00:01+01:00\",\"eventType\":\"user.session.start\"}]}}";
	json_t *root;
	struct okta_event *ev;
	size_t n;
	struct err e = {0};
	ck_assert_int_eq(okta_delivery_parse(body, sizeof body - 1, &root, &ev, &n, &e), 0);
	ck_assert_uint_eq(n, 5);
	/* targets found by type, not position */
	ck_assert_int_eq(ev[0].kind, OE_MEMBERSHIP_ADD);
	ck_assert_str_eq(ev[0].user_id, "00u1");
	ck_assert_str_eq(ev[0].user_login, "a@b.example");
	ck_assert_str_eq(ev[0].group_id, "00g1");
	ck_assert_str_eq(ev[0].group_name, "admins");
	ck_assert_str_eq(ev[0].problem, "");
	/* null target tolerated; type matched case-insensitively */
	ck_assert_int_eq(ev[1].kind, OE_USER_SUSPENDED);
	ck_assert_ptr_null(ev[1].user_id);
	ck_assert_str_eq(ev[1].problem, "");
	ck_assert_ptr_nonnull(strstr(ev[2].problem, "uuid"));
	ck_assert_ptr_nonnull(strstr(ev[3].problem, "published"));
	ck_assert_int_eq(ev[4].kind, OE_OTHER);
	ck_assert_str_eq(ev[4].problem, "");
	free(ev);
	json_decref(root);

	static const struct {
		const char *body, *msg;
	} bad[] = {
	    {"", "not valid JSON"},
	    {"[1,2]", "not a JSON object"},
	    {"{\"data\":{}}", "data.events"},
	    {"{\"data\":{\"events\":{}}}", "data.events"},
	    {"{\"data\":{\"events\":[]},\"data\":1}", "not valid JSON"}, /* duplicate keys refused */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct err be = {0};
		ck_assert_int_eq(okta_delivery_parse(bad[i].body, strlen(bad[i].body), &root, &ev, &n, &be), -1);
		ck_assert_msg(strstr(be.msg, bad[i].msg), "%s: %s", bad[i].body, be.msg);
	}
}
END_TEST

START_TEST(test_event_time_and_kinds)
{
	ck_assert(okta_time_valid("2026-11-23T10:00:00Z"));
	ck_assert(okta_time_valid("2026-11-23T10:00:00.093Z"));
	ck_assert(okta_time_valid("2026-11-23T10:00:00.093-05:00"));
	ck_assert(!okta_time_valid("2026-11-23 10:00:00Z"));
	ck_assert(!okta_time_valid("2026-13-23T10:00:00Z"));
	ck_assert(!okta_time_valid("2026-11-23T10:00:00"));
	ck_assert(!okta_time_valid("2026-11-23T10:00:00.Z"));
	ck_assert(!okta_time_valid(NULL));
	ck_assert_int_eq(okta_event_kind_of("user.lifecycle.reactivate"), OE_USER_ACTIVE);
	ck_assert_int_eq(okta_event_kind_of("user.lifecycle.unsuspend"), OE_USER_ACTIVE);
	ck_assert_int_eq(okta_event_kind_of("user.lifecycle.delete.initiated"), OE_USER_DEACTIVATED);
	ck_assert_int_eq(okta_event_kind_of("user.account.update_profile"), OE_USER_PROFILE);
	ck_assert_int_eq(okta_event_kind_of("group.lifecycle.delete"), OE_GROUP_DELETED);
	ck_assert_int_eq(okta_event_kind_of("group.user_membership.remove"), OE_MEMBERSHIP_REMOVE);
	ck_assert_int_eq(okta_event_kind_of(NULL), OE_OTHER);
	for (size_t i = 0; okta_event_types[i]; i++)
		ck_assert_int_ne(okta_event_kind_of(okta_event_types[i]), OE_OTHER);
}
END_TEST

Suite *okta_suite(void)
{
	Suite *s = suite_create("okta");
	TCase *tc = tcase_create("client");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ssws_header_and_get_user);
	tcase_add_test(tc, test_get_user_404);
	tcase_add_test(tc, test_email_attribute_login);
	tcase_add_test(tc, test_groups_by_name_search_and_pages);
	tcase_add_test(tc, test_groups_by_name_filter);
	tcase_add_test(tc, test_groups_by_name_split);
	tcase_add_test(tc, test_members_pages_concurrent);
	tcase_add_test(tc, test_members_next_other_host_refused);
	tcase_add_test(tc, test_members_429_then_success);
	tcase_add_test(tc, test_rate_limit_reserve);
	tcase_add_test(tc, test_error_body_names_error_code);
	tcase_add_test(tc, test_members_404_names_group);
	tcase_add_test(tc, test_members_transport_error_names_group);
	tcase_add_test(tc, test_malformed_answers);
	tcase_add_test(tc, test_client_new_errors);
	tcase_add_test(tc, test_user_groups_pages);
	tcase_add_test(tc, test_logs_page);
	tcase_add_test(tc, test_delivery_parse);
	tcase_add_test(tc, test_event_time_and_kinds);
	suite_add_tcase(s, tc);

	TCase *oa = tcase_create("oauth");
	tcase_add_checked_fixture(oa, setup, teardown);
	tcase_set_timeout(oa, 120);
	tcase_add_test(oa, test_oauth_rs256_pem_cache_and_401);
	tcase_add_test(oa, test_oauth_es256_pem_no_kid);
	tcase_add_test(oa, test_oauth_jwk_text);
	tcase_add_test(oa, test_oauth_token_expiry);
	tcase_add_test(oa, test_oauth_dpop_and_errors);
	tcase_add_test(oa, test_oauth_key_errors);
	suite_add_tcase(s, oa);
	return s;
}
