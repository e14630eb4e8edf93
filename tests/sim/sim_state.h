/*
 * sim_state.h: the simulator's in-memory model of one Okta org and one
 * Sentry organization, with lookups, the mutation primitives the API
 * handlers use, fixture loading and dumping.
 *
 * Concurrency: the model has no lock of its own. sim_server.c holds the
 * context's rwlock around every handler (read for GET, write otherwise).
 *
 * Ordering invariants (they make cursors stable under concurrent writes):
 *  - Okta users and groups are kept sorted by id (strcmp). Generated ids
 *    encode a creation sequence number first, so id order = creation order.
 *  - Each Okta group's member list is sorted by user id.
 *  - Sentry members are sorted by numeric id, teams and projects by slug.
 */
#ifndef SIM_STATE_H
#define SIM_STATE_H

#include "sim_util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Okta ---------------------------------------------------------------------- */

enum okta_status {
	OKTA_STAGED,
	OKTA_PROVISIONED,
	OKTA_ACTIVE,
	OKTA_RECOVERY,
	OKTA_PASSWORD_EXPIRED,
	OKTA_LOCKED_OUT,
	OKTA_SUSPENDED,
	OKTA_DEPROVISIONED,
};

enum okta_group_type { OKTA_GT_OKTA, OKTA_GT_APP, OKTA_GT_BUILTIN };

/* Okta user; timestamps are ms since the epoch, 0 meaning JSON null. */
struct okta_user {
	char *id;                 /* "00u" + 17 characters */
	enum okta_status status;
	int64_t created, activated, status_changed, last_login, last_updated, password_changed;
	char *login, *email, *first_name, *last_name;
	json_t *profile_extra;    /* other profile attributes (object) or NULL */
};

/* Okta group with its members (sorted by user id). */
struct okta_group {
	char *id;                 /* "00g" + 17 characters */
	enum okta_group_type type;
	char *name, *description;
	int64_t created, last_updated, last_membership_updated;
	struct okta_user **members;
	size_t nmembers, capmembers;
};

struct okta_state {
	struct okta_user **users;     /* sorted by id */
	size_t nusers, capusers;
	struct okta_group **groups;   /* sorted by id */
	size_t ngroups, capgroups;
	struct sim_map by_login;      /* case-insensitive login -> user */
	uint64_t next_user_seq, next_group_seq;
};

/* ---- Sentry -------------------------------------------------------------------- */

/* Org roles in priority order (SENTRY_ROLES in OSS server.py). */
enum sentry_role {
	SENTRY_ROLE_MEMBER,
	SENTRY_ROLE_ADMIN,   /* retired: kept by those who have it, never newly assigned */
	SENTRY_ROLE_MANAGER,
	SENTRY_ROLE_OWNER,
};

/* Team roles; SENTRY_TEAM_ROLE_NULL is the stored NULL ("minimum for the org role"). */
enum sentry_team_role {
	SENTRY_TEAM_ROLE_NULL = -1,
	SENTRY_TEAM_ROLE_CONTRIBUTOR = 0,
	SENTRY_TEAM_ROLE_ADMIN = 1,
};

/* Member flag bits, in the order of sentry_flag_names. */
enum {
	SENTRY_FLAG_IDP_PROVISIONED = 1 << 0,
	SENTRY_FLAG_IDP_ROLE_RESTRICTED = 1 << 1,
	SENTRY_FLAG_SSO_LINKED = 1 << 2,
	SENTRY_FLAG_SSO_INVALID = 1 << 3,
	SENTRY_FLAG_MEMBER_LIMIT_RESTRICTED = 1 << 4,
	SENTRY_FLAG_PARTNERSHIP_RESTRICTED = 1 << 5,
	SENTRY_NFLAGS = 6,
};
extern const char *const sentry_flag_names[SENTRY_NFLAGS];

struct sentry_team {
	int64_t id;
	char *slug, *name;
	int64_t created;
	bool idp_provisioned;
	size_t member_count;      /* maintained by the member-team primitives */
};

struct sentry_member_team {
	struct sentry_team *team;
	int role;                 /* enum sentry_team_role as stored */
};

