/*
 * gl_query.c: GitLab request parsing and pagination headers (see gl_query.h).
 */
#include "gl_query.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode n bytes of s into a new string; NULL on a bad escape, a NUL or no memory. */
static char *decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *w = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			int h = hexval(s[i + 1]), l = h < 0 ? -1 : hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				free(out);
				return NULL;
			}
			*w++ = (char)(h * 16 + l);
			i += 2;
		} else {
			*w++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*w = '\0';
	return out;
}

void gl_params_free(struct gl_params *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int gl_params_parse(const char *raw, struct gl_params *out)
{
	out->v = NULL;
	out->n = 0;
	if (!raw || !*raw)
		return 0;
	size_t cap = 1;
	for (const char *c = raw; *c; c++)
		cap += *c == '&';
	out->v = calloc(cap, sizeof *out->v);
	if (!out->v)
		return -1;
	const char *p = raw;
	while (*p) {
		size_t len = strcspn(p, "&");
		if (len) {
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			char *k = decode(p, klen);
			char *v = eq ? decode(eq + 1, len - klen - 1) : strdup("");
			if (!k || !v) {
				free(k);
				free(v);
				gl_params_free(out);
				return -1;
			}
			out->v[out->n].key = k;
			out->v[out->n].value = v;
			out->n++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

const char *gl_params_get(const struct gl_params *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].key, key))
			return p->v[i].value;
	return NULL;
}

int gl_params_only(const struct gl_params *p, const char *const *allowed)
{
	for (size_t i = 0; i < p->n; i++) {
		size_t k = 0;
		while (allowed[k] && strcmp(allowed[k], p->v[i].key))
			k++;
		if (!allowed[k])
			return 0;
	}
	return 1;
}

int gl_parse_bool(const char *v)
{
	static const char *const t[] = {"true", "1", "t", "yes", "y", NULL};
	static const char *const f[] = {"false", "0", "f", "no", "n", NULL};
	if (!v)
		return -1;
	for (int i = 0; t[i]; i++)
		if (!strcasecmp(v, t[i]))
			return 1;
	for (int i = 0; f[i]; i++)
		if (!strcasecmp(v, f[i]))
			return 0;
	return -1;
}

static const char *const order_names[GL_OB_COUNT] = {"id",	    "name",	  "path",
						      "created_at", "updated_at", "last_activity_at",
						      "similarity", "star_count"};

const char *gl_order_name(enum gl_order o)
{
	return (unsigned)o < GL_OB_COUNT ? order_names[o] : "?";
}

/* A whole-string decimal integer (optional sign). */
static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno == ERANGE)
		return -1;
	*out = v;
	return 0;
}

static int qbool(const struct gl_params *p, const char *key, int def, int *out, char *msg, size_t n)
{
	const char *v = gl_params_get(p, key);
	*out = def;
	if (!v)
		return 0;
	*out = gl_parse_bool(v);
	if (*out >= 0)
		return 0;
	snprintf(msg, n, "%s is invalid", key);
	return 400;
}

static int qpage(const struct gl_params *p, struct gl_listq *q, char *msg, size_t n)
{
	const char *pv = gl_params_get(p, "page"), *ppv = gl_params_get(p, "per_page");
	q->page = 1;
	q->per_page = 20;
	if (pv && *pv && parse_i64(pv, &q->page)) {
		snprintf(msg, n, "page is invalid");
		return 400;
	}
	if (ppv && *ppv && parse_i64(ppv, &q->per_page)) {
		snprintf(msg, n, "per_page is invalid");
		return 400;
	}
	if (q->per_page == 0) {
		snprintf(msg, n, "per_page has a value not allowed");
		return 400;
	}
	if (q->page < 1)
		q->page = 1;
	if (q->page > 1000000000)
		q->page = 1000000000;
	if (q->per_page < 0)
		q->per_page = 20;
	if (q->per_page > 100)
		q->per_page = 100;
	return 0;
}

static int qorder(const struct gl_params *p, int groups, struct gl_listq *q, char *msg, size_t n)
{
	const char *ob = gl_params_get(p, "order_by"), *so = gl_params_get(p, "sort");
	q->order = groups ? GL_OB_NAME : GL_OB_CREATED;
	q->desc = !groups;
	if (ob) {
		int k = 0;
		while (k < GL_OB_COUNT && strcmp(order_names[k], ob))
			k++;
		if (k == GL_OB_COUNT ||
		    (groups && k != GL_OB_ID && k != GL_OB_NAME && k != GL_OB_PATH && k != GL_OB_SIMILARITY)) {
			snprintf(msg, n, "order_by does not have a valid value");
			return 400;
		}
		q->order = groups && k == GL_OB_SIMILARITY ? GL_OB_NAME : (enum gl_order)k;
	}
	if (so) {
		if (strcmp(so, "asc") && strcmp(so, "desc")) {
			snprintf(msg, n, "sort does not have a valid value");
			return 400;
		}
		q->desc = !strcmp(so, "desc");
	}
	return 0;
}

