/*
 * sentry_client.c: the Sentry web API client of the reconcile engine (see
 * sentry_client.h for the contract).
 *
 * Every request goes through httpc (retries, 429 backoff, concurrency and
 * rate budgets live there); this file only builds URLs and bodies, follows
 * Sentry's cursor pagination and turns answers into structs.
 *
 * Upstream behaviour relied on (../shared/reference/sentry-api.md):
 *   - Lists paginate with `Link: <...>; rel="next"; results="true"; cursor="..."`;
 *     rel="next" is present on the last page too, with results="false" (§4).
 *   - The link URLs are built from system.url-prefix, which is often wrong on
 *     self-hosted installs (§4): we never follow them, we reuse only the
 *     cursor value on our own base URL.
 *   - per_page above 100 is a 400, not a clamp (§4).
 *   - A member PUT with teamRoles/teams replaces every team membership (§2.3):
 *     set_role sends orgRole only.
 *   - Team membership POST: 201 added, 202 only an access request, 204
 *     already a member (§3.2).
 *   - Refusals come as {"detail": "..."}, as DRF field errors
 *     ({"role": ["..."]} or {"role": "..."}), as {"non_field_errors": [...]},
 *     or as a bare JSON string (the rate-limit middleware, §5.1).
 */
#include "sentry_client.h"

#include "buf.h"
#include "httpc.h"
#include "secret.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "sentry"

/* Sentry's largest page (sentry-api.md §4). */
#define SENTRY_PER_PAGE "100"
/* Longest URL we build (base URL + path + cursor). */
#define SENTRY_URL_MAX 8192
/* Longest refusal message kept from Sentry, in bytes. */
#define SENTRY_MSG_MAX 500
/* Pages of one listing before we call it a loop (1M members at 100 a page). */
#define SENTRY_MAX_PAGES 10000
/* Team-member pages requested in one httpc_call_many wave: httpc bounds
 * what is in flight; this bounds how many response bodies we hold at once. */
#define SENTRY_WAVE_MAX 32

struct sentry_client {
	struct httpc *http;
	struct logger *lg;
	char *base;		 /* base_url without trailing '/' */
	char *org;		 /* URL-encoded organisation slug */
	char *auth;		 /* "Authorization: Bearer ..." (secret, wiped on free) */
	const char *hdr_get[3];	 /* auth, Accept, NULL */
	const char *hdr_json[4]; /* auth, Accept, Content-Type, NULL */
	atomic_int warned_link;	 /* foreign-host Link reported once */
};

/* ---- small helpers ------------------------------------------------------ */

/* Percent-encode everything but RFC 3986 unreserved characters, so a value
 * is safe as one path segment or one query value. Caller frees; NULL on
 * allocation failure. */
static char *url_enc(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	char *o = malloc(3 * n + 1), *p = o;
	if (!o)
		return NULL;
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		unsigned char ch = *q;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '.' || ch == '_' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return o;
}

/* A copy of an id that Sentry sends as a string (or, defensively, an
 * integer). 0, 1 when absent or of another type, -1 on allocation failure. */
static int dup_id(const json_t *v, char **out)
{
	*out = NULL;
	if (json_is_string(v) && json_string_length(v) > 0) {
		*out = strdup(json_string_value(v));
	} else if (json_is_integer(v)) {
		if (asprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			*out = NULL;
	} else {
		return 1;
	}
	return *out ? 0 : -1;
}

/* A copy of an optional string field: NULL when absent or not a string.
 * -1 on allocation failure. */
static int dup_opt(const json_t *obj, const char *key, char **out)
{
	const char *s = json_string_value(json_object_get(obj, key));
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -1;
}

/* flags["idp:provisioned"] of a member or team object. */
static bool idp_flag(const json_t *obj)
{
	return json_is_true(json_object_get(json_object_get(obj, "flags"), "idp:provisioned"));
}

/* Grow *v (of *cap elements of size sz) to hold at least need elements. */
static int grow(void **v, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need) {
		if (nc > SIZE_MAX / 2 / sz)
			return -1;
		nc *= 2;
	}
	void *p = realloc(*v, nc * sz);
	if (!p)
		return -1;
	*v = p;
	*cap = nc;
	return 0;
}

/* Append text to b with control characters turned into spaces, stopping
 * before SENTRY_MSG_MAX bytes without cutting a UTF-8 sequence. */
static int msg_append(struct buf *b, const char *s)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (p[n])
		n++;
	size_t room = b->len < SENTRY_MSG_MAX ? SENTRY_MSG_MAX - b->len : 0;
	if (n > room) {
		n = room;
		while (n > 0 && (p[n] & 0xC0) == 0x80) /* continuation byte: back to the lead byte */
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = (p[i] < 0x20 || p[i] == 0x7f) ? ' ' : (char)p[i];
		if (buf_append(b, &ch, 1))
			return -1;
	}
	return 0;
}

/* "prefix: text" (or "text"), bounded. Caller frees; NULL on allocation failure. */
static char *bounded_msg(const char *prefix, const char *text)
{
	struct buf b;
	buf_init(&b, SENTRY_MSG_MAX + 1);
	char *out = NULL;
	if ((prefix && (msg_append(&b, prefix) || msg_append(&b, ": "))) || msg_append(&b, text))
		goto out;
	out = buf_take(&b);
out:
	buf_reset(&b);
	return out;
}

/* The first string of a DRF error value: the value itself or the first
 * element of an array. */
static const char *first_string(const json_t *v)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_array(v) && json_array_size(v) > 0)
		return json_string_value(json_array_get(v, 0));
	return NULL;
}

/*
 * Sentry's reason for a non-2xx answer: "detail" (a string, or an object
 * with "message" in newer releases), else the first field error prefixed
 * with its field name ({"role": ["..."]} -> "role: ..."), else
 * non_field_errors[0], else a JSON string body, else "HTTP <status>".
 * Bounded to SENTRY_MSG_MAX bytes. Caller frees; NULL on allocation failure.
 */
