/*
 * policy_provision.h: the rules for new Sentry projects and teams, and the
 * audit of an existing organisation against them (issue #5). Pure code: no
 * I/O, no clock, no globals. docs/provisioning.md tells the rules in prose.
 *
 *  - Names are canonicalised: trimmed, non-ASCII refused or transliterated
 *    (provisioning.non_ascii), and for projects the configured environment
 *    suffixes (provisioning.env_suffixes) stripped as whole trailing words
 *    after '-', '_', '.' or a space, case-insensitively, repeatedly.
 *  - The slug follows Sentry's rules: lowercase letters, digits, '_' and '-',
 *    not all digits, at most 50 characters for teams and
 *    provisioning.project_slug_max for projects, not reserved (Sentry's list
 *    plus provisioning.reserved_slugs).
 *  - A new project collides with an existing one that has the same slug,
 *    the same canonical name, the same name once separators are ignored, or
 *    a name within a small edit distance (see PROV_NEAR_* below).
 *  - The team is the named team if it exists, else a new team when
 *    provisioning.allow_team_creation is on and the requester may create
 *    teams, else provisioning.default_team.
 */
#ifndef SB_POLICY_PROVISION_H
#define SB_POLICY_PROVISION_H

#include "config.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

/* Sentry's limits (sentry-api.md 3.1, 3.3, 3.4). */
#define PROV_TEAM_SLUG_MAX 50
#define PROV_TEAM_NAME_MAX 64
#define PROV_PROJECT_NAME_MAX 50
/* Longest name we look at at all, in bytes (before any rule). */
#define PROV_INPUT_MAX 1000
/* Near-duplicates: optimal-string-alignment distance, word by word when
 * both names have the same number of words (each differing word within
 * floor(longer word / PROV_NEAR_DIV) edits, never only digits), else over
 * the whole keys within floor(longer key / PROV_NEAR_DIV); in both cases at
 * most provisioning.near_duplicate_distance in total. So short words
 * ("api" / "ui" / "app") and numbers ("v1" / "v2") never count as typos. */
#define PROV_NEAR_DIV 4

enum prov_kind { PROV_PROJECT = 0, PROV_TEAM };

/* Why a name cannot be made valid (the code of the struct err). */
enum prov_invalid {
	PROV_BAD_EMPTY = 1,        /* empty or only blanks */
	PROV_BAD_NON_ASCII,        /* refused (non_ascii: refuse) or not transliterable */
	PROV_BAD_ENCODING,         /* not UTF-8, or control characters */
	PROV_BAD_ONLY_SUFFIXES,    /* nothing left after stripping environment suffixes */
	PROV_BAD_NO_ALNUM,         /* only punctuation */
	PROV_BAD_TOO_LONG,         /* name or slug over the limit */
	PROV_BAD_ALL_DIGITS,       /* Sentry refuses all-digit slugs */
	PROV_BAD_RESERVED,         /* reserved slug */
};

/* A canonicalised name. All strings owned; free with policy_prov_name_clear. */
struct prov_name {
	char *canonical;      /* ASCII, trimmed, env suffixes stripped (projects) */
	char *slug;           /* Sentry slug made from canonical */
	char *key;            /* canonical lowercased, letters and digits only */
	char **stripped;      /* environment suffixes removed, last first */
	size_t nstripped;
	bool transliterated;  /* non-ASCII letters were mapped to ASCII */
};

/* Canonicalise a requested name. 0 with out filled, or -1 with e->code one
 * of enum prov_invalid and e->msg a sentence for the requester; -2 when
 * memory ran out. */
int policy_prov_name(const struct config_provisioning *p, enum prov_kind kind, const char *name,
		     struct prov_name *out, struct err *e);
void policy_prov_name_clear(struct prov_name *n);

/* Is slug valid for Sentry (regex and length, not reserved)? */
bool policy_prov_slug_ok(const struct config_provisioning *p, enum prov_kind kind, const char *slug);

/* An existing project or team, as the rules need it. */
struct prov_existing {
	const char *slug;
	const char *name;           /* may be NULL */
	const char *const *teams;   /* projects: team slugs */
	size_t nteams;
};