int gl_listq_parse(const struct gl_params *p, enum gl_list_kind kind, struct gl_listq *q, char *msg,
		   size_t msglen)
{
	memset(q, 0, sizeof *q);
	q->archived = -1;
	q->with_shared = 1;
	q->search = gl_params_get(p, "search");
	int rc = 0;
	if (kind == GL_LIST_GROUPS)
		return (rc = qpage(p, q, msg, msglen)) ? rc : qorder(p, 1, q, msg, msglen);
	if (kind == GL_LIST_GROUP_PROJECTS && (rc = qbool(p, "include_subgroups", 0, &q->include_subgroups, msg, msglen)))
		return rc;
	if (kind == GL_LIST_PROJECTS) {
		if ((rc = qbool(p, "membership", 0, &q->membership, msg, msglen)))
			return rc;
		q->include_subgroups = 1;
	}
	if ((rc = qbool(p, "simple", 0, &q->simple, msg, msglen)) ||
	    (rc = qbool(p, "with_shared", 1, &q->with_shared, msg, msglen)) || (rc = qpage(p, q, msg, msglen)) ||
	    (rc = qorder(p, 0, q, msg, msglen)))
		return rc;
	if (gl_params_get(p, "archived") && (rc = qbool(p, "archived", 0, &q->archived, msg, msglen)))
		return rc;
	return 0;
}

/* ---- pagination ---- */

static int cmp_param(const void *a, const void *b)
{
	return strcmp(((const struct gl_param *)a)->key, ((const struct gl_param *)b)->key);
}

/* CGI.escape: unreserved a-zA-Z0-9_.-~, space as '+'. */
static void cgi_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '.' || c == '-' || c == '~')
			buf_append(b, s, 1);
		else if (c == ' ')
			buf_puts(b, "+");
		else
			buf_printf(b, "%%%02X", c);
	}
}

/* <url_base?params with page and per_page, sorted>; the last value of a
 * repeated key wins, as in Rails params. */
static int link_url(struct buf *b, const char *url_base, const struct gl_params *p, int64_t page,
		    int64_t per_page)
{
	struct gl_param *ps = calloc(p->n + 2, sizeof *ps);
	char pg[24], pp[24];
	size_t n = 0;
	if (!ps)
		return -1;
	snprintf(pg, sizeof pg, "%lld", (long long)page);
	snprintf(pp, sizeof pp, "%lld", (long long)per_page);
	for (size_t i = 0; i < p->n; i++) {
		const char *k = p->v[i].key;
		size_t j;
		if (!strcmp(k, "page") || !strcmp(k, "per_page"))
			continue;
		for (j = 0; j < n && strcmp(ps[j].key, k); j++)
			;
		ps[j] = p->v[i];
		if (j == n)
			n++;
	}
	ps[n++] = (struct gl_param){(char *)"page", pg};
	ps[n++] = (struct gl_param){(char *)"per_page", pp};
	qsort(ps, n, sizeof *ps, cmp_param);
	buf_printf(b, "<%s?", url_base);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(b, "&");
		cgi_escape(b, ps[i].key);
		buf_puts(b, "=");
		cgi_escape(b, ps[i].value);
	}
	free(ps);
	return buf_puts(b, ">") == BUF_OK ? 0 : -1;
}

static int64_t total_pages(int64_t total, int64_t per_page)
{
	return total ? (total + per_page - 1) / per_page : 1;
}

char *gl_link_header(const char *url_base, const struct gl_params *p, int64_t page, int64_t per_page,
		     int64_t total)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = 0;
	if (page > 1) {
		rc |= link_url(&b, url_base, p, page - 1, per_page);
		buf_puts(&b, "; rel=\"prev\", ");
	}
	if (page * per_page < total) {
		rc |= link_url(&b, url_base, p, page + 1, per_page);
		buf_puts(&b, "; rel=\"next\", ");
	}
	rc |= link_url(&b, url_base, p, 1, per_page);
	buf_puts(&b, "; rel=\"first\"");
	if (total <= GL_MAX_COUNT) {
		buf_puts(&b, ", ");
		rc |= link_url(&b, url_base, p, total_pages(total, per_page), per_page);
		buf_puts(&b, "; rel=\"last\"");
	}
	if (rc) {
		buf_reset(&b);
		return NULL;
	}
	return buf_take(&b);
}

int gl_pagination(struct http_resp *r, const char *url_base, const struct gl_params *p, int64_t page,
		  int64_t per_page, int64_t total)
{
	char v[32];
	int rc = 0;
	snprintf(v, sizeof v, "%lld", (long long)per_page);
	rc |= http_resp_header(r, "X-Per-Page", v);
	snprintf(v, sizeof v, "%lld", (long long)page);
	rc |= http_resp_header(r, "X-Page", v);
	if (page * per_page < total)
		snprintf(v, sizeof v, "%lld", (long long)page + 1);
	else
		v[0] = '\0';
	rc |= http_resp_header(r, "X-Next-Page", v);
	if (page > 1)
		snprintf(v, sizeof v, "%lld", (long long)page - 1);
	else
		v[0] = '\0';
	rc |= http_resp_header(r, "X-Prev-Page", v);
	char *link = gl_link_header(url_base, p, page, per_page, total);
	if (!link)
		return -1;
	rc |= http_resp_header(r, "Link", link);
	free(link);
	if (total <= GL_MAX_COUNT) {
		snprintf(v, sizeof v, "%lld", (long long)total);
		rc |= http_resp_header(r, "X-Total", v);
		snprintf(v, sizeof v, "%lld", (long long)total_pages(total, per_page));
		rc |= http_resp_header(r, "X-Total-Pages", v);
	}
	return rc ? -1 : 0;
}
