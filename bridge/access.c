/*
 * access.c: access requests and grants (see access.h).
 */
#include "access.h"

#include "audit.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "integrations/sentry/sentry_client.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "policies/policy_access.h"
#include "scheduler.h"
#include "slack_access.h"
#include "sso/okta_client.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MOD "access"
/* Teams of grants that ended less than this long ago stay managed, so the
 * sync takes them back even if the bridge was down at the end. */
#define ENDED_TEAMS_KEPT "30 days"

/* ---- grants as policy input --------------------------------------------- */

int access_grants_load(PGconn *c, struct access_grants *g, struct err *e)
{
	memset(g, 0, sizeof *g);
	g->rows = db_exec(c,
			  "SELECT id, person, kind, coalesce(role, ''), coalesce(team, ''),"
			  " to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"'), approved_by"
			  " FROM access_grants WHERE status = 'active' AND ends_at > now() ORDER BY id",
			  0, NULL, e);
	if (!g->rows)
		return -1;
	g->trows = db_exec(c,
			   "SELECT DISTINCT team FROM access_grants WHERE kind = 'team' AND team IS NOT NULL"
			   " AND (status = 'active' OR ended_at > now() - interval '" ENDED_TEAMS_KEPT "') ORDER BY team",
			   0, NULL, e);
	if (!g->trows)
		return -1;
	int n = PQntuples(g->rows), nt = PQntuples(g->trows);
	g->v = calloc((size_t)n + 1, sizeof *g->v);
	g->reasons = calloc((size_t)n + 1, sizeof *g->reasons);
	g->teams = calloc((size_t)nt + 1, sizeof *g->teams);
	if (!g->v || !g->reasons || !g->teams)
		return err_set(e, -1, "out of memory");
	for (int i = 0; i < n; i++) {
		struct policy_grant *pg = &g->v[g->n];
		pg->email = PQgetvalue(g->rows, i, 1);
		pg->is_role = !strcmp(PQgetvalue(g->rows, i, 2), "role");
		if (pg->is_role && policy_role_parse(PQgetvalue(g->rows, i, 3), &pg->role))
			continue;
		pg->team = pg->is_role ? NULL : PQgetvalue(g->rows, i, 4);
		if (asprintf(&g->reasons[g->n], "grant #%s until %s, approved by %s", PQgetvalue(g->rows, i, 0),
			     PQgetvalue(g->rows, i, 5), PQgetvalue(g->rows, i, 6)) < 0) {
			g->reasons[g->n] = NULL;
			return err_set(e, -1, "out of memory");
		}
		pg->reason = g->reasons[g->n];
		g->n++;
	}
	for (int i = 0; i < nt; i++)
		g->teams[g->nteams++] = PQgetvalue(g->trows, i, 0);
	return 0;
}

void access_grants_free(struct access_grants *g)
{
	if (!g)
		return;
	for (size_t i = 0; g->reasons && i < g->n; i++)
		free(g->reasons[i]);
	free(g->reasons);
	free(g->v);
	free(g->teams);
	PQclear(g->rows);
	PQclear(g->trows);
	memset(g, 0, sizeof *g);
}

/* ---- answers ------------------------------------------------------------ */

static int answer_error(struct access_answer *out, int status, const char *code, const char *field, const char *msg)
{
	out->status = status;
	out->body = json_pack("{s:s,s:s}", "code", code, "message", msg);
	if (out->body && field)
		json_object_set_new(out->body, "field", json_string(field));
	return 0;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : "");
	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* ---- people ------------------------------------------------------------- */

struct person {
	char *email;
	struct okta_group *groups;
	size_t ngroups;
	const char **names;
	char okta_id[128];
	char status[32];
};

static void person_free(struct person *p)
{
	free(p->email);
	okta_groups_free(p->groups, p->ngroups);
	free(p->names);
	memset(p, 0, sizeof *p);
}

/* Who email is in Okta and which groups they are in (read from Okta: the
 * approver and requester groups need not be groups the sync mirrors).
 * 0, 1 when Okta does not know them, -1 with e. */
