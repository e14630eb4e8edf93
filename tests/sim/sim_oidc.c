/*
 * sim_oidc.c: the simulated Okta OpenID Connect authorization server
 * (a custom AS, issuer <sim>/oauth2/<asId>, e.g. /oauth2/default), as
 * described in shared/reference/okta-api.md section 6, plus its control
 * calls under /_sim/oidc.
 *
 * Endpoints (under /oauth2/<asId>):
 *   GET  /.well-known/openid-configuration   discovery
 *   GET  /v1/authorize   authorization code flow, PKCE S256 required,
 *                        state and nonce carried; redirects back with
 *                        code+state, or error+error_description+state
 *   POST /v1/token       grant_type=authorization_code; client auth by
 *                        client_secret_basic or client_secret_post; code
 *                        single-use and valid 300 s; code_verifier checked
 *   GET  /v1/keys        JWKS (RS256 public keys with kid)
 *   GET  /v1/userinfo    Bearer access token -> claims
 *   GET  /v1/logout      ends the simulated Okta session, redirects to
 *                        post_logout_redirect_uri (with state)
 *
 * Who signs in: the `login_hint` parameter of authorize (a login or email),
 * else the user chosen by POST /_sim/oidc/login {"login": ...}. With neither
 * (or after a logout) authorize answers error=login_required. A user who is
 * not ACTIVE gets error=access_denied.
 *
 * Control calls (no latency, no faults, not logged):
 *   GET    /_sim/oidc          client, kids, counters, signed-in user, faults
 *   POST   /_sim/oidc/client   {"client_id","client_secret"}
 *   POST   /_sim/oidc/login    {"login": "..."} (null: nobody)
 *   POST   /_sim/oidc/rotate   new signing key; the previous one stays
 *                              published ({"drop_old": true} unpublishes it)
 *   POST   /_sim/oidc/faults   {"expired","wrong_aud","wrong_iss",
 *                              "unknown_kid","bad_signature","nonce"}:
 *                              applied to every ID token issued until cleared
 *   DELETE /_sim/oidc/faults
 *   POST   /_sim/oidc/reset    everything back to the start (keys kept)
 *
 * The OIDC state has its own mutex; the Okta users and groups are read
 * under ctx->lock (read). Access tokens are opaque (Okta's are JWTs, but
 * an org-AS access token is not for the client to read anyway).
 */
#include "sim.h"

#include "sim_util.h"

#include <cjose/cjose.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define OIDC_CODE_TTL_MS 300000
#define OIDC_TOKEN_TTL_S 3600
#define OIDC_MAX_GROUPS 100
#define OIDC_MAX_CODES 10000
#define OIDC_KEY_BITS 2048

struct oidc_code {
	char *code, *client_id, *redirect_uri, *challenge, *nonce, *scope, *user_id, *as_id;
	int64_t created_ms;
	bool used;
};

struct oidc_token {
	char *token, *user_id;
	int64_t expires_ms;
};

struct oidc_faults {
	bool expired, wrong_aud, wrong_iss, unknown_kid, bad_signature;
	char *nonce; /* overrides the nonce claim, or NULL */
};

struct oidc_state {
	pthread_mutex_t mu;
	bool ready;
	cjose_jwk_t *keys[2]; /* [0] signs; [1] previous, still published (may be NULL) */
	cjose_jwk_t *rogue;   /* signs unknown_kid tokens; never published */
	int key_seq;
	char *client_id, *client_secret;
	char *login;          /* signed-in user (login or email), or NULL */
	struct oidc_code *codes;
	size_t ncodes, capcodes;
	struct oidc_token *tokens;
	size_t ntokens, captokens;
	struct oidc_faults faults;
	long authorized, issued, refused, logouts;
};

static struct oidc_state g_oidc = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- small helpers -------------------------------------------------------------------------- */

static void b64url(const unsigned char *in, size_t n, char *out)
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

/* A random URL-safe string of 32 bytes of entropy (caller frees). */
static char *rand_token(void)
{
	unsigned char r[32];
	char *s = malloc(48);
	size_t got = 0;

	if (!s)
		return NULL;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n <= 0) {
			free(s);
			return NULL;
		}
		got += (size_t)n;
	}
	b64url(r, sizeof(r), s);
	return s;
}

/* base64url(SHA-256(verifier)) == challenge, in constant time. */
static bool pkce_ok(const char *verifier, const char *challenge)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	char enc[48];
	size_t n = strlen(verifier);

	if (n < 43 || n > 128)
		return false;
	SHA256((const unsigned char *)verifier, n, d);
	b64url(d, sizeof(d), enc);
	return strlen(challenge) == strlen(enc) && CRYPTO_memcmp(enc, challenge, strlen(enc)) == 0;
}

