/*
 * provision.c: the provisioning API and the projects lint (see provision.h
 * and docs/provisioning.md).
 *
 * A request is decided on a fresh read of the organisation (teams and
 * projects: Sentry is the truth, there is no mirror to go stale), then, when
 * allowed and not a dry run, made in Sentry: the team first when one must be
 * created, then the project under it. When the project create fails after
 * we created its team, the team is deleted again (DELETE
 * /api/0/teams/{org}/{team}/), so a refusal leaves nothing behind; only a
 * lost answer (a transport error: the outcome is unknown) leaves the team,
 * and the answer says so. Every change and refusal (dry runs aside) is in
 * the audit log with the requester.
 */
#include "provision.h"

#include "api.h"
#include "audit.h"
#include "db.h"
#include "http.h"
#include "metrics.h"
#include "integrations/sentry/sentry_client.h"
#include "policies/policy_provision.h"
#include "router.h"
#include "sso/okta_client.h"

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MOD "provision"
/* Longest requester e-mail (RFC 5321 path) and platform id we accept. */
#define REQUESTER_MAX 254
#define PLATFORM_MAX 64

/* ---- the organisation ------------------------------------------------------ */

struct org {
	struct sentry_team *teams;
	size_t nteams;
	struct sentry_project *projects;
	size_t nprojects;
	struct prov_existing *xt, *xp; /* views for the policy (borrowed strings) */
};

static void org_free(struct org *o)
{
	sentry_teams_free(o->teams, o->nteams);
	sentry_projects_free(o->projects, o->nprojects);
	free(o->xt);
	free(o->xp);
	memset(o, 0, sizeof *o);
}

static int org_views(struct org *o, struct err *e)
{
	o->xt = calloc(o->nteams + 1, sizeof *o->xt);
	o->xp = calloc(o->nprojects + 1, sizeof *o->xp);
	if (!o->xt || !o->xp)
		return err_set(e, -1, "out of memory");
	for (size_t i = 0; i < o->nteams; i++)
		o->xt[i] = (struct prov_existing){.slug = o->teams[i].slug, .name = o->teams[i].name};
	for (size_t i = 0; i < o->nprojects; i++)
		o->xp[i] = (struct prov_existing){.slug = o->projects[i].slug,
						  .name = o->projects[i].name,
						  .teams = (const char *const *)o->projects[i].teams,
						  .nteams = o->projects[i].nteams};
	return 0;
}

/* Teams, and projects when with_projects. 0 or -1 with e. */
static int org_read(struct sentry_client *sc, bool with_projects, struct org *o, struct err *e)
{
	memset(o, 0, sizeof *o);
	if (sentry_list_teams(sc, &o->teams, &o->nteams, e) ||
	    (with_projects && sentry_list_projects(sc, &o->projects, &o->nprojects, e)) || org_views(o, e)) {
		org_free(o);
		return -1;
	}
	return 0;
}

/* ---- the request ------------------------------------------------------------ */

struct preq {
	json_t *body;          /* owns the strings below */
	const char *name;
	const char *team;      /* NULL when absent */
	const char *platform;  /* NULL when absent */
	const char *requester; /* NULL: the admin token acting for itself */
	bool dry_run;
};

/* Bytes of s to print with "%.*s": at most max, not cutting a UTF-8
 * sequence (a cut one would be invalid in JSON and in PostgreSQL). */
