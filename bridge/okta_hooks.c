/*
 * okta_hooks.c: Okta event hooks, the Okta inbox drainer and System Log
 * catch-up (see okta_hooks.h and docs/okta-events.md).
 */
#include "okta_hooks.h"

#include "api.h"
#include "audit.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "inbox.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "scheduler.h"
#include "secret.h"
#include "sso/okta_client.h"
#include "sso/okta_events.h"
#include "sync.h"
#include "integrations/sentry/sentry_client.h"

#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MOD "okta-events"
/* NOTIFY channel the hook handler signals after storing events. */
#define EVENTS_CHANNEL "sb_okta_events"
/* Advisory lock: one drainer across replicas ("sb-okta-events"). */
#define DRAIN_LOCK_KEY "7306249"
/* Items drained per batch: one mirror transaction, one reconcile. */
#define DRAIN_BATCH "500"
/* Pages of the System Log read per poll at most (1,000 events each). */
#define SYSLOG_MAX_PAGES 50

struct okta_hooks {
	struct app *app;
	struct ctx ctx; /* the app's, request_id per batch */
	char *conninfo;
	pthread_t thread;
	int started;
	atomic_int stop;
	volatile int stop_flag; /* for clock_sleep_ms */
	struct okta_client *oc; /* the drainer's clients, made lazily */
	struct sentry_client *sc;
};

/* ---- storing events ----------------------------------------------------- */

struct store_stats {
	size_t stored, duplicates, invalid;
};

/* Store the events of one delivery or System Log page on c, inside the
 * caller's transaction. An event that cannot be used (no uuid, no type, no
 * time) is kept as a dead item with the reason, under a key derived from
 * its content, so nothing Okta sent is dropped silently. */
static int store_events(struct ctx *ctx, PGconn *c, struct okta_event *ev, size_t n, struct store_stats *st,
			struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		char *payload = json_dumps(ev[i].json ? ev[i].json : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
		if (!payload)
			return err_set(e, -1, "out of memory");
		char key[80];
		if (ev[i].problem[0]) {
			unsigned char md[32];
			unsigned int mdlen = 0;
			EVP_Digest(payload, strlen(payload), md, &mdlen, EVP_sha256(), NULL);
			int o = snprintf(key, sizeof key, "invalid:");
			for (unsigned k = 0; k < 16 && k < mdlen; k++)
				o += snprintf(key + o, sizeof key - (size_t)o, "%02x", md[k]);
		} else {
			snprintf(key, sizeof key, "%s", ev[i].uuid);
		}
		struct inbox_item it = {
		    .source = "okta",
		    .external_id = key,
		    .kind = ev[i].type && *ev[i].type ? ev[i].type : "invalid",
		    .subject = ev[i].problem[0] ? NULL : ev[i].user_id,
		    .occurred_at = ev[i].problem[0] ? NULL : ev[i].published,
		    .payload = payload,
		    .request_id = ctx->request_id,
		    .status = ev[i].problem[0] ? "dead" : NULL,
		    .status_reason = ev[i].problem[0] ? ev[i].problem : NULL,
		};
		int64_t id = 0;
		int inserted = 0;
		int rc = inbox_store(c, &it, &id, &inserted, e);
		free(payload);
		if (rc)
			return -1;
		if (!inserted) {
			st->duplicates++;
			continue;
		}
		if (ev[i].problem[0]) {
			st->invalid++;
			log_warn(ctx->log, MOD, ctx->request_id, "unusable Okta event kept as dead", "problem",
				 ev[i].problem, NULL);
		} else {
			st->stored++;
		}
	}
	return 0;
}

/* ---- the hook endpoints ------------------------------------------------- */

/* 1 when the configured header carries the secret; else a 401 and 0. */
static int hook_auth(struct ctx *ctx, const struct http_req *req, struct http_resp *resp)
{
	const struct config_okta_event_hook *h = &ctx->cfg->okta.event_hook;
	const char *v = http_req_header(req, h->auth_header);
	if (v && h->secret && *h->secret && secret_equal(v, h->secret))
		return 1;
	metrics_add(ctx->metrics, "sb_okta_hook_deliveries_total", 1, "result", "unauthorized", NULL);
	log_warn(ctx->log, MOD, ctx->request_id, v ? "Okta hook request with a wrong secret"
						  : "Okta hook request without the auth header",
		 "header", h->auth_header, "remote", req->remote_addr ? req->remote_addr : "", NULL);
	http_resp_error(resp, 401, "unauthorized", "missing or wrong %s header", h->auth_header);
	return 0;
}

static int hook_enabled(struct ctx *ctx, struct http_resp *resp)
{
	if (ctx->cfg->okta.event_hook.configured)
		return 1;
	http_resp_error(resp, 404, "not_configured", "Okta event hooks are not configured (okta.event_hook)");
	return 0;
}

static void h_verify(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!hook_enabled(ctx, resp) || !hook_auth(ctx, req, resp))
		return;
	const char *ch = http_req_header(req, "X-Okta-Verification-Challenge");
	if (!ch || !*ch) {
		http_resp_error(resp, 400, "bad_request", "the X-Okta-Verification-Challenge header is missing");
		return;
	}
	if (strlen(ch) > 1024) {
		http_resp_error(resp, 400, "bad_request", "the X-Okta-Verification-Challenge header is too long");
		return;
	}
	log_info(ctx->log, MOD, ctx->request_id, "Okta event hook verified", NULL);
	http_resp_json(resp, 200, json_pack("{s:s}", "verification", ch));
}

