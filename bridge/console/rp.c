/*
 * rp.c: the console's OIDC relying party (see rp.h).
 */
#include "rp.h"

#include "clock.h"
#include "httpc.h"
#include "sso/oidc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RP_LEEWAY_S 120

struct rp {
	const struct config *cfg;
	struct logger *log;
	struct httpc *http;
	char *redirect_uri;
	pthread_mutex_t mu; /* guards what follows */
	char *authz_ep, *token_ep, *jwks_uri, *end_session_ep;
	int64_t disc_at_ms;
	char *jwks;
	int64_t jwks_at_ms;
};

char *rp_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(3 * n + 1);

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

struct rp *rp_new(const struct config *cfg, struct logger *lg, struct metrics *m)
{
	struct rp *rp = calloc(1, sizeof(*rp));
	struct httpc_opts o = {
		.name = "oidc",
		.rl = HTTPC_RL_OKTA,
		.timeout_ms = 10000,
		.max_retries = 2,
		.max_rl_retries = 1,
		.max_wait_ms = 5000,
		.max_response_bytes = 1024 * 1024,
	};
	size_t ul;

	if (!rp)
		return NULL;
	rp->cfg = cfg;
	rp->log = lg;
	pthread_mutex_init(&rp->mu, NULL);
	rp->http = httpc_new(&o, lg, m);
	ul = strlen(cfg->public_url);
	while (ul && cfg->public_url[ul - 1] == '/')
		ul--;
	if (asprintf(&rp->redirect_uri, "%.*s%s", (int)ul, cfg->public_url, cfg->console.oidc.redirect_path) < 0)
		rp->redirect_uri = NULL;
	if (!rp->http || !rp->redirect_uri) {
		rp_free(rp);
		return NULL;
	}
	return rp;
}

void rp_free(struct rp *rp)
{
	if (!rp)
		return;
	httpc_free(rp->http);
	free(rp->redirect_uri);
	free(rp->authz_ep);
	free(rp->token_ep);
	free(rp->jwks_uri);
	free(rp->end_session_ep);
	free(rp->jwks);
	pthread_mutex_destroy(&rp->mu);
	free(rp);
}

const char *rp_redirect_uri(const struct rp *rp)
{
	return rp->redirect_uri;
}

/* GET url; the 200 body (caller frees) or NULL with e. */
static char *get_doc(struct rp *rp, const char *url, const char *endpoint, struct err *e)
{
	struct httpc_req req = {.method = "GET", .url = url, .endpoint = endpoint, .idempotent = 1};
	struct httpc_resp resp;
	char *body = NULL;

	if (httpc_call(rp->http, &req, &resp, e) == 0) {
		if (resp.status == 200)
			body = strdup(buf_str(&resp.body));
		else
			err_set(e, 999, "%s answered HTTP %ld", endpoint, resp.status);
	}
	httpc_resp_free(&resp);
	return body;
}

static int set_str(char **dst, json_t *doc, const char *key, int required, struct err *e)
{
	const char *v = json_string_value(json_object_get(doc, key));

	free(*dst);
	*dst = NULL;
	if (!v)
		return required ? err_set(e, 999, "the discovery document has no %s", key) : 0;
	if (httpc_check_url(v, e))
		return -1;
	*dst = strdup(v);
	return *dst ? 0 : err_set(e, 999, "out of memory");
}

