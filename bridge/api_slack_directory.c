/*
 * api_slack_directory.c: the admin API of the cached Slack directory
 * (bridge/slack_directory.c). Everything answers from PostgreSQL, never
 * from Slack.
 *
 *   GET  /api/v1/slack/channels?search=&archived=&limit=&cursor=
 *   GET  /api/v1/slack/users?email=&search=&limit=&cursor=
 *   GET  /api/v1/slack/directory            the state of the last walks
 *   POST /api/v1/slack/directory/refresh    queue a walk now
 *
 * Pages are keyset pages in (name, id) order; the cursor is opaque (hex of
 * the last name and id). Unknown query parameters are ignored, as in the
 * other /api/v1 handlers.
 */
#include "api.h"
#include "buf.h"
#include "db.h"
#include "log.h"
#include "router.h"
#include "slack_directory.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX 200

/* hex("name" 0x1f "id") */
static char *cursor_make(const char *name, const char *id)
{
	struct buf b;
	buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		buf_printf(&b, "%02x", *p);
	buf_puts(&b, "1f");
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		buf_printf(&b, "%02x", *p);
	return buf_take(&b);
}

/* 0 with *name and *id (caller frees), -1 when s is not one of ours. */
static int cursor_parse(const char *s, char **name, char **id)
{
	*name = *id = NULL;
	size_t n = strlen(s);
	if (!n || n % 2 || n > 1024)
		return -1;
	char *raw = malloc(n / 2 + 1);
	if (!raw)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
		    !strchr("0123456789abcdef", s[2 * i + 1]) || (v < 0x20 && v != 0x1f)) {
			free(raw);
			return -1;
		}
		raw[i] = (char)v;
	}
	raw[n / 2] = '\0';
	char *sep = strchr(raw, 0x1f);
	if (!sep || strchr(sep + 1, 0x1f) || !sep[1]) {
		free(raw);
		return -1;
	}
	*sep = '\0';
	*name = strdup(raw);
	*id = strdup(sep + 1);
	free(raw);
	if (!*name || !*id) {
		free(*name);
		free(*id);
		*name = *id = NULL;
		return -1;
	}
	return 0;
}

/* "%s%" with LIKE's special characters escaped, lower-cased; caller frees. */
static char *like_pattern(const char *s)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "%");
	for (const char *p = s; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_puts(&b, "\\");
		char ch = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
		buf_append(&b, &ch, 1);
	}
	buf_puts(&b, "%");
	return buf_take(&b);
}

struct listing {
	char *search, *cursor, *extra; /* extra: archived= or email= */
	char *like, *after_name, *after_id;
	int limit;
};

static void listing_free(struct listing *l)
{
	free(l->search);
	free(l->cursor);
	free(l->extra);
	free(l->like);
	free(l->after_name);
	free(l->after_id);
}

/* Read and check search, limit and cursor. 0, or -1 after answering 400. */
static int listing_parse(const struct http_req *req, struct http_resp *resp, struct listing *l)
{
	memset(l, 0, sizeof *l);
	l->search = http_req_query(req, "search");
	l->cursor = http_req_query(req, "cursor");
	if ((l->limit = api_query_limit(req, resp, 100)) < 0)
		return -1;
	if (l->search && strlen(l->search) > SEARCH_MAX) {
		http_resp_error(resp, 400, "bad_request", "search is longer than %d characters", SEARCH_MAX);
		return -1;
	}
	if (l->search && *l->search && !(l->like = like_pattern(l->search))) {
		http_resp_error(resp, 500, "internal", "out of memory");
		return -1;
	}
	if (l->cursor && cursor_parse(l->cursor, &l->after_name, &l->after_id)) {
		http_resp_error(resp, 400, "bad_request", "cursor is not a cursor this API returned");
		return -1;
	}
	return 0;
}

/*
 * Run a listing query and answer. The query (sql, rows: JSON text, name,
 * id, ordered, at most limit + 1) is wrapped so that the directory's
 * freshness comes back in the same round trip: one row per item plus the
 * state columns, or one row with NULL item when nothing matched.
 */
static void answer(struct ctx *ctx, struct http_resp *resp, PGconn *c, const char *sql, int np, const char *const *p,
		   const char *key, int limit)
{
	struct err e;
	err_clear(&e);
	struct buf q;
	buf_init(&q, 0);
	buf_printf(&q,
		   "WITH l AS (%s), f AS (SELECT last_success_at IS NOT NULL AS loaded,"
		   " coalesce(extract(epoch FROM now() - last_success_at)::bigint, 0) AS age, last_error"
		   " FROM slack_directory_state WHERE kind = '%s')"
		   " SELECT l.j, l.name, l.id, f.loaded, f.age, f.last_error FROM f LEFT JOIN l ON true"
		   " ORDER BY l.name, l.id",
		   sql, key);
	PGresult *r = db_exec(c, buf_str(&q), np, p, &e);
	buf_reset(&q);
	if (!r) {
		log_error(ctx->log, "api", ctx->request_id, "database error", "error", e.msg, NULL);
		http_resp_error(resp, 500, "internal", "database error (logged with request id %s)", ctx->request_id);
		return;
	}
	int n = PQntuples(r), items_n = 0;
	json_t *items = json_array(), *fresh = json_null();
	for (int i = 0; i < n; i++) {
		if (i == 0) {
			bool loaded = PQgetvalue(r, 0, 3)[0] == 't';
			fresh = json_pack("{s:b,s:o,s:o}", "loaded", loaded, "age_seconds",
					  loaded ? json_integer(atoll(PQgetvalue(r, 0, 4))) : json_null(), "last_error",
					  PQgetisnull(r, 0, 5) ? json_null() : json_string(PQgetvalue(r, 0, 5)));
		}
		if (PQgetisnull(r, i, 0))
			continue;
		if (items_n++ < limit)
			json_array_append_new(items, json_loads(PQgetvalue(r, i, 0), 0, NULL));
	}
	json_t *next = json_null();
	if (items_n > limit) {
		char *cur = cursor_make(PQgetvalue(r, limit - 1, 1), PQgetvalue(r, limit - 1, 2));
		next = cur ? json_string(cur) : json_null();
		free(cur);
	}
	PQclear(r);
	http_resp_json(resp, 200, json_pack("{s:o,s:o,s:o}", key, items, "next_cursor", next, "directory", fresh));
}

