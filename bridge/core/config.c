/*
 * config.c: the configuration loader (see config.h).
 *
 * The file is read into a bounded buffer, loaded with libyaml's document
 * API (which keeps every node's line), and walked against the tables of
 * config_schema.c: each mapping key is looked up in its table row list and
 * its value parsed by the row's type straight into the struct field. Every
 * problem is collected with its line, never just the first; positions of
 * the keys that were written are remembered so the later steps (secrets,
 * route inheritance, cross-field validation) can point at the right line.
 *
 * Order of work: defaults -> YAML walk -> secrets -> routing -> validation.
 */
#include "config_int.h"

#include "buf.h"
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* YAML nodes visited at most: aliases can make a small file expand. */
#define CFG_MAX_VISITS 1000000u
/* Longest message text kept (values are also truncated where quoted). */
#define CFG_MAX_MSG 600

/* ---- messages ---- */

static void msg_addv(struct cfg_ctx *x, struct cfg_msgs *m, int line, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void msg_addv(struct cfg_ctx *x, struct cfg_msgs *m, int line, const char *path, const char *fmt, va_list ap)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = line > 0 ? buf_printf(&b, "%s:%d: ", x->file, line) : buf_printf(&b, "%s: ", x->file);
	if (!rc && path && *path)
		rc = buf_printf(&b, "%s: ", path);
	if (!rc)
		rc = buf_vprintf(&b, fmt, ap);
	if (rc || (m->n == m->cap && m->cap > SIZE_MAX / 2 / sizeof *m->v)) {
		buf_reset(&b);
		x->oom = true;
		return;
	}
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		struct cfg_msg *v = realloc(m->v, ncap * sizeof *v);
		if (!v) {
			buf_reset(&b);
			x->oom = true;
			return;
		}
		m->v = v;
		m->cap = ncap;
	}
	char *text = buf_take(&b);
	if (!text) {
		x->oom = true;
		return;
	}
	/* Messages go to a terminal: no control characters from the file. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (strlen(text) > CFG_MAX_MSG)
		memcpy(text + CFG_MAX_MSG - 3, "...", 4);
	m->v[m->n++] = (struct cfg_msg){.line = line, .seq = x->seq++, .text = text};
}

void cfg_error(struct cfg_ctx *x, int line, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg_addv(x, &x->errs, line, path, fmt, ap);
	va_end(ap);
}

void cfg_warn(struct cfg_ctx *x, int line, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg_addv(x, &x->warns, line, path, fmt, ap);
	va_end(ap);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct cfg_msg *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int strv_push(char ***v, size_t *n, char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return -1;
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

/* Sort m by line and move its texts to (*v, *n). */
static int msgs_move(struct cfg_msgs *m, char ***v, size_t *n)
{
	int rc = 0;
	if (m->n)
		qsort(m->v, m->n, sizeof *m->v, msg_cmp);
	for (size_t i = 0; i < m->n; i++) {
		if (!rc && !strv_push(v, n, m->v[i].text))
			continue;
		rc = -1;
		free(m->v[i].text);
	}
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
	return rc;
}

void config_errors_free(struct config_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	for (size_t i = 0; i < e->nwarnings; i++)
		free(e->warnings[i]);
	free(e->msgs);
	free(e->warnings);
	e->msgs = e->warnings = NULL;
	e->n = e->nwarnings = 0;
}

/* ---- positions ---- */

static size_t pos_hash(const void *addr, int kind)
{
	uint64_t h = (uint64_t)(uintptr_t)addr * 0x9E3779B97F4A7C15ull;
	return (size_t)((h >> 17) ^ (uint64_t)kind);
}

static struct cfg_pos *pos_find(const struct cfg_ctx *x, const void *addr, int kind)
{
	if (!x->poscap)
		return NULL;
	for (size_t i = pos_hash(addr, kind) & (x->poscap - 1);; i = (i + 1) & (x->poscap - 1)) {
		struct cfg_pos *p = &x->pos[i];
		if (!p->addr)
			return NULL;
		if (p->addr == addr && p->kind == kind)
			return p;
	}
}

