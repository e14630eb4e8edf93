/*
 * sim_state.c: the in-memory Okta + Sentry model of the upstream simulator:
 * object lifecycles, sorted indexes, membership primitives, role rules,
 * fixture loading and dumping. See sim_state.h for the invariants.
 */
#include "sim_state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sentry_flag_names[SENTRY_NFLAGS] = {
	"idp:provisioned", "idp:role-restricted", "sso:linked",
	"sso:invalid", "member-limit:restricted", "partnership:restricted",
};

/* Grow a pointer array so one more element fits; 0 or -1. */
static int grow_ptrs(void ***arr, size_t n, size_t *cap)
{
	void **p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * sizeof(**arr));
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Insert item at index i of a pointer array with n elements (room ensured). */
static void insert_at(void **arr, size_t n, size_t i, void *item)
{
	memmove(&arr[i + 1], &arr[i], (n - i) * sizeof(*arr));
	arr[i] = item;
}

/* Remove index i of a pointer array with n elements. */
static void remove_at(void **arr, size_t n, size_t i)
{
	memmove(&arr[i], &arr[i + 1], (n - i - 1) * sizeof(*arr));
}

/* ---- lifecycle --------------------------------------------------------------------- */

/* New empty state. */
struct sim_state *sim_state_new(const char *org_slug)
{
	struct sim_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	sim_map_init(&st->okta.by_login, true);
	sim_map_init(&st->sentry.by_email, true);
	st->okta.next_user_seq = 1;
	st->okta.next_group_seq = 1;
	st->sentry.org_id = 1;
	st->sentry.org_created = SIM_SEED_EPOCH_MS - INT64_C(400) * 86400000;
	st->sentry.next_member_id = 1;
	st->sentry.next_user_id = 1;
	st->sentry.next_team_id = 1;
	st->sentry.next_project_id = 1;
	st->sentry.org_slug = strdup(org_slug ? org_slug : "acme");
	st->sentry.org_name = NULL;
	if (!st->sentry.org_slug) {
		sim_state_free(st);
		return NULL;
	}
	/* the org name defaults to the capitalised slug */
	st->sentry.org_name = strdup(st->sentry.org_slug);
	if (!st->sentry.org_name) {
		sim_state_free(st);
		return NULL;
	}
	st->sentry.org_name[0] = (char)toupper((unsigned char)st->sentry.org_name[0]);
	return st;
}

/* Free all objects. */
void sim_state_free(struct sim_state *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->okta.ngroups; i++)
		okta_group_free(st->okta.groups[i]);
	for (i = 0; i < st->okta.nusers; i++)
		okta_user_free(st->okta.users[i]);
	free(st->okta.groups);
	free(st->okta.users);
	sim_map_free(&st->okta.by_login);
	for (i = 0; i < st->sentry.nmembers; i++)
		sentry_member_free(st->sentry.members[i]);
	for (i = 0; i < st->sentry.nprojects; i++)
		sentry_project_free(st->sentry.projects[i]);
	for (i = 0; i < st->sentry.nteams; i++)
		sentry_team_free(st->sentry.teams[i]);
	free(st->sentry.members);
	free(st->sentry.projects);
	free(st->sentry.teams);
	sim_map_free(&st->sentry.by_email);
	free(st->sentry.org_slug);
	free(st->sentry.org_name);
	free(st);
}

/* ---- Okta -------------------------------------------------------------------------- */

static const char *const okta_status_names[] = {
	"STAGED", "PROVISIONED", "ACTIVE", "RECOVERY",
	"PASSWORD_EXPIRED", "LOCKED_OUT", "SUSPENDED", "DEPROVISIONED",
};

/* Status name. */
const char *okta_status_name(enum okta_status s)
{
	return okta_status_names[s];
}

/* Parse a status name (exact case, as Okta spells it). */
int okta_status_parse(const char *name, enum okta_status *out)
{
	size_t i;

	for (i = 0; name && i < sizeof(okta_status_names) / sizeof(okta_status_names[0]); i++) {
		if (strcmp(name, okta_status_names[i]) == 0) {
			*out = (enum okta_status)i;
			return 0;
		}
	}
	return -1;
}

static const char *const okta_group_type_names[] = { "OKTA_GROUP", "APP_GROUP", "BUILT_IN" };

/* Group type name. */
const char *okta_group_type_name(enum okta_group_type t)
{
	return okta_group_type_names[t];
}

/* Parse a group type. */
int okta_group_type_parse(const char *name, enum okta_group_type *out)
{
	size_t i;

	for (i = 0; name && i < 3; i++) {
		if (strcmp(name, okta_group_type_names[i]) == 0) {
			*out = (enum okta_group_type)i;
			return 0;
		}
	}
	return -1;
}

/* Offset added to sequence numbers so ids do not all start with "0000". */
#define OKTA_ID_SEQ_OFFSET UINT64_C(44329008) /* 3 * 62^4 */

/*
 * Okta-looking id: "00" + kind + 5 base-62 digits of seq in ASCII order (so
 * ids sort by creation) + 12 pseudo-random characters derived from seq.
 */
