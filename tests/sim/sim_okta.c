/*
 * sim_okta.c: the simulated Okta Management API (users and groups) under
 * /api/v1, as described in shared/reference/okta-api.md sections 2 and 3.
 *
 * What it reproduces: SSWS auth and Okta's error bodies; user and group
 * objects with their documented fields; cursor pagination through one
 * `link` header per relation (self, next), the cursor being the id of the
 * last item returned; `filter`/`search` expressions, `q` prefix search; a
 * plain user list hiding DEPROVISIONED users; lifecycle transitions;
 * membership writes that bump lastMembershipUpdated; X-Rate-Limit-* on
 * every response with per-bucket 60 s windows and E0000047 429s;
 * X-Okta-Request-Id on every response.
 *
 * The handler runs with the state lock held (read for GET, write else).
 */
#include "sim.h"

#include "sim_oktalog.h"
#include "sim_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Default user type id (Okta's "User" type). */
#define OKTA_USER_TYPE_ID "oty1simdefaulttype00"

/* Page size rules (okta-api.md 2.2; groups clamped to 200 in the sim, see docs). */
#define USERS_LIMIT_DEFAULT 200
#define USERS_LIMIT_MAX 200
#define USERS_Q_LIMIT_DEFAULT 10
#define GROUPS_LIMIT_DEFAULT 200
#define GROUPS_LIMIT_MAX 200
#define GROUPS_Q_LIMIT_DEFAULT 300
#define GROUPS_Q_LIMIT_MAX 10000
#define MEMBERS_LIMIT_DEFAULT 1000
#define MEMBERS_LIMIT_MAX 1000

/* ---- common response parts ---------------------------------------------------------------- */

/* Deterministic pseudo-random characters derived from x. */
static void fill_chars(char *out, size_t n, uint64_t x)
{
	static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 10 == 0)
			x = sim_mix64(x + i);
		out[i] = a[x % 62];
		x /= 62;
	}
	out[n] = '\0';
}

/* Okta error body with a deterministic errorId. causes is stolen (NULL: []). */
static void okta_error(const struct sim_request *req, struct sim_response *resp, int status,
		       const char *code, const char *summary, json_t *causes)
{
	char eid[24];

	memcpy(eid, "oae", 3);
	fill_chars(eid + 3, 19, req->seq * 0x2545F4914F6CDD1DULL + 7);
	sim_resp_json(resp, status, json_pack("{s:s, s:s, s:s, s:s, s:o}", "errorCode", code,
					      "errorSummary", summary, "errorLink", code,
					      "errorId", eid, "errorCauses", causes ? causes : json_array()));
}

/* 400 E0000001 with one cause. */
static void okta_validation(const struct sim_request *req, struct sim_response *resp,
			    const char *field, const char *cause)
{
	char *summary = sim_asprintf("Api validation failed: %s", field);
	char *c = sim_asprintf("%s: %s", field, cause);

	if (!summary || !c) {
		resp->oom = true;
	} else {
		okta_error(req, resp, 400, "E0000001", summary,
			   json_pack("[{s:s}]", "errorSummary", c));
	}
	free(summary);
	free(c);
}

/* 404 E0000007 for a resource of a kind ("User", "UserGroup"). */
static void okta_not_found(const struct sim_request *req, struct sim_response *resp,
			   const char *id, const char *kind)
{
	char *s = sim_asprintf("Not found: Resource not found: %s (%s)", id, kind);

	if (!s) {
		resp->oom = true;
		return;
	}
	okta_error(req, resp, 404, "E0000007", s, NULL);
	free(s);
}

/* 405 for a known path with the wrong method. */
static void okta_bad_method(const struct sim_request *req, struct sim_response *resp)
{
	okta_error(req, resp, 405, "E0000022", "The endpoint does not support the provided HTTP method",
		   NULL);
}

/* The rate-limit bucket of a path (okta-api.md 3.2, coarse: users*, groups*, logs, the rest). */
static const char *okta_bucket(const struct sim_request *req)
{
	if (req->nseg >= 3 && strcmp(req->seg[2], "logs") == 0)
		return "okta:/api/v1/logs";
	if (req->nseg >= 3 && strcmp(req->seg[2], "users") == 0)
		return "okta:/api/v1/users";
	if (req->nseg >= 3 && strcmp(req->seg[2], "groups") == 0)
		return "okta:/api/v1/groups";
	return "okta:/api/v1";
}

/* The per-minute limit of the request's bucket (the System Log has its own). */
static long okta_bucket_limit(const struct sim_ctx *ctx, const struct sim_request *req)
{
	if (req->nseg >= 3 && strcmp(req->seg[2], "logs") == 0)
		return ctx->opts.okta_logs_rate_limit;
	return ctx->opts.okta_rate_limit;
}

/* X-Okta-Request-Id derived from the request sequence number. */
static void add_request_id(const struct sim_request *req, struct sim_response *resp)
{
	char rid[28];

	fill_chars(rid, 27, req->seq ^ 0x5DEECE66DULL);
	sim_resp_header(resp, "X-Okta-Request-Id", rid);
}

/* The three X-Rate-Limit-* headers. */
static void add_rate_headers(struct sim_response *resp, long limit, long remaining, int64_t reset)
{
	sim_resp_headerf(resp, "X-Rate-Limit-Limit", "%ld", limit);
	sim_resp_headerf(resp, "X-Rate-Limit-Remaining", "%ld", remaining < 0 ? 0 : remaining);
	sim_resp_headerf(resp, "X-Rate-Limit-Reset", "%lld", (long long)reset);
}

/* Timestamp or null. */
static json_t *jtime(int64_t ms)
{
	char buf[SIM_TIME_BUFSZ];

	if (!ms)
		return json_null();
	sim_fmt_okta_time(ms, buf);
	return json_string(buf);
}

/* ---- System Log events (okta-api.md 1.6-1.8) ----------------------------------------------------- */

/* Who acted. */
struct ev_actor {
	const char *id, *type, *alternate_id, *display_name;
};

/* The admin who owns the API token (every /api/v1 write is theirs). */
static const struct ev_actor api_actor = { "00usimtokenowner0001", "User", "okta-admin@okta.sim",
					   "Okta Admin (API token)" };

/* Okta itself (control-API changes, synthetic events). */
static const struct ev_actor system_actor = { "0oasystemprincipal00", "SystemPrincipal",
					      "system@okta.com", "Okta System" };

/* displayMessage / legacyEventType / severity per event type. */
static const struct ev_tmpl {
	const char *type, *display, *legacy;
} ev_tmpls[] = {
	{ "group.user_membership.add", "Add user to group membership", "core.user_group_member.user_add" },
	{ "group.user_membership.remove", "Remove user from group membership",
	  "core.user_group_member.user_remove" },
	{ "group.lifecycle.create", "Create Okta group", "core.user_group.created" },
	{ "group.lifecycle.delete", "Delete Okta group", "core.user_group.deleted" },
	{ "group.profile.update", "Update group profile", NULL },
	{ "user.lifecycle.create", "Create Okta user", "core.user.config.user_creation.success" },
	{ "user.lifecycle.activate", "Activate Okta user", "core.user.config.user_activated" },
	{ "user.lifecycle.reactivate", "Reactivate Okta user", "core.user.config.user_reactivated" },
	{ "user.lifecycle.deactivate", "Deactivate Okta user", "core.user.config.user_deactivated" },
	{ "user.lifecycle.suspend", "Suspend Okta user", "core.user.config.user_suspended" },
	{ "user.lifecycle.unsuspend", "Unsuspend Okta user", "core.user.config.user_unsuspended" },
	{ "user.lifecycle.delete.initiated", "Delete Okta user initiated", NULL },
	{ "user.lifecycle.delete.completed", "Delete Okta user completed", NULL },
	{ "user.account.update_profile", "Update user profile for Okta",
	  "core.user.config.profile_update.success" },
	{ "user.account.lock", "Max sign in attempts exceeded", "core.user.account.locked" },
	{ "user.account.unlock", "Unlock user account", "core.user.account.unlocked" },
	{ NULL, NULL, NULL },
};

/* A user target (borrowed strings copied by json_pack). */
static json_t *ev_user_target(const struct okta_user *u)
{
	char *name = sim_asprintf("%s%s%s", u->first_name ? u->first_name : "",
				  u->first_name && u->last_name ? " " : "", u->last_name ? u->last_name : "");
	json_t *t;

	if (!name)
		return NULL;
	t = json_pack("{s:s, s:s, s:s?, s:s, s:n}", "id", u->id, "type", "User", "alternateId",
		      u->login, "displayName", name, "detailEntry");
	free(name);
	return t;
}

/* A group target (alternateId is "unknown" in Okta's records). */
static json_t *ev_group_target(const struct okta_group *g)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:n}", "id", g->id, "type", "UserGroup", "alternateId",
			 "unknown", "displayName", g->name ? g->name : "", "detailEntry");
}

/*
 * Build a LogEvent. targets is stolen (NULL: empty). request_id doubles as
 * the transaction id (as for Okta WEB transactions). changed (may be NULL)
 * goes to debugData.changedAttributes. uuid and published are filled in by
 * okta_log_append.
 */
static json_t *ev_build(const char *type, const struct ev_actor *actor, json_t *targets,
			const char *request_uri, const char *request_id, const char *changed)
{
	const struct ev_tmpl *t;
	json_t *ev, *dbg;

	for (t = ev_tmpls; t->type && strcmp(t->type, type) != 0; t++)
		;
	if (!targets)
		targets = json_array();
	dbg = json_pack("{s:s, s:s}", "requestId", request_id, "requestUri",
			request_uri ? request_uri : "");
	if (dbg && changed && json_object_set_new(dbg, "changedAttributes", json_string(changed))) {
		json_decref(dbg);
		dbg = NULL;
	}
	ev = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:{s:s, s:s, s:s, s:s, s:n}, s:O,"
		       " s:{s:s, s:n}, s:{s:s, s:s, s:{}}, s:{s:o},"
		       " s:{s:{s:s}, s:n, s:s, s:s}, s:{s:[{s:s}]}, s:{s:s, s:s?}, s:{}}",
		       "eventType", type, "version", "0", "severity", "INFO",
		       "displayMessage", t->display ? t->display : type,
		       "legacyEventType", t->legacy,
		       "actor", "id", actor->id, "type", actor->type, "alternateId",
		       actor->alternate_id, "displayName", actor->display_name, "detailEntry",
		       "target", targets,
		       "outcome", "result", "SUCCESS", "reason",
		       "transaction", "type", "WEB", "id", request_id, "detail",
		       "debugContext", "debugData", dbg ? dbg : json_object(),
		       "client", "userAgent", "rawUserAgent", "sentry-bridge-sim", "zone",
		       "ipAddress", "127.0.0.1", "device", "Unknown",
		       "request", "ipChain", "ip", "127.0.0.1",
		       "authenticationContext", "authenticationProvider", "OKTA_AUTHENTICATION_PROVIDER",
		       "externalSessionId", strcmp(actor->type, "User") ? NULL : "trsSimApiToken",
		       "securityContext");
	json_decref(targets);
	return ev;
}