/* Discovery, cached for console.oidc.jwks_cache_ttl. Called with rp->mu held. */
static int discover(struct rp *rp, int64_t now_ms, struct err *e)
{
	const char *iss = rp->cfg->console.oidc.issuer;
	char *url = NULL, *body;
	json_t *doc;
	const char *diss;
	int rc = -1;

	if (rp->authz_ep && now_ms - rp->disc_at_ms < rp->cfg->console.oidc.jwks_cache_ttl_ms)
		return 0;
	if (asprintf(&url, "%s/.well-known/openid-configuration", iss) < 0)
		return err_set(e, 999, "out of memory");
	body = get_doc(rp, url, "GET /.well-known/openid-configuration", e);
	free(url);
	if (!body)
		return -1;
	doc = json_loads(body, 0, NULL);
	free(body);
	diss = json_string_value(json_object_get(doc, "issuer"));
	if (!diss || strcmp(diss, iss) != 0)
		err_set(e, 999, "the discovery document's issuer is not console.oidc.issuer");
	else if (!set_str(&rp->authz_ep, doc, "authorization_endpoint", 1, e) &&
		 !set_str(&rp->token_ep, doc, "token_endpoint", 1, e) &&
		 !set_str(&rp->jwks_uri, doc, "jwks_uri", 1, e) &&
		 !set_str(&rp->end_session_ep, doc, "end_session_endpoint", 0, e)) {
		rp->disc_at_ms = now_ms;
		rc = 0;
	}
	json_decref(doc);
	return rc;
}

char *rp_authorize_url(struct rp *rp, const char *state, const char *nonce, const char *challenge,
		       struct err *e)
{
	const struct config_console_oidc *o = &rp->cfg->console.oidc;
	struct buf scope;
	char *u = NULL, *cid = NULL, *ruri = NULL, *sc = NULL, *st = NULL, *no = NULL;
	size_t i;

	buf_init(&scope, 0);
	for (i = 0; i < o->scopes.n; i++) {
		if (i)
			buf_puts(&scope, " ");
		buf_puts(&scope, o->scopes.v[i]);
	}
	pthread_mutex_lock(&rp->mu);
	if (discover(rp, clock_now_ms(), e) == 0) {
		cid = rp_url_encode(o->client_id);
		ruri = rp_url_encode(rp->redirect_uri);
		sc = rp_url_encode(buf_str(&scope));
		st = rp_url_encode(state);
		no = rp_url_encode(nonce);
		if (cid && ruri && sc && st && no &&
		    asprintf(&u, "%s?response_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s&nonce=%s"
				 "&code_challenge=%s&code_challenge_method=S256",
			     rp->authz_ep, cid, ruri, sc, st, no, challenge) < 0)
			u = NULL;
	}
	pthread_mutex_unlock(&rp->mu);
	free(cid);
	free(ruri);
	free(sc);
	free(st);
	free(no);
	buf_reset(&scope);
	return u;
}

char *rp_logout_url(struct rp *rp, const char *id_token, const char *post_logout, struct err *e)
{
	char *u = NULL, *pl = rp_url_encode(post_logout);

	pthread_mutex_lock(&rp->mu);
	if (pl && discover(rp, clock_now_ms(), e) == 0) {
		if (!rp->end_session_ep)
			err_set(e, 999, "the issuer has no end_session_endpoint");
		else if (asprintf(&u, "%s?%s%s%spost_logout_redirect_uri=%s", rp->end_session_ep,
				  id_token ? "id_token_hint=" : "", id_token ? id_token : "", id_token ? "&" : "",
				  pl) < 0)
			u = NULL;
	}
	pthread_mutex_unlock(&rp->mu);
	free(pl);
	return u;
}

/* A copy of the JWKS, fetched when missing, stale or when force is set. Called with rp->mu held. */
static char *jwks_get(struct rp *rp, int64_t now_ms, int force, struct err *e)
{
	if (force || !rp->jwks || now_ms - rp->jwks_at_ms >= rp->cfg->console.oidc.jwks_cache_ttl_ms) {
		char *body = get_doc(rp, rp->jwks_uri, "GET /v1/keys", e);
		if (!body)
			return NULL;
		free(rp->jwks);
		rp->jwks = body;
		rp->jwks_at_ms = now_ms;
	}
	return strdup(rp->jwks);
}

