/*
 * okta_auth.h: how sentry-bridge authenticates to the Okta Management API.
 *
 * Two schemes (okta-api.md §4):
 *   - an SSWS API token: "Authorization: SSWS <token>";
 *   - OAuth 2.0 client credentials for an API Services app with
 *     private_key_jwt: a client assertion (a JWT signed with cjose, RS256
 *     with an RSA key or ES256 with a P-256 key, the key given as PEM or as
 *     JWK text) is POSTed to <base_url>/oauth2/v1/token and the access token
 *     it returns is sent as "Authorization: Bearer <token>". The token is
 *     cached (thread-safe) until 60 s before it expires and refetched when
 *     an API call answers 401.
 *
 * Used by okta_client.c only; the HTTP client (httpc) is the caller's.
 * Tokens, assertions and keys are never logged nor put in error messages.
 */
#ifndef SB_SSO_OKTA_AUTH_H
#define SB_SSO_OKTA_AUTH_H

#include "buf.h"
#include "config.h"
#include "err.h"
#include "httpc.h"
#include "log.h"

struct okta_auth;

/* Endpoint label of the token request (httpc logs and metrics). */
#define OKTA_TOKEN_ENDPOINT "POST /oauth2/v1/token"

/*
 * Authentication for o (SSWS token, or OAuth when o->oauth.configured).
 * base is the Okta base URL without a trailing slash (copied); http is
 * borrowed and must outlive the result; lg may be NULL. The OAuth key is
 * loaded and checked against o->oauth.algorithm here, so a bad key is
 * reported at start. Returns NULL with e filled on a missing token, a bad
 * key or allocation failure. Free with okta_auth_free().
 */
struct okta_auth *okta_auth_new(const struct config_okta *o, const char *base, struct httpc *http, struct logger *lg,
				struct err *e);

/* Free a (NULL-safe); the cached token and the key are wiped. */
void okta_auth_free(struct okta_auth *a);

/*
 * The "Authorization: ..." header line for the next request, fetching an
 * access token first when OAuth has none cached or it is about to expire
 * (one fetch at a time; other threads wait for it and share the result).
 * *line is allocated: free it with secret_free(). Returns 0, or -1 with e
 * (token endpoint refused or unreachable, DPoP required, ...).
 */
int okta_auth_header(struct okta_auth *a, char **line, struct err *e);

/*
 * An API call sent with line was answered 401. With OAuth, forget the
 * cached token when it is still the one in line (another thread may
 * already have fetched a new one) and return 1: the caller may retry once
 * with a fresh okta_auth_header(). With SSWS return 0: a new attempt would
 * use the same token.
 */
int okta_auth_reject(struct okta_auth *a, const char *line);

/* Number of access tokens fetched so far (0 with SSWS); for tests and logs. */
unsigned long okta_auth_fetches(struct okta_auth *a);

/* Append s to b percent-encoded: every byte except RFC 3986 unreserved
 * characters (A-Z a-z 0-9 - . _ ~) becomes %XX. Returns a buf_rc. */
int okta_url_escape(struct buf *b, const char *s);

#endif
