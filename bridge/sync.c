/*
 * sync.c: the reconcile engine (see sync.h).
 *
 * Order of a run: take the reconcile lock, open the run row, read Okta (the
 * groups the policy names, their members, concurrently) and Sentry (members,
 * the managed teams and their members), compute the plan, record it, stop
 * there for a dry run or a refusal, refresh the mirrors, apply with
 * sync.apply_concurrency threads (grants first, then team removals, then
 * member removals), record each change's outcome and an audit entry for
 * each applied one, close the run.
 *
 * A crash at any point leaves Sentry partly changed and the run "running";
 * the next run (which takes the lock, so nobody else is running) marks such
 * runs failed and computes a fresh plan from fresh snapshots, so it converges
 * without repeating what already landed: a pending invite is a member in
 * the next snapshot, so nobody is invited twice.
 */
#include "sync.h"

#include "access.h"
#include "audit.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "integrations/sentry/sentry_client.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "scheduler.h"
#include "sso/okta_client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The advisory lock that makes a reconcile exclusive ("sb-sync"). */
#define SYNC_LOCK_KEY "7306248"

static const char *status_names[] = {"planned", "applied", "failed", "requested", "skipped", "refused"};

/* ---- snapshots ---------------------------------------------------------- */

struct uref {
	const char *user_id;
	size_t group; /* index into groups */
	const struct okta_user *u;
};

struct snapshot {
	struct okta_group *groups;
	size_t ngroups;
	struct okta_user **gusers; /* per group */
	size_t *ngusers;
	struct policy_user *users;
	size_t nusers;
	const char **user_groups; /* backing store of users[].groups */
	struct sentry_member *members;
	size_t nmembers;
	struct policy_member *pmembers;
	char ***mteams; /* per member: team slugs (borrowed from cfg) */
	struct policy_group_count *counts;
	size_t ncounts;
};

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->ngroups; i++)
		if (s->gusers)
			okta_users_free(s->gusers[i], s->ngusers[i]);
	okta_groups_free(s->groups, s->ngroups);
	free(s->gusers);
	free(s->ngusers);
	free(s->users);
	free(s->user_groups);
	for (size_t i = 0; i < s->nmembers; i++) {
		/* teams point into cfg: only the arrays are ours */
		free(s->members[i].teams);
		s->members[i].teams = NULL;
		s->members[i].nteams = 0;
	}
	sentry_members_free(s->members, s->nmembers);
	free(s->pmembers);
	free(s->counts);
	memset(s, 0, sizeof *s);
}

static int add_name(const char **names, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return 0;
	names[(*n)++] = name;
	return 1;
}

static int uref_cmp(const void *a, const void *b)
{
	const struct uref *x = a, *y = b;
	int c = strcmp(x->user_id, y->user_id);
	if (c)
		return c;
	return x->group < y->group ? -1 : x->group > y->group;
}

static void progress(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(FILE *f, const char *fmt, ...)
{
	if (!f)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("\r\033[K", f);
	vfprintf(f, fmt, ap);
	fflush(f);
	va_end(ap);
}

/* Read the Okta side: the policy's groups and their members. */
static int read_okta(struct ctx *ctx, struct okta_client *oc, struct snapshot *s, FILE *prog, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	size_t cap = cfg->roles.access_groups.n + cfg->roles.n_mappings + cfg->n_teams + 1;
	const char **names = calloc(cap, sizeof *names);
	struct uref *refs = NULL;
	int rc = -1;
	size_t nnames = 0;
	if (!names)
		return err_set(e, -1, "out of memory");
	for (size_t i = 0; i < cfg->roles.access_groups.n; i++)
		add_name(names, &nnames, cfg->roles.access_groups.v[i]);
	for (size_t i = 0; i < cfg->roles.n_mappings; i++)
		add_name(names, &nnames, cfg->roles.mappings[i].group);
	for (size_t i = 0; i < cfg->n_teams; i++)
		add_name(names, &nnames, cfg->teams[i].group);
	if (nnames == 0) {
		err_set(e, -1, "the config names no Okta group (roles.access_groups, roles.mappings, teams)");
		goto out;
	}
	progress(prog, "reading %zu Okta groups...", nnames);
	if (okta_groups_by_name(oc, names, nnames, &s->groups, &s->ngroups, e))
		goto out;
	/* Every group the config names must exist: a typo must not read as
	 * "nobody is in this group" and remove people. */
	for (size_t i = 0; i < nnames; i++) {
		int found = 0;
		for (size_t g = 0; g < s->ngroups && !found; g++)
			found = !strcmp(s->groups[g].name, names[i]);
		if (!found) {
			err_set(e, -1, "the Okta group \"%s\" named in the config does not exist in Okta", names[i]);
			goto out;
		}
	}
	const char **ids = calloc(s->ngroups + 1, sizeof *ids);
	s->gusers = calloc(s->ngroups + 1, sizeof *s->gusers);
	s->ngusers = calloc(s->ngroups + 1, sizeof *s->ngusers);
	if (!ids || !s->gusers || !s->ngusers) {
		free(ids);
		err_set(e, -1, "out of memory");
		goto out;
	}
	for (size_t g = 0; g < s->ngroups; g++)
		ids[g] = s->groups[g].id;
	progress(prog, "reading the members of %zu Okta groups...", s->ngroups);
	int mrc = okta_groups_members(oc, ids, s->ngroups, s->gusers, s->ngusers, e);
	free(ids);
	if (mrc)
		goto out;

	/* Merge: one policy_user per Okta user id, with the names of its groups. */
	size_t nrefs = 0;
	for (size_t g = 0; g < s->ngroups; g++)
		nrefs += s->ngusers[g];
	refs = calloc(nrefs + 1, sizeof *refs);
	s->user_groups = calloc(nrefs + 1, sizeof *s->user_groups);
	s->users = calloc(nrefs + 1, sizeof *s->users);
	if (!refs || !s->user_groups || !s->users) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	size_t k = 0;
	for (size_t g = 0; g < s->ngroups; g++)
		for (size_t i = 0; i < s->ngusers[g]; i++)
			refs[k++] = (struct uref){.user_id = s->gusers[g][i].id, .group = g, .u = &s->gusers[g][i]};
	qsort(refs, nrefs, sizeof *refs, uref_cmp);
	for (size_t i = 0; i < nrefs;) {
		struct policy_user *pu = &s->users[s->nusers++];
		pu->id = refs[i].u->id;
		pu->email = refs[i].u->email;
		pu->active = refs[i].u->status && !strcmp(refs[i].u->status, "ACTIVE");
		pu->groups = &s->user_groups[i];
		size_t j = i;
		for (; j < nrefs && !strcmp(refs[j].user_id, refs[i].user_id); j++)
			s->user_groups[j] = s->groups[refs[j].group].name;
		pu->ngroups = j - i;
		i = j;
	}
	rc = 0;
out:
	free(names);
	free(refs);
	return rc;
}

static int member_id_cmp(const void *a, const void *b)
{
	const struct sentry_member *x = a, *y = b;
	return strcmp(x->id, y->id);
}

/* Read the Sentry side: members, invites, and the managed teams' members. */
static int read_sentry(struct ctx *ctx, struct sentry_client *sc, struct snapshot *s, FILE *prog, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	struct sentry_team *teams = NULL;
	size_t nteams = 0, nslugs = 0;
	const char **slugs = calloc(cfg->n_teams + 1, sizeof *slugs);
	char ***ids = NULL;
	size_t *nids = NULL;
	int rc = -1;
	if (!slugs)
		return err_set(e, -1, "out of memory");
	progress(prog, "reading Sentry members...");
	if (sentry_list_members(sc, &s->members, &s->nmembers, e))
		goto out;
	for (size_t i = 0; i < cfg->n_teams; i++)
		add_name(slugs, &nslugs, cfg->teams[i].team);
	if (nslugs) {
		if (sentry_list_teams(sc, &teams, &nteams, e))
			goto out;
		for (size_t i = 0; i < nslugs; i++) {
			int found = 0;
			for (size_t t = 0; t < nteams && !found; t++)
				found = !strcmp(teams[t].slug, slugs[i]);
			if (!found) {
				err_set(e, -1, "the Sentry team \"%s\" named in teams: does not exist in Sentry", slugs[i]);
				goto out;
			}
		}
		ids = calloc(nslugs, sizeof *ids);
		nids = calloc(nslugs, sizeof *nids);
		if (!ids || !nids) {
			err_set(e, -1, "out of memory");
			goto out;
		}
		progress(prog, "reading the members of %zu Sentry teams...", nslugs);
		if (sentry_teams_members(sc, slugs, nslugs, ids, nids, e))
			goto out;
	}
	/* Attach team slugs to members (by member id). */
	qsort(s->members, s->nmembers, sizeof *s->members, member_id_cmp);
	for (size_t t = 0; t < nslugs; t++) {
		for (size_t i = 0; i < nids[t]; i++) {
			struct sentry_member key = {.id = ids[t][i]};
			struct sentry_member *m = bsearch(&key, s->members, s->nmembers, sizeof *s->members, member_id_cmp);
			if (!m)
				continue; /* joined between the two reads: the next run sees it */
			char **nv = realloc(m->teams, (m->nteams + 1) * sizeof *nv);
			if (!nv) {
				err_set(e, -1, "out of memory");
				goto out;
			}
			m->teams = nv;
			m->teams[m->nteams++] = (char *)slugs[t]; /* borrowed from cfg */
		}
	}
	s->pmembers = calloc(s->nmembers + 1, sizeof *s->pmembers);
	if (!s->pmembers) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->nmembers; i++) {
		struct sentry_member *m = &s->members[i];
		struct policy_member *pm = &s->pmembers[i];
		pm->id = m->id;
		pm->email = m->email;
		pm->role_known = policy_role_parse(m->role, &pm->role) == 0;
		pm->pending = m->pending;
		pm->idp_provisioned = m->idp_provisioned;
		pm->teams = (const char *const *)m->teams;
		pm->nteams = m->nteams;
	}
	rc = 0;
out:
	if (ids)
		for (size_t t = 0; t < nslugs; t++)
			sentry_ids_free(ids[t], nids[t]);
	free(ids);
	free(nids);
	sentry_teams_free(teams, nteams);
	free(slugs);
	return rc;
}

