/*
 * config_dump.c: the configuration as others see it: the redacted YAML
 * printed by `check-config`, the key list behind docs/config.md and the
 * example file, and the registration of secrets with the logger.
 *
 * All three walk the same tables as the loader, so a key added to a table
 * appears everywhere at once. The dump is valid YAML that loads back into
 * the same configuration (given the same environment): secrets appear only
 * as the names of their variables or files.
 */
#include "config_int.h"

#include "buf.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dump ---- */

/* A YAML double-quoted scalar. */
static int put_quoted(struct buf *b, const char *s)
{
	int rc = buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if (*p == '"' || *p == '\\')
			rc = buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			rc = buf_printf(b, "\\x%02x", *p);
		else
			rc = buf_append(b, p, 1);
	}
	return rc ? rc : buf_puts(b, "\"");
}

static int put_strlist(struct buf *b, const struct config_strlist *l)
{
	int rc = buf_puts(b, "[");
	for (size_t i = 0; i < l->n && !rc; i++) {
		if (i)
			rc = buf_puts(b, ", ");
		if (!rc)
			rc = put_quoted(b, l->v[i]);
	}
	return rc ? rc : buf_puts(b, "]");
}

static int put_indent(struct buf *b, int n)
{
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = buf_puts(b, " ");
	return rc;
}

static const char *const *values_of(const struct cfg_row *r)
{
	return r->type == CT_ROLE ? cfg_role_values : r->type == CT_TEAM_ROLE ? cfg_team_role_values : r->values;
}

static int dump_table(struct buf *b, const struct cfg_table *t, const void *base, int indent, bool list_item);

/* Secrets: the name of the variable or file, and where the value came from. */
static int put_secret(struct buf *b, const struct cfg_row *r, const void *base)
{
	const char *name = *CFG_CAT(base, r->off, char *);
	const char *val = *CFG_CAT(base, r->aux, char *);
	int rc = put_quoted(b, name);
	if (rc || !*name)
		return rc;
	if (val)
		return buf_printf(b, "  # <redacted: from %s %s>", r->type == CT_SECRET_ENV ? "env" : "file", name);
	return buf_puts(b, "  # not resolved (not required by what is enabled)");
}

static int dump_value(struct buf *b, const struct cfg_row *r, const void *base, int indent)
{
	const void *f = CFG_CAT(base, r->off, char);
	char tmp[64];
	switch (r->type) {
	case CT_STRING:
	case CT_STRENUM:
		if (r->flags & CF_MASKPW) {
			bool had;
			char *m = cfg_mask_dsn(*(char *const *)f, &had);
			if (!m)
				return BUF_NOMEM;
			int rc = put_quoted(b, m);
			free(m);
			return rc;
		}
		return put_quoted(b, *(char *const *)f);
	case CT_SECRET_ENV:
	case CT_SECRET_FILE:
		return put_secret(b, r, base);
	case CT_BOOL:
		return buf_puts(b, *(const bool *)f ? "true" : "false");
	case CT_INT:
		return buf_printf(b, "%d", *(const int *)f);
	case CT_NUMBER:
		return buf_printf(b, "%.15g", *(const double *)f);
	case CT_SIZE:
		cfg_fmt_size((uint64_t) * (const size_t *)f, tmp, sizeof tmp);
		return buf_puts(b, tmp);
	case CT_DURATION:
		cfg_fmt_duration(*(const int64_t *)f, tmp, sizeof tmp);
		return buf_puts(b, tmp);
	case CT_ENUM:
	case CT_ROLE:
	case CT_TEAM_ROLE: {
		int v = *(const int *)f;
		const char *const *vals = values_of(r);
		int n = 0;
		while (vals[n])
			n++;
		return buf_puts(b, v >= 0 && v < n ? vals[v] : "?");
	}
	case CT_STRLIST:
		return put_strlist(b, (const struct config_strlist *)f);
	case CT_PCT: {
		const struct config_pct *p = f;
		if (p->is_percent)
			return buf_printf(b, "\"%.15g%%\"", p->value);
		return buf_printf(b, "%.15g", p->value);
	}
	case CT_SECTION:
		if ((r->flags & CF_PRESENCE) && !*CFG_CAT(f, r->aux, bool))
			return buf_puts(b, " null  # not configured\n");
		return buf_puts(b, "\n") ? BUF_NOMEM : dump_table(b, r->sub, f, indent + 2, false);
	case CT_LIST:
	case CT_ROUTES: {
		const char *arr = *CFG_CAT(base, r->off, char *);
		size_t n = *CFG_CAT(base, r->aux, size_t);
		if (!n)
			return buf_puts(b, " []\n");
		int rc = buf_puts(b, "\n");
		for (size_t i = 0; i < n && !rc; i++)
			rc = dump_table(b, r->sub, arr + i * r->sub->size, indent + 4, true);
		return rc;
	}
	}
	return 0;
}