static int person_load(struct ctx *ctx, PGconn *c, const char *email, struct person *p, struct err *e)
{
	memset(p, 0, sizeof *p);
	p->email = lower_dup(email);
	if (!p->email)
		return err_set(e, -1, "out of memory");
	const char *pe[] = {p->email};
	PGresult *r = db_exec(c, "SELECT id, status FROM okta_users WHERE lower(email) = $1 ORDER BY id LIMIT 1", 1, pe, e);
	if (!r)
		return -1;
	if (PQntuples(r)) {
		snprintf(p->okta_id, sizeof p->okta_id, "%s", PQgetvalue(r, 0, 0));
		snprintf(p->status, sizeof p->status, "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	struct okta_client *oc = okta_client_new(ctx->cfg, ctx->log, ctx->metrics, e);
	if (!oc)
		return -1;
	int rc = 0;
	if (!p->okta_id[0]) { /* not in the mirror: Okta finds users by login, commonly the email */
		struct okta_user u;
		rc = okta_get_user(oc, p->email, &u, e);
		if (rc == 0) {
			snprintf(p->okta_id, sizeof p->okta_id, "%s", u.id);
			snprintf(p->status, sizeof p->status, "%s", u.status ? u.status : "");
			okta_user_clear(&u);
		}
	}
	if (rc == 0)
		rc = okta_user_groups(oc, p->okta_id, &p->groups, &p->ngroups, e);
	okta_client_free(oc);
	if (rc)
		return rc;
	p->names = calloc(p->ngroups + 1, sizeof *p->names);
	if (!p->names)
		return err_set(e, -1, "out of memory");
	for (size_t i = 0; i < p->ngroups; i++)
		p->names[i] = p->groups[i].name;
	return 0;
}

static int team_exists(struct ctx *ctx, const char *team, struct err *e)
{
	struct sentry_client *sc = sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, e);
	if (!sc)
		return -1;
	struct sentry_team *teams = NULL;
	size_t n = 0;
	int rc = sentry_list_teams(sc, &teams, &n, e);
	int found = 0;
	for (size_t i = 0; !rc && i < n; i++)
		found |= !strcmp(teams[i].slug, team);
	sentry_teams_free(teams, n);
	sentry_client_free(sc);
	return rc ? -1 : found;
}

/* Is email an admin of team in Sentry (team role admin)? Read from Sentry
 * when the rule lets team admins approve. 1, 0, -1 with e. */
static int is_team_admin(struct ctx *ctx, const char *team, const char *email, struct err *e)
{
	struct sentry_client *sc = sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, e);
	if (!sc)
		return -1;
	char **admins = NULL;
	size_t n = 0;
	int rc = sentry_team_admins(sc, team, &admins, &n, e);
	int found = 0;
	for (size_t i = 0; !rc && i < n; i++)
		found |= !strcasecmp(admins[i], email);
	sentry_ids_free(admins, n);
	sentry_client_free(sc);
	return rc ? -1 : found;
}

/* ---- records ------------------------------------------------------------ */

static const char REQUEST_JSON[] =
    "SELECT json_build_object('id', r.id, 'requester', r.requester, 'kind', r.kind, 'role', r.role, 'team', r.team,"
    " 'duration_s', r.duration_ms / 1000, 'reason', r.reason, 'status', r.status, 'approvals_needed',"
    " r.approvals_needed, 'source', r.source, 'created_by', r.created_by, 'created_at', r.created_at,"
    " 'decided_at', r.decided_at, 'decided_by', r.decided_by, 'decision_reason', r.decision_reason,"
    " 'approvals', (SELECT coalesce(json_agg(json_build_object('approver', a.approver, 'source', a.source, 'at', a.at)"
    "   ORDER BY a.at), '[]') FROM access_approvals a WHERE a.request_id = r.id),"
    " 'grant', (SELECT json_build_object('id', g.id, 'status', g.status, 'starts_at', g.starts_at, 'ends_at',"
    "   g.ends_at, 'approved_by', g.approved_by, 'ended_at', g.ended_at, 'ended_by', g.ended_by, 'end_reason',"
    "   g.end_reason) FROM access_grants g WHERE g.request_id = r.id))::text FROM access_requests r";

json_t *access_request_show(PGconn *c, long long id, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids};
	char sql[sizeof REQUEST_JSON + 64];
	snprintf(sql, sizeof sql, "%s WHERE r.id = $1::bigint", REQUEST_JSON);
	PGresult *r = db_exec(c, sql, 1, p, e);
	if (!r)
		return NULL;
	json_t *j = PQntuples(r) ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
	if (!PQntuples(r))
		err_set(e, 404, "no access request with id %lld", id);
	PQclear(r);
	return j;
}

