/*
 * okta_client.c: the Okta Management API reads of the reconcile engine
 * (see okta_client.h); authentication lives in okta_auth.c.
 *
 * Okta facts relied on (shared/reference/okta-api.md):
 *   - §2.2: /api/v1/groups?search=... takes a URL-encoded filter expression
 *     over any group property and is pageable (q is not); Okta recommends
 *     limit <= 200 there. /api/v1/groups/{id}/users allows limit up to
 *     1000 (okta-developer-docs PR 368), the largest page of any endpoint we
 *     use, so one request brings up to 1000 members;
 *   - §2.4: pagination is RFC 8288 `link` headers, one line per relation;
 *     the URL of rel="next" is followed verbatim (cursors are opaque and
 *     their format may change) and the list ends when no next link comes;
 *   - §2: errors are 4xx/5xx with {errorCode, errorSummary, ...}; only
 *     errorCode is stable. Every response has X-Okta-Request-Id;
 *   - §3: X-Rate-Limit-Limit/Remaining/Reset on every response, per
 *     endpoint bucket, honoured by httpc (HTTPC_RL_OKTA) which also waits
 *     out 429s until X-Rate-Limit-Reset.
 *
 * Error messages name the request ("the members of Okta group 00g..."),
 * the status and Okta's errorCode/errorSummary; bodies, URLs with cursors
 * and tokens never appear in them.
 */
#include "okta_client.h"

#include "buf.h"
#include "httpc.h"
#include "okta_auth.h"
#include "secret.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EP_GROUPS "GET /api/v1/groups"
#define EP_MEMBERS "GET /api/v1/groups/{id}/users"
#define EP_USER "GET /api/v1/users/{id}"
#define EP_USER_GROUPS "GET /api/v1/users/{id}/groups"
#define EP_LOGS "GET /api/v1/logs"
#define OKTA_LOG_PAGE 1000 /* /logs: the documented maximum */

#define OKTA_GROUP_PAGE 200   /* /groups: Okta recommends <= 200 (§2.2) */
#define OKTA_MEMBER_PAGE 1000 /* /groups/{id}/users: the documented maximum (§2.2, PR 368) */
/* A group search URL stays under this many bytes; more names are split
 * over several searches (proxies and servers commonly cap request lines
 * at 8 KiB). */
#define OKTA_SEARCH_URL_MAX 6144
/* Safety stop for a server that keeps sending next links (10^6 pages is
 * 10^9 members). */
#define OKTA_MAX_PAGES 1000000

struct okta_client {
	struct httpc *http;
	struct okta_auth *auth;
	struct logger *lg;
	char *base;	    /* base_url without trailing slashes */
	char *email_attr;   /* profile attribute used as the user's email */
	char *group_filter; /* "" = none */
	size_t wave_slice;  /* most member-page requests handed to httpc at once */
};

/* ---- small helpers ---- */

/* scheme://host:port of an http(s) URL, borrowed from the URL. */
struct origin {
	const char *scheme, *host;
	size_t slen, hlen;
	long port;
};

/* Parse the origin of url. The authority may only hold host characters,
 * an IPv6 literal and a port: userinfo ('@'), percent-escapes and
 * backslashes are refused, so no parser disagreement can redirect us.
 * 0 or -1. */
static int origin_of(const char *url, struct origin *o)
{
	const char *p = strstr(url, "://");
	if (!p)
		return -1;
	o->scheme = url;
	o->slen = (size_t)(p - url);
	int https;
	if (o->slen == 5 && !strncasecmp(url, "https", 5))
		https = 1;
	else if (o->slen == 4 && !strncasecmp(url, "http", 4))
		https = 0;
	else
		return -1;
	const char *a = p + 3;
	size_t alen = strcspn(a, "/?#");
	for (size_t i = 0; i < alen; i++) {
		char ch = a[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-' || ch == ':' || ch == '[' || ch == ']'))
			return -1;
	}
	const char *end = a + alen, *port = NULL;
	if (*a == '[') {
		const char *rb = memchr(a, ']', alen);
		if (!rb)
			return -1;
		o->host = a;
		o->hlen = (size_t)(rb - a) + 1;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			port = rb + 2;
		}
	} else {
		const char *colon = memchr(a, ':', alen);
		o->host = a;
		o->hlen = colon ? (size_t)(colon - a) : alen;
		if (colon)
			port = colon + 1;
		if (memchr(a, '[', alen) || memchr(a, ']', alen))
			return -1;
	}
	if (!o->hlen)
		return -1;
	o->port = https ? 443 : 80;
	if (port && port < end) {
		long v = 0;
		for (const char *q = port; q < end; q++) {
			if (*q < '0' || *q > '9' || v > 65535)
				return -1;
			v = v * 10 + (*q - '0');
		}
		if (v < 1 || v > 65535)
			return -1;
		o->port = v;
	}
	return 0;
}

