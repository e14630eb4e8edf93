/*
 * config_types.c: the value types of the configuration (durations, sizes,
 * percentages, URLs, slugs, e-mail addresses), string lists, and the
 * table-driven defaults, deep copies and frees of config structs.
 *
 * Pure helpers: no YAML and no I/O here, so the same parsers serve the
 * loader, the defaults written in the tables, and the dump.
 */
#include "config_int.h"

#include "buf.h"
#include "secret.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(sizeof(enum config_role) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_team_role) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_unmanaged) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_jwt_alg) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_non_ascii) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_request_kind) == sizeof(int), "enum fields are stored as int");

char *cfg_strdupf(const char *fmt, ...)
{
	va_list ap, cp;
	va_start(ap, fmt);
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	char *s = NULL;
	if (n >= 0) {
		s = malloc((size_t)n + 1);
		if (s)
			vsnprintf(s, (size_t)n + 1, fmt, ap);
	}
	va_end(ap);
	return s;
}

char *cfg_child_path(const char *parent, const char *key)
{
	return *parent ? cfg_strdupf("%s.%s", parent, key) : strdup(key);
}

int cfg_row_index(const struct cfg_table *t, const char *key)
{
	for (size_t i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].key, key))
			return (int)i;
	return -1;
}

int cfg_value_index(const char *const *values, const char *s)
{
	for (int i = 0; values && values[i]; i++)
		if (!strcmp(values[i], s))
			return i;
	return -1;
}

/* ---- durations ---- */

struct unit {
	const char *name;
	int64_t mult;
};

/* Longest names first so "ms" is not read as "m" followed by junk. */
static const struct unit dur_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
};

int cfg_parse_duration(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	int64_t total = 0;
	int last = (int)(sizeof dur_units / sizeof dur_units[0]);
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -1;
		int64_t v = 0;
		for (; isdigit((unsigned char)*p); p++) {
			int d = *p - '0';
			if (v > (INT64_MAX - d) / 10)
				return -1;
			v = v * 10 + d;
		}
		int u = -1;
		for (int i = 0; i < (int)(sizeof dur_units / sizeof dur_units[0]); i++) {
			size_t n = strlen(dur_units[i].name);
			if (!strncmp(p, dur_units[i].name, n)) {
				u = i;
				break;
			}
		}
		/* Components go from larger to smaller units: "1h30m", not "30m1h". */
		if (u < 0 || u >= last)
			return -1;
		last = u;
		p += strlen(dur_units[u].name);
		if (v > INT64_MAX / dur_units[u].mult || total > INT64_MAX - v * dur_units[u].mult)
			return -1;
		total += v * dur_units[u].mult;
	}
	*out = total;
	return 0;
}

void cfg_fmt_duration(int64_t ms, char *out, size_t outlen)
{
	static const struct unit fmt_units[] = {
	    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	if (ms <= 0) {
		snprintf(out, outlen, "%s", ms == 0 ? "0s" : "-");
		return;
	}
	size_t used = 0;
	out[0] = '\0';
	/* Whole seconds and below read better as one number: 2500ms, not 2s500ms. */
	size_t nunits = sizeof fmt_units / sizeof fmt_units[0];
	if (ms % 1000)
		nunits--;
	for (size_t i = 0; i < sizeof fmt_units / sizeof fmt_units[0] && ms > 0; i++) {
		if (i == nunits - 1 && ms % 1000) {
			snprintf(out + used, outlen - used, "%" PRId64 "ms", ms);
			return;
		}
		int64_t q = ms / fmt_units[i].mult;
		if (!q)
			continue;
		ms -= q * fmt_units[i].mult;
		int n = snprintf(out + used, outlen - used, "%" PRId64 "%s", q, fmt_units[i].name);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}

/* ---- sizes ---- */

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
    {"B", 1},	     {"KiB", 1024ull},	     {"MiB", 1024ull * 1024},	    {"GiB", 1024ull * 1024 * 1024},
    {"KB", 1000ull}, {"MB", 1000ull * 1000}, {"GB", 1000ull * 1000 * 1000},
};

int cfg_parse_size(const char *s, size_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	uint64_t v = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*p == ' ')
		p++;
	uint64_t mult = 1;
	if (*p) {
		size_t i;
		for (i = 0; i < sizeof size_units / sizeof size_units[0]; i++)
			if (!strcmp(p, size_units[i].name))
				break;
		if (i == sizeof size_units / sizeof size_units[0])
			return -1;
		mult = size_units[i].mult;
	} else if (p[-1] == ' ') {
		return -1;
	}
	if (v > UINT64_MAX / mult || v * mult > SIZE_MAX)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

void cfg_fmt_size(uint64_t bytes, char *out, size_t outlen)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} u[] = {{"GiB", 1024ull * 1024 * 1024}, {"MiB", 1024ull * 1024}, {"KiB", 1024ull}};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
		if (bytes && bytes % u[i].mult == 0) {
			snprintf(out, outlen, "%" PRIu64 "%s", bytes / u[i].mult, u[i].name);
			return;
		}
	snprintf(out, outlen, "%" PRIu64, bytes);
}