json_t *access_request_list(PGconn *c, const char *status, const char *person, int limit, struct err *e)
{
	char lim[16], sql[sizeof REQUEST_JSON + 256];
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(sql, sizeof sql,
		 "SELECT coalesce(json_agg(x::json ORDER BY (x::json->>'id')::bigint DESC), '[]')::text FROM (%s"
		 " WHERE ($1::text IS NULL OR r.status = $1) AND ($2::text IS NULL OR r.requester = lower($2))"
		 " ORDER BY r.id DESC LIMIT $3::int) q(x)",
		 REQUEST_JSON);
	const char *p[] = {status, person, lim};
	PGresult *r = db_exec(c, sql, 3, p, e);
	if (!r)
		return NULL;
	json_t *j = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	if (!j)
		err_set(e, -1, "unexpected answer listing access requests");
	return j;
}

static int audit(PGconn *c, struct ctx *ctx, const char *actor, const char *action, long long id, const char *reason,
		 const char *source, struct err *e)
{
	char target[48], details[96];
	snprintf(target, sizeof target, "access-request:%lld", id);
	snprintf(details, sizeof details, "{\"source\":\"%s\"}", source);
	struct audit_entry ae = {.actor = actor, .action = action, .target = target, .reason = reason,
				 .request_id = ctx->request_id, .details = details};
	return audit_write(c, &ae, e);
}

/* Create the grant of an approved request and queue its application. */
static int grant_create(PGconn *c, long long id, const char *approved_by, struct err *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids, approved_by};
	PGresult *r = db_exec(c,
			      "INSERT INTO access_grants (request_id, person, kind, role, team, approved_by, ends_at)"
			      " SELECT id, requester, kind, role, team, $2, now() + duration_ms * interval '1 millisecond'"
			      " FROM access_requests WHERE id = $1::bigint ON CONFLICT (request_id) DO NOTHING"
			      " RETURNING person",
			      2, p, e);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r)) {
		json_t *pl = json_pack("{s:s}", "email", PQgetvalue(r, 0, 0));
		char *pt = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
		json_decref(pl);
		struct job_spec js = {.kind = "access.apply", .payload = pt, .dedupe_key = PQgetvalue(r, 0, 0)};
		rc = pt ? jobs_enqueue(c, &js, NULL, e) : err_set(e, -1, "out of memory");
		free(pt);
	}
	PQclear(r);
	return rc;
}

/* ---- filing ------------------------------------------------------------- */

