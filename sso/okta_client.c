/*
 * okta_client.c: the Okta Management API reads of the reconcile engine
 * (see okta_client.h).
 *
 * Okta facts relied on (shared/reference/okta-api.md §2-3): pagination is
 * RFC 8288 `link` headers, one per relation, whose URLs are followed
 * verbatim (cursors are opaque); /groups pages hold at most 200 groups and
 * /groups/{id}/users pages at most 1000 users; every response carries
 * X-Rate-Limit-* headers, honoured by httpc (HTTPC_RL_OKTA); error bodies
 * are {errorCode, errorSummary, ...}.
 */
#include "okta_client.h"

#include "buf.h"
#include "httpc.h"
#include "secret.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define OKTA_GROUP_PAGE 200
#define OKTA_MEMBER_PAGE 1000
#define OKTA_MAX_PAGES 100000
#define OKTA_SEARCH_MAX 6000 /* bytes of search expression per request */

struct okta_client {
	struct httpc *http;
	struct logger *lg;
	char *base;        /* base_url without a trailing slash */
	char *auth;        /* "Authorization: SSWS ..." */
	char *email_attr;
	char *group_filter;
};

static void urlenc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~') {
			buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_append(b, e, 3);
		}
	}
}

struct okta_client *okta_client_new(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e)
{
	const struct config_okta *o = &cfg->okta;
	if (!o->base_url || !o->base_url[0]) {
		err_set(e, -1, "okta.base_url is not configured");
		return NULL;
	}
	if (o->oauth.configured || !o->api_token) {
		err_set(e, -1, "okta: this build authenticates with an SSWS API token (okta.api_token_env); "
			       "OAuth private_key_jwt is not available yet");
		return NULL;
	}
	struct okta_client *c = calloc(1, sizeof *c);
	if (!c) {
		err_set(e, -1, "out of memory");
		return NULL;
	}
	c->lg = lg;
	size_t n = strlen(o->base_url);
	while (n && o->base_url[n - 1] == '/')
		n--;
	c->base = strndup(o->base_url, n);
	c->email_attr = strdup(o->email_attribute && o->email_attribute[0] ? o->email_attribute : "email");
	c->group_filter = strdup(o->group_filter ? o->group_filter : "");
	struct buf a;
	buf_init(&a, 0);
	buf_printf(&a, "Authorization: SSWS %s", o->api_token);
	c->auth = buf_take(&a);
	struct httpc_opts ho = {
		.name = "okta",
		.rl = HTTPC_RL_OKTA,
		.timeout_ms = o->http.timeout_ms,
		.connect_timeout_ms = o->http.connect_timeout_ms,
		.max_retries = o->http.max_retries > 0 ? o->http.max_retries : -1,
		.max_concurrency = o->http.max_concurrency,
		.rate_per_sec = o->http.rate_per_sec,
		.burst = o->http.burst,
		.ca_file = o->http.ca_file && o->http.ca_file[0] ? o->http.ca_file : NULL,
		.max_response_bytes = o->http.max_response_bytes,
		/* Keep a reserve: hold a bucket's requests once it is nearly
		 * spent rather than run into 429s (okta-api.md §8 #13). */
		.rl_headroom = o->rate_limit_reserve.is_percent ? 2 : (long)o->rate_limit_reserve.value,
	};
	c->http = httpc_new(&ho, lg, m);
	if (!c->base || !c->email_attr || !c->group_filter || !c->auth || !c->http) {
		err_set(e, -1, "cannot set up the Okta client");
		okta_client_free(c);
		return NULL;
	}
	return c;
}

void okta_client_free(struct okta_client *c)
{
	if (!c)
		return;
	httpc_free(c->http);
	free(c->base);
	secret_free(c->auth);
	free(c->email_attr);
	free(c->group_filter);
	free(c);
}

/* Describe a non-200 answer with Okta's errorCode/errorSummary. */
static int okta_fail(const struct httpc_resp *r, const char *what, struct err *e)
{
	json_t *j = json_loads(buf_str(&r->body), 0, NULL);
	const char *code = json_string_value(json_object_get(j, "errorCode"));
	const char *sum = json_string_value(json_object_get(j, "errorSummary"));
	err_set(e, -1, "Okta answered %ld to %s%s%s%s%s", r->status, what, code ? ": " : "", code ? code : "",
		sum ? " " : "", sum ? sum : "");
	json_decref(j);
	return -1;
}

/* The next page URL, checked to point at our Okta (same scheme://host:port). */
static int next_page(struct okta_client *c, const struct httpc_resp *r, char **next, struct err *e)
{
	*next = NULL;
	if (httpc_resp_link_next(r, next, NULL, e))
		return -1;
	if (*next) {
		size_t n = strlen(c->base);
		const char *rest = *next + n;
		if (strncmp(*next, c->base, n) || (*rest != '/' && *rest != '?' && *rest != '\0')) {
			free(*next);
			*next = NULL;
			return err_set(e, -1, "Okta's next-page link points outside okta.base_url; refusing to follow it");
		}
	}
	return 0;
}

