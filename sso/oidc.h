/*
 * oidc.h: the OpenID Connect relying-party checks of the web console's
 * Okta sign-in, without I/O: ID token verification against a JWKS document
 * (RS256 by kid, iss, aud, exp, iat, nonce), the PKCE S256 challenge and
 * random URL-safe tokens from the OS CSPRNG. Fetching discovery and the
 * JWKS (with the refetch on an unknown kid) is the caller's job
 * (bridge/console/oidc_rp.c) through httpc.
 */
#ifndef SB_SSO_OIDC_H
#define SB_SSO_OIDC_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Results of oidc_verify_id_token (also in struct err.code). */
enum oidc_rc {
	OIDC_OK = 0,
	OIDC_E_MALFORMED,   /* not a compact JWS with a JSON header and claims */
	OIDC_E_ALG,         /* header alg is not RS256 */
	OIDC_E_UNKNOWN_KID, /* no key in the JWKS has the header's kid */
	OIDC_E_SIGNATURE,   /* the signature does not verify */
	OIDC_E_ISS,         /* iss is not the configured issuer */
	OIDC_E_AUD,         /* aud does not hold the client id (or azp is another client) */
	OIDC_E_EXPIRED,     /* exp is missing or passed (beyond the leeway) */
	OIDC_E_IAT,         /* iat is missing or in the future (beyond the leeway) */
	OIDC_E_NONCE,       /* nonce missing or not the one sent */
	OIDC_E_JWKS,        /* the JWKS document is not usable */
	OIDC_E_NOMEM
};

/* What the token must say. */
struct oidc_expect {
	const char *issuer;    /* exact iss */
	const char *client_id; /* aud (string, or an array holding it) */
	const char *nonce;     /* the nonce sent with the authorize request */
	int64_t now_s;         /* the clock, in seconds since the epoch */
	int64_t leeway_s;      /* allowed clock skew for exp and iat */
};

/*
 * Verify the compact ID token against jwks_json ({"keys": [...]}) and x.
 * On OIDC_OK *claims receives the claims object (caller json_decref()s).
 * Otherwise an enum oidc_rc, with e describing it (never the token itself).
 */
int oidc_verify_id_token(const char *jwks_json, const char *token, const struct oidc_expect *x,
			 json_t **claims, struct err *e);

/* Short stable name of an oidc_rc ("unknown_kid"). */
const char *oidc_rc_name(int rc);

/* A random URL-safe token of 32 CSPRNG bytes (43 characters) into out[44]. 0 or -1. */
int oidc_random_token(char out[44]);

/* base64url(SHA-256(verifier)) without padding into out[44]. */
void oidc_pkce_challenge(const char *verifier, char out[44]);

/* base64url without padding of n bytes into out (4 * ceil(n / 3) + 1 bytes suffice). */
void oidc_b64url(const unsigned char *in, size_t n, char *out);

#endif
