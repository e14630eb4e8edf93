/*
 * okta_auth.c: SSWS tokens and OAuth 2.0 private_key_jwt for the Okta
 * Management API (see okta_auth.h).
 *
 * Okta facts relied on (shared/reference/okta-api.md §4.2, [SVC]):
 *   - an API Services app gets tokens with Okta API scopes from the org
 *     authorization server only: POST <base_url>/oauth2/v1/token, form
 *     encoded, grant_type=client_credentials, space-separated scope,
 *     client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
 *     jwt-bearer, client_assertion=<signed JWT>;
 *   - private_key_jwt is the only client authentication such apps may use
 *     for Okta scopes; the assertion's iss and sub are the client id, aud
 *     is the full token URL, exp is at most 1 h ahead, iat must not be in
 *     Okta's future, and a jti makes the assertion single-use;
 *   - alg is one of RS256/384/512, ES256/384/512 (we sign RS256 or ES256)
 *     and the header names the registered key with kid;
 *   - the answer is {"token_type":"Bearer","expires_in":3600,
 *     "access_token":...}: a fixed 1 h lifetime and no refresh token, so a
 *     new assertion mints the next token.
 *
 * DPoP is out of scope. Since Feb 2024 new API Services apps have
 * "Require Demonstrating Proof of Possession (DPoP) header in token
 * requests" ticked by default, and Okta then answers the token request with
 * 400 invalid_dpop_proof or use_dpop_nonce ([DPOP], [NODE424]). We report
 * that as a configuration error telling the operator to untick the box
 * (private_key_jwt already binds the client to its key, as Okta's own
 * release note says), rather than implement the nonce round trip and
 * per-request proofs.
 */
#include "okta_auth.h"

#include "clock.h"
#include "secret.h"

#include <cjose/cjose.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define MOD "okta"

/* Lifetime of a client assertion. Okta accepts exp up to 1 h ahead [SVC];
 * the assertion is used for one POST right away, so 5 minutes is ample and
 * limits the harm if one leaked. */
#define ASSERTION_TTL_S 300
/* Refetch the access token this long before expires_in runs out, so a
 * request never leaves with a token that expires on the way. */
#define TOKEN_EARLY_S 60
/* Largest access token accepted (Okta's are JWTs of about 1 KB). */
#define TOKEN_MAX_BYTES 16384
/* Bytes of CSPRNG output in a jti (128 bits: never repeats). */
#define JTI_BYTES 16

static const char SSWS_PREFIX[] = "Authorization: SSWS ";
static const char BEARER_PREFIX[] = "Authorization: Bearer ";
static const char ASSERTION_TYPE[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct okta_auth {
	int oauth;	    /* 1: OAuth private_key_jwt, 0: SSWS */
	char *ssws_line;    /* SSWS: "Authorization: SSWS <token>" */
	struct httpc *http; /* borrowed */
	struct logger *lg;  /* borrowed */
	char *token_url;    /* <base>/oauth2/v1/token: the URL and the assertion's aud */
	char *client_id;
	char *scope;	    /* space-separated */
	char *kid;	    /* NULL: no kid header */
	const char *alg;    /* CJOSE_HDR_ALG_RS256 or CJOSE_HDR_ALG_ES256 */
	cjose_jwk_t *jwk;   /* the private key */
	pthread_mutex_t mu; /* guards line, refresh_at_ms and fetches */
	int mu_ok;
	char *line;	       /* cached "Authorization: Bearer <token>", NULL when none */
	int64_t refresh_at_ms; /* clock_now_ms() from which line must be refetched */
	unsigned long fetches;
};

int okta_url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~') {
			rc = buf_append(b, p, 1);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buf_append(b, enc, 3);
		}
		if (rc)
			return rc;
	}
	return BUF_OK;
}

/* prefix + value in one exact-size allocation (no stray copies of a secret
 * left behind by a growing buffer). NULL on allocation failure. */
static char *join2(const char *prefix, const char *value)
{
	size_t a = strlen(prefix), b = strlen(value);
	char *s = malloc(a + b + 1);
	if (!s)
		return NULL;
	memcpy(s, prefix, a);
	memcpy(s + a, value, b + 1);
	return s;
}

/* A token is sent in a header: visible ASCII only (no CR/LF smuggling). */
static int token_chars_ok(const char *t)
{
	if (!*t)
		return 0;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return 1;
}