/* Targets for a user and/or a group (in that order, as Okta lists them). */
static json_t *ev_targets(const struct okta_user *u, const struct okta_group *g)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	if ((u && json_array_append_new(arr, ev_user_target(u))) ||
	    (g && json_array_append_new(arr, ev_group_target(g)))) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* Append an event about u and/or g caused by an /api/v1 request. */
static void emit(struct sim_ctx *ctx, const struct sim_request *req, const char *type,
		 const struct okta_user *u, const struct okta_group *g, const char *changed)
{
	char rid[28];

	fill_chars(rid, 27, req->seq ^ 0x5DEECE66DULL); /* = X-Okta-Request-Id */
	okta_log_append(ctx->oktalog,
			ev_build(type, &api_actor, ev_targets(u, g), req->raw_path, rid, changed),
			NULL);
}

/* Append an event about u and/or g done by Okta itself (a /_sim call at uri changed the state). */
static void emit_system(struct sim_ctx *ctx, const char *uri, const char *type,
			const struct okta_user *u, const struct okta_group *g, const char *changed,
			uint64_t txn)
{
	char rid[28];

	fill_chars(rid, 27, txn ^ 0x1F2E3D4C5B6AULL);
	okta_log_append(ctx->oktalog,
			ev_build(type, &system_actor, ev_targets(u, g), uri, rid, changed),
			NULL);
}

/* ---- object rendering -------------------------------------------------------------------------- */

/*
 * Append a user as Okta renders it. Written directly (not through jansson)
 * because user objects dominate every large Okta answer (users and group
 * members pages). Returns 0, or non-zero on allocation failure.
 */
static int user_write(struct sim_buf *b, const struct okta_user *u, const char *base)
{
	const json_t *mobile = json_object_get(u->profile_extra, "mobilePhone");
	const json_t *second = json_object_get(u->profile_extra, "secondEmail");
	const char *key;
	json_t *v;
	int rc = 0;

	rc |= sim_buf_puts(b, "{\"id\":");
	rc |= sim_buf_json_str(b, u->id);
	rc |= sim_buf_puts(b, ",\"status\":\"");
	rc |= sim_buf_puts(b, okta_status_name(u->status));
	rc |= sim_buf_puts(b, "\",\"created\":");
	rc |= sim_buf_okta_time(b, u->created);
	rc |= sim_buf_puts(b, ",\"activated\":");
	rc |= sim_buf_okta_time(b, u->activated);
	rc |= sim_buf_puts(b, ",\"statusChanged\":");
	rc |= sim_buf_okta_time(b, u->status_changed);
	rc |= sim_buf_puts(b, ",\"lastLogin\":");
	rc |= sim_buf_okta_time(b, u->last_login);
	rc |= sim_buf_puts(b, ",\"lastUpdated\":");
	rc |= sim_buf_okta_time(b, u->last_updated);
	rc |= sim_buf_puts(b, ",\"passwordChanged\":");
	rc |= sim_buf_okta_time(b, u->password_changed);
	rc |= sim_buf_puts(b, ",\"type\":{\"id\":\"" OKTA_USER_TYPE_ID "\"},\"profile\":{\"firstName\":");
	rc |= sim_buf_json_str(b, u->first_name);
	rc |= sim_buf_puts(b, ",\"lastName\":");
	rc |= sim_buf_json_str(b, u->last_name);
	rc |= sim_buf_puts(b, ",\"mobilePhone\":");
	rc |= sim_buf_json_str(b, json_string_value(mobile));
	rc |= sim_buf_puts(b, ",\"secondEmail\":");
	rc |= sim_buf_json_str(b, json_string_value(second));
	rc |= sim_buf_puts(b, ",\"login\":");
	rc |= sim_buf_json_str(b, u->login);
	rc |= sim_buf_puts(b, ",\"email\":");
	rc |= sim_buf_json_str(b, u->email);
	json_object_foreach(u->profile_extra, key, v) {
		char *val;

		if (!strcmp(key, "mobilePhone") || !strcmp(key, "secondEmail"))
			continue;
		val = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!val)
			return -1;
		rc |= sim_buf_puts(b, ",");
		rc |= sim_buf_json_str(b, key);
		rc |= sim_buf_puts(b, ":");
		rc |= sim_buf_puts(b, val);
		free(val);
	}
	rc |= sim_buf_puts(b, "},\"credentials\":{\"password\":{},\"emails\":[{\"value\":");
	rc |= sim_buf_json_str(b, u->email ? u->email : "");
	rc |= sim_buf_puts(b, ",\"status\":\"VERIFIED\",\"type\":\"PRIMARY\"}],"
			      "\"provider\":{\"type\":\"OKTA\",\"name\":\"OKTA\"}},"
			      "\"_links\":{\"self\":{\"href\":");
	rc |= sim_buf_printf(b, "\"%s/api/v1/users/", base);
	rc |= sim_buf_puts(b, u->id);
	rc |= sim_buf_puts(b, "\"}}}");
	return rc;
}

/* Answer with one user. */
static void user_reply(struct sim_response *resp, int status, const struct okta_user *u,
		       const char *base)
{
	struct sim_buf b;

	sim_buf_init(&b, 0);
	if (user_write(&b, u, base)) {
		sim_buf_free(&b);
		resp->oom = true;
		return;
	}
	sim_resp_json_text(resp, status, b.data, b.len);
}

/* A JSON array of users under construction. */
struct user_list {
	struct sim_buf b;
	size_t n;
	int rc;
};

/* Start an empty list. */
static void ulist_init(struct user_list *l)
{
	sim_buf_init(&l->b, 0);
	l->n = 0;
	l->rc = sim_buf_puts(&l->b, "[");
}

/* Append one user. */
static void ulist_add(struct user_list *l, const struct okta_user *u, const char *base)
{
	if (l->n++)
		l->rc |= sim_buf_puts(&l->b, ",");
	l->rc |= user_write(&l->b, u, base);
}

/* Close the list and answer 200 with it (the buffer is handed over). */
static void ulist_reply(struct user_list *l, struct sim_response *resp)
{
	l->rc |= sim_buf_puts(&l->b, "]");
	if (l->rc) {
		sim_buf_free(&l->b);
		resp->oom = true;
		return;
	}
	sim_resp_json_text(resp, 200, l->b.data, l->b.len);
	l->b.data = NULL;
}

/* A group as Okta renders it; stats adds _embedded.stats (expand=stats). */
static json_t *group_json(const struct okta_group *g, const char *base, bool stats)
{
	char *users = sim_asprintf("%s/api/v1/groups/%s/users", base, g->id);
	char *apps = sim_asprintf("%s/api/v1/groups/%s/apps", base, g->id);
	json_t *o = NULL;

	if (!users || !apps)
		goto out;
	o = json_pack("{s:s, s:o, s:o, s:o, s:[s], s:s, s:{s:s, s:s},"
		      " s:{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}], s:{s:s}, s:{s:s}}}",
		      "id", g->id, "created", jtime(g->created), "lastUpdated", jtime(g->last_updated),
		      "lastMembershipUpdated", jtime(g->last_membership_updated),
		      "objectClass", g->type == OKTA_GT_APP ? "okta:windows_security_principal"
							     : "okta:user_group",
		      "type", okta_group_type_name(g->type),
		      "profile", "name", g->name, "description", g->description ? g->description : "",
		      "_links", "logo",
		      "name", "medium", "href",
		      "https://op1static.oktacdn.com/assets/img/logos/groups/odyssey/okta-medium.png",
		      "type", "image/png",
		      "name", "large", "href",
		      "https://op1static.oktacdn.com/assets/img/logos/groups/odyssey/okta-large.png",
		      "type", "image/png",
		      "users", "href", users, "apps", "href", apps);
	if (o && stats &&
	    json_object_set_new(o, "_embedded",
				json_pack("{s:{s:I, s:i, s:i, s:b}}", "stats",
					  "usersCount", (json_int_t)g->nmembers, "appsCount", 0,
					  "groupPushMappingsCount", 0, "hasAdminPrivilege", 0))) {
		json_decref(o);
		o = NULL;
	}
out:
	free(users);
	free(apps);
	return o;
}

/* ---- filter / search expressions -------------------------------------------------------------- */

enum ftype { FT_STR, FT_TIME };
enum fop { OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_SW, OP_CO, OP_EW, OP_PR };
enum fkind { FN_CMP, FN_AND, FN_OR, FN_NOT };

/* One attribute an expression may name. */
struct fattr {
	const char *name;
	enum ftype type;
	bool in_filter;       /* allowed in `filter` (everything is allowed in `search`) */
};

/* An expression node. */
struct fnode {
	enum fkind kind;
	struct fnode *l, *r;
	int attr;             /* index into the attribute table, -1 = profile.<custom> */
	char *attr_name;
	enum fop op;
	char *value;          /* literal text (strings unquoted), NULL for null/pr */
	int64_t tvalue;       /* parsed timestamp for FT_TIME attributes */
};

/* User attributes (okta-api.md 2.2: filter allows status, lastUpdated, id, profile.*name/login/email). */
static const struct fattr user_attrs[] = {
	{ "id", FT_STR, true },
	{ "status", FT_STR, true },
	{ "lastUpdated", FT_TIME, true },
	{ "profile.login", FT_STR, true },
	{ "profile.email", FT_STR, true },
	{ "profile.firstName", FT_STR, true },
	{ "profile.lastName", FT_STR, true },
	{ "created", FT_TIME, false },
	{ "activated", FT_TIME, false },
	{ "statusChanged", FT_TIME, false },
	{ "lastLogin", FT_TIME, false },
	{ "passwordChanged", FT_TIME, false },
	{ "type.id", FT_STR, false },
	{ NULL, FT_STR, false },
};

/* Group attributes (filter: id, type, lastUpdated, lastMembershipUpdated). */
static const struct fattr group_attrs[] = {
	{ "id", FT_STR, true },
	{ "type", FT_STR, true },
	{ "lastUpdated", FT_TIME, true },
	{ "lastMembershipUpdated", FT_TIME, true },
	{ "created", FT_TIME, false },
	{ "profile.name", FT_STR, false },
	{ "profile.description", FT_STR, false },
	{ NULL, FT_STR, false },
};

/* Tokenizer / parser state. */
struct fparser {
	const char *p;
	const struct fattr *attrs;
	bool search;          /* search: every attribute, custom profile.* too */
	bool failed;
	bool any_attr;        /* System Log: any dotted attribute path (attr = -1) */
};

/* Free an expression tree. */
static void fnode_free(struct fnode *n)
{
	if (!n)
		return;
	fnode_free(n->l);
	fnode_free(n->r);
	free(n->attr_name);
	free(n->value);
	free(n);
}

/* Skip blanks. */
static void fp_ws(struct fparser *fp)
{
	while (isspace((unsigned char)*fp->p))
		fp->p++;
}

/* Read a bare word ([A-Za-z0-9._:-]+) into a new string; NULL if none. */
static char *fp_word(struct fparser *fp)
{
	const char *s;

	fp_ws(fp);
	s = fp->p;
	while (isalnum((unsigned char)*fp->p) || *fp->p == '.' || *fp->p == '_' || *fp->p == '-' ||
	       *fp->p == ':' || *fp->p == '+')
		fp->p++;
	if (fp->p == s)
		return NULL;
	return sim_strndup(s, (size_t)(fp->p - s));
}