static void h_delivery(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!hook_enabled(ctx, resp) || !hook_auth(ctx, req, resp))
		return;
	json_t *root = NULL;
	struct okta_event *ev = NULL;
	size_t n = 0;
	struct err e;
	err_clear(&e);
	if (okta_delivery_parse(req->body, req->body_len, &root, &ev, &n, &e)) {
		metrics_add(ctx->metrics, "sb_okta_hook_deliveries_total", 1, "result", "bad_request", NULL);
		log_warn(ctx->log, MOD, ctx->request_id, "malformed Okta hook delivery", "problem", e.msg, NULL);
		http_resp_error(resp, 400, "bad_request", "%s", e.msg);
		return;
	}
	PGconn *c = api_need_db(ctx, resp);
	if (!c) {
		/* 503: Okta retries once; the System Log poll and the sync catch up. */
		metrics_add(ctx->metrics, "sb_okta_hook_deliveries_total", 1, "result", "db_unavailable", NULL);
		goto out;
	}
	struct store_stats st = {0};
	if (db_begin(c, &e) || store_events(ctx, c, ev, n, &st, &e) ||
	    (st.stored && db_run(c, "SELECT pg_notify('" EVENTS_CHANNEL "', '')", 0, NULL, &e)) || db_commit(c, &e)) {
		if (PQtransactionStatus(c) != PQTRANS_IDLE)
			db_rollback(c);
		metrics_add(ctx->metrics, "sb_okta_hook_deliveries_total", 1, "result", "db_error", NULL);
		log_error(ctx->log, MOD, ctx->request_id, "could not store an Okta delivery; answering 503 so Okta retries",
			  "error", e.msg, NULL);
		http_resp_error(resp, 503, "database_unavailable", "the events could not be stored; retry later");
		http_resp_header(resp, "Retry-After", "5");
		goto out;
	}
	metrics_add(ctx->metrics, "sb_okta_hook_deliveries_total", 1, "result", "stored", NULL);
	metrics_add(ctx->metrics, "sb_okta_events_total", (double)st.stored, "result", "received", NULL);
	metrics_add(ctx->metrics, "sb_okta_events_total", (double)st.duplicates, "result", "duplicate", NULL);
	metrics_add(ctx->metrics, "sb_okta_events_total", (double)st.invalid, "result", "invalid", NULL);
	/* Okta wants an empty body with 200 or 204; the counts go to headers. */
	char v[32];
	snprintf(v, sizeof v, "%zu", st.stored);
	http_resp_header(resp, "X-Bridge-Events-Stored", v);
	snprintf(v, sizeof v, "%zu", st.duplicates);
	http_resp_header(resp, "X-Bridge-Events-Duplicate", v);
	snprintf(v, sizeof v, "%zu", st.invalid);
	http_resp_header(resp, "X-Bridge-Events-Invalid", v);
	resp->status = 200;
	http_resp_content_type(resp, "text/plain; charset=utf-8");
out:
	db_release(ctx->db, c);
	free(ev);
	json_decref(root);
}

/* ---- draining ----------------------------------------------------------- */

/* What became of one inbox item of a batch. */
enum item_fate { IF_DONE = 0, IF_SKIPPED, IF_RETRY, IF_DEAD };

struct item {
	int64_t id;
	int attempts;
	json_t *json;
	struct okta_event ev;
	enum item_fate fate;
	char note[320];
};

/* A small set of user ids with per-user flags. */
struct user_ref {
	char *id;
	char *email_before; /* the mirror's email before this batch */
	int reread;         /* read from Okta (stale, unknown, profile change) */
	int failed;         /* the Okta read failed: do not plan for this user */
	int touched;        /* the mirror changed: plan for this user */
	enum item_fate fate; /* worst outcome of the user's changes */
	char note[320];
};

struct batch {
	struct item *items;
	size_t nitems;
	struct user_ref *users;
	size_t nusers, capusers;
	char **policy_groups; /* names the config uses */
	size_t npolicy_groups;
};

static struct user_ref *user_get(struct batch *b, const char *id)
{
	for (size_t i = 0; i < b->nusers; i++)
		if (!strcmp(b->users[i].id, id))
			return &b->users[i];
	if (b->nusers == b->capusers) {
		size_t cap = b->capusers ? b->capusers * 2 : 64;
		struct user_ref *nv = realloc(b->users, cap * sizeof *nv);
		if (!nv)
			return NULL;
		b->users = nv;
		b->capusers = cap;
	}
	struct user_ref *u = &b->users[b->nusers];
	memset(u, 0, sizeof *u);
	u->id = strdup(id);
	if (!u->id)
		return NULL;
	b->nusers++;
	return u;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->nitems; i++)
		json_decref(b->items[i].json);
	free(b->items);
	for (size_t i = 0; i < b->nusers; i++) {
		free(b->users[i].id);
		free(b->users[i].email_before);
	}
	free(b->users);
	free(b->policy_groups);
	memset(b, 0, sizeof *b);
}

static int is_policy_group(const struct batch *b, const char *name)
{
	for (size_t i = 0; name && i < b->npolicy_groups; i++)
		if (!strcmp(b->policy_groups[i], name))
			return 1;
	return 0;
}

