/*
 * gl_cache.c: the in-memory index of the GitLab scope tree (see gl_cache.h).
 */
#include "gl_cache.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cgroup {
	int64_t id;
	int64_t parent_id;     /* 0 for none */
	char *name, *path, *full_path;
	char *json;            /* compact Group entity */
	int p_lo, p_own, p_hi; /* own projects [p_lo, p_own), subtree [p_lo, p_hi) */
	int g_end;             /* descendants are (this, g_end) */
	int *children;         /* direct subgroups, indices */
	int nchildren;
};

struct cproj {
	int64_t id;
	int64_t group_id;
	const char *name, *path;   /* borrowed from the parsed entity copy below */
	char *name_s, *path_s;
	char *created, *updated, *activity;
	int64_t stars;
	int archived;
	char *json;                /* compact simple entity */
};

struct gl_cache {
	int64_t built_ms;
	struct cgroup *g;
	size_t ng;
	struct cproj *p;
	size_t np;
	int *roots;
	size_t nroots;
	char *text;                /* lowercased "name\npath\n" per project, DFS order */
	size_t *text_off;          /* np + 1 offsets */
	int *perm[GL_OB_COUNT];    /* ascending permutations (similarity unused) */
	int *rank[GL_OB_COUNT];    /* rank[k][i]: position of project i in perm[k] */
	int *arch_pre;             /* np + 1 prefix counts of archived projects */
	uint32_t *tri_code;        /* sorted distinct trigrams of the search text */
	uint32_t *tri_off;         /* ntri + 1 offsets into post */
	size_t ntri;
	uint32_t *post;            /* projects holding each trigram, ascending */
};

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

void gl_cache_free(struct gl_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ng; i++) {
		free(c->g[i].name);
		free(c->g[i].path);
		free(c->g[i].full_path);
		free(c->g[i].json);
		free(c->g[i].children);
	}
	for (size_t i = 0; i < c->np; i++) {
		free(c->p[i].name_s);
		free(c->p[i].path_s);
		free(c->p[i].created);
		free(c->p[i].updated);
		free(c->p[i].activity);
		free(c->p[i].json);
	}
	for (int k = 0; k < GL_OB_COUNT; k++) {
		free(c->perm[k]);
		free(c->rank[k]);
	}
	free(c->arch_pre);
	free(c->tri_code);
	free(c->tri_off);
	free(c->post);
	free(c->g);
	free(c->p);
	free(c->roots);
	free(c->text);
	free(c->text_off);
	free(c);
}

size_t gl_cache_ngroups(const struct gl_cache *c)
{
	return c ? c->ng : 0;
}
size_t gl_cache_nprojects(const struct gl_cache *c)
{
	return c ? c->np : 0;
}
int64_t gl_cache_built_ms(const struct gl_cache *c)
{
	return c ? c->built_ms : 0;
}
int64_t gl_cache_group_id(const struct gl_cache *c, int gi)
{
	return c->g[gi].id;
}
const int *gl_cache_roots(const struct gl_cache *c, size_t *n)
{
	*n = c->nroots;
	return c->roots;
}

/* ---- building ---- */

struct build {
	struct gl_cache *c;
	struct cgroup *in;     /* groups as given */
	size_t nin;
	int *order_of;         /* in-index -> DFS index */
	struct cproj *pin;     /* projects as given, sorted by (group, id) */
	size_t npin;
	int *visited;
};

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_pin(const void *x, const void *y)
{
	const struct cproj *a = x, *b = y;
	int c = cmp_i64(a->group_id, b->group_id);
	return c ? c : cmp_i64(a->id, b->id);
}

/* Index (in b->in) of group id, or -1; in is small enough for a scan per child. */
static int in_find(const struct build *b, int64_t id)
{
	for (size_t i = 0; i < b->nin; i++)
		if (b->in[i].id == id)
			return (int)i;
	return -1;
}