static int prec(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

static bool valid_requester(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > REQUESTER_MAX || !strchr(s, '@') || s[0] == '@' || s[n - 1] == '@')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Sentry platform ids: "python", "javascript-react", "apple-ios", ... */
static bool valid_platform(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > PLATFORM_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* An optional string member: 0 (absent/null -> *out NULL), -1 wrong type. */
static int opt_string(const json_t *body, const char *key, const char **out)
{
	const json_t *v = json_object_get(body, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* Parse the body and ?dry_run. 0, or -1 after answering 400/422. */
static int parse_req(const struct http_req *req, struct http_resp *resp, bool project, struct preq *out)
{
	memset(out, 0, sizeof *out);
	char *dry = http_req_query(req, "dry_run");
	if (dry) {
		if (!strcmp(dry, "true") || !strcmp(dry, "1")) {
			out->dry_run = true;
		} else if (strcmp(dry, "false") && strcmp(dry, "0")) {
			free(dry);
			http_resp_error(resp, 400, "bad_request", "dry_run must be true or false");
			return -1;
		}
		free(dry);
	}
	json_error_t je;
	out->body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
	if (!json_is_object(out->body)) {
		http_resp_error(resp, 400, "bad_request", "the body must be a JSON object%s%s",
				out->body || !req->body_len ? "" : ": ", out->body || !req->body_len ? "" : je.text);
		goto bad;
	}
	const char *key;
	json_t *v;
	json_object_foreach(out->body, key, v) {
		(void)v;
		if (strcmp(key, "name") && strcmp(key, "requester") &&
		    (!project || (strcmp(key, "team") && strcmp(key, "platform")))) {
			http_resp_error(resp, 400, "bad_request", "unknown field \"%.*s\" (fields: name, %srequester)", prec(key, 64), key,
					project ? "team, platform, " : "");
			goto bad;
		}
	}
	if (opt_string(out->body, "name", &out->name) || opt_string(out->body, "team", &out->team) ||
	    opt_string(out->body, "platform", &out->platform) ||
	    opt_string(out->body, "requester", &out->requester)) {
		http_resp_error(resp, 400, "bad_request", "name, %srequester must be strings", project ? "team, platform, " : "");
		goto bad;
	}
	if (!out->name) {
		http_resp_error(resp, 422, "invalid_name", "name is required");
		goto bad;
	}
	if (out->requester && !valid_requester(out->requester)) {
		http_resp_error(resp, 400, "bad_request",
				"requester must be the e-mail address of the person asking (at most %d characters)",
				REQUESTER_MAX);
		goto bad;
	}
	if (out->platform && !*out->platform)
		out->platform = NULL;
	if (out->platform && !valid_platform(out->platform)) {
		http_resp_error(resp, 422, "invalid_platform",
				"platform must be a Sentry platform id such as \"python\" or \"javascript-react\" "
				"(lowercase letters, digits, '-', '_', '.'; at most %d characters)",
				PLATFORM_MAX);
		goto bad;
	}
	return 0;
bad:
	json_decref(out->body);
	out->body = NULL;
	return -1;
}

/* ---- who asked ---------------------------------------------------------------- */

static void strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The groups of lists a and b (Okta group names) that the requester is an
 * ACTIVE member of, matched by e-mail or login, case-insensitively. Reads
 * the members of those groups from Okta now (requests are rare; a stale
 * mirror would let a departed person in). 0, or -1 with e.
 */
static int requester_groups(struct ctx *ctx, const char *requester, const struct config_strlist *a,
			    const struct config_strlist *b, char ***out, size_t *nout, struct err *e)
{
	const char **names = calloc(a->n + b->n + 1, sizeof *names);
	size_t nn = 0, ng = 0;
	struct okta_group *groups = NULL;
	struct okta_user **members = NULL;
	size_t *nmembers = NULL;
	const char **ids = NULL;
	struct okta_client *oc = NULL;
	int rc = -1;
	*out = NULL;
	*nout = 0;
	if (!names) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < a->n; i++)
		names[nn++] = a->v[i];
	for (size_t i = 0; i < b->n; i++) {
		bool dup = false;
		for (size_t j = 0; j < nn; j++)
			dup |= !strcmp(names[j], b->v[i]);
		if (!dup)
			names[nn++] = b->v[i];
	}
	if (!(oc = okta_client_new(ctx->cfg, ctx->log, ctx->metrics, e)))
		goto out;
	if (okta_groups_by_name(oc, names, nn, &groups, &ng, e))
		goto out;
	if (ng) {
		ids = calloc(ng, sizeof *ids);
		members = calloc(ng, sizeof *members);
		nmembers = calloc(ng, sizeof *nmembers);
		*out = calloc(ng, sizeof **out);
		if (!ids || !members || !nmembers || !*out) {
			err_set(e, -1, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < ng; i++)
			ids[i] = groups[i].id;
		if (okta_groups_members(oc, ids, ng, members, nmembers, e))
			goto out;
		for (size_t i = 0; i < ng; i++) {
			for (size_t k = 0; k < nmembers[i]; k++) {
				const struct okta_user *u = &members[i][k];
				if (!u->status || strcmp(u->status, "ACTIVE"))
					continue;
				if ((u->email && !strcasecmp(u->email, requester)) ||
				    (u->login && !strcasecmp(u->login, requester))) {
					if (!((*out)[*nout] = strdup(groups[i].name))) {
						err_set(e, -1, "out of memory");
						goto out;
					}
					(*nout)++;
					break;
				}
			}
		}
	}
	rc = 0;
out:
	if (rc) {
		strs_free(*out, *nout);
		*out = NULL;
		*nout = 0;
	}
	if (members)
		for (size_t i = 0; i < ng; i++)
			okta_users_free(members[i], nmembers[i]);
	free(members);
	free(nmembers);
	free(ids);
	okta_groups_free(groups, ng);
	okta_client_free(oc);
	free(names);
	return rc;
}

/* "a, b, c" of a config list (for messages). Caller frees. */
static char *list_text(const struct config_strlist *l)
{
	size_t len = 1;
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 2;
	char *s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, l->v[i]);
	}
	return s;
}

/* "prefix:name" into buf, the name cut at a UTF-8 boundary to fit. */
static void target_of(char *buf, size_t sz, const char *prefix, const char *name)
{
	snprintf(buf, sz, "%s:%.*s", prefix, prec(name, sz - strlen(prefix) - 2), name);
}

/* ---- answers and the audit log ------------------------------------------------ */

/* Answer with {"allowed": false, "error": {code, message}, ...extra}. */
static void refuse(struct http_resp *resp, int status, const char *code, const char *msg, json_t *extra)
{
	json_t *b = extra ? extra : json_object();
	json_object_set_new(b, "allowed", json_false());
	json_object_set_new(b, "error", json_pack("{s:s,s:s}", "code", code, "message", msg ? msg : ""));
	http_resp_json(resp, status, b);
}

struct actx {
	struct ctx *ctx;
	PGconn *db;            /* NULL: dry run, nothing recorded */
	const char *requester; /* NULL: the admin token */
	const char *via;       /* "admin-token" (the API) or "web" (the console) */
};

/* One audit entry (outside any transaction: each stands alone). A failure
 * is logged, not answered: the change happened in Sentry either way. */
static void audit(const struct actx *ax, const char *action, const char *target, const char *reason,
		  const json_t *after)
{
	if (!ax->db)
		return;
	char *after_s = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *via = ax->via ? ax->via : "admin-token";
	json_t *d = json_pack("{s:s,s:s,s:s?}", "via", via, "source", strcmp(via, "web") ? "api" : "web", "requester",
			      ax->requester);
	char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
	struct audit_entry ae = {.actor = ax->requester ? ax->requester : "admin-token",
				 .action = action,
				 .target = target,
				 .reason = reason,
				 .after = after_s,
				 .request_id = ax->ctx->request_id,
				 .details = details};
	struct err e;
	err_clear(&e);
	if (audit_write(ax->db, &ae, &e))
		log_error(ax->ctx->log, MOD, ax->ctx->request_id, "cannot write the audit log", "error", e.msg,
			  "action", action, "target", target, NULL);
	free(after_s);
	free(details);
	json_decref(d);
}

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *conflicts_json(const struct prov_existing *x, const struct prov_conflict *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *o = json_pack("{s:s,s:s?,s:s,s:s}", "slug", x[v[i].index].slug, "name", x[v[i].index].name,
				      "reason", policy_prov_reason_name(v[i].reason), "why", v[i].why);
		if (o && v[i].reason == PROV_EDIT_DISTANCE)
			json_object_set_new(o, "distance", json_integer(v[i].distance));
		json_array_append_new(a, o);
	}
	return a;
}

static const char *team_source_name(enum prov_team_source s)
{
	return s == PROV_TEAM_NAMED ? "named" : s == PROV_TEAM_CREATE ? "create" : "default";
}

/* A Sentry write's failure, for the answer: 502 with Sentry's status. */
static void sentry_refused(struct http_resp *resp, const char *what, const struct sentry_result *res, json_t *extra)
{
	char *msg = NULL;
	const char *hint = res->status == 403 ? " (the bridge's Sentry token lacks the right: it needs project:write "
						"and team:write, or an org manager/owner token)"
						  : "";
	if (asprintf(&msg, "Sentry refused to %s (HTTP %ld): %s%s", what, res->status,
		     res->message ? res->message : "", hint) < 0)
		msg = NULL;
	json_t *b = extra ? extra : json_object();
	json_object_set_new(b, "sentry_status", json_integer(res->status));
	refuse(resp, 502, "sentry_refused", msg ? msg : "Sentry refused", b);
	free(msg);
}

/* The requester check shared by both endpoints: the configured groups the
 * requester is in. 0, or -1 after answering 503. */
static int resolve_groups(struct ctx *ctx, const struct preq *rq, struct http_resp *resp, char ***groups,
			  size_t *ngroups)
{
	const struct config_provisioning *p = &ctx->cfg->provisioning;
	*groups = NULL;
	*ngroups = 0;
	if (!rq->requester || (!p->requester_groups.n && !p->team_creator_groups.n))
		return 0;
	struct err e;
	err_clear(&e);
	if (requester_groups(ctx, rq->requester, &p->requester_groups, &p->team_creator_groups, groups, ngroups, &e)) {
		log_warn(ctx->log, MOD, ctx->request_id, "cannot read the requester's Okta groups", "error", e.msg, NULL);
		http_resp_error(resp, 503, "okta_unavailable",
				"cannot check the requester's Okta groups (provisioning.requester_groups / "
				"team_creator_groups): %s",
				e.msg);
		http_resp_header(resp, "Retry-After", "30");
		return -1;
	}
	return 0;
}

/* The Sentry client and the organisation, or -1 after answering 503/502. */
static int open_sentry(struct ctx *ctx, struct http_resp *resp, bool with_projects, struct sentry_client **sc,
		       struct org *o)
{
	struct err e;
	err_clear(&e);
	*sc = sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, &e);
	if (!*sc) {
		http_resp_error(resp, 503, "sentry_unavailable", "%s", e.msg);
		return -1;
	}
	if (org_read(*sc, with_projects, o, &e)) {
		log_warn(ctx->log, MOD, ctx->request_id, "cannot read the Sentry organisation", "error", e.msg, NULL);
		http_resp_error(resp, 502, "sentry_error", "cannot read the organisation from Sentry: %s", e.msg);
		return -1;
	}
	return 0;
}