/* ---- key loading ---- */

/* OpenSSL would prompt on the terminal for an encrypted PEM key; refuse. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* A big-number parameter of pk as big-endian bytes, left-padded to pad
 * bytes when pad > 0. *out is allocated (free with free_bytes). 0 or -1. */
static int bn_param(const EVP_PKEY *pk, const char *name, size_t pad, uint8_t **out, size_t *len)
{
	BIGNUM *bn = NULL;
	*out = NULL;
	*len = 0;
	if (!EVP_PKEY_get_bn_param(pk, name, &bn))
		return -1;
	size_t n = (size_t)BN_num_bytes(bn);
	size_t sz = pad ? pad : (n ? n : 1);
	int rc = -1;
	if (n > sz)
		goto out;
	*out = malloc(sz);
	if (!*out)
		goto out;
	if (BN_bn2binpad(bn, *out, (int)sz) < 0) {
		free(*out);
		*out = NULL;
		goto out;
	}
	*len = sz;
	rc = 0;
out:
	BN_clear_free(bn);
	return rc;
}

static void free_bytes(uint8_t *p, size_t n)
{
	if (p)
		OPENSSL_cleanse(p, n);
	free(p);
}

static cjose_jwk_t *rsa_to_jwk(const EVP_PKEY *pk, struct err *e)
{
	cjose_jwk_rsa_keyspec s;
	memset(&s, 0, sizeof s);
	cjose_jwk_t *jwk = NULL;
	cjose_err ce;
	if (bn_param(pk, OSSL_PKEY_PARAM_RSA_N, 0, &s.n, &s.nlen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_RSA_E, 0, &s.e, &s.elen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_RSA_D, 0, &s.d, &s.dlen)) {
		err_set(e, -1, "okta.oauth: cannot read the RSA private key's parameters");
		goto out;
	}
	/* The CRT parameters are optional (a key may hold n, e, d only). */
	if (bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1, 0, &s.p, &s.plen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2, 0, &s.q, &s.qlen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0, &s.dp, &s.dplen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0, &s.dq, &s.dqlen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0, &s.qi, &s.qilen)) {
		free_bytes(s.p, s.plen);
		free_bytes(s.q, s.qlen);
		free_bytes(s.dp, s.dplen);
		free_bytes(s.dq, s.dqlen);
		free_bytes(s.qi, s.qilen);
		s.p = s.q = s.dp = s.dq = s.qi = NULL;
		s.plen = s.qlen = s.dplen = s.dqlen = s.qilen = 0;
	}
	jwk = cjose_jwk_create_RSA_spec(&s, &ce);
	if (!jwk)
		err_set(e, -1, "okta.oauth: cannot use the RSA key: %s", ce.message ? ce.message : "cjose error");
out:
	free_bytes(s.n, s.nlen);
	free_bytes(s.e, s.elen);
	free_bytes(s.d, s.dlen);
	free_bytes(s.p, s.plen);
	free_bytes(s.q, s.qlen);
	free_bytes(s.dp, s.dplen);
	free_bytes(s.dq, s.dqlen);
	free_bytes(s.qi, s.qilen);
	return jwk;
}

static cjose_jwk_t *ec_to_jwk(const EVP_PKEY *pk, struct err *e)
{
	cjose_jwk_ec_keyspec s;
	memset(&s, 0, sizeof s);
	cjose_jwk_t *jwk = NULL;
	cjose_err ce;
	/* Curve names are short; OpenSSL fails rather than overflow. */
	char group[64];
	size_t glen = 0;
	if (!EVP_PKEY_get_group_name(pk, group, sizeof group, &glen) ||
	    (strcmp(group, "prime256v1") && strcmp(group, "P-256") && strcmp(group, "secp256r1"))) {
		err_set(e, -1, "okta.oauth: the EC key is not on curve P-256 (ES256 needs P-256)");
		goto out;
	}
	s.crv = CJOSE_JWK_EC_P_256;
	/* P-256 coordinates and scalar are 32 bytes each, left-padded. */
	if (bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, 32, &s.d, &s.dlen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32, &s.x, &s.xlen) ||
	    bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32, &s.y, &s.ylen)) {
		err_set(e, -1, "okta.oauth: cannot read the EC private key's parameters");
		goto out;
	}
	jwk = cjose_jwk_create_EC_spec(&s, &ce);
	if (!jwk)
		err_set(e, -1, "okta.oauth: cannot use the EC key: %s", ce.message ? ce.message : "cjose error");