static cjose_jwk_t *new_key(int seq)
{
	static const uint8_t e[] = {0x01, 0x00, 0x01};
	cjose_err err;
	cjose_jwk_t *k = cjose_jwk_create_RSA_random(OIDC_KEY_BITS, e, sizeof(e), &err);
	char kid[32];

	if (!k)
		return NULL;
	snprintf(kid, sizeof(kid), "sim-key-%d", seq);
	if (!cjose_jwk_set_kid(k, kid, strlen(kid), &err)) {
		cjose_jwk_release(k);
		return NULL;
	}
	return k;
}

static void code_free(struct oidc_code *c)
{
	free(c->code);
	free(c->client_id);
	free(c->redirect_uri);
	free(c->challenge);
	free(c->nonce);
	free(c->scope);
	free(c->user_id);
	free(c->as_id);
}

static void faults_clear(struct oidc_faults *f)
{
	free(f->nonce);
	memset(f, 0, sizeof(*f));
}

/* Forget codes, tokens, the signed-in user and faults; restore the default client. */
static int state_reset(struct oidc_state *s)
{
	size_t i;

	for (i = 0; i < s->ncodes; i++)
		code_free(&s->codes[i]);
	s->ncodes = 0;
	for (i = 0; i < s->ntokens; i++) {
		free(s->tokens[i].token);
		free(s->tokens[i].user_id);
	}
	s->ntokens = 0;
	free(s->login);
	s->login = NULL;
	faults_clear(&s->faults);
	free(s->client_id);
	free(s->client_secret);
	s->client_id = sim_strdup("sim-console");
	s->client_secret = sim_strdup("sim-console-secret");
	s->authorized = s->issued = s->refused = s->logouts = 0;
	return s->client_id && s->client_secret ? 0 : -1;
}

/* First use: keys and the default client. Called with s->mu held. */
static int state_ready(struct oidc_state *s)
{
	if (s->ready)
		return 0;
	s->keys[0] = new_key(++s->key_seq);
	s->rogue = new_key(999);
	if (!s->keys[0] || !s->rogue || state_reset(s))
		return -1;
	s->ready = true;
	return 0;
}

/* Drop expired codes and tokens (keeps the arrays small). */
static void prune(struct oidc_state *s, int64_t now)
{
	size_t i, o = 0;

	for (i = 0; i < s->ncodes; i++) {
		if (now - s->codes[i].created_ms > 2 * OIDC_CODE_TTL_MS)
			code_free(&s->codes[i]);
		else
			s->codes[o++] = s->codes[i];
	}
	s->ncodes = o;
	for (i = 0, o = 0; i < s->ntokens; i++) {
		if (s->tokens[i].expires_ms < now) {
			free(s->tokens[i].token);
			free(s->tokens[i].user_id);
		} else {
			s->tokens[o++] = s->tokens[i];
		}
	}
	s->ntokens = o;
}

/* Value of key in an application/x-www-form-urlencoded body (caller frees), or NULL. */
static char *form_get(const struct sim_request *req, const char *key)
{
	const char *p = req->body, *end = req->body ? req->body + req->body_len : NULL;
	size_t klen = strlen(key);

	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));

		if (eq && (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0)
			return sim_url_decode(eq + 1, (size_t)(stop - eq - 1), true);
		p = amp ? amp + 1 : end;
	}
	return NULL;
}

static char *issuer_of(const struct sim_request *req, const char *as_id)
{
	char *base = sim_base_url(req);
	char *iss = base ? sim_asprintf("%s/oauth2/%s", base, as_id) : NULL;

	free(base);
	return iss;
}

/* OAuth error JSON {"error","error_description"}. */
static int oauth_error(struct sim_response *resp, int status, const char *error, const char *desc)
{
	sim_resp_json(resp, status, json_pack("{s:s, s:s}", "error", error, "error_description", desc));
	sim_resp_header(resp, "Cache-Control", "no-store");
	return 0;
}

/* A plain-text page (for errors that must not redirect). */
static int text_page(struct sim_response *resp, int status, const char *msg)
{
	resp->status = status;
	resp->body = sim_strdup(msg);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	if (!resp->body)
		resp->oom = true;
	sim_resp_header(resp, "Content-Type", "text/plain; charset=utf-8");
	return 0;
}