static void collect_policy_groups(const struct config *cfg, struct batch *b)
{
	size_t cap = cfg->roles.access_groups.n + cfg->roles.n_mappings + cfg->n_teams;
	b->policy_groups = calloc(cap + 1, sizeof *b->policy_groups);
	if (!b->policy_groups)
		return;
	for (size_t i = 0; i < cfg->roles.access_groups.n; i++)
		b->policy_groups[b->npolicy_groups++] = cfg->roles.access_groups.v[i];
	for (size_t i = 0; i < cfg->roles.n_mappings; i++)
		b->policy_groups[b->npolicy_groups++] = cfg->roles.mappings[i].group;
	for (size_t i = 0; i < cfg->n_teams; i++)
		b->policy_groups[b->npolicy_groups++] = cfg->teams[i].group;
}

/* One row value of a one-row query, copied; NULL when no row (or NULL). */
static char *scalar(PGconn *c, const char *sql, int np, const char *const *p, int *err, struct err *e)
{
	PGresult *r = db_exec(c, sql, np, p, e);
	if (!r) {
		*err = 1;
		return NULL;
	}
	char *v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	return v;
}

/* Is ev older than what the mirror already knows about this aspect? */
static int is_stale(PGconn *c, const char *user, const char *aspect, const char *published, int *err, struct err *e)
{
	const char *p[] = {user, aspect, published};
	char *v = scalar(c,
			 "SELECT $3::timestamptz <= greatest("
			 " (SELECT published FROM okta_event_marks WHERE user_id = $1 AND aspect = $2),"
			 " (SELECT synced_at FROM okta_users WHERE id = $1))",
			 3, p, err, e);
	int stale = v && v[0] == 't';
	free(v);
	return stale;
}

static int mark(PGconn *c, const char *user, const char *aspect, const char *published, struct err *e)
{
	const char *p[] = {user, aspect, published};
	return db_run(c,
		      "INSERT INTO okta_event_marks (user_id, aspect, published) VALUES ($1, $2, $3::timestamptz)"
		      " ON CONFLICT (user_id, aspect) DO UPDATE SET published = greatest(okta_event_marks.published,"
		      " EXCLUDED.published)",
		      3, p, e);
}

/* Apply one event to the mirror (inside the batch transaction). */
static int apply_event(struct okta_hooks *h, PGconn *c, struct batch *b, struct item *it, struct err *e)
{
	const struct okta_event *ev = &it->ev;
	int err = 0;
	if (ev->kind == OE_OTHER) {
		it->fate = IF_SKIPPED;
		snprintf(it->note, sizeof it->note, "event type %.80s is not acted on", ev->type ? ev->type : "?");
		return 0;
	}
	if (ev->kind == OE_GROUP_DELETED) {
		if (!ev->group_id) {
			it->fate = IF_SKIPPED;
			snprintf(it->note, sizeof it->note, "the event names no group");
			return 0;
		}
		const char *p[] = {ev->group_id};
		PGresult *r = db_exec(c,
				      "WITH gone AS (DELETE FROM okta_memberships WHERE group_id = $1 RETURNING user_id)"
				      " SELECT g.user_id, u.email FROM gone g LEFT JOIN okta_users u ON u.id = g.user_id",
				      1, p, e);
		if (!r)
			return -1;
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			struct user_ref *u = user_get(b, PQgetvalue(r, i, 0));
			if (!u) {
				PQclear(r);
				return err_set(e, -1, "out of memory");
			}
			u->touched = 1;
			if (!u->email_before && !PQgetisnull(r, i, 1))
				u->email_before = strdup(PQgetvalue(r, i, 1));
		}
		PQclear(r);
		if (db_run(c, "DELETE FROM okta_groups WHERE id = $1", 1, p, e))
			return -1;
		if (n || is_policy_group(b, ev->group_name)) {
			log_warn(h->ctx.log, MOD, h->ctx.request_id, "an Okta group the policy uses was deleted; fix the config",
				 "group", ev->group_name ? ev->group_name : ev->group_id, NULL);
			snprintf(it->note, sizeof it->note, "group %.100s deleted: %d member(s) reconsidered",
				 ev->group_name ? ev->group_name : ev->group_id, n);
		} else {
			it->fate = IF_SKIPPED;
			snprintf(it->note, sizeof it->note, "group %.100s is not used by the policy",
				 ev->group_name ? ev->group_name : ev->group_id);
		}
		return 0;
	}
	if (!ev->user_id) {
		it->fate = IF_SKIPPED;
		snprintf(it->note, sizeof it->note, "the event names no user; the scheduled sync covers it");
		return 0;
	}
	const char *pu[] = {ev->user_id};
	char *email = scalar(c, "SELECT coalesce(email, '') FROM okta_users WHERE id = $1", 1, pu, &err, e);
	if (err)
		return -1;
	int known = email != NULL;
	if (ev->kind == OE_MEMBERSHIP_ADD || ev->kind == OE_MEMBERSHIP_REMOVE) {
		const char *pg[] = {ev->group_id ? ev->group_id : ""};
		char *gname = ev->group_id ? scalar(c, "SELECT name FROM okta_groups WHERE id = $1", 1, pg, &err, e) : NULL;
		if (err) {
			free(email);
			return -1;
		}
		if (!gname && ev->group_id && ev->kind == OE_MEMBERSHIP_ADD && is_policy_group(b, ev->group_name)) {
			/* A policy group the mirror has not seen yet (no full sync since it was made). */
			const char *pn[] = {ev->group_id, ev->group_name};
			if (db_run(c,
				   "INSERT INTO okta_groups (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", 2, pn,
				   e)) {
				free(email);
				return -1;
			}
			gname = strdup(ev->group_name);
		}
		if (!gname) {
			free(email);
			it->fate = IF_SKIPPED;
			snprintf(it->note, sizeof it->note, "group %.100s is not used by the policy",
				 ev->group_name ? ev->group_name : ev->group_id ? ev->group_id : "(none named)");
			return 0;
		}
		free(gname);
		char aspect[200];
		snprintf(aspect, sizeof aspect, "group:%s", ev->group_id);
		struct user_ref *u = user_get(b, ev->user_id);
		if (!u) {
			free(email);
			return err_set(e, -1, "out of memory");
		}
		if (!u->email_before && email && *email)
			u->email_before = strdup(email);
		int stale = known && is_stale(c, ev->user_id, aspect, ev->published, &err, e);
		free(email);
		if (err)
			return -1;
		if (!known || stale || u->reread) {
			/* Unknown user (email and status needed) or a late event: read the user. */
			u->reread = 1;
			snprintf(it->note, sizeof it->note, "%s: user read from Okta", stale ? "stale event" : "new user");
			metrics_add(h->ctx.metrics, "sb_okta_events_total", 1, "result", stale ? "stale" : "reread", NULL);
			return 0;
		}
		const char *pm[] = {ev->group_id, ev->user_id};
		if (db_run(c,
			   ev->kind == OE_MEMBERSHIP_ADD
			       ? "INSERT INTO okta_memberships (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
			       : "DELETE FROM okta_memberships WHERE group_id = $1 AND user_id = $2",
			   2, pm, e) ||
		    mark(c, ev->user_id, aspect, ev->published, e))
			return -1;
		u->touched = 1;
		return 0;
	}
	/* User lifecycle and profile events. */
	if (!known) {
		it->fate = IF_SKIPPED;
		snprintf(it->note, sizeof it->note, "user %.64s is in no group the policy uses", ev->user_id);
		return 0;
	}
	struct user_ref *u = user_get(b, ev->user_id);
	if (!u) {
		free(email);
		return err_set(e, -1, "out of memory");
	}
	if (!u->email_before && *email)
		u->email_before = strdup(email);
	free(email);
	if (ev->kind == OE_USER_PROFILE) {
		u->reread = 1; /* the event does not carry the new email reliably */
		snprintf(it->note, sizeof it->note, "profile changed: user read from Okta");
		return 0;
	}
	int stale = is_stale(c, ev->user_id, "status", ev->published, &err, e);
	if (err)
		return -1;
	if (stale || u->reread) {
		u->reread = 1;
		snprintf(it->note, sizeof it->note, "stale event: user read from Okta");
		metrics_add(h->ctx.metrics, "sb_okta_events_total", 1, "result", "stale", NULL);
		return 0;
	}
	const char *status = ev->kind == OE_USER_ACTIVE ? "ACTIVE" : ev->kind == OE_USER_SUSPENDED ? "SUSPENDED" : "DEPROVISIONED";
	const char *ps[] = {ev->user_id, status};
	if (db_run(c, "UPDATE okta_users SET status = $2 WHERE id = $1", 2, ps, e) ||
	    mark(c, ev->user_id, "status", ev->published, e))
		return -1;
	u->touched = 1;
	return 0;
}