static int dump_table(struct buf *b, const struct cfg_table *t, const void *base, int indent, bool list_item)
{
	int rc = 0;
	for (size_t i = 0; i < t->nrows && !rc; i++) {
		const struct cfg_row *r = &t->rows[i];
		if (list_item && i == 0) {
			rc = put_indent(b, indent - 2);
			if (!rc)
				rc = buf_puts(b, "- ");
		} else {
			rc = put_indent(b, indent);
		}
		bool block = r->type == CT_SECTION || r->type == CT_LIST || r->type == CT_ROUTES;
		if (!rc)
			rc = buf_printf(b, "%s:%s", r->key, block ? "" : " ");
		if (!rc)
			rc = dump_value(b, r, base, indent);
		if (!rc && !block)
			rc = buf_puts(b, "\n");
	}
	return rc;
}

int config_dump(const struct config *c, struct buf *out)
{
	if (!c || !out)
		return -1;
	int rc = buf_puts(out, "# sentry-bridge: resolved configuration of ");
	if (!rc)
		rc = put_quoted(out, c->path ? c->path : "");
	if (!rc)
		rc = buf_puts(out, " (defaults included; secrets redacted)\n");
	if (!rc)
		rc = dump_table(out, &cfg_top_table, c, 0, false);
	return rc ? -1 : 0;
}

/* ---- secrets for the logger ---- */

static void register_table(const struct cfg_table *t, const void *base, struct logger *lg)
{
	for (size_t i = 0; i < t->nrows; i++) {
		const struct cfg_row *r = &t->rows[i];
		if (r->type == CT_SECTION) {
			register_table(r->sub, CFG_CAT(base, r->off, char), lg);
		} else if (r->type == CT_LIST || r->type == CT_ROUTES) {
			const char *arr = *CFG_CAT(base, r->off, char *);
			size_t n = *CFG_CAT(base, r->aux, size_t);
			for (size_t k = 0; k < n; k++)
				register_table(r->sub, arr + k * r->sub->size, lg);
		} else if (r->type == CT_SECRET_ENV || r->type == CT_SECRET_FILE) {
			/* A pair shares one value: register it at its first row. */
			bool first = true;
			for (size_t k = 0; k < i; k++)
				first &= !((t->rows[k].type == CT_SECRET_ENV || t->rows[k].type == CT_SECRET_FILE) &&
					   t->rows[k].aux == r->aux);
			const char *v = *CFG_CAT(base, r->aux, char *);
			if (first && v)
				logger_add_secret(lg, v);
		}
	}
}

void config_register_secrets(const struct config *c, struct logger *lg)
{
	if (c && lg)
		register_table(&cfg_top_table, c, lg);
}

/* ---- the key list ---- */

static const char *type_name(const struct cfg_row *r)
{
	switch (r->type) {
	case CT_STRING:
		return "string";
	case CT_STRENUM:
		return "enum";
	case CT_BOOL:
		return "bool";
	case CT_INT:
		return "int";
	case CT_NUMBER:
		return "number";
	case CT_SIZE:
		return "size";
	case CT_DURATION:
		return "duration";
	case CT_ENUM:
		return "enum";
	case CT_ROLE:
		return "role";
	case CT_TEAM_ROLE:
		return "team role";
	case CT_STRLIST:
		return "list of strings";
	case CT_PCT:
		return "count or percentage";
	case CT_SECRET_ENV:
		return "secret (environment variable name)";
	case CT_SECRET_FILE:
		return "secret (file path)";
	case CT_SECTION:
		return "mapping";
	case CT_LIST:
		return "list of mappings";
	case CT_ROUTES:
		return "list of routes";
	}
	return "?";
}

struct walk {
	void (*fn)(const struct config_key_info *k, void *arg);
	void *arg;
};

static void walk_table(const struct cfg_table *t, const char *prefix, const struct walk *w)
{
	for (size_t i = 0; i < t->nrows; i++) {
		const struct cfg_row *r = &t->rows[i];
		char *path = cfg_strdupf("%s%s", prefix, r->key);
		if (!path)
			return; /* out of memory: the walk stops, nothing to report it to */
		struct config_key_info k = {
		    .path = path,
		    .type = type_name(r),
		    .def = r->def,
		    .help = r->help,
		    .values = values_of(r),
		    .min = r->bounded ? r->min : 1,
		    .max = r->bounded ? r->max : 0,
		    .required = (r->flags & CF_REQUIRED) != 0,
		    .secret = r->type == CT_SECRET_ENV || r->type == CT_SECRET_FILE,
		    .section_feature = t->feature,
		};
		w->fn(&k, w->arg);
		char *sub = NULL;
		if (r->type == CT_SECTION)
			sub = cfg_strdupf("%s.", path);
		else if (r->type == CT_LIST)
			sub = cfg_strdupf("%s[].", path);
		/* CT_ROUTES: the recursive list is reported once, not expanded. */
		if (sub)
			walk_table(r->sub, sub, w);
		free(sub);
		free(path);
	}
}

void config_for_each_key_info(void (*fn)(const struct config_key_info *k, void *arg), void *arg)
{
	struct walk w = {fn, arg};
	if (fn)
		walk_table(&cfg_top_table, "", &w);
}

struct short_walk {
	void (*fn)(const char *path, const char *help, void *arg);
	void *arg;
};

static void short_fn(const struct config_key_info *k, void *arg)
{
	const struct short_walk *s = arg;
	s->fn(k->path, k->help, s->arg);
}

void config_for_each_key(void (*fn)(const char *path, const char *help, void *arg), void *arg)
{
	struct short_walk s = {fn, arg};
	if (fn)
		config_for_each_key_info(short_fn, &s);
}