void cfg_pos_add(struct cfg_ctx *x, const void *addr, int kind, int line, const char *path)
{
	if (x->npos + 1 > x->poscap / 2) {
		size_t ncap = x->poscap ? x->poscap * 2 : 256;
		struct cfg_pos *np = calloc(ncap, sizeof *np);
		if (!np) {
			x->oom = true;
			return;
		}
		for (size_t i = 0; i < x->poscap; i++) {
			struct cfg_pos *o = &x->pos[i];
			if (!o->addr)
				continue;
			size_t k = pos_hash(o->addr, o->kind) & (ncap - 1);
			while (np[k].addr)
				k = (k + 1) & (ncap - 1);
			np[k] = *o;
		}
		free(x->pos);
		x->pos = np;
		x->poscap = ncap;
	}
	char *p = strdup(path ? path : "");
	if (!p) {
		x->oom = true;
		return;
	}
	struct cfg_pos *e = pos_find(x, addr, kind);
	if (e) {
		free(e->path);
	} else {
		size_t k = pos_hash(addr, kind) & (x->poscap - 1);
		while (x->pos[k].addr)
			k = (k + 1) & (x->poscap - 1);
		e = &x->pos[k];
		x->npos++;
	}
	*e = (struct cfg_pos){.addr = addr, .kind = kind, .line = line, .path = p};
}

int cfg_line(const struct cfg_ctx *x, const void *addr, int kind)
{
	const struct cfg_pos *p = pos_find(x, addr, kind);
	return p ? p->line : 0;
}

const char *cfg_path(const struct cfg_ctx *x, const void *addr, int kind)
{
	const struct cfg_pos *p = pos_find(x, addr, kind);
	return p ? p->path : NULL;
}

/* ---- the YAML walk ---- */

static int node_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

static bool scalar_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* What a row expects, for "expected X, got Y". */
static const char *expect_text(const struct cfg_row *r)
{
	switch (r->type) {
	case CT_BOOL:
		return "true or false";
	case CT_INT:
		return "an integer";
	case CT_NUMBER:
		return "a number";
	case CT_SIZE:
		return "a size like \"512KiB\" or \"1MiB\" (units B, KB, MB, GB, KiB, MiB, GiB)";
	case CT_DURATION:
		return "a duration like \"30s\" or \"15m\" (units ms, s, m, h, d, w)";
	case CT_PCT:
		return "a count or a percentage like \"5%\"";
	case CT_STRLIST:
		return "a list of strings";
	case CT_SECTION:
		return "a mapping";
	case CT_LIST:
		return "a list of mappings";
	case CT_ROUTES:
		return "a list of routes";
	case CT_SECRET_ENV:
		return "the name of an environment variable";
	case CT_SECRET_FILE:
		return "a file path";
	default:
		return "a string";
	}
}

static const char *const *row_values(const struct cfg_row *r)
{
	return r->type == CT_ROLE ? cfg_role_values : r->type == CT_TEAM_ROLE ? cfg_team_role_values : r->values;
}

/* "a, b, c" into a new string. */
static char *values_list(const char *const *v)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; v && v[i]; i++)
		if (buf_printf(&b, "%s%s", i ? ", " : "", v[i])) {
			buf_reset(&b);
			return NULL;
		}
	return buf_take(&b);
}

static void range_error(struct cfg_ctx *x, int line, const char *path, const struct cfg_row *r, const char *got)
{
	char lo[64], hi[64];
	if (r->type == CT_DURATION) {
		cfg_fmt_duration(r->min, lo, sizeof lo);
		cfg_fmt_duration(r->max, hi, sizeof hi);
	} else if (r->type == CT_SIZE) {
		cfg_fmt_size((uint64_t)r->min, lo, sizeof lo);
		cfg_fmt_size((uint64_t)r->max, hi, sizeof hi);
	} else {
		snprintf(lo, sizeof lo, "%lld", (long long)r->min);
		snprintf(hi, sizeof hi, "%lld", (long long)r->max);
	}
	if (r->max == INT64_MAX)
		cfg_error(x, line, path, "must be at least %s, got %.80s", lo, got);
	else
		cfg_error(x, line, path, "must be between %s and %s, got %.80s", lo, hi, got);
}