char *okta_make_id(char kind, uint64_t seq)
{
	static const char b62[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char *id = malloc(21);
	uint64_t v = seq + OKTA_ID_SEQ_OFFSET, r = sim_mix64(seq * 0x9e3779b97f4a7c15ULL + (uint64_t)kind);
	int i;

	if (!id)
		return NULL;
	id[0] = '0';
	id[1] = '0';
	id[2] = kind;
	for (i = 7; i >= 3; i--) {
		id[i] = b62[v % 62];
		v /= 62;
	}
	for (i = 8; i < 20; i++) {
		id[i] = b62[r % 62];
		r /= 62;
		if (i == 13)
			r = sim_mix64(r ^ seq);
	}
	id[20] = '\0';
	return id;
}

/* Creation sequence encoded in an id made by okta_make_id (0 if not decodable). */
static uint64_t okta_id_seq(const char *id)
{
	uint64_t v = 0;
	int i;

	if (strlen(id) != 20)
		return 0;
	for (i = 3; i <= 7; i++) {
		char c = id[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'Z')
			d = c - 'A' + 10;
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 36;
		else
			return 0;
		v = v * 62 + (uint64_t)d;
	}
	return v > OKTA_ID_SEQ_OFFSET ? v - OKTA_ID_SEQ_OFFSET : 0;
}

/* Zeroed user. */
struct okta_user *okta_user_alloc(void)
{
	return calloc(1, sizeof(struct okta_user));
}

/* Free a user. */
void okta_user_free(struct okta_user *u)
{
	if (!u)
		return;
	free(u->id);
	free(u->login);
	free(u->email);
	free(u->first_name);
	free(u->last_name);
	json_decref(u->profile_extra);
	free(u);
}

/* Zeroed group. */
struct okta_group *okta_group_alloc(void)
{
	return calloc(1, sizeof(struct okta_group));
}

/* Free a group (not its members). */
void okta_group_free(struct okta_group *g)
{
	if (!g)
		return;
	free(g->id);
	free(g->name);
	free(g->description);
	free(g->members);
	free(g);
}

/* Lower bound on user id: first index with id >= key (after = true: > key). */
static size_t users_bound(struct okta_user *const *users, size_t n, const char *key, bool after)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(users[mid]->id, key);

		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Same for groups. */
static size_t groups_bound(struct okta_group *const *groups, size_t n, const char *key, bool after)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(groups[mid]->id, key);

		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* User by id or login. */
struct okta_user *okta_user_find(const struct okta_state *ok, const char *key)
{
	size_t i;

	if (!key || !*key)
		return NULL;
	i = users_bound(ok->users, ok->nusers, key, false);
	if (i < ok->nusers && strcmp(ok->users[i]->id, key) == 0)
		return ok->users[i];
	return sim_map_get(&ok->by_login, key);
}

/* Cursor position. */
size_t okta_users_after(const struct okta_state *ok, const char *cursor)
{
	if (!cursor || !*cursor)
		return 0;
	return users_bound(ok->users, ok->nusers, cursor, true);
}

/* Insert a user. */
int okta_user_insert(struct okta_state *ok, struct okta_user *u)
{
	size_t i;
	bool gen = false;

	if (!u->login)
		return SIM_ENOMEM;
	if (sim_map_get(&ok->by_login, u->login))
		return SIM_EDUP_KEY;
	if (!u->id)
		gen = true;
again:
	if (gen) {
		u->id = okta_make_id('u', ok->next_user_seq++);
		if (!u->id)
			return SIM_ENOMEM;
	}
	i = users_bound(ok->users, ok->nusers, u->id, false);
	if (i < ok->nusers && strcmp(ok->users[i]->id, u->id) == 0) {
		if (gen && ok->next_user_seq < UINT64_C(1) << 40) {
			free(u->id);
			goto again;
		}
		goto dup;
	}
	if (grow_ptrs((void ***)&ok->users, ok->nusers, &ok->capusers))
		goto nomem;
	if (sim_map_put(&ok->by_login, u->login, u))
		goto nomem;
	insert_at((void **)ok->users, ok->nusers, i, u);
	ok->nusers++;
	return SIM_OK;
dup:
	if (gen) {
		free(u->id);
		u->id = NULL;
	}
	return SIM_EDUP_ID;
nomem:
	if (gen) {
		free(u->id);
		u->id = NULL;
	}
	return SIM_ENOMEM;
}

/* Rename a login. */
int okta_user_set_login(struct okta_state *ok, struct okta_user *u, const char *login)
{
	struct okta_user *other = sim_map_get(&ok->by_login, login);
	char *copy;

	if (other && other != u)
		return SIM_EDUP_KEY;
	copy = strdup(login);
	if (!copy)
		return SIM_ENOMEM;
	sim_map_del(&ok->by_login, u->login);
	free(u->login);
	u->login = copy;
	if (sim_map_put(&ok->by_login, u->login, u))
		return SIM_ENOMEM;
	return SIM_OK;
}

/* Group by id. */
struct okta_group *okta_group_find(const struct okta_state *ok, const char *id)
{
	size_t i;

	if (!id)
		return NULL;
	i = groups_bound(ok->groups, ok->ngroups, id, false);
	if (i < ok->ngroups && strcmp(ok->groups[i]->id, id) == 0)
		return ok->groups[i];
	return NULL;
}

/* Group by name (linear; groups are few). */
struct okta_group *okta_group_find_name(const struct okta_state *ok, const char *name)
{
	size_t i;

	for (i = 0; name && i < ok->ngroups; i++)
		if (strcmp(ok->groups[i]->name, name) == 0)
			return ok->groups[i];
	return NULL;
}

/* Cursor position. */
size_t okta_groups_after(const struct okta_state *ok, const char *cursor)
{
	if (!cursor || !*cursor)
		return 0;
	return groups_bound(ok->groups, ok->ngroups, cursor, true);
}

/* Insert a group. */
int okta_group_insert(struct okta_state *ok, struct okta_group *g)
{
	size_t i;
	bool gen = false;

	if (!g->id)
		gen = true;
again:
	if (gen) {
		g->id = okta_make_id('g', ok->next_group_seq++);
		if (!g->id)
			return SIM_ENOMEM;
	}
	i = groups_bound(ok->groups, ok->ngroups, g->id, false);
	if (i < ok->ngroups && strcmp(ok->groups[i]->id, g->id) == 0) {
		if (gen && ok->next_group_seq < UINT64_C(1) << 40) {
			free(g->id);
			goto again;
		}
		if (gen) {
			free(g->id);
			g->id = NULL;
		}
		return SIM_EDUP_ID;
	}
	if (grow_ptrs((void ***)&ok->groups, ok->ngroups, &ok->capgroups)) {
		if (gen) {
			free(g->id);
			g->id = NULL;
		}
		return SIM_ENOMEM;
	}
	insert_at((void **)ok->groups, ok->ngroups, i, g);
	ok->ngroups++;
	return SIM_OK;
}

/* Delete a group. */
void okta_group_delete(struct okta_state *ok, struct okta_group *g)
{
	size_t i = groups_bound(ok->groups, ok->ngroups, g->id, false);

	if (i < ok->ngroups && ok->groups[i] == g) {
		remove_at((void **)ok->groups, ok->ngroups, i);
		ok->ngroups--;
	}
	okta_group_free(g);
}

/* Add a member keeping id order. */
int okta_group_add_member(struct okta_group *g, struct okta_user *u)
{
	size_t i = users_bound(g->members, g->nmembers, u->id, false);

	if (i < g->nmembers && g->members[i] == u)
		return 0;
	if (grow_ptrs((void ***)&g->members, g->nmembers, &g->capmembers))
		return -1;
	insert_at((void **)g->members, g->nmembers, i, u);
	g->nmembers++;
	return 1;
}

/* Remove a member. */
int okta_group_remove_member(struct okta_group *g, const struct okta_user *u)
{
	size_t i = users_bound(g->members, g->nmembers, u->id, false);

	if (i >= g->nmembers || g->members[i] != u)
		return 0;
	remove_at((void **)g->members, g->nmembers, i);
	g->nmembers--;
	return 1;
}

/* Membership test. */
bool okta_group_has_member(const struct okta_group *g, const struct okta_user *u)
{
	size_t i = users_bound(g->members, g->nmembers, u->id, false);

	return i < g->nmembers && g->members[i] == u;
}

/* Cursor position in a member list. */
size_t okta_group_members_after(const struct okta_group *g, const char *cursor)
{
	if (!cursor || !*cursor)
		return 0;
	return users_bound(g->members, g->nmembers, cursor, true);
}

/* ---- Sentry roles -------------------------------------------------------------------- */

static const char *const role_ids[] = { "member", "admin", "manager", "owner" };
static const char *const role_names[] = { "Member", "Admin", "Manager", "Owner" };

/* Role id. */
const char *sentry_role_id(enum sentry_role r)
{
	return role_ids[r];
}

/* Role display name. */
const char *sentry_role_name(enum sentry_role r)
{
	return role_names[r];
}

/* Parse a role id. */
int sentry_role_parse(const char *id, enum sentry_role *out)
{
	int i;

	for (i = 0; id && i < 4; i++) {
		if (strcmp(id, role_ids[i]) == 0) {
			*out = (enum sentry_role)i;
			return 0;
		}
	}
	return -1;
}

/* Team role id ("contributor"/"admin"), NULL for the stored NULL. */
const char *sentry_team_role_id(int tr)
{
	if (tr == SENTRY_TEAM_ROLE_CONTRIBUTOR)
		return "contributor";
	if (tr == SENTRY_TEAM_ROLE_ADMIN)
		return "admin";
	return NULL;
}

/* Parse a team role id. */
int sentry_team_role_parse(const char *id, int *out)
{
	if (id && strcmp(id, "contributor") == 0) {
		*out = SENTRY_TEAM_ROLE_CONTRIBUTOR;
		return 0;
	}
	if (id && strcmp(id, "admin") == 0) {
		*out = SENTRY_TEAM_ROLE_ADMIN;
		return 0;
	}
	return -1;
}

/* Sentry: member -> contributor, admin/manager/owner -> team admin. */
int sentry_min_team_role(enum sentry_role r)
{
	return r == SENTRY_ROLE_MEMBER ? SENTRY_TEAM_ROLE_CONTRIBUTOR : SENTRY_TEAM_ROLE_ADMIN;
}

/* Sentry stores a team role <= the org-implied minimum as NULL. */
int sentry_normalise_team_role(enum sentry_role r, int team_role)
{
	if (team_role == SENTRY_TEAM_ROLE_NULL || team_role <= sentry_min_team_role(r))
		return SENTRY_TEAM_ROLE_NULL;
	return team_role;
}

/* ---- Sentry objects ------------------------------------------------------------------- */

/* Zeroed member. */
struct sentry_member *sentry_member_alloc(void)
{
	return calloc(1, sizeof(struct sentry_member));
}

/* Free a member (team counts are the caller's business, see sentry_member_delete). */
void sentry_member_free(struct sentry_member *m)
{
	if (!m)
		return;
	free(m->email);
	free(m->name);
	free(m->inviter_name);
	free(m->teams);
	free(m);
}

/* Zeroed team. */
struct sentry_team *sentry_team_alloc(void)
{
	return calloc(1, sizeof(struct sentry_team));
}

/* Free a team. */
void sentry_team_free(struct sentry_team *t)
{
	if (!t)
		return;
	free(t->slug);
	free(t->name);
	free(t);
}

/* Zeroed project. */
struct sentry_project *sentry_project_alloc(void)
{
	return calloc(1, sizeof(struct sentry_project));
}

/* Free a project. */
void sentry_project_free(struct sentry_project *p)
{
	if (!p)
		return;
	free(p->slug);
	free(p->name);
	free(p->platform);
	free(p->teams);
	free(p);
}

/* First member index with id >= key. */
static size_t members_bound(struct sentry_member *const *ms, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ms[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Member by id. */
struct sentry_member *sentry_member_find(const struct sentry_state *se, int64_t id)
{
	size_t i = members_bound(se->members, se->nmembers, id);

	if (i < se->nmembers && se->members[i]->id == id)
		return se->members[i];
	return NULL;
}

/* Member by email. */
struct sentry_member *sentry_member_find_email(const struct sentry_state *se, const char *email)
{
	return sim_map_get(&se->by_email, email);
}

/* Insert a member. */
int sentry_member_insert(struct sentry_state *se, struct sentry_member *m)
{
	size_t i;

	if (!m->email)
		return SIM_ENOMEM;
	if (sim_map_get(&se->by_email, m->email))
		return SIM_EDUP_KEY;
	if (m->id == 0)
		m->id = se->next_member_id;
	i = members_bound(se->members, se->nmembers, m->id);
	if (i < se->nmembers && se->members[i]->id == m->id)
		return SIM_EDUP_ID;
	if (grow_ptrs((void ***)&se->members, se->nmembers, &se->capmembers))
		return SIM_ENOMEM;
	if (sim_map_put(&se->by_email, m->email, m))
		return SIM_ENOMEM;
	insert_at((void **)se->members, se->nmembers, i, m);
	se->nmembers++;
	if (m->id >= se->next_member_id)
		se->next_member_id = m->id + 1;
	if (m->user_id >= se->next_user_id)
		se->next_user_id = m->user_id + 1;
	return SIM_OK;
}

/* Delete a member. */
void sentry_member_delete(struct sentry_state *se, struct sentry_member *m)
{
	size_t i = members_bound(se->members, se->nmembers, m->id);

	if (i < se->nmembers && se->members[i] == m) {
		remove_at((void **)se->members, se->nmembers, i);
		se->nmembers--;
	}
	sim_map_del(&se->by_email, m->email);
	for (i = 0; i < m->nteams; i++)
		m->teams[i].team->member_count--;
	sentry_member_free(m);
}

/* Membership row. */
struct sentry_member_team *sentry_member_team_get(const struct sentry_member *m,
						  const struct sentry_team *t)
{
	size_t i;

	for (i = 0; i < m->nteams; i++)
		if (m->teams[i].team == t)
			return &m->teams[i];
	return NULL;
}

/* Add a team membership. */
int sentry_member_team_add(struct sentry_member *m, struct sentry_team *t, int role)
{
	if (sentry_member_team_get(m, t))
		return 0;
	if (m->nteams == m->capteams) {
		size_t ncap = m->capteams ? m->capteams * 2 : 4;
		struct sentry_member_team *p = realloc(m->teams, ncap * sizeof(*p));

		if (!p)
			return -1;
		m->teams = p;
		m->capteams = ncap;
	}
	m->teams[m->nteams].team = t;
	m->teams[m->nteams].role = sentry_normalise_team_role(m->role, role);
	m->nteams++;
	t->member_count++;
	return 1;
}

/* Remove a team membership. */
int sentry_member_team_remove(struct sentry_member *m, struct sentry_team *t)
{
	size_t i;

	for (i = 0; i < m->nteams; i++) {
		if (m->teams[i].team == t) {
			memmove(&m->teams[i], &m->teams[i + 1], (m->nteams - i - 1) * sizeof(m->teams[0]));
			m->nteams--;
			t->member_count--;
			return 1;
		}
	}
	return 0;
}

/* Full replacement of team memberships (Sentry: teamRoles replaces all). */
int sentry_member_set_teams(struct sentry_member *m, const struct sentry_member_team *rows,
			    size_t n)
{
	struct sentry_member_team *nt = NULL;
	size_t i, k = 0;

	if (n) {
		nt = calloc(n, sizeof(*nt));
		if (!nt)
			return -1;
	}
	for (i = 0; i < n; i++) {
		size_t j;
		bool dup = false;

		for (j = 0; j < k; j++)
			if (nt[j].team == rows[i].team)
				dup = true;
		if (dup)
			continue;
		nt[k].team = rows[i].team;
		nt[k].role = sentry_normalise_team_role(m->role, rows[i].role);
		k++;
	}
	for (i = 0; i < m->nteams; i++)
		m->teams[i].team->member_count--;
	for (i = 0; i < k; i++)
		nt[i].team->member_count++;
	free(m->teams);
	m->teams = nt;
	m->nteams = k;
	m->capteams = n;
	return 0;
}

/* Change the org role; team roles now at or below the new minimum become NULL. */
void sentry_member_set_role(struct sentry_member *m, enum sentry_role r)
{
	size_t i;

	m->role = r;
	for (i = 0; i < m->nteams; i++)
		m->teams[i].role = sentry_normalise_team_role(r, m->teams[i].role);
}

/* is_only_owner(): pending invites do not count as other owners. */
bool sentry_member_is_only_owner(const struct sentry_state *se, const struct sentry_member *m)
{
	size_t i;

	if (m->role != SENTRY_ROLE_OWNER)
		return false;
	for (i = 0; i < se->nmembers; i++) {
		const struct sentry_member *o = se->members[i];

		if (o != m && o->role == SENTRY_ROLE_OWNER && o->user_id != 0)
			return false;
	}
	return true;
}

/* True if s is non-empty and all digits. */
static bool all_digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* First team index with slug >= key. */
static size_t teams_bound(struct sentry_team *const *ts, size_t n, const char *slug)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ts[mid]->slug, slug) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Team by slug or id. */
struct sentry_team *sentry_team_find(const struct sentry_state *se, const char *key)
{
	size_t i;

	if (!key)
		return NULL;
	if (all_digits(key)) {
		int64_t id;

		if (!sim_parse_i64(key, &id))
			return NULL;
		for (i = 0; i < se->nteams; i++)
			if (se->teams[i]->id == id)
				return se->teams[i];
		return NULL;
	}
	i = teams_bound(se->teams, se->nteams, key);
	if (i < se->nteams && strcmp(se->teams[i]->slug, key) == 0)
		return se->teams[i];
	return NULL;
}

/* Insert a team. */
int sentry_team_insert(struct sentry_state *se, struct sentry_team *t)
{
	size_t i = teams_bound(se->teams, se->nteams, t->slug);

	if (i < se->nteams && strcmp(se->teams[i]->slug, t->slug) == 0)
		return SIM_EDUP_KEY;
	if (grow_ptrs((void ***)&se->teams, se->nteams, &se->capteams))
		return SIM_ENOMEM;
	if (t->id == 0)
		t->id = se->next_team_id;
	if (t->id >= se->next_team_id)
		se->next_team_id = t->id + 1;
	insert_at((void **)se->teams, se->nteams, i, t);
	se->nteams++;
	return SIM_OK;
}

/* First project index with slug >= key. */
static size_t projects_bound(struct sentry_project *const *ps, size_t n, const char *slug)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ps[mid]->slug, slug) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Project by slug or id. */
struct sentry_project *sentry_project_find(const struct sentry_state *se, const char *key)
{
	size_t i;

	if (!key)
		return NULL;
	if (all_digits(key)) {
		int64_t id;

		if (!sim_parse_i64(key, &id))
			return NULL;
		for (i = 0; i < se->nprojects; i++)
			if (se->projects[i]->id == id)
				return se->projects[i];
		return NULL;
	}
	i = projects_bound(se->projects, se->nprojects, key);
	if (i < se->nprojects && strcmp(se->projects[i]->slug, key) == 0)
		return se->projects[i];
	return NULL;
}

/* Insert a project. */
int sentry_project_insert(struct sentry_state *se, struct sentry_project *p)
{
	size_t i = projects_bound(se->projects, se->nprojects, p->slug);

	if (i < se->nprojects && strcmp(se->projects[i]->slug, p->slug) == 0)
		return SIM_EDUP_KEY;
	if (grow_ptrs((void ***)&se->projects, se->nprojects, &se->capprojects))
		return SIM_ENOMEM;
	if (p->id == 0)
		p->id = se->next_project_id;
	if (p->id >= se->next_project_id)
		se->next_project_id = p->id + 1;
	insert_at((void **)se->projects, se->nprojects, i, p);
	se->nprojects++;
	return SIM_OK;
}

/* Add a team to a project. */
int sentry_project_add_team(struct sentry_project *p, struct sentry_team *t)
{
	struct sentry_team **nt;
	size_t i;

	for (i = 0; i < p->nteams; i++)
		if (p->teams[i] == t)
			return 0;
	nt = realloc(p->teams, (p->nteams + 1) * sizeof(*nt));
	if (!nt)
		return -1;
	p->teams = nt;
	p->teams[p->nteams++] = t;
	return 0;
}

/* Slug regex ^(?![0-9]+$)[a-z0-9_-]+$ with a length cap. */
bool sentry_slug_valid(const char *slug, size_t max)
{
	const char *p;
	size_t n;

	if (!slug)
		return false;
	n = strlen(slug);
	if (n == 0 || n > max || all_digits(slug))
		return false;
	for (p = slug; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* slugify: lower-case, keep [a-z0-9_-], runs of spaces/other become '-', trim '-'. */
char *sentry_slugify(const char *name)
{
	size_t n = strlen(name), i, o = 0;
	char *s = malloc(n + 1);
	bool dash = false;

	if (!s)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)name[i]);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
			if (dash && o > 0)
				s[o++] = '-';
			dash = false;
			s[o++] = c;
		} else if (c == '-' || isspace((unsigned char)c)) {
			dash = true;
		}
	}
	s[o] = '\0';
	return s;
}