static int parse_user(const struct okta_client *c, json_t *ju, struct okta_user *u)
{
	memset(u, 0, sizeof *u);
	const char *id = json_string_value(json_object_get(ju, "id"));
	if (!id)
		return -1;
	json_t *prof = json_object_get(ju, "profile");
	const char *status = json_string_value(json_object_get(ju, "status"));
	const char *email = json_string_value(json_object_get(prof, c->email_attr));
	const char *login = json_string_value(json_object_get(prof, "login"));
	u->id = strdup(id);
	u->status = strdup(status ? status : "UNKNOWN");
	u->email = email ? strdup(email) : NULL;
	u->login = login ? strdup(login) : NULL;
	if (!u->id || !u->status || (email && !u->email) || (login && !u->login)) {
		okta_user_clear(u);
		return -1;
	}
	return 0;
}

int okta_groups_by_name(struct okta_client *c, const char *const *names, size_t n, struct okta_group **out,
			size_t *nout, struct err *e)
{
	struct okta_group *v = NULL;
	size_t nv = 0, cap = 0, i = 0;
	int rc = -1;
	*out = NULL;
	*nout = 0;
	while (i < n) {
		/* One search per batch of names: profile.name eq "a" or ... */
		struct buf expr, url;
		buf_init(&expr, 0);
		buf_init(&url, 0);
		if (c->group_filter[0])
			buf_printf(&expr, "(%s) and (", c->group_filter);
		size_t first = i;
		for (; i < n && (i == first || expr.len < OKTA_SEARCH_MAX); i++) {
			buf_printf(&expr, "%sprofile.name eq \"", i == first ? "" : " or ");
			for (const char *p = names[i]; *p; p++) {
				if (*p == '"' || *p == '\\')
					buf_append(&expr, "\\", 1);
				buf_append(&expr, p, 1);
			}
			buf_puts(&expr, "\"");
		}
		if (c->group_filter[0])
			buf_puts(&expr, ")");
		buf_printf(&url, "%s/api/v1/groups?search=", c->base);
		urlenc(&url, buf_str(&expr));
		buf_printf(&url, "&limit=%d", OKTA_GROUP_PAGE);
		char *next = buf_take(&url);
		buf_reset(&expr);
		for (int page = 0; next && page < OKTA_MAX_PAGES; page++) {
			const char *hdrs[] = {c->auth, "Accept: application/json", NULL};
			struct httpc_req req = {.method = "GET", .url = next, .headers = hdrs,
						.endpoint = "GET /api/v1/groups"};
			struct httpc_resp r;
			int hrc = httpc_call(c->http, &req, &r, e);
			free(next);
			next = NULL;
			if (hrc || r.status != 200) {
				if (!hrc)
					okta_fail(&r, "the group search", e);
				httpc_resp_free(&r);
				goto out;
			}
			json_error_t je;
			json_t *arr = json_loads(buf_str(&r.body), 0, &je);
			if (!json_is_array(arr)) {
				err_set(e, -1, "Okta's group list is not a JSON array: %s", je.text);
				json_decref(arr);
				httpc_resp_free(&r);
				goto out;
			}
			for (size_t k = 0; k < json_array_size(arr); k++) {
				json_t *g = json_array_get(arr, k);
				const char *id = json_string_value(json_object_get(g, "id"));
				const char *name = json_string_value(json_object_get(json_object_get(g, "profile"), "name"));
				const char *type = json_string_value(json_object_get(g, "type"));
				const char *lmu = json_string_value(json_object_get(g, "lastMembershipUpdated"));
				int wanted = 0;
				for (size_t q = 0; name && q < n && !wanted; q++)
					wanted = !strcmp(names[q], name); /* exact match only */
				if (!id || !wanted)
					continue;
				if (nv == cap) {
					cap = cap ? cap * 2 : 16;
					struct okta_group *nvv = realloc(v, cap * sizeof *nvv);
					if (!nvv) {
						json_decref(arr);
						httpc_resp_free(&r);
						err_set(e, -1, "out of memory");
						goto out;
					}
					v = nvv;
				}
				struct okta_group *og = &v[nv++];
				og->id = strdup(id);
				og->name = strdup(name);
				og->type = type ? strdup(type) : NULL;
				og->last_membership_updated = lmu ? strdup(lmu) : NULL;
			}
			json_decref(arr);
			int nrc = next_page(c, &r, &next, e);
			httpc_resp_free(&r);
			if (nrc)
				goto out;
		}
		free(next);
	}
	*out = v;
	*nout = nv;
	v = NULL;
	rc = 0;
out:
	okta_groups_free(v, nv);
	return rc;
}

