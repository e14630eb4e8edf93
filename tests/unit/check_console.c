/*
 * check_console.c: the web console's pure parts: HTML escaping
 * (bridge/console/html.c) and ID token verification, PKCE and random tokens
 * (sso/oidc.c). Tokens are signed here with a key made by cjose, the same
 * library the verifier uses, so every refusal path is exercised on a
 * genuinely signed token that differs in one respect.
 */
#include "bridge/console/html.h"
#include "bridge/console/session.h"
#include "testdb.h"
#include "sso/oidc.h"
#include "suites.h"

#include <check.h>
#include <cjose/cjose.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *esc(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(html_escape(&b, s, n), BUF_OK);
	return buf_take(&b);
}

START_TEST(html_escapes_markup)
{
	char *o = esc("<script>alert('x')</script>", 27);
	ck_assert_str_eq(o, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
	free(o);
	o = esc("\"><img src=x onerror=`y`>&amp;", 30);
	ck_assert_str_eq(o, "&quot;&gt;&lt;img src&#61;x onerror&#61;&#96;y&#96;&gt;&amp;amp;");
	free(o);
	o = esc("plain text", 10);
	ck_assert_str_eq(o, "plain text");
	free(o);
	o = esc("", 0);
	ck_assert_str_eq(o, "");
	free(o);
}
END_TEST

START_TEST(html_escapes_bad_bytes)
{
	/* valid UTF-8 kept; NUL, controls, DEL, overlong, surrogate, >U+10FFFF, truncated replaced */
	char *o = esc("caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
	ck_assert_str_eq(o, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	free(o);
	o = esc("a\0b\x01\x7f\tc\n", 8);
	ck_assert_str_eq(o, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\tc\n");
	free(o);
	o = esc("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82", 14);
	ck_assert_str_eq(o, "\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
			    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD");
	free(o);
}
END_TEST

START_TEST(html_printf_escapes_arguments_only)
{
	struct buf b;
	char *o;

	buf_init(&b, 0);
	ck_assert_int_eq(html_printf(&b, "<td class=\"x\">%s</td><td>%d %l 100%%</td>%s", "<b>&",
				     -3, (long long)1234567890123, (const char *)NULL), BUF_OK);
	o = buf_take(&b);
	ck_assert_str_eq(o, "<td class=\"x\">&lt;b&gt;&amp;</td><td>-3 1234567890123 100%</td>");
	free(o);
	buf_init(&b, 10);
	ck_assert_int_eq(html_puts(&b, "<<<<<<<<<<"), BUF_TOO_BIG);
	buf_reset(&b);
}
END_TEST

START_TEST(pkce_and_random)
{
	char v[44], v2[44], c[44];

	ck_assert_int_eq(oidc_random_token(v), 0);
	ck_assert_int_eq(oidc_random_token(v2), 0);
	ck_assert_uint_eq(strlen(v), 43);
	ck_assert_str_ne(v, v2);
	ck_assert_uint_eq(strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	/* computed independently: printf %s "$v" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=' */
	oidc_pkce_challenge("dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
	ck_assert_str_eq(c, "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc");
}
END_TEST

/* ---- ID tokens -------------------------------------------------------------------------------- */

#define ISS "http://127.0.0.1:9/oauth2/default"
#define CID "sim-console"
#define NOW 1800000000

static cjose_jwk_t *mk_key(const char *kid)
{
	static const uint8_t e[] = {1, 0, 1};
	cjose_err err;
	cjose_jwk_t *k = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
	ck_assert_ptr_nonnull(k);
	ck_assert(cjose_jwk_set_kid(k, kid, strlen(kid), &err));
	return k;
}

static char *jwks_of(cjose_jwk_t *k)
{
	cjose_err err;
	char *pub = cjose_jwk_to_json(k, false, &err);
	char *s;
	ck_assert_ptr_nonnull(pub);
	ck_assert_int_gt(asprintf(&s, "{\"keys\":[%s]}", pub), 0);
	free(pub);
	return s;
}

/* A token signed by k with the header's kid set to kid and the claims given. */
static char *sign(cjose_jwk_t *k, const char *kid, json_t *claims)
{
	cjose_err err;
	cjose_header_t *h = cjose_header_new(&err);
	char *payload = json_dumps(claims, JSON_COMPACT);
	const char *ser;
	cjose_jws_t *jws;
	char *out;

	ck_assert(cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_RS256, &err));
	ck_assert(cjose_header_set(h, CJOSE_HDR_KID, kid, &err));
	jws = cjose_jws_sign(k, h, (const uint8_t *)payload, strlen(payload), &err);
	ck_assert_ptr_nonnull(jws);
	ck_assert(cjose_jws_export(jws, &ser, &err));
	out = strdup(ser);
	cjose_jws_release(jws);
	cjose_header_release(h);
	free(payload);
	json_decref(claims);
	return out;
}

static json_t *good_claims(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:[s]}", "iss", ISS, "aud", CID, "sub",
			 "00u1", "email", "alice@acme.example", "iat", NOW - 5, "exp", NOW + 3595,
			 "nonce", "n-1", "groups", "sentry-admins");
}

static int verify(const char *jwks, const char *tok, const char *nonce)
{
	struct oidc_expect x = {.issuer = ISS, .client_id = CID, .nonce = nonce, .now_s = NOW, .leeway_s = 60};
	struct err e = {0};
	json_t *claims = NULL;
	int rc = oidc_verify_id_token(jwks, tok, &x, &claims, &e);

	if (rc == OIDC_OK) {
		ck_assert_str_eq(json_string_value(json_object_get(claims, "email")), "alice@acme.example");
		ck_assert_str_eq(oidc_rc_name(rc), "ok");
	} else {
		ck_assert_ptr_null(claims);
		ck_assert_int_eq(e.code, rc);
		ck_assert(strlen(e.msg) > 0);
		if (*tok)
			ck_assert_ptr_null(strstr(e.msg, tok)); /* never echo the token */
	}
	json_decref(claims);
	return rc;
}

START_TEST(id_token_refusals)
{
	cjose_jwk_t *k = mk_key("k1"), *rogue = mk_key("k1");
	char *jwks = jwks_of(k);
	char *t;
	json_t *c;

	t = sign(k, "k1", good_claims());
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_OK);
	ck_assert_int_eq(verify(jwks, t, "n-2"), OIDC_E_NONCE);     /* nonce mismatch */
	ck_assert_int_eq(verify(jwks, t, NULL), OIDC_E_NONCE);
	{ /* forged: same payload, signature of another key with the same kid */
		char *f = sign(rogue, "k1", good_claims());
		ck_assert_int_eq(verify(jwks, f, "n-1"), OIDC_E_SIGNATURE);
		free(f);
	}
	{ /* tampered claims, original signature */
		char *dot1 = strchr(t, '.'), *dot2 = strchr(dot1 + 1, '.');
		json_t *cl = good_claims();
		char *p, enc[2048], *tampered;
		json_object_set_new(cl, "email", json_string("mallory@acme.example"));
		p = json_dumps(cl, JSON_COMPACT);
		oidc_b64url((const unsigned char *)p, strlen(p), enc);
		ck_assert_int_gt(asprintf(&tampered, "%.*s.%s%s", (int)(dot1 - t), t, enc, dot2), 0);
		ck_assert_int_eq(verify(jwks, tampered, "n-1"), OIDC_E_SIGNATURE);
		free(tampered);
		free(p);
		json_decref(cl);
	}
	free(t);

	t = sign(k, "k2", good_claims()); /* unknown kid */
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_UNKNOWN_KID);
	free(t);

	c = good_claims();
	json_object_set_new(c, "exp", json_integer(NOW - 61));
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_EXPIRED);
	free(t);

	c = good_claims();
	json_object_del(c, "exp");
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_EXPIRED);
	free(t);

	c = good_claims();
	json_object_set_new(c, "iat", json_integer(NOW + 600));
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_IAT);
	free(t);

	c = good_claims();
	json_object_set_new(c, "iss", json_string("https://evil.example.com"));
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_ISS);
	free(t);

	c = good_claims();
	json_object_set_new(c, "aud", json_string("someone-else"));
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_AUD);
	free(t);

	c = good_claims(); /* several audiences need azp = us */
	json_object_set_new(c, "aud", json_pack("[s,s]", CID, "other"));
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_E_AUD);
	free(t);
	c = good_claims();
	json_object_set_new(c, "aud", json_pack("[s,s]", CID, "other"));
	json_object_set_new(c, "azp", json_string(CID));
	t = sign(k, "k1", c);
	ck_assert_int_eq(verify(jwks, t, "n-1"), OIDC_OK);
	free(t);

	ck_assert_int_eq(verify(jwks, "not.a.jwt", "n-1"), OIDC_E_MALFORMED);
	ck_assert_int_eq(verify(jwks, "", "n-1"), OIDC_E_MALFORMED);
	{ /* alg none, no signature */
		const char *h = "{\"alg\":\"none\",\"kid\":\"k1\"}";
		json_t *cl = good_claims();
		char *p = json_dumps(cl, JSON_COMPACT), eh[128], ep[2048], *none;
		oidc_b64url((const unsigned char *)h, strlen(h), eh);
		oidc_b64url((const unsigned char *)p, strlen(p), ep);
		ck_assert_int_gt(asprintf(&none, "%s.%s.", eh, ep), 0);
		ck_assert_int_ne(verify(jwks, none, "n-1"), OIDC_OK);
		free(none);
		free(p);
		json_decref(cl);
	}
	t = sign(k, "k1", good_claims());
	ck_assert_int_eq(verify("{\"nokeys\":1}", t, "n-1"), OIDC_E_JWKS);
	ck_assert_int_eq(verify("garbage", t, "n-1"), OIDC_E_JWKS);
	free(t);

	free(jwks);
	cjose_jwk_release(k);
	cjose_jwk_release(rogue);
}
END_TEST