static char *refusal_message(long status, const struct buf *body)
{
	char *out = NULL;
	json_t *j = body->len ? json_loadb(body->data, body->len, JSON_DECODE_ANY, NULL) : NULL;
	if (json_is_object(j)) {
		const json_t *d = json_object_get(j, "detail");
		const char *s =
		    json_is_object(d) ? json_string_value(json_object_get(d, "message")) : json_string_value(d);
		if (s) {
			out = bounded_msg(NULL, s);
			goto out;
		}
		for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
			const char *key = json_object_iter_key(it);
			const json_t *v = json_object_iter_value(it);
			if (!strcmp(key, "detail") || !strcmp(key, "non_field_errors"))
				continue;
			if ((s = first_string(v))) {
				out = bounded_msg(key, s);
				goto out;
			}
		}
		if ((s = first_string(json_object_get(j, "non_field_errors")))) {
			out = bounded_msg(NULL, s);
			goto out;
		}
	} else if (json_is_string(j)) {
		out = bounded_msg(NULL, json_string_value(j));
		goto out;
	}
	if (asprintf(&out, "HTTP %ld", status) < 0)
		out = NULL;
out:
	json_decref(j);
	return out;
}

/* Copy a transport error from httpc into e with some context. */
static int transport_err(struct err *e, const struct err *he, const char *what)
{
	err_set(e, he->code ? he->code : -1, "sentry: %s: %s", what, he->msg[0] ? he->msg : "request failed");
	return -1;
}

/* ---- client ------------------------------------------------------------- */

struct sentry_client *sentry_client_new(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e)
{
	struct sentry_client *c = NULL;
	if (!cfg) {
		err_set(e, -1, "sentry: no configuration");
		return NULL;
	}
	const struct config_sentry *s = &cfg->sentry;
	if (!s->base_url || !*s->base_url) {
		err_set(e, -1, "sentry: sentry.base_url is not set (Sentry is not configured)");
		return NULL;
	}
	if (!s->organization || !*s->organization) {
		err_set(e, -1, "sentry: sentry.organization is not set");
		return NULL;
	}
	if (!s->token || !*s->token) {
		err_set(e, -1, "sentry: no API token (sentry.token_env or sentry.token_file)");
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)s->token; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) { /* would break the header line */
			err_set(e, -1, "sentry: the API token contains a control character");
			return NULL;
		}
	}
	c = calloc(1, sizeof *c);
	if (!c)
		goto nomem;
	c->lg = lg;
	atomic_init(&c->warned_link, 0);
	size_t bl = strlen(s->base_url);
	while (bl > 0 && s->base_url[bl - 1] == '/')
		bl--;
	if (!(c->base = strndup(s->base_url, bl)) || !(c->org = url_enc(s->organization)) ||
	    asprintf(&c->auth, "Authorization: Bearer %s", s->token) < 0) {
		c->auth = NULL;
		goto nomem;
	}
	c->hdr_get[0] = c->auth;
	c->hdr_get[1] = "Accept: application/json";
	c->hdr_json[0] = c->auth;
	c->hdr_json[1] = "Accept: application/json";
	c->hdr_json[2] = "Content-Type: application/json";

	const struct upstream_http *h = &s->http;
	struct httpc_opts o = {
	    .name = "sentry",
	    .rl = HTTPC_RL_SENTRY,
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
	c->http = httpc_new(&o, lg, m);
	if (!c->http) {
		err_set(e, -1, "sentry: cannot create the HTTP client (see the log)");
		sentry_client_free(c);
		return NULL;
	}
	return c;
nomem:
	err_set(e, -1, "sentry: out of memory");
	sentry_client_free(c);
	return NULL;
}

void sentry_client_free(struct sentry_client *c)
{
	if (!c)
		return;
	httpc_free(c->http);
	free(c->base);
	free(c->org);
	secret_free(c->auth);
	free(c);
}

/* ---- pagination --------------------------------------------------------- */

/* URL of a page: prefix (base + path + "?query") plus "&cursor=<enc>" when
 * cursor is set. Caller frees; NULL on allocation failure or overlong URL. */
static char *page_url(const char *prefix, const char *cursor)
{
	struct buf b;
	buf_init(&b, SENTRY_URL_MAX);
	char *enc = NULL, *out = NULL;
	if (buf_puts(&b, prefix))
		goto out;
	if (cursor) {
		if (!(enc = url_enc(cursor)) || buf_printf(&b, "&cursor=%s", enc))
			goto out;
	}
	out = buf_take(&b);
out:
	free(enc);
	buf_reset(&b);
	return out;
}

/* Warn once per client when Sentry's links point somewhere else than the
 * base URL: the url-prefix of that install is wrong (harmless for us, but
 * worth fixing for the UI and e-mails). */
static void check_link_host(struct sentry_client *c, const char *next_url)
{
	size_t bl = strlen(c->base);
	if (!strncmp(next_url, c->base, bl) && next_url[bl] == '/')
		return;
	if (atomic_exchange(&c->warned_link, 1))
		return;
	log_warn(c->lg, MOD, NULL,
		 "Sentry's pagination links point at another host than sentry.base_url "
		 "(check system.url-prefix); following the cursor on sentry.base_url",
		 "base_url", c->base, NULL);
}

/*
 * Check one list page: status 200, a JSON array, and the next cursor
 * (NULL on the last page). what names the list in messages. prev_cursor is
 * the cursor this page was requested with (a repeat means a loop).
 * 0 with *arr (caller decrefs) and *next (caller frees), or -1 with e.
 */
static int read_page(struct sentry_client *c, const struct httpc_resp *r, const char *what, const char *prev_cursor,
		     json_t **arr, char **next, struct err *e)
{
	char *url = NULL, *cur = NULL;
	json_t *j = NULL;
	int rc = -1;
	*arr = NULL;
	*next = NULL;
	if (r->status != 200) {
		char *m = refusal_message(r->status, &r->body);
		err_set(e, -1, "sentry: %s: HTTP %ld: %s", what, r->status, m ? m : "");
		free(m);
		goto out;
	}
	json_error_t je;
	j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
	if (!json_is_array(j)) {
		err_set(e, -1, "sentry: %s: the answer is not a JSON array%s%s", what, j ? "" : ": ", j ? "" : je.text);
		goto out;
	}
	struct err le;
	err_clear(&le);
	if (httpc_resp_link_next(r, &url, &cur, &le)) {
		/* never read a malformed Link as "last page": a truncated listing
		 * would look like removed members */
		err_set(e, -1, "sentry: %s: %s", what, le.msg);
		goto out;
	}
	if (url) {
		if (!cur || !*cur) {
			err_set(e, -1, "sentry: %s: a rel=\"next\" link without a cursor", what);
			goto out;
		}
		if (prev_cursor && !strcmp(prev_cursor, cur)) {
			err_set(e, -1, "sentry: %s: the next cursor repeats the current one (%s)", what, cur);
			goto out;
		}
		check_link_host(c, url);
		*next = cur;
		cur = NULL;
	}
	*arr = j;
	j = NULL;
	rc = 0;
out:
	json_decref(j);
	free(url);
	free(cur);
	return rc;
}

