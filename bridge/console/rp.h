/*
 * rp.h: the console's OpenID Connect relying party: the issuer's discovery
 * document and JWKS (cached; an unknown kid refetches the JWKS once), the
 * code exchange at the token endpoint, ID token verification (sso/oidc.c).
 * All HTTP goes through one httpc client labelled "oidc".
 */
#ifndef SB_CONSOLE_RP_H
#define SB_CONSOLE_RP_H

#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <jansson.h>

struct rp;

/* A relying party for cfg->console.oidc (not contacted yet). NULL on OOM. */
struct rp *rp_new(const struct config *cfg, struct logger *lg, struct metrics *m);
void rp_free(struct rp *rp);

/* The redirect URI registered at the issuer (public_url + redirect_path). Borrowed. */
const char *rp_redirect_uri(const struct rp *rp);

/*
 * The authorize URL for state, nonce and the PKCE challenge, fetching
 * discovery if needed. Caller frees. NULL with e when the issuer is
 * unreachable or its discovery document is unusable.
 */
char *rp_authorize_url(struct rp *rp, const char *state, const char *nonce, const char *challenge,
		       struct err *e);

/*
 * The Okta logout URL with id_token_hint (may be NULL) and
 * post_logout_redirect_uri, or NULL when the issuer has no end-session
 * endpoint (e filled). Caller frees.
 */
char *rp_logout_url(struct rp *rp, const char *id_token, const char *post_logout, struct err *e);

/*
 * Exchange code (with the PKCE verifier) for tokens and verify the ID token
 * against nonce. 0 with *claims (caller json_decref()s) and *id_token
 * (caller frees); else -1 with e: e->code is an enum oidc_rc for a refused
 * ID token, 1000 + the HTTP status for a refused exchange, 999 for a
 * transport failure.
 */
int rp_exchange(struct rp *rp, const char *code, const char *verifier, const char *nonce, int64_t now_ms,
		json_t **claims, char **id_token, struct err *e);

/* Percent-encode s for a URL query component (RFC 3986 unreserved kept). Caller frees. */
char *rp_url_encode(const char *s);

#endif