int rp_exchange(struct rp *rp, const char *code, const char *verifier, const char *nonce, int64_t now_ms,
		json_t **claims, char **id_token, struct err *e)
{
	const struct config_console_oidc *o = &rp->cfg->console.oidc;
	char *ecode = rp_url_encode(code), *ever = rp_url_encode(verifier), *eruri = rp_url_encode(rp->redirect_uri);
	char *ecid = rp_url_encode(o->client_id), *esec = rp_url_encode(o->client_secret ? o->client_secret : "");
	char *body = NULL, *cred = NULL, *auth = NULL, *token_ep = NULL, *jwks = NULL;
	struct httpc_resp resp;
	json_t *doc = NULL;
	const char *idt;
	int rc = -1, vrc, fetched = 0;
	struct oidc_expect x = {.issuer = o->issuer, .client_id = o->client_id, .nonce = nonce,
				.now_s = now_ms / 1000, .leeway_s = RP_LEEWAY_S};

	*claims = NULL;
	*id_token = NULL;
	memset(&resp, 0, sizeof(resp));
	pthread_mutex_lock(&rp->mu);
	if (discover(rp, now_ms, e) == 0)
		token_ep = strdup(rp->token_ep);
	pthread_mutex_unlock(&rp->mu);
	if (!token_ep || !ecode || !ever || !eruri || !ecid || !esec)
		goto out;
	if (asprintf(&body, "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", ecode, eruri,
		     ever) < 0 ||
	    asprintf(&cred, "%s:%s", ecid, esec) < 0) {
		body = cred = NULL;
		err_set(e, 999, "out of memory");
		goto out;
	}
	{ /* client_secret_basic: base64 of the form-encoded id and secret (RFC 6749 2.3.1) */
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t n = strlen(cred), i, k = 0;
		auth = malloc(sizeof("Authorization: Basic ") + 4 * (n / 3 + 1));
		if (!auth)
			goto out;
		k = (size_t)sprintf(auth, "Authorization: Basic ");
		for (i = 0; i < n; i += 3) {
			unsigned v = (unsigned char)cred[i] << 16;
			if (i + 1 < n)
				v |= (unsigned char)cred[i + 1] << 8;
			if (i + 2 < n)
				v |= (unsigned char)cred[i + 2];
			auth[k++] = b64[v >> 18 & 63];
			auth[k++] = b64[v >> 12 & 63];
			auth[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
			auth[k++] = i + 2 < n ? b64[v & 63] : '=';
		}
		auth[k] = '\0';
	}
	{
		const char *hdrs[] = {auth, "Content-Type: application/x-www-form-urlencoded",
				      "Accept: application/json", NULL};
		struct httpc_req req = {.method = "POST", .url = token_ep, .headers = hdrs, .body = body,
					.body_len = strlen(body), .endpoint = "POST /v1/token", .idempotent = 0};
		if (httpc_call(rp->http, &req, &resp, e)) {
			e->code = 999;
			goto out;
		}
	}
	doc = json_loads(buf_str(&resp.body), 0, NULL);
	if (resp.status != 200) {
		const char *oe = json_string_value(json_object_get(doc, "error"));
		err_set(e, 1000 + (int)resp.status, "the token endpoint refused the code: %s",
			oe ? oe : "(no error code)");
		goto out;
	}
	idt = json_string_value(json_object_get(doc, "id_token"));
	if (!idt) {
		err_set(e, OIDC_E_MALFORMED, "the token response has no id_token");
		goto out;
	}
	for (;;) {
		pthread_mutex_lock(&rp->mu);
		free(jwks);
		jwks = jwks_get(rp, now_ms, fetched, e);
		pthread_mutex_unlock(&rp->mu);
		if (!jwks) {
			e->code = OIDC_E_JWKS;
			goto out;
		}
		vrc = oidc_verify_id_token(jwks, idt, &x, claims, e);
		if (vrc == OIDC_E_UNKNOWN_KID && !fetched) {
			fetched = 1; /* keys rotate: refetch once */
			continue;
		}
		break;
	}
	if (vrc != OIDC_OK)
		goto out;
	*id_token = strdup(idt);
	if (!*id_token) {
		json_decref(*claims);
		*claims = NULL;
		err_set(e, 999, "out of memory");
		goto out;
	}
	rc = 0;
out:
	httpc_resp_free(&resp);
	json_decref(doc);
	free(ecode);
	free(ever);
	free(eruri);
	free(ecid);
	free(esec);
	free(body);
	free(cred);
	free(auth);
	free(token_ep);
	free(jwks);
	return rc;
}