/* Called for each page of a single listing. 0 or -1 with e. */
typedef int (*page_fn)(json_t *arr, void *ctx, struct err *e);

/* GET every page of prefix (a URL with a query string), in order. */
static int get_all(struct sentry_client *c, const char *prefix, const char *endpoint, const char *what, page_fn fn,
		   void *ctx, struct err *e)
{
	char *cursor = NULL, *url = NULL;
	json_t *arr = NULL;
	struct httpc_resp r = {0};
	int rc = -1;
	for (size_t page = 0;; page++) {
		if (page >= SENTRY_MAX_PAGES) {
			err_set(e, -1, "sentry: %s: more than %d pages", what, SENTRY_MAX_PAGES);
			goto out;
		}
		free(url);
		if (!(url = page_url(prefix, cursor))) {
			err_set(e, -1, "sentry: %s: out of memory or URL too long", what);
			goto out;
		}
		struct httpc_req req = {
		    .method = "GET", .url = url, .headers = c->hdr_get, .endpoint = endpoint, .idempotent = -1};
		struct err he;
		err_clear(&he);
		httpc_resp_free(&r);
		if (httpc_call(c->http, &req, &r, &he)) {
			transport_err(e, &he, what);
			goto out;
		}
		char *next = NULL;
		if (read_page(c, &r, what, cursor, &arr, &next, e))
			goto out;
		free(cursor);
		cursor = next;
		if (fn(arr, ctx, e))
			goto out;
		json_decref(arr);
		arr = NULL;
		if (!cursor)
			break;
	}
	rc = 0;
out:
	httpc_resp_free(&r);
	json_decref(arr);
	free(cursor);
	free(url);
	return rc;
}

/* ---- members ------------------------------------------------------------ */

static void member_clear(struct sentry_member *m)
{
	free(m->id);
	free(m->email);
	free(m->role);
	/* the strings of teams belong to the caller who filled them */
	free(m->teams);
	memset(m, 0, sizeof *m);
}

void sentry_members_free(struct sentry_member *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		member_clear(&v[i]);
	free(v);
}

struct members_acc {
	struct sentry_member *v;
	size_t n, cap;
};

static int members_page(json_t *arr, void *ctx, struct err *e)
{
	struct members_acc *a = ctx;
	if (grow((void **)&a->v, &a->cap, a->n + json_array_size(arr), sizeof *a->v))
		return err_set(e, -1, "sentry: members: out of memory");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *o = json_array_get(arr, i);
		struct sentry_member *m = &a->v[a->n];
		memset(m, 0, sizeof *m);
		if (!json_is_object(o))
			return err_set(e, -1, "sentry: members: item %zu is not an object", i);
		int r = dup_id(json_object_get(o, "id"), &m->id);
		if (r > 0)
			return err_set(e, -1, "sentry: members: item %zu has no id", i);
		/* orgRole is the current field; role is its deprecated alias */
		const json_t *role = json_object_get(o, "orgRole");
		if (!json_is_string(role))
			role = json_object_get(o, "role");
		if (r < 0 || dup_opt(o, "email", &m->email) ||
		    (json_is_string(role) && !(m->role = strdup(json_string_value(role))))) {
			member_clear(m);
			return err_set(e, -1, "sentry: members: out of memory");
		}
		const json_t *pending = json_object_get(o, "pending");
		m->pending =
		    json_is_boolean(pending) ? json_is_true(pending) : json_is_null(json_object_get(o, "user"));
		m->expired = json_is_true(json_object_get(o, "expired"));
		m->idp_provisioned = idp_flag(o);
		a->n++;
	}
	return 0;
}

int sentry_list_members(struct sentry_client *c, struct sentry_member **out, size_t *n, struct err *e)
{
	struct members_acc a = {0};
	char *prefix = NULL;
	int rc = -1;
	if (!c || !out || !n)
		return err_set(e, -1, "sentry: list members: NULL argument");
	*out = NULL;
	*n = 0;
	if (asprintf(&prefix, "%s/api/0/organizations/%s/members/?per_page=" SENTRY_PER_PAGE, c->base, c->org) < 0) {
		prefix = NULL;
		err_set(e, -1, "sentry: out of memory");
		goto out;
	}
	if (get_all(c, prefix, "GET /api/0/organizations/{org}/members/", "members", members_page, &a, e))
		goto out;
	*out = a.v;
	*n = a.n;
	a.v = NULL;
	a.n = 0;
	rc = 0;
out:
	sentry_members_free(a.v, a.n);
	free(prefix);
	return rc;
}

/* ---- teams -------------------------------------------------------------- */

static void team_clear(struct sentry_team *t)
{
	free(t->id);
	free(t->slug);
	free(t->name);
	memset(t, 0, sizeof *t);
}

void sentry_teams_free(struct sentry_team *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		team_clear(&v[i]);
	free(v);
}

struct teams_acc {
	struct sentry_team *v;
	size_t n, cap;
};

static int teams_page(json_t *arr, void *ctx, struct err *e)
{
	struct teams_acc *a = ctx;
	if (grow((void **)&a->v, &a->cap, a->n + json_array_size(arr), sizeof *a->v))
		return err_set(e, -1, "sentry: teams: out of memory");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *o = json_array_get(arr, i);
		struct sentry_team *t = &a->v[a->n];
		memset(t, 0, sizeof *t);
		if (!json_is_object(o))
			return err_set(e, -1, "sentry: teams: item %zu is not an object", i);
		int r = dup_id(json_object_get(o, "id"), &t->id);
		int rs = r ? 0 : dup_id(json_object_get(o, "slug"), &t->slug);
		if (r > 0 || rs > 0) {
			team_clear(t);
			return err_set(e, -1, "sentry: teams: item %zu has no %s", i, r ? "id" : "slug");
		}
		if (r < 0 || rs < 0 || dup_opt(o, "name", &t->name)) {
			team_clear(t);
			return err_set(e, -1, "sentry: teams: out of memory");
		}
		t->idp_provisioned = idp_flag(o);
		a->n++;
	}
	return 0;
}

