/*
 * gl_query.h: GitLab REST v4 request parsing and pagination headers, with
 * no I/O: the query string (Rack rules), GitLab's boolean and paging
 * parameters (Grape), the listing options the cache understands, the
 * ordering keys, and the offset-pagination headers that GitLab's
 * OffsetHeaderBuilder emits (gitlab-slack-api.md §1.3).
 *
 * The simulator (tests/sim/sim_gitlab.c) implements the same rules; the
 * compatibility test compares the two byte for byte.
 */
#ifndef SB_GL_QUERY_H
#define SB_GL_QUERY_H

#include "buf.h"
#include "http.h"

#include <stddef.h>
#include <stdint.h>

/* GitLab stops counting above this many records (no X-Total, no rel="last"). */
#define GL_MAX_COUNT 10000

struct gl_param {
	char *key;   /* decoded */
	char *value; /* decoded ("" for a key without '=') */
};

struct gl_params {
	struct gl_param *v;
	size_t n;
};

/* Decode a raw query string ('+' is a space). 0, or -1 for a malformed
 * %-escape, an embedded NUL or no memory (out is then empty). Free with
 * gl_params_free(). */
int gl_params_parse(const char *raw, struct gl_params *out);
void gl_params_free(struct gl_params *p);

/* First value of key, or NULL. Borrowed. */
const char *gl_params_get(const struct gl_params *p, const char *key);

/* Whether every key is one of the NULL-terminated list. */
int gl_params_only(const struct gl_params *p, const char *const *allowed);

/* Grape's Boolean coercion: true/false (any case), 1/0, t/f, yes/no, y/n.
 * 1, 0, or -1 when v is not a boolean. */
int gl_parse_bool(const char *v);

enum gl_order {
	GL_OB_ID = 0,
	GL_OB_NAME,
	GL_OB_PATH,
	GL_OB_CREATED,
	GL_OB_UPDATED,
	GL_OB_ACTIVITY,
	GL_OB_SIMILARITY,
	GL_OB_STARS,
	GL_OB_COUNT
};

/* Name of an order key ("last_activity_at"). */
const char *gl_order_name(enum gl_order o);

/* A listing request, parsed. */
struct gl_listq {
	int include_subgroups; /* projects of descendants too */
	int simple;
	int with_shared;
	int archived;          /* -1 any, 0 not archived, 1 archived */
	int membership;
	enum gl_order order;
	int desc;
	const char *search;    /* borrowed from the params; NULL or "" = no filter */
	int64_t page;          /* >= 1 */
	int64_t per_page;      /* 1..100 */
};

enum gl_list_kind { GL_LIST_GROUP_PROJECTS, GL_LIST_PROJECTS, GL_LIST_GROUPS };

/*
 * Parse the parameters of a listing in GitLab's validation order. Returns 0,
 * or 400 with msg set to Grape's error text ("page is invalid",
 * "order_by does not have a valid value", ...), rendered by the caller as
 * {"error": msg}. Defaults: projects order by created_at desc, groups by
 * name asc; page 1; per_page 20 (0 is refused, negatives give 20, above 100
 * is clamped to 100 as Kaminari does).
 */
int gl_listq_parse(const struct gl_params *p, enum gl_list_kind kind, struct gl_listq *q, char *msg,
		   size_t msglen);

/*
 * Add GitLab's pagination headers to r: X-Per-Page, X-Page, X-Next-Page and
 * X-Prev-Page (empty at the ends), Link (prev, next, first, last in that
 * order; last only when counted), X-Total and X-Total-Pages (only up to
 * GL_MAX_COUNT records). Link URLs are url_base (scheme, host and path,
 * no query) plus the request's parameters with page and per_page replaced,
 * keys sorted, values CGI-escaped (ActiveSupport to_query). 0 or -1 (no
 * memory).
 */
int gl_pagination(struct http_resp *r, const char *url_base, const struct gl_params *p, int64_t page,
		  int64_t per_page, int64_t total);

/* The Link header value alone (for tests); caller frees. NULL on no memory. */
char *gl_link_header(const char *url_base, const struct gl_params *p, int64_t page, int64_t per_page,
		     int64_t total);

#endif