/* 1 when url has the same scheme, host and port as the base URL. */
static int same_origin(const char *base, const char *url)
{
	struct origin a, b;
	if (origin_of(base, &a) || origin_of(url, &b))
		return 0;
	return a.slen == b.slen && !strncasecmp(a.scheme, b.scheme, a.slen) && a.hlen == b.hlen &&
	       !strncasecmp(a.host, b.host, a.hlen) && a.port == b.port;
}

/* Describe a non-2xx answer: status, Okta's errorCode and errorSummary
 * and the request id, never the rest of the body. Returns -1. */
static int status_error(const struct httpc_resp *r, const char *what, struct err *e)
{
	json_t *j = json_loads(buf_str(&r->body), 0, NULL);
	const char *code = json_string_value(json_object_get(j, "errorCode"));
	const char *sum = json_string_value(json_object_get(j, "errorSummary"));
	const char *rid = httpc_resp_header(r, "x-okta-request-id");
	char extra[64] = "";
	if (r->status == 429 && r->retry_after_ms >= 0)
		snprintf(extra, sizeof extra, " (rate limited: retry in %lld ms)", (long long)r->retry_after_ms);
	err_set(e, -1, "okta: %s: HTTP %ld%s%.40s%s%.200s%s%s%.64s%s", what, r->status, code ? " " : "",
		code ? code : "", sum ? ": " : "", sum ? sum : "", extra, rid ? " [request id " : "", rid ? rid : "",
		rid ? "]" : "");
	json_decref(j);
	return -1;
}

/* The JSON body of a 2xx answer in *out (caller json_decref), or -1 with e
 * for another status or malformed JSON. */
static int body_json(const struct httpc_resp *r, const char *what, json_t **out, struct err *e)
{
	*out = NULL;
	if (r->status < 200 || r->status > 299)
		return status_error(r, what, e);
	json_error_t je;
	json_t *j = json_loads(buf_str(&r->body), 0, &je);
	if (!j) /* je.text may quote the body: only the position is reported */
		return err_set(e, -1, "okta: %s: malformed JSON in the answer (line %d, column %d)", what, je.line,
			       je.column);
	*out = j;
	return 0;
}

/* The checked rel="next" URL of r in *next (allocated) or NULL at the end. */
static int next_link(const struct okta_client *c, const struct httpc_resp *r, const char *cur, const char *what,
		     char **next, struct err *e)
{
	struct err le = {0};
	*next = NULL;
	if (httpc_resp_link_next(r, next, NULL, &le))
		/* Never "last page": a truncated member list would look like removals. */
		return err_set(e, -1, "okta: %s: bad Link header: %s", what, le.msg);
	if (!*next)
		return 0;
	if (!same_origin(c->base, *next)) {
		free(*next);
		*next = NULL;
		return err_set(e, -1, "okta: %s: the next-page link points outside okta.base_url; not following it",
			       what);
	}
	if (!strcmp(*next, cur)) {
		free(*next);
		*next = NULL;
		return err_set(e, -1, "okta: %s: the next-page link repeats the current page", what);
	}
	return 0;
}

/*
 * GET urls[0..n) concurrently with the Authorization header, resps[i]
 * answering urls[i] (caller frees each). An OAuth token refused with 401 is
 * dropped and the 401'd requests are sent once more with a new token.
 * Returns 0 when every request got an HTTP answer (any status); else -1
 * with *failed = the index of the request that failed and httpc's reason
 * in e (the caller adds which request it was), or *failed = n when no
 * request was sent (no token: e is complete then).
 */