int sentry_list_teams(struct sentry_client *c, struct sentry_team **out, size_t *n, struct err *e)
{
	struct teams_acc a = {0};
	char *prefix = NULL;
	int rc = -1;
	if (!c || !out || !n)
		return err_set(e, -1, "sentry: list teams: NULL argument");
	*out = NULL;
	*n = 0;
	if (asprintf(&prefix, "%s/api/0/organizations/%s/teams/?detailed=0&per_page=" SENTRY_PER_PAGE, c->base,
		     c->org) < 0) {
		prefix = NULL;
		err_set(e, -1, "sentry: out of memory");
		goto out;
	}
	if (get_all(c, prefix, "GET /api/0/organizations/{org}/teams/", "teams", teams_page, &a, e))
		goto out;
	*out = a.v;
	*n = a.n;
	a.v = NULL;
	a.n = 0;
	rc = 0;
out:
	sentry_teams_free(a.v, a.n);
	free(prefix);
	return rc;
}

/* ---- projects ----------------------------------------------------------- */

static void project_clear(struct sentry_project *p)
{
	free(p->id);
	free(p->slug);
	free(p->name);
	free(p->platform);
	for (size_t i = 0; i < p->nteams; i++)
		free(p->teams[i]);
	free(p->teams);
	memset(p, 0, sizeof *p);
}

void sentry_projects_free(struct sentry_project *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		project_clear(&v[i]);
	free(v);
}

struct projects_acc {
	struct sentry_project *v;
	size_t n, cap;
};

/* The team slugs of a project: "teams" [{slug}], else the single "team"
 * (older releases), else none. 0 or -1 on allocation failure. */
static int project_teams(const json_t *o, struct sentry_project *p)
{
	const json_t *ts = json_object_get(o, "teams");
	if (!json_is_array(ts) || !json_array_size(ts)) {
		const json_t *t = json_object_get(o, "team");
		ts = NULL;
		if (json_is_object(t) && json_is_string(json_object_get(t, "slug"))) {
			if (!(p->teams = calloc(1, sizeof *p->teams)) ||
			    !(p->teams[0] = strdup(json_string_value(json_object_get(t, "slug")))))
				return -1;
			p->nteams = 1;
		}
		return 0;
	}
	if (!(p->teams = calloc(json_array_size(ts), sizeof *p->teams)))
		return -1;
	for (size_t i = 0; i < json_array_size(ts); i++) {
		const char *slug = json_string_value(json_object_get(json_array_get(ts, i), "slug"));
		if (!slug)
			continue;
		if (!(p->teams[p->nteams] = strdup(slug)))
			return -1;
		p->nteams++;
	}
	return 0;
}

static int projects_page(json_t *arr, void *ctx, struct err *e)
{
	struct projects_acc *a = ctx;
	if (grow((void **)&a->v, &a->cap, a->n + json_array_size(arr), sizeof *a->v))
		return err_set(e, -1, "sentry: projects: out of memory");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *o = json_array_get(arr, i);
		struct sentry_project *p = &a->v[a->n];
		memset(p, 0, sizeof *p);
		if (!json_is_object(o))
			return err_set(e, -1, "sentry: projects: item %zu is not an object", i);
		int r = dup_id(json_object_get(o, "id"), &p->id);
		int rs = r ? 0 : dup_id(json_object_get(o, "slug"), &p->slug);
		if (r > 0 || rs > 0) {
			project_clear(p);
			return err_set(e, -1, "sentry: projects: item %zu has no %s", i, r ? "id" : "slug");
		}
		if (r < 0 || rs < 0 || dup_opt(o, "name", &p->name) || dup_opt(o, "platform", &p->platform) ||
		    project_teams(o, p)) {
			project_clear(p);
			return err_set(e, -1, "sentry: projects: out of memory");
		}
		a->n++;
	}
	return 0;
}

int sentry_list_projects(struct sentry_client *c, struct sentry_project **out, size_t *n, struct err *e)
{
	struct projects_acc a = {0};
	char *prefix = NULL;
	int rc = -1;
	if (!c || !out || !n)
		return err_set(e, -1, "sentry: list projects: NULL argument");
	*out = NULL;
	*n = 0;
	/* paginated (all_projects=1 would return everything in one answer,
	 * unbounded: sentry-api.md 3.3) */
	if (asprintf(&prefix, "%s/api/0/organizations/%s/projects/?per_page=" SENTRY_PER_PAGE, c->base, c->org) < 0) {
		prefix = NULL;
		err_set(e, -1, "sentry: out of memory");
		goto out;
	}
	if (get_all(c, prefix, "GET /api/0/organizations/{org}/projects/", "projects", projects_page, &a, e))
		goto out;
	*out = a.v;
	*n = a.n;
	a.v = NULL;
	a.n = 0;
	rc = 0;
out:
	sentry_projects_free(a.v, a.n);
	free(prefix);
	return rc;
}

/* ---- team members ------------------------------------------------------- */

void sentry_ids_free(char **ids, size_t n)
{
	if (!ids)
		return;
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* Reading state of one team. */
struct team_read {
	char *prefix; /* first-page URL */
	char *cursor; /* next page; NULL before the first and after the last */
	size_t pages;
	bool done;
	char **ids;
	size_t n, cap;
};

static int team_ids_page(struct team_read *t, const char *slug, json_t *arr, struct err *e)
{
	if (grow((void **)&t->ids, &t->cap, t->n + json_array_size(arr), sizeof *t->ids))
		return err_set(e, -1, "sentry: team \"%s\" members: out of memory", slug);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *o = json_array_get(arr, i);
		int r = dup_id(json_object_get(o, "id"), &t->ids[t->n]);
		if (r > 0)
			return err_set(e, -1, "sentry: team \"%s\" members: item %zu has no id", slug, i);
		if (r < 0)
			return err_set(e, -1, "sentry: team \"%s\" members: out of memory", slug);
		t->n++;
	}
	return 0;
}

