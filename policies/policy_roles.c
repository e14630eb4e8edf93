/*
 * policy_roles.c: desired Sentry roles and teams from Okta groups, the plan,
 * and its guards (see policy_roles.h). Pure code: no I/O.
 */
#include "policy_roles.h"
#include "buf.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *kind_names[] = {"invite", "set_role", "add_team", "remove_team", "remove_member"};

const char *policy_change_kind_name(enum policy_change_kind k)
{
	return (unsigned)k < 5 ? kind_names[k] : "unknown";
}

int policy_role_parse(const char *s, enum config_role *out)
{
	static const char *names[] = {"member", "admin", "manager", "owner"};
	for (int i = 0; s && i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum config_role)i;
			return 0;
		}
	}
	return -1;
}

char *policy_email_norm(const char *email)
{
	if (!email)
		return NULL;
	/* trim surrounding blanks, lower-case ASCII */
	while (*email == ' ' || *email == '\t')
		email++;
	size_t n = strlen(email);
	while (n && (email[n - 1] == ' ' || email[n - 1] == '\t'))
		n--;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)email[i]);
	s[n] = '\0';
	return s;
}

static int list_has(const struct config_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return 1;
	return 0;
}

static int list_has_ci(const struct config_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcasecmp(l->v[i], s))
			return 1;
	return 0;
}

static int strs_has(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* ---- indexes by normalised email ---- */

struct ent {
	char *email; /* normalised */
	size_t idx;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strcmp(x->email, y->email);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const struct ent *ent_find(const struct ent *v, size_t n, const char *email)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(v[mid].email, email);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(v[lo].email, email) ? &v[lo] : NULL;
}

/* ---- plan building ---- */

struct builder {
	struct policy_plan *p;
	size_t cap;
	int oom;
};

static struct policy_change *add_change(struct builder *b, enum policy_change_kind kind, const char *email,
					const char *member_id, const char *okta_id, char *reason)
{
	if (b->oom || !reason) {
		free(reason);
		b->oom = 1;
		return NULL;
	}
	if (b->p->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 64;
		struct policy_change *nv = realloc(b->p->changes, ncap * sizeof *nv);
		if (!nv) {
			free(reason);
			b->oom = 1;
			return NULL;
		}
		b->p->changes = nv;
		b->cap = ncap;
	}
	struct policy_change *c = &b->p->changes[b->p->n];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->email = strdup(email);
	c->member_id = member_id ? strdup(member_id) : NULL;
	c->okta_id = okta_id ? strdup(okta_id) : NULL;
	c->reason = reason;
	if (!c->email || (member_id && !c->member_id) || (okta_id && !c->okta_id)) {
		free(c->email);
		free(c->member_id);
		free(c->okta_id);
		free(reason);
		b->oom = 1;
		return NULL;
	}
	b->p->n++;
	b->p->counts[kind]++;
	return c;
}

static void add_note(struct builder *b, char ***v, size_t *n, char *msg)
{
	if (!msg) {
		b->oom = 1;
		return;
	}
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv) {
		free(msg);
		b->oom = 1;
		return;
	}
	*v = nv;
	nv[(*n)++] = msg;
}

/* What one Okta identity (all Okta users sharing an email) is entitled to. */
struct desire {
	bool in_scope;        /* in some access, role-mapped or team-mapped group */
	bool entitled;        /* ... and ACTIVE */
	bool mapped;          /* a role mapping matched */
	enum config_role map_role; /* the highest matching mapping */
	enum config_role role; /* the result: max(default_role, map_role) */
	const char *role_group; /* the group that gave the role, NULL for default */
	const char *okta_id;
	const char *access_group; /* one group that gave access */
};