/* Access groups' member counts now and at the last applied run. */
static int group_counts(struct ctx *ctx, PGconn *c, struct snapshot *s, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	s->counts = calloc(cfg->roles.access_groups.n + 1, sizeof *s->counts);
	if (!s->counts)
		return err_set(e, -1, "out of memory");
	for (size_t i = 0; i < cfg->roles.access_groups.n; i++) {
		const char *name = cfg->roles.access_groups.v[i];
		struct policy_group_count *gc = &s->counts[s->ncounts++];
		gc->group = name;
		gc->previous = -1;
		for (size_t g = 0; g < s->ngroups; g++)
			if (!strcmp(s->groups[g].name, name))
				gc->current = (long)s->ngusers[g];
		const char *p[] = {name};
		PGresult *r = db_exec(c, "SELECT member_count FROM okta_groups WHERE name = $1", 1, p, e);
		if (!r)
			return -1;
		if (PQntuples(r) == 1)
			gc->previous = atol(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return 0;
}

/* ---- recording ---------------------------------------------------------- */

static json_t *change_json(const struct policy_change *c, enum sync_change_status st, const char *error)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "kind", policy_change_kind_name(c->kind), "email", c->email, "reason",
			      c->reason);
	if (!o)
		return NULL;
	if (c->member_id)
		json_object_set_new(o, "member_id", json_string(c->member_id));
	if (c->okta_id)
		json_object_set_new(o, "okta_id", json_string(c->okta_id));
	if (c->team)
		json_object_set_new(o, "team", json_string(c->team));
	switch (c->kind) {
	case PC_INVITE: {
		json_t *teams = json_array();
		for (size_t t = 0; t < c->nteams; t++)
			json_array_append_new(teams, json_string(c->teams[t]));
		json_object_set_new(o, "after",
				    json_pack("{s:s,s:o}", "role", config_role_name(c->role_after), "teams", teams));
		break;
	}
	case PC_SET_ROLE:
		json_object_set_new(o, "before", json_pack("{s:s}", "role", config_role_name(c->role_before)));
		json_object_set_new(o, "after", json_pack("{s:s}", "role", config_role_name(c->role_after)));
		break;
	case PC_ADD_TEAM:
		json_object_set_new(o, "before", json_pack("{s:b}", "on_team", 0));
		json_object_set_new(o, "after", json_pack("{s:b}", "on_team", 1));
		break;
	case PC_REMOVE_TEAM:
		json_object_set_new(o, "before", json_pack("{s:b}", "on_team", 1));
		json_object_set_new(o, "after", json_pack("{s:b}", "on_team", 0));
		break;
	case PC_REMOVE_MEMBER:
		json_object_set_new(o, "before", json_pack("{s:s}", "role", config_role_name(c->role_before)));
		json_object_set_new(o, "after", json_null());
		break;
	}
	if (c->demotion)
		json_object_set_new(o, "demotion", json_true());
	json_object_set_new(o, "status", json_string(status_names[st]));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	return o;
}

static json_t *changes_json(const struct sync_report *rep)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < rep->plan.n; i++)
		json_array_append_new(a, change_json(&rep->plan.changes[i], rep->cstatus ? rep->cstatus[i] : SCS_PLANNED,
						     rep->cerror ? rep->cerror[i] : NULL));
	return a;
}

static json_t *strs_json(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static const char *sync_status_name(enum sync_status s)
{
	switch (s) {
	case SYNC_DONE: return "done";
	case SYNC_REFUSED: return "refused";
	case SYNC_FAILED: return "failed";
	case SYNC_BUSY: return "busy";
	}
	return "unknown";
}

static json_t *summary_json(const struct sync_report *rep)
{
	const struct policy_plan *p = &rep->plan;
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "invites", (json_int_t)p->counts[PC_INVITE],
			 "role_changes", (json_int_t)p->counts[PC_SET_ROLE], "team_additions",
			 (json_int_t)p->counts[PC_ADD_TEAM], "team_removals", (json_int_t)p->counts[PC_REMOVE_TEAM],
			 "removals", (json_int_t)p->counts[PC_REMOVE_MEMBER], "demotions", (json_int_t)p->demotions,
			 "applied", (json_int_t)rep->applied, "failed", (json_int_t)rep->failed, "requested",
			 (json_int_t)rep->requested, "skipped", (json_int_t)rep->skipped, "okta_users",
			 (json_int_t)rep->okta_users, "sentry_members", (json_int_t)rep->sentry_members, "duration_ms",
			 (json_int_t)rep->duration_ms);
}

json_t *sync_report_json(const struct sync_report *rep)
{
	json_t *o = json_pack("{s:I,s:s,s:b,s:o,s:o,s:o,s:o}", "run_id", (json_int_t)rep->run_id, "status",
			      rep->status == SYNC_DONE ? (rep->dry_run ? "planned" : "applied") : sync_status_name(rep->status),
			      "dry_run", rep->dry_run, "summary", summary_json(rep), "refusals",
			      strs_json(rep->plan.refusals, rep->plan.nrefusals), "warnings",
			      strs_json(rep->plan.warnings, rep->plan.nwarnings), "changes", changes_json(rep));
	if (o && rep->error[0])
		json_object_set_new(o, "error", json_string(rep->error));
	return o;
}