out:
	free_bytes(s.d, s.dlen);
	free_bytes(s.x, s.xlen);
	free_bytes(s.y, s.ylen);
	return jwk;
}

/* A PEM private key (PKCS#8 or traditional RSA/EC, unencrypted) as a JWK. */
static cjose_jwk_t *import_pem(const char *text, struct err *e)
{
	cjose_jwk_t *jwk = NULL;
	EVP_PKEY *pk = NULL;
	BIO *bio = BIO_new_mem_buf(text, -1);
	if (!bio) {
		err_set(e, -1, "okta.oauth: out of memory");
		goto out;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pk) {
		err_set(e, -1,
			"okta.oauth.private_key_file: not an unencrypted PEM private key nor a JWK "
			"(encrypted PEM keys are not supported)");
		goto out;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		jwk = rsa_to_jwk(pk, e);
		break;
	case EVP_PKEY_EC:
		jwk = ec_to_jwk(pk, e);
		break;
	default:
		err_set(e, -1, "okta.oauth.private_key_file: the key is neither RSA nor EC");
		break;
	}
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	ERR_clear_error(); /* leave no stale errors in this thread's queue */
	return jwk;
}

/* A JWK (or a JWK Set: the key whose kid is key_id, or its only key) given
 * as JSON text. Never quotes the text in errors: it holds the key. */
static cjose_jwk_t *import_jwk(const char *text, const char *key_id, struct err *e)
{
	cjose_jwk_t *jwk = NULL;
	char *one = NULL;
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		err_set(e, -1, "okta.oauth.private_key_file: not valid JWK JSON (line %d, column %d)", je.line,
			je.column);
		goto out;
	}
	json_t *k = j;
	json_t *keys = json_object_get(j, "keys");
	if (keys) {
		if (!json_is_array(keys) || !json_array_size(keys)) {
			err_set(e, -1, "okta.oauth.private_key_file: the JWK Set has no keys");
			goto out;
		}
		k = NULL;
		if (key_id && *key_id) {
			for (size_t i = 0; i < json_array_size(keys) && !k; i++) {
				const char *kid = json_string_value(json_object_get(json_array_get(keys, i), "kid"));
				if (kid && !strcmp(kid, key_id))
					k = json_array_get(keys, i);
			}
		} else if (json_array_size(keys) == 1) {
			k = json_array_get(keys, 0);
		}
		if (!k) {
			err_set(e, -1,
				"okta.oauth.private_key_file: the JWK Set has no key with kid okta.oauth.key_id "
				"(set key_id when the set holds several keys)");
			goto out;
		}
	}
	if (!json_is_object(k) || !json_is_string(json_object_get(k, "d"))) {
		err_set(e, -1, "okta.oauth.private_key_file: the JWK has no private part (\"d\")");
		goto out;
	}
	one = json_dumps(k, JSON_COMPACT);
	if (!one) {
		err_set(e, -1, "okta.oauth: out of memory");
		goto out;
	}
	cjose_err ce;
	jwk = cjose_jwk_import(one, strlen(one), &ce);
	if (!jwk)
		err_set(e, -1, "okta.oauth.private_key_file: cjose refused the JWK: %s",
			ce.message ? ce.message : "cjose error");
out:
	secret_free(one);
	json_decref(j); /* jansson's copy cannot be wiped: it lives only this long */
	return jwk;
}

/* Load the key (PEM or JWK text) and check it fits the algorithm. */
static int load_key(struct okta_auth *a, const struct config_okta_oauth *o, struct err *e)
{
	const char *text = o->private_key;
	if (!text || !*text)
		return err_set(e, -1, "okta.oauth.private_key_file is empty or unreadable");
	const char *p = text;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	a->jwk = *p == '{' ? import_jwk(p, o->key_id, e) : import_pem(text, e);
	if (!a->jwk)
		return -1;
	cjose_err ce;
	cjose_jwk_kty_t kty = cjose_jwk_get_kty(a->jwk, &ce);
	if (o->algorithm == CONFIG_JWT_ES256) {
		if (kty != CJOSE_JWK_KTY_EC || cjose_jwk_EC_get_curve(a->jwk, &ce) != CJOSE_JWK_EC_P_256)
			return err_set(e, -1, "okta.oauth.algorithm is ES256 but the key is not an EC P-256 key");
		a->alg = CJOSE_HDR_ALG_ES256;
	} else {
		if (kty != CJOSE_JWK_KTY_RSA)
			return err_set(e, -1,
				       "okta.oauth.algorithm is RS256 but the key is not an RSA key "
				       "(use algorithm: ES256 for an EC key)");
		a->alg = CJOSE_HDR_ALG_RS256;
	}
	/* kid: okta.oauth.key_id, else the JWK's own kid when it has one. */
	const char *kid = o->key_id && *o->key_id ? o->key_id : cjose_jwk_get_kid(a->jwk, &ce);
	if (kid && *kid) {
		a->kid = strdup(kid);
		if (!a->kid)
			return err_set(e, -1, "okta.oauth: out of memory");
	}
	return 0;
}