struct sentry_member {
	int64_t id;
	char *email;              /* user's email, or the invite email when pending */
	char *name;               /* user's display name; NULL when pending */
	int64_t user_id;          /* 0: pending invite (user null) */
	enum sentry_role role;
	bool expired;             /* invite token expired */
	unsigned flags;           /* SENTRY_FLAG_* */
	int64_t created;
	char *inviter_name;       /* NULL -> JSON null */
	struct sentry_member_team *teams;
	size_t nteams, capteams;
};

struct sentry_project {
	int64_t id;
	char *slug, *name, *platform; /* platform may be NULL */
	int64_t created;
	struct sentry_team **teams;
	size_t nteams;
};

struct sentry_state {
	int64_t org_id;
	char *org_slug, *org_name;
	int64_t org_created;
	struct sentry_member **members;   /* sorted by id */
	size_t nmembers, capmembers;
	struct sentry_team **teams;       /* sorted by slug */
	size_t nteams, capteams;
	struct sentry_project **projects; /* sorted by slug */
	size_t nprojects, capprojects;
	struct sim_map by_email;          /* case-insensitive member email -> member */
	int64_t next_member_id, next_user_id, next_team_id, next_project_id;
};

struct sim_state {
	struct okta_state okta;
	struct sentry_state sentry;
};

/* Result codes of the add/rename primitives. */
enum { SIM_OK = 0, SIM_ENOMEM = -1, SIM_EDUP_ID = -2, SIM_EDUP_KEY = -3 };

/* Seeded data is dated around this instant (2024-01-15T09:00:00Z). */
#define SIM_SEED_EPOCH_MS INT64_C(1705309200000)

/* ---- lifecycle ----------------------------------------------------------------- */

/* Empty state with the given org slug; NULL on allocation failure. Free with sim_state_free. */
struct sim_state *sim_state_new(const char *org_slug);

/* Free everything. NULL-safe. */
void sim_state_free(struct sim_state *st);

/* ---- Okta primitives ------------------------------------------------------------ */

/* Status names as Okta spells them; parse returns -1 for unknown names. */
const char *okta_status_name(enum okta_status s);
int okta_status_parse(const char *name, enum okta_status *out);
const char *okta_group_type_name(enum okta_group_type t);
int okta_group_type_parse(const char *name, enum okta_group_type *out);

/* A new 20-character id "00<kind>..." for creation sequence seq (caller frees). */
char *okta_make_id(char kind, uint64_t seq);

/* Zeroed user / group; NULL on allocation failure. Free with the _free functions. */
struct okta_user *okta_user_alloc(void);
void okta_user_free(struct okta_user *u);
struct okta_group *okta_group_alloc(void);
void okta_group_free(struct okta_group *g);

/* User by id, else by login (case-insensitive); NULL if none. */
struct okta_user *okta_user_find(const struct okta_state *ok, const char *id_or_login);

/* Index of the first user whose id sorts after cursor (cursor NULL/"" -> 0). */
size_t okta_users_after(const struct okta_state *ok, const char *cursor);

/*
 * Insert u (ownership passes on SIM_OK only). A NULL id is generated.
 * SIM_EDUP_ID / SIM_EDUP_KEY (login taken) / SIM_ENOMEM.
 */
int okta_user_insert(struct okta_state *ok, struct okta_user *u);

/* Change a user's login, keeping the index; SIM_EDUP_KEY if taken by another user. */
int okta_user_set_login(struct okta_state *ok, struct okta_user *u, const char *login);

/* Group by id; NULL if none. */
struct okta_group *okta_group_find(const struct okta_state *ok, const char *id);

/* Group by exact name; NULL if none. */
struct okta_group *okta_group_find_name(const struct okta_state *ok, const char *name);

/* Index of the first group whose id sorts after cursor. */
size_t okta_groups_after(const struct okta_state *ok, const char *cursor);

/* Insert g (ownership passes on SIM_OK); a NULL id is generated. */
int okta_group_insert(struct okta_state *ok, struct okta_group *g);

/* Remove and free g. */
void okta_group_delete(struct okta_state *ok, struct okta_group *g);

/* Membership: add returns 1 added, 0 already there, -1 no memory; remove 1/0. */
int okta_group_add_member(struct okta_group *g, struct okta_user *u);
int okta_group_remove_member(struct okta_group *g, const struct okta_user *u);
bool okta_group_has_member(const struct okta_group *g, const struct okta_user *u);

/* Index of the first member whose id sorts after cursor. */
size_t okta_group_members_after(const struct okta_group *g, const char *cursor);