/* Store the plan's changes (one statement for all of them). */
static int record_plan(PGconn *c, const struct sync_report *rep, struct err *e)
{
	json_t *a = changes_json(rep);
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!text)
		return err_set(e, -1, "out of memory");
	char run[32];
	snprintf(run, sizeof run, "%lld", (long long)rep->run_id);
	const char *p[] = {run, text};
	int rc = db_run(c,
			"INSERT INTO sync_changes (run_id, seq, kind, email, member_id, okta_id, team, before, after,"
			" reason, status, error, demotion)"
			" SELECT $1::bigint, (ord - 1)::int, x->>'kind', x->>'email', x->>'member_id', x->>'okta_id',"
			" x->>'team', x->'before', x->'after', x->>'reason', x->>'status', x->>'error',"
			" coalesce((x->>'demotion')::boolean, false)"
			" FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(x, ord)",
			2, p, e);
	free(text);
	return rc;
}

static int finish_run(PGconn *c, const struct sync_report *rep, const char *status, struct err *e)
{
	json_t *sum = summary_json(rep);
	json_t *plan = json_pack("{s:o,s:o}", "refusals", strs_json(rep->plan.refusals, rep->plan.nrefusals),
				 "warnings", strs_json(rep->plan.warnings, rep->plan.nwarnings));
	char *st = sum ? json_dumps(sum, JSON_COMPACT) : NULL;
	char *pt = plan ? json_dumps(plan, JSON_COMPACT) : NULL;
	json_decref(sum);
	json_decref(plan);
	char run[32];
	snprintf(run, sizeof run, "%lld", (long long)rep->run_id);
	const char *p[] = {run, status, st, pt, rep->error[0] ? rep->error : NULL};
	int rc = db_run(c,
			"UPDATE sync_runs SET status = $2, finished_at = now(), summary = $3::jsonb, plan = $4::jsonb,"
			" error = $5 WHERE id = $1::bigint",
			5, p, e);
	free(st);
	free(pt);
	return rc;
}

/* Replace the mirrors with this run's snapshot, in one transaction. */
static int refresh_mirrors(PGconn *c, const struct snapshot *s, struct err *e)
{
	json_t *groups = json_array(), *users = json_array(), *ms = json_array(), *members = json_array();
	int rc = -1;
	char *gt = NULL, *ut = NULL, *mt = NULL, *st = NULL;
	if (!groups || !users || !ms || !members)
		goto out;
	for (size_t g = 0; g < s->ngroups; g++) {
		json_array_append_new(groups, json_pack("{s:s,s:s,s:s?,s:I}", "id", s->groups[g].id, "name",
							s->groups[g].name, "type", s->groups[g].type, "n",
							(json_int_t)s->ngusers[g]));
		for (size_t i = 0; i < s->ngusers[g]; i++)
			json_array_append_new(ms, json_pack("[s,s]", s->groups[g].id, s->gusers[g][i].id));
	}
	for (size_t i = 0; i < s->nusers; i++) {
		/* the policy_user borrows from one of the group lists: find the full record */
		const struct policy_user *pu = &s->users[i];
		const struct okta_user *u = NULL;
		for (size_t g = 0; g < s->ngroups && !u; g++)
			for (size_t k = 0; k < s->ngusers[g] && !u; k++)
				if (s->gusers[g][k].id == pu->id)
					u = &s->gusers[g][k];
		json_array_append_new(users, json_pack("{s:s,s:s?,s:s?,s:s}", "id", pu->id, "email", pu->email, "login",
						       u ? u->login : NULL, "status", u && u->status ? u->status : "UNKNOWN"));
	}
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct sentry_member *m = &s->members[i];
		json_t *teams = json_array();
		for (size_t t = 0; t < m->nteams; t++)
			json_array_append_new(teams, json_string(m->teams[t]));
		json_array_append_new(members, json_pack("{s:s,s:s,s:s,s:b,s:b,s:o}", "id", m->id, "email",
							 m->email ? m->email : "", "role", m->role ? m->role : "",
							 "pending", m->pending, "idp", m->idp_provisioned, "teams", teams));
	}
	gt = json_dumps(groups, JSON_COMPACT);
	ut = json_dumps(users, JSON_COMPACT);
	mt = json_dumps(ms, JSON_COMPACT);
	st = json_dumps(members, JSON_COMPACT);
	if (!gt || !ut || !mt || !st)
		goto out;
	const char *pg[] = {gt}, *pu[] = {ut}, *pm[] = {mt}, *ps[] = {st};
	if (db_begin(c, e))
		goto out;
	if (db_run(c, "DELETE FROM okta_memberships", 0, NULL, e) ||
	    db_run(c,
		   "DELETE FROM okta_groups WHERE id NOT IN (SELECT x->>'id' FROM jsonb_array_elements($1::jsonb) x)",
		   1, pg, e) ||
	    db_run(c,
		   "INSERT INTO okta_groups (id, name, type, member_count, synced_at)"
		   " SELECT x->>'id', x->>'name', x->>'type', (x->>'n')::int, now() FROM jsonb_array_elements($1::jsonb) x"
		   " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,"
		   " member_count = EXCLUDED.member_count, synced_at = now()",
		   1, pg, e) ||
	    db_run(c, "DELETE FROM okta_users WHERE id NOT IN (SELECT x->>'id' FROM jsonb_array_elements($1::jsonb) x)",
		   1, pu, e) ||
	    db_run(c,
		   "INSERT INTO okta_users (id, email, login, status, synced_at)"
		   " SELECT x->>'id', x->>'email', x->>'login', x->>'status', now() FROM jsonb_array_elements($1::jsonb) x"
		   " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, login = EXCLUDED.login,"
		   " status = EXCLUDED.status, synced_at = now()",
		   1, pu, e) ||
	    db_run(c,
		   "INSERT INTO okta_memberships (group_id, user_id)"
		   " SELECT x->>0, x->>1 FROM jsonb_array_elements($1::jsonb) x ON CONFLICT DO NOTHING",
		   1, pm, e) ||
	    db_run(c, "DELETE FROM sentry_members", 0, NULL, e) ||
	    db_run(c,
		   "INSERT INTO sentry_members (id, email, role, pending, idp_provisioned, teams, synced_at)"
		   " SELECT x->>'id', x->>'email', x->>'role', (x->>'pending')::boolean, (x->>'idp')::boolean,"
		   " ARRAY(SELECT jsonb_array_elements_text(x->'teams')), now()"
		   " FROM jsonb_array_elements($1::jsonb) x",
		   1, ps, e) ||
	    db_commit(c, e)) {
		db_rollback(c);
		goto out;
	}
	rc = 0;
out:
	if (rc && !e->msg[0])
		err_set(e, -1, "out of memory");
	json_decref(groups);
	json_decref(users);
	json_decref(ms);
	json_decref(members);
	free(gt);
	free(ut);
	free(mt);
	free(st);
	return rc;
}

/* ---- applying ----------------------------------------------------------- */

struct applier {
	struct ctx *ctx;
	struct sentry_client *sc;
	struct sync_report *rep;
	size_t *order;     /* change indexes of the current phase */
	size_t norder;
	atomic_size_t next;
	atomic_size_t done;
	size_t total_done_before;
	FILE *prog;
	pthread_mutex_t mu;
};

static int msg_has(const char *msg, const char *needle)
{
	return msg && strcasestr(msg, needle) != NULL;
}

