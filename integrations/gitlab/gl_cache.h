/*
 * gl_cache.h: the in-memory index of a GitLab scope tree that answers the
 * listing calls of Sentry's GitLab integration (no I/O here).
 *
 * A cache is built from a snapshot (the JSON document the walker produces
 * and PostgreSQL stores, see gl_walk.h) and is immutable afterwards, so any
 * number of threads may read it. Groups and projects are laid out in
 * depth-first order, so a group's own projects, its whole subtree of
 * projects and its descendant groups are each one contiguous range; every
 * project's lowercased "name\npath\n" sits in one text block, so a search
 * is one memmem() over the range, and a listing in any order is one pass
 * over a precomputed permutation. On 50,000 projects both take tens of
 * microseconds.
 *
 * Entities are kept as the compact JSON text GitLab returned (projects as
 * the simple=true BasicProjectDetails subset), so answers are GitLab's own
 * bytes.
 */
#ifndef SB_GL_CACHE_H
#define SB_GL_CACHE_H

#include "buf.h"
#include "err.h"
#include "gl_query.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct gl_cache;

/*
 * Build a cache from a snapshot:
 *   {"version":1, "built_at": <ms>, "roots": [group ids],
 *    "groups": [{"j": "<Group entity, compact JSON text>", "id", "parent_id",
 *                "name", "path", "full_path"}],
 *    "projects": [{"j": "<simple=true entity text>", "id", "name", "path",
 *                  "created_at", "last_activity_at", "updated_at",
 *                  "star_count", "archived", "group": <namespace id>}]}
 * An entry may instead hold "jo" and "jl": its text is blob[jo .. jo+jl)
 * (the stored form, see gl_store_save). Entries without either are taken as
 * the entity itself (or under "p" for projects) and serialised here.
 * Groups whose parent is not in the snapshot must be roots. Returns NULL
 * with e filled on malformed input or no memory. Free with gl_cache_free().
 */
struct gl_cache *gl_cache_build(const json_t *snapshot, const char *blob, size_t blob_len, struct err *e);
void gl_cache_free(struct gl_cache *c);

size_t gl_cache_ngroups(const struct gl_cache *c);
size_t gl_cache_nprojects(const struct gl_cache *c);
int64_t gl_cache_built_ms(const struct gl_cache *c);

/* The index of the group named by a decoded :id (a number, or a full path
 * compared case-insensitively), or -1 when it is not in the cache. */
int gl_cache_find(const struct gl_cache *c, const char *id_or_path);

/* GitLab id of group index gi. */
int64_t gl_cache_group_id(const struct gl_cache *c, int gi);

/* The root groups (indices into the cache) in scope order; borrowed. */
const int *gl_cache_roots(const struct gl_cache *c, size_t *n);

/*
 * The projects of groups gis[0..n) (with their descendants' when
 * q->include_subgroups), filtered by q->search (case-insensitive substring
 * of name or path) and q->archived, in q's order, page q->page of
 * q->per_page, as a JSON array appended to out. *total gets the number of
 * matches. 0, or -1 on no memory.
 */
int gl_cache_projects(const struct gl_cache *c, const int *gis, size_t n, const struct gl_listq *q, struct buf *out,
		      int64_t *total);

/* Direct subgroups (deep = 0) or all descendants (deep = 1) of gi, filtered
 * by q->search on name or path, ordered and paged by q; as above. */
int gl_cache_groups(const struct gl_cache *c, int gi, int deep, const struct gl_listq *q, struct buf *out,
		    int64_t *total);

/* GET /groups/:id: the group entity, plus its own projects and an empty
 * shared_projects when with_projects. 0 or -1. */
int gl_cache_group_detail(const struct gl_cache *c, int gi, int with_projects, struct buf *out);

#endif