int access_request_create(struct ctx *ctx, const char *person, const char *kind, const char *role, const char *team,
			  const char *duration, const char *reason, const char *source, const char *actor,
			  struct access_answer *out)
{
	const struct config *cfg = ctx->cfg;
	memset(out, 0, sizeof *out);
	struct access_ask ask = {.reason = reason};
	if (!person || !*person || !strchr(person, '@'))
		return answer_error(out, 422, "invalid", "on_behalf_of", "the request names no requester email");
	if (!kind || (strcmp(kind, "role") && strcmp(kind, "team")))
		return answer_error(out, 422, "invalid", "kind", "kind must be \"role\" or \"team\"");
	ask.kind = !strcmp(kind, "role") ? CONFIG_REQUEST_ROLE : CONFIG_REQUEST_TEAM;
	if (ask.kind == CONFIG_REQUEST_ROLE && (!role || policy_role_parse(role, &ask.role)))
		return answer_error(out, 422, "invalid", "role", "role must be one of member, manager");
	if (ask.kind == CONFIG_REQUEST_TEAM)
		ask.team = team;
	if (duration && *duration) {
		if (duration[0] == '-' || config_parse_duration(duration, &ask.duration_ms))
			return answer_error(out, 422, "invalid", "duration",
					    "duration must be positive and written like 30m, 8h or 7d");
		if (ask.duration_ms <= 0)
			return answer_error(out, 422, "invalid", "duration", "the duration must be positive");
	}
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 5000, &e);
	if (!c)
		return answer_error(out, 503, "database_unavailable", NULL, "the database is not reachable; retry later");
	struct person req;
	int rc = person_load(ctx, c, person, &req, &e);
	if (rc) {
		db_release(ctx->db, c);
		person_free(&req);
		return rc > 0 ? answer_error(out, 422, "invalid", "on_behalf_of", "Okta does not know this person")
			      : answer_error(out, 502, "upstream", NULL, e.msg);
	}
	if (ask.kind == CONFIG_REQUEST_TEAM && ask.team && *ask.team) {
		int te = team_exists(ctx, ask.team, &e);
		if (te < 0) {
			db_release(ctx->db, c);
			person_free(&req);
			return answer_error(out, 502, "upstream", NULL, e.msg);
		}
		ask.team_exists = te == 1;
	}
	struct access_person ap = {.email = req.email, .groups = req.names, .ngroups = req.ngroups};
	struct access_verdict v;
	policy_access_check(cfg, &ap, &ask, &v);
	if (v.ok && strcmp(req.status, "ACTIVE")) {
		v.ok = false;
		v.field = "on_behalf_of";
		snprintf(v.problem, sizeof v.problem, "%s is not ACTIVE in Okta", req.email);
	}
	if (!v.ok) {
		log_info(ctx->log, MOD, ctx->request_id, "access request refused", "requester", req.email, "reason",
			 v.problem, NULL);
		db_release(ctx->db, c);
		person_free(&req);
		return answer_error(out, 422, "refused", v.field && !strcmp(v.field, "requester") ? "on_behalf_of" : v.field,
				    v.problem);
	}
	char dur[32], rule[16], need[16];
	snprintf(dur, sizeof dur, "%lld", (long long)v.duration_ms);
	snprintf(rule, sizeof rule, "%d", v.approver_rule);
	snprintf(need, sizeof need, "%d", v.approvals_needed);
	const char *p[] = {req.email,	 kind,	 ask.kind == CONFIG_REQUEST_ROLE ? config_role_name(ask.role) : NULL,
			   ask.kind == CONFIG_REQUEST_TEAM ? ask.team : NULL, dur, reason, v.auto_approved ? "approved" : "pending",
			   v.approver_rule >= 0 ? rule : NULL, need, source, actor};
	long long id = 0;
	rc = -1;
	if (db_begin(c, &e))
		goto fail;
	PGresult *r = db_exec(c,
			      "INSERT INTO access_requests (requester, kind, role, team, duration_ms, reason, status,"
			      " approver_rule, approvals_needed, source, created_by, decided_at, decided_by, decision_reason)"
			      " VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8::int, $9::int, $10, $11,"
			      " CASE WHEN $7 = 'approved' THEN now() END, CASE WHEN $7 = 'approved' THEN 'auto-approve' END,"
			      " CASE WHEN $7 = 'approved' THEN 'an access_requests.auto_approve rule matched' END) RETURNING id",
			      11, p, &e);
	if (!r)
		goto fail;
	id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (audit(c, ctx, actor, "access.request", id, reason, source, &e))
		goto fail;
	if (v.auto_approved &&
	    (grant_create(c, id, "auto-approve", &e) || audit(c, ctx, "auto-approve", "access.approve", id,
							      "an access_requests.auto_approve rule matched", source, &e)))
		goto fail;
	if (access_notify_filed(c, cfg, id, v.auto_approved, source, &e))
		goto fail;
	if (db_commit(c, &e))
		goto fail;
	metrics_add(ctx->metrics, "sb_access_requests_total", 1, "result", v.auto_approved ? "auto_approved" : "pending",
		    NULL);
	out->status = 201;
	out->body = access_request_show(c, id, &e);
	rc = 0;
fail:
	if (rc) {
		if (PQtransactionStatus(c) != PQTRANS_IDLE)
			db_rollback(c);
		log_error(ctx->log, MOD, ctx->request_id, "could not file an access request", "error", e.msg, NULL);
		answer_error(out, 500, "internal", NULL, "database error");
		rc = 0;
	}
	db_release(ctx->db, c);
	person_free(&req);
	return rc;
}

/* ---- deciding ----------------------------------------------------------- */