/* ---- percentages, booleans, integers ---- */

int cfg_parse_pct(const char *s, struct config_pct *out)
{
	size_t n = s ? strlen(s) : 0;
	if (!n)
		return -1;
	if (s[n - 1] == '%') {
		if (n == 1 || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
			return -1;
		char *end = NULL;
		errno = 0;
		double v = strtod(s, &end);
		if (errno || end != s + n - 1 || !isfinite(v))
			return -1;
		if (v < 0 || v > 100)
			return -2;
		out->is_percent = true;
		out->value = v;
		return 0;
	}
	int64_t v;
	if (cfg_parse_int(s, &v) || v < 0)
		return -1;
	out->is_percent = false;
	out->value = (double)v;
	return 0;
}

int cfg_parse_int(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int cfg_parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*out = false;
		return 0;
	}
	return -1;
}

/* ---- URLs, addresses, slugs, e-mail ---- */

bool cfg_host_is_loopback(const char *host)
{
	if (!strcasecmp(host, "localhost"))
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

/* Check "host[:port]" or "[v6][:port]" of length n; host copied into hostbuf. */
static int check_authority(const char *a, size_t n, bool need_port, char *hostbuf, size_t hostlen, const char **why)
{
	const char *port = NULL;
	size_t hlen;
	if (n && a[0] == '[') {
		const char *close = memchr(a, ']', n);
		if (!close) {
			*why = "has an unterminated [IPv6] address";
			return -1;
		}
		hlen = (size_t)(close - a - 1);
		if (hlen == 0 || hlen >= hostlen) {
			*why = "has an invalid [IPv6] address";
			return -1;
		}
		memcpy(hostbuf, a + 1, hlen);
		hostbuf[hlen] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, hostbuf, &a6) != 1) {
			*why = "has an invalid [IPv6] address";
			return -1;
		}
		size_t rest = n - (size_t)(close - a) - 1;
		if (rest) {
			if (close[1] != ':') {
				*why = "has junk after the [IPv6] address";
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(a, ':', n);
		hlen = colon ? (size_t)(colon - a) : n;
		if (colon)
			port = colon + 1;
		if (hlen == 0) {
			*why = "has no host";
			return -1;
		}
		if (hlen >= hostlen) {
			*why = "has a host name that is too long";
			return -1;
		}
		for (size_t i = 0; i < hlen; i++) {
			unsigned char ch = (unsigned char)a[i];
			if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_') {
				*why = ch == ':' ? "has an IPv6 address without [brackets]"
						 : "has an invalid character in the host name";
				return -1;
			}
		}
		memcpy(hostbuf, a, hlen);
		hostbuf[hlen] = '\0';
	}
	if (port) {
		size_t plen = n - (size_t)(port - a);
		unsigned long v = 0;
		if (plen == 0 || plen > 5) {
			*why = "has an invalid port";
			return -1;
		}
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)port[i])) {
				*why = "has an invalid port";
				return -1;
			}
			v = v * 10 + (unsigned long)(port[i] - '0');
		}
		if (v > 65535) {
			*why = "has a port above 65535";
			return -1;
		}
	} else if (need_port) {
		*why = "must be host:port, e.g. \"127.0.0.1:8080\"";
		return -1;
	}
	return 0;
}