/* First project of group id in pin (sorted), or npin. */
static size_t pin_first(const struct build *b, int64_t gid)
{
	size_t lo = 0, hi = b->npin;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (b->pin[mid].group_id < gid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int cmp_child(const void *x, const void *y, void *arg)
{
	const struct build *b = arg;
	return cmp_i64(b->in[*(const int *)x].id, b->in[*(const int *)y].id);
}

/* Depth-first placement of input group k and its subtree. */
static int visit(struct build *b, int k, int depth)
{
	struct gl_cache *c = b->c;
	if (b->visited[k] || depth > 100)
		return 0; /* a cycle or a group reached twice: keep the first place */
	b->visited[k] = 1;
	int gi = (int)c->ng++;
	c->g[gi] = b->in[k];
	memset(&b->in[k], 0, sizeof b->in[k]); /* moved */
	b->in[k].id = c->g[gi].id;
	b->order_of[k] = gi;
	struct cgroup *g = &c->g[gi];
	g->p_lo = (int)c->np;
	for (size_t i = pin_first(b, g->id); i < b->npin && b->pin[i].group_id == g->id; i++) {
		c->p[c->np++] = b->pin[i];
		memset(&b->pin[i], 0, sizeof b->pin[i]);
		b->pin[i].group_id = g->id;
	}
	g->p_own = (int)c->np;
	/* children: input groups whose parent is this one, by id */
	int *kids = NULL;
	size_t nk = 0;
	for (size_t i = 0; i < b->nin; i++)
		if (!b->visited[i] && b->in[i].parent_id == c->g[gi].id) {
			int *x = realloc(kids, (nk + 1) * sizeof *x);
			if (!x) {
				free(kids);
				return -1;
			}
			kids = x;
			kids[nk++] = (int)i;
		}
	if (nk)
		qsort_r(kids, nk, sizeof *kids, cmp_child, b);
	int *child_idx = nk ? calloc(nk, sizeof *child_idx) : NULL;
	if (nk && !child_idx) {
		free(kids);
		return -1;
	}
	int nc = 0;
	for (size_t i = 0; i < nk; i++) {
		if (b->visited[kids[i]])
			continue;
		if (visit(b, kids[i], depth + 1)) {
			free(kids);
			free(child_idx);
			return -1;
		}
		child_idx[nc++] = b->order_of[kids[i]];
	}
	free(kids);
	g = &c->g[gi]; /* c->g is not reallocated, but keep the pointer fresh */
	g->children = child_idx;
	g->nchildren = nc;
	g->p_hi = (int)c->np;
	g->g_end = (int)c->ng;
	return 0;
}

static __thread int sort_key;

static int cmp_perm_r(const void *x, const void *y, void *arg)
{
	const struct gl_cache *c = arg;
	const struct cproj *a = &c->p[*(const int *)x], *b = &c->p[*(const int *)y];
	int r = 0;
	switch (sort_key) {
	case GL_OB_NAME: r = strcmp(a->name, b->name); break;
	case GL_OB_PATH: r = strcmp(a->path, b->path); break;
	case GL_OB_CREATED: r = strcmp(a->created, b->created); break;
	case GL_OB_UPDATED: r = strcmp(a->updated, b->updated); break;
	case GL_OB_ACTIVITY: r = strcmp(a->activity, b->activity); break;
	case GL_OB_STARS: r = cmp_i64(a->stars, b->stars); break;
	default: break;
	}
	return r ? r : cmp_i64(a->id, b->id);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static uint32_t tri(const char *t)
{
	return (uint32_t)(unsigned char)t[0] << 16 | (uint32_t)(unsigned char)t[1] << 8 | (unsigned char)t[2];
}

/* The trigram index of the search text: for each distinct trigram, the
 * ascending list of projects whose name or path holds it. 0 or -1. */
static int build_trigrams(struct gl_cache *c)
{
	size_t cap = c->text_off[c->np] + 1, n = 0;
	uint64_t *pairs = malloc(cap * sizeof *pairs);
	if (!pairs)
		return -1;
	for (size_t i = 0; i < c->np; i++) {
		const char *t = c->text + c->text_off[i];
		size_t len = c->text_off[i + 1] - c->text_off[i];
		for (size_t j = 0; j + 3 <= len; j++)
			if (t[j] != '\n' && t[j + 1] != '\n' && t[j + 2] != '\n')
				pairs[n++] = (uint64_t)tri(t + j) << 32 | (uint32_t)i;
	}
	qsort(pairs, n, sizeof *pairs, cmp_u64);
	size_t nd = 0, nt = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || pairs[i] != pairs[i - 1]) {
			pairs[nd++] = pairs[i];
			if (nd == 1 || pairs[nd - 1] >> 32 != pairs[nd - 2] >> 32)
				nt++;
		}
	c->post = malloc((nd + 1) * sizeof *c->post);
	c->tri_code = malloc((nt + 1) * sizeof *c->tri_code);
	c->tri_off = malloc((nt + 1) * sizeof *c->tri_off);
	if (!c->post || !c->tri_code || !c->tri_off) {
		free(pairs);
		return -1;
	}
	for (size_t i = 0; i < nd; i++) {
		uint32_t code = (uint32_t)(pairs[i] >> 32);
		if (i == 0 || code != c->tri_code[c->ntri - 1]) {
			c->tri_code[c->ntri] = code;
			c->tri_off[c->ntri] = (uint32_t)i;
			c->ntri++;
		}
		c->post[i] = (uint32_t)pairs[i];
	}
	c->tri_off[c->ntri] = (uint32_t)nd;
	free(pairs);
	return 0;
}


static char *dump(const json_t *o)
{
	return json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* An entry's entity text: "j", or blob[jo .. jo+jl), or o serialised. NULL when
 * out of memory or the blob reference is out of bounds. */
static char *entity_text(const json_t *entry, const json_t *o, const char *blob, size_t blob_len)
{
	const char *j = json_string_value(json_object_get(entry, "j"));
	if (j)
		return strdup(j);
	const json_t *jo = json_object_get(entry, "jo"), *jl = json_object_get(entry, "jl");
	if (jo && jl) {
		json_int_t off = json_integer_value(jo), len = json_integer_value(jl);
		if (!blob || off < 0 || len < 0 || (size_t)off > blob_len || (size_t)len > blob_len - (size_t)off)
			return NULL;
		return strndup(blob + off, (size_t)len);
	}
	return dump(o);
}

struct gl_cache *gl_cache_build(const json_t *snap, const char *blob, size_t blob_len, struct err *e)
{
	struct build b = {0};
	struct gl_cache *c = calloc(1, sizeof *c);
	const json_t *groups = json_object_get(snap, "groups"), *projects = json_object_get(snap, "projects"),
		     *roots = json_object_get(snap, "roots");
	if (!c)
		goto nomem;
	if (!json_is_array(groups) || !json_is_array(projects) || !json_is_array(roots)) {
		err_set(e, -1, "GitLab snapshot: groups, projects and roots must be arrays");
		goto fail;
	}
	c->built_ms = json_integer_value(json_object_get(snap, "built_at"));
	b.c = c;
	b.nin = json_array_size(groups);
	b.npin = json_array_size(projects);
	b.in = calloc(b.nin + 1, sizeof *b.in);
	b.order_of = calloc(b.nin + 1, sizeof *b.order_of);
	b.visited = calloc(b.nin + 1, sizeof *b.visited);
	b.pin = calloc(b.npin + 1, sizeof *b.pin);
	c->g = calloc(b.nin + 1, sizeof *c->g);
	c->p = calloc(b.npin + 1, sizeof *c->p);
	c->roots = calloc(json_array_size(roots) + 1, sizeof *c->roots);
	if (!b.in || !b.order_of || !b.visited || !b.pin || !c->g || !c->p || !c->roots)
		goto nomem;
	for (size_t i = 0; i < b.nin; i++) {
		const json_t *o = json_array_get(groups, i);
		struct cgroup *g = &b.in[i];
		g->id = json_integer_value(json_object_get(o, "id"));
		g->parent_id = json_integer_value(json_object_get(o, "parent_id"));
		if (!json_is_object(o) || g->id <= 0) {
			err_set(e, -1, "GitLab snapshot: group %zu has no id", i);
			goto fail;
		}
		g->name = xstrdup(jstr(o, "name"));
		g->path = xstrdup(jstr(o, "path"));
		g->full_path = xstrdup(jstr(o, "full_path"));
		g->json = entity_text(o, o, blob, blob_len);
		if (!g->name || !g->path || !g->full_path || !g->json)
			goto nomem;
	}
	for (size_t i = 0; i < b.npin; i++) {
		const json_t *w = json_array_get(projects, i), *o = json_object_get(w, "p");
		if (!o)
			o = w; /* the walker's flat entries: {"j": text, "id": ..., ...} */
		struct cproj *p = &b.pin[i];
		p->id = json_integer_value(json_object_get(o, "id"));
		p->group_id = json_integer_value(json_object_get(w, "group"));
		if (!json_is_object(o) || p->id <= 0) {
			err_set(e, -1, "GitLab snapshot: project %zu has no id", i);
			goto fail;
		}
		p->name_s = xstrdup(jstr(o, "name"));
		p->path_s = xstrdup(jstr(o, "path"));
		p->created = xstrdup(jstr(o, "created_at"));
		p->activity = xstrdup(jstr(o, "last_activity_at"));
		p->updated = xstrdup(jstr(w, "updated_at"));
		p->stars = json_integer_value(json_object_get(o, "star_count"));
		p->archived = json_is_true(json_object_get(w, "archived"));
		p->json = entity_text(w, o, blob, blob_len);
		if (!p->name_s || !p->path_s || !p->created || !p->activity || !p->updated || !p->json)
			goto nomem;
	}
	qsort(b.pin, b.npin, sizeof *b.pin, cmp_pin);
	for (size_t i = 0; i < json_array_size(roots); i++) {
		int k = in_find(&b, json_integer_value(json_array_get(roots, i)));
		if (k < 0) {
			err_set(e, -1, "GitLab snapshot: root group %lld is not among the groups",
				(long long)json_integer_value(json_array_get(roots, i)));
			goto fail;
		}
		if (b.visited[k])
			continue;
		if (visit(&b, k, 0))
			goto nomem;
		c->roots[c->nroots++] = b.order_of[k];
	}
	/* the name and path pointers, the search text and the orders */
	size_t tlen = 0;
	for (size_t i = 0; i < c->np; i++) {
		c->p[i].name = c->p[i].name_s;
		c->p[i].path = c->p[i].path_s;
		tlen += strlen(c->p[i].name) + strlen(c->p[i].path) + 2;
	}
	c->text = malloc(tlen + 1);
	c->text_off = calloc(c->np + 1, sizeof *c->text_off);
	if (!c->text || !c->text_off)
		goto nomem;
	size_t off = 0;
	for (size_t i = 0; i < c->np; i++) {
		c->text_off[i] = off;
		for (const char *s = c->p[i].name; *s; s++)
			c->text[off++] = (char)tolower((unsigned char)*s);
		c->text[off++] = '\n';
		for (const char *s = c->p[i].path; *s; s++)
			c->text[off++] = (char)tolower((unsigned char)*s);
		c->text[off++] = '\n';
	}
	c->text_off[c->np] = off;
	c->text[off] = '\0';
	for (int k = 0; k < GL_OB_COUNT; k++) {
		if (k == GL_OB_SIMILARITY)
			continue;
		c->perm[k] = malloc((c->np + 1) * sizeof(int));
		if (!c->perm[k])
			goto nomem;
		for (size_t i = 0; i < c->np; i++)
			c->perm[k][i] = (int)i;
		sort_key = k;
		qsort_r(c->perm[k], c->np, sizeof(int), cmp_perm_r, c);
		c->rank[k] = malloc((c->np + 1) * sizeof(int));
		if (!c->rank[k])
			goto nomem;
		for (size_t i = 0; i < c->np; i++)
			c->rank[k][c->perm[k][i]] = (int)i;
	}
	c->arch_pre = calloc(c->np + 1, sizeof(int));
	if (!c->arch_pre || build_trigrams(c))
		goto nomem;
	for (size_t i = 0; i < c->np; i++)
		c->arch_pre[i + 1] = c->arch_pre[i] + (c->p[i].archived ? 1 : 0);
	goto done;
nomem:
	err_set(e, -1, "out of memory building the GitLab cache");
fail:
	gl_cache_free(c);
	c = NULL;
done:
	for (size_t i = 0; b.in && i < b.nin; i++) {
		free(b.in[i].name);
		free(b.in[i].path);
		free(b.in[i].full_path);
		free(b.in[i].json);
		free(b.in[i].children);
	}
	for (size_t i = 0; b.pin && i < b.npin; i++) {
		free(b.pin[i].name_s);
		free(b.pin[i].path_s);
		free(b.pin[i].created);
		free(b.pin[i].updated);
		free(b.pin[i].activity);
		free(b.pin[i].json);
	}
	free(b.in);
	free(b.order_of);
	free(b.visited);
	free(b.pin);
	return c;
}

/* ---- queries ---- */

int gl_cache_find(const struct gl_cache *c, const char *s)
{
	if (!c || !s || !*s)
		return -1;
	int digits = 1;
	for (const char *p = s; *p; p++)
		digits &= *p >= '0' && *p <= '9';
	if (digits) {
		int64_t id = strtoll(s, NULL, 10);
		for (size_t i = 0; i < c->ng; i++)
			if (c->g[i].id == id)
				return (int)i;
		return -1;
	}
	for (size_t i = 0; i < c->ng; i++)
		if (!strcasecmp(c->g[i].full_path, s))
			return (int)i;
	return -1;
}

static int ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return 1;
	return n == 0;
}

static int ci_eq(const char *a, const char *b)
{
	return !strcasecmp(a, b);
}

static int ci_prefix(const char *s, const char *p)
{
	return !strncasecmp(s, p, strlen(p));
}

/* Similarity: an exact name or path match, then a prefix, then the rest. */
static int score(const struct cproj *p, const char *term)
{
	if (ci_eq(p->name, term) || ci_eq(p->path, term))
		return 3;
	if (ci_prefix(p->name, term) || ci_prefix(p->path, term))
		return 2;
	return 1;
}

struct sim_sort {
	const struct gl_cache *c;
	const char *term;
};

static int cmp_similarity(const void *x, const void *y, void *arg)
{
	const struct sim_sort *s = arg;
	const struct cproj *a = &s->c->p[*(const int *)x], *b = &s->c->p[*(const int *)y];
	int r = -cmp_i64(score(a, s->term), score(b, s->term));
	return r ? r : -cmp_i64(a->id, b->id);
}

static void emit(struct buf *out, const char *json, int *first)
{
	if (!*first)
		buf_puts(out, ",");
	*first = 0;
	buf_puts(out, json);
}

/* Posting list of trigram code (NULL when no project holds it). */
static const uint32_t *tri_list(const struct gl_cache *c, uint32_t code, size_t *n)
{
	size_t lo = 0, hi = c->ntri;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->tri_code[mid] < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == c->ntri || c->tri_code[lo] != code) {
		*n = 0;
		return NULL;
	}
	*n = c->tri_off[lo + 1] - c->tri_off[lo];
	return c->post + c->tri_off[lo];
}

struct hits {
	int *v;
	size_t n, cap;
};

static int hit(struct hits *h, int i)
{
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 256;
		int *x = realloc(h->v, nc * sizeof *x);
		if (!x)
			return -1;
		h->v = x;
		h->cap = nc;
	}
	h->v[h->n++] = i;
	return 0;
}