/* Delete a team we created for a project whose create then failed. Adds
 * team_rolled_back or team_left_behind to extra and audits. */
static void rollback_team(const struct actx *ax, struct sentry_client *sc, const char *slug, json_t *extra)
{
	struct sentry_result r = {0};
	struct err e;
	err_clear(&e);
	char target[80];
	snprintf(target, sizeof target, "team:%.60s", slug);
	if (!sentry_delete_team(sc, slug, &r, &e) && (r.status == 204 || r.status == 202 || r.status == 200)) {
		json_object_set_new(extra, "team_rolled_back", json_string(slug));
		audit(ax, "team.delete", target, "rolled back: the project it was created for could not be created",
		      NULL);
	} else {
		char *why = NULL;
		if (asprintf(&why, "the team \"%s\" was created for this project and could not be deleted again (%s); "
				   "delete it in Sentry or use it in the next request",
			     slug, r.status ? (r.message ? r.message : "refused") : e.msg) < 0)
			why = NULL;
		json_object_set_new(extra, "team_left_behind", json_pack("{s:s,s:s}", "slug", slug, "why", why ? why : ""));
		log_warn(ax->ctx->log, MOD, ax->ctx->request_id, "a created team could not be rolled back", "team", slug,
			 "error", why ? why : "", NULL);
		audit(ax, "team.rollback_failed", target, why ? why : "rollback failed", NULL);
		free(why);
	}
	sentry_result_clear(&r);
}