int cfg_check_url(const char *s, bool upstream, const char **why)
{
	char host[256];
	bool https;
	const char *p;
	if (!strncasecmp(s, "https://", 8)) {
		https = true;
		p = s + 8;
	} else if (!strncasecmp(s, "http://", 7)) {
		https = false;
		p = s + 7;
	} else {
		*why = "must be an http:// or https:// URL";
		return -1;
	}
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
			*why = "must not contain spaces or control characters";
			return -1;
		}
	size_t n = strcspn(p, "/?#");
	if (memchr(p, '@', n)) {
		*why = "must not contain credentials (user:password@): secrets come from *_env or *_file keys";
		return -1;
	}
	if (check_authority(p, n, false, host, sizeof host, why))
		return -1;
	if (upstream && !https && !cfg_host_is_loopback(host)) {
		*why = "must use https (plain http is allowed only to a loopback host: 127.0.0.1, ::1 or "
		       "localhost)";
		return -1;
	}
	return 0;
}

int cfg_check_hostport(const char *s, const char **why)
{
	char host[256];
	size_t n = strlen(s);
	if (!n) {
		*why = "must be host:port, e.g. \"127.0.0.1:8080\"";
		return -1;
	}
	return check_authority(s, n, true, host, sizeof host, why);
}

int cfg_check_email(const char *s, const char **why)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@')) {
		*why = "is not an e-mail address (name@domain)";
		return -1;
	}
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
			*why = "must not contain spaces or control characters";
			return -1;
		}
	if (strlen(s) > 254) {
		*why = "is longer than 254 characters";
		return -1;
	}
	return 0;
}

int cfg_check_slug(const char *s, size_t maxlen, const char **why)
{
	size_t n = strlen(s);
	bool digits = true;
	if (!n) {
		*why = "must not be empty";
		return -1;
	}
	if (n > maxlen) {
		*why = "is too long for a Sentry slug";
		return -1;
	}
	for (const char *q = s; *q; q++) {
		if (!(islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '-' || *q == '_')) {
			*why = "is not a Sentry slug (lowercase letters, digits, \"-\" and \"_\")";
			return -1;
		}
		if (!isdigit((unsigned char)*q))
			digits = false;
	}
	if (digits) {
		*why = "is not a Sentry slug (it must not be all digits)";
		return -1;
	}
	return 0;
}

/* ---- connection strings ---- */

char *cfg_mask_dsn(const char *dsn, bool *had)
{
	struct buf b;
	buf_init(&b, 0);
	*had = false;
	size_t n = strlen(dsn), i = 0;
	const char *sep = strstr(dsn, "://");
	if (sep && (size_t)(sep - dsn) <= 16) {
		/* URL: scheme://user:password@host/... */
		size_t auth = (size_t)(sep - dsn) + 3;
		size_t alen = strcspn(dsn + auth, "/?#");
		const char *at = NULL;
		for (size_t k = 0; k < alen; k++)
			if (dsn[auth + k] == '@')
				at = dsn + auth + k;
		const char *colon = at ? memchr(dsn + auth, ':', (size_t)(at - dsn) - auth) : NULL;
		if (colon) {
			*had = true;
			if (buf_append(&b, dsn, (size_t)(colon - dsn) + 1) || buf_puts(&b, "<redacted>"))
				goto oom;
			i = (size_t)(at - dsn);
		}
	}
	while (i < n) {
		/* password=... as a key=value pair or a URL query parameter */
		bool boundary = i == 0 || dsn[i - 1] == ' ' || dsn[i - 1] == '?' || dsn[i - 1] == '&';
		if (boundary && !strncmp(dsn + i, "password", 8)) {
			size_t k = i + 8;
			while (dsn[k] == ' ')
				k++;
			if (dsn[k] == '=') {
				k++;
				while (dsn[k] == ' ')
					k++;
				*had = true;
				if (buf_append(&b, dsn + i, k - i) || buf_puts(&b, "<redacted>"))
					goto oom;
				if (dsn[k] == '\'') {
					for (k++; dsn[k] && dsn[k] != '\''; k++)
						if (dsn[k] == '\\' && dsn[k + 1])
							k++;
					if (dsn[k])
						k++;
				} else {
					k += strcspn(dsn + k, " &#");
				}
				i = k;
				continue;
			}
		}
		if (buf_append(&b, dsn + i, 1))
			goto oom;
		i++;
	}
	return buf_take(&b);
oom:
	buf_reset(&b);
	return NULL;
}