/* ---- Sentry primitives ---------------------------------------------------------- */

/* Role ids ("member", ...), display names, parse (-1 unknown, includes retired admin). */
const char *sentry_role_id(enum sentry_role r);
const char *sentry_role_name(enum sentry_role r);
int sentry_role_parse(const char *id, enum sentry_role *out);

/* Team role ids; parse accepts "contributor"/"admin" (-1 otherwise). */
const char *sentry_team_role_id(int tr);
int sentry_team_role_parse(const char *id, int *out);

/* The minimum team role implied by an org role (member -> contributor, others -> admin). */
int sentry_min_team_role(enum sentry_role r);

/* Stored value for a requested team role: NULL when it is <= the implied minimum. */
int sentry_normalise_team_role(enum sentry_role r, int team_role);

/* Zeroed objects; free functions are NULL-safe. */
struct sentry_member *sentry_member_alloc(void);
void sentry_member_free(struct sentry_member *m);
struct sentry_team *sentry_team_alloc(void);
void sentry_team_free(struct sentry_team *t);
struct sentry_project *sentry_project_alloc(void);
void sentry_project_free(struct sentry_project *p);

/* Member by id / by email (case-insensitive); NULL if none. */
struct sentry_member *sentry_member_find(const struct sentry_state *se, int64_t id);
struct sentry_member *sentry_member_find_email(const struct sentry_state *se, const char *email);

/* Insert m (id 0 = next id; ownership passes on SIM_OK). SIM_EDUP_KEY: email taken. */
int sentry_member_insert(struct sentry_state *se, struct sentry_member *m);

/* Remove and free m (team counts are updated). */
void sentry_member_delete(struct sentry_state *se, struct sentry_member *m);

/* Membership row for team, or NULL. */
struct sentry_member_team *sentry_member_team_get(const struct sentry_member *m,
						  const struct sentry_team *t);

/* Add m to t with a stored role: 1 added, 0 already there, -1 no memory. */
int sentry_member_team_add(struct sentry_member *m, struct sentry_team *t, int role);

/* Remove m from t: 1 removed, 0 was not a member. */
int sentry_member_team_remove(struct sentry_member *m, struct sentry_team *t);

/* Replace all of m's teams with the n given rows (copied). 0 or -1. */
int sentry_member_set_teams(struct sentry_member *m, const struct sentry_member_team *rows,
			    size_t n);

/* Change the org role and re-normalise stored team roles. */
void sentry_member_set_role(struct sentry_member *m, enum sentry_role r);

/* Sentry's is_only_owner(): owner and no other non-pending owner. */
bool sentry_member_is_only_owner(const struct sentry_state *se, const struct sentry_member *m);

/* Team by slug, or by numeric id when key is all digits; NULL if none. */
struct sentry_team *sentry_team_find(const struct sentry_state *se, const char *key);

/* Insert t (id 0 = next id); SIM_EDUP_KEY if the slug exists. */
int sentry_team_insert(struct sentry_state *se, struct sentry_team *t);

/* Project by slug (or numeric id); NULL if none. */
struct sentry_project *sentry_project_find(const struct sentry_state *se, const char *key);

/* Insert p (id 0 = next id); SIM_EDUP_KEY if the slug exists. */
int sentry_project_insert(struct sentry_state *se, struct sentry_project *p);

/* Add a team to a project's team list: 0 or -1. */
int sentry_project_add_team(struct sentry_project *p, struct sentry_team *t);

/* True if slug matches ^(?![0-9]+$)[a-z0-9_-]+$ and is at most max bytes. */
bool sentry_slug_valid(const char *slug, size_t max);

/* Django-like slugify into a new string (caller frees); may return "". */
char *sentry_slugify(const char *name);

/* ---- fixtures -------------------------------------------------------------------- */

/*
 * Build a state from a fixture document (shape in docs/simulator.md). org,
 * when non-NULL, overrides the fixture's org slug. On failure returns -1
 * and *err gets a message (caller frees).
 */
int sim_state_from_fixture(const json_t *fx, const char *org, struct sim_state **out,
			   char **err);

/* Full dump in fixture shape (loadable by sim_state_from_fixture); NULL on failure. */
json_t *sim_state_dump(const struct sim_state *st);

/* Counts per object kind; NULL on failure. */
json_t *sim_state_summary(const struct sim_state *st);

#endif