/* Peek: is the next word kw (case-insensitive, followed by a non-word char)? */
static bool fp_peek_kw(struct fparser *fp, const char *kw)
{
	size_t n = strlen(kw);

	fp_ws(fp);
	return strncasecmp(fp->p, kw, n) == 0 && !isalnum((unsigned char)fp->p[n]) &&
	       fp->p[n] != '.' && fp->p[n] != '_';
}

/* Read a literal: "string" (with \" escapes) or a bare word; *is_null for null. */
static char *fp_literal(struct fparser *fp, bool *is_null)
{
	struct sim_buf b;

	*is_null = false;
	fp_ws(fp);
	if (*fp->p != '"') {
		char *w = fp_word(fp);

		if (w && strcmp(w, "null") == 0) {
			free(w);
			*is_null = true;
			return NULL;
		}
		return w;
	}
	sim_buf_init(&b, 0);
	fp->p++;
	while (*fp->p && *fp->p != '"') {
		if (*fp->p == '\\' && fp->p[1])
			fp->p++;
		if (sim_buf_append(&b, fp->p, 1)) {
			sim_buf_free(&b);
			return NULL;
		}
		fp->p++;
	}
	if (*fp->p != '"') {
		sim_buf_free(&b);
		return NULL;
	}
	fp->p++;
	return sim_buf_take(&b);
}

static struct fnode *fp_or(struct fparser *fp);

/* factor := '(' expr ')' | 'not' factor | attr op value | attr 'pr' */
static struct fnode *fp_factor(struct fparser *fp)
{
	static const char *const ops[] = { "eq", "ne", "gt", "ge", "lt", "le", "sw", "co", "ew", "pr" };
	struct fnode *n;
	char *op = NULL;
	bool is_null;
	size_t i;

	fp_ws(fp);
	if (*fp->p == '(') {
		fp->p++;
		n = fp_or(fp);
		fp_ws(fp);
		if (!n || *fp->p != ')') {
			fnode_free(n);
			return NULL;
		}
		fp->p++;
		return n;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (fp_peek_kw(fp, "not")) {
		fp->p += 3;
		n->kind = FN_NOT;
		n->l = fp_factor(fp);
		if (!n->l)
			goto fail;
		return n;
	}
	n->kind = FN_CMP;
	n->attr_name = fp_word(fp);
	if (!n->attr_name)
		goto fail;
	n->attr = -1;
	for (i = 0; fp->attrs[i].name; i++)
		if (strcmp(fp->attrs[i].name, n->attr_name) == 0)
			n->attr = (int)i;
	if (n->attr < 0 && !fp->any_attr && !(fp->search && fp->attrs == user_attrs &&
			     strncmp(n->attr_name, "profile.", 8) == 0 && n->attr_name[8]))
		goto fail;
	if (n->attr >= 0 && !fp->search && !fp->attrs[n->attr].in_filter)
		goto fail;
	op = fp_word(fp);
	if (!op)
		goto fail;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcasecmp(op, ops[i]) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		goto fail;
	n->op = (enum fop)i;
	free(op);
	op = NULL;
	if (n->op == OP_PR)
		return n;
	n->value = fp_literal(fp, &is_null);
	if (!n->value && !is_null)
		goto fail;
	if (n->attr >= 0 && fp->attrs[n->attr].type == FT_TIME && n->value &&
	    sim_parse_iso(n->value, &n->tvalue))
		goto fail;
	return n;
fail:
	free(op);
	fnode_free(n);
	return NULL;
}

/* Binary chain helper: and-level. */
static struct fnode *fp_and(struct fparser *fp)
{
	struct fnode *l = fp_factor(fp), *n;

	while (l && fp_peek_kw(fp, "and")) {
		fp->p += 3;
		n = calloc(1, sizeof(*n));
		if (!n) {
			fnode_free(l);
			return NULL;
		}
		n->kind = FN_AND;
		n->l = l;
		n->r = fp_factor(fp);
		if (!n->r) {
			fnode_free(n);
			return NULL;
		}
		l = n;
	}
	return l;
}

/* expr := and ('or' and)* */
static struct fnode *fp_or(struct fparser *fp)
{
	struct fnode *l = fp_and(fp), *n;

	while (l && fp_peek_kw(fp, "or")) {
		fp->p += 2;
		n = calloc(1, sizeof(*n));
		if (!n) {
			fnode_free(l);
			return NULL;
		}
		n->kind = FN_OR;
		n->l = l;
		n->r = fp_and(fp);
		if (!n->r) {
			fnode_free(n);
			return NULL;
		}
		l = n;
	}
	return l;
}

/* Parse a whole expression; NULL if invalid (or out of memory). */
static struct fnode *filter_parse(const char *text, const struct fattr *attrs, bool search)
{
	struct fparser fp = { text, attrs, search, false, false };
	struct fnode *n = fp_or(&fp);

	fp_ws(&fp);
	if (n && *fp.p) {
		fnode_free(n);
		return NULL;
	}
	return n;
}

/* Compare a string attribute value with a node. */
static bool cmp_str(const struct fnode *n, const char *v)
{
	int c;

	if (n->op == OP_PR)
		return v != NULL;
	if (!n->value)
		return n->op == OP_EQ ? v == NULL : n->op == OP_NE ? v != NULL : false;
	if (!v)
		return n->op == OP_NE;
	switch (n->op) {
	case OP_SW:
		return sim_startswith_ci(v, n->value);
	case OP_CO:
		return sim_contains_ci(v, n->value);
	case OP_EW: {
		size_t lv = strlen(v), ln = strlen(n->value);

		return lv >= ln && strcasecmp(v + lv - ln, n->value) == 0;
	}
	default:
		break;
	}
	c = strcmp(v, n->value);
	switch (n->op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	default: return false;
	}
}

/* Compare a timestamp attribute (0 = null) with a node. */
static bool cmp_time(const struct fnode *n, int64_t v)
{
	if (n->op == OP_PR)
		return v != 0;
	if (!n->value)
		return n->op == OP_EQ ? v == 0 : n->op == OP_NE ? v != 0 : false;
	if (!v)
		return n->op == OP_NE;
	switch (n->op) {
	case OP_EQ: return v == n->tvalue;
	case OP_NE: return v != n->tvalue;
	case OP_GT: return v > n->tvalue;
	case OP_GE: return v >= n->tvalue;
	case OP_LT: return v < n->tvalue;
	case OP_LE: return v <= n->tvalue;
	default: return false;
	}
}

/* Evaluate against a user. */
static bool eval_user(const struct fnode *n, const struct okta_user *u)
{
	switch (n->kind) {
	case FN_AND: return eval_user(n->l, u) && eval_user(n->r, u);
	case FN_OR: return eval_user(n->l, u) || eval_user(n->r, u);
	case FN_NOT: return !eval_user(n->l, u);
	case FN_CMP: break;
	}
	if (n->attr < 0)
		return cmp_str(n, json_string_value(json_object_get(u->profile_extra, n->attr_name + 8)));
	switch (n->attr) {
	case 0: return cmp_str(n, u->id);
	case 1: return cmp_str(n, okta_status_name(u->status));
	case 2: return cmp_time(n, u->last_updated);
	case 3: return cmp_str(n, u->login);
	case 4: return cmp_str(n, u->email);
	case 5: return cmp_str(n, u->first_name);
	case 6: return cmp_str(n, u->last_name);
	case 7: return cmp_time(n, u->created);
	case 8: return cmp_time(n, u->activated);
	case 9: return cmp_time(n, u->status_changed);
	case 10: return cmp_time(n, u->last_login);
	case 11: return cmp_time(n, u->password_changed);
	case 12: return cmp_str(n, OKTA_USER_TYPE_ID);
	default: return false;
	}
}

/* Evaluate against a group. */
static bool eval_group(const struct fnode *n, const struct okta_group *g)
{
	switch (n->kind) {
	case FN_AND: return eval_group(n->l, g) && eval_group(n->r, g);
	case FN_OR: return eval_group(n->l, g) || eval_group(n->r, g);
	case FN_NOT: return !eval_group(n->l, g);
	case FN_CMP: break;
	}
	switch (n->attr) {
	case 0: return cmp_str(n, g->id);
	case 1: return cmp_str(n, okta_group_type_name(g->type));
	case 2: return cmp_time(n, g->last_updated);
	case 3: return cmp_time(n, g->last_membership_updated);
	case 4: return cmp_time(n, g->created);
	case 5: return cmp_str(n, g->name);
	case 6: return cmp_str(n, g->description);
	default: return false;
	}
}

/* ---- pagination ------------------------------------------------------------------------------- */

/* The page size from ?limit= (junk or < 1 -> dflt, above max -> max). */
static size_t page_limit(const struct sim_request *req, size_t dflt, size_t max)
{
	int64_t v;

	if (!sim_parse_i64(sim_query_get(req, "limit"), &v) || v < 1)
		return dflt;
	return (size_t)v > max ? max : (size_t)v;
}

/*
 * Add `link` headers: rel="self" (the request) and, when next_cursor is
 * non-NULL, rel="next" with every other query parameter kept, then
 * after=<cursor>&limit=<limit>.
 */
static void add_links(const struct sim_request *req, struct sim_response *resp, const char *base,
		      const char *next_cursor, size_t limit)
{
	struct sim_buf others, self;
	size_t i;
	char *enc;
	const char *after = sim_query_get(req, "after");

	sim_buf_init(&others, 0);
	sim_buf_init(&self, 0);
	for (i = 0; i < req->nparams; i++) {
		const struct sim_param *p = &req->params[i];
		char *k, *v;

		if (!strcmp(p->key, "after") || !strcmp(p->key, "limit"))
			continue;
		k = sim_url_encode(p->key, true);
		v = sim_url_encode(p->value, true);
		if (!k || !v || sim_buf_printf(&others, "%s%s=%s", others.len ? "&" : "", k, v)) {
			free(k);
			free(v);
			resp->oom = true;
			goto out;
		}
		free(k);
		free(v);
	}
	if (sim_buf_printf(&self, "%s%s", base, req->raw_path) ||
	    sim_buf_printf(&self, "?%s%s", others.len ? others.data : "", others.len ? "&" : ""))
		goto oom;
	if (after) {
		enc = sim_url_encode(after, true);
		if (!enc || sim_buf_printf(&self, "after=%s&", enc)) {
			free(enc);
			goto oom;
		}
		free(enc);
	}
	if (sim_buf_printf(&self, "limit=%zu", limit))
		goto oom;
	sim_resp_headerf(resp, "link", "<%s>; rel=\"self\"", self.data);
	if (next_cursor) {
		enc = sim_url_encode(next_cursor, true);
		if (!enc)
			goto oom;
		sim_resp_headerf(resp, "link", "<%s%s?%s%safter=%s&limit=%zu>; rel=\"next\"", base,
				 req->raw_path, others.len ? others.data : "", others.len ? "&" : "",
				 enc, limit);
		free(enc);
	}
	goto out;
oom:
	resp->oom = true;
out:
	sim_buf_free(&others);
	sim_buf_free(&self);
}

/* Compile ?filter= or ?search= (400 E0000031 when invalid). *expr NULL if neither. */
static int compile_query(const struct sim_request *req, struct sim_response *resp,
			 const struct fattr *attrs, struct fnode **expr, bool *given)
{
	const char *filter = sim_query_get(req, "filter");
	const char *search = sim_query_get(req, "search");

	*expr = NULL;
	*given = filter || search;
	if (!*given)
		return 0;
	*expr = filter_parse(search ? search : filter, attrs, search != NULL);
	if (!*expr) {
		okta_error(req, resp, 400, "E0000031", "Invalid search criteria.", NULL);
		return -1;
	}
	return 0;
}

/* ---- System Log: GET /api/v1/logs (okta-api.md section 5) --------------------------------------- */

#define LOGS_LIMIT_DEFAULT 100
#define LOGS_LIMIT_MAX 1000
#define DAY_MS INT64_C(86400000)

/* No fixed attributes: a System Log filter names any dotted path of the LogEvent. */
static const struct fattr log_attrs[] = { { NULL, FT_STR, false } };

/* Does the node (a comparison) match v, the value at the end of its path? */
static bool log_cmp_value(const struct fnode *n, const json_t *v)
{
	char num[64];

	if (json_is_string(v))
		return cmp_str(n, json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return cmp_str(n, num);
	}
	if (json_is_true(v) || json_is_false(v))
		return cmp_str(n, json_is_true(v) ? "true" : "false");
	if (json_is_object(v) || json_is_array(v))
		return n->op == OP_PR || (n->op == OP_NE && n->value);
	return cmp_str(n, NULL); /* null or absent */
}

/* Walk path (dot-separated) from v; arrays match when any element does. */
static bool log_match_path(const struct fnode *n, const json_t *v, const char *path)
{
	const char *dot;
	char key[128];
	size_t len, i;
	json_t *e;

	if (json_is_array(v)) {
		json_array_foreach((json_t *)v, i, e)
			if (log_match_path(n, e, path))
				return true;
		return json_array_size(v) == 0 && log_cmp_value(n, NULL);
	}
	if (!*path)
		return log_cmp_value(n, v);
	dot = strchr(path, '.');
	len = dot ? (size_t)(dot - path) : strlen(path);
	if (len >= sizeof(key))
		return log_cmp_value(n, NULL);
	memcpy(key, path, len);
	key[len] = '\0';
	return log_match_path(n, json_object_get(v, key), dot ? dot + 1 : "");
}

/* Evaluate a filter on a stored event; *parsed caches the parsed text. */
static bool eval_log(const struct fnode *n, const struct okta_log_view *ev, json_t **parsed)
{
	switch (n->kind) {
	case FN_AND: return eval_log(n->l, ev, parsed) && eval_log(n->r, ev, parsed);
	case FN_OR: return eval_log(n->l, ev, parsed) || eval_log(n->r, ev, parsed);
	case FN_NOT: return !eval_log(n->l, ev, parsed);
	case FN_CMP: break;
	}
	if (!strcmp(n->attr_name, "eventType"))
		return cmp_str(n, ev->type);
	if (!*parsed)
		*parsed = json_loads(ev->text, 0, NULL);
	return *parsed && log_match_path(n, *parsed, n->attr_name);
}

/* Reject what Okta rejects in a System Log filter: published, and co on request URLs. */
static bool log_filter_allowed(const struct fnode *n)
{
	if (!n)
		return true;
	if (n->kind != FN_CMP)
		return log_filter_allowed(n->l) && log_filter_allowed(n->r);
	if (!strcmp(n->attr_name, "published"))
		return false;
	if (n->op == OP_CO && (!strcmp(n->attr_name, "debugContext.debugData.url") ||
			       !strcmp(n->attr_name, "debugContext.debugData.requestUri")))
		return false;
	return true;
}

/* A parsed ?q=: up to 10 keywords of up to 40 characters. */
struct log_q {
	char *copy;
	char *kw[10];
	size_t n;
};

/* All keywords occur (case-insensitively) in the event. */
static bool q_match(const struct log_q *q, const char *text)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (!sim_contains_ci(text, q->kw[i]))
			return false;
	return true;
}