/* ---- string lists ---- */

void cfg_strlist_free(struct config_strlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int cfg_strlist_copy(struct config_strlist *dst, const struct config_strlist *src)
{
	dst->v = NULL;
	dst->n = 0;
	if (!src->n)
		return 0;
	dst->v = calloc(src->n, sizeof *dst->v);
	if (!dst->v)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = strdup(src->v[i]);
		if (!dst->v[i]) {
			dst->n = i;
			cfg_strlist_free(dst);
			return -1;
		}
	}
	dst->n = src->n;
	return 0;
}

bool cfg_strlist_has(const struct config_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

/* A default list written as "[a, b, c]" in a table (trusted text, no quoting). */
static int strlist_from_default(struct config_strlist *l, const char *def)
{
	l->v = NULL;
	l->n = 0;
	const char *p = def;
	if (*p == '[')
		p++;
	size_t cap = 1;
	for (const char *q = p; *q; q++)
		if (*q == ',')
			cap++;
	char **v = calloc(cap, sizeof *v);
	if (!v)
		return -1;
	size_t n = 0;
	while (*p && *p != ']') {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, ",]");
		while (len && p[len - 1] == ' ')
			len--;
		if (len) {
			v[n] = strndup(p, len);
			if (!v[n]) {
				l->v = v;
				l->n = n;
				cfg_strlist_free(l);
				return -1;
			}
			n++;
		}
		p += strcspn(p, ",]");
		if (*p == ',')
			p++;
	}
	if (!n) {
		free(v);
		return 0;
	}
	l->v = v;
	l->n = n;
	return 0;
}

/* ---- defaults, copies, frees ---- */

int cfg_apply_defaults(struct cfg_ctx *x, const struct cfg_table *t, void *base)
{
	int rc = 0;
	for (size_t i = 0; i < t->nrows && !rc; i++) {
		const struct cfg_row *r = &t->rows[i];
		const char *d = r->def;
		int64_t iv = 0;
		switch (r->type) {
		case CT_STRING:
		case CT_STRENUM:
		case CT_SECRET_ENV:
		case CT_SECRET_FILE: {
			char **f = CFG_AT(base, r->off, char *);
			free(*f);
			*f = strdup(d ? d : "");
			if (!*f)
				rc = -1;
			break;
		}
		case CT_BOOL:
			*CFG_AT(base, r->off, bool) = d && !strcmp(d, "true");
			break;
		case CT_INT:
			if (d && cfg_parse_int(d, &iv))
				rc = -2;
			*CFG_AT(base, r->off, int) = (int)iv;
			break;
		case CT_NUMBER:
			*CFG_AT(base, r->off, double) = d ? strtod(d, NULL) : 0.0;
			break;
		case CT_SIZE:
			*CFG_AT(base, r->off, size_t) = 0;
			if (d && cfg_parse_size(d, CFG_AT(base, r->off, size_t)))
				rc = -2;
			break;
		case CT_DURATION:
			*CFG_AT(base, r->off, int64_t) = 0;
			if (d && cfg_parse_duration(d, CFG_AT(base, r->off, int64_t)))
				rc = -2;
			break;
		case CT_ENUM:
		case CT_ROLE:
		case CT_TEAM_ROLE: {
			const char *const *vals = r->type == CT_ROLE	    ? cfg_role_values
						  : r->type == CT_TEAM_ROLE ? cfg_team_role_values
									    : r->values;
			int k = d ? cfg_value_index(vals, d) : 0;
			if (k < 0)
				rc = -2;
			*CFG_AT(base, r->off, int) = k < 0 ? 0 : k;
			break;
		}
		case CT_STRLIST: {
			struct config_strlist *l = CFG_AT(base, r->off, struct config_strlist);
			cfg_strlist_free(l);
			if (d && strlist_from_default(l, d))
				rc = -1;
			break;
		}
		case CT_PCT: {
			struct config_pct *p = CFG_AT(base, r->off, struct config_pct);
			p->is_percent = false;
			p->value = 0;
			if (d && cfg_parse_pct(d, p))
				rc = -2;
			break;
		}
		case CT_SECTION:
			rc = cfg_apply_defaults(x, r->sub, CFG_AT(base, r->off, char));
			break;
		case CT_LIST:
		case CT_ROUTES:
			break; /* zeroed: empty */
		}
		if (rc == -2) {
			/* A table bug, caught by the unit test that loads an empty file. */
			if (x)
				cfg_error(x, 0, r->key, "internal error: the default \"%s\" does not parse", d);
			rc = 0;
		}
	}
	if (rc && x)
		x->oom = true;
	return rc;
}