/* Apply one change; sets its status and error. */
static void apply_one(struct applier *ap, size_t idx)
{
	const struct policy_change *c = &ap->rep->plan.changes[idx];
	struct sentry_result res = {0};
	struct err e;
	err_clear(&e);
	int rc = -1;
	switch (c->kind) {
	case PC_INVITE:
		rc = sentry_invite(ap->sc, c->email, config_role_name(c->role_after), (const char *const *)c->teams,
				   c->nteams, &res, &e);
		break;
	case PC_SET_ROLE:
		rc = sentry_set_role(ap->sc, c->member_id, config_role_name(c->role_after), &res, &e);
		break;
	case PC_ADD_TEAM:
		rc = sentry_add_to_team(ap->sc, c->member_id, c->team, &res, &e);
		break;
	case PC_REMOVE_TEAM:
		rc = sentry_remove_from_team(ap->sc, c->member_id, c->team, &res, &e);
		break;
	case PC_REMOVE_MEMBER:
		rc = sentry_remove_member(ap->sc, c->member_id, &res, &e);
		break;
	}
	enum sync_change_status st;
	char *error = NULL;
	if (rc) {
		st = SCS_FAILED;
		error = strdup(e.msg[0] ? e.msg : "Sentry could not be reached");
	} else if (c->kind == PC_ADD_TEAM && res.status == 202) {
		st = SCS_REQUESTED;
		error = strdup("Sentry recorded an access request instead of adding the member (the token lacks "
			       "team:write or org:write); not applied");
	} else if (res.status >= 200 && res.status < 300) {
		st = SCS_APPLIED;
	} else if (c->kind == PC_INVITE && res.status == 400 &&
		   (msg_has(res.message, "already been invited") || msg_has(res.message, "already a member"))) {
		st = SCS_SKIPPED; /* a previous, interrupted run got there first */
		error = strdup(res.message);
	} else if ((c->kind == PC_REMOVE_MEMBER || c->kind == PC_REMOVE_TEAM) && res.status == 404) {
		st = SCS_SKIPPED; /* already gone */
		error = strdup("already gone");
	} else {
		st = SCS_FAILED;
		char buf[700];
		snprintf(buf, sizeof buf, "Sentry answered %ld: %s", res.status, res.message ? res.message : "");
		error = strdup(buf);
	}
	ap->rep->cstatus[idx] = st;
	ap->rep->cerror[idx] = error;
	if (st == SCS_APPLIED && c->kind == PC_INVITE && res.member_id && ap->rep->cmember)
		ap->rep->cmember[idx] = strdup(res.member_id);
	sentry_result_clear(&res);
	metrics_add(ap->ctx->metrics, "sb_sync_changes_total", 1, "kind", policy_change_kind_name(c->kind), "status",
		    status_names[st], NULL);
	if (st == SCS_FAILED)
		log_warn(ap->ctx->log, "sync", ap->ctx->request_id, "change failed", "kind",
			 policy_change_kind_name(c->kind), "email", c->email, "error", error ? error : "", NULL);
}

static void *apply_thread(void *arg)
{
	struct applier *ap = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&ap->next, 1);
		if (i >= ap->norder)
			break;
		apply_one(ap, ap->order[i]);
		size_t d = atomic_fetch_add(&ap->done, 1) + 1;
		if (ap->prog && (d % 25 == 0 || d == ap->norder)) {
			pthread_mutex_lock(&ap->mu);
			progress(ap->prog, "applying: %zu of %zu changes done...", ap->total_done_before + d,
				 ap->rep->plan.n);
			pthread_mutex_unlock(&ap->mu);
		}
	}
	return NULL;
}

/* Grants first (invites, roles, team additions), then team removals, then
 * member removals: never take access away before what replaces it landed. */
static void apply_plan(struct ctx *ctx, struct sentry_client *sc, struct sync_report *rep, FILE *prog)
{
	static const int phase_of[] = {[PC_INVITE] = 0, [PC_SET_ROLE] = 0, [PC_ADD_TEAM] = 0, [PC_REMOVE_TEAM] = 1,
				       [PC_REMOVE_MEMBER] = 2};
	size_t *order = calloc(rep->plan.n + 1, sizeof *order);
	if (!order)
		return;
	int workers = ctx->cfg->sync.apply_concurrency > 0 ? ctx->cfg->sync.apply_concurrency : 1;
	size_t done_before = 0;
	for (int phase = 0; phase < 3; phase++) {
		struct applier ap = {.ctx = ctx, .sc = sc, .rep = rep, .order = order, .prog = prog,
				     .total_done_before = done_before};
		for (size_t i = 0; i < rep->plan.n; i++)
			if (phase_of[rep->plan.changes[i].kind] == phase && rep->cstatus[i] == SCS_PLANNED)
				order[ap.norder++] = i;
		if (!ap.norder)
			continue;
		atomic_init(&ap.next, 0);
		atomic_init(&ap.done, 0);
		pthread_mutex_init(&ap.mu, NULL);
		pthread_t th[64];
		int n = workers > 64 ? 64 : workers, started = 0;
		for (int t = 0; t < n; t++)
			if (!pthread_create(&th[t], NULL, apply_thread, &ap))
				started++;
			else
				break;
		if (!started)
			apply_thread(&ap);
		for (int t = 0; t < started; t++)
			pthread_join(th[t], NULL);
		pthread_mutex_destroy(&ap.mu);
		done_before += ap.norder;
	}
	free(order);
	for (size_t i = 0; i < rep->plan.n; i++) {
		switch (rep->cstatus[i]) {
		case SCS_APPLIED: rep->applied++; break;
		case SCS_FAILED: rep->failed++; break;
		case SCS_REQUESTED: rep->requested++; break;
		case SCS_SKIPPED: rep->skipped++; break;
		case SCS_REFUSED: rep->refused++; break;
		case SCS_PLANNED: break;
		}
	}
}

/* Outcomes and one audit entry per applied change, in one transaction. */
static int record_results(PGconn *c, struct ctx *ctx, const struct sync_report *rep, struct err *e)
{
	char run[32];
	snprintf(run, sizeof run, "%lld", (long long)rep->run_id);
	if (db_begin(c, e))
		return -1;
	json_t *a = json_array();
	for (size_t i = 0; a && i < rep->plan.n; i++)
		json_array_append_new(a, json_pack("{s:I,s:s,s:s?}", "seq", (json_int_t)i, "status",
						   status_names[rep->cstatus[i]], "error", rep->cerror[i]));
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	const char *p[] = {run, text};
	if (!text || db_run(c,
			    "UPDATE sync_changes s SET status = x->>'status', error = x->>'error',"
			    " applied_at = CASE WHEN x->>'status' = 'applied' THEN now() END"
			    " FROM jsonb_array_elements($2::jsonb) x"
			    " WHERE s.run_id = $1::bigint AND s.seq = (x->>'seq')::int",
			    2, p, e))
		goto fail;
	for (size_t i = 0; i < rep->plan.n; i++) {
		if (rep->cstatus[i] != SCS_APPLIED)
			continue;
		const struct policy_change *ch = &rep->plan.changes[i];
		json_t *cj = change_json(ch, SCS_APPLIED, NULL);
		char *before = json_dumps(json_object_get(cj, "before"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *after = json_dumps(json_object_get(cj, "after"), JSON_COMPACT | JSON_ENCODE_ANY);
		char action[64];
		snprintf(action, sizeof action, "member.%s", policy_change_kind_name(ch->kind));
		struct audit_entry ae = {.actor = rep->actor ? rep->actor : "sync", .action = action, .target = ch->email,
					 .reason = ch->reason,
					 .before = before, .after = after, .run_id = rep->run_id,
					 .request_id = ctx->request_id};
		int rc = audit_write(c, &ae, e);
		free(before);
		free(after);
		json_decref(cj);
		if (rc)
			goto fail;
	}
	free(text);
	return db_commit(c, e);
fail:
	free(text);
	db_rollback(c);
	return -1;
}

/* Keep the Sentry mirror current with what was applied, so the event path
 * (which plans from the mirrors) sees this run's invites, roles and teams.
 * Four statements whatever the size of the plan. */
static int mirror_apply(PGconn *c, const struct sync_report *rep, struct err *e)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < rep->plan.n; i++) {
		if (rep->cstatus[i] != SCS_APPLIED && rep->cstatus[i] != SCS_SKIPPED)
			continue;
		const struct policy_change *ch = &rep->plan.changes[i];
		if (ch->kind == PC_INVITE && (!rep->cmember || !rep->cmember[i]))
			continue; /* an invite Sentry already had: the next sync reads it */
		json_t *teams = json_array();
		for (size_t k = 0; teams && k < ch->nteams; k++)
			json_array_append_new(teams, json_string(ch->teams[k]));
		json_array_append_new(a, json_pack("{s:s,s:s?,s:s,s:s,s:s?,s:o}", "kind", policy_change_kind_name(ch->kind),
						   "id", ch->kind == PC_INVITE ? rep->cmember[i] : ch->member_id,
						   "email", ch->email, "role", config_role_name(ch->role_after), "team",
						   ch->team, "teams", teams ? teams : json_array()));
	}
	char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!t)
		return err_set(e, -1, "out of memory");
	const char *p[] = {t};
	int rc = db_begin(c, e) ||
		 db_run(c,
			"DELETE FROM sentry_members WHERE id IN (SELECT x->>'id' FROM jsonb_array_elements($1::jsonb) x"
			" WHERE x->>'kind' = 'remove_member')",
			1, p, e) ||
		 db_run(c,
			"UPDATE sentry_members m SET role = x->>'role', synced_at = now()"
			" FROM jsonb_array_elements($1::jsonb) x WHERE x->>'kind' = 'set_role' AND m.id = x->>'id'",
			1, p, e) ||
		 db_run(c,
			"UPDATE sentry_members m SET synced_at = now(), teams = ARRAY(SELECT DISTINCT u FROM"
			"  unnest(m.teams || coalesce(d.adds, '{}')) u WHERE NOT (u = ANY (coalesce(d.removes, '{}'))) ORDER BY u)"
			" FROM (SELECT x->>'id' AS id,"
			"  array_agg(x->>'team') FILTER (WHERE x->>'kind' = 'add_team') AS adds,"
			"  array_agg(x->>'team') FILTER (WHERE x->>'kind' = 'remove_team') AS removes"
			"  FROM jsonb_array_elements($1::jsonb) x WHERE x->>'kind' IN ('add_team', 'remove_team')"
			"  GROUP BY x->>'id') d WHERE m.id = d.id",
			1, p, e) ||
		 db_run(c,
			"INSERT INTO sentry_members (id, email, role, pending, teams)"
			" SELECT x->>'id', x->>'email', x->>'role', true, ARRAY(SELECT jsonb_array_elements_text(x->'teams'))"
			" FROM jsonb_array_elements($1::jsonb) x WHERE x->>'kind' = 'invite' ON CONFLICT (id) DO NOTHING",
			1, p, e) ||
		 db_commit(c, e);
	if (rc && PQtransactionStatus(c) != PQTRANS_IDLE)
		db_rollback(c);
	free(t);
	return rc ? -1 : 0;
}