/* Checks of one string value by the row's flags; 0 ok. */
static int check_string(struct cfg_ctx *x, const struct cfg_row *r, const char *s, int line, const char *path)
{
	const char *why = NULL;
	if (!*s) {
		if (r->flags & (CF_NONEMPTY | CF_REQUIRED)) {
			cfg_error(x, line, path, "must not be empty");
			return -1;
		}
		return 0;
	}
	if ((r->flags & (CF_URL | CF_UPSTREAM)) && cfg_check_url(s, (r->flags & CF_UPSTREAM) != 0, &why))
		goto bad;
	if ((r->flags & CF_HOSTPORT) && cfg_check_hostport(s, &why))
		goto bad;
	if ((r->flags & CF_EMAIL) && cfg_check_email(s, &why))
		goto bad;
	if ((r->flags & CF_SLUG) && cfg_check_slug(s, 50, &why))
		goto bad;
	if ((r->flags & CF_ABSPATH) && s[0] != '/') {
		cfg_error(x, line, path, "must start with \"/\", got \"%.80s\"", s);
		return -1;
	}
	if (r->type == CT_SECRET_ENV) {
		bool ok = isalpha((unsigned char)s[0]) || s[0] == '_';
		for (const char *p = s; ok && *p; p++)
			ok = isalnum((unsigned char)*p) || *p == '_';
		if (!ok) {
			cfg_error(x, line, path, "\"%.80s\" is not a valid environment variable name", s);
			return -1;
		}
	}
	if (r->values && cfg_value_index(r->values, s) < 0) {
		char *vals = values_list(r->values);
		cfg_error(x, line, path, "must be one of %s; got \"%.80s\"", vals ? vals : "?", s);
		free(vals);
		return -1;
	}
	return 0;
bad:
	cfg_error(x, line, path, "\"%.120s\" %s", s, why);
	return -1;
}

static void parse_mapping(struct cfg_ctx *x, yaml_document_t *doc, const struct cfg_table *t, void *base,
			  yaml_node_t *node, const char *path, int owner_line);

static void parse_strlist(struct cfg_ctx *x, yaml_document_t *doc, const struct cfg_row *r, struct config_strlist *l,
			  yaml_node_t *v, const char *path, int line)
{
	cfg_strlist_free(l); /* what is written replaces the default list */
	if (scalar_is_null(v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		cfg_error(x, line, path, "expected a list of strings like [\"a\", \"b\"], got %s", node_kind(v));
		return;
	}
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!n)
		return;
	l->v = calloc(n, sizeof *l->v);
	if (!l->v) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(doc, v->data.sequence.items.start[i]);
		if (!it || ++x->visits > CFG_MAX_VISITS)
			break;
		char *ipath = cfg_strdupf("%s[%zu]", path, i);
		int iline = node_line(it);
		if (!ipath) {
			x->oom = true;
			return;
		}
		const char *s = (const char *)it->data.scalar.value;
		if (it->type != YAML_SCALAR_NODE || scalar_is_null(it)) {
			cfg_error(x, iline, ipath, "expected a string, got %s",
				  it->type == YAML_SCALAR_NODE ? "nothing (null)" : node_kind(it));
		} else if (strlen(s) != it->data.scalar.length) {
			cfg_error(x, iline, ipath, "contains a NUL character");
		} else if (!check_string(x, r, s, iline, ipath)) {
			if (!*s)
				cfg_error(x, iline, ipath, "must not be empty");
			else if (!(l->v[l->n] = strdup(s)))
				x->oom = true;
			else
				cfg_pos_add(x, &l->v[l->n++], POS_ITEM, iline, ipath);
		}
		free(ipath);
	}
	if (!l->n) {
		free(l->v);
		l->v = NULL;
	}
}