/* ---- fixtures: loading ------------------------------------------------------------------ */

/* Set *err to a formatted message (best effort). fmt is always a literal
 * of this file with one %s; the attribute lets the compiler check that. */
static void set_err(char **err, const char *fmt, const char *arg) __attribute__((format(printf, 2, 0)));
static void set_err(char **err, const char *fmt, const char *arg)
{
	if (err && !*err)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		*err = sim_asprintf(fmt, arg ? arg : "");
#pragma GCC diagnostic pop
}

/* Timestamp field: ISO string, integer ms, or null/absent (-> dflt). */
static int fx_time(const json_t *obj, const char *key, int64_t dflt, int64_t *out, char **err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && sim_parse_iso(json_string_value(v), out) == 0)
		return 0;
	set_err(err, "fixture: bad timestamp in \"%s\"", key);
	return -1;
}

/* String field from obj or, failing that, from obj.profile; NULL if absent. */
static const char *fx_str2(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		v = json_object_get(json_object_get(obj, "profile"), key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Load one Okta user. */
static int fx_okta_user(struct okta_state *ok, const json_t *ju, char **err)
{
	struct okta_user *u = okta_user_alloc();
	const json_t *prof = json_object_get(ju, "profile");
	const char *s, *key;
	json_t *v;
	int rc = -1, ins;

	if (!u)
		goto nomem;
	s = fx_str2(ju, "id");
	if (json_is_string(json_object_get(ju, "id")) && !(u->id = strdup(s)))
		goto nomem;
	s = fx_str2(ju, "login");
	if (!s)
		s = fx_str2(ju, "email");
	if (!s) {
		set_err(err, "fixture: okta user without login or email%s", NULL);
		goto out;
	}
	if (!(u->login = strdup(s)))
		goto nomem;
	s = fx_str2(ju, "email");
	if (!(u->email = strdup(s ? s : u->login)))
		goto nomem;
	if ((s = fx_str2(ju, "firstName")) && !(u->first_name = strdup(s)))
		goto nomem;
	if ((s = fx_str2(ju, "lastName")) && !(u->last_name = strdup(s)))
		goto nomem;
	u->status = OKTA_ACTIVE;
	v = json_object_get(ju, "status");
	if (v && okta_status_parse(json_string_value(v), &u->status)) {
		set_err(err, "fixture: unknown okta status for %s", u->login);
		goto out;
	}
	if (fx_time(ju, "created", SIM_SEED_EPOCH_MS, &u->created, err) ||
	    fx_time(ju, "activated", u->status == OKTA_STAGED ? 0 : u->created, &u->activated, err) ||
	    fx_time(ju, "statusChanged", u->activated, &u->status_changed, err) ||
	    fx_time(ju, "lastLogin", 0, &u->last_login, err) ||
	    fx_time(ju, "lastUpdated", u->created, &u->last_updated, err) ||
	    fx_time(ju, "passwordChanged", u->activated, &u->password_changed, err))
		goto out;
	/* keep any other profile attributes verbatim */
	if (json_is_object(prof)) {
		json_object_foreach((json_t *)prof, key, v) {
			if (!strcmp(key, "login") || !strcmp(key, "email") ||
			    !strcmp(key, "firstName") || !strcmp(key, "lastName"))
				continue;
			if (!u->profile_extra && !(u->profile_extra = json_object()))
				goto nomem;
			/* a private copy: the fixture document is shared by later resets */
			if (json_object_set_new(u->profile_extra, key, json_deep_copy(v)))
				goto nomem;
		}
	}
	ins = okta_user_insert(ok, u);
	if (ins == SIM_ENOMEM)
		goto nomem;
	if (ins != SIM_OK) {
		set_err(err, "fixture: duplicate okta user id or login %s", u->login);
		goto out;
	}
	return 0;
nomem:
	set_err(err, "fixture: out of memory%s", NULL);
out:
	if (rc)
		okta_user_free(u);
	return rc;
}

/* Load one Okta group with its members. */
static int fx_okta_group(struct okta_state *ok, const json_t *jg, char **err)
{
	struct okta_group *g = okta_group_alloc();
	const json_t *mem, *v;
	const char *s;
	size_t i;

	if (!g)
		goto nomem;
	if (json_is_string(json_object_get(jg, "id")) &&
	    !(g->id = strdup(json_string_value(json_object_get(jg, "id")))))
		goto nomem;
	s = fx_str2(jg, "name");
	if (!s) {
		set_err(err, "fixture: okta group without name%s", NULL);
		goto fail;
	}
	if (okta_group_find_name(ok, s)) {
		set_err(err, "fixture: duplicate okta group name %s", s);
		goto fail;
	}
	if (!(g->name = strdup(s)))
		goto nomem;
	s = fx_str2(jg, "description");
	if (!(g->description = strdup(s ? s : "")))
		goto nomem;
	g->type = OKTA_GT_OKTA;
	v = json_object_get(jg, "type");
	if (v && okta_group_type_parse(json_string_value(v), &g->type)) {
		set_err(err, "fixture: unknown okta group type in %s", g->name);
		goto fail;
	}
	if (fx_time(jg, "created", SIM_SEED_EPOCH_MS, &g->created, err) ||
	    fx_time(jg, "lastUpdated", g->created, &g->last_updated, err) ||
	    fx_time(jg, "lastMembershipUpdated", g->created, &g->last_membership_updated, err))
		goto fail;
	mem = json_object_get(jg, "members");
	json_array_foreach(mem, i, v) {
		struct okta_user *u = okta_user_find(ok, json_string_value(v));

		if (!u) {
			set_err(err, "fixture: okta group member not found: %s", json_string_value(v));
			goto fail;
		}
		if (okta_group_add_member(g, u) < 0)
			goto nomem;
	}
	switch (okta_group_insert(ok, g)) {
	case SIM_OK:
		return 0;
	case SIM_ENOMEM:
		goto nomem;
	default:
		set_err(err, "fixture: duplicate okta group id %s", g->id);
		goto fail;
	}
nomem:
	set_err(err, "fixture: out of memory%s", NULL);
fail:
	okta_group_free(g);
	return -1;
}

/* Load one Sentry team. */
static int fx_sentry_team(struct sentry_state *se, const json_t *jt, char **err)
{
	struct sentry_team *t = sentry_team_alloc();
	const char *slug = json_string_value(json_object_get(jt, "slug"));
	const char *name = json_string_value(json_object_get(jt, "name"));
	const json_t *v;

	if (!t)
		goto nomem;
	if (!slug || !sentry_slug_valid(slug, 50)) {
		set_err(err, "fixture: sentry team with a missing or invalid slug %s", slug);
		goto fail;
	}
	t->id = json_integer_value(json_object_get(jt, "id"));
	if (json_is_string(json_object_get(jt, "id")) &&
	    !sim_parse_i64(json_string_value(json_object_get(jt, "id")), &t->id)) {
		set_err(err, "fixture: bad team id for %s", slug);
		goto fail;
	}
	if (!(t->slug = strdup(slug)) || !(t->name = strdup(name ? name : slug)))
		goto nomem;
	v = json_object_get(jt, "idpProvisioned");
	if (!v)
		v = json_object_get(json_object_get(jt, "flags"), "idp:provisioned");
	t->idp_provisioned = json_is_true(v);
	if (fx_time(jt, "dateCreated", SIM_SEED_EPOCH_MS, &t->created, err))
		goto fail;
	switch (sentry_team_insert(se, t)) {
	case SIM_OK:
		return 0;
	case SIM_ENOMEM:
		goto nomem;
	default:
		set_err(err, "fixture: duplicate sentry team %s", slug);
		goto fail;
	}
nomem:
	set_err(err, "fixture: out of memory%s", NULL);
fail:
	sentry_team_free(t);
	return -1;
}

/* Read a JSON id that may be an integer or a digit string; 0 if absent. */
static int fx_id(const json_t *obj, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return *out > 0 ? 0 : -1;
	}
	if (json_is_string(v) && sim_parse_i64(json_string_value(v), out) && *out > 0)
		return 0;
	return -1;
}

/* Load one Sentry member with its team memberships. */
static int fx_sentry_member(struct sentry_state *se, const json_t *jm, char **err)
{
	struct sentry_member *m = sentry_member_alloc();
	const char *email = json_string_value(json_object_get(jm, "email"));
	const char *s;
	const json_t *flags, *tr, *v, *user;
	size_t i;
	int k;

	if (!m)
		goto nomem;
	if (!email) {
		set_err(err, "fixture: sentry member without email%s", NULL);
		goto fail;
	}
	if (fx_id(jm, "id", &m->id)) {
		set_err(err, "fixture: bad sentry member id for %s", email);
		goto fail;
	}
	if (!(m->email = strdup(email)))
		goto nomem;
	s = json_string_value(json_object_get(jm, "orgRole"));
	if (!s)
		s = json_string_value(json_object_get(jm, "role"));
	if (!s)
		s = "member";
	if (sentry_role_parse(s, &m->role)) {
		set_err(err, "fixture: unknown sentry role %s", s);
		goto fail;
	}
	user = json_object_get(jm, "user");
	if (json_is_true(json_object_get(jm, "pending")) || json_is_null(user)) {
		m->user_id = 0;
	} else {
		if (fx_id(jm, "userId", &m->user_id) ||
		    (m->user_id == 0 && json_is_object(user) && fx_id(user, "id", &m->user_id))) {
			set_err(err, "fixture: bad sentry user id for %s", email);
			goto fail;
		}
		if (m->user_id == 0)
			m->user_id = se->next_user_id;
		s = json_string_value(json_object_get(jm, "name"));
		if (!(m->name = strdup(s ? s : email)))
			goto nomem;
	}
	m->expired = json_is_true(json_object_get(jm, "expired"));
	flags = json_object_get(jm, "flags");
	for (k = 0; k < SENTRY_NFLAGS; k++)
		if (json_is_true(json_object_get(flags, sentry_flag_names[k])))
			m->flags |= 1u << k;
	if (fx_time(jm, "dateCreated", SIM_SEED_EPOCH_MS, &m->created, err))
		goto fail;
	s = json_string_value(json_object_get(jm, "inviterName"));
	if (s && !(m->inviter_name = strdup(s)))
		goto nomem;
	/* teams: either "teamRoles" [{teamSlug, role}] or "teams" [slug] */
	tr = json_object_get(jm, "teamRoles");
	json_array_foreach(tr, i, v) {
		const char *slug = json_string_value(json_object_get(v, "teamSlug"));
		const json_t *jr = json_object_get(v, "role");
		struct sentry_team *t = sentry_team_find(se, slug);
		int role = SENTRY_TEAM_ROLE_NULL;

		if (!t) {
			set_err(err, "fixture: unknown team %s", slug);
			goto fail;
		}
		if (jr && !json_is_null(jr) && sentry_team_role_parse(json_string_value(jr), &role)) {
			set_err(err, "fixture: bad team role for %s", email);
			goto fail;
		}
		if (sentry_member_team_add(m, t, role) < 0)
			goto nomem;
	}
	if (!tr) {
		json_array_foreach(json_object_get(jm, "teams"), i, v) {
			struct sentry_team *t = sentry_team_find(se, json_string_value(v));

			if (!t) {
				set_err(err, "fixture: unknown team %s", json_string_value(v));
				goto fail;
			}
			if (sentry_member_team_add(m, t, SENTRY_TEAM_ROLE_NULL) < 0)
				goto nomem;
		}
	}
	switch (sentry_member_insert(se, m)) {
	case SIM_OK:
		return 0;
	case SIM_ENOMEM:
		goto nomem;
	default:
		set_err(err, "fixture: duplicate sentry member %s", email);
		goto fail;
	}
nomem:
	set_err(err, "fixture: out of memory%s", NULL);
fail:
	if (m) {
		for (i = 0; i < m->nteams; i++)
			m->teams[i].team->member_count--;
	}
	sentry_member_free(m);
	return -1;
}

/* Load one Sentry project. */
static int fx_sentry_project(struct sentry_state *se, const json_t *jp, char **err)
{
	struct sentry_project *p = sentry_project_alloc();
	const char *slug = json_string_value(json_object_get(jp, "slug"));
	const char *name = json_string_value(json_object_get(jp, "name"));
	const char *platform = json_string_value(json_object_get(jp, "platform"));
	const json_t *v;
	size_t i;

	if (!p)
		goto nomem;
	if (!slug || !sentry_slug_valid(slug, 100)) {
		set_err(err, "fixture: sentry project with a missing or invalid slug %s", slug);
		goto fail;
	}
	if (fx_id(jp, "id", &p->id)) {
		set_err(err, "fixture: bad project id for %s", slug);
		goto fail;
	}
	if (!(p->slug = strdup(slug)) || !(p->name = strdup(name ? name : slug)))
		goto nomem;
	if (platform && !(p->platform = strdup(platform)))
		goto nomem;
	if (fx_time(jp, "dateCreated", SIM_SEED_EPOCH_MS, &p->created, err))
		goto fail;
	json_array_foreach(json_object_get(jp, "teams"), i, v) {
		const char *ts = json_is_object(v) ? json_string_value(json_object_get(v, "slug"))
						   : json_string_value(v);
		struct sentry_team *t = sentry_team_find(se, ts);

		if (!t) {
			set_err(err, "fixture: unknown project team %s", ts);
			goto fail;
		}
		if (sentry_project_add_team(p, t))
			goto nomem;
	}
	switch (sentry_project_insert(se, p)) {
	case SIM_OK:
		return 0;
	case SIM_ENOMEM:
		goto nomem;
	default:
		set_err(err, "fixture: duplicate sentry project %s", slug);
		goto fail;
	}
nomem:
	set_err(err, "fixture: out of memory%s", NULL);
fail:
	sentry_project_free(p);
	return -1;
}

/* Build a state from a fixture document. */
int sim_state_from_fixture(const json_t *fx, const char *org, struct sim_state **out, char **err)
{
	struct sim_state *st = NULL;
	const json_t *okta, *sentry, *jorg, *v;
	const char *slug = org;
	size_t i;
	int rc = -1;

	*out = NULL;
	if (!json_is_object(fx)) {
		set_err(err, "fixture: top level must be an object%s", NULL);
		goto out;
	}
	okta = json_object_get(fx, "okta");
	sentry = json_object_get(fx, "sentry");
	jorg = json_object_get(sentry, "org");
	if (!slug)
		slug = json_is_string(jorg) ? json_string_value(jorg)
					    : json_string_value(json_object_get(jorg, "slug"));
	st = sim_state_new(slug ? slug : "acme");
	if (!st) {
		set_err(err, "fixture: out of memory%s", NULL);
		goto out;
	}
	if (json_is_object(jorg)) {
		const char *name = json_string_value(json_object_get(jorg, "name"));
		int64_t id = 0;

		if (name) {
			char *n = strdup(name);

			if (!n) {
				set_err(err, "fixture: out of memory%s", NULL);
				goto out;
			}
			free(st->sentry.org_name);
			st->sentry.org_name = n;
		}
		if (fx_id(jorg, "id", &id)) {
			set_err(err, "fixture: bad org id%s", NULL);
			goto out;
		}
		if (id)
			st->sentry.org_id = id;
	}
	json_array_foreach(json_object_get(okta, "users"), i, v)
		if (fx_okta_user(&st->okta, v, err))
			goto out;
	json_array_foreach(json_object_get(okta, "groups"), i, v)
		if (fx_okta_group(&st->okta, v, err))
			goto out;
	json_array_foreach(json_object_get(sentry, "teams"), i, v)
		if (fx_sentry_team(&st->sentry, v, err))
			goto out;
	json_array_foreach(json_object_get(sentry, "members"), i, v)
		if (fx_sentry_member(&st->sentry, v, err))
			goto out;
	json_array_foreach(json_object_get(sentry, "projects"), i, v)
		if (fx_sentry_project(&st->sentry, v, err))
			goto out;
	/* continue generated ids after the largest sequence number seen (see okta_make_id) */
	for (i = 0; i < st->okta.nusers; i++) {
		uint64_t seq = okta_id_seq(st->okta.users[i]->id);

		if (seq >= st->okta.next_user_seq)
			st->okta.next_user_seq = seq + 1;
	}
	for (i = 0; i < st->okta.ngroups; i++) {
		uint64_t seq = okta_id_seq(st->okta.groups[i]->id);

		if (seq >= st->okta.next_group_seq)
			st->okta.next_group_seq = seq + 1;
	}
	*out = st;
	st = NULL;
	rc = 0;
out:
	sim_state_free(st);
	return rc;
}

/* ---- fixtures: dumping ------------------------------------------------------------------- */

/* Timestamp or null. */
static json_t *jtime(int64_t ms, bool sentry)
{
	char buf[SIM_TIME_BUFSZ];

	if (!ms)
		return json_null();
	if (sentry)
		sim_fmt_sentry_time(ms, buf);
	else
		sim_fmt_okta_time(ms, buf);
	return json_string(buf);
}

/* String or null. */
static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Dump one Okta user in fixture shape. */
static json_t *dump_okta_user(const struct okta_user *u)
{
	json_t *prof = u->profile_extra ? json_deep_copy(u->profile_extra) : json_object();

	int bad = 0;

	if (!prof)
		return NULL;
	bad |= json_object_set_new(prof, "login", jstr(u->login));
	bad |= json_object_set_new(prof, "email", jstr(u->email));
	bad |= json_object_set_new(prof, "firstName", jstr(u->first_name));
	bad |= json_object_set_new(prof, "lastName", jstr(u->last_name));
	if (bad) {
		json_decref(prof);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "id", u->id, "status", okta_status_name(u->status),
			 "created", jtime(u->created, false),
			 "activated", jtime(u->activated, false),
			 "statusChanged", jtime(u->status_changed, false),
			 "lastLogin", jtime(u->last_login, false),
			 "lastUpdated", jtime(u->last_updated, false),
			 "passwordChanged", jtime(u->password_changed, false),
			 "profile", prof);
}

/* Dump one Okta group with member ids. */
static json_t *dump_okta_group(const struct okta_group *g)
{
	json_t *mem = json_array();
	size_t i;
	int bad = 0;

	if (!mem)
		return NULL;
	for (i = 0; i < g->nmembers; i++)
		bad |= json_array_append_new(mem, json_string(g->members[i]->id));
	if (bad) {
		json_decref(mem);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:s, s:s}, s:o}",
			 "id", g->id, "type", okta_group_type_name(g->type),
			 "created", jtime(g->created, false),
			 "lastUpdated", jtime(g->last_updated, false),
			 "lastMembershipUpdated", jtime(g->last_membership_updated, false),
			 "profile", "name", g->name, "description", g->description ? g->description : "",
			 "members", mem);
}