/* ---- the run ------------------------------------------------------------ */

static int open_run(PGconn *c, struct ctx *ctx, const struct sync_opts *o, int64_t *run_id, struct err *e)
{
	(void)ctx;
	char rid[32], replica[200], host[128] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	snprintf(replica, sizeof replica, "%s:%d", host, (int)getpid());
	PGresult *r;
	if (o->run_id) {
		snprintf(rid, sizeof rid, "%lld", (long long)o->run_id);
		const char *p[] = {rid, replica};
		r = db_exec(c,
			    "UPDATE sync_runs SET status = 'running', started_at = now(), replica = $2"
			    " WHERE id = $1::bigint AND status IN ('queued', 'running') RETURNING id",
			    2, p, e);
	} else {
		const char *p[] = {o->trigger ? o->trigger : "cli", o->dry_run ? "true" : "false", replica};
		r = db_exec(c,
			    "INSERT INTO sync_runs (trigger, dry_run, status, replica) VALUES ($1, $2::boolean, 'running', $3)"
			    " RETURNING id",
			    3, p, e);
	}
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return err_set(e, -1, "sync run %lld is not queued", (long long)o->run_id);
	}
	*run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	/* We hold the reconcile lock: any other running run was interrupted. */
	snprintf(rid, sizeof rid, "%lld", (long long)*run_id);
	const char *p2[] = {rid};
	return db_run(c,
		      "UPDATE sync_runs SET status = 'failed', finished_at = now(),"
		      " error = 'interrupted: the process stopped before the run finished'"
		      " WHERE status = 'running' AND id <> $1::bigint",
		      1, p2, e);
}

int sync_run(struct ctx *ctx, const struct sync_opts *o, struct sync_report *rep, struct err *e)
{
	memset(rep, 0, sizeof *rep);
	rep->dry_run = o->dry_run;
	int64_t t0 = clock_mono_ms();
	struct snapshot snap = {0};
	struct access_grants grants = {0};
	struct okta_client *oc = NULL;
	struct sentry_client *sc = NULL;
	struct err re;
	err_clear(&re);
	PGconn *c = db_acquire(ctx->db, 10000, e);
	if (!c)
		return -1;
	int locked = 0, rc = -1;
	PGresult *r = db_exec(c, "SELECT pg_try_advisory_lock(" SYNC_LOCK_KEY ")", 0, NULL, e);
	if (!r)
		goto out;
	locked = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!locked) {
		rep->status = SYNC_BUSY;
		snprintf(rep->error, sizeof rep->error, "another reconcile is running");
		rc = 0;
		goto out;
	}
	if (open_run(c, ctx, o, &rep->run_id, e))
		goto out;
	rc = 0;
	char runs[32];
	snprintf(runs, sizeof runs, "%lld", (long long)rep->run_id);
	log_info(ctx->log, "sync", ctx->request_id, "reconcile started", "#run_id", runs, "dry_run",
		 o->dry_run ? "true" : "false", "trigger", o->trigger ? o->trigger : "cli", NULL);

	oc = okta_client_new(ctx->cfg, ctx->log, ctx->metrics, &re);
	sc = oc ? sentry_client_new(ctx->cfg, ctx->log, ctx->metrics, &re) : NULL;
	if (!oc || !sc || read_okta(ctx, oc, &snap, o->progress, &re) || read_sentry(ctx, sc, &snap, o->progress, &re) ||
	    group_counts(ctx, c, &snap, &re))
		goto failed;
	rep->okta_users = snap.nusers;
	rep->sentry_members = snap.nmembers;

	if (access_grants_load(c, &grants, &re))
		goto failed;
	struct policy_input in = {.users = snap.users, .nusers = snap.nusers, .members = snap.pmembers,
				  .nmembers = snap.nmembers, .group_counts = snap.counts, .ngroup_counts = snap.ncounts,
				  .cfg = ctx->cfg, .grants = grants.v, .ngrants = grants.n, .grant_teams = grants.teams,
				  .ngrant_teams = grants.nteams};
	if (policy_plan_compute(&in, &rep->plan)) {
		err_set(&re, -1, "out of memory computing the plan");
		goto failed;
	}
	rep->cstatus = calloc(rep->plan.n + 1, sizeof *rep->cstatus);
	rep->cerror = calloc(rep->plan.n + 1, sizeof *rep->cerror);
	rep->cmember = calloc(rep->plan.n + 1, sizeof *rep->cmember);
	if (!rep->cstatus || !rep->cerror || !rep->cmember) {
		err_set(&re, -1, "out of memory");
		goto failed;
	}
	if (record_plan(c, rep, &re))
		goto failed;
	for (size_t i = 0; i < rep->plan.nwarnings; i++)
		log_warn(ctx->log, "sync", ctx->request_id, "data problem", "detail", rep->plan.warnings[i], NULL);

	if (rep->plan.refused) {
		rep->status = SYNC_REFUSED;
		for (size_t i = 0; i < rep->plan.nrefusals; i++)
			log_error(ctx->log, "sync", ctx->request_id, "plan refused by a guard", "#run_id", runs, "reason",
				  rep->plan.refusals[i], NULL);
		json_t *why = strs_json(rep->plan.refusals, rep->plan.nrefusals);
		char *wt = why ? json_dumps(why, JSON_COMPACT) : NULL;
		json_decref(why);
		char *details = NULL;
		if (wt && asprintf(&details, "{\"refusals\":%s}", wt) < 0)
			details = NULL;
		struct audit_entry ae = {.actor = "sync", .action = "sync.refused", .target = "organization",
					 .reason = rep->plan.refusals[0], .run_id = rep->run_id,
					 .request_id = ctx->request_id, .details = details};
		audit_write(c, &ae, &re);
		free(wt);
		free(details);
		rep->duration_ms = clock_mono_ms() - t0;
		finish_run(c, rep, "refused", &re);
		goto out;
	}
	if (o->dry_run) {
		rep->status = SYNC_DONE;
		rep->duration_ms = clock_mono_ms() - t0;
		finish_run(c, rep, "planned", &re);
		goto out;
	}
	if (refresh_mirrors(c, &snap, &re))
		goto failed;
	if (rep->plan.n)
		apply_plan(ctx, sc, rep, o->progress);
	if (o->progress)
		progress(o->progress, "%s", "");
	if (record_results(c, ctx, rep, &re))
		goto failed;
	if (rep->plan.n && mirror_apply(c, rep, &re))
		log_warn(ctx->log, "sync", ctx->request_id, "could not bring the Sentry mirror up to date", "error",
			 re.msg, NULL);
	rep->status = SYNC_DONE;
	rep->duration_ms = clock_mono_ms() - t0;
	finish_run(c, rep, "applied", &re);
	char n1[16], n2[16], n3[16], ms[24];
	snprintf(n1, sizeof n1, "%zu", rep->applied);
	snprintf(n2, sizeof n2, "%zu", rep->failed);
	snprintf(n3, sizeof n3, "%zu", rep->requested);
	snprintf(ms, sizeof ms, "%lld", (long long)rep->duration_ms);
	log_info(ctx->log, "sync", ctx->request_id, "reconcile applied", "#run_id", runs, "#applied", n1, "#failed", n2,
		 "#requested", n3, "#duration_ms", ms, NULL);
	goto out;

