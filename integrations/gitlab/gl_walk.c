/*
 * gl_walk.c: the scope-tree walk and the snapshot store (see gl_walk.h).
 */
#include "gl_walk.h"

#include "db.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BasicProjectDetails (simple=true) keys in GitLab's order [GL-ENT-PI, GL-ENT-BPD]. */
static const char *const simple_keys[] = {
	"id", "description", "name", "name_with_namespace", "path", "path_with_namespace",
	"created_at", "default_branch", "tag_list", "topics", "ssh_url_to_repo", "http_url_to_repo",
	"web_url", "readme_url", "forks_count", "avatar_url", "star_count", "last_activity_at",
	"namespace", NULL,
};

/* A set of int64 ids (open addressing, 0 is never an id). */
struct idset {
	int64_t *v;
	size_t cap, n;
};

/* 1 when added, 0 when present, -1 on no memory. */
static int idset_add(struct idset *s, int64_t id)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		int64_t *nv = calloc(ncap, sizeof *nv);
		if (!nv)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				size_t h = (size_t)((uint64_t)s->v[i] * 0x9E3779B97F4A7C15ull) & (ncap - 1);
				while (nv[h])
					h = (h + 1) & (ncap - 1);
				nv[h] = s->v[i];
			}
		free(s->v);
		s->v = nv;
		s->cap = ncap;
	}
	size_t h = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	while (s->v[h]) {
		if (s->v[h] == id)
			return 0;
		h = (h + 1) & (s->cap - 1);
	}
	s->v[h] = id;
	s->n++;
	return 1;
}

static int idset_has(const struct idset *s, int64_t id)
{
	if (!s->cap)
		return 0;
	size_t h = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	while (s->v[h]) {
		if (s->v[h] == id)
			return 1;
		h = (h + 1) & (s->cap - 1);
	}
	return 0;
}

enum { T_SUB = 0, T_PROJ = 1 };

struct task {
	int64_t gid;
	int kind;
	int64_t page;
};

struct queue {
	struct task *v;
	size_t head, n, cap;
};

static int push(struct queue *q, int64_t gid, int kind, int64_t page)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 256;
		struct task *nv = realloc(q->v, ncap * sizeof *nv);
		if (!nv)
			return -1;
		q->v = nv;
		q->cap = ncap;
	}
	q->v[q->n++] = (struct task){gid, kind, page};
	return 0;
}