int okta_groups_members(struct okta_client *c, const char *const *ids, size_t n, struct okta_user **out,
			size_t *nout, struct err *e)
{
	char **next = calloc(n + 1, sizeof *next);
	size_t *cap = calloc(n + 1, sizeof *cap);
	size_t *map = calloc(n + 1, sizeof *map);
	struct httpc_req *reqs = calloc(n + 1, sizeof *reqs);
	struct httpc_resp *resps = calloc(n + 1, sizeof *resps);
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		out[i] = NULL;
		nout[i] = 0;
	}
	if (!next || !cap || !map || !reqs || !resps) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct buf u;
		buf_init(&u, 0);
		buf_printf(&u, "%s/api/v1/groups/", c->base);
		urlenc(&u, ids[i]);
		buf_printf(&u, "/users?limit=%d", OKTA_MEMBER_PAGE);
		next[i] = buf_take(&u);
		if (!next[i]) {
			err_set(e, -1, "out of memory");
			goto out;
		}
	}
	const char *hdrs[] = {c->auth, "Accept: application/json", NULL};
	/* Waves: page k of every group that still has pages, concurrently. */
	for (int wave = 0; wave < OKTA_MAX_PAGES; wave++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			if (!next[i])
				continue;
			map[m] = i;
			reqs[m] = (struct httpc_req){.method = "GET", .url = next[i], .headers = hdrs,
						     .endpoint = "GET /api/v1/groups/{id}/users"};
			m++;
		}
		if (!m)
			break;
		httpc_call_many(c->http, reqs, resps, m, NULL);
		int bad = 0;
		for (size_t k = 0; k < m; k++) {
			size_t i = map[k];
			struct httpc_resp *r = &resps[k];
			free(next[i]);
			next[i] = NULL;
			if (bad) {
				httpc_resp_free(r);
				continue;
			}
			if (r->rc) {
				err_set(e, -1, "reading the members of Okta group %s: %s", ids[i], httpc_strerror(r->rc));
				bad = 1;
			} else if (r->status != 200) {
				char what[160];
				snprintf(what, sizeof what, "the member list of group %s", ids[i]);
				okta_fail(r, what, e);
				bad = 1;
			} else {
				json_error_t je;
				json_t *arr = json_loads(buf_str(&r->body), 0, &je);
				if (!json_is_array(arr)) {
					err_set(e, -1, "Okta's member list of group %s is not a JSON array: %s", ids[i],
						je.text);
					bad = 1;
				}
				size_t add = json_array_size(arr);
				if (!bad && nout[i] + add > cap[i]) {
					size_t ncap = cap[i] ? cap[i] : 64;
					while (ncap < nout[i] + add)
						ncap *= 2;
					struct okta_user *nv = realloc(out[i], ncap * sizeof *nv);
					if (!nv) {
						err_set(e, -1, "out of memory");
						bad = 1;
					} else {
						out[i] = nv;
						cap[i] = ncap;
					}
				}
				for (size_t k2 = 0; !bad && k2 < add; k2++) {
					if (parse_user(c, json_array_get(arr, k2), &out[i][nout[i]])) {
						err_set(e, -1, "a member of Okta group %s has no id", ids[i]);
						bad = 1;
					} else {
						nout[i]++;
					}
				}
				json_decref(arr);
				if (!bad && next_page(c, r, &next[i], e))
					bad = 1;
			}
			httpc_resp_free(r);
		}
		if (bad)
			goto out;
	}
	rc = 0;
out:
	if (rc && next)
		for (size_t i = 0; i < n; i++) {
			okta_users_free(out[i], nout[i]);
			out[i] = NULL;
			nout[i] = 0;
		}
	for (size_t i = 0; next && i < n; i++)
		free(next[i]);
	free(next);
	free(cap);
	free(map);
	free(reqs);
	free(resps);
	return rc;
}

int okta_get_user(struct okta_client *c, const char *id, struct okta_user *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	struct buf u;
	buf_init(&u, 0);
	buf_printf(&u, "%s/api/v1/users/", c->base);
	urlenc(&u, id);
	const char *hdrs[] = {c->auth, "Accept: application/json", NULL};
	struct httpc_req req = {.method = "GET", .url = buf_str(&u), .headers = hdrs,
				.endpoint = "GET /api/v1/users/{id}"};
	struct httpc_resp r;
	int rc = httpc_call(c->http, &req, &r, e) ? -1 : 0;
	if (!rc) {
		if (r.status == 404) {
			rc = 1;
		} else if (r.status != 200) {
			rc = okta_fail(&r, "the user lookup", e);
		} else {
			json_t *j = json_loads(buf_str(&r.body), 0, NULL);
			if (!j || parse_user(c, j, out))
				rc = err_set(e, -1, "Okta's user record is not valid JSON with an id");
			json_decref(j);
		}
	}
	httpc_resp_free(&r);
	buf_reset(&u);
	return rc;
}

void okta_user_clear(struct okta_user *u)
{
	if (!u)
		return;
	free(u->id);
	free(u->status);
	free(u->email);
	free(u->login);
	memset(u, 0, sizeof *u);
}

void okta_users_free(struct okta_user *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		okta_user_clear(&v[i]);
	free(v);
}

void okta_groups_free(struct okta_group *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].name);
		free(v[i].type);
		free(v[i].last_membership_updated);
	}
	free(v);
}