/* One page position: events strictly after (ms, seq) in the query's order. */
struct log_pos {
	int64_t ms;
	uint64_t seq;
};

/* Parse an `after` cursor "<ms>_<seq>"; false if malformed. */
static bool cursor_parse(const char *s, struct log_pos *p)
{
	const char *us = s ? strchr(s, '_') : NULL;
	char *ms;
	int64_t a, b;
	bool ok;

	if (!us)
		return false;
	ms = sim_strndup(s, (size_t)(us - s));
	ok = ms && sim_parse_i64(ms, &a) && sim_parse_i64(us + 1, &b) && a >= 0 && b >= 0;
	free(ms);
	if (ok) {
		p->ms = a;
		p->seq = (uint64_t)b;
	}
	return ok;
}

/* Key of an event in a bounded query's order: (published, seq). */
static int pos_cmp(int64_t ams, uint64_t aseq, int64_t bms, uint64_t bseq)
{
	if (ams != bms)
		return ams < bms ? -1 : 1;
	return aseq < bseq ? -1 : aseq > bseq ? 1 : 0;
}

/* A candidate of a bounded query. */
struct log_hit {
	int64_t ms;
	uint64_t seq;
};

static int hit_cmp(const void *a, const void *b)
{
	const struct log_hit *x = a, *y = b;

	return pos_cmp(x->ms, x->seq, y->ms, y->seq);
}

/*
 * Link header: self is the request; next keeps every parameter but after and
 * limit, and but since unless keep_since (bounded queries keep their window).
 */
static void log_links(const struct sim_request *req, struct sim_response *resp, const char *base,
		      const char *next_cursor, int64_t limit, bool keep_since)
{
	struct sim_buf others;
	size_t i;

	sim_resp_headerf(resp, "link", "<%s%s%s%s>; rel=\"self\"", base, req->raw_path,
			 req->raw_query[0] ? "?" : "", req->raw_query);
	if (!next_cursor)
		return;
	sim_buf_init(&others, 0);
	for (i = 0; i < req->nparams; i++) {
		const struct sim_param *p = &req->params[i];
		char *k, *v;

		if (!strcmp(p->key, "after") || !strcmp(p->key, "limit") ||
		    (!keep_since && !strcmp(p->key, "since")))
			continue;
		k = sim_url_encode(p->key, true);
		v = sim_url_encode(p->value, true);
		if (!k || !v || sim_buf_printf(&others, "%s=%s&", k, v))
			resp->oom = true;
		free(k);
		free(v);
	}
	sim_resp_headerf(resp, "link", "<%s%s?%safter=%s&limit=%lld>; rel=\"next\"", base,
			 req->raw_path, others.data ? others.data : "", next_cursor, (long long)limit);
	sim_buf_free(&others);
}

/* 400 E0000001 for a bad System Log parameter. */
static int log_bad_param(const struct sim_request *req, struct sim_response *resp,
			 const char *param, const char *cause)
{
	okta_validation(req, resp, param, cause);
	return 0;
}