/* The simple=true subset of a full Project entity (new reference). */
static json_t *simple_of(const json_t *full)
{
	json_t *o = json_object();
	for (int k = 0; o && simple_keys[k]; k++) {
		json_t *v = json_object_get(full, simple_keys[k]);
		if (v && json_object_set(o, simple_keys[k], v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A group's snapshot entry: its entity as compact text plus the fields the
 * index needs (parsing one string is far cheaper than a tree of objects). */
static json_t *group_entry(const json_t *g)
{
	char *text = json_dumps(g, JSON_COMPACT);
	json_t *e = text ? json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "j", text, "id", json_object_get(g, "id"),
				     "parent_id", json_object_get(g, "parent_id") ? json_object_get(g, "parent_id") : json_null(),
				     "name", json_object_get(g, "name") ? json_object_get(g, "name") : json_null(),
				     "path", json_object_get(g, "path") ? json_object_get(g, "path") : json_null(),
				     "full_path", json_object_get(g, "full_path") ? json_object_get(g, "full_path") : json_null())
			 : NULL;
	free(text);
	return e;
}

/* A project's snapshot entry: the simple=true entity as text, the sort and
 * filter keys, and its group. */
static json_t *project_entry(const json_t *o, int64_t gid)
{
	json_t *simple = simple_of(o);
	char *text = simple ? json_dumps(simple, JSON_COMPACT) : NULL;
	json_decref(simple);
	if (!text)
		return NULL;
#define F(k) (json_object_get(o, k) ? json_object_get(o, k) : json_null())
	json_t *e = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:b, s:I}", "j", text, "id", F("id"), "name",
			      F("name"), "path", F("path"), "created_at", F("created_at"), "last_activity_at",
			      F("last_activity_at"), "updated_at", F("updated_at"), "star_count", F("star_count"),
			      "archived", json_is_true(json_object_get(o, "archived")), "group", (json_int_t)gid);
#undef F
	free(text);
	return e;
}

json_t *gl_walk(struct httpc *hc, const char *base_url, const char *token, char *const *scope, size_t nscope,
		int batch, int64_t now_ms, const volatile int *cancel, struct gl_walk_stats *st, struct err *e)
{
	json_t *snap = NULL, *groups = json_array(), *projects = json_array(), *roots = json_array();
	struct idset gseen = {0}, pseen = {0};
	struct queue q = {0};
	char *auth = NULL;
	char **urls = NULL;
	struct httpc_req *reqs = NULL;
	struct httpc_resp *resps = NULL;
	int64_t t0 = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	memset(st, 0, sizeof *st);
	if (batch < 1)
		batch = 1;
	if (asprintf(&auth, "PRIVATE-TOKEN: %s", token ? token : "") < 0)
		auth = NULL;
	urls = calloc((size_t)batch, sizeof *urls);
	reqs = calloc((size_t)batch, sizeof *reqs);
	resps = calloc((size_t)batch, sizeof *resps);
	if (!groups || !projects || !roots || !auth || !urls || !reqs || !resps)
		goto nomem;
	const char *hdrs[] = {auth, "Accept: application/json", NULL};

	/* The scope roots, by full path. */
	for (size_t i = 0; i < nscope; i++) {
		char *enc = curl_easy_escape(NULL, scope[i], 0);
		char *url = NULL;
		if (!enc || asprintf(&url, "%s/api/v4/groups/%s?with_projects=false", base_url, enc) < 0) {
			curl_free(enc);
			goto nomem;
		}
		curl_free(enc);
		struct httpc_req rq = {.method = "GET", .url = url, .headers = hdrs, .endpoint = "GET /api/v4/groups/{id}",
				       .idempotent = 1, .cancel = cancel};
		struct httpc_resp rs;
		int rc = httpc_call(hc, &rq, &rs, e);
		free(url);
		st->requests++;
		if (rc || rs.status != 200) {
			if (!rc)
				err_set(e, -1, "GitLab answered %ld to GET /api/v4/groups/%s", rs.status, scope[i]);
			httpc_resp_free(&rs);
			goto fail;
		}
		json_t *g = json_loadb(buf_str(&rs.body), rs.body.len, 0, NULL);
		httpc_resp_free(&rs);
		int64_t id = json_integer_value(json_object_get(g, "id"));
		if (!json_is_object(g) || id <= 0) {
			json_decref(g);
			err_set(e, -1, "GitLab's answer for group %s is not a group", scope[i]);
			goto fail;
		}
		int added = idset_add(&gseen, id);
		if (added < 0) {
			json_decref(g);
			goto nomem;
		}
		if (added) {
			json_object_del(g, "projects");
			json_object_del(g, "shared_projects");
			json_t *ent = group_entry(g);
			json_decref(g);
			if (!ent || json_array_append_new(groups, ent))
				goto nomem;
			json_array_append_new(roots, json_integer(id));
			if (push(&q, id, T_SUB, 1) || push(&q, id, T_PROJ, 1))
				goto nomem;
		} else {
			json_decref(g);
		}
	}


	/* Breadth-first over the tree, batch requests at a time. */
	while (q.head < q.n) {
		size_t nb = 0;
		while (nb < (size_t)batch && q.head < q.n) {
			struct task *t = &q.v[q.head++];
			int r = t->kind == T_SUB
					? asprintf(&urls[nb], "%s/api/v4/groups/%lld/subgroups?all_available=true&per_page=100&page=%lld",
						   base_url, (long long)t->gid, (long long)t->page)
					: asprintf(&urls[nb],
						   "%s/api/v4/groups/%lld/projects?include_subgroups=false&with_shared=false"
						   "&order_by=id&sort=asc&per_page=100&page=%lld",
						   base_url, (long long)t->gid, (long long)t->page);
			if (r < 0) {
				urls[nb] = NULL;
				goto nomem;
			}
			reqs[nb] = (struct httpc_req){.method = "GET", .url = urls[nb], .headers = hdrs, .idempotent = 1,
						      .cancel = cancel,
						      .endpoint = t->kind == T_SUB ? "GET /api/v4/groups/{id}/subgroups"
										   : "GET /api/v4/groups/{id}/projects"};
			nb++;
		}
		int rc = httpc_call_many(hc, reqs, resps, nb, e);
		st->requests += nb;
		for (size_t i = 0; i < nb && !rc; i++) {
			struct task *t = &q.v[q.head - nb + i];
			if (resps[i].status != 200) {
				rc = -1;
				err_set(e, -1, "GitLab answered %ld to %s (group %lld, page %lld)", resps[i].status,
					reqs[i].endpoint, (long long)t->gid, (long long)t->page);
				break;
			}
			json_t *arr = json_loadb(buf_str(&resps[i].body), resps[i].body.len, 0, NULL);
			if (!json_is_array(arr)) {
				json_decref(arr);
				rc = -1;
				err_set(e, -1, "GitLab's answer to %s is not a JSON array", reqs[i].endpoint);
				break;
			}
			size_t k;
			json_t *o;
			json_array_foreach(arr, k, o)
			{
				int64_t id = json_integer_value(json_object_get(o, "id"));
				if (id <= 0)
					continue;
				if (t->kind == T_SUB) {
					int added = idset_add(&gseen, id);
					if (added < 0 || (added && (json_array_append_new(groups, group_entry(o)) ||
								    push(&q, id, T_SUB, 1) || push(&q, id, T_PROJ, 1))))
						rc = -2;
				} else {
					int added = idset_add(&pseen, id);
					json_t *ns = json_object_get(o, "namespace");
					int64_t gid = json_integer_value(json_object_get(ns, "id"));
					json_t *ent = added == 1 ? project_entry(o, gid > 0 ? gid : t->gid) : NULL;
					if (added < 0 || (added == 1 && (!ent || json_array_append_new(projects, ent))))
						rc = -2;
				}
			}
			json_decref(arr);
			const char *next = httpc_resp_header(&resps[i], "x-next-page");
			if (!rc && next && *next && push(&q, t->gid, t->kind, t->page + 1))
				rc = -2;
		}
		for (size_t i = 0; i < nb; i++) {
			httpc_resp_free(&resps[i]);
			free(urls[i]);
			urls[i] = NULL;
		}
		if (rc == -2)
			goto nomem;
		if (rc)
			goto fail;
	}

	/* A scope group inside another scope group is not a root of its own. */
	json_t *kept = json_array();
	size_t k;
	json_t *r;
	if (!kept)
		goto nomem;
	json_array_foreach(roots, k, r)
	{
		int64_t id = json_integer_value(r);
		int64_t parent = 0;
		size_t j;
		json_t *g;
		json_array_foreach(groups, j, g) if (json_integer_value(json_object_get(g, "id")) == id) parent =
			json_integer_value(json_object_get(g, "parent_id"));
		if (!parent || !idset_has(&gseen, parent))
			json_array_append(kept, r);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	st->duration_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0;
	st->groups = json_array_size(groups);
	st->projects = json_array_size(projects);
	snap = json_pack("{s:i, s:I, s:o, s:O, s:O}", "version", 1, "built_at", (json_int_t)now_ms, "roots", kept,
			 "groups", groups, "projects", projects);
	if (!snap)
		goto nomem;
	goto out;
nomem:
	err_set(e, -1, "out of memory walking the GitLab scope");
fail:
	json_decref(snap);
	snap = NULL;
out:
	for (int i = 0; urls && i < batch; i++)
		free(urls[i]);
	free(urls);
	free(reqs);
	free(resps);
	free(auth);
	free(q.v);
	free(gseen.v);
	free(pseen.v);
	json_decref(groups);
	json_decref(projects);
	json_decref(roots);
	return snap;
}

/* Move each entry's "j" text into blob, leaving "jo"/"jl" (offset, length). */
static int detach(json_t *arr, struct buf *blob)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		const char *j = json_string_value(json_object_get(e, "j"));
		if (!j)
			continue;
		size_t len = strlen(j);
		if (json_object_set_new(e, "jo", json_integer((json_int_t)blob->len)) ||
		    json_object_set_new(e, "jl", json_integer((json_int_t)len)) || buf_append(blob, j, len) != BUF_OK)
			return -1;
		json_object_del(e, "j");
	}
	return 0;
}