/* ---- the client assertion ---- */

static int fill_random(unsigned char *p, size_t n)
{
	while (n) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* A signed client assertion for now_ms. *jwt is allocated (secret_free). */
static int make_assertion(struct okta_auth *a, int64_t now_ms, char **jwt, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[JTI_BYTES];
	char jti[2 * JTI_BYTES + 1];
	json_t *claims = NULL;
	char *payload = NULL;
	cjose_header_t *hdr = NULL;
	cjose_jws_t *jws = NULL;
	cjose_err ce;
	int rc = -1;
	*jwt = NULL;

	/* jti: unique per assertion, from the kernel CSPRNG; Okta then treats
	 * the assertion as single-use [SVC]. */
	if (fill_random(rnd, sizeof rnd)) {
		err_set(e, -1, "okta.oauth: no randomness for the assertion's jti");
		goto out;
	}
	for (size_t i = 0; i < sizeof rnd; i++) {
		jti[2 * i] = hex[rnd[i] >> 4];
		jti[2 * i + 1] = hex[rnd[i] & 15];
	}
	jti[2 * JTI_BYTES] = '\0';
	json_int_t iat = (json_int_t)(now_ms / 1000);
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", a->client_id, "sub", a->client_id, "aud",
			   a->token_url, "iat", iat, "exp", iat + ASSERTION_TTL_S, "jti", jti);
	payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	hdr = cjose_header_new(&ce);
	if (!payload || !hdr || !cjose_header_set(hdr, CJOSE_HDR_ALG, a->alg, &ce) ||
	    !cjose_header_set(hdr, "typ", "JWT", &ce) ||
	    (a->kid && !cjose_header_set(hdr, CJOSE_HDR_KID, a->kid, &ce))) {
		err_set(e, -1, "okta.oauth: cannot build the client assertion (out of memory)");
		goto out;
	}
	jws = cjose_jws_sign(a->jwk, hdr, (const uint8_t *)payload, strlen(payload), &ce);
	const char *ser = NULL;
	if (!jws || !cjose_jws_export(jws, &ser, &ce) || !ser) {
		err_set(e, -1, "okta.oauth: cannot sign the client assertion: %s",
			ce.message ? ce.message : "cjose error");
		goto out;
	}
	*jwt = strdup(ser);
	if (!*jwt) {
		err_set(e, -1, "okta.oauth: out of memory");
		goto out;
	}
	rc = 0;
out:
	cjose_jws_release(jws);
	cjose_header_release(hdr);
	free(payload);
	json_decref(claims);
	ERR_clear_error();
	return rc;
}

/* ---- the token request ---- */

/* Describe a refused token request: the OAuth error (and its description)
 * or Okta's errorCode/errorSummary; never the body otherwise. */
static void token_error(const struct httpc_resp *r, json_t *j, struct err *e)
{
	const char *oerr = json_string_value(json_object_get(j, "error"));
	const char *desc = json_string_value(json_object_get(j, "error_description"));
	const char *code = json_string_value(json_object_get(j, "errorCode"));
	const char *sum = json_string_value(json_object_get(j, "errorSummary"));
	if (oerr && (!strcmp(oerr, "invalid_dpop_proof") || !strcmp(oerr, "use_dpop_nonce"))) {
		err_set(e, -1,
			"okta: the token endpoint answered %.40s: the service app requires DPoP, which sentry-bridge "
			"does not implement; in the Okta Admin Console untick \"Require Demonstrating Proof of "
			"Possession (DPoP) header in token requests\" on the app's General tab",
			oerr);
		return;
	}
	if (oerr)
		err_set(e, -1, "okta: the token endpoint answered %ld: %.60s%s%.200s", r->status, oerr,
			desc ? ": " : "", desc ? desc : "");
	else if (code)
		err_set(e, -1, "okta: the token endpoint answered %ld: %.40s%s%.200s", r->status, code, sum ? ": " : "",
			sum ? sum : "");
	else
		err_set(e, -1, "okta: the token endpoint answered %ld", r->status);
}