/* Read one user from Okta and replace their mirror rows. 0, or -1 (Okta
 * failed: u->failed and u->note set; database errors also -1 with e). */
static int reread_user(struct okta_hooks *h, PGconn *c, struct batch *b, struct user_ref *u, struct err *e)
{
	struct okta_user ou;
	struct okta_group *groups = NULL;
	size_t ng = 0;
	struct err oe;
	err_clear(&oe);
	int rc = okta_get_user(h->oc, u->id, &ou, &oe);
	int grc = rc == 0 ? okta_user_groups(h->oc, u->id, &groups, &ng, &oe) : 0;
	if (rc < 0 || grc < 0) {
		okta_user_clear(&ou);
		u->failed = 1;
		snprintf(u->note, sizeof u->note, "reading the user from Okta failed: %.250s", oe.msg);
		return 0;
	}
	metrics_add(h->ctx.metrics, "sb_okta_user_reads_total", 1, NULL);
	u->touched = 1;
	const char *pid[] = {u->id};
	if (rc == 1 || grc == 1) { /* deleted in Okta: out of scope */
		okta_user_clear(&ou);
		okta_groups_free(groups, ng);
		return db_run(c, "DELETE FROM okta_users WHERE id = $1", 1, pid, e);
	}
	json_t *gs = json_array();
	size_t in_policy = 0;
	for (size_t i = 0; gs && i < ng; i++)
		if (is_policy_group(b, groups[i].name)) {
			json_array_append_new(gs, json_pack("{s:s,s:s}", "id", groups[i].id, "name", groups[i].name));
			in_policy++;
		}
	char *gt = gs ? json_dumps(gs, JSON_COMPACT) : NULL;
	json_decref(gs);
	okta_groups_free(groups, ng);
	int r = -1;
	if (!gt) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	if (!in_policy) {
		r = db_run(c, "DELETE FROM okta_users WHERE id = $1", 1, pid, e);
		goto out;
	}
	const char *pu[] = {ou.id, ou.email, ou.login, ou.status};
	const char *pg[] = {ou.id, gt};
	if (db_run(c,
		   "INSERT INTO okta_users (id, email, login, status, synced_at) VALUES ($1, $2, $3, $4, now())"
		   " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, login = EXCLUDED.login,"
		   " status = EXCLUDED.status, synced_at = now()",
		   4, pu, e) ||
	    db_run(c,
		   "INSERT INTO okta_groups (id, name) SELECT x->>'id', x->>'name' FROM jsonb_array_elements($1::jsonb) x"
		   " ON CONFLICT (id) DO NOTHING",
		   1, pg + 1, e) ||
	    db_run(c, "DELETE FROM okta_memberships WHERE user_id = $1", 1, pid, e) ||
	    db_run(c,
		   "INSERT INTO okta_memberships (group_id, user_id) SELECT x->>'id', $1::text FROM jsonb_array_elements($2::jsonb) x"
		   " ON CONFLICT DO NOTHING",
		   2, pg, e))
		goto out;
	r = 0;
out:
	free(gt);
	okta_user_clear(&ou);
	return r;
}