int gl_store_save(PGconn *c, json_t *snap, const struct gl_walk_stats *st, int64_t *id, char **blob_out,
		  size_t *blob_len, struct err *e)
{
	struct buf blob;
	buf_init(&blob, 0);
	*blob_out = NULL;
	*blob_len = 0;
	if (detach(json_object_get(snap, "groups"), &blob) || detach(json_object_get(snap, "projects"), &blob)) {
		buf_reset(&blob);
		return err_set(e, -1, "out of memory serialising the GitLab snapshot");
	}
	char *meta = json_dumps(snap, JSON_COMPACT);
	struct buf data;
	buf_init(&data, 0);
	if (!meta || buf_puts(&data, meta) != BUF_OK || buf_puts(&data, "\n") != BUF_OK ||
	    buf_append(&data, buf_str(&blob), blob.len) != BUF_OK) {
		free(meta);
		buf_reset(&data);
		buf_reset(&blob);
		return err_set(e, -1, "out of memory serialising the GitLab snapshot");
	}
	free(meta);
	char ng[24], np[24], ms[24];
	snprintf(ng, sizeof ng, "%zu", st->groups);
	snprintf(np, sizeof np, "%zu", st->projects);
	snprintf(ms, sizeof ms, "%lld", (long long)st->duration_ms);
	const char *p[] = {ng, np, ms, buf_str(&data)};
	PGresult *r = db_exec(c,
			      "INSERT INTO gitlab_cache_snapshots (groups, projects, duration_ms, data)"
			      " VALUES ($1::int, $2::int, $3::bigint, $4) RETURNING id",
			      4, p, e);
	buf_reset(&data);
	if (!r) {
		buf_reset(&blob);
		return -1;
	}
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	*blob_len = blob.len;
	*blob_out = buf_take(&blob);
	return db_run(c,
		      "DELETE FROM gitlab_cache_snapshots WHERE id NOT IN"
		      " (SELECT id FROM gitlab_cache_snapshots ORDER BY id DESC LIMIT 2)",
		      0, NULL, e);
}