/* GET /api/v1/logs */
static int list_logs(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		     const char *base)
{
	const char *since_s = sim_query_get(req, "since"), *until_s = sim_query_get(req, "until");
	const char *after_s = sim_query_get(req, "after"), *limit_s = sim_query_get(req, "limit");
	const char *filter = sim_query_get(req, "filter"), *q_s = sim_query_get(req, "q");
	const char *order = sim_query_get(req, "sortOrder");
	int64_t now = sim_now_ms(), since = 0, until = 0, limit = LOGS_LIMIT_DEFAULT;
	struct log_pos after = { 0, 0 };
	struct fnode *expr = NULL;
	struct log_q q = { NULL, { NULL }, 0 };
	struct log_hit *hits = NULL;
	size_t nhits = 0, caphits = 0, i, n = 0;
	bool desc = false, polling, more = false;
	struct sim_buf out;
	uint64_t first, next, s, last_seq = 0;
	int64_t last_ms = 0;
	char cursor[64];
	int rc = 0;

	sim_buf_init(&out, 0);
	if (since_s && sim_parse_iso(since_s, &since))
		return log_bad_param(req, resp, "since", "must be an ISO 8601 timestamp");
	if (until_s && sim_parse_iso(until_s, &until))
		return log_bad_param(req, resp, "until", "must be an ISO 8601 timestamp");
	desc = order && !strcmp(order, "DESCENDING");
	if (after_s && since_s && !until_s && !desc)
		return log_bad_param(req, resp, "after", "cannot be combined with since");
	if (after_s && !cursor_parse(after_s, &after))
		return log_bad_param(req, resp, "after", "is not a valid cursor");
	if (limit_s && (!sim_parse_i64(limit_s, &limit) || limit < 0 || limit > LOGS_LIMIT_MAX))
		return log_bad_param(req, resp, "limit", "must be an integer between 0 and 1000");
	if (order && strcmp(order, "ASCENDING") != 0 && strcmp(order, "DESCENDING") != 0)
		return log_bad_param(req, resp, "sortOrder", "must be ASCENDING or DESCENDING");
	desc = order && !strcmp(order, "DESCENDING");
	if (since_s && since < now - 180 * DAY_MS) {
		okta_error(req, resp, 400, "E0000053",
			   "Invalid date. 'Since' must be later than 180 days ago.", NULL);
		return 0;
	}
	if (since_s && until_s && until < since)
		return log_bad_param(req, resp, "until", "must not be before since");
	if (filter) {
		struct fparser fp = { filter, log_attrs, false, false, true };

		expr = fp_or(&fp);
		fp_ws(&fp);
		if (!expr || *fp.p || !log_filter_allowed(expr)) {
			fnode_free(expr);
			okta_error(req, resp, 400, "E0000031", "Invalid search criteria.", NULL);
			return 0;
		}
	}
	if (q_s) {
		char *save = NULL, *tok;

		q.copy = sim_strdup(q_s);
		if (!q.copy) {
			rc = -1;
			goto out;
		}
		for (tok = strtok_r(q.copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (q.n == 10 || strlen(tok) > 40) {
				rc = log_bad_param(req, resp, "q",
						   "at most 10 keywords of at most 40 characters");
				goto out;
			}
			q.kw[q.n++] = tok;
		}
	}
	/* polling: no until, ascending; bounded (until, or descending): ordered by published */
	polling = !until_s && !desc;
	if (!until_s)
		until = now + 1;
	if (!since_s)
		since = until - 7 * DAY_MS;
	okta_log_lock(ctx->oktalog);
	okta_log_range(ctx->oktalog, &first, &next);
	if (out.len == 0 && sim_buf_puts(&out, "["))
		goto oom_locked;
	if (polling) {
		s = after_s ? after.seq + 1 : first;
		if (s < first)
			s = first;
		last_seq = after_s ? after.seq : 0;
		last_ms = after_s ? after.ms : since;
		for (; s < next; s++) {
			struct okta_log_view v;
			json_t *parsed = NULL;
			bool match;

			if (!okta_log_get(ctx->oktalog, s, &v))
				continue;
			if (!after_s && v.persisted < since)
				continue;
			if ((int64_t)n >= limit)
				break;
			match = (!expr || eval_log(expr, &v, &parsed)) && q_match(&q, v.text);
			json_decref(parsed);
			last_seq = s;
			last_ms = v.persisted;
			if (!match)
				continue;
			if ((n++ && sim_buf_puts(&out, ",")) || sim_buf_puts(&out, v.text))
				goto oom_locked;
		}
		if (!after_s && last_seq == 0)
			last_seq = next - 1; /* nothing yet: start after what exists now */
		more = true; /* a polling stream never ends */
	} else {
		for (s = first; s < next; s++) {
			struct okta_log_view v;
			json_t *parsed = NULL;
			bool match;

			if (!okta_log_get(ctx->oktalog, s, &v) || v.published < since ||
			    v.published >= until || v.published < now - 90 * DAY_MS)
				continue;
			if (after_s) {
				int c = pos_cmp(v.published, s, after.ms, after.seq);

				if (desc ? c >= 0 : c <= 0)
					continue;
			}
			match = (!expr || eval_log(expr, &v, &parsed)) && q_match(&q, v.text);
			json_decref(parsed);
			if (!match)
				continue;
			if (nhits == caphits) {
				struct log_hit *nh = realloc(hits, (caphits ? caphits * 2 : 64) * sizeof(*nh));

				if (!nh)
					goto oom_locked;
				hits = nh;
				caphits = caphits ? caphits * 2 : 64;
			}
			hits[nhits].ms = v.published;
			hits[nhits++].seq = s;
		}
		if (nhits)
			qsort(hits, nhits, sizeof(*hits), hit_cmp);
		for (i = 0; i < nhits && (int64_t)n < limit; i++, n++) {
			const struct log_hit *h = &hits[desc ? nhits - 1 - i : i];
			struct okta_log_view v;

			okta_log_get(ctx->oktalog, h->seq, &v);
			if ((n && sim_buf_puts(&out, ",")) || sim_buf_puts(&out, v.text))
				goto oom_locked;
			last_ms = h->ms;
			last_seq = h->seq;
		}
		more = n < nhits;
	}
	okta_log_unlock(ctx->oktalog);
	if (sim_buf_puts(&out, "]"))
		goto oom;
	snprintf(cursor, sizeof(cursor), "%lld_%llu", (long long)last_ms, (unsigned long long)last_seq);
	log_links(req, resp, base, more ? cursor : NULL, limit, !polling);
	n = out.len;
	sim_resp_json_text(resp, 200, sim_buf_take(&out), n);
	goto out;
oom_locked:
	okta_log_unlock(ctx->oktalog);
oom:
	rc = -1;
out:
	free(hits);
	free(q.copy);
	fnode_free(expr);
	sim_buf_free(&out);
	return rc;
}

/* ---- users ------------------------------------------------------------------------------------- */

/* GET /api/v1/users */
static int list_users(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		      const char *base)
{
	const struct okta_state *ok = &ctx->state->okta;
	const char *q = sim_query_get(req, "q");
	struct fnode *expr = NULL;
	const struct okta_user *last = NULL;
	struct user_list ul;
	bool filtered, more = false;
	size_t limit, i, n = 0;
	int rc = -1;

	ulist_init(&ul);
	if (q) {
		/* q: startsWith on firstName, lastName or email; no DEPROVISIONED; not paged */
		limit = page_limit(req, USERS_Q_LIMIT_DEFAULT, USERS_LIMIT_MAX);
		for (i = 0; i < ok->nusers && n < limit; i++) {
			const struct okta_user *u = ok->users[i];

			if (u->status == OKTA_DEPROVISIONED)
				continue;
			if (!sim_startswith_ci(u->first_name, q) && !sim_startswith_ci(u->last_name, q) &&
			    !sim_startswith_ci(u->email, q))
				continue;
			ulist_add(&ul, u, base);
			n++;
		}
		add_links(req, resp, base, NULL, limit);
		ulist_reply(&ul, resp);
		rc = 0;
		goto out;
	}
	limit = page_limit(req, USERS_LIMIT_DEFAULT, USERS_LIMIT_MAX);
	if (compile_query(req, resp, user_attrs, &expr, &filtered)) {
		rc = 0;
		goto out;
	}
	for (i = okta_users_after(ok, sim_query_get(req, "after")); i < ok->nusers; i++) {
		const struct okta_user *u = ok->users[i];

		/* a plain list omits DEPROVISIONED users; filter and search include them */
		if (!filtered && u->status == OKTA_DEPROVISIONED)
			continue;
		if (expr && !eval_user(expr, u))
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		ulist_add(&ul, u, base);
		last = u;
		n++;
	}
	add_links(req, resp, base, more && last ? last->id : NULL, limit);
	ulist_reply(&ul, resp);
	rc = 0;
out:
	fnode_free(expr);
	sim_buf_free(&ul.b);
	return rc;
}

/* Copy a JSON string field (or null) into *dst; -1 on OOM, 1 if not a string/null. */
static int set_str_field(char **dst, const json_t *v)
{
	char *s;

	if (json_is_null(v)) {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return 1;
	s = strdup(json_string_value(v));
	if (!s)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

/*
 * Apply a profile object to u: known fields go to the struct, others to
 * profile_extra (null removes). replace: start from an empty profile.
 * Returns 0, 400 after answering, or -1 on OOM.
 */
static int apply_profile(struct okta_state *ok, struct okta_user *u, const json_t *prof,
			 bool replace, const struct sim_request *req, struct sim_response *resp)
{
	const char *login = json_string_value(json_object_get(prof, "login"));
	const char *email = json_string_value(json_object_get(prof, "email"));
	const char *key;
	json_t *v;

	if (json_object_get(prof, "login") && (!login || !*login)) {
		okta_validation(req, resp, "login", "The field cannot be left blank");
		return 400;
	}
	if (json_object_get(prof, "email") && (!email || !strchr(email, '@'))) {
		okta_validation(req, resp, "email", "Does not match required pattern");
		return 400;
	}
	if (replace && (!login || !email)) {
		okta_validation(req, resp, login ? "email" : "login", "The field cannot be left blank");
		return 400;
	}
	if (login && (!u->login || strcmp(login, u->login) != 0)) {
		struct okta_user *other = okta_user_find(ok, login);

		if (other && other != u && sim_streq_ci(other->login, login)) {
			okta_validation(req, resp, "login",
					"An object with this field already exists in the current organization");
			return 400;
		}
		if (u->id) {
			int rc = okta_user_set_login(ok, u, login);

			if (rc == SIM_EDUP_KEY) {
				okta_validation(req, resp, "login",
						"An object with this field already exists in the current organization");
				return 400;
			}
			if (rc)
				return -1;
		} else if (set_str_field(&u->login, json_object_get(prof, "login"))) {
			return -1;
		}
	}
	if (replace) {
		free(u->first_name);
		free(u->last_name);
		u->first_name = u->last_name = NULL;
		json_decref(u->profile_extra);
		u->profile_extra = NULL;
	}
	json_object_foreach((json_t *)prof, key, v) {
		int rc = 0;

		if (!strcmp(key, "login"))
			continue;
		if (!strcmp(key, "email"))
			rc = set_str_field(&u->email, v);
		else if (!strcmp(key, "firstName"))
			rc = set_str_field(&u->first_name, v);
		else if (!strcmp(key, "lastName"))
			rc = set_str_field(&u->last_name, v);
		else if (json_is_null(v))
			json_object_del(u->profile_extra, key);
		else if ((!u->profile_extra && !(u->profile_extra = json_object())) ||
			 json_object_set(u->profile_extra, key, v))
			rc = -1;
		if (rc < 0)
			return -1;
		if (rc > 0) {
			okta_validation(req, resp, key, "Does not match required type");
			return 400;
		}
	}
	return 0;
}

/* POST /api/v1/users?activate=true|false */
static int create_user(struct sim_ctx *ctx, const struct sim_request *req,
		       struct sim_response *resp, const char *base)
{
	struct okta_state *ok = &ctx->state->okta;
	const char *activate = sim_query_get(req, "activate");
	json_t *body = sim_request_json(req, NULL), *prof, *v;
	struct okta_user *u = NULL;
	int64_t now = sim_now_ms();
	size_t i;
	int rc = -1, r;

	if (!json_is_object(body)) {
		okta_error(req, resp, 400, "E0000003", "The request body was not well-formed.", NULL);
		rc = 0;
		goto out;
	}
	prof = json_object_get(body, "profile");
	if (!json_is_object(prof)) {
		okta_validation(req, resp, "profile", "The field cannot be left blank");
		rc = 0;
		goto out;
	}
	u = okta_user_alloc();
	if (!u)
		goto out;
	r = apply_profile(ok, u, prof, true, req, resp);
	if (r) {
		rc = r > 0 ? 0 : -1;
		goto out;
	}
	u->created = u->last_updated = now;
	if (activate && strcmp(activate, "false") == 0) {
		u->status = OKTA_STAGED;
	} else {
		/* sim simplification: activation without a password goes straight to ACTIVE */
		u->status = OKTA_ACTIVE;
		u->activated = u->status_changed = now;
		if (json_object_get(json_object_get(body, "credentials"), "password"))
			u->password_changed = now;
	}
	r = okta_user_insert(ok, u);
	if (r == SIM_EDUP_KEY) {
		okta_validation(req, resp, "login",
				"An object with this field already exists in the current organization");
		rc = 0;
		goto out;
	}
	if (r)
		goto out;
	emit(ctx, req, "user.lifecycle.create", u, NULL, NULL);
	if (u->status == OKTA_ACTIVE)
		emit(ctx, req, "user.lifecycle.activate", u, NULL, NULL);
	/* every user is in the built-in Everyone group; groupIds adds more */
	for (i = 0; i < ok->ngroups; i++) {
		if (ok->groups[i]->type != OKTA_GT_BUILTIN)
			continue;
		r = okta_group_add_member(ok->groups[i], u);
		if (r < 0)
			goto inserted_oom;
		if (r > 0)
			emit(ctx, req, "group.user_membership.add", u, ok->groups[i], NULL);
	}
	json_array_foreach(json_object_get(body, "groupIds"), i, v) {
		struct okta_group *g = okta_group_find(ok, json_string_value(v));

		if (g) {
			r = okta_group_add_member(g, u);
			if (r < 0)
				goto inserted_oom;
			g->last_membership_updated = now;
			if (r > 0)
				emit(ctx, req, "group.user_membership.add", u, g, NULL);
		}
	}
	user_reply(resp, 200, u, base);
	u = NULL;
	rc = 0;
	goto out;
inserted_oom:
	u = NULL; /* owned by the state now */
out:
	okta_user_free(u);
	json_decref(body);
	return rc;
}

/* The profile fields compared for changedAttributes, as one JSON text (caller frees). */
static char *user_profile_text(const struct okta_user *u)
{
	json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:O?}", "login", u->login, "email", u->email,
			      "firstName", u->first_name, "lastName", u->last_name, "extra",
			      u->profile_extra);
	char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return t;
}

/* Comma-separated names of the profile attributes that differ from before (caller frees). */
static char *profile_changes(const char *before, const struct okta_user *u)
{
	json_t *b = json_loads(before, 0, NULL), *be, *ae;
	struct sim_buf out;
	const char *key;
	json_t *v;
	static const char *const known[] = { "login", "email", "firstName", "lastName" };
	const char *now[4];
	size_t i;

	now[0] = u->login;
	now[1] = u->email;
	now[2] = u->first_name;
	now[3] = u->last_name;
	sim_buf_init(&out, 0);
	for (i = 0; i < 4; i++) {
		const char *was = json_string_value(json_object_get(b, known[i]));

		if ((was == NULL) != (now[i] == NULL) || (was && strcmp(was, now[i]) != 0))
			sim_buf_printf(&out, "%s%s", out.len ? "," : "", known[i]);
	}
	be = json_object_get(b, "extra");
	ae = u->profile_extra;
	json_object_foreach(ae, key, v)
		if (!json_equal(v, json_object_get(be, key)))
			sim_buf_printf(&out, "%s%s", out.len ? "," : "", key);
	json_object_foreach(be, key, v)
		if (!json_object_get(ae, key))
			sim_buf_printf(&out, "%s%s", out.len ? "," : "", key);
	json_decref(b);
	return sim_buf_take(&out);
}

/* The event type of a lifecycle operation. */
static const char *lifecycle_event(const char *op)
{
	if (!strcmp(op, "activate"))
		return "user.lifecycle.activate";
	if (!strcmp(op, "deactivate"))
		return "user.lifecycle.deactivate";
	if (!strcmp(op, "suspend"))
		return "user.lifecycle.suspend";
	if (!strcmp(op, "unsuspend"))
		return "user.lifecycle.unsuspend";
	return "user.lifecycle.reactivate";
}

/* POST /api/v1/users/{id} (partial profile update) and PUT (full profile replace). */
static int update_user(struct sim_ctx *ctx, const struct sim_request *req,
		       struct sim_response *resp, const char *base, struct okta_user *u, bool replace)
{
	json_t *body = sim_request_json(req, NULL), *prof;
	char *before = NULL, *changed = NULL;
	int rc = 0, r;

	if (!json_is_object(body)) {
		okta_error(req, resp, 400, "E0000003", "The request body was not well-formed.", NULL);
		goto out;
	}
	prof = json_object_get(body, "profile");
	if (prof && !json_is_object(prof)) {
		okta_validation(req, resp, "profile", "Does not match required type");
		goto out;
	}
	if (prof) {
		before = user_profile_text(u);
		if (!before) {
			rc = -1;
			goto out;
		}
		r = apply_profile(&ctx->state->okta, u, prof, replace, req, resp);
		if (r) {
			rc = r > 0 ? 0 : -1;
			goto out;
		}
		changed = profile_changes(before, u);
		emit(ctx, req, "user.account.update_profile", u, NULL, changed);
	}
	u->last_updated = sim_now_ms();
	user_reply(resp, 200, u, base);
out:
	free(before);
	free(changed);
	json_decref(body);
	return rc;
}

/* POST /api/v1/users/{id}/lifecycle/{op} with okta-api.md 2.3's transition rules. */
static int lifecycle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		     struct okta_user *u, const char *op)
{
	enum okta_status from = u->status, to;
	int64_t now = sim_now_ms();
	bool ok;
	char *cause;

	if (!strcmp(op, "activate") || !strcmp(op, "reactivate")) {
		ok = from == OKTA_STAGED || from == OKTA_PROVISIONED || from == OKTA_DEPROVISIONED;
		to = OKTA_ACTIVE;
	} else if (!strcmp(op, "deactivate")) {
		ok = from != OKTA_DEPROVISIONED;
		to = OKTA_DEPROVISIONED;
	} else if (!strcmp(op, "suspend")) {
		ok = from == OKTA_ACTIVE;
		to = OKTA_SUSPENDED;
	} else if (!strcmp(op, "unsuspend")) {
		ok = from == OKTA_SUSPENDED;
		to = OKTA_ACTIVE;
	} else {
		okta_not_found(req, resp, req->raw_path, "Endpoint");
		return 0;
	}
	if (!ok) {
		cause = sim_asprintf("Cannot %s a user with status %s", op, okta_status_name(from));
		if (!cause)
			return -1;
		okta_error(req, resp, 400, "E0000001", "Api validation failed: status",
			   json_pack("[{s:s}]", "errorSummary", cause));
		free(cause);
		return 0;
	}
	u->status = to;
	u->status_changed = u->last_updated = now;
	if (to == OKTA_ACTIVE && (from == OKTA_STAGED || from == OKTA_PROVISIONED ||
				  from == OKTA_DEPROVISIONED))
		u->activated = now;
	/* deactivation keeps group memberships (Okta KB: not removed automatically) */
	if (!strcmp(op, "reactivate") || (!strcmp(op, "activate") && from == OKTA_DEPROVISIONED))
		emit(ctx, req, "user.lifecycle.reactivate", u, NULL, NULL);
	else
		emit(ctx, req, lifecycle_event(op), u, NULL, NULL);
	sim_resp_json(resp, 200, json_object());
	return 0;
}