/* Dump one Sentry member. */
static json_t *dump_sentry_member(const struct sentry_member *m)
{
	json_t *flags = json_object(), *tr = json_array();
	json_t *o;
	size_t i;
	int k, bad = 0;

	if (!flags || !tr) {
		json_decref(flags);
		json_decref(tr);
		return NULL;
	}
	for (k = 0; k < SENTRY_NFLAGS; k++)
		bad |= json_object_set_new(flags, sentry_flag_names[k], json_boolean(m->flags & (1u << k)));
	for (i = 0; i < m->nteams; i++)
		bad |= json_array_append_new(tr, json_pack("{s:s, s:o}", "teamSlug", m->teams[i].team->slug,
						    "role", jstr(sentry_team_role_id(m->teams[i].role))));
	o = json_pack("{s:I, s:s, s:o, s:s, s:b, s:b, s:o, s:o, s:o, s:o}",
		      "id", (json_int_t)m->id, "email", m->email, "name", jstr(m->name),
		      "orgRole", sentry_role_id(m->role), "pending", m->user_id == 0,
		      "expired", m->expired, "flags", flags,
		      "dateCreated", jtime(m->created, true),
		      "inviterName", jstr(m->inviter_name), "teamRoles", tr);
	if (o && (bad || (m->user_id &&
			  json_object_set_new(o, "userId", json_integer((json_int_t)m->user_id))))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Full dump in fixture shape. */
json_t *sim_state_dump(const struct sim_state *st)
{
	json_t *users = json_array(), *groups = json_array(), *teams = json_array();
	json_t *members = json_array(), *projects = json_array();
	size_t i, j;

	if (!users || !groups || !teams || !members || !projects)
		goto fail;
	for (i = 0; i < st->okta.nusers; i++)
		if (json_array_append_new(users, dump_okta_user(st->okta.users[i])))
			goto fail;
	for (i = 0; i < st->okta.ngroups; i++)
		if (json_array_append_new(groups, dump_okta_group(st->okta.groups[i])))
			goto fail;
	for (i = 0; i < st->sentry.nteams; i++) {
		const struct sentry_team *t = st->sentry.teams[i];

		if (json_array_append_new(teams, json_pack("{s:I, s:s, s:s, s:o, s:b}",
				"id", (json_int_t)t->id, "slug", t->slug, "name", t->name,
				"dateCreated", jtime(t->created, true),
				"idpProvisioned", t->idp_provisioned)))
			goto fail;
	}
	for (i = 0; i < st->sentry.nmembers; i++)
		if (json_array_append_new(members, dump_sentry_member(st->sentry.members[i])))
			goto fail;
	for (i = 0; i < st->sentry.nprojects; i++) {
		const struct sentry_project *p = st->sentry.projects[i];
		json_t *pt = json_array();

		if (!pt)
			goto fail;
		for (j = 0; j < p->nteams; j++) {
			if (json_array_append_new(pt, json_string(p->teams[j]->slug))) {
				json_decref(pt);
				goto fail;
			}
		}
		if (json_array_append_new(projects, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}",
				"id", (json_int_t)p->id, "slug", p->slug, "name", p->name,
				"platform", jstr(p->platform),
				"dateCreated", jtime(p->created, true), "teams", pt)))
			goto fail;
	}
	return json_pack("{s:{s:o, s:o}, s:{s:{s:I, s:s, s:s}, s:o, s:o, s:o}}",
			 "okta", "users", users, "groups", groups,
			 "sentry", "org", "id", (json_int_t)st->sentry.org_id,
			 "slug", st->sentry.org_slug, "name", st->sentry.org_name,
			 "teams", teams, "members", members, "projects", projects);
fail:
	json_decref(users);
	json_decref(groups);
	json_decref(teams);
	json_decref(members);
	json_decref(projects);
	return NULL;
}

/* Counts. */
json_t *sim_state_summary(const struct sim_state *st)
{
	size_t i, memberships = 0, deprov = 0, pending = 0;
	size_t visible = 0;

	for (i = 0; i < st->okta.ngroups; i++)
		memberships += st->okta.groups[i]->nmembers;
	for (i = 0; i < st->okta.nusers; i++)
		if (st->okta.users[i]->status == OKTA_DEPROVISIONED)
			deprov++;
	for (i = 0; i < st->sentry.nmembers; i++) {
		if (st->sentry.members[i]->user_id == 0)
			pending++;
		visible++;
	}
	return json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:{s:s, s:I, s:I, s:I, s:I}}",
			 "okta", "users", (json_int_t)st->okta.nusers,
			 "usersListed", (json_int_t)(st->okta.nusers - deprov),
			 "deprovisioned", (json_int_t)deprov,
			 "groups", (json_int_t)st->okta.ngroups,
			 "memberships", (json_int_t)memberships,
			 "sentry", "org", st->sentry.org_slug,
			 "members", (json_int_t)visible, "pending", (json_int_t)pending,
			 "teams", (json_int_t)st->sentry.nteams,
			 "projects", (json_int_t)st->sentry.nprojects);
}