static int clients(struct okta_hooks *h, struct err *e)
{
	if (!h->oc)
		h->oc = okta_client_new(h->ctx.cfg, h->ctx.log, h->ctx.metrics, e);
	if (h->oc && !h->sc)
		h->sc = sentry_client_new(h->ctx.cfg, h->ctx.log, h->ctx.metrics, e);
	return h->oc && h->sc ? 0 : -1;
}

/* A failed change worth retrying: no answer, 429 or 5xx. */
static int transient(const char *error)
{
	if (!error)
		return 0;
	const char *p = strstr(error, "Sentry answered ");
	if (!p)
		return 1; /* no HTTP answer at all */
	long st = strtol(p + 16, NULL, 10);
	return st == 429 || st >= 500;
}

static int load_batch(PGconn *c, struct batch *b, struct err *e)
{
	PGresult *r = db_exec(c,
			      "SELECT id, attempts, payload::text FROM inbox"
			      " WHERE source = 'okta' AND status = 'pending'"
			      " AND (next_attempt_at IS NULL OR next_attempt_at <= now())"
			      " ORDER BY occurred_at NULLS FIRST, id LIMIT " DRAIN_BATCH,
			      0, NULL, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	b->items = calloc((size_t)n + 1, sizeof *b->items);
	if (!b->items) {
		PQclear(r);
		return err_set(e, -1, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		struct item *it = &b->items[b->nitems++];
		it->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		it->attempts = atoi(PQgetvalue(r, i, 1));
		it->json = json_loads(PQgetvalue(r, i, 2), 0, NULL);
		okta_event_read(it->json, &it->ev);
		if (it->ev.problem[0]) {
			it->fate = IF_DEAD;
			snprintf(it->note, sizeof it->note, "%s", it->ev.problem);
		}
	}
	PQclear(r);
	return 0;
}

/* Write each item's fate: one statement per fate. */
static int record_fates(struct okta_hooks *h, PGconn *c, struct batch *b, struct err *e)
{
	const struct config *cfg = h->ctx.cfg;
	json_t *a = json_array();
	if (!a)
		return err_set(e, -1, "out of memory");
	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		const char *st = "done";
		int64_t delay = 0;
		if (it->fate == IF_SKIPPED) {
			st = "skipped";
		} else if (it->fate == IF_DEAD) {
			st = "dead";
		} else if (it->fate == IF_RETRY) {
			int attempt = it->attempts + 1;
			int max = cfg->jobs.max_attempts > 0 ? cfg->jobs.max_attempts : 8;
			if (attempt >= max) {
				st = "dead";
			} else {
				uint64_t rnd = 0;
				if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
					rnd = (uint64_t)clock_mono_ms();
				st = "pending";
				delay = jobs_backoff_ms(attempt, cfg->jobs.backoff_base_ms, cfg->jobs.backoff_max_ms, rnd);
			}
		}
		json_array_append_new(a, json_pack("{s:I,s:s,s:s?,s:I,s:b}", "id", (json_int_t)it->id, "status", st,
						   "note", it->note[0] ? it->note : NULL, "delay", (json_int_t)delay,
						   "counted", it->fate == IF_RETRY || it->fate == IF_DEAD));
		const char *res = it->fate == IF_DONE ? "applied"
				  : it->fate == IF_SKIPPED ? "skipped"
				  : !strcmp(st, "dead")	 ? "dead"
							 : "failed";
		metrics_add(h->ctx.metrics, "sb_okta_events_total", 1, "result", res, NULL);
	}
	char *t = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (!t)
		return err_set(e, -1, "out of memory");
	const char *p[] = {t};
	int rc = db_run(c,
			"UPDATE inbox i SET status = x->>'status', last_error = x->>'note',"
			" attempts = i.attempts + CASE WHEN (x->>'counted')::boolean THEN 1 ELSE 0 END,"
			" processed_at = CASE WHEN x->>'status' = 'pending' THEN NULL ELSE now() END,"
			" next_attempt_at = CASE WHEN x->>'status' = 'pending'"
			"  THEN now() + (x->>'delay')::bigint * interval '1 millisecond' END"
			" FROM jsonb_array_elements($1::jsonb) x WHERE i.id = (x->>'id')::bigint",
			1, p, e);
	free(t);
	if (rc)
		return -1;
	return 0;
}

long okta_hooks_drain_once(struct okta_hooks *h, PGconn *c, struct err *e)
{
	struct batch b = {0};
	long processed = -1;
	int locked = 0;
	char rid[48];
	snprintf(rid, sizeof rid, "okta-events-%lld", (long long)clock_now_ms());
	h->ctx.request_id = rid;
	if (load_batch(c, &b, e))
		goto out;
	if (!b.nitems) {
		processed = 0;
		goto out;
	}
	int lk = sync_lock_try(c, e);
	if (lk < 0)
		goto out;
	if (!lk) { /* a full reconcile runs: it converges these users too; wait for it */
		processed = 0;
		goto out;
	}
	locked = 1;
	if (clients(h, e)) {
		/* Misconfigured: keep the items; they are retried with backoff. */
		for (size_t i = 0; i < b.nitems; i++)
			if (b.items[i].fate == IF_DONE) {
				b.items[i].fate = IF_RETRY;
				snprintf(b.items[i].note, sizeof b.items[i].note, "%.300s", e->msg);
			}
		err_clear(e);
		goto fates;
	}
	collect_policy_groups(h->ctx.cfg, &b);
	/* 1. The events, in published order, onto the mirror. */
	if (db_begin(c, e))
		goto out;
	for (size_t i = 0; i < b.nitems; i++)
		if (b.items[i].fate == IF_DONE && apply_event(h, c, &b, &b.items[i], e)) {
			db_rollback(c);
			goto out;
		}
	/* 2. The users the events could not settle, read from Okta. */
	for (size_t i = 0; i < b.nusers; i++)
		if (b.users[i].reread && reread_user(h, c, &b, &b.users[i], e)) {
			db_rollback(c);
			goto out;
		}
	if (db_commit(c, e))
		goto out;
	/* 3. Reconcile the touched users with the policy, as the sync does. */
	size_t n = 0, ne = 0;
	const char **ids = calloc(b.nusers + 1, sizeof *ids), **emails = calloc(b.nusers + 1, sizeof *emails);
	const char **old = calloc(b.nusers + 1, sizeof *old);
	if (!ids || !emails || !old) {
		free(ids);
		free(emails);
		free(old);
		err_set(e, -1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < b.nusers; i++) {
		if (b.users[i].failed || !b.users[i].touched)
			continue;
		ids[n] = b.users[i].id;
		emails[n++] = b.users[i].email_before;
		if (b.users[i].email_before)
			old[ne++] = b.users[i].email_before;
	}
	struct sync_report rep;
	memset(&rep, 0, sizeof rep);
	int src = 0;
	if (n) {
		struct sync_users_in in = {.user_ids = ids, .user_emails = emails, .n = n, .emails = old, .nemails = ne};
		struct ctx cx = h->ctx;
		src = sync_users(&cx, c, h->sc, &in, &rep, e);
	}
	free(ids);
	free(emails);
	free(old);
	if (src) {
		sync_report_free(&rep);
		goto out;
	}
	/* 4. Each user's worst outcome decides the fate of their items. */
	for (size_t k = 0; k < rep.plan.n; k++) {
		const struct policy_change *ch = &rep.plan.changes[k];
		enum sync_change_status st = rep.cstatus[k];
		if (st != SCS_FAILED && st != SCS_REFUSED)
			continue;
		for (size_t i = 0; i < b.nusers; i++) {
			struct user_ref *u = &b.users[i];
			int match = (ch->okta_id && !strcmp(ch->okta_id, u->id)) ||
				    (u->email_before && ch->email && !strcasecmp(ch->email, u->email_before));
			if (!match)
				continue;
			enum item_fate f = st == SCS_REFUSED ? IF_DEAD : transient(rep.cerror[k]) ? IF_RETRY : IF_DONE;
			if (f > u->fate || !u->note[0]) {
				if (f >= u->fate)
					u->fate = f;
				snprintf(u->note, sizeof u->note, "%s %s: %.250s", policy_change_kind_name(ch->kind),
					 st == SCS_REFUSED ? "refused" : "failed", rep.cerror[k] ? rep.cerror[k] : "");
			}
		}
	}
	sync_report_free(&rep);
	for (size_t i = 0; i < b.nitems; i++) {
		struct item *it = &b.items[i];
		if (it->fate != IF_DONE || !it->ev.user_id)
			continue;
		for (size_t k = 0; k < b.nusers; k++) {
			struct user_ref *u = &b.users[k];
			if (strcmp(u->id, it->ev.user_id))
				continue;
			if (u->failed) {
				it->fate = IF_RETRY;
				snprintf(it->note, sizeof it->note, "%s", u->note);
			} else if (u->fate != IF_DONE) {
				it->fate = u->fate;
				snprintf(it->note, sizeof it->note, "%s", u->note);
			} else if (u->note[0] && !it->note[0]) {
				snprintf(it->note, sizeof it->note, "%s", u->note);
			}
		}
	}
	/* Group deletions: the fate of the members' changes. */
	for (size_t i = 0; i < b.nitems; i++) {
		struct item *it = &b.items[i];
		if (it->fate != IF_DONE || it->ev.kind != OE_GROUP_DELETED)
			continue;
		for (size_t k = 0; k < b.nusers; k++)
			if (b.users[k].fate > it->fate)
				it->fate = b.users[k].fate;
	}
fates:
	if (record_fates(h, c, &b, e))
		goto out;
	{
		/* Delivery-to-applied latency of what this batch finished. */
		json_t *a = json_array();
		for (size_t i = 0; a && i < b.nitems; i++)
			if (b.items[i].fate == IF_DONE)
				json_array_append_new(a, json_integer(b.items[i].id));
		char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
		json_decref(a);
		const char *p[] = {t};
		PGresult *r = t ? db_exec(c,
					  "SELECT extract(epoch FROM processed_at - received_at) FROM inbox"
					  " WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)",
					  1, p, e)
				: NULL;
		for (int i = 0; r && i < PQntuples(r); i++)
			metrics_observe(h->ctx.metrics, "sb_okta_event_apply_seconds", atof(PQgetvalue(r, i, 0)), NULL);
		PQclear(r);
		free(t);
		err_clear(e);
	}
	processed = (long)b.nitems;
out:
	if (locked)
		sync_unlock(c);
	batch_free(&b);
	h->ctx.request_id = NULL;
	return processed;
}

/* Age of the oldest item due, for the queue lag gauge. */
static void refresh_lag(struct okta_hooks *h, PGconn *c)
{
	struct err e;
	err_clear(&e);
	PGresult *r = db_exec(c,
			      "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0), count(*) FROM inbox"
			      " WHERE source = 'okta' AND status = 'pending'",
			      0, NULL, &e);
	if (!r)
		return;
	metrics_set(h->ctx.metrics, "sb_okta_event_queue_lag_seconds", atof(PQgetvalue(r, 0, 0)), NULL);
	metrics_set(h->ctx.metrics, "sb_okta_events_pending", atof(PQgetvalue(r, 0, 1)), NULL);
	PQclear(r);
}

static void *drainer_main(void *arg)
{
	struct okta_hooks *h = arg;
	PGconn *c = NULL;
	int leader = 0;
	int64_t backoff = 200, next_lag = 0;
	while (!atomic_load(&h->stop)) {
		struct err e;
		err_clear(&e);
		if (!c) {
			c = db_connect(h->conninfo, 5000, &e);
			if (c && db_run(c, "LISTEN " EVENTS_CHANNEL, 0, NULL, &e)) {
				PQfinish(c);
				c = NULL;
			}
			if (!c) {
				clock_sleep_ms(backoff, &h->stop_flag);
				backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
				continue;
			}
			backoff = 200;
			leader = 0;
		}
		if (!leader) {
			PGresult *r = db_exec(c, "SELECT pg_try_advisory_lock(" DRAIN_LOCK_KEY ")", 0, NULL, &e);
			if (r) {
				leader = PQgetvalue(r, 0, 0)[0] == 't';
				PQclear(r);
				if (leader)
					log_info(h->ctx.log, MOD, NULL, "this replica drains the Okta event inbox", NULL);
			}
		}
		long n = 0;
		if (leader) {
			n = okta_hooks_drain_once(h, c, &e);
			if (n < 0)
				log_error(h->ctx.log, MOD, NULL, "draining Okta events failed; will retry", "error", e.msg,
					  NULL);
			if (clock_mono_ms() >= next_lag) {
				refresh_lag(h, c);
				next_lag = clock_mono_ms() + 2000;
			}
		}
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		if (n > 0)
			continue; /* more may be due */
		/* Wait for a NOTIFY, at most a second (standbys retry the lock then). */
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		int pr = poll(&pfd, 1, n < 0 ? 1000 : leader ? 1000 : 1000);
		if (pr > 0) {
			if (!PQconsumeInput(c)) {
				PQfinish(c);
				c = NULL;
				continue;
			}
			PGnotify *nt;
			while ((nt = PQnotifies(c)))
				PQfreemem(nt);
		}
	}
	if (c)
		PQfinish(c); /* releases the drain lock */
	return NULL;
}

int okta_hooks_start(struct okta_hooks *h, struct err *e)
{
	const struct config *cfg = h->ctx.cfg;
	if (!cfg->okta.base_url[0] || !cfg->sentry.base_url[0])
		return 0;
	atomic_store(&h->stop, 0);
	if (pthread_create(&h->thread, NULL, drainer_main, h))
		return err_set(e, -1, "cannot start the Okta event drainer");
	h->started = 1;
	return 0;
}

void okta_hooks_stop(struct okta_hooks *h)
{
	if (!h || !h->started)
		return;
	atomic_store(&h->stop, 1);
	h->stop_flag = 1;
	pthread_join(h->thread, NULL);
	h->started = 0;
}

/* ---- jobs: replay and the System Log ------------------------------------ */

/* POST /api/v1/inbox/{id}/replay queues "inbox.okta": wake the drainer. */
static enum job_result job_inbox_okta(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)job;
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return JOB_RETRY;
	int rc = db_run(c,
			"UPDATE inbox SET attempts = 0, next_attempt_at = NULL WHERE source = 'okta' AND status = 'pending'"
			" AND id = (($1::jsonb)->>'inbox_id')::bigint",
			1, (const char *const[]){job->payload}, e);
	if (!rc)
		rc = db_run(c, "SELECT pg_notify('" EVENTS_CHANNEL "', '')", 0, NULL, e);
	db_release(ctx->db, c);
	return rc ? JOB_RETRY : JOB_DONE;
}

static enum job_result job_syslog_poll(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)job;
	struct okta_hooks *h = arg;
	struct okta_client *oc = okta_client_new(ctx->cfg, ctx->log, ctx->metrics, e);
	if (!oc)
		return JOB_FAIL;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c) {
		okta_client_free(oc);
		return JOB_RETRY;
	}
	(void)h;
	enum job_result res = JOB_RETRY;
	char lookback[32];
	snprintf(lookback, sizeof lookback, "%lld", (long long)ctx->cfg->okta.system_log_poll.lookback_ms);
	const char *pl[] = {lookback};
	int err = 0;
	char *url = scalar(c, "SELECT next_url FROM okta_syslog_state", 0, NULL, &err, e);
	char *since = err ? NULL
			  : scalar(c,
				   "SELECT to_char((now() - $1::bigint * interval '1 millisecond') AT TIME ZONE 'UTC',"
				   " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
				   1, pl, &err, e);
	size_t ntypes = 0;
	while (okta_event_types[ntypes])
		ntypes++;
	size_t total = 0;
	for (int page = 0; !err && page < SYSLOG_MAX_PAGES; page++) {
		json_t *arr = NULL;
		char *next = NULL;
		if (okta_logs_page(oc, url, since, okta_event_types, ntypes, &arr, &next, e))
			break;
		size_t n = json_array_size(arr);
		struct okta_event *ev = calloc(n + 1, sizeof *ev);
		struct store_stats st = {0};
		int rc = ev ? 0 : err_set(e, -1, "out of memory");
		for (size_t i = 0; !rc && i < n; i++)
			okta_event_read(json_array_get(arr, i), &ev[i]);
		const char *pn[] = {next};
		if (!rc)
			rc = db_begin(c, e) || store_events(ctx, c, ev, n, &st, e) ||
			     db_run(c,
				    "INSERT INTO okta_syslog_state (id, next_url, polled_at, events) VALUES (true, $1, now(), 0)"
				    " ON CONFLICT (id) DO UPDATE SET next_url = coalesce($1, okta_syslog_state.next_url),"
				    " polled_at = now()",
				    1, pn, e) ||
			     (st.stored && db_run(c, "SELECT pg_notify('" EVENTS_CHANNEL "', '')", 0, NULL, e)) ||
			     db_commit(c, e);
		if (rc && PQtransactionStatus(c) != PQTRANS_IDLE)
			db_rollback(c);
		free(ev);
		json_decref(arr);
		total += st.stored;
		metrics_add(ctx->metrics, "sb_okta_syslog_events_total", (double)st.stored, "result", "stored", NULL);
		metrics_add(ctx->metrics, "sb_okta_syslog_events_total", (double)st.duplicates, "result", "duplicate",
			    NULL);
		int caught_up = !next || (url && !strcmp(next, url)) || n < 1000;
		free(url);
		url = next;
		if (rc)
			break;
		if (caught_up) {
			res = JOB_DONE;
			break;
		}
	}
	if (res != JOB_DONE && !e->msg[0])
		res = JOB_DONE; /* the page cap: the next poll continues */
	if (res == JOB_DONE && total) {
		char n[24];
		snprintf(n, sizeof n, "%zu", total);
		log_info(ctx->log, MOD, ctx->request_id, "System Log events caught up", "#stored", n, NULL);
	}
	free(url);
	free(since);
	db_release(ctx->db, c);
	okta_client_free(oc);
	return res;
}