failed:
	rep->status = SYNC_FAILED;
	snprintf(rep->error, sizeof rep->error, "%s", re.msg[0] ? re.msg : "unknown error");
	rep->duration_ms = clock_mono_ms() - t0;
	log_error(ctx->log, "sync", ctx->request_id, "reconcile failed", "#run_id", runs, "error", rep->error, NULL);
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		db_rollback(c);
	finish_run(c, rep, "failed", &re);
out:
	if (o->progress)
		progress(o->progress, "%s", "");
	metrics_add(ctx->metrics, "sb_sync_runs_total", 1, "status",
		    rep->status == SYNC_DONE ? (o->dry_run ? "planned" : "applied") : sync_status_name(rep->status),
		    NULL);
	if (rep->status != SYNC_BUSY)
		metrics_observe(ctx->metrics, "sb_sync_duration_seconds", (double)rep->duration_ms / 1000.0, NULL);
	snapshot_free(&snap);
	access_grants_free(&grants);
	okta_client_free(oc);
	sentry_client_free(sc);
	if (locked) {
		struct err ue;
		db_run(c, "SELECT pg_advisory_unlock(" SYNC_LOCK_KEY ")", 0, NULL, &ue);
	}
	db_release(ctx->db, c);
	return rc;
}

void sync_report_free(struct sync_report *rep)
{
	if (!rep)
		return;
	if (rep->cerror)
		for (size_t i = 0; i < rep->plan.n; i++)
			free(rep->cerror[i]);
	free(rep->cerror);
	if (rep->cmember)
		for (size_t i = 0; i < rep->plan.n; i++)
			free(rep->cmember[i]);
	free(rep->cmember);
	free(rep->cstatus);
	policy_plan_free(&rep->plan);
	memset(rep, 0, sizeof *rep);
}

/* ---- printing ----------------------------------------------------------- */

void sync_report_print(const struct sync_report *rep, FILE *out, bool colour)
{
	static const char *titles[] = {"Invites", "Role changes", "Team additions", "Team removals", "Removals"};
	static const char *marks[] = {"+", "~", "+", "-", "-"};
	static const char *colours[] = {"\033[32m", "\033[33m", "\033[32m", "\033[31m", "\033[31m"};
	const char *reset = colour ? "\033[0m" : "";
	const struct policy_plan *p = &rep->plan;
	if (rep->status == SYNC_FAILED) {
		fprintf(out, "Sync run %lld failed: %s\n", (long long)rep->run_id, rep->error);
		return;
	}
	if (rep->status == SYNC_BUSY) {
		fprintf(out, "Another reconcile is running; try again when it has finished.\n");
		return;
	}
	fprintf(out, "Sync run %lld%s: %zu Okta users in scope, %zu Sentry members and invites\n",
		(long long)rep->run_id, rep->dry_run ? " (dry run)" : "", rep->okta_users, rep->sentry_members);
	for (size_t i = 0; i < p->nwarnings; i++)
		fprintf(out, "%swarning:%s %s\n", colour ? "\033[33m" : "", reset, p->warnings[i]);
	for (int k = 0; k < 5; k++) {
		if (!p->counts[k])
			continue;
		fprintf(out, "\n%s (%zu)\n", titles[k], p->counts[k]);
		for (size_t i = 0; i < p->n; i++) {
			const struct policy_change *c = &p->changes[i];
			if ((int)c->kind != k)
				continue;
			fprintf(out, "  %s%s%s %s", colour ? colours[k] : "", marks[k], reset, c->email);
			if (c->kind == PC_INVITE) {
				fprintf(out, " as %s", config_role_name(c->role_after));
				for (size_t t = 0; t < c->nteams; t++)
					fprintf(out, "%s%s", t ? ", " : ", teams ", c->teams[t]);
			} else if (c->kind == PC_SET_ROLE) {
				fprintf(out, ": %s -> %s", config_role_name(c->role_before), config_role_name(c->role_after));
			} else if (c->team) {
				fprintf(out, " %s team %s", c->kind == PC_ADD_TEAM ? "to" : "from", c->team);
			}
			fprintf(out, "  (%s)", c->reason);
			if (rep->cstatus && rep->cstatus[i] != SCS_PLANNED && rep->cstatus[i] != SCS_APPLIED)
				fprintf(out, "  %s[%s%s%s]%s", colour ? "\033[31m" : "", status_names[rep->cstatus[i]],
					rep->cerror && rep->cerror[i] ? ": " : "", rep->cerror && rep->cerror[i] ? rep->cerror[i] : "",
					reset);
			fputc('\n', out);
		}
	}
	fprintf(out, "\nPlan: %zu invite%s, %zu role change%s, %zu team addition%s, %zu team removal%s, %zu removal%s.\n",
		p->counts[PC_INVITE], p->counts[PC_INVITE] == 1 ? "" : "s", p->counts[PC_SET_ROLE],
		p->counts[PC_SET_ROLE] == 1 ? "" : "s", p->counts[PC_ADD_TEAM], p->counts[PC_ADD_TEAM] == 1 ? "" : "s",
		p->counts[PC_REMOVE_TEAM], p->counts[PC_REMOVE_TEAM] == 1 ? "" : "s", p->counts[PC_REMOVE_MEMBER],
		p->counts[PC_REMOVE_MEMBER] == 1 ? "" : "s");
	if (p->refused) {
		fprintf(out, "%sRefused by a safety guard; nothing was changed:%s\n", colour ? "\033[1;31m" : "", reset);
		for (size_t i = 0; i < p->nrefusals; i++)
			fprintf(out, "  - %s\n", p->refusals[i]);
	} else if (!rep->dry_run) {
		fprintf(out, "Applied: %zu, failed: %zu, requested only: %zu, skipped: %zu.\n", rep->applied, rep->failed,
			rep->requested, rep->skipped);
	} else if (p->n) {
		fprintf(out, "Dry run: nothing was changed. Run `sentry-bridge sync` to apply.\n");
	} else {
		fprintf(out, "Nothing to do: Sentry matches Okta.\n");
	}
}

/* ---- jobs, schedule ----------------------------------------------------- */