/* Projects in [lo, hi) whose lowercased name or path holds lterm. */
static int search_range(const struct gl_cache *c, size_t lo, size_t hi, const char *lterm, int archived,
			struct hits *h)
{
	size_t tl = strlen(lterm);
	if (strchr(lterm, '\n'))
		return 0;
	if (tl >= 3) {
		/* the rarest trigram of the term gives the candidates; memmem confirms */
		const uint32_t *best = NULL;
		size_t nbest = 0;
		for (size_t j = 0; j + 3 <= tl; j++) {
			size_t n;
			const uint32_t *l = tri_list(c, tri(lterm + j), &n);
			if (!l)
				return 0;
			if (!best || n < nbest) {
				best = l;
				nbest = n;
			}
		}
		size_t a = 0, b = nbest;
		while (a < b) {
			size_t mid = (a + b) / 2;
			if (best[mid] < lo)
				a = mid + 1;
			else
				b = mid;
		}
		for (size_t k = a; k < nbest && best[k] < hi; k++) {
			size_t i = best[k];
			if (archived >= 0 && c->p[i].archived != archived)
				continue;
			if (memmem(c->text + c->text_off[i], c->text_off[i + 1] - c->text_off[i], lterm, tl) &&
			    hit(h, (int)i))
				return -1;
		}
		return 0;
	}
	const char *t = c->text + c->text_off[lo], *end = c->text + c->text_off[hi];
	while (t < end) {
		const char *m = memmem(t, (size_t)(end - t), lterm, tl);
		if (!m)
			break;
		size_t a = lo, b = hi, mo = (size_t)(m - c->text);
		while (b - a > 1) {
			size_t mid = (a + b) / 2;
			if (c->text_off[mid] <= mo)
				a = mid;
			else
				b = mid;
		}
		if ((archived < 0 || c->p[a].archived == archived) && hit(h, (int)a))
			return -1;
		t = c->text + c->text_off[a + 1];
	}
	return 0;
}