/* 302 to url?params (params already encoded, may be NULL). */
static int redirect(struct sim_response *resp, const char *url, const char *params)
{
	char *loc = params ? sim_asprintf("%s%c%s", url, strchr(url, '?') ? '&' : '?', params)
			   : sim_strdup(url);

	if (!loc)
		return -1;
	sim_resp_empty(resp, 302);
	sim_resp_header(resp, "Location", loc);
	free(loc);
	return 0;
}

/* 302 back to the client with error, error_description and state. */
static int redirect_error(struct sim_response *resp, const char *uri, const char *error,
			  const char *desc, const char *state)
{
	char *d = sim_url_encode(desc, false);
	char *st = state ? sim_url_encode(state, false) : NULL;
	char *q = d ? sim_asprintf("error=%s&error_description=%s%s%s", error, d, st ? "&state=" : "",
				   st ? st : "")
		    : NULL;
	int rc = q ? redirect(resp, uri, q) : -1;

	free(d);
	free(st);
	free(q);
	return rc;
}

/* The Okta user signing in as login or email (ctx->lock held), or NULL. */
static struct okta_user *find_user(struct sim_ctx *ctx, const char *who)
{
	struct okta_state *ok = &ctx->state->okta;
	struct okta_user *u = okta_user_find(ok, who);
	size_t i;

	if (u)
		return u;
	for (i = 0; i < ok->nusers; i++)
		if (ok->users[i]->email && sim_streq_ci(ok->users[i]->email, who))
			return ok->users[i];
	return NULL;
}

/* Claims of user id (email, name, preferred_username, groups); NULL if gone. ctx->lock held. */
static json_t *user_claims(struct sim_ctx *ctx, const char *user_id, bool *too_many_groups)
{
	struct okta_state *ok = &ctx->state->okta;
	struct okta_user *u = okta_user_find(ok, user_id);
	json_t *c, *groups;
	char *name;
	size_t i, j;

	*too_many_groups = false;
	if (!u)
		return NULL;
	groups = json_array();
	for (i = 0; groups && i < ok->ngroups; i++) {
		struct okta_group *g = ok->groups[i];
		for (j = 0; j < g->nmembers; j++) {
			if (g->members[j] == u) {
				json_array_append_new(groups, json_string(g->name));
				break;
			}
		}
	}
	if (groups && json_array_size(groups) > OIDC_MAX_GROUPS)
		*too_many_groups = true;
	name = sim_asprintf("%s %s", u->first_name ? u->first_name : "", u->last_name ? u->last_name : "");
	c = json_pack("{s:s, s:s?, s:b, s:s?, s:s?, s:s?, s:s?, s:o?}", "sub", u->id, "email", u->email,
		      "email_verified", 1, "name", name, "preferred_username", u->login, "given_name",
		      u->first_name, "family_name", u->last_name, "groups", groups);
	free(name);
	return c;
}

/* ---- the authorization server ----------------------------------------------------------------- */

static int do_discovery(const struct sim_request *req, struct sim_response *resp, const char *as_id)
{
	char *iss = issuer_of(req, as_id);
	char *u[6];
	int i;

	if (!iss)
		return -1;
	u[0] = sim_asprintf("%s/v1/authorize", iss);
	u[1] = sim_asprintf("%s/v1/token", iss);
	u[2] = sim_asprintf("%s/v1/keys", iss);
	u[3] = sim_asprintf("%s/v1/userinfo", iss);
	u[4] = sim_asprintf("%s/v1/logout", iss);
	u[5] = sim_asprintf("%s/v1/revoke", iss);
	for (i = 0; i < 6; i++)
		if (!u[i])
			resp->oom = true;
	if (!resp->oom)
		sim_resp_json(resp, 200, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s,s], s:[s], s:[s], s:[s],"
			" s:[s,s,s,s,s,s], s:[s,s], s:[s,s,s,s,s,s,s,s,s,s,s,s,s]}",
			"issuer", iss, "authorization_endpoint", u[0], "token_endpoint", u[1], "jwks_uri", u[2],
			"userinfo_endpoint", u[3], "end_session_endpoint", u[4], "revocation_endpoint", u[5],
			"response_types_supported", "code", "response_modes_supported", "query",
			"grant_types_supported", "authorization_code", "refresh_token",
			"subject_types_supported", "public", "id_token_signing_alg_values_supported", "RS256",
			"code_challenge_methods_supported", "S256",
			"scopes_supported", "openid", "profile", "email", "groups", "address", "offline_access",
			"token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post",
			"claims_supported", "iss", "aud", "sub", "iat", "exp", "auth_time", "nonce", "email",
			"email_verified", "name", "preferred_username", "groups", "jti"));
	for (i = 0; i < 6; i++)
		free(u[i]);
	free(iss);
	return 0;
}