static int get_many(struct okta_client *c, const char *const *urls, const char *endpoint, struct httpc_resp *resps,
		    size_t n, size_t *failed, struct err *e)
{
	struct httpc_req *reqs = calloc(n ? n : 1, sizeof *reqs);
	struct httpc_resp *again = NULL;
	size_t *idx = NULL;
	char *auth = NULL;
	int rc = -1;
	*failed = n;
	for (size_t i = 0; i < n; i++)
		memset(&resps[i], 0, sizeof resps[i]); /* safe to free whatever happens */
	if (!reqs) {
		err_set(e, -1, "okta: out of memory");
		goto out;
	}
	if (okta_auth_header(c->auth, &auth, e))
		goto out;
	const char *hdrs[] = {auth, "Accept: application/json", NULL};
	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct httpc_req){
		    .method = "GET", .url = urls[i], .headers = hdrs, .endpoint = endpoint, .idempotent = -1};
	struct err he = {0};
	if (httpc_call_many(c->http, reqs, resps, n, &he)) {
		for (*failed = 0; *failed < n && !resps[*failed].rc; (*failed)++)
			;
		err_set(e, -1, "%s", he.msg);
		goto out;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += resps[i].status == 401;
	if (!m || !okta_auth_reject(c->auth, auth)) {
		rc = 0;
		goto out;
	}
	/* The token was revoked or expired early: one new token, one retry. */
	secret_free(auth);
	auth = NULL;
	if (okta_auth_header(c->auth, &auth, e))
		goto out;
	hdrs[0] = auth;
	idx = calloc(m, sizeof *idx);
	again = calloc(m, sizeof *again);
	if (!idx || !again) {
		err_set(e, -1, "okta: out of memory");
		goto out;
	}
	m = 0;
	for (size_t i = 0; i < n; i++)
		if (resps[i].status == 401) {
			idx[m] = i;
			reqs[m++] = (struct httpc_req){
			    .method = "GET", .url = urls[i], .headers = hdrs, .endpoint = endpoint, .idempotent = -1};
		}
	int arc = httpc_call_many(c->http, reqs, again, m, &he);
	for (size_t k = 0; k < m; k++) {
		httpc_resp_free(&resps[idx[k]]);
		resps[idx[k]] = again[k];
		memset(&again[k], 0, sizeof again[k]);
	}
	if (arc) {
		for (size_t k = 0; k < m; k++)
			if (resps[idx[k]].rc) {
				*failed = idx[k];
				break;
			}
		err_set(e, -1, "%s", he.msg);
		goto out;
	}
	rc = 0;
out:
	secret_free(auth);
	free(reqs);
	free(idx);
	free(again);
	return rc;
}

/* Prefix e's message (from get_many) with what failed. */
static void wrap_error(struct err *e, const char *what)
{
	if (!e)
		return;
	struct err inner = *e;
	err_set(e, -1, "okta: %s: %.400s", what, inner.msg);
}

/* A user object: id and status required; email and login when present. */
static int parse_user(const struct okta_client *c, json_t *ju, struct okta_user *u)
{
	memset(u, 0, sizeof *u);
	const char *id = json_string_value(json_object_get(ju, "id"));
	const char *status = json_string_value(json_object_get(ju, "status"));
	/* A user without a status must not pass for "not ACTIVE": that would
	 * remove a member. Treat it as a malformed answer instead. */
	if (!id || !*id || !status || !*status)
		return -1;
	json_t *prof = json_object_get(ju, "profile");
	const char *email = json_string_value(json_object_get(prof, c->email_attr));
	const char *login = json_string_value(json_object_get(prof, "login"));
	u->id = strdup(id);
	u->status = strdup(status);
	u->email = email ? strdup(email) : NULL;
	u->login = login ? strdup(login) : NULL;
	if (!u->id || !u->status || (email && !u->email) || (login && !u->login)) {
		okta_user_clear(u);
		return -2;
	}
	return 0;
}

/* Grow *v (elements of size sz) to hold need, doubling; overflow-checked. */
static int grow(void **v, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / sz)
		return -1;
	void *nv = realloc(*v, ncap * sz);
	if (!nv)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* ---- lifecycle ---- */