int sync_enqueue(struct ctx *ctx, bool dry_run, const char *trigger, int64_t *run_id, struct err *e)
{
	PGconn *c = db_acquire(ctx->db, 5000, e);
	if (!c)
		return -1;
	int rc = -1;
	PGresult *r = NULL;
	if (db_begin(c, e))
		goto out;
	const char *p[] = {trigger, dry_run ? "true" : "false"};
	r = db_exec(c, "INSERT INTO sync_runs (trigger, dry_run, status) VALUES ($1, $2::boolean, 'queued') RETURNING id",
		    2, p, e);
	if (!r)
		goto out;
	*run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	char payload[96];
	snprintf(payload, sizeof payload, "{\"run_id\":%lld,\"dry_run\":%s}", (long long)*run_id,
		 dry_run ? "true" : "false");
	/* One scheduled reconcile waiting at a time; manual ones each get a run. */
	struct job_spec js = {.kind = "sync.reconcile", .payload = payload,
			      .dedupe_key = !strcmp(trigger, "schedule") ? "schedule" : NULL, .max_attempts = 3};
	int64_t jid = 0;
	if (jobs_enqueue(c, &js, &jid, e))
		goto out;
	if (!jid) {
		/* a scheduled run is already waiting: drop this row */
		db_rollback(c);
		*run_id = 0;
		rc = 0;
		goto out;
	}
	rc = db_commit(c, e);
out:
	PQclear(r);
	if (rc && PQtransactionStatus(c) != PQTRANS_IDLE)
		db_rollback(c);
	db_release(ctx->db, c);
	return rc;
}

/* ---- the event path ---------------------------------------------------- */

int sync_lock_try(PGconn *c, struct err *e)
{
	PGresult *r = db_exec(c, "SELECT pg_try_advisory_lock(" SYNC_LOCK_KEY ")", 0, NULL, e);
	if (!r)
		return -1;
	int got = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return got;
}

void sync_unlock(PGconn *c)
{
	struct err e;
	err_clear(&e);
	db_run(c, "SELECT pg_advisory_unlock(" SYNC_LOCK_KEY ")", 0, NULL, &e);
}

/* A JSON array of strings as text (allocated), for an = ANY over jsonb. */
static char *strs_text(const char *const *v, size_t n, int lower)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		if (!v[i] || !*v[i])
			continue;
		char *l = lower ? policy_email_norm(v[i]) : strdup(v[i]);
		if (l)
			json_array_append_new(a, json_string(l));
		free(l);
	}
	char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return t;
}

/* Count event-driven removals (kind remove_member) or demotions applied in
 * the guards' window. -1 on error. */