static void desire_of(const struct config *cfg, const struct policy_user *u, struct desire *d)
{
	for (size_t g = 0; g < u->ngroups; g++) {
		const char *grp = u->groups[g];
		int scope = list_has(&cfg->roles.access_groups, grp);
		for (size_t m = 0; m < cfg->roles.n_mappings; m++) {
			if (strcmp(cfg->roles.mappings[m].group, grp))
				continue;
			scope = 1;
			if (u->active) {
				/* Highest mapping wins; ties go to the group name that sorts first,
				 * so the reason shown is deterministic. */
				enum config_role r = cfg->roles.mappings[m].role;
				if (!d->mapped || r > d->map_role || (r == d->map_role && strcmp(grp, d->role_group) < 0)) {
					d->map_role = r;
					d->role_group = grp;
				}
				d->mapped = true;
			}
		}
		for (size_t t = 0; t < cfg->n_teams; t++)
			if (!strcmp(cfg->teams[t].group, grp))
				scope = 1;
		if (scope) {
			d->in_scope = true;
			if (!d->access_group || strcmp(grp, d->access_group) < 0)
				d->access_group = grp;
			if (u->active) {
				d->entitled = true;
				d->okta_id = u->id;
			}
		}
	}
	if (!d->okta_id && d->in_scope)
		d->okta_id = u->id;
}

/* After every user of an identity went through desire_of(). */
static void desire_finish(const struct config *cfg, struct desire *d)
{
	d->role = cfg->roles.default_role;
	if (d->mapped && d->map_role > d->role)
		d->role = d->map_role;
	else
		d->role_group = NULL; /* default_role applies */
	if (d->role == CONFIG_ROLE_OWNER) /* never granted by a group (config refuses it too) */
		d->role = CONFIG_ROLE_MANAGER;
}

/* Teams the identity should be on: every team mapped from one of its groups. */
static int wants_team(const struct config *cfg, const struct policy_user *const *us, size_t nus, const char *team,
		      const char **via)
{
	for (size_t k = 0; k < nus; k++) {
		if (!us[k]->active)
			continue;
		for (size_t t = 0; t < cfg->n_teams; t++) {
			if (strcmp(cfg->teams[t].team, team))
				continue;
			if (strs_has(us[k]->groups, us[k]->ngroups, cfg->teams[t].group)) {
				*via = cfg->teams[t].group;
				return 1;
			}
		}
	}
	return 0;
}

/* Distinct managed team slugs: config order, then the grants' teams. */
static size_t managed_teams(const struct policy_input *in, const char **out)
{
	const struct config *cfg = in->cfg;
	size_t n = 0;
	for (size_t t = 0; t < cfg->n_teams + in->ngrant_teams; t++) {
		const char *slug = t < cfg->n_teams ? cfg->teams[t].team : in->grant_teams[t - cfg->n_teams];
		int seen = 0;
		for (size_t k = 0; k < n; k++)
			if (!strcmp(out[k], slug))
				seen = 1;
		if (!seen)
			out[n++] = slug;
	}
	return n;
}

/* The highest role an active grant gives email (and its reason), or 0. */
static int grant_role(const struct policy_input *in, const char *email, enum config_role *role, const char **why)
{
	int found = 0;
	for (size_t i = 0; i < in->ngrants; i++) {
		const struct policy_grant *g = &in->grants[i];
		if (!g->is_role || !g->email || strcasecmp(g->email, email) || g->role == CONFIG_ROLE_OWNER)
			continue;
		if (!found || g->role > *role) {
			*role = g->role;
			*why = g->reason;
			found = 1;
		}
	}
	return found;
}

/* Whether an active grant puts email on team (and its reason). */
static int grant_team(const struct policy_input *in, const char *email, const char *team, const char **why)
{
	for (size_t i = 0; i < in->ngrants; i++) {
		const struct policy_grant *g = &in->grants[i];
		if (!g->is_role && g->email && g->team && !strcasecmp(g->email, email) && !strcmp(g->team, team)) {
			*why = g->reason;
			return 1;
		}
	}
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	const struct policy_change *x = a, *y = b;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	int c = strcmp(x->email, y->email);
	if (c)
		return c;
	return strcmp(x->team ? x->team : "", y->team ? y->team : "");
}

size_t policy_guard_limit(const struct config_pct *g, size_t managed)
{
	if (!g->is_percent)
		return (size_t)(g->value < 0 ? 0 : g->value);
	return (size_t)floor((double)managed * g->value / 100.0);
}

static const char *role_name(enum config_role r)
{
	return config_role_name(r);
}