/* okta.rate_limit_reserve as httpc's reserve: a count of requests
 * (rl_headroom), or a share of each answer's X-Rate-Limit-Limit
 * (rl_headroom_pct; httpc reads the limit per response, so each Okta
 * bucket keeps its own share). Either way httpc holds the endpoint's
 * requests until X-Rate-Limit-Reset once Remaining reaches the reserve. */
static void set_reserve(const struct config_pct *r, struct httpc_opts *ho)
{
	double v = r->value;
	ho->rl_headroom = 0; /* at least: never spend the last request of a window */
	ho->rl_headroom_pct = 0;
	if (!(v > 0)) /* also NaN */
		return;
	if (r->is_percent) {
		ho->rl_headroom_pct = v > 100 ? 100 : v;
		return;
	}
	if (v > 1e6)
		v = 1e6;
	long n = (long)v;
	ho->rl_headroom = (double)n < v ? n + 1 : n;
}

struct okta_client *okta_client_new(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e)
{
	const struct config_okta *o = &cfg->okta;
	struct origin org;
	if (!o->base_url || !*o->base_url) {
		err_set(e, -1, "okta: okta.base_url is not configured");
		return NULL;
	}
	if (origin_of(o->base_url, &org)) {
		err_set(e, -1, "okta: okta.base_url is not an http(s) URL with a plain host");
		return NULL;
	}
	struct okta_client *c = calloc(1, sizeof *c);
	if (!c)
		goto nomem;
	c->lg = lg;
	size_t n = strlen(o->base_url);
	while (n && o->base_url[n - 1] == '/')
		n--;
	c->base = strndup(o->base_url, n);
	const char *attr = o->email_attribute && *o->email_attribute ? o->email_attribute : "email";
	c->email_attr = strdup(attr);
	c->group_filter = strdup(o->group_filter ? o->group_filter : "");
	if (!c->base || !c->email_attr || !c->group_filter)
		goto nomem;
	const struct upstream_http *h = &o->http;
	struct httpc_opts ho = {
	    .name = "okta",
	    .rl = HTTPC_RL_OKTA,
	    .timeout_ms = h->timeout_ms,
	    .connect_timeout_ms = h->connect_timeout_ms,
	    /* config: 0 means no retries; httpc: 0 means its default, -1 none */
	    .max_retries = h->max_retries > 0 ? h->max_retries : -1,
	    .max_concurrency = h->max_concurrency,
	    .rate_per_sec = h->rate_per_sec,
	    .burst = h->burst,
	    .ca_file = h->ca_file && *h->ca_file ? h->ca_file : NULL,
	    .max_response_bytes = h->max_response_bytes,
	};
	/* Keep a reserve of every bucket: wait for the reset rather than run
	 * into 429s, and leave room for the org's other API clients
	 * (okta-api.md §8 #13). */
	set_reserve(&o->rate_limit_reserve, &ho);
	c->http = httpc_new(&ho, lg, m);
	if (!c->http) {
		err_set(e, -1, "okta: cannot create the HTTP client (see the log)");
		goto fail;
	}
	/* Member pages are read in waves; a wave is handed to httpc in slices
	 * of twice the concurrency, so every connection stays busy while at
	 * most that many pages (up to 1000 users each) sit in memory. */
	c->wave_slice = (size_t)(h->max_concurrency > 0 ? h->max_concurrency : 8) * 2;
	c->auth = okta_auth_new(o, c->base, c->http, lg, e);
	if (!c->auth)
		goto fail;
	return c;
nomem:
	err_set(e, -1, "okta: out of memory");
fail:
	okta_client_free(c);
	return NULL;
}

void okta_client_free(struct okta_client *c)
{
	if (!c)
		return;
	okta_auth_free(c->auth);
	httpc_free(c->http);
	free(c->base);
	free(c->email_attr);
	free(c->group_filter);
	free(c);
}

/* ---- groups by name ---- */

/* One clause `profile.name eq "<name>"` (with " or " before all but the
 * first), '"' and '\' escaped, appended to b percent-encoded. */