static int do_keys(struct oidc_state *s, struct sim_response *resp)
{
	json_t *keys = json_array();
	size_t i;

	for (i = 0; keys && i < 2; i++) {
		cjose_err err;
		char *j;
		json_t *k;

		if (!s->keys[i])
			continue;
		j = cjose_jwk_to_json(s->keys[i], false, &err);
		k = j ? json_loads(j, 0, NULL) : NULL;
		free(j);
		if (!k) {
			json_decref(keys);
			return -1;
		}
		json_object_set_new(k, "alg", json_string("RS256"));
		json_object_set_new(k, "use", json_string("sig"));
		json_array_append_new(keys, k);
	}
	sim_resp_json(resp, 200, json_pack("{s:o}", "keys", keys));
	sim_resp_header(resp, "Cache-Control", "max-age=3600, must-revalidate");
	return 0;
}

static int do_authorize(struct sim_ctx *ctx, struct oidc_state *s, const struct sim_request *req,
			struct sim_response *resp, const char *as_id)
{
	const char *client_id = sim_query_get(req, "client_id");
	const char *redirect_uri = sim_query_get(req, "redirect_uri");
	const char *state = sim_query_get(req, "state");
	const char *nonce = sim_query_get(req, "nonce");
	const char *scope = sim_query_get(req, "scope");
	const char *rtype = sim_query_get(req, "response_type");
	const char *challenge = sim_query_get(req, "code_challenge");
	const char *method = sim_query_get(req, "code_challenge_method");
	const char *who = sim_query_get(req, "login_hint");
	struct okta_user *u;
	struct oidc_code c;
	char *q, *enc_state;
	int rc;

	/* Without a known client and a redirect URI nothing may redirect. */
	if (!client_id || strcmp(client_id, s->client_id) != 0)
		return text_page(resp, 400, "The client_id is not registered (invalid_client).\n");
	if (!redirect_uri || (strncmp(redirect_uri, "http://", 7) != 0 &&
			      strncmp(redirect_uri, "https://", 8) != 0))
		return text_page(resp, 400, "The redirect_uri is missing or not an absolute http(s) URI.\n");
	if (!rtype || strcmp(rtype, "code") != 0)
		return redirect_error(resp, redirect_uri, "unsupported_response_type",
				      "The response type is not supported by the authorization server.", state);
	if (!scope || !strstr(scope, "openid"))
		return redirect_error(resp, redirect_uri, "invalid_scope", "The scope openid is required.", state);
	if (!challenge || !method)
		return redirect_error(resp, redirect_uri, "invalid_request",
				      "PKCE code challenge is required when the token endpoint authentication"
				      " method is 'NONE'.", state);
	if (strcmp(method, "S256") != 0)
		return redirect_error(resp, redirect_uri, "invalid_request",
				      "PKCE code challenge method is not supported. Use 'S256'.", state);
	if (strlen(challenge) != 43)
		return redirect_error(resp, redirect_uri, "invalid_request",
				      "PKCE code challenge must be 43 characters.", state);
	if (!state || !*state)
		return redirect_error(resp, redirect_uri, "invalid_request",
				      "The authentication request has an invalid 'state' parameter.", NULL);
	if (!who)
		who = s->login;
	if (!who)
		return redirect_error(resp, redirect_uri, "login_required",
				      "The client specified not to prompt, but the user is not logged in.", state);
	u = find_user(ctx, who);
	if (!u || u->status != OKTA_ACTIVE) {
		s->refused++;
		return redirect_error(resp, redirect_uri, "access_denied",
				      "User is not assigned to the client application.", state);
	}
	if (s->ncodes >= OIDC_MAX_CODES)
		return oauth_error(resp, 429, "too_many_requests", "Too many pending codes.");
	memset(&c, 0, sizeof(c));
	c.code = rand_token();
	c.client_id = sim_strdup(client_id);
	c.redirect_uri = sim_strdup(redirect_uri);
	c.challenge = sim_strdup(challenge);
	c.nonce = nonce ? sim_strdup(nonce) : NULL;
	c.scope = sim_strdup(scope);
	c.user_id = sim_strdup(u->id);
	c.as_id = sim_strdup(as_id);
	c.created_ms = sim_now_ms();
	if (!c.code || !c.client_id || !c.redirect_uri || !c.challenge || (nonce && !c.nonce) ||
	    !c.scope || !c.user_id || !c.as_id) {
		code_free(&c);
		return -1;
	}
	if (s->ncodes == s->capcodes) {
		size_t cap = s->capcodes ? s->capcodes * 2 : 16;
		struct oidc_code *n = realloc(s->codes, cap * sizeof(*n));
		if (!n) {
			code_free(&c);
			return -1;
		}
		s->codes = n;
		s->capcodes = cap;
	}
	s->codes[s->ncodes++] = c;
	s->login = s->login ? s->login : sim_strdup(u->login); /* Okta session now open */
	s->authorized++;
	enc_state = sim_url_encode(state, false);
	q = enc_state ? sim_asprintf("code=%s&state=%s", c.code, enc_state) : NULL;
	rc = q ? redirect(resp, redirect_uri, q) : -1;
	free(enc_state);
	free(q);
	return rc;
}

