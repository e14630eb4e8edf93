/*
 * config_int.h: internal declarations shared by the configuration loader.
 *
 *   config.c         the engine: reads the file, walks the libyaml document
 *                    with line numbers, parses each type, collects errors,
 *                    resolves secrets, applies defaults, dumps, frees.
 *   config_schema.c  the tables (one row list per struct) and the
 *                    cross-field validation.
 *   config_route.c   the routing tables, route inheritance, matchers and
 *                    time intervals.
 *
 * Nothing outside these three files includes this header (the unit test
 * does, to reach the tables).
 */
#ifndef SB_CORE_CONFIG_INT_H
#define SB_CORE_CONFIG_INT_H

#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* What a row holds. */
enum cfg_type {
	CT_STRING = 0,	/* char * */
	CT_STRENUM,	/* char * restricted to row.values */
	CT_BOOL,	/* bool */
	CT_INT,		/* int */
	CT_NUMBER,	/* double */
	CT_SIZE,	/* size_t bytes: "1MiB", "512KiB", "2MB", 1024 */
	CT_DURATION,	/* int64_t ms: "250ms", "30s", "15m", "1h", "2d", "1h30m" */
	CT_ENUM,	/* an int-sized C enum; row.values[i] is the name of value i */
	CT_ROLE,	/* enum config_role */
	CT_TEAM_ROLE,	/* enum config_team_role */
	CT_STRLIST,	/* struct config_strlist; row.values restricts the entries */
	CT_PCT,		/* struct config_pct: "5%" or a count */
	CT_SECRET_ENV,	/* char *: name of an environment variable; row.aux: resolved char * */
	CT_SECRET_FILE, /* char *: path of a file; row.aux: resolved char * */
	CT_SECTION,	/* nested struct described by row.sub */
	CT_LIST,	/* array of row.sub structs; row.aux: offset of the size_t count */
	CT_ROUTES,	/* child routes (recursive); row.aux: offset of the size_t count */
};

/* Row flags. */
#define CF_REQUIRED 0x001u /* must be written in its mapping */
#define CF_PRESENCE                                                                                                    \
	0x002u		   /* CT_SECTION: row.aux is the offset (inside the section) of a                              \
			      bool set when the block is written; null means absent */
#define CF_INHERIT 0x004u  /* route key a child inherits from its parent */
#define CF_NONEMPTY 0x008u /* string or list entries must not be empty when written */
#define CF_EMAIL 0x010u	   /* string or list entries are email addresses */
#define CF_URL 0x020u	   /* http or https URL ("" allowed unless CF_NONEMPTY) */
#define CF_UPSTREAM 0x040u /* an upstream URL: https unless the host is loopback */
#define CF_ABSPATH 0x080u  /* starts with "/" */
#define CF_HOSTPORT 0x100u /* "host:port" */
#define CF_SLUG 0x200u	   /* a Sentry slug (string or list entries) */
#define CF_MASKPW 0x400u   /* dump masks a password inside the value (database_url) */
#define CF_ENVNAME 0x800u  /* internal: value is an environment variable name */

struct cfg_table;

struct cfg_row {
	const char *key;
	enum cfg_type type;
	size_t off;	  /* offset of the field inside the table's struct */
	const char *def;  /* default as YAML text; NULL = "", empty list, 0, false */
	const char *help; /* one line */
	unsigned flags;	  /* CF_* */
	bool bounded;	  /* min/max apply (int, number, size, duration, list length) */
	int64_t min, max;
	const char *const *values;   /* CT_ENUM/CT_STRENUM/CT_STRLIST: allowed, NULL-terminated */
	const struct cfg_table *sub; /* CT_SECTION, CT_LIST, CT_ROUTES */
	size_t aux;		     /* see enum cfg_type and CF_PRESENCE */
};

struct cfg_table {
	const char *name; /* struct name, for messages and docs */
	const struct cfg_row *rows;
	size_t nrows;
	size_t size;	     /* sizeof the struct (list elements) */
	const char *feature; /* which part of the product uses it */
};

/* The tables (config_schema.c, config_route.c). */
extern const struct cfg_table cfg_top_table;
extern const struct cfg_table cfg_route_table;
extern const struct cfg_table cfg_routing_table;
extern const char *const cfg_role_values[];
extern const char *const cfg_team_role_values[];

/* ---- the load context ---- */

struct cfg_msg {
	int line;   /* 0 = no line */
	size_t seq; /* insertion order, keeps the sort stable */
	char *text; /* "FILE:LINE: path: problem" */
};

struct cfg_msgs {
	struct cfg_msg *v;
	size_t n, cap;
};

/* What a position entry describes (several things can share an address:
 * a section and its first field, a list element and its first field). */
enum cfg_pos_kind {
	POS_FIELD = 0, /* a key written in the file */
	POS_NODE = 1,  /* a section or a list entry */
	POS_ITEM = 2,  /* an entry of a list of strings */
	POS_BAD = 3,   /* a key whose value was refused (already reported) */
};

struct cfg_pos {
	const void *addr; /* NULL = empty slot */
	int kind;
	int line;
	char *path; /* "roles.mappings[0].role" */
};