/* Mint a new access token (a->mu held). */
static int fetch_token(struct okta_auth *a, struct err *e)
{
	char *jwt = NULL, *body = NULL, *line = NULL;
	struct buf b;
	struct httpc_resp r;
	json_t *j = NULL;
	int rc = -1, have_resp = 0;
	buf_init(&b, 0);
	int64_t now = clock_now_ms();

	if (make_assertion(a, now, &jwt, e))
		goto out;
	if (buf_puts(&b, "grant_type=client_credentials&scope=") || okta_url_escape(&b, a->scope) ||
	    buf_puts(&b, "&client_assertion_type=") || okta_url_escape(&b, ASSERTION_TYPE) ||
	    buf_puts(&b, "&client_assertion=") || okta_url_escape(&b, jwt)) {
		err_set(e, -1, "okta.oauth: out of memory");
		goto out;
	}
	size_t body_len = b.len;
	body = buf_take(&b);
	if (!body) {
		err_set(e, -1, "okta.oauth: out of memory");
		goto out;
	}
	static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
					   "Accept: application/json", NULL};
	/* Not idempotent (POST): httpc retries it only when it certainly was
	 * not processed, which also suits the single-use jti. */
	struct httpc_req req = {.method = "POST",
				.url = a->token_url,
				.headers = hdrs,
				.body = body,
				.body_len = body_len,
				.endpoint = OKTA_TOKEN_ENDPOINT,
				.idempotent = -1};
	struct err he = {0};
	int hrc = httpc_call(a->http, &req, &r, &he);
	have_resp = 1;
	if (hrc) {
		err_set(e, -1, "okta: token request failed: %s", he.msg);
		goto out;
	}
	j = json_loads(buf_str(&r.body), 0, NULL);
	if (r.status < 200 || r.status > 299) {
		token_error(&r, j, e);
		goto out;
	}
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	const char *type = json_string_value(json_object_get(j, "token_type"));
	json_t *exp = json_object_get(j, "expires_in");
	if (!json_is_object(j) || !tok) {
		err_set(e, -1, "okta: the token endpoint's answer has no access_token");
		goto out;
	}
	if (type && !strcasecmp(type, "DPoP")) {
		err_set(e, -1,
			"okta: the token endpoint issued a DPoP-bound token; sentry-bridge does not implement "
			"DPoP: untick \"Require Demonstrating Proof of Possession (DPoP) header in token "
			"requests\" on the service app");
		goto out;
	}
	if (!type || strcasecmp(type, "Bearer")) {
		err_set(e, -1, "okta: the token endpoint's answer is not a Bearer token");
		goto out;
	}
	if (strlen(tok) > TOKEN_MAX_BYTES || !token_chars_ok(tok)) {
		err_set(e, -1, "okta: the access token is too long or has characters a header cannot carry");
		goto out;
	}
	/* Okta's tokens live 1 h (expires_in 3600). Use one until TOKEN_EARLY_S
	 * before that; a missing or tiny expires_in means "this call only". */
	json_int_t ttl = json_is_integer(exp) ? json_integer_value(exp) : 0;
	if (ttl > 366 * 86400)
		ttl = 366 * 86400;
	line = join2(BEARER_PREFIX, tok);
	if (!line) {
		err_set(e, -1, "okta.oauth: out of memory");
		goto out;
	}
	secret_free(a->line);
	a->line = line;
	line = NULL;
	a->refresh_at_ms = now + (ttl > TOKEN_EARLY_S ? (int64_t)(ttl - TOKEN_EARLY_S) * 1000 : 0);
	a->fetches++;
	char ttls[24];
	snprintf(ttls, sizeof ttls, "%lld", (long long)ttl);
	log_info(a->lg, MOD, NULL, "okta access token obtained", "#expires_in", ttls, NULL);
	rc = 0;