static int name_clause(struct buf *b, const char *name, int first)
{
	struct buf t;
	buf_init(&t, 0);
	int rc = buf_puts(&t, first ? "profile.name eq \"" : " or profile.name eq \"");
	for (const char *p = name; !rc && *p; p++) {
		if (*p == '"' || *p == '\\')
			rc = buf_append(&t, "\\", 1);
		if (!rc)
			rc = buf_append(&t, p, 1);
	}
	if (!rc)
		rc = buf_puts(&t, "\"");
	if (!rc)
		rc = okta_url_escape(b, buf_str(&t));
	buf_reset(&t);
	return rc;
}

/* Groups gathered from answer pages: all of them (names NULL), or those
 * whose name is one of names[0..n), each once. */
struct group_acc {
	const char *const *names;
	size_t n;
	struct okta_group *v;
	size_t nv, cap;
};

/* Append the wanted groups of one answer page (a JSON array). */
static int collect_groups(json_t *arr, void *arg, const char *what, struct err *e)
{
	struct group_acc *acc = arg;
	struct okta_group **v = &acc->v;
	size_t *nv = &acc->nv, *cap = &acc->cap;
	for (size_t k = 0; k < json_array_size(arr); k++) {
		json_t *g = json_array_get(arr, k);
		const char *id = json_string_value(json_object_get(g, "id"));
		const char *name = json_string_value(json_object_get(json_object_get(g, "profile"), "name"));
		if (!json_is_object(g) || !id || !*id || !name)
			return err_set(e, -1, "okta: %s: a group without id or profile.name", what);
		/* search's eq may match more loosely than we need (and the
		 * group_filter may be broad): keep exact names only. */
		int wanted = !acc->names;
		for (size_t q = 0; q < acc->n && !wanted; q++)
			wanted = !strcmp(acc->names[q], name);
		for (size_t q = 0; q < *nv && wanted; q++)
			wanted = strcmp((*v)[q].id, id) != 0; /* a name asked twice: one entry */
		if (!wanted)
			continue;
		const char *type = json_string_value(json_object_get(g, "type"));
		const char *lmu = json_string_value(json_object_get(g, "lastMembershipUpdated"));
		if (grow((void **)v, cap, *nv + 1, sizeof **v))
			return err_set(e, -1, "okta: out of memory");
		struct okta_group *og = &(*v)[*nv];
		memset(og, 0, sizeof *og);
		og->id = strdup(id);
		og->name = strdup(name);
		og->type = type ? strdup(type) : NULL;
		og->last_membership_updated = lmu ? strdup(lmu) : NULL;
		(*nv)++;
		if (!og->id || !og->name || (type && !og->type) || (lmu && !og->last_membership_updated))
			return err_set(e, -1, "okta: out of memory");
	}
	return 0;
}

/*
 * GET url and every rel="next" page after it (url is consumed), handing
 * each page's JSON array to page(). what names the request in errors.
 * Returns 0, 1 when the first page answered 404 (only with allow_404), or
 * -1 with e.
 */
static int follow_pages(struct okta_client *c, char *url, const char *endpoint, const char *what, int allow_404,
			int (*page)(json_t *arr, void *arg, const char *what, struct err *e), void *arg,
			struct err *e)
{
	struct httpc_resp r;
	json_t *arr = NULL;
	int rc = -1, have_resp = 0;
	memset(&r, 0, sizeof r);
	for (long n = 0; url; n++) {
		if (n >= OKTA_MAX_PAGES) {
			err_set(e, -1, "okta: %s: more than %d pages", what, OKTA_MAX_PAGES);
			goto out;
		}
		size_t failed;
		const char *u[1] = {url};
		have_resp = 1;
		if (get_many(c, u, endpoint, &r, 1, &failed, e)) {
			if (failed < 1)
				wrap_error(e, what);
			goto out;
		}
		if (allow_404 && n == 0 && r.status == 404) {
			rc = 1;
			goto out;
		}
		if (body_json(&r, what, &arr, e))
			goto out;
		if (!json_is_array(arr)) {
			err_set(e, -1, "okta: %s: the answer is not a JSON array", what);
			goto out;
		}
		if (page(arr, arg, what, e))
			goto out;
		json_decref(arr);
		arr = NULL;
		char *next;
		if (next_link(c, &r, url, what, &next, e))
			goto out;
		httpc_resp_free(&r);
		have_resp = 0;
		free(url);
		url = next;
	}
	rc = 0;
out:
	if (have_resp)
		httpc_resp_free(&r);
	json_decref(arr);
	free(url);
	return rc;
}