int sentry_teams_members(struct sentry_client *c, const char *const *slugs, size_t n, char ***ids, size_t *nids,
			 struct err *e)
{
	static const char endpoint[] = "GET /api/0/teams/{org}/{team}/members/";
	struct team_read *ts = NULL;
	struct httpc_req *reqs = NULL;
	struct httpc_resp *resps = NULL;
	char **urls = NULL;
	size_t *which = NULL, nw = 0;
	json_t *arr = NULL;
	int rc = -1;
	if (!c || (n && (!slugs || !ids || !nids)))
		return err_set(e, -1, "sentry: team members: NULL argument");
	for (size_t i = 0; i < n; i++) {
		ids[i] = NULL;
		nids[i] = 0;
	}
	if (!n)
		return 0;
	ts = calloc(n, sizeof *ts);
	reqs = calloc(SENTRY_WAVE_MAX, sizeof *reqs);
	resps = calloc(SENTRY_WAVE_MAX, sizeof *resps);
	urls = calloc(SENTRY_WAVE_MAX, sizeof *urls);
	which = calloc(SENTRY_WAVE_MAX, sizeof *which);
	if (!ts || !reqs || !resps || !urls || !which) {
		err_set(e, -1, "sentry: team members: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!slugs[i] || !*slugs[i]) {
			err_set(e, -1, "sentry: team members: empty team slug");
			goto out;
		}
		char *enc = url_enc(slugs[i]);
		if (!enc || asprintf(&ts[i].prefix, "%s/api/0/teams/%s/%s/members/?per_page=" SENTRY_PER_PAGE, c->base,
				     c->org, enc) < 0) {
			ts[i].prefix = NULL;
			free(enc);
			err_set(e, -1, "sentry: team members: out of memory");
			goto out;
		}
		free(enc);
	}

	/* Waves: the next page of every unfinished team (up to SENTRY_WAVE_MAX
	 * of them) in one httpc_call_many, until every team is done. */
	size_t start = 0; /* round-robin start, so every team makes progress */
	for (;;) {
		nw = 0;
		for (size_t k = 0; k < n && nw < SENTRY_WAVE_MAX; k++) {
			size_t i = (start + k) % n;
			if (ts[i].done)
				continue;
			if (ts[i].pages >= SENTRY_MAX_PAGES) {
				err_set(e, -1, "sentry: team \"%s\" members: more than %d pages", slugs[i],
					SENTRY_MAX_PAGES);
				goto out;
			}
			if (!(urls[nw] = page_url(ts[i].prefix, ts[i].cursor))) {
				err_set(e, -1, "sentry: team \"%s\" members: out of memory or URL too long", slugs[i]);
				goto out;
			}
			reqs[nw] = (struct httpc_req){.method = "GET",
						      .url = urls[nw],
						      .headers = c->hdr_get,
						      .endpoint = endpoint,
						      .idempotent = -1};
			which[nw++] = i;
		}
		if (!nw)
			break;
		start = (which[nw - 1] + 1) % n;
		struct err he;
		err_clear(&he);
		if (httpc_call_many(c->http, reqs, resps, nw, &he)) {
			for (size_t k = 0; k < nw; k++) {
				if (resps[k].rc) {
					char what[64 + 2 * 50]; /* our own text around a bounded slug */
					snprintf(what, sizeof what, "team \"%.100s\" members", slugs[which[k]]);
					transport_err(e, &he, what);
					break;
				}
			}
			goto out;
		}
		for (size_t k = 0; k < nw; k++) {
			size_t i = which[k];
			struct team_read *t = &ts[i];
			if (resps[k].status == 404) {
				err_set(e, -1, "sentry: team \"%s\" not found (HTTP 404 on its member list)", slugs[i]);
				goto out;
			}
			char what[64 + 2 * 50];
			snprintf(what, sizeof what, "team \"%.100s\" members", slugs[i]);
			char *next = NULL;
			if (read_page(c, &resps[k], what, t->cursor, &arr, &next, e))
				goto out;
			free(t->cursor);
			t->cursor = next;
			t->pages++;
			if (team_ids_page(t, slugs[i], arr, e))
				goto out;
			json_decref(arr);
			arr = NULL;
			if (!t->cursor)
				t->done = true;
		}
		for (size_t k = 0; k < nw; k++) {
			httpc_resp_free(&resps[k]);
			free(urls[k]);
			urls[k] = NULL;
		}
		nw = 0;
	}
	for (size_t i = 0; i < n; i++) {
		ids[i] = ts[i].ids;
		nids[i] = ts[i].n;
		ts[i].ids = NULL;
		ts[i].n = 0;
	}
	rc = 0;
out:
	json_decref(arr);
	for (size_t k = 0; k < nw; k++) {
		httpc_resp_free(&resps[k]);
		free(urls[k]);
	}
	if (ts) {
		for (size_t i = 0; i < n; i++) {
			free(ts[i].prefix);
			free(ts[i].cursor);
			sentry_ids_free(ts[i].ids, ts[i].n);
		}
	}
	free(ts);
	free(reqs);
	free(resps);
	free(urls);
	free(which);
	return rc;
}

/* ---- writes ------------------------------------------------------------- */

void sentry_result_clear(struct sentry_result *r)
{
	if (!r)
		return;
	free(r->message);
	free(r->member_id);
	free(r->id);
	free(r->slug);
	memset(r, 0, sizeof *r);
}

/* URL of a member (and optionally of one of its team memberships). Caller
 * frees; NULL on allocation failure or overlong URL. */
static char *member_url(const struct sentry_client *c, const char *member_id, const char *team)
{
	struct buf b;
	buf_init(&b, SENTRY_URL_MAX);
	char *mid = url_enc(member_id), *tm = team ? url_enc(team) : NULL, *out = NULL;
	if (!mid || (team && !tm))
		goto out;
	if (buf_printf(&b, "%s/api/0/organizations/%s/members/%s/", c->base, c->org, mid) ||
	    (team && buf_printf(&b, "teams/%s/", tm)))
		goto out;
	out = buf_take(&b);
out:
	free(mid);
	free(tm);
	buf_reset(&b);
	return out;
}