enum prov_reason {
	PROV_SAME_SLUG = 0,         /* strongest */
	PROV_SAME_CANONICAL,        /* same name once env suffixes are stripped */
	PROV_SAME_SEPARATORS,       /* same letters and digits, other separators */
	PROV_EDIT_DISTANCE,         /* a small edit distance */
};

/* One collision of a requested name with an existing object. */
struct prov_conflict {
	size_t index;               /* into the existing array */
	enum prov_reason reason;
	int distance;               /* PROV_EDIT_DISTANCE: the distance */
	char *why;                  /* a sentence naming the existing object */
};

/* The collisions of name with existing, strongest first (then by slug).
 * Env suffixes of existing names are stripped only for projects. *out is
 * owned by the caller (policy_prov_conflicts_free). 0 or -1 (memory). */
int policy_prov_conflicts(const struct config_provisioning *p, enum prov_kind kind, const struct prov_name *name,
			  const struct prov_existing *existing, size_t n, struct prov_conflict **out, size_t *nout);
void policy_prov_conflicts_free(struct prov_conflict *v, size_t n);

/* "same_slug", "same_canonical_name", "same_name_but_separators", "edit_distance". */
const char *policy_prov_reason_name(enum prov_reason r);

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions) of two ASCII strings, case-insensitive, or -1 when it
 * exceeds limit (computation stops early). */
int policy_prov_distance(const char *a, const char *b, int limit);

/* May a requester act? groups: the configured groups (requester_groups or
 * team_creator_groups) the requester is a member of. is_admin: the admin
 * token acting for itself (no person named). empty_means_all: an empty
 * configured list allows everyone (requester_groups) or only admins
 * (team_creator_groups). */
bool policy_prov_may(const struct config_strlist *configured, bool empty_means_all, bool is_admin,
		     const char *const *groups, size_t ngroups);

enum prov_team_source {
	PROV_TEAM_NAMED = 0,        /* the named team exists */
	PROV_TEAM_CREATE,           /* a new team is created */
	PROV_TEAM_DEFAULT,          /* provisioning.default_team */
};

struct prov_team_decision {
	enum prov_team_source source;
	char *slug;                 /* the team's slug (to create, for CREATE) */
	char *name;                 /* CREATE: the team's name; else the existing name or slug */
	char *note;                 /* why this team (a sentence); always set */
};

/* Decide the team of a new project. requested may be NULL or "". teams are
 * the organisation's teams. may_create: the requester may create teams
 * (policy_prov_may over team_creator_groups). 0 with out filled; -1 with e
 * when no team can be used (code: PROV_BAD_* of a bad team name, or 0 when
 * the default team is missing); -2 when memory ran out. */
int policy_prov_team(const struct config_provisioning *p, const char *requested, const struct prov_existing *teams,
		     size_t nteams, bool may_create, struct prov_team_decision *out, struct err *e);
void policy_prov_team_clear(struct prov_team_decision *d);

/* ---- lint --------------------------------------------------------------- */

enum prov_violation_kind {
	PROV_V_ENV_SPLIT = 0,       /* one application split into projects by environment */
	PROV_V_ENV_SUFFIX,          /* a lone project whose name carries an environment suffix */
	PROV_V_NO_TEAM,             /* a project without a team */
	PROV_V_NEAR_DUPLICATE,      /* two projects whose names are near-duplicates */
};

struct prov_violation {
	enum prov_violation_kind kind;
	size_t *projects;           /* indexes into the projects array, by slug */
	size_t nprojects;
	char *application;          /* ENV_SPLIT/ENV_SUFFIX: canonical name */
	char *detail;               /* a sentence */
};

struct prov_lint {
	struct prov_violation *v;
	size_t n;
};

/* Audit projects against the rules. 0 with out filled (free with
 * policy_prov_lint_free), -1 when memory ran out. */
int policy_prov_lint(const struct config_provisioning *p, const struct prov_existing *projects, size_t n,
		     struct prov_lint *out);
void policy_prov_lint_free(struct prov_lint *l);

/* "env_split", "env_suffix", "no_team", "near_duplicate". */
const char *policy_prov_violation_name(enum prov_violation_kind k);

#endif