int okta_groups_by_name(struct okta_client *c, const char *const *names, size_t n, struct okta_group **out,
			size_t *nout, struct err *e)
{
	struct group_acc acc = {.names = names, .n = n};
	size_t i = 0;
	struct buf url, head, tail, clause;
	char *cur = NULL;
	int rc = -1;
	buf_init(&url, 0);
	buf_init(&head, 0);
	buf_init(&tail, 0);
	buf_init(&clause, 0);
	*out = NULL;
	*nout = 0;
	for (size_t k = 0; k < n; k++)
		if (!names[k] || !*names[k])
			return err_set(e, -1, "okta: an empty group name was asked for");

	/* search=(<group_filter>) and (profile.name eq "a" or ...)&limit=200 */
	int brc = buf_printf(&head, "%s/api/v1/groups?search=", c->base);
	if (*c->group_filter) {
		brc |= okta_url_escape(&head, "(");
		brc |= okta_url_escape(&head, c->group_filter);
		brc |= okta_url_escape(&head, ") and (");
		brc |= okta_url_escape(&tail, ")");
	}
	brc |= buf_printf(&tail, "&limit=%d", OKTA_GROUP_PAGE);
	if (brc)
		goto nomem;

	while (i < n) {
		/* One search per batch of names that keeps the URL short. */
		buf_reset(&url);
		if (buf_append(&url, head.data, head.len))
			goto nomem;
		size_t first = i;
		for (; i < n; i++) {
			buf_reset(&clause);
			if (name_clause(&clause, names[i], i == first))
				goto nomem;
			if (i > first && url.len + clause.len + tail.len > OKTA_SEARCH_URL_MAX)
				break;
			if (buf_append(&url, clause.data, clause.len))
				goto nomem;
		}
		if (buf_append(&url, tail.data, tail.len))
			goto nomem;
		cur = buf_take(&url);
		if (!cur)
			goto nomem;
		if (follow_pages(c, cur, EP_GROUPS, "the group search", 0, collect_groups, &acc, e))
			goto out;
	}
	*out = acc.v;
	*nout = acc.nv;
	acc.v = NULL;
	acc.nv = 0;
	rc = 0;
	goto out;
nomem:
	err_set(e, -1, "okta: out of memory");
out:
	buf_reset(&url);
	buf_reset(&head);
	buf_reset(&tail);
	buf_reset(&clause);
	okta_groups_free(acc.v, acc.nv);
	return rc;
}

/* ---- members ---- */

/* Add the users of one member page to group gi's list. */
static int add_members(const struct okta_client *c, json_t *arr, const char *gid, struct okta_user **list,
		       size_t *nlist, size_t *cap, struct err *e)
{
	if (!json_is_array(arr))
		return err_set(e, -1, "okta: the members of Okta group %.100s: the answer is not a JSON array", gid);
	size_t add = json_array_size(arr);
	if (*nlist > SIZE_MAX - add || grow((void **)list, cap, *nlist + add, sizeof **list))
		return err_set(e, -1, "okta: out of memory");
	for (size_t k = 0; k < add; k++) {
		int prc = parse_user(c, json_array_get(arr, k), &(*list)[*nlist]);
		if (prc == -2)
			return err_set(e, -1, "okta: out of memory");
		if (prc)
			return err_set(e, -1, "okta: the members of Okta group %.100s: a user without id or status",
				       gid);
		(*nlist)++;
	}
	return 0;
}