/*
 * One write. 0 when Sentry answered (res->status set; res->message for
 * non-2xx), -1 with e on transport failure. When keep is not NULL the
 * response is handed over (caller frees with httpc_resp_free).
 */
static int write_call(struct sentry_client *c, const char *method, const char *url, const char *body,
		      const char *endpoint, int idempotent, struct sentry_result *res, struct httpc_resp *keep,
		      struct err *e)
{
	struct httpc_resp r = {0};
	int rc = -1;
	struct httpc_req req = {
	    .method = method,
	    .url = url,
	    .headers = body ? c->hdr_json : c->hdr_get,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .endpoint = endpoint,
	    .idempotent = idempotent,
	};
	struct err he;
	err_clear(&he);
	if (httpc_call(c->http, &req, &r, &he)) {
		transport_err(e, &he, endpoint);
		goto out;
	}
	res->status = r.status;
	if (r.status < 200 || r.status > 299) {
		if (!(res->message = refusal_message(r.status, &r.body))) {
			err_set(e, -1, "sentry: %s: out of memory", endpoint);
			goto out;
		}
	}
	if (keep) {
		*keep = r;
		memset(&r, 0, sizeof r);
	}
	rc = 0;
out:
	httpc_resp_free(&r);
	return rc;
}

/* Common start of a write: reset res, check the client and the nargs
 * (1 or 2) string arguments, which must be non-empty. */
static int write_begin(struct sentry_client *c, struct sentry_result *res, const char *what, int nargs, const char *a,
		       const char *b, struct err *e)
{
	if (res)
		memset(res, 0, sizeof *res);
	if (!c || !res || !a || !*a || (nargs > 1 && (!b || !*b)))
		return err_set(e, -1, "sentry: %s: missing argument", what);
	return 0;
}

int sentry_set_role(struct sentry_client *c, const char *member_id, const char *role, struct sentry_result *res,
		    struct err *e)
{
	static const char endpoint[] = "PUT /api/0/organizations/{org}/members/{id}/";
	char *url = NULL, *body = NULL;
	json_t *j = NULL;
	int rc = -1;
	if (write_begin(c, res, "set role", 2, member_id, role, e))
		return -1;
	/* orgRole only: teamRoles/teams would replace every team membership
	 * (sentry-api.md §2.3) */
	if (!(j = json_pack("{s:s}", "orgRole", role))) {
		err_set(e, -1, "sentry: set role: the role is not valid UTF-8 or memory ran out");
		goto out;
	}
	if (!(url = member_url(c, member_id, NULL)) || !(body = json_dumps(j, JSON_COMPACT))) {
		err_set(e, -1, "sentry: set role: out of memory");
		goto out;
	}
	rc = write_call(c, "PUT", url, body, endpoint, -1, res, NULL, e);
out:
	json_decref(j);
	free(url);
	free(body);
	return rc;
}

/* POST or DELETE of one team membership. */
static int team_membership(struct sentry_client *c, const char *method, const char *endpoint, const char *member_id,
			   const char *team, struct sentry_result *res, struct err *e)
{
	char *url = NULL;
	int rc = -1;
	if (write_begin(c, res, endpoint, 2, member_id, team, e))
		return -1;
	if (!(url = member_url(c, member_id, team))) {
		err_set(e, -1, "sentry: %s: out of memory", endpoint);
		goto out;
	}
	/* POST is not idempotent for httpc (no retry after a 5xx); DELETE is */
	rc = write_call(c, method, url, NULL, endpoint, strcmp(method, "POST") ? -1 : 0, res, NULL, e);
out:
	free(url);
	return rc;
}

int sentry_add_to_team(struct sentry_client *c, const char *member_id, const char *team, struct sentry_result *res,
		       struct err *e)
{
	return team_membership(c, "POST", "POST /api/0/organizations/{org}/members/{id}/teams/{team}/", member_id, team,
			       res, e);
}

int sentry_remove_from_team(struct sentry_client *c, const char *member_id, const char *team, struct sentry_result *res,
			    struct err *e)
{
	return team_membership(c, "DELETE", "DELETE /api/0/organizations/{org}/members/{id}/teams/{team}/", member_id,
			       team, res, e);
}