/* Sign claims as a compact JWS with the current key (or the fault's). Caller frees. */
static char *sign_id_token(struct oidc_state *s, json_t *claims)
{
	const cjose_jwk_t *k = s->faults.unknown_kid ? s->rogue : s->keys[0];
	cjose_err err;
	cjose_header_t *h = cjose_header_new(&err);
	char *payload = json_dumps(claims, JSON_COMPACT);
	cjose_jws_t *jws = NULL;
	const char *ser = NULL;
	char *out = NULL;

	if (!h || !payload || !cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_RS256, &err) ||
	    !cjose_header_set(h, CJOSE_HDR_KID, cjose_jwk_get_kid(k, &err), &err))
		goto out;
	jws = cjose_jws_sign(k, h, (const uint8_t *)payload, strlen(payload), &err);
	if (!jws || !cjose_jws_export(jws, &ser, &err))
		goto out;
	out = sim_strdup(ser);
	if (out && s->faults.bad_signature) {
		char *sig = strrchr(out, '.');
		/* flip one bit of the signature's first character, staying in the alphabet */
		if (sig && sig[1])
			sig[1] = sig[1] == 'A' ? 'B' : 'A';
	}
out:
	cjose_jws_release(jws);
	cjose_header_release(h);
	free(payload);
	return out;
}

/* Client credentials from Basic auth or the body; true when they match. */
static bool client_auth(struct oidc_state *s, const struct sim_request *req, char **cid_out)
{
	char *id = NULL, *secret = NULL;
	bool ok = false;

	if (req->authorization && strncmp(req->authorization, "Basic ", 6) == 0) {
		const char *b = req->authorization + 6;
		size_t n = strlen(b), outcap = n / 4 * 3 + 4;
		unsigned char *dec = malloc(outcap + 1);
		int len = dec ? EVP_DecodeBlock(dec, (const unsigned char *)b, (int)n) : -1;

		if (len >= 0) {
			char *colon;
			while (len > 0 && n >= 1 && b[n - 1] == '=') { /* padding decodes to NULs */
				len--;
				n--;
			}
			dec[len] = '\0';
			colon = strchr((char *)dec, ':');
			if (colon) {
				*colon = '\0';
				id = sim_url_decode((char *)dec, strlen((char *)dec), true);
				secret = sim_url_decode(colon + 1, strlen(colon + 1), true);
			}
		}
		free(dec);
	} else {
		id = form_get(req, "client_id");
		secret = form_get(req, "client_secret");
	}
	if (id && secret && strcmp(id, s->client_id) == 0 && sim_secret_eq(secret, s->client_secret))
		ok = true;
	*cid_out = id;
	free(secret);
	return ok;
}

static int do_token(struct sim_ctx *ctx, struct oidc_state *s, const struct sim_request *req,
		    struct sim_response *resp, const char *as_id)
{
	char *cid = NULL, *grant = NULL, *code = NULL, *ruri = NULL, *verifier = NULL;
	char *iss = NULL, *idt = NULL, *access = NULL;
	struct oidc_code *c = NULL;
	json_t *claims = NULL;
	bool too_many = false;
	int64_t now = sim_now_ms(), iat;
	size_t i;
	int rc = 0;