int access_request_decide(struct ctx *ctx, long long id, const char *action, const char *by, const char *reason,
			  const char *source, struct access_answer *out)
{
	const struct config *cfg = ctx->cfg;
	memset(out, 0, sizeof *out);
	if (!by || !*by)
		return answer_error(out, 422, "invalid", "by", "say who acts (\"by\": an email)");
	struct err e;
	err_clear(&e);
	PGconn *c = db_acquire(ctx->db, 5000, &e);
	if (!c)
		return answer_error(out, 503, "database_unavailable", NULL, "the database is not reachable; retry later");
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *pid[] = {ids};
	struct person who;
	memset(&who, 0, sizeof who);
	char *byl = lower_dup(by);
	PGresult *r = NULL;
	if (db_begin(c, &e))
		goto dberr;
	r = db_exec(c,
		    "SELECT requester, kind, coalesce(role, ''), coalesce(team, ''), status, coalesce(approver_rule, -1),"
		    " approvals_needed, (SELECT status FROM access_grants WHERE request_id = r.id)"
		    " FROM access_requests r WHERE id = $1::bigint FOR UPDATE",
		    1, pid, &e);
	if (!r)
		goto dberr;
	if (!PQntuples(r)) {
		answer_error(out, 404, "not_found", NULL, "no such access request");
		goto done;
	}
	const char *requester = PQgetvalue(r, 0, 0), *status = PQgetvalue(r, 0, 4);
	const char *rteam = !strcmp(PQgetvalue(r, 0, 1), "team") ? PQgetvalue(r, 0, 3) : NULL;
	const char *admin_of[1] = {rteam};
	bool completed = false;
	int rule = atoi(PQgetvalue(r, 0, 5)), need = atoi(PQgetvalue(r, 0, 6));
	const char *gstatus = PQgetisnull(r, 0, 7) ? NULL : PQgetvalue(r, 0, 7);
	int admin = !strcmp(byl, "admin-token");
	if (!strcmp(action, "cancel")) {
		if (strcmp(status, "pending")) {
			answer_error(out, 409, "conflict", NULL, "only a pending request can be cancelled");
			goto done;
		}
		if (!admin && strcasecmp(byl, requester)) {
			answer_error(out, 403, "forbidden", "by", "only the requester may cancel their request");
			goto done;
		}
		const char *p[] = {ids, byl, reason};
		if (db_run(c,
			   "UPDATE access_requests SET status = 'cancelled', decided_at = now(), decided_by = $2,"
			   " decision_reason = $3 WHERE id = $1::bigint",
			   3, p, &e) ||
		    audit(c, ctx, byl, "access.cancel", id, reason, source, &e))
			goto dberr;
	} else if (!strcmp(action, "revoke")) {
		if (!gstatus || strcmp(gstatus, "active")) {
			answer_error(out, 409, "conflict", NULL, "this request has no active grant to revoke");
			goto done;
		}
		if (!admin) {
			int prc = person_load(ctx, c, byl, &who, &e);
			struct access_person ap = {.email = who.email, .groups = who.names, .ngroups = who.ngroups};
			if (!prc && policy_access_rule_team_admins(cfg, rule, rteam) && is_team_admin(ctx, rteam, byl, &e) == 1) {
				ap.admin_of = admin_of;
				ap.nadmin_of = 1;
			}
			if (prc || (!policy_access_is_approver_for(cfg, rule, rteam, &ap) && strcasecmp(byl, requester))) {
				answer_error(out, 403, "forbidden", "by",
					     "only an approver of this request, the holder or the admin token may revoke it");
				goto done;
			}
		}
		const char *p[] = {ids, byl, reason && *reason ? reason : "revoked early"};
		if (db_run(c,
			   "UPDATE access_grants SET status = 'revoked', ended_at = now(), ended_by = $2, end_reason = $3"
			   " WHERE request_id = $1::bigint AND status = 'active'",
			   3, p, &e) ||
		    audit(c, ctx, byl, "access.revoke", id, p[2], source, &e))
			goto dberr;
		json_t *pl = json_pack("{s:s}", "email", requester);
		char *pt = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
		json_decref(pl);
		struct job_spec js = {.kind = "access.apply", .payload = pt, .dedupe_key = requester};
		int jrc = pt ? jobs_enqueue(c, &js, NULL, &e) : -1;
		free(pt);
		if (jrc)
			goto dberr;
	} else { /* approve, deny */
		int approve = !strcmp(action, "approve");
		if (strcmp(status, "pending")) {
			/* A repeated click of the same person: say so plainly. */
			const char *pa[] = {ids, byl};
			PGresult *mine = approve ? db_exec(c,
							    "SELECT 1 FROM access_approvals WHERE request_id = $1::bigint"
							    " AND approver = $2",
							    2, pa, &e)
						 : NULL;
			bool again = mine && PQntuples(mine) > 0;
			PQclear(mine);
			char msg[200];
			if (again)
				snprintf(msg, sizeof msg, "this request is already approved by you");
			else
				snprintf(msg, sizeof msg, "this request is already %s", status);
			answer_error(out, 409, again ? "already_approved_by_you" : "conflict", NULL, msg);
			goto done;
		}
		if (!admin) {
			int prc = person_load(ctx, c, byl, &who, &e);
			if (prc < 0) {
				answer_error(out, 502, "upstream", NULL, e.msg);
				goto done;
			}
		} else {
			who.email = strdup(byl);
		}
		struct access_ask ask = {.kind = !strcmp(PQgetvalue(r, 0, 1), "role") ? CONFIG_REQUEST_ROLE
										 : CONFIG_REQUEST_TEAM};
		struct access_person ap = {.email = who.email, .groups = who.names, .ngroups = who.ngroups};
		ask.team = rteam;
		if (!admin && policy_access_rule_team_admins(cfg, rule, rteam)) {
			int ta = is_team_admin(ctx, rteam, byl, &e);
			if (ta < 0) {
				answer_error(out, 502, "upstream", NULL, e.msg);
				goto done;
			}
			if (ta) {
				ap.admin_of = admin_of;
				ap.nadmin_of = 1;
			}
		}
		PGresult *ar = db_exec(c, "SELECT approver FROM access_approvals WHERE request_id = $1::bigint", 1, pid, &e);
		if (!ar)
			goto dberr;
		size_t na = (size_t)PQntuples(ar);
		const char **approved = calloc(na + 1, sizeof *approved);
		for (size_t i = 0; approved && i < na; i++)
			approved[i] = PQgetvalue(ar, (int)i, 0);
		struct access_approval_verdict av;
		if (admin) { /* the admin token stands for the operators: one decision is enough */
			memset(&av, 0, sizeof av);
			av.ok = strcasecmp(byl, requester) != 0;
			av.complete = true;
			snprintf(av.problem, sizeof av.problem, "cannot approve one's own request");
		} else {
			policy_access_can_approve(cfg, &ask, requester, rule, need, approved, na, &ap, &av);
		}
		free(approved);
		PQclear(ar);
		if (!av.ok) {
			answer_error(out, 403, "forbidden", "by", av.problem);
			goto done;
		}
		if (approve) {
			const char *p[] = {ids, byl, source};
			if (db_run(c, "INSERT INTO access_approvals (request_id, approver, source) VALUES ($1::bigint, $2, $3)",
				   3, p, &e) ||
			    audit(c, ctx, byl, "access.approve", id, reason, source, &e))
				goto dberr;
			completed = av.complete;
			if (av.complete) {
				const char *p2[] = {ids, byl, reason};
				if (db_run(c,
					   "UPDATE access_requests SET status = 'approved', decided_at = now(), decided_by = $2,"
					   " decision_reason = $3 WHERE id = $1::bigint",
					   3, p2, &e) ||
				    grant_create(c, id, byl, &e))
					goto dberr;
			}
		} else {
			if (!reason || !*reason) {
				answer_error(out, 422, "invalid", "reason", "a denial needs a reason");
				goto done;
			}
			const char *p[] = {ids, byl, reason};
			if (db_run(c,
				   "UPDATE access_requests SET status = 'denied', decided_at = now(), decided_by = $2,"
				   " decision_reason = $3 WHERE id = $1::bigint",
				   3, p, &e) ||
			    audit(c, ctx, byl, "access.deny", id, reason, source, &e))
				goto dberr;
		}
	}
	if (access_notify_decided(c, cfg, id, action, byl, completed, &e) || db_commit(c, &e))
		goto dberr;
	metrics_add(ctx->metrics, "sb_access_decisions_total", 1, "action", action, NULL);
	out->status = 200;
	out->body = access_request_show(c, id, &e);
	goto out;
dberr:
	log_error(ctx->log, MOD, ctx->request_id, "access request decision failed", "error", e.msg, NULL);
	answer_error(out, 500, "internal", NULL, "database error");
done:
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		db_rollback(c);
out:
	PQclear(r);
	free(byl);
	person_free(&who);
	db_release(ctx->db, c);
	return 0;
}