int cfg_copy_field(const struct cfg_row *r, void *dst, const void *src)
{
	switch (r->type) {
	case CT_STRING:
	case CT_STRENUM: {
		char **d = CFG_AT(dst, r->off, char *);
		char *n = strdup(*CFG_CAT(src, r->off, char *));
		if (!n)
			return -1;
		free(*d);
		*d = n;
		return 0;
	}
	case CT_STRLIST: {
		struct config_strlist tmp;
		if (cfg_strlist_copy(&tmp, CFG_CAT(src, r->off, struct config_strlist)))
			return -1;
		cfg_strlist_free(CFG_AT(dst, r->off, struct config_strlist));
		*CFG_AT(dst, r->off, struct config_strlist) = tmp;
		return 0;
	}
	case CT_BOOL:
		*CFG_AT(dst, r->off, bool) = *CFG_CAT(src, r->off, bool);
		return 0;
	case CT_INT:
	case CT_ENUM:
	case CT_ROLE:
	case CT_TEAM_ROLE:
		*CFG_AT(dst, r->off, int) = *CFG_CAT(src, r->off, int);
		return 0;
	case CT_NUMBER:
		*CFG_AT(dst, r->off, double) = *CFG_CAT(src, r->off, double);
		return 0;
	case CT_SIZE:
		*CFG_AT(dst, r->off, size_t) = *CFG_CAT(src, r->off, size_t);
		return 0;
	case CT_DURATION:
		*CFG_AT(dst, r->off, int64_t) = *CFG_CAT(src, r->off, int64_t);
		return 0;
	case CT_PCT:
		*CFG_AT(dst, r->off, struct config_pct) = *CFG_CAT(src, r->off, struct config_pct);
		return 0;
	default:
		return -1; /* secrets, sections and lists are never inherited */
	}
}

void cfg_free_fields(const struct cfg_table *t, void *base)
{
	if (!base)
		return;
	for (size_t i = 0; i < t->nrows; i++) {
		const struct cfg_row *r = &t->rows[i];
		switch (r->type) {
		case CT_STRING:
		case CT_STRENUM: {
			char **f = CFG_AT(base, r->off, char *);
			free(*f);
			*f = NULL;
			break;
		}
		case CT_SECRET_ENV:
		case CT_SECRET_FILE: {
			char **f = CFG_AT(base, r->off, char *);
			char **v = CFG_AT(base, r->aux, char *);
			free(*f);
			*f = NULL;
			secret_free(*v);
			*v = NULL;
			break;
		}
		case CT_STRLIST:
			cfg_strlist_free(CFG_AT(base, r->off, struct config_strlist));
			break;
		case CT_SECTION:
			cfg_free_fields(r->sub, CFG_AT(base, r->off, char));
			break;
		case CT_LIST:
		case CT_ROUTES: {
			char **arr = CFG_AT(base, r->off, char *);
			size_t *n = CFG_AT(base, r->aux, size_t);
			for (size_t k = 0; *arr && k < *n; k++)
				cfg_free_fields(r->sub, *arr + k * r->sub->size);
			free(*arr);
			*arr = NULL;
			*n = 0;
			break;
		}
		default:
			break;
		}
	}
}

const char *config_role_name(enum config_role r)
{
	return (unsigned)r <= CONFIG_ROLE_OWNER ? cfg_role_values[r] : "?";
}

const char *config_team_role_name(enum config_team_role r)
{
	return (unsigned)r <= CONFIG_TEAM_ROLE_ADMIN ? cfg_team_role_values[r] : "?";
}

int config_parse_duration(const char *s, int64_t *out)
{
	return s ? cfg_parse_duration(s, out) : -1;
}