static int task_syslog(struct ctx *ctx, void *arg, struct err *e)
{
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	struct job_spec js = {.kind = "okta.syslog.poll", .dedupe_key = "poll"};
	int rc = jobs_enqueue(c, &js, NULL, e);
	db_release(ctx->db, c);
	return rc;
}

/* ---- wiring ------------------------------------------------------------- */

struct okta_hooks *okta_hooks_new(struct app *a, const char *conninfo)
{
	struct okta_hooks *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->app = a;
	h->ctx = a->ctx;
	h->ctx.request_id = NULL;
	h->conninfo = strdup(conninfo);
	if (!h->conninfo) {
		free(h);
		return NULL;
	}
	atomic_init(&h->stop, 0);
	return h;
}

void okta_hooks_free(struct okta_hooks *h)
{
	if (!h)
		return;
	okta_hooks_stop(h);
	okta_client_free(h->oc);
	sentry_client_free(h->sc);
	free(h->conninfo);
	free(h);
}

int okta_hooks_register(struct okta_hooks *h, struct router *r, struct jobs *q, struct sched *s)
{
	struct metrics *m = h->ctx.metrics;
	metrics_describe(m, "sb_okta_hook_deliveries_total", METRIC_COUNTER,
			 "Okta event hook deliveries, by result (stored, unauthorized, bad_request, db_unavailable, "
			 "db_error).");
	metrics_describe(m, "sb_okta_events_total", METRIC_COUNTER,
			 "Okta events, by result (received, duplicate, invalid, applied, skipped, failed, dead, stale, "
			 "reread).");
	metrics_describe(m, "sb_okta_event_queue_lag_seconds", METRIC_GAUGE,
			 "Age of the oldest Okta event waiting in the inbox.");
	metrics_describe(m, "sb_okta_events_pending", METRIC_GAUGE, "Okta events waiting in the inbox.");
	metrics_describe(m, "sb_okta_event_apply_seconds", METRIC_HISTOGRAM,
			 "Time from an Okta event's delivery to its change applied in Sentry.");
	metrics_describe(m, "sb_okta_user_reads_total", METRIC_COUNTER,
			 "Users read from Okta because an event was stale, ambiguous or named a new user.");
	metrics_describe(m, "sb_okta_syslog_events_total", METRIC_COUNTER,
			 "Events read by System Log polling, by result (stored, duplicate).");
	int rc = 0;
	rc |= router_add(r, "GET", "/hooks/okta", h_verify, h);
	rc |= router_add(r, "POST", "/hooks/okta", h_delivery, h);
	rc |= jobs_register(q, "inbox.okta", job_inbox_okta, h);
	rc |= jobs_register(q, "okta.syslog.poll", job_syslog_poll, h);
	const struct config *cfg = h->ctx.cfg;
	if (!rc && cfg->okta.base_url[0] && cfg->okta.system_log_poll.enabled)
		rc |= sched_add(s, "okta.syslog", cfg->okta.system_log_poll.interval_ms, task_syslog, h);
	return rc ? -1 : 0;
}