/* ---- applying and expiring ---------------------------------------------- */

/* Reconcile people (by email) under the reconcile lock, waiting up to
 * wait_ms for a running reconcile. 0, 1 still busy, -1 with e. */
static int apply_people(struct ctx *ctx, const char *const *emails, size_t ne, int64_t wait_ms, struct err *e)
{
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	int rc = -1, locked = 0;
	struct sentry_client *sc = NULL;
	PGresult *r = NULL;
	const char **ids = NULL, **uemails = NULL;
	json_t *ja = json_array();
	char *jt = NULL;
	for (int64_t waited = 0;; waited += 100) {
		int lk = sync_lock_try(c, e);
		if (lk < 0)
			goto out;
		if (lk)
			break;
		if (waited >= wait_ms) {
			rc = 1;
			goto out;
		}
		clock_sleep_ms(100, NULL);
	}
	locked = 1;
	for (size_t i = 0; ja && i < ne; i++)
		json_array_append_new(ja, json_string(emails[i]));
	jt = ja ? json_dumps(ja, JSON_COMPACT) : NULL;
	const char *p[] = {jt};
	r = jt ? db_exec(c,
			 "SELECT id, lower(email) FROM okta_users"
			 " WHERE lower(email) IN (SELECT lower(x) FROM jsonb_array_elements_text($1::jsonb) x)",
			 1, p, e)
	       : NULL;
	if (!r)
		goto out;
	size_t n = (size_t)PQntuples(r);
	ids = calloc(n + 1, sizeof *ids);
	uemails = calloc(n + 1, sizeof *uemails);
	if (!ids || !uemails) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ids[i] = PQgetvalue(r, (int)i, 0);
		uemails[i] = PQgetvalue(r, (int)i, 1);
	}
	sc = sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, e);
	if (!sc)
		goto out;
	struct sync_users_in in = {.user_ids = ids, .user_emails = uemails, .n = n, .emails = emails, .nemails = ne,
				   .trigger = "access", .actor = "access"};
	struct sync_report rep;
	int src = sync_users(ctx, c, sc, &in, &rep, e);
	if (!src && rep.failed) {
		err_set(e, -1, "%zu change(s) failed; retrying", rep.failed);
		src = -1;
	}
	sync_report_free(&rep);
	rc = src ? -1 : 0;
