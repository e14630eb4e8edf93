/*
 * oidc.c: ID token verification, PKCE and random tokens (see oidc.h).
 */
#include "oidc.h"

#include <cjose/cjose.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void oidc_b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

int oidc_random_token(char out[44])
{
	unsigned char r[32];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	oidc_b64url(r, sizeof(r), out);
	return 0;
}

void oidc_pkce_challenge(const char *verifier, char out[44])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)verifier, strlen(verifier), d);
	oidc_b64url(d, sizeof(d), out);
}

const char *oidc_rc_name(int rc)
{
	switch (rc) {
	case OIDC_OK: return "ok";
	case OIDC_E_MALFORMED: return "malformed";
	case OIDC_E_ALG: return "alg";
	case OIDC_E_UNKNOWN_KID: return "unknown_kid";
	case OIDC_E_SIGNATURE: return "signature";
	case OIDC_E_ISS: return "iss";
	case OIDC_E_AUD: return "aud";
	case OIDC_E_EXPIRED: return "expired";
	case OIDC_E_IAT: return "iat";
	case OIDC_E_NONCE: return "nonce";
	case OIDC_E_JWKS: return "jwks";
	case OIDC_E_NOMEM: return "nomem";
	}
	return "unknown";
}

/* The JWKS key with this kid (RSA, use sig or absent), imported; NULL if none. */
static cjose_jwk_t *find_key(const json_t *jwks, const char *kid)
{
	const json_t *keys = json_object_get(jwks, "keys");
	size_t i;
	json_t *k;

	json_array_foreach(keys, i, k) {
		const char *kkid = json_string_value(json_object_get(k, "kid"));
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *use = json_string_value(json_object_get(k, "use"));
		char *s;
		cjose_err cerr;
		cjose_jwk_t *jwk;

		if (!kkid || strcmp(kkid, kid) != 0 || !kty || strcmp(kty, "RSA") != 0 ||
		    (use && strcmp(use, "sig") != 0))
			continue;
		s = json_dumps(k, JSON_COMPACT);
		jwk = s ? cjose_jwk_import(s, strlen(s), &cerr) : NULL;
		free(s);
		if (jwk)
			return jwk;
	}
	return NULL;
}

static int aud_ok(const json_t *claims, const char *client_id)
{
	const json_t *aud = json_object_get(claims, "aud");
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	size_t i;
	json_t *v;
	int found = 0;

	if (json_is_string(aud)) {
		found = strcmp(json_string_value(aud), client_id) == 0;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0)
				found = 1;
		if (json_array_size(aud) > 1 && (!azp || strcmp(azp, client_id) != 0))
			found = 0;
	}
	if (azp && strcmp(azp, client_id) != 0)
		found = 0;
	return found;
}

int oidc_verify_id_token(const char *jwks_json, const char *token, const struct oidc_expect *x,
			 json_t **claims_out, struct err *e)
{
	cjose_err cerr;
	cjose_jws_t *jws = NULL;
	cjose_jwk_t *jwk = NULL;
	cjose_header_t *hdr;
	json_t *jwks = NULL, *claims = NULL;
	const char *alg, *kid, *iss, *nonce;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	json_int_t exp, iat;
	int rc;

	*claims_out = NULL;
	if (!token || strlen(token) > 64 * 1024) {
		rc = err_set(e, OIDC_E_MALFORMED, "the ID token is missing or too long");
		goto out;
	}
	jws = cjose_jws_import(token, strlen(token), &cerr);
	if (!jws) {
		rc = err_set(e, OIDC_E_MALFORMED, "the ID token is not a compact JWS");
		goto out;
	}
	hdr = cjose_jws_get_protected(jws);
	alg = hdr ? cjose_header_get(hdr, CJOSE_HDR_ALG, &cerr) : NULL;
	kid = hdr ? cjose_header_get(hdr, CJOSE_HDR_KID, &cerr) : NULL;
	if (!alg || strcmp(alg, CJOSE_HDR_ALG_RS256) != 0) {
		rc = err_set(e, OIDC_E_ALG, "the ID token is not signed with RS256");
		goto out;
	}
	if (!kid) {
		rc = err_set(e, OIDC_E_UNKNOWN_KID, "the ID token header has no kid");
		goto out;
	}
	jwks = jwks_json ? json_loads(jwks_json, 0, NULL) : NULL;
	if (!json_is_array(json_object_get(jwks, "keys"))) {
		rc = err_set(e, OIDC_E_JWKS, "the issuer's JWKS document has no keys array");
		goto out;
	}
	jwk = find_key(jwks, kid);
	if (!jwk) {
		rc = err_set(e, OIDC_E_UNKNOWN_KID, "no key of the issuer's JWKS has the ID token's kid");
		goto out;
	}
	if (!cjose_jws_verify(jws, jwk, &cerr)) {
		rc = err_set(e, OIDC_E_SIGNATURE, "the ID token's signature does not verify");
		goto out;
	}
	if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &cerr) ||
	    !(claims = json_loadb((const char *)plain, plain_len, 0, NULL)) || !json_is_object(claims)) {
		rc = err_set(e, OIDC_E_MALFORMED, "the ID token's claims are not a JSON object");
		goto out;
	}
	iss = json_string_value(json_object_get(claims, "iss"));
	if (!iss || !x->issuer || strcmp(iss, x->issuer) != 0) {
		rc = err_set(e, OIDC_E_ISS, "the ID token's iss is not the configured issuer");
		goto out;
	}
	if (!x->client_id || !aud_ok(claims, x->client_id)) {
		rc = err_set(e, OIDC_E_AUD, "the ID token's aud is not this client");
		goto out;
	}
	if (!json_is_integer(json_object_get(claims, "exp"))) {
		rc = err_set(e, OIDC_E_EXPIRED, "the ID token has no exp");
		goto out;
	}
	exp = json_integer_value(json_object_get(claims, "exp"));
	if (exp + x->leeway_s <= x->now_s) {
		rc = err_set(e, OIDC_E_EXPIRED, "the ID token expired %lld s ago",
			     (long long)(x->now_s - exp));
		goto out;
	}
	if (!json_is_integer(json_object_get(claims, "iat"))) {
		rc = err_set(e, OIDC_E_IAT, "the ID token has no iat");
		goto out;
	}
	iat = json_integer_value(json_object_get(claims, "iat"));
	if (iat - x->leeway_s > x->now_s || iat > exp) {
		rc = err_set(e, OIDC_E_IAT, "the ID token's iat is in the future");
		goto out;
	}
	nonce = json_string_value(json_object_get(claims, "nonce"));
	if (!x->nonce || !nonce || strlen(nonce) != strlen(x->nonce) ||
	    CRYPTO_memcmp(nonce, x->nonce, strlen(nonce)) != 0) {
		rc = err_set(e, OIDC_E_NONCE, "the ID token's nonce is not the one this sign-in sent");
		goto out;
	}
	*claims_out = claims;
	claims = NULL;
	rc = OIDC_OK;
out:
	json_decref(claims);
	json_decref(jwks);
	cjose_jwk_release(jwk);
	cjose_jws_release(jws);
	return rc;
}