/* DELETE /api/v1/users/{id}: deactivates first, deletes a DEPROVISIONED user. */
static int delete_user(struct sim_ctx *ctx, const struct sim_request *req,
		       struct sim_response *resp, struct okta_user *u)
{
	struct okta_state *ok = &ctx->state->okta;
	size_t i;

	if (u->status != OKTA_DEPROVISIONED) {
		u->status = OKTA_DEPROVISIONED;
		u->status_changed = u->last_updated = sim_now_ms();
		emit(ctx, req, "user.lifecycle.deactivate", u, NULL, NULL);
		sim_resp_empty(resp, 204);
		return 0;
	}
	emit(ctx, req, "user.lifecycle.delete.initiated", u, NULL, NULL);
	emit(ctx, req, "user.lifecycle.delete.completed", u, NULL, NULL);
	for (i = 0; i < ok->ngroups; i++)
		if (okta_group_remove_member(ok->groups[i], u))
			ok->groups[i]->last_membership_updated = sim_now_ms();
	sim_map_del(&ok->by_login, u->login);
	for (i = 0; i < ok->nusers; i++) {
		if (ok->users[i] == u) {
			memmove(&ok->users[i], &ok->users[i + 1], (ok->nusers - i - 1) * sizeof(u));
			ok->nusers--;
			break;
		}
	}
	okta_user_free(u);
	sim_resp_empty(resp, 204);
	return 0;
}

/* GET /api/v1/users/{id}/groups (all of them, no paging needed at sim sizes). */
static int user_groups(const struct okta_state *ok, struct sim_response *resp,
		       const struct okta_user *u, const char *base)
{
	json_t *arr = json_array();
	size_t i;

	if (!arr)
		return -1;
	for (i = 0; i < ok->ngroups; i++)
		if (okta_group_has_member(ok->groups[i], u) &&
		    json_array_append_new(arr, group_json(ok->groups[i], base, false))) {
			json_decref(arr);
			return -1;
		}
	sim_resp_json(resp, 200, arr);
	return 0;
}

/* /api/v1/users... */
static int route_users(struct sim_ctx *ctx, const struct sim_request *req,
		       struct sim_response *resp, const char *base)
{
	struct okta_state *ok = &ctx->state->okta;
	const char *m = req->method;
	struct okta_user *u;

	if (req->nseg == 3) {
		if (!strcmp(m, "GET"))
			return list_users(ctx, req, resp, base);
		if (!strcmp(m, "POST"))
			return create_user(ctx, req, resp, base);
		okta_bad_method(req, resp);
		return 0;
	}
	u = okta_user_find(ok, req->seg[3]);
	if (!u) {
		okta_not_found(req, resp, req->seg[3], "User");
		return 0;
	}
	if (req->nseg == 4) {
		if (!strcmp(m, "GET")) {
			user_reply(resp, 200, u, base);
			return 0;
		}
		if (!strcmp(m, "POST"))
			return update_user(ctx, req, resp, base, u, false);
		if (!strcmp(m, "PUT"))
			return update_user(ctx, req, resp, base, u, true);
		if (!strcmp(m, "DELETE"))
			return delete_user(ctx, req, resp, u);
		okta_bad_method(req, resp);
		return 0;
	}
	if (req->nseg == 5 && !strcmp(req->seg[4], "groups")) {
		if (strcmp(m, "GET")) {
			okta_bad_method(req, resp);
			return 0;
		}
		return user_groups(ok, resp, u, base);
	}
	if (req->nseg == 6 && !strcmp(req->seg[4], "lifecycle")) {
		if (strcmp(m, "POST")) {
			okta_bad_method(req, resp);
			return 0;
		}
		return lifecycle(ctx, req, resp, u, req->seg[5]);
	}
	okta_not_found(req, resp, req->raw_path, "Endpoint");
	return 0;
}

/* ---- groups ------------------------------------------------------------------------------------- */

/* GET /api/v1/groups */
static int list_groups(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		       const char *base)
{
	const struct okta_state *ok = &ctx->state->okta;
	const char *q = sim_query_get(req, "q");
	const char *expand = sim_query_get(req, "expand");
	bool stats = expand && strstr(expand, "stats");
	struct fnode *expr = NULL;
	const struct okta_group *last = NULL;
	json_t *arr = json_array();
	bool filtered, more = false;
	size_t limit, i, n = 0;
	int rc = -1;

	if (!arr)
		goto out;
	if (q) {
		/* q: startsWith on the name, not pageable, default limit 300 */
		limit = page_limit(req, GROUPS_Q_LIMIT_DEFAULT, GROUPS_Q_LIMIT_MAX);
		for (i = 0; i < ok->ngroups && n < limit; i++) {
			if (!sim_startswith_ci(ok->groups[i]->name, q))
				continue;
			if (json_array_append_new(arr, group_json(ok->groups[i], base, stats)))
				goto out;
			n++;
		}
		add_links(req, resp, base, NULL, limit);
		sim_resp_json(resp, 200, arr);
		arr = NULL;
		rc = 0;
		goto out;
	}
	limit = page_limit(req, GROUPS_LIMIT_DEFAULT, GROUPS_LIMIT_MAX);
	if (compile_query(req, resp, group_attrs, &expr, &filtered)) {
		rc = 0;
		goto out;
	}
	for (i = okta_groups_after(ok, sim_query_get(req, "after")); i < ok->ngroups; i++) {
		const struct okta_group *g = ok->groups[i];

		if (expr && !eval_group(expr, g))
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		if (json_array_append_new(arr, group_json(g, base, stats)))
			goto out;
		last = g;
		n++;
	}
	add_links(req, resp, base, more && last ? last->id : NULL, limit);
	sim_resp_json(resp, 200, arr);
	arr = NULL;
	rc = 0;
out:
	fnode_free(expr);
	json_decref(arr);
	return rc;
}