int sentry_invite(struct sentry_client *c, const char *email, const char *role, const char *const *teams, size_t nteams,
		  struct sentry_result *res, struct err *e)
{
	static const char endpoint[] = "POST /api/0/organizations/{org}/members/";
	char *url = NULL, *body = NULL;
	json_t *j = NULL, *ta = NULL, *resp_j = NULL;
	struct httpc_resp r = {0};
	int rc = -1;
	if (write_begin(c, res, "invite", 2, email, role, e))
		return -1;
	if (nteams && !teams) {
		err_set(e, -1, "sentry: invite: teams is NULL");
		goto out;
	}
	if (!(ta = json_array())) {
		err_set(e, -1, "sentry: invite: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nteams; i++) {
		json_t *s = teams[i] ? json_string(teams[i]) : NULL;
		if (!s || json_array_append_new(ta, s)) {
			err_set(e, -1, "sentry: invite: team %zu is NULL, not valid UTF-8, or memory ran out", i);
			goto out;
		}
	}
	/* "s:O" takes its own reference to ta */
	if (!(j = json_pack("{s:s,s:s,s:O,s:b}", "email", email, "orgRole", role, "teams", ta, "sendInvite", 1))) {
		err_set(e, -1, "sentry: invite: the e-mail or role is not valid UTF-8, or memory ran out");
		goto out;
	}
	if (asprintf(&url, "%s/api/0/organizations/%s/members/", c->base, c->org) < 0) {
		url = NULL;
		err_set(e, -1, "sentry: invite: out of memory");
		goto out;
	}
	if (!(body = json_dumps(j, JSON_COMPACT))) {
		err_set(e, -1, "sentry: invite: out of memory");
		goto out;
	}
	if (write_call(c, "POST", url, body, endpoint, 0, res, &r, e))
		goto out;
	if (res->status == 201) {
		resp_j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
		int ir = dup_id(json_object_get(resp_j, "id"), &res->member_id);
		if (ir < 0) {
			err_set(e, -1, "sentry: invite: out of memory");
			sentry_result_clear(res);
			goto out;
		}
		if (ir > 0) /* created all the same: the next listing shows it */
			log_warn(c->lg, MOD, NULL, "Sentry accepted an invite but its answer has no member id", NULL);
	}
	rc = 0;
out:
	httpc_resp_free(&r);
	json_decref(resp_j);
	json_decref(j);
	json_decref(ta);
	free(url);
	free(body);
	return rc;
}

int sentry_remove_member(struct sentry_client *c, const char *member_id, struct sentry_result *res, struct err *e)
{
	static const char endpoint[] = "DELETE /api/0/organizations/{org}/members/{id}/";
	char *url = NULL;
	int rc = -1;
	if (write_begin(c, res, "remove member", 1, member_id, NULL, e))
		return -1;
	if (!(url = member_url(c, member_id, NULL))) {
		err_set(e, -1, "sentry: remove member: out of memory");
		goto out;
	}
	rc = write_call(c, "DELETE", url, NULL, endpoint, -1, res, NULL, e);
out:
	free(url);
	return rc;
}

/* ---- teams and projects: writes ------------------------------------------ */

/* After a 201: the new object's id and slug into res. 0 or -1 on memory. */
static int created_ids(struct sentry_client *c, const struct httpc_resp *r, struct sentry_result *res,
		       const char *what)
{
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	int ir = dup_id(json_object_get(j, "id"), &res->id);
	int sr = ir < 0 ? -1 : dup_id(json_object_get(j, "slug"), &res->slug);
	json_decref(j);
	if (ir < 0 || sr < 0)
		return -1;
	if (ir > 0 || sr > 0) /* created all the same: the next listing shows it */
		log_warn(c->lg, MOD, NULL, "Sentry created an object but its answer has no id or slug", "what", what,
			 NULL);
	return 0;
}

int sentry_create_team(struct sentry_client *c, const char *slug, const char *name, struct sentry_result *res,
		       struct err *e)
{
	static const char endpoint[] = "POST /api/0/organizations/{org}/teams/";
	char *url = NULL, *body = NULL;
	json_t *j = NULL;
	struct httpc_resp r = {0};
	int rc = -1;
	if (write_begin(c, res, "create team", 2, slug, name, e))
		return -1;
	if (!(j = json_pack("{s:s,s:s}", "slug", slug, "name", name))) {
		err_set(e, -1, "sentry: create team: the slug or name is not valid UTF-8, or memory ran out");
		goto out;
	}
	if (asprintf(&url, "%s/api/0/organizations/%s/teams/", c->base, c->org) < 0) {
		url = NULL;
		err_set(e, -1, "sentry: create team: out of memory");
		goto out;
	}
	if (!(body = json_dumps(j, JSON_COMPACT))) {
		err_set(e, -1, "sentry: create team: out of memory");
		goto out;
	}
	if (write_call(c, "POST", url, body, endpoint, 0, res, &r, e))
		goto out;
	if (res->status == 201 && created_ids(c, &r, res, "team")) {
		sentry_result_clear(res);
		err_set(e, -1, "sentry: create team: out of memory");
		goto out;
	}
	rc = 0;
out:
	httpc_resp_free(&r);
	json_decref(j);
	free(url);
	free(body);
	return rc;
}

int sentry_delete_team(struct sentry_client *c, const char *slug, struct sentry_result *res, struct err *e)
{
	static const char endpoint[] = "DELETE /api/0/teams/{org}/{team}/";
	char *url = NULL, *enc = NULL;
	int rc = -1;
	if (write_begin(c, res, "delete team", 1, slug, NULL, e))
		return -1;
	if (!(enc = url_enc(slug)) || asprintf(&url, "%s/api/0/teams/%s/%s/", c->base, c->org, enc) < 0) {
		url = NULL;
		err_set(e, -1, "sentry: delete team: out of memory");
		goto out;
	}
	rc = write_call(c, "DELETE", url, NULL, endpoint, -1, res, NULL, e);
out:
	free(enc);
	free(url);
	return rc;
}

int sentry_create_project(struct sentry_client *c, const char *team, const char *name, const char *slug,
			  const char *platform, struct sentry_result *res, struct err *e)
{
	static const char endpoint[] = "POST /api/0/teams/{org}/{team}/projects/";
	char *url = NULL, *body = NULL, *enc = NULL;
	json_t *j = NULL;
	struct httpc_resp r = {0};
	int rc = -1;
	if (write_begin(c, res, "create project", 2, team, name, e))
		return -1;
	if (!slug || !*slug) {
		err_set(e, -1, "sentry: create project: missing argument");
		goto out;
	}
	/* default_rules stays Sentry's default (true: alert on every new issue) */
	if (!(j = json_pack("{s:s,s:s}", "name", name, "slug", slug)) ||
	    (platform && *platform && json_object_set_new(j, "platform", json_string(platform)))) {
		err_set(e, -1, "sentry: create project: the name, slug or platform is not valid UTF-8, or memory ran out");
		goto out;
	}
	if (!(enc = url_enc(team)) || asprintf(&url, "%s/api/0/teams/%s/%s/projects/", c->base, c->org, enc) < 0) {
		url = NULL;
		err_set(e, -1, "sentry: create project: out of memory");
		goto out;
	}
	if (!(body = json_dumps(j, JSON_COMPACT))) {
		err_set(e, -1, "sentry: create project: out of memory");
		goto out;
	}
	if (write_call(c, "POST", url, body, endpoint, 0, res, &r, e))
		goto out;
	if (res->status == 201 && created_ids(c, &r, res, "project")) {
		sentry_result_clear(res);
		err_set(e, -1, "sentry: create project: out of memory");
		goto out;
	}
	rc = 0;
out:
	httpc_resp_free(&r);
	json_decref(j);
	free(enc);
	free(url);
	free(body);
	return rc;
}

/* ---- team admins (access requests, issue 9) ------------------------------ */

struct admins_acc {
	char **v;
	size_t n, cap;
};

static int admins_page(json_t *arr, void *ctx, struct err *e)
{
	struct admins_acc *a = ctx;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *o = json_array_get(arr, i);
		const char *role = json_string_value(json_object_get(o, "teamRole"));
		const char *email = json_string_value(json_object_get(o, "email"));
		if (!role || strcmp(role, "admin") || !email || !*email)
			continue;
		if (grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v) || !(a->v[a->n] = strdup(email)))
			return err_set(e, -1, "sentry: team admins: out of memory");
		a->n++;
	}
	return 0;
}