static void parse_list(struct cfg_ctx *x, yaml_document_t *doc, const struct cfg_row *r, void *base, yaml_node_t *v,
		       const char *path, int line)
{
	char **arr = CFG_AT(base, r->off, char *);
	size_t *count = CFG_AT(base, r->aux, size_t);
	if (scalar_is_null(v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		cfg_error(x, line, path, "expected %s, got %s", expect_text(r), node_kind(v));
		return;
	}
	if (r->type == CT_ROUTES && x->route_depth >= CONFIG_MAX_ROUTE_DEPTH) {
		cfg_error(x, line, path, "routes are nested deeper than %d levels", CONFIG_MAX_ROUTE_DEPTH);
		return;
	}
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!n)
		return;
	*arr = calloc(n, r->sub->size);
	if (!*arr) {
		x->oom = true;
		return;
	}
	*count = n;
	x->route_depth += r->type == CT_ROUTES;
	for (size_t i = 0; i < n; i++) {
		void *elem = *arr + i * r->sub->size;
		if (cfg_apply_defaults(x, r->sub, elem))
			break;
		yaml_node_t *it = yaml_document_get_node(doc, v->data.sequence.items.start[i]);
		char *ipath = cfg_strdupf("%s[%zu]", path, i);
		if (!it || !ipath) {
			free(ipath);
			x->oom |= !ipath;
			break;
		}
		int iline = node_line(it);
		cfg_pos_add(x, elem, POS_NODE, iline, ipath);
		if (it->type != YAML_MAPPING_NODE) {
			struct buf keys;
			buf_init(&keys, 0);
			for (size_t k = 0; k < r->sub->nrows && k < 4; k++)
				if (buf_printf(&keys, "%s%s", k ? ", " : "", r->sub->rows[k].key))
					x->oom = true;
			cfg_error(x, iline, ipath, "expected a mapping (keys %s%s), got %s", buf_str(&keys),
				  r->sub->nrows > 4 ? ", ..." : "", node_kind(it));
			buf_reset(&keys);
		} else {
			parse_mapping(x, doc, r->sub, elem, it, ipath, iline);
		}
		free(ipath);
	}
	x->route_depth -= r->type == CT_ROUTES;
}

/* Parse value node v of row r into base; line is the line of the key. */
static void parse_value(struct cfg_ctx *x, yaml_document_t *doc, const struct cfg_row *r, void *base, yaml_node_t *v,
			const char *path, int line)
{
	void *field = CFG_AT(base, r->off, char);
	cfg_pos_add(x, field, r->type == CT_SECTION ? POS_NODE : POS_FIELD, line, path);

	switch (r->type) {
	case CT_SECTION:
		/* "server:" with everything commented out keeps the defaults; an
		 * optional block (CF_PRESENCE) written empty stays absent. */
		if (scalar_is_null(v))
			return;
		if (v->type != YAML_MAPPING_NODE) {
			cfg_error(x, line, path, "expected a mapping, got %s", node_kind(v));
			return;
		}
		if (r->flags & CF_PRESENCE)
			*CFG_AT(field, r->aux, bool) = true;
		parse_mapping(x, doc, r->sub, field, v, path, line);
		return;
	case CT_LIST:
	case CT_ROUTES:
		parse_list(x, doc, r, base, v, path, line);
		return;
	case CT_STRLIST:
		parse_strlist(x, doc, r, field, v, path, line);
		return;
	default:
		break;
	}

	/* Scalars from here on. */
	if (v->type != YAML_SCALAR_NODE) {
		if (r->type == CT_ROLE || r->type == CT_TEAM_ROLE || r->type == CT_ENUM || r->type == CT_STRENUM) {
			char *vals = values_list(row_values(r));
			cfg_error(x, line, path, "expected one of %s, got %s", vals ? vals : "?", node_kind(v));
			free(vals);
		} else {
			cfg_error(x, line, path, "expected %s, got %s", expect_text(r), node_kind(v));
		}
		return;
	}
	const char *s = (const char *)v->data.scalar.value;
	if (strlen(s) != v->data.scalar.length) {
		cfg_error(x, line, path, "contains a NUL character");
		return;
	}
	bool null = scalar_is_null(v);
	if (null && r->type != CT_STRING && r->type != CT_SECRET_ENV && r->type != CT_SECRET_FILE) {
		cfg_error(x, line, path, "expected %s, got nothing (null)", expect_text(r));
		return;
	}
	if (null)
		s = "";

	switch (r->type) {
	case CT_STRING:
	case CT_STRENUM:
	case CT_SECRET_ENV:
	case CT_SECRET_FILE: {
		if (check_string(x, r, s, line, path)) {
			/* Keeps the default; later checks know it was refused, not missing. */
			cfg_pos_add(x, field, POS_BAD, line, path);
			return;
		}
		char *d = strdup(s);
		if (!d) {
			x->oom = true;
			return;
		}
		free(*(char **)field);
		*(char **)field = d;
		return;
	}
	case CT_BOOL:
		if (cfg_parse_bool(s, (bool *)field))
			cfg_error(x, line, path, "expected true or false, got \"%.80s\"", s);
		return;
	case CT_INT: {
		int64_t iv;
		if (cfg_parse_int(s, &iv) || iv < INT32_MIN || iv > INT32_MAX)
			cfg_error(x, line, path, "expected an integer, got \"%.80s\"", s);
		else if (r->bounded && (iv < r->min || iv > r->max))
			range_error(x, line, path, r, s);
		else
			*(int *)field = (int)iv;
		return;
	}
	case CT_NUMBER: {
		char *end = NULL;
		errno = 0;
		double d = strtod(s, &end);
		if (errno || !*s || *end || d != d || d > 1e300 || d < -1e300)
			cfg_error(x, line, path, "expected a number, got \"%.80s\"", s);
		else if (r->bounded && (d < (double)r->min || d > (double)r->max))
			range_error(x, line, path, r, s);
		else
			*(double *)field = d;
		return;
	}
	case CT_SIZE: {
		size_t sz;
		char shown[96];
		snprintf(shown, sizeof shown, "\"%.80s\"", s);
		if (cfg_parse_size(s, &sz))
			cfg_error(x, line, path, "expected %s, got %s", expect_text(r), shown);
		else if (r->bounded && ((uint64_t)sz < (uint64_t)r->min || (uint64_t)sz > (uint64_t)r->max))
			range_error(x, line, path, r, shown);
		else
			*(size_t *)field = sz;
		return;
	}
	case CT_DURATION: {
		int64_t ms;
		char shown[96];
		snprintf(shown, sizeof shown, "\"%.80s\"", s);
		if (cfg_parse_duration(s, &ms))
			cfg_error(x, line, path, "expected %s, got %s", expect_text(r), shown);
		else if (r->bounded && (ms < r->min || ms > r->max))
			range_error(x, line, path, r, shown);
		else
			*(int64_t *)field = ms;
		return;
	}
	case CT_PCT: {
		int rc = cfg_parse_pct(s, (struct config_pct *)field);
		if (rc == -2)
			cfg_error(x, line, path, "a percentage must be between 0%% and 100%%, got \"%.80s\"", s);
		else if (rc)
			cfg_error(x, line, path, "expected a count or a percentage like \"5%%\", got \"%.80s\"", s);
		return;
	}
	case CT_ENUM:
	case CT_ROLE:
	case CT_TEAM_ROLE: {
		int k = cfg_value_index(row_values(r), s);
		if (k < 0) {
			char *vals = values_list(row_values(r));
			cfg_error(x, line, path, "must be one of %s; got \"%.80s\"", vals ? vals : "?", s);
			free(vals);
		} else {
			*(int *)field = k;
		}
		return;
	}
	default:
		return;
	}
}