/* GET /api/v1/groups/{id}/users */
static int list_members(const struct sim_request *req, struct sim_response *resp,
			const struct okta_group *g, const char *base)
{
	size_t limit = page_limit(req, MEMBERS_LIMIT_DEFAULT, MEMBERS_LIMIT_MAX);
	size_t i = okta_group_members_after(g, sim_query_get(req, "after")), n = 0;
	struct user_list ul;

	ulist_init(&ul);
	for (; i < g->nmembers && n < limit; i++, n++)
		ulist_add(&ul, g->members[i], base);
	add_links(req, resp, base, i < g->nmembers && n ? g->members[i - 1]->id : NULL, limit);
	ulist_reply(&ul, resp);
	sim_buf_free(&ul.b);
	return 0;
}

/* Validate a group profile body; returns the name or NULL after answering 400. */
static const char *group_profile(const struct sim_request *req, struct sim_response *resp,
				 const json_t *body)
{
	const json_t *prof = json_object_get(body, "profile");
	const char *name = json_string_value(json_object_get(prof, "name"));

	if (!json_is_object(prof) || !name || !*name) {
		okta_validation(req, resp, "name", "The field cannot be left blank");
		return NULL;
	}
	return name;
}

/* POST /api/v1/groups (always an OKTA_GROUP). */
static int create_group(struct sim_ctx *ctx, const struct sim_request *req,
			struct sim_response *resp, const char *base)
{
	struct okta_state *ok = &ctx->state->okta;
	json_t *body = sim_request_json(req, NULL);
	const char *name, *desc;
	struct okta_group *g = NULL;
	int64_t now = sim_now_ms();
	int rc = -1;

	if (!json_is_object(body)) {
		okta_error(req, resp, 400, "E0000003", "The request body was not well-formed.", NULL);
		rc = 0;
		goto out;
	}
	name = group_profile(req, resp, body);
	if (!name) {
		rc = 0;
		goto out;
	}
	if (okta_group_find_name(ok, name)) {
		okta_validation(req, resp, "name",
				"An object with this field already exists in the current organization");
		rc = 0;
		goto out;
	}
	desc = json_string_value(json_object_get(json_object_get(body, "profile"), "description"));
	g = okta_group_alloc();
	if (!g || !(g->name = strdup(name)) || !(g->description = strdup(desc ? desc : "")))
		goto out;
	g->type = OKTA_GT_OKTA;
	g->created = g->last_updated = g->last_membership_updated = now;
	if (okta_group_insert(ok, g))
		goto out;
	emit(ctx, req, "group.lifecycle.create", NULL, g, NULL);
	sim_resp_json(resp, 200, group_json(g, base, false));
	g = NULL;
	rc = 0;
out:
	okta_group_free(g);
	json_decref(body);
	return rc;
}

/* PUT /api/v1/groups/{id} (profile replace, OKTA_GROUP only). */
static int update_group(struct sim_ctx *ctx, const struct sim_request *req,
			struct sim_response *resp, const char *base, struct okta_group *g)
{
	json_t *body = sim_request_json(req, NULL);
	const char *name, *desc;
	struct okta_group *other;
	char *n = NULL, *d = NULL;
	int rc = 0;

	if (!json_is_object(body)) {
		okta_error(req, resp, 400, "E0000003", "The request body was not well-formed.", NULL);
		goto out;
	}
	if (g->type != OKTA_GT_OKTA) {
		okta_error(req, resp, 403, "E0000006",
			   "You do not have permission to perform the requested action", NULL);
		goto out;
	}
	name = group_profile(req, resp, body);
	if (!name)
		goto out;
	other = okta_group_find_name(&ctx->state->okta, name);
	if (other && other != g) {
		okta_validation(req, resp, "name",
				"An object with this field already exists in the current organization");
		goto out;
	}
	desc = json_string_value(json_object_get(json_object_get(body, "profile"), "description"));
	n = strdup(name);
	d = strdup(desc ? desc : "");
	if (!n || !d) {
		free(n);
		free(d);
		rc = -1;
		goto out;
	}
	free(g->name);
	free(g->description);
	g->name = n;
	g->description = d;
	g->last_updated = sim_now_ms();
	emit(ctx, req, "group.profile.update", NULL, g, NULL);
	sim_resp_json(resp, 200, group_json(g, base, false));
out:
	json_decref(body);
	return rc;
}

/* PUT/DELETE /api/v1/groups/{gid}/users/{uid} (OKTA_GROUP only). */
static int member_write(struct sim_ctx *ctx, const struct sim_request *req,
			struct sim_response *resp, struct okta_group *g, bool add)
{
	struct okta_user *u = okta_user_find(&ctx->state->okta, req->seg[5]);
	int r;

	if (!u) {
		okta_not_found(req, resp, req->seg[5], "User");
		return 0;
	}
	if (g->type != OKTA_GT_OKTA) {
		okta_error(req, resp, 403, "E0000006",
			   "You do not have permission to perform the requested action", NULL);
		return 0;
	}
	r = add ? okta_group_add_member(g, u) : okta_group_remove_member(g, u);
	if (r < 0)
		return -1;
	if (r > 0) {
		g->last_membership_updated = sim_now_ms();
		emit(ctx, req, add ? "group.user_membership.add" : "group.user_membership.remove", u, g,
		     NULL);
	}
	sim_resp_empty(resp, 204);
	return 0;
}

/* /api/v1/groups... */
static int route_groups(struct sim_ctx *ctx, const struct sim_request *req,
			struct sim_response *resp, const char *base)
{
	struct okta_state *ok = &ctx->state->okta;
	const char *m = req->method;
	struct okta_group *g;

	if (req->nseg == 3) {
		if (!strcmp(m, "GET"))
			return list_groups(ctx, req, resp, base);
		if (!strcmp(m, "POST"))
			return create_group(ctx, req, resp, base);
		okta_bad_method(req, resp);
		return 0;
	}
	g = okta_group_find(ok, req->seg[3]);
	if (!g) {
		okta_not_found(req, resp, req->seg[3], "UserGroup");
		return 0;
	}
	if (req->nseg == 4) {
		if (!strcmp(m, "GET")) {
			const char *expand = sim_query_get(req, "expand");

			sim_resp_json(resp, 200, group_json(g, base, expand && strstr(expand, "stats")));
			return 0;
		}
		if (!strcmp(m, "PUT"))
			return update_group(ctx, req, resp, base, g);
		if (!strcmp(m, "DELETE")) {
			if (g->type != OKTA_GT_OKTA) {
				okta_error(req, resp, 403, "E0000006",
					   "You do not have permission to perform the requested action",
					   NULL);
				return 0;
			}
			emit(ctx, req, "group.lifecycle.delete", NULL, g, NULL);
			okta_group_delete(ok, g);
			sim_resp_empty(resp, 204);
			return 0;
		}
		okta_bad_method(req, resp);
		return 0;
	}
	if (req->nseg == 5 && !strcmp(req->seg[4], "users")) {
		if (strcmp(m, "GET")) {
			okta_bad_method(req, resp);
			return 0;
		}
		return list_members(req, resp, g, base);
	}
	if (req->nseg == 6 && !strcmp(req->seg[4], "users")) {
		if (!strcmp(m, "PUT"))
			return member_write(ctx, req, resp, g, true);
		if (!strcmp(m, "DELETE"))
			return member_write(ctx, req, resp, g, false);
		okta_bad_method(req, resp);
		return 0;
	}
	okta_not_found(req, resp, req->raw_path, "Endpoint");
	return 0;
}

/* ---- entry points -------------------------------------------------------------------------------- */

/* True if the Authorization header is "SSWS <configured token>". */
static bool okta_authorized(const struct sim_ctx *ctx, const struct sim_request *req)
{
	const char *a = req->authorization;

	if (!a || strncasecmp(a, "SSWS ", 5) != 0)
		return false;
	a += 5;
	while (*a == ' ')
		a++;
	return sim_secret_eq(a, ctx->opts.okta_token);
}

/* Handle /api/v1/... */
static int okta_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	const char *bucket = okta_bucket(req);
	long limit, remaining;
	int64_t reset;
	char *base = sim_base_url(req);
	int rc = 0;

	if (!base)
		return -1;
	if (!sim_ctl_rate_take(ctx, bucket, okta_bucket_limit(ctx, req), &limit, &remaining, &reset)) {
		okta_error(req, resp, 429, "E0000047",
			   "API call exceeded rate limit due to too many requests.", NULL);
	} else if (!okta_authorized(ctx, req)) {
		okta_error(req, resp, 401, "E0000011", "Invalid token provided", NULL);
	} else if (req->nseg >= 3 && !strcmp(req->seg[2], "users")) {
		rc = route_users(ctx, req, resp, base);
	} else if (req->nseg >= 3 && !strcmp(req->seg[2], "groups")) {
		rc = route_groups(ctx, req, resp, base);
	} else if (req->nseg == 3 && !strcmp(req->seg[2], "logs")) {
		if (strcmp(req->method, "GET"))
			okta_bad_method(req, resp);
		else
			rc = list_logs(ctx, req, resp, base);
	} else {
		okta_not_found(req, resp, req->raw_path, "Endpoint");
	}
	add_request_id(req, resp);
	add_rate_headers(resp, limit, remaining, reset);
	free(base);
	return rc;
}

/* Injected faults rendered the Okta way. */
static int okta_fault(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		      int status, int retry_after)
{
	long limit, remaining;
	int64_t reset;

	sim_ctl_rate_peek(ctx, okta_bucket(req), okta_bucket_limit(ctx, req), &limit, &remaining,
			  &reset);
	if (status == 429) {
		okta_error(req, resp, 429, "E0000047",
			   "API call exceeded rate limit due to too many requests.", NULL);
		remaining = 0;
		if (retry_after >= 0)
			reset = sim_now_ms() / 1000 + retry_after;
	} else if (status >= 500) {
		okta_error(req, resp, status, "E0000009", "Internal Server Error", NULL);
		if (retry_after >= 0)
			sim_resp_headerf(resp, "Retry-After", "%d", retry_after);
	} else if (status == 401) {
		okta_error(req, resp, 401, "E0000011", "Invalid token provided", NULL);
	} else if (status == 403) {
		okta_error(req, resp, 403, "E0000006",
			   "You do not have permission to perform the requested action", NULL);
	} else if (status == 404) {
		okta_not_found(req, resp, req->raw_path, "Endpoint");
	} else if (status >= 400) {
		okta_error(req, resp, status, "E0000001", sim_reason(status), NULL);
	} else {
		sim_resp_empty(resp, status);
	}
	add_request_id(req, resp);
	add_rate_headers(resp, limit, remaining, reset);
	return 0;
}

const struct sim_upstream sim_upstream_okta = {
	.name = "okta",
	.prefix = "/api/v1",
	.control = false,
	.locked = true,
	.handle = okta_handle,
	.fault = okta_fault,
};

/* ---- control-plane events (sim_oktalog.h) -------------------------------------------------------- */