/* ---- sessions and cookies ------------------------------------------------------------------------- */

START_TEST(cookie_attributes)
{
	char *c = csess_set_cookie("http://127.0.0.1:8080", "/console", "sb_session", "abc", 3600);
	ck_assert_str_eq(c, "sb_session=abc; Path=/console; Max-Age=3600; HttpOnly; SameSite=Lax");
	free(c);
	c = csess_set_cookie("https://bridge.example.com", "/console", "sb_session", "abc", 3600);
	ck_assert_str_eq(c, "sb_session=abc; Path=/console; Max-Age=3600; HttpOnly; SameSite=Lax; Secure");
	free(c);
	c = csess_set_cookie("HTTPS://bridge.example.com", "/oidc/cb", "sb_session", "abc", 0); /* deletion */
	ck_assert_str_eq(c, "sb_session=; Path=/oidc/cb; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
	free(c);
	c = csess_cookie_get("a=1; sb_session=xyz ;sb_session_login=q", "sb_session");
	ck_assert_str_eq(c, "xyz");
	free(c);
	c = csess_cookie_get("sb_session_login=q", "sb_session");
	ck_assert_ptr_null(c);
	ck_assert_ptr_null(csess_cookie_get(NULL, "sb_session"));
	c = csess_cookie_get("x_sb_session=1;sb_session=", "sb_session");
	ck_assert_ptr_null(c); /* an empty value is no session */
}
END_TEST

static void new_session(PGconn *c, int admin, int64_t now, char id[44], struct csess *s)
{
	struct err e = {0};

	memset(s, 0, sizeof(*s));
	s->email = strdup("Alice@Acme.example");
	s->name = strdup("Alice <b>");
	s->okta_id = strdup("00u1");
	s->groups = json_pack("[s,s]", "sentry-admins", "x");
	s->is_admin = admin;
	ck_assert_int_eq(csess_create(c, s, now, id, &e), 0);
}

START_TEST(sessions_in_postgres)
{
	PGconn *c = testdb_fresh();
	struct config_console_session cc = {.idle_timeout_ms = 3600000, .absolute_timeout_ms = 12 * 3600000LL};
	const int64_t t0 = 1800000000000;
	struct csess s, l;
	struct err e = {0};
	char id[44], id2[44], hash[65], *v;

	new_session(c, 1, t0, id, &s);
	ck_assert_uint_eq(strlen(id), 43);
	ck_assert_uint_eq(strlen(s.csrf), 43);
	ck_assert_str_ne(s.csrf, id);
	/* only the digest is stored */
	csess_digest(id, hash);
	v = testdb_value(c, "SELECT id_hash FROM console_sessions");
	ck_assert_str_eq(v, hash);
	free(v);
	ck_assert_int_eq(csess_load(c, &cc, id, t0 + 1000, &l, &e), 0);
	ck_assert_str_eq(l.email, "alice@acme.example");
	ck_assert_str_eq(l.name, "Alice <b>");
	ck_assert_int_eq(l.is_admin, 1);
	ck_assert_uint_eq(json_array_size(l.groups), 2);
	ck_assert(csess_csrf_ok(&l, s.csrf));
	ck_assert(!csess_csrf_ok(&l, "x"));
	ck_assert(!csess_csrf_ok(&l, ""));
	ck_assert(!csess_csrf_ok(&l, NULL));
	csess_clear(&l);
	/* unknown, malformed and missing ids */
	ck_assert_int_eq(csess_load(c, &cc, "made-up-0123456789abcdefghijklmnopqrstuvwxy", t0, &l, &e), 1);
	ck_assert_int_eq(csess_load(c, &cc, "short", t0, &l, &e), 1);
	ck_assert_int_eq(csess_load(c, &cc, NULL, t0, &l, &e), 1);
	/* idle: used at t0+1s, so valid until t0+1s+1h */
	ck_assert_int_eq(csess_load(c, &cc, id, t0 + 1000 + 3600000 - 1, &l, &e), 0);
	csess_clear(&l);
	ck_assert_int_eq(csess_load(c, &cc, id, t0 + 1000 + 2 * 3600000, &l, &e), 1);
	/* absolute: kept busy every 30 minutes, it still ends after 12 h */
	csess_clear(&s);
	new_session(c, 0, t0, id2, &s);
	for (int64_t t = t0 + 1800000; t < t0 + 12 * 3600000LL; t += 1800000) {
		ck_assert_int_eq(csess_load(c, &cc, id2, t, &l, &e), 0);
		ck_assert_int_eq(l.is_admin, 0);
		csess_clear(&l);
	}
	ck_assert_int_eq(csess_load(c, &cc, id2, t0 + 12 * 3600000LL + 1, &l, &e), 1);
	/* sign-out ends it on the server */
	csess_clear(&s);
	new_session(c, 0, t0, id2, &s);
	ck_assert_int_eq(csess_end(c, id2, t0 + 5, &e), 0);
	ck_assert_int_eq(csess_load(c, &cc, id2, t0 + 10, &l, &e), 1);
	ck_assert_int_eq(csess_end(c, id2, t0 + 5, &e), 0); /* twice: no-op */
	csess_clear(&s);
	PQfinish(c);
}
END_TEST

Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("html");
	tcase_add_test(tc, html_escapes_markup);
	tcase_add_test(tc, html_escapes_bad_bytes);
	tcase_add_test(tc, html_printf_escapes_arguments_only);
	suite_add_tcase(s, tc);
	tc = tcase_create("oidc");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pkce_and_random);
	tcase_add_test(tc, id_token_refusals);
	suite_add_tcase(s, tc);
	tc = tcase_create("session");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cookie_attributes);
	tcase_add_test(tc, sessions_in_postgres);
	suite_add_tcase(s, tc);
	return s;
}