int sentry_team_admins(struct sentry_client *c, const char *team, char ***emails, size_t *n, struct err *e)
{
	struct admins_acc a = {0};
	char *prefix = NULL, *enc = NULL;
	int rc = -1;
	if (!c || !team || !*team || !emails || !n)
		return err_set(e, -1, "sentry: team admins: NULL argument");
	*emails = NULL;
	*n = 0;
	if (!(enc = url_enc(team)) ||
	    asprintf(&prefix, "%s/api/0/teams/%s/%s/members/?per_page=" SENTRY_PER_PAGE, c->base, c->org, enc) < 0) {
		prefix = NULL;
		err_set(e, -1, "sentry: out of memory");
		goto out;
	}
	if (get_all(c, prefix, "GET /api/0/teams/{org}/{team}/members/", "team members", admins_page, &a, e))
		goto out;
	*emails = a.v;
	*n = a.n;
	a.v = NULL;
	a.n = 0;
	rc = 0;
out:
	sentry_ids_free(a.v, a.n);
	free(prefix);
	free(enc);
	return rc;
}

/* ---- issues (Slack triage) ---------------------------------------------- */

int sentry_update_issue(struct sentry_client *c, const char *issue_id, const struct sentry_issue_update *u,
			struct sentry_result *res, struct err *e)
{
	static const char endpoint[] = "PUT /api/0/organizations/{org}/issues/{id}/";
	char *url = NULL, *body = NULL, *id = NULL;
	json_t *j = NULL;
	int rc = -1;
	if (write_begin(c, res, "update issue", 1, issue_id, NULL, e))
		return -1;
	if (!u)
		return err_set(e, -1, "sentry: update issue: nothing to change");
	j = json_object();
	if (!j)
		goto nomem;
	if ((u->status && json_object_set_new(j, "status", json_string(u->status))) ||
	    (u->substatus && json_object_set_new(j, "substatus", json_string(u->substatus))) ||
	    (u->assigned_to && json_object_set_new(j, "assignedTo", json_string(u->assigned_to))))
		goto nomem;
	if (u->status) {
		/* statusDetails is always sent with a status, as Sentry's own UI does */
		json_t *sd = u->ignore_minutes > 0 ? json_pack("{s:I}", "ignoreDuration", (json_int_t)u->ignore_minutes)
						   : json_object();
		if (!sd || json_object_set_new(j, "statusDetails", sd))
			goto nomem;
	}
	if (!(id = url_enc(issue_id)) || asprintf(&url, "%s/api/0/organizations/%s/issues/%s/", c->base, c->org, id) < 0) {
		url = NULL;
		goto nomem;
	}
	if (!(body = json_dumps(j, JSON_COMPACT)))
		goto nomem;
	/* not retried by httpc: the job queue retries with its backoff, so the
	 * person's click is not held for minutes inside one job run */
	rc = write_call(c, "PUT", url, body, endpoint, 0, res, NULL, e);
	goto out;
nomem:
	err_set(e, -1, "sentry: update issue: out of memory");
out:
	json_decref(j);
	free(url);
	free(body);
	free(id);
	return rc;
}

void sentry_member_ref_clear(struct sentry_member_ref *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->user_id);
	free(m->email);
	memset(m, 0, sizeof *m);
}

int sentry_find_member(struct sentry_client *c, const char *email, struct sentry_member_ref *out, struct err *e)
{
	static const char endpoint[] = "GET /api/0/organizations/{org}/members/";
	char *url = NULL, *q = NULL, *qe = NULL;
	struct httpc_resp r = {0};
	json_t *arr = NULL;
	int rc = -1;
	if (out)
		memset(out, 0, sizeof *out);
	if (!c || !out || !email || !*email)
		return err_set(e, -1, "sentry: find member: missing argument");
	for (const char *p = email; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"')
			return 0; /* Sentry's query tokenizer would split it: no such member */
	if (asprintf(&q, "email:%s", email) < 0) {
		q = NULL;
		goto nomem;
	}
	if (!(qe = url_enc(q)) ||
	    asprintf(&url, "%s/api/0/organizations/%s/members/?per_page=" SENTRY_PER_PAGE "&query=%s", c->base, c->org,
		     qe) < 0) {
		url = NULL;
		goto nomem;
	}
	struct httpc_req req = {.method = "GET", .url = url, .headers = c->hdr_get, .endpoint = endpoint, .idempotent = -1};
	struct err he;
	err_clear(&he);
	if (httpc_call(c->http, &req, &r, &he)) {
		transport_err(e, &he, "find member");
		goto out;
	}
	if (r.status < 200 || r.status > 299) {
		char *m = refusal_message(r.status, &r.body);
		err_set(e, -1, "sentry: find member: HTTP %ld: %s", r.status, m ? m : "?");
		free(m);
		goto out;
	}
	arr = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
	if (!json_is_array(arr)) {
		err_set(e, -1, "sentry: find member: the answer is not a JSON array");
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *o = json_array_get(arr, i);
		const json_t *user = json_object_get(o, "user");
		if (!json_is_object(o))
			continue;
		int ri = dup_id(json_object_get(o, "id"), &out->id);
		if (ri > 0)
			continue; /* no id: not a member we can name */
		if (ri < 0 || dup_opt(o, "email", &out->email) ||
		    (json_is_object(user) && dup_id(json_object_get(user, "id"), &out->user_id) < 0)) {
			sentry_member_ref_clear(out);
			goto nomem;
		}
		out->pending = !json_is_object(user) || json_is_true(json_object_get(o, "pending"));
		rc = 1;
		break;
	}
	goto out;
nomem:
	rc = -1;
	err_set(e, -1, "sentry: find member: out of memory");
out:
	json_decref(arr);
	httpc_resp_free(&r);
	free(url);
	free(q);
	free(qe);
	return rc;
}