/* POST /_sim/okta/events: build the requested LogEvent. */
json_t *sim_okta_synthetic_event(struct sim_ctx *ctx, const struct sim_request *req,
				 const json_t *body, char *err, size_t errsz)
{
	const char *type = json_string_value(json_object_get(body, "eventType"));
	const char *user = json_string_value(json_object_get(body, "user"));
	const char *group = json_string_value(json_object_get(body, "group"));
	const char *published = json_string_value(json_object_get(body, "published"));
	const char *uuid = json_string_value(json_object_get(body, "uuid"));
	const json_t *v;
	json_t *targets = NULL, *ev = NULL;
	char rid[28];
	int64_t ms;

	if (!type || !*type) {
		snprintf(err, errsz, "\"eventType\" is required");
		return NULL;
	}
	if ((json_object_get(body, "user") && !user) || (json_object_get(body, "group") && !group) ||
	    (json_object_get(body, "uuid") && !uuid)) {
		snprintf(err, errsz, "\"user\", \"group\" and \"uuid\" must be strings");
		return NULL;
	}
	if (json_object_get(body, "published") && (!published || sim_parse_iso(published, &ms))) {
		snprintf(err, errsz, "\"published\" must be an ISO-8601 timestamp");
		return NULL;
	}
	targets = json_array();
	if (!targets)
		return NULL;
	pthread_rwlock_rdlock(&ctx->lock);
	if (user) {
		const struct okta_user *u = okta_user_find(&ctx->state->okta, user);

		json_array_append_new(targets, u ? ev_user_target(u)
					      : json_pack("{s:s, s:s, s:s, s:s, s:n}", "id", user,
							  "type", "User", "alternateId", user,
							  "displayName", "unknown", "detailEntry"));
	}
	if (group) {
		const struct okta_group *g = okta_group_find(&ctx->state->okta, group);

		if (!g)
			g = okta_group_find_name(&ctx->state->okta, group);
		json_array_append_new(targets, g ? ev_group_target(g)
					      : json_pack("{s:s, s:s, s:s, s:s, s:n}", "id", group,
							  "type", "UserGroup", "alternateId", "unknown",
							  "displayName", group, "detailEntry"));
	}
	pthread_rwlock_unlock(&ctx->lock);
	fill_chars(rid, 27, req->seq ^ 0x5DEECE66DULL);
	ev = ev_build(type, &system_actor, targets, req->raw_path, rid, NULL);
	if (!ev)
		return NULL;
	if ((published && json_object_set_new(ev, "published", json_string(published))) ||
	    (uuid && json_object_set_new(ev, "uuid", json_string(uuid))))
		goto oom;
	/* raw overrides for odd events: any of these replace the built field (null included) */
	{
		static const char *const keys[] = { "actor", "target", "outcome", "severity",
						    "displayMessage", "legacyEventType",
						    "debugContext", "transaction", "version", NULL };
		size_t i;

		for (i = 0; keys[i]; i++)
			if ((v = json_object_get(body, keys[i])) &&
			    json_object_set(ev, keys[i], (json_t *)v))
				goto oom;
	}
	v = json_object_get(body, "extra");
	if (json_is_object(v) && json_object_update(ev, (json_t *)v))
		goto oom;
	return ev;
oom:
	json_decref(ev);
	snprintf(err, errsz, "out of memory");
	return NULL;
}

/* The user of `st` matching u by id, else by login; NULL if none. */
static const struct okta_user *peer_user(const struct okta_state *st, const struct okta_user *u)
{
	const struct okta_user *p = okta_user_find(st, u->id);

	if (p && (!p->login || !u->login || sim_streq_ci(p->login, u->login)))
		return p;
	return okta_user_find(st, u->login);
}

/* The group of `st` matching g by id, else by name. */
static const struct okta_group *peer_group(const struct okta_state *st, const struct okta_group *g)
{
	const struct okta_group *p = okta_group_find(st, g->id);

	return p ? p : okta_group_find_name(st, g->name);
}

/* Same string (NULL-aware). */
static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The lifecycle event for a status change, or NULL when none applies. */
static const char *status_event(enum okta_status from, enum okta_status to)
{
	if (from == to)
		return NULL;
	if (to == OKTA_DEPROVISIONED)
		return "user.lifecycle.deactivate";
	if (to == OKTA_SUSPENDED)
		return "user.lifecycle.suspend";
	if (to == OKTA_LOCKED_OUT)
		return "user.account.lock";
	if (to == OKTA_ACTIVE && from == OKTA_SUSPENDED)
		return "user.lifecycle.unsuspend";
	if (to == OKTA_ACTIVE && from == OKTA_LOCKED_OUT)
		return "user.account.unlock";
	if (to == OKTA_ACTIVE && from == OKTA_DEPROVISIONED)
		return "user.lifecycle.reactivate";
	if (to == OKTA_ACTIVE)
		return "user.lifecycle.activate";
	return NULL;
}

/* Events that turn `from` into `to` (POST /_sim/state). */
void sim_okta_diff_events(struct sim_ctx *ctx, const struct sim_state *from,
			  const struct sim_state *to)
{
	const struct okta_state *a = &from->okta, *b = &to->okta;
	uint64_t txn = sim_rand64(&(uint64_t){ (uint64_t)sim_now_ms() });
	size_t i, j;

	for (i = 0; i < b->nusers; i++) {
		const struct okta_user *u = b->users[i], *p = peer_user(a, u);
		struct sim_buf ch;
		const char *ev;

		if (!p) {
			emit_system(ctx, "/_sim/state", "user.lifecycle.create", u, NULL, NULL, txn);
			if (u->status == OKTA_ACTIVE)
				emit_system(ctx, "/_sim/state", "user.lifecycle.activate", u, NULL, NULL, txn);
			continue;
		}
		sim_buf_init(&ch, 0);
		if (!same_str(p->login, u->login))
			sim_buf_printf(&ch, "%slogin", ch.len ? "," : "");
		if (!same_str(p->email, u->email))
			sim_buf_printf(&ch, "%semail", ch.len ? "," : "");
		if (!same_str(p->first_name, u->first_name))
			sim_buf_printf(&ch, "%sfirstName", ch.len ? "," : "");
		if (!same_str(p->last_name, u->last_name))
			sim_buf_printf(&ch, "%slastName", ch.len ? "," : "");
		if (!json_equal(p->profile_extra, u->profile_extra) &&
		    (p->profile_extra || json_object_size(u->profile_extra)))
			sim_buf_printf(&ch, "%sprofile", ch.len ? "," : "");
		if (ch.len)
			emit_system(ctx, "/_sim/state", "user.account.update_profile", u, NULL, ch.data, txn);
		sim_buf_free(&ch);
		ev = status_event(p->status, u->status);
		if (ev)
			emit_system(ctx, "/_sim/state", ev, u, NULL, NULL, txn);
	}
	for (i = 0; i < b->ngroups; i++) {
		const struct okta_group *g = b->groups[i], *p = peer_group(a, g);

		if (!p)
			emit_system(ctx, "/_sim/state", "group.lifecycle.create", NULL, g, NULL, txn);
		else if (!same_str(p->name, g->name) || !same_str(p->description, g->description))
			emit_system(ctx, "/_sim/state", "group.profile.update", NULL, g, NULL, txn);
		for (j = 0; j < g->nmembers; j++) {
			const struct okta_user *u = g->members[j], *pu = p ? peer_user(a, u) : NULL;

			if (!p || !pu || !okta_group_has_member(p, pu))
				emit_system(ctx, "/_sim/state", "group.user_membership.add", u, g, NULL, txn);
		}
		for (j = 0; p && j < p->nmembers; j++) {
			const struct okta_user *pu = p->members[j], *u = peer_user(b, pu);

			if (u && !okta_group_has_member(g, u))
				emit_system(ctx, "/_sim/state", "group.user_membership.remove", u, g, NULL, txn);
		}
	}
	for (i = 0; i < a->ngroups; i++)
		if (!peer_group(b, a->groups[i]))
			emit_system(ctx, "/_sim/state", "group.lifecycle.delete", NULL, a->groups[i], NULL, txn);
	for (i = 0; i < a->nusers; i++)
		if (!peer_user(b, a->users[i]))
			emit_system(ctx, "/_sim/state", "user.lifecycle.delete.initiated", a->users[i], NULL, NULL,
				    txn);
}

/* Find a user by id or login and a group by id or name for a bulk membership item. */
static int member_item(const struct okta_state *ok, const json_t *item, struct okta_user **u,
		       struct okta_group **g, char *err, size_t errsz)
{
	const char *us = json_string_value(json_object_get(item, "user"));
	const char *gs = json_string_value(json_object_get(item, "group"));

	if (!us || !gs) {
		snprintf(err, errsz, "each item must be {\"user\": \"<id or login>\", \"group\": \"<id or name>\"}");
		return -1;
	}
	*u = okta_user_find(ok, us);
	*g = okta_group_find(ok, gs);
	if (!*g)
		*g = okta_group_find_name(ok, gs);
	if (!*u || !*g) {
		snprintf(err, errsz, "no such %s: %s", *u ? "group" : "user", *u ? gs : us);
		return -1;
	}
	return 0;
}

/* POST /_sim/okta/memberships: bulk membership changes, logged as Okta system events. */
int sim_okta_memberships(struct sim_ctx *ctx, const struct sim_request *req, const json_t *body,
			 struct sim_response *resp)
{
	static const char *const keys[] = { "add", "remove" };
	struct okta_state *ok;
	int64_t now = sim_now_ms();
	json_int_t counts[3] = { 0, 0, 0 };
	char err[300] = "";
	size_t k, i;
	json_t *item;
	int rc = 0;

	for (k = 0; k < 2; k++) {
		const json_t *arr = json_object_get(body, keys[k]);

		if (arr && !json_is_array(arr)) {
			sim_resp_json(resp, 400, json_pack("{s:s}", "detail",
							   "\"add\" and \"remove\" must be arrays"));
			return 0;
		}
	}
	pthread_rwlock_wrlock(&ctx->lock);
	ok = &ctx->state->okta;
	/* validate everything first: all or nothing */
	for (k = 0; k < 2 && !err[0]; k++) {
		json_array_foreach(json_object_get(body, keys[k]), i, item) {
			struct okta_user *u;
			struct okta_group *g;

			if (member_item(ok, item, &u, &g, err, sizeof(err)))
				break;
		}
	}
	if (err[0]) {
		pthread_rwlock_unlock(&ctx->lock);
		sim_resp_json(resp, 400, json_pack("{s:s}", "detail", err));
		return 0;
	}
	for (k = 0; k < 2; k++) {
		json_array_foreach(json_object_get(body, keys[k]), i, item) {
			struct okta_user *u;
			struct okta_group *g;
			int r;

			member_item(ok, item, &u, &g, err, sizeof(err));
			r = k == 0 ? okta_group_add_member(g, u) : okta_group_remove_member(g, u);
			if (r < 0) {
				rc = -1;
				goto out;
			}
			if (r == 0) {
				counts[2]++;
				continue;
			}
			counts[k]++;
			g->last_membership_updated = now;
			emit_system(ctx, req->raw_path,
				    k == 0 ? "group.user_membership.add" : "group.user_membership.remove",
				    u, g, NULL, req->seq);
		}
	}
	sim_resp_json(resp, 200, json_pack("{s:I, s:I, s:I}", "added", counts[0], "removed", counts[1],
					   "unchanged", counts[2]));
out:
	pthread_rwlock_unlock(&ctx->lock);
	return rc;
}