/* ---- POST /api/v1/projects ------------------------------------------------------ */

void provision_project(struct ctx *ctx, const struct provision_ask *ask, struct http_resp *resp)
{
	const struct config_provisioning *p = &ctx->cfg->provisioning;
	struct preq rq = {.name = ask->name, .team = ask->team, .platform = ask->platform, .requester = ask->requester,
			  .dry_run = ask->dry_run};
	struct sentry_client *sc = NULL;
	struct org o = {0};
	char **groups = NULL;
	size_t ngroups = 0;
	struct prov_name pn = {0};
	struct prov_conflict *cv = NULL;
	size_t ncv = 0;
	struct prov_team_decision td = {0};
	struct sentry_result tr = {0}, pr = {0};
	json_t *decision = NULL, *req_j = NULL;
	char target[160];
	struct err e;
	err_clear(&e);
	struct actx ax = {.ctx = ctx, .requester = rq.requester, .via = ask->via ? ask->via : "admin-token"};
	if (!rq.dry_run && !(ax.db = api_need_db(ctx, resp)))
		goto out;
	target_of(target, sizeof target, "project", rq.name);
	bool is_admin = rq.requester == NULL;
	req_j = json_pack("{s:s,s:s?,s:s?,s:s?}", "name", rq.name, "team", rq.team, "platform", rq.platform,
			  "requester", rq.requester);
	/* the name first: it needs no upstream */
	int r = policy_prov_name(p, PROV_PROJECT, rq.name, &pn, &e);
	if (r) {
		if (r == -2) {
			http_resp_error(resp, 500, "internal", "out of memory");
		} else {
			audit(&ax, "project.refused", target, e.msg, req_j);
			refuse(resp, 422, "invalid_name", e.msg, json_pack("{s:O}", "request", req_j));
		}
		goto out;
	}
	snprintf(target, sizeof target, "project:%s", pn.slug);
	if (open_sentry(ctx, resp, true, &sc, &o) || resolve_groups(ctx, &rq, resp, &groups, &ngroups))
		goto out;

	/* who may */
	if (!policy_prov_may(&p->requester_groups, true, is_admin, (const char *const *)groups, ngroups)) {
		char *l = list_text(&p->requester_groups), *msg = NULL;
		if (asprintf(&msg, "%s is not an active member of any group in provisioning.requester_groups (%s)",
			     rq.requester, l ? l : "") < 0)
			msg = NULL;
		audit(&ax, "project.refused", target, msg, req_j);
		refuse(resp, 403, "forbidden", msg, json_pack("{s:O}", "request", req_j));
		free(l);
		free(msg);
		goto out;
	}
	/* duplicates */
	if (policy_prov_conflicts(p, PROV_PROJECT, &pn, o.xp, o.nprojects, &cv, &ncv)) {
		http_resp_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	decision = json_pack("{s:s,s:s,s:o,s:b,s:s?}", "canonical_name", pn.canonical, "slug", pn.slug,
			     "stripped_suffixes", str_array(pn.stripped, pn.nstripped), "transliterated",
			     pn.transliterated, "platform", rq.platform);
	if (ncv) {
		char *msg = NULL;
		if (asprintf(&msg, "a duplicate: %s", cv[0].why) < 0)
			msg = NULL;
		json_t *after = json_pack("{s:O,s:O,s:o}", "request", req_j, "decision", decision, "conflicts",
					  conflicts_json(o.xp, cv, ncv));
		audit(&ax, "project.refused", target, msg, after);
		refuse(resp, 409, "duplicate", msg, after);
		free(msg);
		goto out;
	}
	/* the team */
	bool may_create = policy_prov_may(&p->team_creator_groups, false, is_admin, (const char *const *)groups, ngroups);
	r = policy_prov_team(p, rq.team, o.xt, o.nteams, may_create, &td, &e);
	if (r) {
		if (r == -2) {
			http_resp_error(resp, 500, "internal", "out of memory");
		} else {
			audit(&ax, "project.refused", target, e.msg, req_j);
			refuse(resp, 422, "no_team", e.msg, json_pack("{s:O,s:O}", "request", req_j, "decision", decision));
		}
		goto out;
	}
	json_object_set_new(decision, "team", json_pack("{s:s,s:s,s:s,s:s}", "slug", td.slug, "name", td.name, "source",
						       team_source_name(td.source), "note", td.note));
	if (rq.dry_run) {
		http_resp_json(resp, 200, json_pack("{s:b,s:b,s:O,s:O}", "allowed", 1, "dry_run", 1, "decision",
						    decision, "request", req_j));
		goto out;
	}

	/* make it: the team first when it is new */
	bool team_created = false;
	if (td.source == PROV_TEAM_CREATE) {
		char ttarget[80];
		snprintf(ttarget, sizeof ttarget, "team:%s", td.slug);
		if (sentry_create_team(sc, td.slug, td.name, &tr, &e)) {
			audit(&ax, "project.failed", target, e.msg, decision);
			refuse(resp, 502, "sentry_error", e.msg, json_pack("{s:O}", "decision", decision));
				goto out;
		}
		if (tr.status == 201) {
			team_created = true;
			json_t *tj = json_pack("{s:s,s:s}", "slug", td.slug, "name", td.name);
			audit(&ax, "team.create", ttarget, td.note, tj);
			json_decref(tj);
		} else if (tr.status == 409) {
			/* created by someone else since we read the teams: the team the
			 * requester named exists now, which is what they asked for */
			json_object_set_new(json_object_get(decision, "team"), "source", json_string("named"));
			json_object_set_new(json_object_get(decision, "team"), "note",
					    json_string("the requested team appeared in Sentry meanwhile; the project "
							"goes there"));
		} else {
			char *msg = NULL;
			if (asprintf(&msg, "Sentry refused the team (HTTP %ld): %s", tr.status,
				     tr.message ? tr.message : "") < 0)
				msg = NULL;
			audit(&ax, "project.failed", target, msg, decision);
			free(msg);
			char what[120];
			snprintf(what, sizeof what, "create the team \"%s\"", td.slug);
			sentry_refused(resp, what, &tr, json_pack("{s:O}", "decision", decision));
				goto out;
		}
	}
	/* then the project under it */
	if (sentry_create_project(sc, td.slug, pn.canonical, pn.slug, rq.platform, &pr, &e)) {
		/* no answer: the project may or may not exist now; keep the team */
		char *msg = NULL;
		if (asprintf(&msg, "no answer from Sentry to the project create (%s): the project may or may not exist; "
				   "repeat the request (a duplicate answer means it was created)",
			     e.msg) < 0)
			msg = NULL;
		audit(&ax, "project.failed", target, msg, decision);
		refuse(resp, 502, "sentry_error", msg, json_pack("{s:O,s:b}", "decision", decision, "team_created", team_created));
		free(msg);
		goto out;
	}
	if (pr.status == 201) {
		json_t *proj = json_pack("{s:s?,s:s,s:s}", "id", pr.id, "slug", pr.slug ? pr.slug : pn.slug, "team", td.slug);
		json_t *after = json_pack("{s:O,s:O,s:O,s:b}", "request", req_j, "decision", decision, "project", proj,
					  "team_created", team_created);
		audit(&ax, "project.create", target, td.note, after);
		json_decref(after);
		http_resp_json(resp, 201, json_pack("{s:b,s:b,s:o,s:o,s:b,s:O}", "allowed", 1, "dry_run", 0, "decision",
						    decision, "project", proj, "team_created", team_created, "request",
						    req_j));
		decision = NULL;
		goto out;
	}
	json_t *extra = json_pack("{s:O,s:O}", "request", req_j, "decision", decision);
	if (team_created)
		rollback_team(&ax, sc, td.slug, extra);
	if (pr.status == 409) {
		char *why = NULL;
		if (asprintf(&why, "the slug \"%s\" was taken in Sentry after our check (Sentry: %s)", pn.slug,
			     pr.message ? pr.message : "conflict") < 0)
			why = NULL;
		json_object_set_new(extra, "conflicts", json_pack("[{s:s,s:s,s:s}]", "slug", pn.slug, "reason",
								  "created_meanwhile", "why", why ? why : ""));
		audit(&ax, "project.refused", target, why, extra);
		refuse(resp, 409, "duplicate", why, extra);
		free(why);
	} else {
		char *msg = NULL;
		if (asprintf(&msg, "Sentry refused the project (HTTP %ld): %s", pr.status, pr.message ? pr.message : "") < 0)
			msg = NULL;
		audit(&ax, "project.failed", target, msg, extra);
		free(msg);
		sentry_refused(resp, "create the project", &pr, extra);
	}
out:
	json_decref(req_j);
	json_decref(decision);
	sentry_result_clear(&tr);
	sentry_result_clear(&pr);
	policy_prov_team_clear(&td);
	policy_prov_conflicts_free(cv, ncv);
	policy_prov_name_clear(&pn);
	strs_free(groups, ngroups);
	org_free(&o);
	sentry_client_free(sc);
	db_release(ctx->db, ax.db);
}

static void h_projects(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	struct preq rq;
	if (parse_req(req, resp, true, &rq))
		return;
	struct provision_ask ask = {.name = rq.name, .team = rq.team, .platform = rq.platform,
				    .requester = rq.requester, .dry_run = rq.dry_run, .via = "admin-token"};
	provision_project(ctx, &ask, resp);
	json_decref(rq.body);
}

/* ---- POST /api/v1/teams ---------------------------------------------------------- */

static void h_teams(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	const struct config_provisioning *p = &ctx->cfg->provisioning;
	struct preq rq;
	struct sentry_client *sc = NULL;
	struct org o = {0};
	char **groups = NULL;
	size_t ngroups = 0;
	struct prov_name pn = {0};
	struct prov_conflict *cv = NULL;
	size_t ncv = 0;
	struct sentry_result tr = {0};
	json_t *req_j = NULL, *decision = NULL;
	char target[160];
	struct err e;
	err_clear(&e);
	if (parse_req(req, resp, false, &rq))
		return;
	struct actx ax = {.ctx = ctx, .requester = rq.requester, .via = "admin-token"};
	if (!rq.dry_run && !(ax.db = api_need_db(ctx, resp)))
		goto out;
	target_of(target, sizeof target, "team", rq.name);
	req_j = json_pack("{s:s,s:s?}", "name", rq.name, "requester", rq.requester);
	/* the name first: it needs no upstream */
	int r = policy_prov_name(p, PROV_TEAM, rq.name, &pn, &e);
	if (r) {
		if (r == -2) {
			http_resp_error(resp, 500, "internal", "out of memory");
		} else {
			audit(&ax, "team.refused", target, e.msg, req_j);
			refuse(resp, 422, "invalid_name", e.msg, json_pack("{s:O}", "request", req_j));
		}
		goto out;
	}
	snprintf(target, sizeof target, "team:%s", pn.slug);
	if (open_sentry(ctx, resp, false, &sc, &o) || resolve_groups(ctx, &rq, resp, &groups, &ngroups))
		goto out;
	if (!policy_prov_may(&p->team_creator_groups, false, rq.requester == NULL, (const char *const *)groups,
			     ngroups)) {
		char *l = list_text(&p->team_creator_groups), *msg = NULL;
		if (asprintf(&msg, "%s may not create teams: %s%s%s", rq.requester,
			     p->team_creator_groups.n ? "not an active member of any group in "
							"provisioning.team_creator_groups ("
						      : "provisioning.team_creator_groups is empty, so only admins may",
			     p->team_creator_groups.n && l ? l : "", p->team_creator_groups.n ? ")" : "") < 0)
			msg = NULL;
		audit(&ax, "team.refused", target, msg, req_j);
		refuse(resp, 403, "forbidden", msg, json_pack("{s:O}", "request", req_j));
		free(l);
		free(msg);
		goto out;
	}
	if (policy_prov_conflicts(p, PROV_TEAM, &pn, o.xt, o.nteams, &cv, &ncv)) {
		http_resp_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	decision = json_pack("{s:s,s:s,s:b}", "name", pn.canonical, "slug", pn.slug, "transliterated", pn.transliterated);
	if (ncv) {
		char *msg = NULL;
		if (asprintf(&msg, "a duplicate: %s", cv[0].why) < 0)
			msg = NULL;
		json_t *after = json_pack("{s:O,s:O,s:o}", "request", req_j, "decision", decision, "conflicts",
					  conflicts_json(o.xt, cv, ncv));
		audit(&ax, "team.refused", target, msg, after);
		refuse(resp, 409, "duplicate", msg, after);
		free(msg);
		goto out;
	}
	if (rq.dry_run) {
		http_resp_json(resp, 200, json_pack("{s:b,s:b,s:O,s:O}", "allowed", 1, "dry_run", 1, "decision",
						    decision, "request", req_j));
		goto out;
	}
	if (sentry_create_team(sc, pn.slug, pn.canonical, &tr, &e)) {
		audit(&ax, "team.failed", target, e.msg, decision);
		refuse(resp, 502, "sentry_error", e.msg, json_pack("{s:O}", "decision", decision));
		goto out;
	}
	if (tr.status == 201) {
		json_t *team = json_pack("{s:s?,s:s}", "id", tr.id, "slug", tr.slug ? tr.slug : pn.slug);
		json_t *after = json_pack("{s:O,s:O,s:O}", "request", req_j, "decision", decision, "team", team);
		audit(&ax, "team.create", target, "requested through the API", after);
		json_decref(after);
		http_resp_json(resp, 201, json_pack("{s:b,s:b,s:O,s:o,s:O}", "allowed", 1, "dry_run", 0, "decision",
						    decision, "team", team, "request", req_j));
	} else if (tr.status == 409) {
		char *why = NULL;
		if (asprintf(&why, "the slug \"%s\" was taken in Sentry after our check (Sentry: %s)", pn.slug,
			     tr.message ? tr.message : "conflict") < 0)
			why = NULL;
		json_t *extra = json_pack("{s:O,s:O,s:[{s:s,s:s,s:s}]}", "request", req_j, "decision", decision,
					  "conflicts", "slug", pn.slug, "reason", "created_meanwhile", "why",
					  why ? why : "");
		audit(&ax, "team.refused", target, why, extra);
		refuse(resp, 409, "duplicate", why, extra);
		free(why);
	} else {
		char *msg = NULL;
		if (asprintf(&msg, "Sentry refused the team (HTTP %ld): %s", tr.status, tr.message ? tr.message : "") < 0)
			msg = NULL;
		audit(&ax, "team.failed", target, msg, decision);
		free(msg);
		sentry_refused(resp, "create the team", &tr, json_pack("{s:O}", "decision", decision));
	}
out:
	json_decref(req_j);
	json_decref(decision);
	sentry_result_clear(&tr);
	policy_prov_conflicts_free(cv, ncv);
	policy_prov_name_clear(&pn);
	strs_free(groups, ngroups);
	org_free(&o);
	sentry_client_free(sc);
	db_release(ctx->db, ax.db);
	json_decref(rq.body);
}

int provision_routes(struct app *a)
{
	int rc = 0;
	rc |= router_add(a->router, "POST", "/api/v1/projects", h_projects, NULL);
	rc |= router_add(a->router, "POST", "/api/v1/teams", h_teams, NULL);
	return rc ? -1 : 0;
}

/* ---- sentry-bridge projects lint ---------------------------------------------------- */

json_t *provision_lint(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e)
{
	struct org o = {0};
	struct prov_lint l = {0};
	json_t *j = NULL;
	struct sentry_client *sc = sentry_client_new(cfg, lg, m, e);
	if (!sc)
		goto out;
	if (sentry_list_projects(sc, &o.projects, &o.nprojects, e) || org_views(&o, e))
		goto out;
	if (policy_prov_lint(&cfg->provisioning, o.xp, o.nprojects, &l)) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	size_t counts[4] = {0};
	for (size_t i = 0; i < l.n; i++)
		counts[l.v[i].kind]++;
	json_t *vs = json_array();
	for (size_t i = 0; i < l.n; i++) {
		const struct prov_violation *v = &l.v[i];
		json_t *ps = json_array();
		for (size_t k = 0; k < v->nprojects; k++)
			json_array_append_new(ps, json_string(o.projects[v->projects[k]].slug));
		json_array_append_new(vs, json_pack("{s:s,s:o,s:s?,s:s}", "kind", policy_prov_violation_name(v->kind),
						    "projects", ps, "application", v->application, "detail", v->detail));
	}
	json_t *c = json_object();
	for (int k = 0; k < 4; k++)
		json_object_set_new(c, policy_prov_violation_name((enum prov_violation_kind)k),
				    json_integer((json_int_t)counts[k]));
	j = json_pack("{s:s,s:I,s:I,s:o,s:o}", "organization", cfg->sentry.organization, "projects",
		      (json_int_t)o.nprojects, "total", (json_int_t)l.n, "counts", c, "violations", vs);
	if (!j)
		err_set(e, -1, "out of memory");
out:
	policy_prov_lint_free(&l);
	org_free(&o);
	sentry_client_free(sc);
	return j;
}

int provision_lint_cli(const struct config *cfg, struct logger *lg, int json_out)
{
	struct err e;
	err_clear(&e);
	struct metrics *m = metrics_new();
	json_t *j = provision_lint(cfg, lg, m, &e);
	metrics_free(m);
	if (!j) {
		fprintf(stderr, "sentry-bridge projects lint: %s\n", e.msg);
		return EXIT_FAILURE_RUNTIME;
	}
	json_t *c = json_object_get(j, "counts");
	size_t total = (size_t)json_integer_value(json_object_get(j, "total"));
	if (json_out) {
		char *text = json_dumps(j, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(j, "violations"), i, v)
			printf("%-15s %s\n", json_string_value(json_object_get(v, "kind")),
			       json_string_value(json_object_get(v, "detail")));
		printf("%s%zu violation%s in %lld projects of %s (%lld split by environment, %lld named after an "
		       "environment, %lld without a team, %lld near-duplicates)\n",
		       total ? "\n" : "", total, total == 1 ? "" : "s",
		       (long long)json_integer_value(json_object_get(j, "projects")), cfg->sentry.organization,
		       (long long)json_integer_value(json_object_get(c, "env_split")),
		       (long long)json_integer_value(json_object_get(c, "env_suffix")),
		       (long long)json_integer_value(json_object_get(c, "no_team")),
		       (long long)json_integer_value(json_object_get(c, "near_duplicate")));
	}
	json_decref(j);
	return total ? EXIT_VIOLATIONS : EXIT_OK;
}