out:
	if (locked)
		sync_unlock(c);
	PQclear(r);
	free(ids);
	free(uemails);
	free(jt);
	json_decref(ja);
	sentry_client_free(sc);
	db_release(ctx->db, c);
	return rc;
}

int access_apply_person(struct ctx *ctx, const char *email, struct err *e)
{
	const char *v[] = {email};
	return apply_people(ctx, v, 1, 5000, e);
}

long access_expire_due(struct ctx *ctx, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	long n = -1;
	PGresult *r = NULL, *w = NULL;
	if (db_begin(c, e))
		goto out;
	r = db_exec(c,
		    "WITH ended AS ("
		    " UPDATE access_grants g SET status = CASE WHEN g.ends_at <= now() THEN 'expired' ELSE 'revoked' END,"
		    "  ended_at = now(), ended_by = 'bridge',"
		    "  end_reason = CASE WHEN g.ends_at <= now() THEN 'ended at ends_at'"
		    "   WHEN EXISTS (SELECT 1 FROM okta_users u WHERE lower(u.email) = g.person)"
		    "    THEN 'the holder is no longer ACTIVE in Okta'"
		    "   ELSE 'the holder is no longer in a group the policy uses' END"
		    " WHERE g.status = 'active' AND (g.ends_at <= now()"
		    "  OR EXISTS (SELECT 1 FROM okta_users u WHERE lower(u.email) = g.person AND u.status <> 'ACTIVE')"
		    /* the mirror holds everyone in scope once a sync ran: absent means out of scope */
		    "  OR (EXISTS (SELECT 1 FROM okta_users)"
		    "   AND NOT EXISTS (SELECT 1 FROM okta_users u WHERE lower(u.email) = g.person)))"
		    " RETURNING g.request_id, g.person, g.status, g.end_reason,"
		    "  extract(epoch FROM now() - g.ends_at) AS lag)"
		    " SELECT request_id, person, status, end_reason, lag FROM ended",
		    0, NULL, e);
	if (!r)
		goto fail;
	for (int i = 0; i < PQntuples(r); i++) {
		long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		const char *status = PQgetvalue(r, i, 2);
		if (audit(c, ctx, "bridge", !strcmp(status, "expired") ? "access.expire" : "access.revoke", id,
			  PQgetvalue(r, i, 3), "schedule", e) ||
		    access_notify_decided(c, cfg, id, !strcmp(status, "expired") ? "expire" : "revoke", "bridge", false, e))
			goto fail;
		json_t *pl = json_pack("{s:s}", "email", PQgetvalue(r, i, 1));
		char *pt = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
		json_decref(pl);
		struct job_spec js = {.kind = "access.apply", .payload = pt, .dedupe_key = PQgetvalue(r, i, 1)};
		int jrc = pt ? jobs_enqueue(c, &js, NULL, e) : -1;
		free(pt);
		if (jrc)
			goto fail;
		if (!strcmp(status, "expired"))
			metrics_observe(ctx->metrics, "sb_access_expiry_lag_seconds", atof(PQgetvalue(r, i, 4)), NULL);
	}
	/* Warn holders shortly before the end: logged, and a Slack DM with an Extend button (slack_access.c). */
	if (cfg->access_requests.expiry_warning_ms > 0) {
		char ms[32];
		snprintf(ms, sizeof ms, "%lld", (long long)cfg->access_requests.expiry_warning_ms);
		const char *p[] = {ms};
		w = db_exec(c,
			    "UPDATE access_grants SET warned_at = now() WHERE status = 'active' AND warned_at IS NULL"
			    " AND ends_at <= now() + $1::bigint * interval '1 millisecond' RETURNING id, person, ends_at,"
			    " request_id",
			    1, p, e);
		if (!w)
			goto fail;
		for (int i = 0; i < PQntuples(w); i++) {
			log_info(ctx->log, MOD, ctx->request_id, "access grant ends soon", "#grant", PQgetvalue(w, i, 0),
				 "person", PQgetvalue(w, i, 1), "ends_at", PQgetvalue(w, i, 2), NULL);
			if (access_notify_warning(c, cfg, strtoll(PQgetvalue(w, i, 3), NULL, 10), e))
				goto fail;
		}
	}
	if (db_commit(c, e))
		goto fail;
	n = PQntuples(r);
	if (n) {
		metrics_add(ctx->metrics, "sb_access_grants_ended_total", (double)n, NULL);
		/* Apply the ends now in one reconcile; the queued jobs are the
		 * durable fallback (and find nothing left to do). */
		const char **people = calloc((size_t)n + 1, sizeof *people);
		for (int i = 0; people && i < n; i++)
			people[i] = PQgetvalue(r, i, 1);
		struct err ae;
		err_clear(&ae);
		if (people && apply_people(ctx, people, (size_t)n, 5000, &ae) < 0)
			log_warn(ctx->log, MOD, ctx->request_id, "applying ended grants failed; the queued jobs retry",
				 "error", ae.msg, NULL);
		free(people);
	}
	goto out;
fail:
	db_rollback(c);
out:
	PQclear(r);
	PQclear(w);
	db_release(ctx->db, c);
	return n;
}