/* Optimal string alignment distance (Levenshtein plus transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 64 || m > 64)
		return SIZE_MAX;
	size_t *d = malloc((n + 1) * (m + 1) * sizeof *d);
	if (!d)
		return SIZE_MAX;
#define D(i, j) d[(i) * (m + 1) + (j)]
	for (size_t i = 0; i <= n; i++)
		D(i, 0) = i;
	for (size_t j = 0; j <= m; j++)
		D(0, j) = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = D(i - 1, j) + 1;
			if (D(i, j - 1) + 1 < best)
				best = D(i, j - 1) + 1;
			if (D(i - 1, j - 1) + cost < best)
				best = D(i - 1, j - 1) + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    D(i - 2, j - 2) + 1 < best)
				best = D(i - 2, j - 2) + 1;
			D(i, j) = best;
		}
	size_t r = D(n, m);
#undef D
	free(d);
	return r;
}

static void unknown_key(struct cfg_ctx *x, const struct cfg_table *t, const char *key, const char *path, int line)
{
	/* A secret written inline: say how secrets are given instead. */
	size_t kl = strlen(key);
	bool has_env = false, has_file = false;
	for (size_t i = 0; i < t->nrows; i++) {
		const struct cfg_row *r = &t->rows[i];
		if ((r->type != CT_SECRET_ENV && r->type != CT_SECRET_FILE) || strncmp(r->key, key, kl))
			continue;
		has_env |= !strcmp(r->key + kl, "_env");
		has_file |= !strcmp(r->key + kl, "_file");
	}
	if (has_env) {
		cfg_error(x, line, path,
			  "unknown key \"%.80s\": secrets are never written in the file; use %s_env (an "
			  "environment variable) or %s_file (a file)",
			  key, key, key);
		return;
	}
	if (has_file) {
		cfg_error(x, line, path, "unknown key \"%.80s\": secrets are never written in the file; use %s_file",
			  key, key);
		return;
	}
	size_t best = SIZE_MAX;
	const char *sugg = NULL;
	for (size_t i = 0; i < t->nrows; i++) {
		size_t d = edit_distance(key, t->rows[i].key);
		if (d < best) {
			best = d;
			sugg = t->rows[i].key;
		}
	}
	size_t thr = kl <= 4 ? 1 : kl <= 10 ? 2 : 3;
	if (sugg && best <= thr)
		cfg_error(x, line, path, "unknown key \"%.80s\" (did you mean \"%s\"?)", key, sugg);
	else
		cfg_error(x, line, path, "unknown key \"%.80s\"", key);
}