	if (strcmp(req->method, "POST") != 0) {
		rc = oauth_error(resp, 405, "invalid_request", "The token endpoint takes POST.");
		goto out;
	}
	if (!client_auth(s, req, &cid)) {
		rc = oauth_error(resp, 401, "invalid_client", "Client authentication failed.");
		sim_resp_header(resp, "WWW-Authenticate", "Basic realm=\"okta\"");
		goto out;
	}
	grant = form_get(req, "grant_type");
	code = form_get(req, "code");
	ruri = form_get(req, "redirect_uri");
	verifier = form_get(req, "code_verifier");
	if (!grant || strcmp(grant, "authorization_code") != 0) {
		rc = oauth_error(resp, 400, "unsupported_grant_type",
				 "The authorization grant type is not supported by the authorization server.");
		goto out;
	}
	for (i = 0; code && i < s->ncodes; i++)
		if (strlen(s->codes[i].code) == strlen(code) &&
		    CRYPTO_memcmp(s->codes[i].code, code, strlen(code)) == 0)
			c = &s->codes[i];
	if (!c || c->used || now - c->created_ms > OIDC_CODE_TTL_MS || strcmp(c->as_id, as_id) != 0 ||
	    strcmp(c->client_id, cid) != 0) {
		if (c)
			c->used = true;
		rc = oauth_error(resp, 400, "invalid_grant",
				 "The authorization code is invalid or has expired.");
		goto out;
	}
	c->used = true; /* single use, whatever happens next */
	if (!ruri || strcmp(ruri, c->redirect_uri) != 0) {
		rc = oauth_error(resp, 400, "invalid_grant",
				 "The 'redirect_uri' does not match the redirection URI used in the authorization request.");
		goto out;
	}
	if (!verifier || !pkce_ok(verifier, c->challenge)) {
		rc = oauth_error(resp, 400, "invalid_grant", "PKCE verification failed.");
		goto out;
	}
	pthread_rwlock_rdlock(&ctx->lock);
	claims = user_claims(ctx, c->user_id, &too_many);
	pthread_rwlock_unlock(&ctx->lock);
	if (!claims) {
		rc = oauth_error(resp, 400, "invalid_grant", "The user no longer exists.");
		goto out;
	}
	if (too_many) {
		rc = oauth_error(resp, 400, "invalid_request",
				 "The 'groups' claim would include more than 100 groups.");
		goto out;
	}
	if (!strstr(c->scope, "groups"))
		json_object_del(claims, "groups");
	iss = issuer_of(req, as_id);
	access = rand_token();
	if (!iss || !access) {
		rc = -1;
		goto out;
	}
	iat = now / 1000 - (s->faults.expired ? 2 * OIDC_TOKEN_TTL_S : 0);
	json_object_set_new(claims, "iss", json_string(s->faults.wrong_iss ? "https://evil.example.com" : iss));
	json_object_set_new(claims, "aud", json_string(s->faults.wrong_aud ? "someone-else" : c->client_id));
	json_object_set_new(claims, "iat", json_integer(iat));
	json_object_set_new(claims, "exp", json_integer(iat + OIDC_TOKEN_TTL_S));
	json_object_set_new(claims, "auth_time", json_integer(iat));
	json_object_set_new(claims, "ver", json_integer(1));
	json_object_set_new(claims, "jti", json_string(access));
	json_object_set_new(claims, "amr", json_pack("[s]", "pwd"));
	if (s->faults.nonce)
		json_object_set_new(claims, "nonce", json_string(s->faults.nonce));
	else if (c->nonce)
		json_object_set_new(claims, "nonce", json_string(c->nonce));
	idt = sign_id_token(s, claims);
	if (!idt) {
		rc = -1;
		goto out;
	}
	if (s->ntokens == s->captokens) {
		size_t cap = s->captokens ? s->captokens * 2 : 16;
		struct oidc_token *n = realloc(s->tokens, cap * sizeof(*n));
		if (!n) {
			rc = -1;
			goto out;
		}
		s->tokens = n;
		s->captokens = cap;
	}
	s->tokens[s->ntokens].token = sim_strdup(access);
	s->tokens[s->ntokens].user_id = sim_strdup(c->user_id);
	s->tokens[s->ntokens].expires_ms = now + OIDC_TOKEN_TTL_S * 1000;
	if (!s->tokens[s->ntokens].token || !s->tokens[s->ntokens].user_id) {
		free(s->tokens[s->ntokens].token);
		free(s->tokens[s->ntokens].user_id);
		rc = -1;
		goto out;
	}
	s->ntokens++;
	s->issued++;
	sim_resp_json(resp, 200, json_pack("{s:s, s:i, s:s, s:s, s:s}", "token_type", "Bearer",
					   "expires_in", OIDC_TOKEN_TTL_S, "access_token", access, "scope",
					   c->scope, "id_token", idt));
	sim_resp_header(resp, "Cache-Control", "no-store");
	sim_resp_header(resp, "Pragma", "no-cache");
out:
	json_decref(claims);
	free(cid);
	free(grant);
	free(code);
	free(ruri);
	free(verifier);
	free(iss);
	free(idt);
	free(access);
	return rc;
}