int gl_store_latest(PGconn *c, int64_t *id, struct err *e)
{
	PGresult *r = db_exec(c, "SELECT coalesce(max(id), 0) FROM gitlab_cache_snapshots", 0, NULL, e);
	if (!r)
		return -1;
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int gl_store_load(PGconn *c, json_t **out, char **blob, size_t *blob_len, int64_t *id, struct err *e)
{
	*out = NULL;
	*blob = NULL;
	*blob_len = 0;
	*id = 0;
	PGresult *r = db_exec(c, "SELECT id, data FROM gitlab_cache_snapshots ORDER BY id DESC LIMIT 1", 0, NULL, e);
	if (!r)
		return -1;
	if (PQntuples(r) == 1) {
		json_error_t je;
		const char *d = PQgetvalue(r, 0, 1);
		size_t len = (size_t)PQgetlength(r, 0, 1);
		const char *nl = memchr(d, '\n', len);
		size_t mlen = nl ? (size_t)(nl - d) : len;
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*out = json_loadb(d, mlen, 0, &je);
		if (!*out) {
			PQclear(r);
			return err_set(e, -1, "GitLab snapshot %lld is not valid: %s", (long long)*id, je.text);
		}
		if (nl) {
			*blob_len = len - mlen - 1;
			*blob = malloc(*blob_len + 1);
			if (!*blob) {
				json_decref(*out);
				*out = NULL;
				PQclear(r);
				return err_set(e, -1, "out of memory loading the GitLab snapshot");
			}
			memcpy(*blob, nl + 1, *blob_len);
			(*blob)[*blob_len] = '\0';
		}
	}
	PQclear(r);
	return 0;
}