static void parse_mapping(struct cfg_ctx *x, yaml_document_t *doc, const struct cfg_table *t, void *base,
			  yaml_node_t *node, const char *path, int owner_line)
{
	if (++x->visits > CFG_MAX_VISITS) {
		if (!x->too_many)
			cfg_error(x, node_line(node), path,
				  "the document is too large (too many nodes once "
				  "aliases are expanded)");
		x->too_many = true;
		return;
	}
	if (node->type != YAML_MAPPING_NODE) {
		cfg_error(x, node_line(node), path, "expected a mapping, got %s", node_kind(node));
		return;
	}
	int *seen = calloc(t->nrows ? t->nrows : 1, sizeof *seen);
	if (!seen) {
		x->oom = true;
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (!k || !v)
			continue;
		int kline = node_line(k);
		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(x, kline, path, "keys must be plain names, got %s", node_kind(k));
			continue;
		}
		const char *key = (const char *)k->data.scalar.value;
		int idx = cfg_row_index(t, key);
		if (idx < 0) {
			unknown_key(x, t, key, path, kline);
			continue;
		}
		char *cpath = cfg_child_path(path, key);
		if (!cpath) {
			x->oom = true;
			break;
		}
		if (seen[idx])
			cfg_error(x, kline, cpath, "duplicate key (first set on line %d)", seen[idx]);
		else {
			seen[idx] = kline;
			parse_value(x, doc, &t->rows[idx], base, v, cpath, kline);
		}
		free(cpath);
		if (x->too_many)
			break;
	}
	for (size_t i = 0; i < t->nrows; i++)
		if ((t->rows[i].flags & CF_REQUIRED) && !seen[i])
			cfg_error(x, owner_line, path, "missing required key \"%s\"", t->rows[i].key);
	free(seen);
}

/* ---- loading ---- */

static void ctx_free(struct cfg_ctx *x)
{
	for (size_t i = 0; i < x->poscap; i++)
		free(x->pos[i].path);
	free(x->pos);
	for (size_t i = 0; i < x->nsecrets; i++) {
		free(x->secrets[i].path);
		free(x->secrets[i].problem);
	}
	free(x->secrets);
	for (size_t i = 0; i < x->errs.n; i++)
		free(x->errs.v[i].text);
	for (size_t i = 0; i < x->warns.n; i++)
		free(x->warns.v[i].text);
	free(x->errs.v);
	free(x->warns.v);
}

static void yaml_syntax_error(struct cfg_ctx *x, const yaml_parser_t *p)
{
	int line = (int)p->problem_mark.line + 1;
	if (p->error == YAML_MEMORY_ERROR) {
		x->oom = true;
		return;
	}
	if (p->context)
		cfg_error(x, line, NULL, "YAML syntax error: %s (%s on line %d)", p->problem ? p->problem : "?",
			  p->context, (int)p->context_mark.line + 1);
	else
		cfg_error(x, line, NULL, "YAML syntax error: %s", p->problem ? p->problem : "?");
}

static int load_text(const char *text, size_t len, const char *name, unsigned flags, struct config **out,
		     struct config_errors *errs)
{
	struct cfg_ctx x = {.file = name, .flags = flags};
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_ok = false, have_doc = false, syntax_ok = false;
	*out = NULL;