static int do_userinfo(struct sim_ctx *ctx, struct oidc_state *s, const struct sim_request *req,
		       struct sim_response *resp)
{
	const char *a = req->authorization;
	const char *user_id = NULL;
	bool too_many;
	json_t *claims;
	size_t i;

	if (a && strncmp(a, "Bearer ", 7) == 0)
		for (i = 0; i < s->ntokens; i++)
			if (strcmp(s->tokens[i].token, a + 7) == 0 && s->tokens[i].expires_ms > sim_now_ms())
				user_id = s->tokens[i].user_id;
	if (!user_id) {
		sim_resp_empty(resp, 401);
		sim_resp_header(resp, "WWW-Authenticate",
				"Bearer authorization_uri=\"\", realm=\"okta\", error=\"invalid_token\","
				" error_description=\"The access token is invalid.\"");
		return 0;
	}
	pthread_rwlock_rdlock(&ctx->lock);
	claims = user_claims(ctx, user_id, &too_many);
	pthread_rwlock_unlock(&ctx->lock);
	if (!claims)
		return oauth_error(resp, 401, "invalid_token", "The user no longer exists.");
	sim_resp_json(resp, 200, claims);
	return 0;
}

static int do_logout(struct oidc_state *s, const struct sim_request *req, struct sim_response *resp)
{
	const char *post = sim_query_get(req, "post_logout_redirect_uri");
	const char *state = sim_query_get(req, "state");
	char *q = NULL, *enc;
	int rc;

	free(s->login);
	s->login = NULL;
	s->logouts++;
	if (!post)
		return text_page(resp, 200, "Signed out of the simulated Okta.\n");
	if (strncmp(post, "http://", 7) != 0 && strncmp(post, "https://", 8) != 0)
		return oauth_error(resp, 400, "invalid_request",
				   "The 'post_logout_redirect_uri' parameter must be an absolute URI.");
	if (state) {
		enc = sim_url_encode(state, false);
		q = enc ? sim_asprintf("state=%s", enc) : NULL;
		free(enc);
		if (!q)
			return -1;
	}
	rc = redirect(resp, post, q);
	free(q);
	return rc;
}

static int oidc_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	struct oidc_state *s = &g_oidc;
	const char *as_id;
	int rc;

	/* /oauth2/<asId>/... : segment 0 is "oauth2" */
	if (req->nseg < 3)
		return oauth_error(resp, 404, "not_found", "Not found: use /oauth2/<authorizationServerId>/...");
	as_id = req->seg[1];
	pthread_mutex_lock(&s->mu);
	if (state_ready(s)) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	prune(s, sim_now_ms());
	if (sim_path_is(req, 2, ".well-known", "openid-configuration", NULL) ||
	    sim_path_is(req, 2, ".well-known", "oauth-authorization-server", NULL))
		rc = do_discovery(req, resp, as_id);
	else if (sim_path_is(req, 2, "v1", "keys", NULL))
		rc = do_keys(s, resp);
	else if (sim_path_is(req, 2, "v1", "authorize", NULL)) {
		pthread_rwlock_rdlock(&ctx->lock);
		rc = do_authorize(ctx, s, req, resp, as_id);
		pthread_rwlock_unlock(&ctx->lock);
	} else if (sim_path_is(req, 2, "v1", "token", NULL))
		rc = do_token(ctx, s, req, resp, as_id);
	else if (sim_path_is(req, 2, "v1", "userinfo", NULL))
		rc = do_userinfo(ctx, s, req, resp);
	else if (sim_path_is(req, 2, "v1", "logout", NULL))
		rc = do_logout(s, req, resp);
	else
		rc = oauth_error(resp, 404, "not_found", "Not found.");
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- control calls ---------------------------------------------------------------------------- */

static int ctl_summary(struct oidc_state *s, struct sim_response *resp, int status)
{
	cjose_err err;
	json_t *kids = json_array();
	size_t i;

	for (i = 0; kids && i < 2; i++)
		if (s->keys[i])
			json_array_append_new(kids, json_string(cjose_jwk_get_kid(s->keys[i], &err)));
	sim_resp_json(resp, status, json_pack(
		"{s:s, s:o, s:s?, s:i, s:i, s:i, s:i, s:{s:b, s:b, s:b, s:b, s:b, s:s?}}",
		"client_id", s->client_id, "kids", kids, "login", s->login,
		"authorized", (json_int_t)s->authorized, "issued", (json_int_t)s->issued,
		"refused", (json_int_t)s->refused, "logouts", (json_int_t)s->logouts,
		"faults", "expired", s->faults.expired, "wrong_aud", s->faults.wrong_aud,
		"wrong_iss", s->faults.wrong_iss, "unknown_kid", s->faults.unknown_kid,
		"bad_signature", s->faults.bad_signature, "nonce", s->faults.nonce));
	return 0;
}