static void not_configured(struct http_resp *resp)
{
	http_resp_error(resp, 404, "not_configured", "Slack is not configured (slack.api_url)");
}

/* 1 when Slack is configured; else a 404 and 0. */
static int slack_on(const struct ctx *ctx, struct http_resp *resp)
{
	if (ctx->cfg->slack.api_url && *ctx->cfg->slack.api_url)
		return 1;
	not_configured(resp);
	return 0;
}

static void h_channels(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp) || !slack_on(ctx, resp))
		return;
	struct listing l;
	if (listing_parse(req, resp, &l))
		goto out;
	l.extra = http_req_query(req, "archived");
	if (l.extra && strcmp(l.extra, "true") && strcmp(l.extra, "false")) {
		http_resp_error(resp, 400, "bad_request", "archived must be true or false");
		goto out;
	}
	struct slack_chan_query q = {.search = l.search, .archived = l.extra ? !strcmp(l.extra, "true") : -1,
				     .after_name = l.after_name, .after_id = l.after_id, .limit = l.limit};
	struct slack_chan_page pg;
	struct err e;
	err_clear(&e);
	if (slack_directory_search_channels(&q, &pg, &e)) {
		log_error(ctx->log, "api", ctx->request_id, "cannot search the channel index", "error", e.msg, NULL);
		http_resp_error(resp, 503, "unavailable", "the channel directory is not available (logged with request id %s)",
				ctx->request_id);
		goto out;
	}
	char *cur = pg.more ? cursor_make(pg.last_name, pg.last_id) : NULL;
	http_resp_json(resp, 200,
		       json_pack("{s:O,s:o,s:O}", "channels", pg.items, "next_cursor", cur ? json_string(cur) : json_null(),
				 "directory", pg.directory));
	free(cur);
	slack_chan_page_clear(&pg);
out:
	listing_free(&l);
}

static void h_users(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	struct listing l;
	PGconn *c = NULL;
	if (listing_parse(req, resp, &l))
		goto out;
	l.extra = http_req_query(req, "email");
	if (l.extra && (!strchr(l.extra, '@') || strlen(l.extra) > 254)) {
		http_resp_error(resp, 400, "bad_request", "email must be an e-mail address");
		goto out;
	}
	if (!(c = api_need_db(ctx, resp)))
		goto out;
	char lim[16];
	snprintf(lim, sizeof lim, "%d", l.limit + 1);
	const char *p[] = {l.like, l.extra, l.after_name, l.after_id, lim};
	answer(ctx, resp, c,
	       "SELECT json_build_object('id', id, 'name', name, 'real_name', real_name, 'email', email,"
	       " 'deleted', deleted, 'is_bot', is_bot, 'refreshed_at', refreshed_at)::text AS j, name, id"
	       " FROM slack_users"
	       " WHERE ($1::text IS NULL OR lower(name || ' ' || real_name || ' ' || coalesce(email, '')) LIKE $1)"
	       " AND ($2::text IS NULL OR lower(email) = lower($2))"
	       " AND ($3::text IS NULL OR (name, id) > ($3, $4))"
	       " ORDER BY name, id LIMIT $5::int",
	       5, p, "users", l.limit);
out:
	db_release(ctx->db, c);
	listing_free(&l);
}

static void h_state(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	json_t *o = json_object();
	slack_directory_readyz(o);
	json_t *d = json_object_get(o, "slack_directory");
	if (!d) {
		json_decref(o);
		not_configured(resp);
		return;
	}
	http_resp_json(resp, 200, json_incref(d));
	json_decref(o);
}

static void h_refresh(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp) || !slack_on(ctx, resp))
		return;
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	struct err e;
	err_clear(&e);
	int queued = 0;
	if (slack_directory_queue_refresh(c, &queued, &e)) {
		log_error(ctx->log, "api", ctx->request_id, "cannot queue a directory refresh", "error", e.msg, NULL);
		http_resp_error(resp, 503, "unavailable", "the refresh could not be queued");
	} else {
		log_info(ctx->log, "slack-directory", ctx->request_id, "directory refresh requested through the API",
			 "queued", queued ? "new" : "already waiting", NULL);
		http_resp_json(resp, 202, json_pack("{s:s,s:b}", "status", queued ? "queued" : "already_queued", "queued",
						    queued));
	}
	db_release(ctx->db, c);
}

int slack_directory_routes(struct app *a)
{
	struct router *r = a->router;
	int rc = 0;
	rc |= router_add(r, "GET", "/api/v1/slack/channels", h_channels, NULL);
	rc |= router_add(r, "GET", "/api/v1/slack/users", h_users, NULL);
	rc |= router_add(r, "GET", "/api/v1/slack/directory", h_state, NULL);
	rc |= router_add(r, "POST", "/api/v1/slack/directory/refresh", h_refresh, NULL);
	return rc ? -1 : 0;
}