int okta_groups_members(struct okta_client *c, const char *const *ids, size_t n, struct okta_user **out, size_t *nout,
			struct err *e)
{
	char **next = NULL;
	size_t *cap = NULL, *map = NULL;
	const char **urls = NULL;
	struct httpc_resp *resps = NULL;
	size_t nresps = 0;
	json_t *arr = NULL;
	int rc = -1;
	char what[160];
	for (size_t i = 0; i < n; i++) {
		out[i] = NULL;
		nout[i] = 0;
	}
	if (!n)
		return 0;
	size_t slice = c->wave_slice < n ? c->wave_slice : n;
	next = calloc(n, sizeof *next);
	cap = calloc(n, sizeof *cap);
	map = calloc(n, sizeof *map);
	urls = calloc(slice, sizeof *urls);
	resps = calloc(slice, sizeof *resps);
	if (!next || !cap || !map || !urls || !resps)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (!ids[i] || !*ids[i]) {
			err_set(e, -1, "okta: an empty group id was asked for");
			goto out;
		}
		struct buf u;
		buf_init(&u, 0);
		int brc = buf_printf(&u, "%s/api/v1/groups/", c->base);
		brc |= okta_url_escape(&u, ids[i]);
		brc |= buf_printf(&u, "/users?limit=%d", OKTA_MEMBER_PAGE);
		next[i] = brc ? NULL : buf_take(&u);
		buf_reset(&u);
		if (!next[i])
			goto nomem;
	}

	/* Wave k reads page k of every group that still has pages; the
	 * groups' requests run concurrently (httpc caps the number in flight
	 * and keeps to the rate budget). */
	for (long wave = 0;; wave++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (next[i])
				map[m++] = i;
		if (!m)
			break;
		if (wave >= OKTA_MAX_PAGES) {
			err_set(e, -1, "okta: group members: more than %d pages", OKTA_MAX_PAGES);
			goto out;
		}
		for (size_t s0 = 0; s0 < m; s0 += slice) {
			size_t sn = m - s0 < slice ? m - s0 : slice;
			for (size_t k = 0; k < sn; k++)
				urls[k] = next[map[s0 + k]];
			size_t failed;
			nresps = sn;
			if (get_many(c, urls, EP_MEMBERS, resps, sn, &failed, e)) {
				if (failed < sn) {
					/* Name the group, keep httpc's reason (no URL cursor in it). */
					snprintf(what, sizeof what, "the members of Okta group %.100s",
						 ids[map[s0 + failed]]);
					wrap_error(e, what);
				}
				goto out;
			}
			for (size_t k = 0; k < sn; k++) {
				size_t gi = map[s0 + k];
				snprintf(what, sizeof what, "the members of Okta group %.100s", ids[gi]);
				if (body_json(&resps[k], what, &arr, e) ||
				    add_members(c, arr, ids[gi], &out[gi], &nout[gi], &cap[gi], e))
					goto out;
				json_decref(arr);
				arr = NULL;
				char *nx;
				if (next_link(c, &resps[k], next[gi], what, &nx, e))
					goto out;
				free(next[gi]);
				next[gi] = nx;
				httpc_resp_free(&resps[k]);
			}
			nresps = 0;
		}
	}
	rc = 0;
	goto out;
nomem:
	err_set(e, -1, "okta: out of memory");
out:
	json_decref(arr);
	for (size_t k = 0; k < nresps; k++)
		httpc_resp_free(&resps[k]);
	for (size_t i = 0; next && i < n; i++)
		free(next[i]);
	if (rc) /* nothing is returned on error */
		for (size_t i = 0; i < n; i++) {
			okta_users_free(out[i], nout[i]);
			out[i] = NULL;
			nout[i] = 0;
		}
	free(next);
	free(cap);
	free(map);
	free(urls);
	free(resps);
	return rc;
}

/* ---- one user ---- */