	struct config *c = calloc(1, sizeof *c);
	x.c = c;
	if (!c || !(c->path = strdup(name)) || cfg_apply_defaults(&x, &cfg_top_table, c)) {
		x.oom = true;
		goto done;
	}
	if (!yaml_parser_initialize(&parser)) {
		x.oom = true;
		goto done;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_syntax_error(&x, &parser);
		goto done;
	}
	have_doc = true;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && !scalar_is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			cfg_error(&x, node_line(root), NULL,
				  "the file must be a mapping of keys (listen:, okta:, sentry:, ...), got %s",
				  node_kind(root));
		else
			parse_mapping(&x, &doc, &cfg_top_table, c, root, "", 1);
	}
	yaml_document_t doc2;
	if (!yaml_parser_load(&parser, &doc2)) {
		yaml_syntax_error(&x, &parser);
		goto done;
	}
	yaml_node_t *root2 = yaml_document_get_root_node(&doc2);
	if (root2)
		cfg_error(&x, node_line(root2), NULL, "only one YAML document is allowed (found a second after ---)");
	yaml_document_delete(&doc2);
	syntax_ok = true;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	/* Secrets and validation run even after other errors, so one run shows
	 * every problem; a YAML syntax error leaves nothing to check. */
	if (syntax_ok && !x.oom) {
		cfg_resolve_secrets(&x, &cfg_top_table, c, "");
		cfg_routing_finish(&x);
		cfg_validate(&x);
	}
	int rc = x.errs.n || x.oom ? -1 : 0;
	if (msgs_move(&x.warns, &errs->warnings, &errs->nwarnings) || msgs_move(&x.errs, &errs->msgs, &errs->n))
		x.oom = true;
	if (x.oom) {
		char *m = cfg_strdupf("%s: out of memory while loading the configuration", name);
		if (!m || strv_push(&errs->msgs, &errs->n, m))
			free(m);
		rc = -1;
	}
	ctx_free(&x);
	if (rc)
		config_free(c);
	else
		*out = c;
	return rc;
}

static void errs_add(struct config_errors *errs, char *m)
{
	if (!m)
		m = strdup("out of memory while loading the configuration");
	if (m && strv_push(&errs->msgs, &errs->n, m))
		free(m);
}

int config_load_ex(const char *path, unsigned flags, struct config **out, struct config_errors *errs)
{
	int rc = -1, fd = -1;
	struct buf b;
	buf_init(&b, CONFIG_MAX_FILE_BYTES);
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		errs_add(errs, cfg_strdupf("%s: cannot read the configuration file: %s", path, strerror(errno)));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errs_add(errs, cfg_strdupf("%s: the configuration file is not a regular file", path));
		goto out;
	}
	if ((uint64_t)st.st_size > CONFIG_MAX_FILE_BYTES)
		goto too_big;
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errs_add(errs,
				 cfg_strdupf("%s: cannot read the configuration file: %s", path, strerror(errno)));
			goto out;
		}
		if (n == 0)
			break;
		int brc = buf_append(&b, chunk, (size_t)n);
		if (brc == BUF_TOO_BIG)
			goto too_big;
		if (brc) {
			errs_add(errs, NULL);
			goto out;
		}
	}
	rc = load_text(buf_str(&b), b.len, path, flags, out, errs);
	goto out;
too_big:
	errs_add(errs, cfg_strdupf("%s: the configuration file is larger than %u bytes", path, CONFIG_MAX_FILE_BYTES));
out:
	if (fd >= 0)
		close(fd);
	buf_reset(&b);
	return rc;
}

int config_load(const char *path, struct config **out, struct config_errors *errs)
{
	return config_load_ex(path, 0, out, errs);
}

int config_from_string_ex(const char *yaml, const char *display_name, unsigned flags, struct config **out,
			  struct config_errors *errs)
{
	const char *name = display_name ? display_name : "<string>";
	size_t len = yaml ? strlen(yaml) : 0;
	*out = NULL;
	if (len > CONFIG_MAX_FILE_BYTES) {
		errs_add(errs,
			 cfg_strdupf("%s: the configuration is larger than %u bytes", name, CONFIG_MAX_FILE_BYTES));
		return -1;
	}
	return load_text(yaml ? yaml : "", len, name, flags, out, errs);
}

int config_from_string(const char *yaml, const char *display_name, struct config **out, struct config_errors *errs)
{
	return config_from_string_ex(yaml, display_name, 0, out, errs);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	cfg_free_fields(&cfg_top_table, c);
	free(c->path);
	free(c);
}