static enum job_result job_apply(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)arg;
	json_t *p = json_loads(job->payload, 0, NULL);
	const char *email = json_string_value(json_object_get(p, "email"));
	if (!email) {
		json_decref(p);
		err_set(e, -1, "access.apply without an email");
		return JOB_FAIL;
	}
	int rc = access_apply_person(ctx, email, e);
	json_decref(p);
	if (rc == 1) {
		err_set(e, -1, "a full reconcile is running; retrying");
		return JOB_RETRY;
	}
	return rc ? JOB_RETRY : JOB_DONE;
}

static enum job_result job_expire(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)job;
	(void)arg;
	return access_expire_due(ctx, e) < 0 ? JOB_RETRY : JOB_DONE;
}

static int task_expire(struct ctx *ctx, void *arg, struct err *e)
{
	(void)arg;
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	struct job_spec js = {.kind = "access.expire", .dedupe_key = "expire"};
	int rc = jobs_enqueue(c, &js, NULL, e);
	db_release(ctx->db, c);
	return rc;
}

int access_register(struct ctx *ctx, struct jobs *q, struct sched *s)
{
	metrics_describe(ctx->metrics, "sb_access_requests_total", METRIC_COUNTER,
			 "Access requests filed, by result (pending, auto_approved).");
	metrics_describe(ctx->metrics, "sb_access_decisions_total", METRIC_COUNTER,
			 "Access request decisions, by action (approve, deny, cancel, revoke).");
	metrics_describe(ctx->metrics, "sb_access_grants_ended_total", METRIC_COUNTER,
			 "Grants ended by the bridge (expired or holder no longer active).");
	metrics_describe(ctx->metrics, "sb_access_expiry_lag_seconds", METRIC_HISTOGRAM,
			 "How long after ends_at a grant was ended.");
	if (jobs_register(q, "access.apply", job_apply, NULL) || jobs_register(q, "access.expire", job_expire, NULL) ||
	    slack_access_register(ctx, q, s))
		return -1;
	if (!ctx->cfg->access_requests.enabled)
		return 0;
	int64_t every = ctx->cfg->access_requests.expiry_check_interval_ms;
	return sched_add(s, "access.expire", every > 0 ? every : 30000, task_expire, NULL);
}