int okta_get_user(struct okta_client *c, const char *id, struct okta_user *out, struct err *e)
{
	struct buf u;
	struct httpc_resp r;
	json_t *j = NULL;
	int rc = -1, have_resp = 0;
	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	buf_init(&u, 0);
	if (!id || !*id)
		return err_set(e, -1, "okta: an empty user id was asked for");
	/* An id, a login or a login shortname; logins with '/' only work by
	 * id (§2.3), and escaping keeps any of them one path segment. */
	if (buf_printf(&u, "%s/api/v1/users/", c->base) || okta_url_escape(&u, id)) {
		err_set(e, -1, "okta: out of memory");
		goto out;
	}
	const char *urls[1] = {buf_str(&u)};
	size_t failed;
	have_resp = 1;
	if (get_many(c, urls, EP_USER, &r, 1, &failed, e)) {
		if (failed < 1)
			wrap_error(e, "the user lookup");
		goto out;
	}
	if (r.status == 404) {
		rc = 1;
		goto out;
	}
	if (body_json(&r, "the user lookup", &j, e))
		goto out;
	int prc = parse_user(c, j, out);
	if (prc) {
		err_set(e, -1,
			prc == -2 ? "okta: out of memory" : "okta: the user lookup: a user without id or status");
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	if (have_resp)
		httpc_resp_free(&r);
	buf_reset(&u);
	return rc;
}

/* ---- one user's groups ---- */

int okta_user_groups(struct okta_client *c, const char *id, struct okta_group **out, size_t *nout, struct err *e)
{
	struct group_acc acc = {0};
	struct buf u;
	*out = NULL;
	*nout = 0;
	if (!id || !*id)
		return err_set(e, -1, "okta: an empty user id was asked for");
	buf_init(&u, 0);
	if (buf_printf(&u, "%s/api/v1/users/", c->base) || okta_url_escape(&u, id) || buf_puts(&u, "/groups")) {
		buf_reset(&u);
		return err_set(e, -1, "okta: out of memory");
	}
	char *url = buf_take(&u);
	if (!url)
		return err_set(e, -1, "okta: out of memory");
	int rc = follow_pages(c, url, EP_USER_GROUPS, "a user's groups", 1, collect_groups, &acc, e);
	if (rc == 0) {
		*out = acc.v;
		*nout = acc.nv;
		acc.v = NULL;
		acc.nv = 0;
	}
	okta_groups_free(acc.v, acc.nv);
	return rc;
}

/* ---- the System Log ---- */

int okta_logs_page(struct okta_client *c, const char *url, const char *since, const char *const *types,
		   size_t ntypes, json_t **events, char **next, struct err *e)
{
	struct buf u, f;
	struct httpc_resp r;
	int rc = -1, have_resp = 0;
	*events = NULL;
	*next = NULL;
	memset(&r, 0, sizeof r);
	buf_init(&u, 0);
	buf_init(&f, 0);
	if (url && *url) {
		if (!same_origin(c->base, url))
			return err_set(e, -1, "okta: the System Log cursor points outside okta.base_url");
		if (buf_puts(&u, url))
			goto nomem;
	} else {
		if (buf_printf(&u, "%s/api/v1/logs?limit=%d&sortOrder=ASCENDING&since=", c->base, OKTA_LOG_PAGE) ||
		    okta_url_escape(&u, since ? since : ""))
			goto nomem;
		for (size_t i = 0; i < ntypes; i++)
			if (buf_printf(&f, "%seventType eq \"%s\"", i ? " or " : "", types[i]))
				goto nomem;
		if (ntypes && (buf_puts(&u, "&filter=") || okta_url_escape(&u, buf_str(&f))))
			goto nomem;
	}
	size_t failed;
	const char *urls[1] = {buf_str(&u)};
	have_resp = 1;
	if (get_many(c, urls, EP_LOGS, &r, 1, &failed, e)) {
		if (failed < 1)
			wrap_error(e, "the System Log");
		goto out;
	}
	if (body_json(&r, "the System Log", events, e))
		goto out;
	if (!json_is_array(*events)) {
		json_decref(*events);
		*events = NULL;
		err_set(e, -1, "okta: the System Log: the answer is not a JSON array");
		goto out;
	}
	/* Polling: with since and no until Okta always gives a next link; the
	 * same URL back means "nothing newer yet", which is not an error here. */
	struct err le = {0};
	if (httpc_resp_link_next(&r, next, NULL, &le)) {
		json_decref(*events);
		*events = NULL;
		err_set(e, -1, "okta: the System Log: bad Link header: %s", le.msg);
		goto out;
	}
	if (*next && !same_origin(c->base, *next)) {
		free(*next);
		*next = NULL;
		json_decref(*events);
		*events = NULL;
		err_set(e, -1, "okta: the System Log: the next-page link points outside okta.base_url");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	err_set(e, -1, "okta: out of memory");
out:
	if (have_resp)
		httpc_resp_free(&r);
	buf_reset(&u);
	buf_reset(&f);
	return rc;
}

/* ---- freeing ---- */

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