static long window_count(PGconn *c, const struct config *cfg, int demotions, struct err *e)
{
	char win[32];
	snprintf(win, sizeof win, "%lld", (long long)cfg->sync.guards.event_window_ms);
	const char *p[] = {win};
	PGresult *r = db_exec(c,
			      demotions ? "SELECT count(*) FROM sync_changes s JOIN sync_runs r ON r.id = s.run_id"
					  " WHERE r.trigger = 'event' AND s.status = 'applied' AND s.demotion"
					  " AND s.applied_at > now() - $1::bigint * interval '1 millisecond'"
					: "SELECT count(*) FROM sync_changes s JOIN sync_runs r ON r.id = s.run_id"
					  " WHERE r.trigger = 'event' AND s.status = 'applied' AND s.kind = 'remove_member'"
					  " AND s.applied_at > now() - $1::bigint * interval '1 millisecond'",
			      1, p, e);
	if (!r)
		return -1;
	long n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* The mirrors' view of some users and of the Sentry members with their
 * emails, as policy input. Storage is owned by the returned json. */
struct mirror_view {
	json_t *users_json, *members_json;
	struct policy_user *users;
	size_t nusers;
	const char **groups; /* backing store of users[].groups */
	struct policy_member *members;
	size_t nmembers;
	const char **teams;  /* backing store of members[].teams */
};

static void mirror_view_free(struct mirror_view *v)
{
	json_decref(v->users_json);
	json_decref(v->members_json);
	free(v->users);
	free(v->groups);
	free(v->members);
	free(v->teams);
	memset(v, 0, sizeof *v);
}

static json_t *query_json(PGconn *c, const char *sql, const char *param, struct err *e)
{
	const char *p[] = {param};
	PGresult *r = db_exec(c, sql, 1, p, e);
	if (!r)
		return NULL;
	json_error_t je;
	json_t *j = json_loads(PQgetvalue(r, 0, 0), 0, &je);
	PQclear(r);
	if (!j)
		err_set(e, -1, "mirror query: unexpected answer");
	return j;
}

static int mirror_view_load(PGconn *c, const struct sync_users_in *in, struct mirror_view *v, struct err *e)
{
	memset(v, 0, sizeof *v);
	char *ids = strs_text(in->user_ids, in->n, 0);
	if (!ids)
		return err_set(e, -1, "out of memory");
	/* Users in scope: in at least one policy group of the mirror. */
	v->users_json = query_json(c,
				   "SELECT coalesce(json_agg(json_build_object('id', u.id, 'email', u.email, 'status',"
				   " u.status, 'groups', u.groups) ORDER BY u.id), '[]')::text FROM ("
				   "  SELECT u.id, u.email, u.status, json_agg(g.name ORDER BY g.name) AS groups"
				   "  FROM okta_users u JOIN okta_memberships m ON m.user_id = u.id"
				   "  JOIN okta_groups g ON g.id = m.group_id"
				   "  WHERE u.id IN (SELECT jsonb_array_elements_text($1::jsonb)) GROUP BY u.id) u",
				   ids, e);
	free(ids);
	if (!v->users_json)
		return -1;
	/* Emails: those users' (from the mirror, whether in scope or not) and the extra ones. */
	size_t ne = 0;
	const char **emails = calloc(in->n + in->nemails + 1, sizeof *emails);
	if (!emails)
		return err_set(e, -1, "out of memory");
	for (size_t i = 0; i < in->nemails; i++)
		emails[ne++] = in->emails[i];
	for (size_t i = 0; i < in->n; i++)
		emails[ne++] = in->user_emails ? in->user_emails[i] : NULL;
	char *et = strs_text(emails, ne, 1);
	free(emails);
	if (!et)
		return err_set(e, -1, "out of memory");
	v->members_json = query_json(c,
				     "SELECT coalesce(json_agg(json_build_object('id', id, 'email', email, 'role', role,"
				     " 'pending', pending, 'idp', idp_provisioned, 'teams', to_json(teams)) ORDER BY id::text),"
				     " '[]')::text FROM sentry_members"
				     " WHERE lower(email) IN (SELECT jsonb_array_elements_text($1::jsonb))",
				     et, e);
	free(et);
	if (!v->members_json)
		return -1;
	size_t nu = json_array_size(v->users_json), nm = json_array_size(v->members_json), ng = 0, nt = 0;
	for (size_t i = 0; i < nu; i++)
		ng += json_array_size(json_object_get(json_array_get(v->users_json, i), "groups"));
	for (size_t i = 0; i < nm; i++)
		nt += json_array_size(json_object_get(json_array_get(v->members_json, i), "teams"));
	v->users = calloc(nu + 1, sizeof *v->users);
	v->groups = calloc(ng + 1, sizeof *v->groups);
	v->members = calloc(nm + 1, sizeof *v->members);
	v->teams = calloc(nt + 1, sizeof *v->teams);
	if (!v->users || !v->groups || !v->members || !v->teams)
		return err_set(e, -1, "out of memory");
	size_t gi = 0, ti = 0;
	for (size_t i = 0; i < nu; i++) {
		json_t *u = json_array_get(v->users_json, i), *gs = json_object_get(u, "groups");
		struct policy_user *pu = &v->users[v->nusers++];
		pu->id = json_string_value(json_object_get(u, "id"));
		pu->email = json_string_value(json_object_get(u, "email"));
		const char *st = json_string_value(json_object_get(u, "status"));
		pu->active = st && !strcmp(st, "ACTIVE");
		pu->groups = &v->groups[gi];
		for (size_t k = 0; k < json_array_size(gs); k++)
			v->groups[gi++] = json_string_value(json_array_get(gs, k));
		pu->ngroups = json_array_size(gs);
	}
	for (size_t i = 0; i < nm; i++) {
		json_t *m = json_array_get(v->members_json, i), *ts = json_object_get(m, "teams");
		struct policy_member *pm = &v->members[v->nmembers++];
		pm->id = json_string_value(json_object_get(m, "id"));
		pm->email = json_string_value(json_object_get(m, "email"));
		const char *role = json_string_value(json_object_get(m, "role"));
		pm->role_known = role && policy_role_parse(role, &pm->role) == 0;
		pm->pending = json_is_true(json_object_get(m, "pending"));
		pm->idp_provisioned = json_is_true(json_object_get(m, "idp"));
		pm->teams = &v->teams[ti];
		for (size_t k = 0; k < json_array_size(ts); k++)
			v->teams[ti++] = json_string_value(json_array_get(ts, k));
		pm->nteams = json_array_size(ts);
	}
	return 0;
}

int sync_users(struct ctx *ctx, PGconn *c, struct sentry_client *sc, const struct sync_users_in *in,
	       struct sync_report *rep, struct err *e)
{
	memset(rep, 0, sizeof *rep);
	rep->actor = in->actor ? in->actor : "okta-event";
	int64_t t0 = clock_mono_ms();
	const struct config *cfg = ctx->cfg;
	struct mirror_view v;
	struct access_grants grants = {0};
	int rc = -1;
	if (mirror_view_load(c, in, &v, e) || access_grants_load(c, &grants, e))
		goto out;
	rep->okta_users = v.nusers;
	rep->sentry_members = v.nmembers;
	struct policy_input pin = {.users = v.users, .nusers = v.nusers, .members = v.members,
				   .nmembers = v.nmembers, .cfg = cfg, .skip_guards = true, .grants = grants.v,
				   .ngrants = grants.n, .grant_teams = grants.teams, .ngrant_teams = grants.nteams};
	if (policy_plan_compute(&pin, &rep->plan)) {
		err_set(e, -1, "out of memory computing the plan");
		goto out;
	}
	rep->cstatus = calloc(rep->plan.n + 1, sizeof *rep->cstatus);
	rep->cerror = calloc(rep->plan.n + 1, sizeof *rep->cerror);
	rep->cmember = calloc(rep->plan.n + 1, sizeof *rep->cmember);
	if (!rep->cstatus || !rep->cerror || !rep->cmember) {
		err_set(e, -1, "out of memory");
		goto out;
	}
	if (!rep->plan.n) {
		rep->status = SYNC_DONE;
		rc = 0;
		goto out;
	}
	/* The guards over the sliding window. */
	PGresult *r = db_exec(c, "SELECT count(*) FROM sentry_members", 0, NULL, e);
	if (!r)
		goto out;
	size_t managed = (size_t)atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	long used_r = window_count(c, cfg, 0, e), used_d = used_r < 0 ? -1 : window_count(c, cfg, 1, e);
	if (used_r < 0 || used_d < 0)
		goto out;
	long lim_r = (long)policy_guard_limit(&cfg->sync.guards.max_removals, managed);
	long lim_d = (long)policy_guard_limit(&cfg->sync.guards.max_demotions, managed);
	for (size_t i = 0; i < rep->plan.n; i++) {
		const struct policy_change *ch = &rep->plan.changes[i];
		int removal = ch->kind == PC_REMOVE_MEMBER, demotion = ch->demotion;
		if (!removal && !demotion)
			continue;
		long *used = removal ? &used_r : &used_d, lim = removal ? lim_r : lim_d;
		if (*used < lim) {
			(*used)++;
			continue;
		}
		char why[300];
		snprintf(why, sizeof why,
			 "held back: %ld event-driven %s in the last %lld s already reach sync.guards.%s (%ld of %zu "
			 "managed members); a full sync or an inbox replay applies it once reviewed",
			 *used, removal ? "removals" : "demotions", (long long)(cfg->sync.guards.event_window_ms / 1000),
			 removal ? "max_removals" : "max_demotions", lim, managed);
		rep->cstatus[i] = SCS_REFUSED;
		rep->cerror[i] = strdup(why);
	}
	struct sync_opts o = {.trigger = in->trigger ? in->trigger : "event"};
	if (open_run(c, ctx, &o, &rep->run_id, e) || record_plan(c, rep, e))
		goto out;
	apply_plan(ctx, sc, rep, NULL);
	if (record_results(c, ctx, rep, e))
		goto out;
	for (size_t i = 0; i < rep->plan.n; i++) {
		if (rep->cstatus[i] != SCS_REFUSED)
			continue;
		const struct policy_change *ch = &rep->plan.changes[i];
		struct audit_entry ae = {.actor = rep->actor, .action = "sync.refused", .target = ch->email,
					 .reason = rep->cerror[i], .run_id = rep->run_id, .request_id = ctx->request_id};
		if (audit_write(c, &ae, e))
			goto out;
	}
	if (mirror_apply(c, rep, e))
		goto out;
	rep->status = SYNC_DONE;
	rep->duration_ms = clock_mono_ms() - t0;
	if (finish_run(c, rep, "applied", e))
		goto out;
	rc = 0;
out:
	if (rc && rep->run_id) {
		struct err fe;
		err_clear(&fe);
		rep->status = SYNC_FAILED;
		snprintf(rep->error, sizeof rep->error, "%s", e->msg);
		if (PQtransactionStatus(c) != PQTRANS_IDLE)
			db_rollback(c);
		finish_run(c, rep, "failed", &fe);
	}
	rep->duration_ms = clock_mono_ms() - t0;
	mirror_view_free(&v);
	access_grants_free(&grants);
	return rc;
}

static enum job_result job_reconcile(struct ctx *ctx, const struct job *job, void *arg, struct err *e)
{
	(void)arg;
	json_t *p = json_loads(job->payload, 0, NULL);
	struct sync_opts o = {.trigger = "job"};
	o.run_id = (int64_t)json_integer_value(json_object_get(p, "run_id"));
	o.dry_run = json_is_true(json_object_get(p, "dry_run"));
	json_decref(p);
	struct sync_report rep;
	int rc = sync_run(ctx, &o, &rep, e);
	enum job_result res = JOB_DONE;
	if (rc) {
		res = JOB_RETRY;
	} else if (rep.status == SYNC_BUSY) {
		/* the other run finishes soon: try again with backoff */
		err_set(e, -1, "another reconcile is running");
		res = JOB_RETRY;
	} else if (rep.status == SYNC_FAILED) {
		/* recorded on the run; the next scheduled run tries again */
		err_set(e, -1, "%s", rep.error);
		res = JOB_FAIL;
	}
	sync_report_free(&rep);
	return res;
}

static int task_sync(struct ctx *ctx, void *arg, struct err *e)
{
	(void)arg;
	int64_t id = 0;
	return sync_enqueue(ctx, ctx->cfg->sync.dry_run, "schedule", &id, e);
}

int sync_register(struct ctx *ctx, struct jobs *q, struct sched *s)
{
	metrics_describe(ctx->metrics, "sb_sync_runs_total", METRIC_COUNTER,
			 "Reconcile runs, by outcome (planned, applied, refused, failed, busy).");
	metrics_describe(ctx->metrics, "sb_sync_duration_seconds", METRIC_HISTOGRAM, "Time a reconcile takes.");
	metrics_describe(ctx->metrics, "sb_sync_changes_total", METRIC_COUNTER,
			 "Changes applied to Sentry by reconciles, by kind and outcome.");
	if (jobs_register(q, "sync.reconcile", job_reconcile, NULL))
		return -1;
	/* Without Okta and Sentry configured there is nothing to schedule. */
	if (!ctx->cfg->okta.base_url[0] || !ctx->cfg->sentry.base_url[0])
		return 0;
	return sched_add(s, "sync", ctx->cfg->sync.interval_ms, task_sync, NULL);
}
