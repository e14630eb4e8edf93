/*
 * gl_walk.h: building and storing snapshots of the GitLab scope tree.
 *
 * The walk takes the cheap road that GitLab's own recursive query does not:
 * for each group, its direct subgroups (GET /groups/:id/subgroups) and its
 * own projects (GET /groups/:id/projects?include_subgroups=false&
 * with_shared=false), per_page=100, following X-Next-Page, many requests at
 * once through httpc_call_many, which keeps within GitLab's RateLimit-*
 * budget (HTTPC_RL_GITLAB) and retries 429s and 5xx. It never asks for
 * include_subgroups=true. Any request that still fails fails the walk: a
 * partial tree is never stored.
 *
 * Snapshots live in PostgreSQL (gitlab_cache_snapshots, migration 004).
 */
#ifndef SB_GL_WALK_H
#define SB_GL_WALK_H

#include "err.h"
#include "httpc.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct gl_walk_stats {
	size_t groups;
	size_t projects;
	size_t requests;
	int64_t duration_ms;
};

/*
 * Walk the groups whose full paths are scope[0..nscope) on base_url (no
 * trailing slash) with token (sent as PRIVATE-TOKEN, never logged), at most
 * batch requests at once. Returns the snapshot document of gl_cache.h
 * (caller decrefs), or NULL with e filled. cancel may be NULL.
 */
json_t *gl_walk(struct httpc *hc, const char *base_url, const char *token, char *const *scope, size_t nscope,
		int batch, int64_t now_ms, const volatile int *cancel, struct gl_walk_stats *st, struct err *e);

/* Store a snapshot, keep the two newest; *id gets the new id. The stored
 * text is the snapshot without its entity texts, a newline, then those
 * texts back to back (entries get "jo"/"jl" in place of "j", in snap too),
 * so a load parses only the small part. *blob (caller frees) and *blob_len
 * are the texts, for gl_cache_build(). 0 or -1. */
int gl_store_save(PGconn *c, json_t *snap, const struct gl_walk_stats *st, int64_t *id, char **blob,
		  size_t *blob_len, struct err *e);

/* The newest snapshot id (0 when none). 0 or -1. */
int gl_store_latest(PGconn *c, int64_t *id, struct err *e);

/* Load the newest snapshot: 0 with *out (caller decrefs), *blob (caller
 * frees) and *id, or with *out NULL when there is none; -1 with e filled. */
int gl_store_load(PGconn *c, json_t **out, char **blob, size_t *blob_len, int64_t *id, struct err *e);

#endif