struct rank_sort {
	const int *rank;
};

static int cmp_rank(const void *x, const void *y, void *arg)
{
	const int *rank = ((const struct rank_sort *)arg)->rank;
	return rank[*(const int *)x] - rank[*(const int *)y];
}

int gl_cache_projects(const struct gl_cache *c, const int *gis, size_t n, const struct gl_listq *q, struct buf *out,
		      int64_t *total)
{
	const char *term = q->search && *q->search ? q->search : NULL;
	enum gl_order order = q->order;
	int desc = q->desc;
	int64_t off = (q->page - 1) * q->per_page, stop = off + q->per_page, count = 0;
	size_t lo[64], hi[64], nr = n > 64 ? 64 : n;
	int first = 1;
	for (size_t r = 0; r < nr; r++) {
		const struct cgroup *g = &c->g[gis[r]];
		lo[r] = (size_t)g->p_lo;
		hi[r] = (size_t)(q->include_subgroups ? g->p_hi : g->p_own);
	}
	buf_puts(out, "[");
	if (!term) {
		/* no search: count from the ranges, then walk the order until the page is full */
		if (order == GL_OB_SIMILARITY) {
			order = GL_OB_ID;
			desc = 1;
		}
		for (size_t r = 0; r < nr; r++) {
			int64_t arch = c->arch_pre[hi[r]] - c->arch_pre[lo[r]];
			count += q->archived < 0 ? (int64_t)(hi[r] - lo[r]) : q->archived ? arch : (int64_t)(hi[r] - lo[r]) - arch;
		}
		*total = count;
		const int *perm = c->perm[order];
		int64_t seen = 0;
		for (size_t k = 0; k < c->np && seen < stop && seen < count; k++) {
			size_t i = (size_t)perm[desc ? c->np - 1 - k : k];
			size_t r = 0;
			while (r < nr && (i < lo[r] || i >= hi[r]))
				r++;
			if (r == nr || (q->archived >= 0 && c->p[i].archived != q->archived))
				continue;
			if (seen >= off)
				emit(out, c->p[i].json, &first);
			seen++;
		}
		return buf_puts(out, "]") == BUF_OK ? 0 : -1;
	}
	char *lterm = strdup(term);
	struct hits h = {0};
	int rc = lterm ? 0 : -1;
	for (char *s = lterm; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (size_t r = 0; !rc && r < nr; r++)
		rc = search_range(c, lo[r], hi[r], lterm, q->archived, &h);
	if (!rc && h.n) {
		if (order == GL_OB_SIMILARITY) {
			struct sim_sort s = {c, term};
			qsort_r(h.v, h.n, sizeof *h.v, cmp_similarity, &s);
			desc = 0;
		} else {
			struct rank_sort rs = {c->rank[order]};
			qsort_r(h.v, h.n, sizeof *h.v, cmp_rank, &rs);
		}
	}
	for (int64_t k = off; !rc && k < stop && k < (int64_t)h.n; k++)
		emit(out, c->p[h.v[desc ? (int64_t)h.n - 1 - k : k]].json, &first);
	*total = (int64_t)h.n;
	free(h.v);
	free(lterm);
	if (rc)
		return -1;
	return buf_puts(out, "]") == BUF_OK ? 0 : -1;
}

struct gsort {
	const struct gl_cache *c;
	int order;
	int desc;
};

static int cmp_groups(const void *x, const void *y, void *arg)
{
	const struct gsort *s = arg;
	const struct cgroup *a = &s->c->g[*(const int *)x], *b = &s->c->g[*(const int *)y];
	int r = s->order == GL_OB_NAME ? strcmp(a->name, b->name) : s->order == GL_OB_PATH ? strcmp(a->path, b->path) : 0;
	if (!r)
		r = cmp_i64(a->id, b->id);
	return s->desc ? -r : r;
}

int gl_cache_groups(const struct gl_cache *c, int gi, int deep, const struct gl_listq *q, struct buf *out,
		    int64_t *total)
{
	const struct cgroup *g = &c->g[gi];
	size_t cap = deep ? (size_t)(g->g_end - gi) : (size_t)g->nchildren + 1;
	int *items = malloc(cap * sizeof *items);
	size_t n = 0;
	const char *term = q->search && *q->search ? q->search : NULL;
	if (!items)
		return -1;
	if (deep) {
		for (int k = gi + 1; k < g->g_end; k++)
			items[n++] = k;
	} else {
		for (int k = 0; k < g->nchildren; k++)
			items[n++] = g->children[k];
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!term || ci_contains(c->g[items[i]].name, term) || ci_contains(c->g[items[i]].path, term))
			items[m++] = items[i];
	struct gsort s = {c, q->order, q->desc};
	qsort_r(items, m, sizeof *items, cmp_groups, &s);
	int64_t off = (q->page - 1) * q->per_page;
	int first = 1;
	buf_puts(out, "[");
	for (int64_t i = off; i >= 0 && i < (int64_t)m && i < off + q->per_page; i++)
		emit(out, c->g[items[i]].json, &first);
	free(items);
	*total = (int64_t)m;
	return buf_puts(out, "]") == BUF_OK ? 0 : -1;
}

int gl_cache_group_detail(const struct gl_cache *c, int gi, int with_projects, struct buf *out)
{
	const struct cgroup *g = &c->g[gi];
	size_t len = strlen(g->json);
	if (!with_projects || len < 2)
		return buf_puts(out, g->json) == BUF_OK ? 0 : -1;
	buf_append(out, g->json, len - 1);
	buf_puts(out, ",\"projects\":[");
	int first = 1;
	for (int i = g->p_lo; i < g->p_own; i++)
		emit(out, c->p[i].json, &first);
	return buf_puts(out, "],\"shared_projects\":[]}") == BUF_OK ? 0 : -1;
}