static int ctl_bad(struct sim_response *resp, const char *msg)
{
	sim_resp_json(resp, 400, json_pack("{s:s}", "detail", msg));
	return 0;
}

static int oidcctl_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	struct oidc_state *s = &g_oidc;
	bool post = strcmp(req->method, "POST") == 0;
	json_error_t jerr;
	json_t *body = NULL;
	int rc = 0;

	(void)ctx;
	pthread_mutex_lock(&s->mu);
	if (state_ready(s)) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	if (post)
		body = sim_request_json(req, &jerr);
	if (sim_path_is(req, 2, NULL) && strcmp(req->method, "GET") == 0) {
		rc = ctl_summary(s, resp, 200);
	} else if (post && sim_path_is(req, 2, "login", NULL)) {
		json_t *l = body ? json_object_get(body, "login") : NULL;
		if (!l || (!json_is_string(l) && !json_is_null(l))) {
			rc = ctl_bad(resp, "body must be {\"login\": \"<login or email>\"} or {\"login\": null}");
		} else {
			free(s->login);
			s->login = json_is_string(l) ? sim_strdup(json_string_value(l)) : NULL;
			rc = ctl_summary(s, resp, 200);
		}
	} else if (post && sim_path_is(req, 2, "client", NULL)) {
		const char *id = body ? json_string_value(json_object_get(body, "client_id")) : NULL;
		const char *sec = body ? json_string_value(json_object_get(body, "client_secret")) : NULL;
		if (!id || !sec || !*id || !*sec) {
			rc = ctl_bad(resp, "body must be {\"client_id\": \"...\", \"client_secret\": \"...\"}");
		} else {
			free(s->client_id);
			free(s->client_secret);
			s->client_id = sim_strdup(id);
			s->client_secret = sim_strdup(sec);
			rc = s->client_id && s->client_secret ? ctl_summary(s, resp, 200) : -1;
		}
	} else if (post && sim_path_is(req, 2, "rotate", NULL)) {
		cjose_jwk_t *k = new_key(++s->key_seq);
		if (!k) {
			rc = -1;
		} else {
			cjose_jwk_release(s->keys[1]);
			s->keys[1] = json_is_true(body ? json_object_get(body, "drop_old") : NULL) ? NULL : s->keys[0];
			if (!s->keys[1])
				cjose_jwk_release(s->keys[0]);
			s->keys[0] = k;
			rc = ctl_summary(s, resp, 200);
		}
	} else if (post && sim_path_is(req, 2, "faults", NULL)) {
		const char *nonce = body ? json_string_value(json_object_get(body, "nonce")) : NULL;
		if (!body || !json_is_object(body)) {
			rc = ctl_bad(resp, "body must be a JSON object of fault flags");
		} else {
			faults_clear(&s->faults);
			s->faults.expired = json_is_true(json_object_get(body, "expired"));
			s->faults.wrong_aud = json_is_true(json_object_get(body, "wrong_aud"));
			s->faults.wrong_iss = json_is_true(json_object_get(body, "wrong_iss"));
			s->faults.unknown_kid = json_is_true(json_object_get(body, "unknown_kid"));
			s->faults.bad_signature = json_is_true(json_object_get(body, "bad_signature"));
			s->faults.nonce = nonce ? sim_strdup(nonce) : NULL;
			rc = ctl_summary(s, resp, 200);
		}
	} else if (strcmp(req->method, "DELETE") == 0 && sim_path_is(req, 2, "faults", NULL)) {
		faults_clear(&s->faults);
		rc = ctl_summary(s, resp, 200);
	} else if (post && sim_path_is(req, 2, "reset", NULL)) {
		rc = state_reset(s) ? -1 : ctl_summary(s, resp, 200);
	} else {
		sim_resp_json(resp, 404, json_pack("{s:s}", "detail", "no such OIDC control call"));
	}
	json_decref(body);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

const struct sim_upstream sim_upstream_oidc = {
	.name = "oidc",
	.prefix = "/oauth2",
	.control = false,
	.locked = false, /* own mutex; takes ctx->lock (read) to read users and groups */
	.handle = oidc_handle,
	.fault = NULL,
};

const struct sim_upstream sim_upstream_oidcctl = {
	.name = "oidcctl",
	.prefix = "/_sim/oidc",
	.control = true,
	.locked = false,
	.handle = oidcctl_handle,
	.fault = NULL,
};