out:
	json_decref(j); /* holds a copy of the token we cannot wipe; freed at once */
	if (have_resp) {
		if (r.body.data)
			OPENSSL_cleanse(r.body.data, r.body.len);
		httpc_resp_free(&r);
	}
	secret_free(line);
	secret_free(body);
	secret_free(jwt);
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	buf_reset(&b);
	return rc;
}

/* ---- public ---- */

struct okta_auth *okta_auth_new(const struct config_okta *o, const char *base, struct httpc *http, struct logger *lg,
				struct err *e)
{
	struct okta_auth *a = calloc(1, sizeof *a);
	if (!a) {
		err_set(e, -1, "okta: out of memory");
		return NULL;
	}
	a->http = http;
	a->lg = lg;
	if (!o->oauth.configured) {
		if (!o->api_token || !*o->api_token) {
			err_set(e, -1,
				"okta: no SSWS API token (okta.api_token_env or okta.api_token_file) and no "
				"okta.oauth block");
			goto fail;
		}
		if (!token_chars_ok(o->api_token)) {
			err_set(e, -1, "okta: the SSWS API token has characters a header cannot carry");
			goto fail;
		}
		a->ssws_line = join2(SSWS_PREFIX, o->api_token);
		if (!a->ssws_line)
			goto nomem;
		return a;
	}

	const struct config_okta_oauth *oa = &o->oauth;
	a->oauth = 1;
	if (!oa->client_id || !*oa->client_id) {
		err_set(e, -1, "okta.oauth.client_id is empty");
		goto fail;
	}
	if (!oa->scopes.n) {
		err_set(e, -1, "okta.oauth.scopes is empty");
		goto fail;
	}
	if (pthread_mutex_init(&a->mu, NULL)) {
		err_set(e, -1, "okta: cannot create a mutex");
		goto fail;
	}
	a->mu_ok = 1;
	struct buf s;
	buf_init(&s, 0);
	int brc = 0;
	for (size_t i = 0; i < oa->scopes.n; i++)
		brc |= buf_printf(&s, "%s%s", i ? " " : "", oa->scopes.v[i]);
	a->scope = brc ? NULL : buf_take(&s);
	buf_reset(&s);
	a->client_id = strdup(oa->client_id);
	a->token_url = join2(base, "/oauth2/v1/token");
	if (!a->scope || !a->client_id || !a->token_url)
		goto nomem;
	if (load_key(a, oa, e))
		goto fail;
	return a;
nomem:
	err_set(e, -1, "okta: out of memory");
fail:
	okta_auth_free(a);
	return NULL;
}

void okta_auth_free(struct okta_auth *a)
{
	if (!a)
		return;
	secret_free(a->ssws_line);
	secret_free(a->line);
	free(a->token_url);
	free(a->client_id);
	free(a->scope);
	free(a->kid);
	cjose_jwk_release(a->jwk);
	if (a->mu_ok)
		pthread_mutex_destroy(&a->mu);
	free(a);
}

int okta_auth_header(struct okta_auth *a, char **line, struct err *e)
{
	*line = NULL;
	if (!a->oauth) {
		*line = strdup(a->ssws_line);
		return *line ? 0 : err_set(e, -1, "okta: out of memory");
	}
	int rc = 0;
	pthread_mutex_lock(&a->mu);
	/* One fetch at a time: threads arriving meanwhile wait on the mutex
	 * and then find the fresh token cached. */
	if (!a->line || clock_now_ms() >= a->refresh_at_ms)
		rc = fetch_token(a, e);
	if (!rc) {
		*line = strdup(a->line);
		if (!*line)
			rc = err_set(e, -1, "okta: out of memory");
	}
	pthread_mutex_unlock(&a->mu);
	return rc ? -1 : 0;
}

int okta_auth_reject(struct okta_auth *a, const char *line)
{
	if (!a->oauth)
		return 0;
	pthread_mutex_lock(&a->mu);
	if (a->line && line && secret_equal(a->line, line)) {
		secret_free(a->line);
		a->line = NULL;
	}
	pthread_mutex_unlock(&a->mu);
	return 1;
}

unsigned long okta_auth_fetches(struct okta_auth *a)
{
	if (!a || !a->oauth)
		return 0;
	pthread_mutex_lock(&a->mu);
	unsigned long n = a->fetches;
	pthread_mutex_unlock(&a->mu);
	return n;
}