int policy_plan_compute(const struct policy_input *in, struct policy_plan *out)
{
	const struct config *cfg = in->cfg;
	memset(out, 0, sizeof *out);
	struct builder b = {.p = out};
	struct ent *uidx = NULL, *midx = NULL;
	const char **teams = NULL;
	const struct policy_user **group_users = NULL;
	size_t nu = 0, nm = 0;
	int rc = -1;

	uidx = calloc(in->nusers + 1, sizeof *uidx);
	midx = calloc(in->nmembers + 1, sizeof *midx);
	teams = calloc(cfg->n_teams + in->ngrant_teams + 1, sizeof *teams);
	group_users = calloc(in->nusers + 1, sizeof *group_users);
	if (!uidx || !midx || !teams || !group_users)
		goto out;
	for (size_t i = 0; i < in->nusers; i++) {
		const char *e = in->users[i].email;
		if (!e || !*e) {
			add_note(&b, &out->warnings, &out->nwarnings,
				 buf_strdupf("Okta user %s has no email; skipped", in->users[i].id ? in->users[i].id : "?"));
			continue;
		}
		uidx[nu].email = policy_email_norm(e);
		uidx[nu].idx = i;
		if (!uidx[nu].email)
			goto out;
		nu++;
	}
	for (size_t i = 0; i < in->nmembers; i++) {
		const char *e = in->members[i].email;
		if (!e || !*e)
			continue;
		midx[nm].email = policy_email_norm(e);
		midx[nm].idx = i;
		if (!midx[nm].email)
			goto out;
		nm++;
	}
	qsort(uidx, nu, sizeof *uidx, ent_cmp);
	qsort(midx, nm, sizeof *midx, ent_cmp);
	size_t nteams = managed_teams(in, teams);

	/* Warn about duplicate emails on either side. */
	for (size_t i = 1; i < nu; i++)
		if (!strcmp(uidx[i].email, uidx[i - 1].email) && (i < 2 || strcmp(uidx[i].email, uidx[i - 2].email)))
			add_note(&b, &out->warnings, &out->nwarnings,
				 buf_strdupf("several Okta users have the email %s; they are treated as one person",
					 uidx[i].email));
	for (size_t i = 1; i < nm; i++)
		if (!strcmp(midx[i].email, midx[i - 1].email) && (i < 2 || strcmp(midx[i].email, midx[i - 2].email)))
			add_note(&b, &out->warnings, &out->nwarnings,
				 buf_strdupf("several Sentry members have the email %s (differing only in case); only "
					 "member %s is managed, the others are left alone",
					 midx[i].email, in->members[midx[i - 1].idx].id));

	/* Walk Sentry members: role, teams, removals. */
	int64_t owners_before = 0, owners_lost = 0;
	for (size_t k = 0; k < nm; k++) {
		const struct policy_member *m = &in->members[midx[k].idx];
		const char *email = midx[k].email;
		if (!m->pending && m->role_known && m->role == CONFIG_ROLE_OWNER)
			owners_before++;
		if (k > 0 && !strcmp(email, midx[k - 1].email))
			continue; /* duplicate in Sentry: only the first is managed */
		if (list_has_ci(&cfg->roles.protected, email))
			continue;
		bool listed_owner = list_has_ci(&cfg->roles.owners, email);
		if (!listed_owner)
			out->managed++;

		/* All Okta users with this email. */
		const struct ent *first = ent_find(uidx, nu, email);
		size_t nus = 0;
		struct desire d = {.role = cfg->roles.default_role};
		for (const struct ent *e = first; e && e < uidx + nu && !strcmp(e->email, email); e++) {
			group_users[nus++] = &in->users[e->idx];
			desire_of(cfg, &in->users[e->idx], &d);
		}
		desire_finish(cfg, &d);

		if (!d.in_scope) {
			/* No access group: sync.unmanaged_members decides. */
			if (listed_owner || cfg->sync.unmanaged_members == CONFIG_UNMANAGED_KEEP)
				continue;
			if (cfg->sync.unmanaged_members == CONFIG_UNMANAGED_REMOVE) {
				struct policy_change *c = add_change(
					&b, PC_REMOVE_MEMBER, email, m->id, NULL,
					buf_strdupf("in no access group (sync.unmanaged_members: remove)"));
				if (c)
					c->role_before = m->role;
				if (!m->pending && m->role == CONFIG_ROLE_OWNER)
					owners_lost++;
			} else if (m->role_known && m->role > CONFIG_ROLE_MEMBER) {
				struct policy_change *c = add_change(
					&b, PC_SET_ROLE, email, m->id, NULL,
					buf_strdupf("in no access group (sync.unmanaged_members: demote)"));
				if (c) {
					c->role_before = m->role;
					c->role_after = CONFIG_ROLE_MEMBER;
					c->demotion = true;
				}
				out->demotions++;
				if (!m->pending && m->role == CONFIG_ROLE_OWNER)
					owners_lost++;
			}
			continue;
		}
		if (!d.entitled) {
			/* In scope but not ACTIVE (suspended, deactivated, ...): remove. */
			if (listed_owner)
				continue;
			struct policy_change *c =
				add_change(&b, PC_REMOVE_MEMBER, email, m->id, d.okta_id,
					   buf_strdupf("Okta user is not ACTIVE (in %s)", d.access_group));
			if (c)
				c->role_before = m->role;
			if (!m->pending && m->role == CONFIG_ROLE_OWNER)
				owners_lost++;
			continue;
		}

		/* Entitled: the role, raised by an active grant. */
		enum config_role grole = CONFIG_ROLE_MEMBER;
		const char *gwhy = NULL;
		if (grant_role(in, email, &grole, &gwhy) && grole > d.role) {
			d.role = grole;
			d.mapped = true;
		} else {
			gwhy = NULL;
		}
		if (!m->role_known) {
			add_note(&b, &out->warnings, &out->nwarnings,
				 buf_strdupf("member %s has a role this bridge does not manage; role left alone", email));
		} else if (m->role == CONFIG_ROLE_OWNER && listed_owner) {
			/* owners in roles.owners are never demoted */
		} else if (m->role == CONFIG_ROLE_ADMIN && !d.mapped) {
			/* the retired admin role is kept unless a mapping says otherwise */
		} else if (m->role != d.role) {
			char *why = gwhy ? buf_strdupf("%s", gwhy) : d.role_group ? buf_strdupf("%sgroup %s maps to %s",
							   m->role == CONFIG_ROLE_OWNER ? "owner is reserved to roles.owners; " : "",
							   d.role_group, role_name(d.role))
						 : buf_strdupf("%sdefault_role %s (no mapping matches; in %s)",
							   m->role == CONFIG_ROLE_OWNER ? "owner is reserved to roles.owners; " : "",
							   role_name(d.role), d.access_group);
			struct policy_change *c = add_change(&b, PC_SET_ROLE, email, m->id, d.okta_id, why);
			if (c) {
				c->role_before = m->role;
				c->role_after = d.role;
				c->demotion = d.role < m->role;
			}
			if (d.role < m->role) {
				out->demotions++;
				if (!m->pending && m->role == CONFIG_ROLE_OWNER)
					owners_lost++;
			}
		}
		/* Entitled: the managed teams. Sentry does not list pending invites
		 * as team members, so their teams (set at invite time) are left
		 * until they accept. */
		for (size_t t = 0; t < nteams && !m->pending; t++) {
			const char *via = NULL, *gvia = NULL;
			int want = wants_team(cfg, group_users, nus, teams[t], &via);
			if (!want)
				want = grant_team(in, email, teams[t], &gvia);
			int have = strs_has(m->teams, m->nteams, teams[t]);
			if (want && !have) {
				struct policy_change *c =
					add_change(&b, PC_ADD_TEAM, email, m->id, d.okta_id,
						   gvia ? buf_strdupf("%s", gvia) : buf_strdupf("group %s maps to team %s", via, teams[t]));
				if (c && !(c->team = strdup(teams[t])))
					b.oom = 1;
			} else if (!want && have && !listed_owner) {
				struct policy_change *c =
					add_change(&b, PC_REMOVE_TEAM, email, m->id, d.okta_id,
						   buf_strdupf(cfg->access_requests.enabled ? "in no group mapped to team %s and no active grant"
										      : "in no group mapped to team %s",
							   teams[t]));
				if (c && !(c->team = strdup(teams[t])))
					b.oom = 1;
			}
		}
	}

	/* Invites: entitled identities with no member. */
	if (cfg->sync.invite_missing) {
		for (size_t k = 0; k < nu; k++) {
			if (k > 0 && !strcmp(uidx[k].email, uidx[k - 1].email))
				continue;
			const char *email = uidx[k].email;
			if (ent_find(midx, nm, email) || list_has_ci(&cfg->roles.protected, email))
				continue;
			size_t nus = 0;
			struct desire d = {.role = cfg->roles.default_role};
			for (size_t j = k; j < nu && !strcmp(uidx[j].email, email); j++) {
				group_users[nus++] = &in->users[uidx[j].idx];
				desire_of(cfg, &in->users[uidx[j].idx], &d);
			}
			desire_finish(cfg, &d);
			if (!d.entitled)
				continue;
			struct policy_change *c =
				add_change(&b, PC_INVITE, email, NULL, d.okta_id,
					   d.role_group ? buf_strdupf("in %s; group %s maps to %s", d.access_group,
								  d.role_group, role_name(d.role))
							: buf_strdupf("in %s", d.access_group));
			if (!c)
				continue;
			c->role_after = d.role;
			for (size_t t = 0; t < nteams; t++) {
				const char *via = NULL;
				if (!wants_team(cfg, group_users, nus, teams[t], &via))
					continue;
				char **nv = realloc(c->teams, (c->nteams + 1) * sizeof *nv);
				if (!nv || !(nv[c->nteams] = strdup(teams[t]))) {
					if (nv)
						c->teams = nv;
					b.oom = 1;
					break;
				}
				c->teams = nv;
				c->nteams++;
			}
		}
	}
	if (b.oom)
		goto out;

	if (out->n)
		qsort(out->changes, out->n, sizeof *out->changes, change_cmp);

	/* Guards (the event path bounds its changes over a window instead). */
	if (in->skip_guards) {
		out->refused = false;
		rc = 0;
		goto out;
	}
	size_t removals = out->counts[PC_REMOVE_MEMBER];
	size_t rlimit = policy_guard_limit(&cfg->sync.guards.max_removals, out->managed);
	size_t dlimit = policy_guard_limit(&cfg->sync.guards.max_demotions, out->managed);
	if (removals > rlimit)
		add_note(&b, &out->refusals, &out->nrefusals,
			 buf_strdupf("%zu removals exceed sync.guards.max_removals (%s%g%s: at most %zu of %zu managed "
				 "members)",
				 removals, "", cfg->sync.guards.max_removals.value,
				 cfg->sync.guards.max_removals.is_percent ? "%" : "", rlimit, out->managed));
	if (out->demotions > dlimit)
		add_note(&b, &out->refusals, &out->nrefusals,
			 buf_strdupf("%zu demotions exceed sync.guards.max_demotions (%g%s: at most %zu of %zu managed "
				 "members)",
				 out->demotions, cfg->sync.guards.max_demotions.value,
				 cfg->sync.guards.max_demotions.is_percent ? "%" : "", dlimit, out->managed));
	for (size_t i = 0; i < in->ngroup_counts; i++) {
		const struct policy_group_count *g = &in->group_counts[i];
		if (g->previous > 0 && g->current == 0)
			add_note(&b, &out->refusals, &out->nrefusals,
				 buf_strdupf("access group %s had %ld members and came back empty; refusing to act on an "
					 "empty answer from Okta",
					 g->group, g->previous));
	}
	if (owners_lost > 0 && owners_before - owners_lost <= 0)
		add_note(&b, &out->refusals, &out->nrefusals,
			 buf_strdupf("the plan would leave the organisation without an owner (%lld owner(s) now, %lld "
				 "demoted or removed)",
				 (long long)owners_before, (long long)owners_lost));
	if (b.oom)
		goto out;
	out->refused = out->nrefusals > 0;
	rc = 0;
out:
	for (size_t i = 0; i < nu; i++)
		free(uidx[i].email);
	for (size_t i = 0; i < nm; i++)
		free(midx[i].email);
	free(uidx);
	free(midx);
	free(teams);
	free(group_users);
	if (rc)
		policy_plan_free(out);
	return rc;
}

void policy_plan_free(struct policy_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct policy_change *c = &p->changes[i];
		free(c->email);
		free(c->member_id);
		free(c->okta_id);
		free(c->team);
		free(c->reason);
		for (size_t t = 0; t < c->nteams; t++)
			free(c->teams[t]);
		free(c->teams);
	}
	free(p->changes);
	for (size_t i = 0; i < p->nrefusals; i++)
		free(p->refusals[i]);
	free(p->refusals);
	for (size_t i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	memset(p, 0, sizeof *p);
}