/* One secret found in the struct, with what the loader learnt about it. */
enum cfg_secret_state {
	SECRET_UNSET = 0, /* neither NAME_env nor NAME_file has a value */
	SECRET_RESOLVED,  /* *resolved holds the value */
	SECRET_FAILED,	  /* written and unresolvable: already reported */
	SECRET_DEFERRED,  /* a default name that did not resolve: reported only if required */
};

struct cfg_secret {
	char **resolved;
	char **env;    /* NULL when the secret has no NAME_env key */
	char **file;   /* NULL when the secret has no NAME_file key */
	char *path;    /* "okta.api_token" (without suffix) */
	char *problem; /* SECRET_DEFERRED: why it did not resolve */
	int line;      /* line of the key naming it; 0 = default */
	enum cfg_secret_state state;
};

struct cfg_ctx {
	const char *file; /* display name */
	unsigned flags;	  /* CONFIG_* */
	struct config *c;
	struct cfg_msgs errs, warns;
	size_t seq;
	struct cfg_pos *pos; /* open-addressing hash of positions */
	size_t npos, poscap;
	struct cfg_secret *secrets;
	size_t nsecrets, secretcap;
	size_t visits; /* YAML nodes visited (bounds alias expansion) */
	int route_depth;
	bool oom;
	bool too_many;
};

/* Record an error or a warning: "FILE:LINE: path: problem" (line 0 leaves
 * out LINE, NULL or "" path leaves out the path). */
void cfg_error(struct cfg_ctx *x, int line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg_warn(struct cfg_ctx *x, int line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Positions recorded while parsing: 0 / NULL when not written in the file. */
int cfg_line(const struct cfg_ctx *x, const void *addr, int kind);
const char *cfg_path(const struct cfg_ctx *x, const void *addr, int kind);
/* Record a position (path is copied). */
void cfg_pos_add(struct cfg_ctx *x, const void *addr, int kind, int line, const char *path);

/* Require the secret whose resolved field is *resolved: report an error at
 * line (the key that enables the feature) unless it resolved; `why` ends
 * the sentence "required when ...". */
void cfg_require_secret(struct cfg_ctx *x, char **resolved, int line, const char *why);
/* The secret entry of a resolved field, or NULL. */
const struct cfg_secret *cfg_secret_of(const struct cfg_ctx *x, char *const *resolved);

/* Resolve every secret of the struct at base (config_secrets.c). */
void cfg_resolve_secrets(struct cfg_ctx *x, const struct cfg_table *t, void *base, const char *path);

/* Steps run after the YAML walk (config_schema.c, config_route.c). */
void cfg_validate(struct cfg_ctx *x);
void cfg_routing_finish(struct cfg_ctx *x);

/* ---- helpers shared by the three files ---- */

/* Field access. */
#define CFG_AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))
#define CFG_CAT(base, off, type) ((const type *)(const void *)((const char *)(base) + (off)))

/* The index of key in t, or -1. */
int cfg_row_index(const struct cfg_table *t, const char *key);

/* Parsers of the scalar types (0 ok, -1 with *why a static message). */
int cfg_parse_duration(const char *s, int64_t *out);
int cfg_parse_size(const char *s, size_t *out);
int cfg_parse_int(const char *s, int64_t *out);
int cfg_parse_bool(const char *s, bool *out);
/* -1 malformed, -2 a percentage outside 0..100. */
int cfg_parse_pct(const char *s, struct config_pct *out);
/* Index of s in a NULL-terminated list, or -1. */
int cfg_value_index(const char *const *values, const char *s);
/* Write a duration ("15m", "1h30m", "0s") or a size ("1MiB", "1000") into out (>= 32 bytes). */
void cfg_fmt_duration(int64_t ms, char *out, size_t outlen);
void cfg_fmt_size(uint64_t bytes, char *out, size_t outlen);

/* Checks used by the parser and the validation; 0 ok, else -1 with *why. */
int cfg_check_url(const char *s, bool upstream, const char **why);
int cfg_check_hostport(const char *s, const char **why);
int cfg_check_email(const char *s, const char **why);
int cfg_check_slug(const char *s, size_t maxlen, const char **why);
bool cfg_host_is_loopback(const char *host);

/* A copy of a PostgreSQL connection string (URL or key=value) with every
 * password replaced by "<redacted>"; *had says whether there was one. NULL
 * when out of memory. */
char *cfg_mask_dsn(const char *dsn, bool *had);

/* String lists. */
void cfg_strlist_free(struct config_strlist *l);
int cfg_strlist_copy(struct config_strlist *dst, const struct config_strlist *src);
bool cfg_strlist_has(const struct config_strlist *l, const char *s);

/* Free one table instance's contents (not base itself). */
void cfg_free_fields(const struct cfg_table *t, void *base);
/* Apply the defaults of t to a zeroed base; -1 when out of memory. */
int cfg_apply_defaults(struct cfg_ctx *x, const struct cfg_table *t, void *base);
/* Deep-copy the field of row r from src to dst (dst's old value freed). */
int cfg_copy_field(const struct cfg_row *r, void *dst, const void *src);

/* "parent.key", or "key" when parent is "" (new string, NULL when out of memory). */
char *cfg_child_path(const char *parent, const char *key);

/* printf into a new string (NULL when out of memory). */
char *cfg_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
