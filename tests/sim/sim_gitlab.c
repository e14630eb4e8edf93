/*
 * sim_gitlab.c: the simulated GitLab REST API v4 under /api/v4, after
 * shared/reference/gitlab-slack-api.md section 1: groups, subgroups,
 * descendant groups, group and instance project listings, projects and
 * issues, with GitLab's entities (Group, BasicProjectDetails for
 * simple=true, a shortened Project otherwise), its offset pagination
 * headers (X-Page ... X-Total-Pages, Link in prev/next/first/last order, no
 * totals above 10,000 records), RateLimit-* headers and 429 "Retry later",
 * PRIVATE-TOKEN or Bearer tokens with per-user visibility, and the
 * pathology the bridge exists for: include_subgroups=true costs time in
 * proportion to the projects under the group (0.25 ms each) and gives up
 * with a 500 after GitLab.com's 15 s statement timeout.
 *
 * Visibility model: every group is private; a user sees a group when it or
 * one of its ancestors lists the user as a member (GitLab's inherited
 * membership). The walker token (--gitlab-token) is an administrator.
 *
 * The tree is built on first use from the start options (the demo tree
 * "acme", or "bigco" with --gitlab-projects/--gitlab-subgroups) and is
 * guarded by this file's own lock (issues are the only writes).
 */
#include "sim.h"

#include "sim_util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GL_BASE_MS 1705309200000LL /* 2024-01-15T09:00:00Z */
#define GL_MAX_COUNT 10000         /* no X-Total above this (Kaminari MAX_COUNT_LIMIT) */

struct gl_group {
	int64_t id;
	int parent; /* index, -1 for a top-level group */
	char *name, *path, *full_path, *full_name, *idkey;
	int64_t created;
	int *children;
	size_t nchildren, capchildren;
	int *projects;
	size_t nprojects, capprojects;
};

struct gl_project {
	int64_t id;
	int group;
	char *name, *path, *description, *idkey;
	int64_t created, updated, activity;
	int stars;
	bool archived;
	int64_t next_iid;
};

struct gl_user {
	const char *token; /* NULL for the admin: opts.gitlab_token */
	int64_t id;
	const char *username;
	const char *member_of[3]; /* full paths */
};

static const struct gl_user gl_users[] = {
	{NULL, 1, "bridge-bot", {NULL}},
	{"sim-gitlab-alice", 2, "alice", {"acme", "bigco", NULL}},
	{"sim-gitlab-bob", 3, "bob", {"acme/platform", "bigco/g1", NULL}},
	{"sim-gitlab-mallory", 4, "mallory", {NULL}},
};

static struct {
	pthread_once_t once;
	pthread_rwlock_t lock;
	bool ok;
	struct gl_group *g;
	size_t ng, capg;
	struct gl_project *p;
	size_t np, capp;
	struct sim_map by_id, by_path, proj_by_id;
	json_t *issues; /* array */
	int64_t next_issue_id;
} gl = {.once = PTHREAD_ONCE_INIT};

/* ---- building the tree ---------------------------------------------------------------------- */

static int push_int(int **a, size_t *n, size_t *cap, int v)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		int *x = realloc(*a, nc * sizeof(*x));
		if (!x)
			return -1;
		*a = x;
		*cap = nc;
	}
	(*a)[(*n)++] = v;
	return 0;
}

/* Add a group; returns its index or -1. */
static int add_group(int64_t id, int parent, const char *name, const char *path)
{
	struct gl_group *g;

	if (gl.ng == gl.capg) {
		size_t nc = gl.capg ? gl.capg * 2 : 64;
		struct gl_group *x = realloc(gl.g, nc * sizeof(*x));
		if (!x)
			return -1;
		gl.g = x;
		gl.capg = nc;
	}
	g = &gl.g[gl.ng];
	memset(g, 0, sizeof(*g));
	g->id = id;
	g->parent = parent;
	g->name = sim_strdup(name);
	g->path = sim_strdup(path);
	g->full_path = parent < 0 ? sim_strdup(path) : sim_asprintf("%s/%s", gl.g[parent].full_path, path);
	g->full_name = parent < 0 ? sim_strdup(name) : sim_asprintf("%s / %s", gl.g[parent].full_name, name);
	g->idkey = sim_asprintf("%lld", (long long)id);
	g->created = GL_BASE_MS + id * 60000;
	if (!g->name || !g->path || !g->full_path || !g->full_name || !g->idkey)
		return -1;
	if (parent >= 0 && push_int(&gl.g[parent].children, &gl.g[parent].nchildren,
				    &gl.g[parent].capchildren, (int)gl.ng))
		return -1;
	gl.ng++;
	return (int)gl.ng - 1;
}

/* Add a project to group gi; returns 0 or -1. */
static int add_project(int64_t id, int gi, const char *name, const char *path, bool archived)
{
	struct gl_project *p;
	uint64_t h = sim_mix64((uint64_t)id);

	if (gl.np == gl.capp) {
		size_t nc = gl.capp ? gl.capp * 2 : 64;
		struct gl_project *x = realloc(gl.p, nc * sizeof(*x));
		if (!x)
			return -1;
		gl.p = x;
		gl.capp = nc;
	}
	p = &gl.p[gl.np];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->group = gi;
	p->name = sim_strdup(name);
	p->path = sim_strdup(path);
	p->description = sim_asprintf("The %s project", name);
	p->idkey = sim_asprintf("%lld", (long long)id);
	p->created = GL_BASE_MS + id * 3600000LL;
	p->activity = p->created + (int64_t)(h % (400LL * 86400000LL));
	p->updated = p->created + (int64_t)((h >> 20) % (300LL * 86400000LL));
	p->stars = (int)((h >> 40) % 50);
	p->archived = archived;
	p->next_iid = 1;
	if (!p->name || !p->path || !p->description || !p->idkey)
		return -1;
	if (push_int(&gl.g[gi].projects, &gl.g[gi].nprojects, &gl.g[gi].capprojects, (int)gl.np))
		return -1;
	gl.np++;
	return 0;
}

static const char *const words[] = {
	"alpha", "bravo", "cargo", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "jasper",
	"kepler", "lumen", "magnet", "nova", "orbit", "pixel", "quartz", "raven", "sierra", "tango",
	"umbra", "vortex", "willow", "xenon", "yonder", "zephyr", "api", "web", "worker", "gateway",
	"billing", "search", "auth", "ledger", "mobile", "infra", "data", "ml", "docs", "tools",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* The demo tree (docs/simulator.md) or the generated one. */
static int build_tree(const struct sim_opts *o)
{
	int root, a, b, c, d, e, other;
	int64_t pid = 1000;
	uint64_t rs = o->seed ? o->seed : 1;

	if (o->gitlab_projects > 0) {
		int m = o->gitlab_subgroups > 0 ? o->gitlab_subgroups : 1;
		root = add_group(1, -1, "BigCo", "bigco");
		if (root < 0)
			return -1;
		for (int k = 1; k <= m; k++) {
			/* the first 50 hang off the root, the rest under an earlier subgroup */
			int parent = k <= 50 ? root : 1 + (int)sim_rand_below(&rs, (uint32_t)(k - 1));
			char name[64], path[64];
			snprintf(name, sizeof(name), "%s %s %d", words[sim_rand_below(&rs, NWORDS)],
				 words[sim_rand_below(&rs, NWORDS)], k);
			snprintf(path, sizeof(path), "g%d", k);
			if (add_group(1 + k, parent, name, path) < 0)
				return -1;
		}
		for (int j = 0; j < o->gitlab_projects; j++) {
			char name[96], path[96];
			int gi = (int)sim_rand_below(&rs, (uint32_t)gl.ng);
			const char *w1 = words[sim_rand_below(&rs, NWORDS)];
			const char *w2 = words[sim_rand_below(&rs, NWORDS)];
			snprintf(name, sizeof(name), "%s %s %d", w1, w2, j);
			snprintf(path, sizeof(path), "%s-%s-%d", w1, w2, j);
			if (add_project(pid++, gi, name, path, sim_rand_below(&rs, 50) == 0))
				return -1;
		}
	} else {
		root = add_group(100, -1, "Acme", "acme");
		a = root < 0 ? -1 : add_group(101, root, "Platform", "platform");
		b = a < 0 ? -1 : add_group(102, root, "Payments", "payments");
		c = b < 0 ? -1 : add_group(103, root, "Mobile", "mobile");
		d = c < 0 ? -1 : add_group(104, a, "SRE", "sre");
		e = d < 0 ? -1 : add_group(105, c, "Design", "design");
		if (e < 0)
			return -1;
		struct { int g; const char *name, *path; bool arch; } dp[] = {
			{root, "Handbook", "handbook", false},
			{a, "API Gateway", "api-gateway", false},
			{a, "Auth Service", "auth-service", false},
			{a, "Infra Tools", "infra-tools", false},
			{b, "Checkout API", "checkout-api", false},
			{b, "Billing Worker", "billing-worker", false},
			{b, "Ledger", "ledger", true},
			{c, "iOS App", "ios-app", false},
			{c, "Android App", "android-app", false},
			{c, "Shared UI", "shared-ui", false},
			{d, "Runbooks", "runbooks", false},
			{d, "Alerting", "alerting", false},
			{e, "Design System", "design-system", false},
		};
		for (size_t k = 0; k < sizeof(dp) / sizeof(dp[0]); k++)
			if (add_project(pid++, dp[k].g, dp[k].name, dp[k].path, dp[k].arch))
				return -1;
		/* 130 more so that listings span pages of 100 */
		for (int k = 0; k < 130; k++) {
			char name[64], path[64];
			int gi = k % 3 == 0 ? d : k % 3 == 1 ? b : e;
			snprintf(name, sizeof(name), "Service %s %d", words[k % NWORDS], k);
			snprintf(path, sizeof(path), "service-%s-%d", words[k % NWORDS], k);
			if (add_project(pid++, gi, name, path, false))
				return -1;
		}
	}
	other = add_group(900000, -1, "Other Co", "other");
	if (other < 0 || add_project(9000000, other, "Secret Project", "secret-project", false))
		return -1;
	for (size_t i = 0; i < gl.ng; i++)
		if (sim_map_put(&gl.by_id, gl.g[i].idkey, &gl.g[i]) ||
		    sim_map_put(&gl.by_path, gl.g[i].full_path, &gl.g[i]))
			return -1;
	for (size_t i = 0; i < gl.np; i++)
		if (sim_map_put(&gl.proj_by_id, gl.p[i].idkey, &gl.p[i]))
			return -1;
	return 0;
}

static _Atomic(struct sim_ctx *) gl_ctx;

static void gl_init(void)
{
	struct sim_ctx *ctx = atomic_load(&gl_ctx);

	pthread_rwlock_init(&gl.lock, NULL);
	sim_map_init(&gl.by_id, false);
	sim_map_init(&gl.by_path, true);
	sim_map_init(&gl.proj_by_id, false);
	gl.issues = json_array();
	gl.next_issue_id = 1;
	gl.ok = gl.issues && build_tree(&ctx->opts) == 0;
}

/* ---- auth and visibility ----------------------------------------------------------------------- */

/* The caller: a user, or NULL with *anon set when no token came. */
static const struct gl_user *caller(struct sim_ctx *ctx, const struct sim_request *req, bool *anon)
{
	const char *tok = req->private_token;

	*anon = false;
	if (!tok && req->authorization && sim_startswith_ci(req->authorization, "Bearer "))
		tok = req->authorization + 7;
	if (!tok)
		tok = sim_query_get(req, "private_token");
	if (!tok)
		tok = sim_query_get(req, "access_token");
	if (!tok) {
		*anon = true;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(gl_users) / sizeof(gl_users[0]); i++) {
		const char *want = gl_users[i].token ? gl_users[i].token : ctx->opts.gitlab_token;
		if (sim_secret_eq(tok, want))
			return &gl_users[i];
	}
	return NULL;
}

/* Whether u sees group gi (inherited membership; the bot sees all). */
static bool can_see(const struct gl_user *u, int gi)
{
	if (!u)
		return false;
	if (!u->token)
		return true;
	for (int g = gi; g >= 0; g = gl.g[g].parent)
		for (int k = 0; k < 3 && u->member_of[k]; k++)
			if (sim_streq_ci(u->member_of[k], gl.g[g].full_path))
				return true;
	return false;
}

/* ---- rendering ------------------------------------------------------------------------------------ */

static json_t *jtime(int64_t ms)
{
	char buf[SIM_TIME_BUFSZ];

	sim_fmt_okta_time(ms, buf);
	return json_string(buf);
}

static void message(struct sim_response *resp, int status, const char *msg)
{
	sim_resp_json(resp, status, json_pack("{s:s}", "message", msg));
}

static void grape_error(struct sim_response *resp, int status, const char *msg)
{
	sim_resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

/* Entities::Group */
static json_t *group_json(const char *base, const struct gl_group *g)
{
	char *web = sim_asprintf("%s/groups/%s", base, g->full_path);
	json_t *j = json_pack(
		"{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:s, s:n, s:s, s:b, s:b, s:b, s:b,"
		" s:i, s:n, s:b, s:s, s:s, s:o, s:o}",
		"id", (json_int_t)g->id, "web_url", web ? web : "", "name", g->name, "path", g->path,
		"description", "", "visibility", "private", "share_with_group_lock", 0,
		"require_two_factor_authentication", 0, "two_factor_grace_period", 48,
		"project_creation_level", "developer", "auto_devops_enabled",
		"subgroup_creation_level", "maintainer", "emails_disabled", 0, "emails_enabled", 1,
		"mentions_disabled", 0, "lfs_enabled", 1, "default_branch_protection", 2,
		"avatar_url", "request_access_enabled", 1, "full_name", g->full_name,
		"full_path", g->full_path, "created_at", jtime(g->created), "parent_id",
		g->parent < 0 ? json_null() : json_integer(gl.g[g->parent].id));
	free(web);
	return j;
}

/* The simple=true keys, in BasicProjectDetails order (the bridge picks the same). */
static const char *const simple_keys[] = {
	"id", "description", "name", "name_with_namespace", "path", "path_with_namespace",
	"created_at", "default_branch", "tag_list", "topics", "ssh_url_to_repo", "http_url_to_repo",
	"web_url", "readme_url", "forks_count", "avatar_url", "star_count", "last_activity_at",
	"namespace", NULL,
};

/* Entities::Project (shortened) or BasicProjectDetails when simple. */
static json_t *project_json(const char *base, const struct gl_project *p, bool simple)
{
	const struct gl_group *g = &gl.g[p->group];
	char *nwn = sim_asprintf("%s / %s", g->full_name, p->name);
	char *pwn = sim_asprintf("%s/%s", g->full_path, p->path);
	char *host = strstr(base, "://") ? strstr(base, "://") + 3 : (char *)base;
	char *ssh = sim_asprintf("git@%s:%s.git", host, pwn ? pwn : "");
	char *http = sim_asprintf("%s/%s.git", base, pwn ? pwn : "");
	char *web = sim_asprintf("%s/%s", base, pwn ? pwn : "");
	char *readme = sim_asprintf("%s/%s/-/blob/main/README.md", base, pwn ? pwn : "");
	char *gweb = sim_asprintf("%s/groups/%s", base, g->full_path);
	json_t *full = NULL, *out;

	if (nwn && pwn && ssh && http && web && readme && gweb)
		full = json_pack(
			"{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:[], s:[], s:s, s:s, s:s, s:s, s:i,"
			" s:n, s:i, s:o, s:{s:I, s:s, s:s, s:s, s:s, s:o, s:n, s:s},"
			" s:o, s:s, s:b, s:b, s:b, s:b, s:i}",
			"id", (json_int_t)p->id, "description", p->description, "name", p->name,
			"name_with_namespace", nwn, "path", p->path, "path_with_namespace", pwn,
			"created_at", jtime(p->created), "default_branch", "main", "tag_list", "topics",
			"ssh_url_to_repo", ssh, "http_url_to_repo", http, "web_url", web, "readme_url",
			readme, "forks_count", 0, "avatar_url", "star_count", p->stars,
			"last_activity_at", jtime(p->activity), "namespace", "id", (json_int_t)g->id,
			"name", g->name, "path", g->path, "kind", "group", "full_path", g->full_path,
			"parent_id", g->parent < 0 ? json_null() : json_integer(gl.g[g->parent].id),
			"avatar_url", "web_url", gweb, "updated_at", jtime(p->updated), "visibility",
			"private", "archived", p->archived, "empty_repo", 0, "issues_enabled", 1,
			"merge_requests_enabled", 1, "open_issues_count", (int)(p->next_iid - 1));
	free(nwn);
	free(pwn);
	free(ssh);
	free(http);
	free(web);
	free(readme);
	free(gweb);
	if (!full || !simple)
		return full;
	out = json_object();
	for (int k = 0; out && simple_keys[k]; k++)
		json_object_set(out, simple_keys[k], json_object_get(full, simple_keys[k]));
	json_decref(full);
	return out;
}

/* ---- query parsing -------------------------------------------------------------------------------- */

/* GitLab booleans (Grape): true/false in any case, 1/0, t/f, yes/no. -1 invalid. */
static int parse_bool(const char *v)
{
	static const char *const t[] = {"true", "1", "t", "yes", "y", NULL};
	static const char *const f[] = {"false", "0", "f", "no", "n", NULL};

	for (int i = 0; t[i]; i++)
		if (sim_streq_ci(v, t[i]))
			return 1;
	for (int i = 0; f[i]; i++)
		if (sim_streq_ci(v, f[i]))
			return 0;
	return -1;
}

/* A bool parameter with default def; false with a 400 when invalid. */
static bool qbool(const struct sim_request *req, struct sim_response *resp, const char *key, int def,
		  int *out)
{
	const char *v = sim_query_get(req, key);
	char msg[96];

	*out = def;
	if (!v)
		return true;
	*out = parse_bool(v);
	if (*out >= 0)
		return true;
	snprintf(msg, sizeof(msg), "%s is invalid", key);
	grape_error(resp, 400, msg);
	return false;
}

/* page and per_page: 400 for non-integers and per_page 0, clamps the rest. */
static bool qpage(const struct sim_request *req, struct sim_response *resp, int64_t *page,
		  int64_t *per_page)
{
	const char *pv = sim_query_get(req, "page"), *ppv = sim_query_get(req, "per_page");

	*page = 1;
	*per_page = 20;
	if (pv && *pv && !sim_parse_i64(pv, page)) {
		grape_error(resp, 400, "page is invalid");
		return false;
	}
	if (ppv && *ppv && !sim_parse_i64(ppv, per_page)) {
		grape_error(resp, 400, "per_page is invalid");
		return false;
	}
	if (*per_page == 0) {
		grape_error(resp, 400, "per_page has a value not allowed");
		return false;
	}
	if (*page < 1)
		*page = 1;
	if (*page > 1000000000)
		*page = 1000000000;
	if (*per_page < 0)
		*per_page = 20;
	if (*per_page > 100)
		*per_page = 100;
	return true;
}

/* ---- ordering ---------------------------------------------------------------------------------- */

enum { OB_ID, OB_NAME, OB_PATH, OB_CREATED, OB_UPDATED, OB_ACTIVITY, OB_SIMILARITY, OB_STARS };
static const char *const order_names[] = {"id", "name", "path", "created_at", "updated_at",
					  "last_activity_at", "similarity", "star_count", NULL};

struct psort {
	int order;
	bool desc;
	const char *term;
};
static __thread struct psort cur_sort;

/* Similarity score: an exact name or path match, then a prefix, then the rest. */
static int score(const struct gl_project *p, const char *term)
{
	if (sim_streq_ci(p->name, term) || sim_streq_ci(p->path, term))
		return 3;
	if (sim_startswith_ci(p->name, term) || sim_startswith_ci(p->path, term))
		return 2;
	return 1;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

/* Key then id, both in the requested direction; similarity: score desc, id desc. */
static int cmp_proj(const void *x, const void *y)
{
	const struct gl_project *a = &gl.p[*(const int *)x], *b = &gl.p[*(const int *)y];
	int c = 0;

	switch (cur_sort.order) {
	case OB_NAME: c = strcmp(a->name, b->name); break;
	case OB_PATH: c = strcmp(a->path, b->path); break;
	case OB_CREATED: c = cmp_i64(a->created, b->created); break;
	case OB_UPDATED: c = cmp_i64(a->updated, b->updated); break;
	case OB_ACTIVITY: c = cmp_i64(a->activity, b->activity); break;
	case OB_STARS: c = cmp_i64(a->stars, b->stars); break;
	case OB_SIMILARITY:
		if (cur_sort.term && *cur_sort.term)
			c = -cmp_i64(score(a, cur_sort.term), score(b, cur_sort.term));
		return c ? c : -cmp_i64(a->id, b->id);
	default: break;
	}
	if (!c)
		c = cmp_i64(a->id, b->id);
	return cur_sort.desc ? -c : c;
}

static int cmp_group(const void *x, const void *y)
{
	const struct gl_group *a = &gl.g[*(const int *)x], *b = &gl.g[*(const int *)y];
	int c = cur_sort.order == OB_NAME ? strcmp(a->name, b->name)
		: cur_sort.order == OB_PATH ? strcmp(a->path, b->path) : 0;

	if (!c)
		c = cmp_i64(a->id, b->id);
	return cur_sort.desc ? -c : c;
}

/* ---- pagination ---------------------------------------------------------------------------------- */

static int cmp_param(const void *x, const void *y)
{
	return strcmp(((const struct sim_param *)x)->key, ((const struct sim_param *)y)->key);
}

/* CGI.escape: unreserved a-zA-Z0-9_.-~, space as '+'. */
static void cgi_escape(struct sim_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-' || c == '~')
			sim_buf_append(b, s, 1);
		else if (c == ' ')
			sim_buf_puts(b, "+");
		else
			sim_buf_printf(b, "%%%02X", c);
	}
}

/* One Link URL: the request's parameters with page and per_page, keys sorted (to_query). */
static void link_url(struct sim_buf *b, const char *base, const struct sim_request *req, int64_t page,
		     int64_t per_page)
{
	struct sim_param *ps = calloc(req->nparams + 2, sizeof(*ps));
	char pg[24], pp[24];
	size_t n = 0;

	if (!ps)
		return;
	snprintf(pg, sizeof(pg), "%lld", (long long)page);
	snprintf(pp, sizeof(pp), "%lld", (long long)per_page);
	for (size_t i = 0; i < req->nparams; i++) {
		const char *k = req->params[i].key;
		size_t j;
		if (!strcmp(k, "page") || !strcmp(k, "per_page"))
			continue;
		for (j = 0; j < n && strcmp(ps[j].key, k); j++)
			;
		ps[j] = req->params[i]; /* the last value wins, as in Rails params */
		if (j == n)
			n++;
	}
	ps[n++] = (struct sim_param){(char *)"page", pg};
	ps[n++] = (struct sim_param){(char *)"per_page", pp};
	qsort(ps, n, sizeof(*ps), cmp_param);
	sim_buf_printf(b, "<%s%s?", base, req->raw_path);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sim_buf_puts(b, "&");
		cgi_escape(b, ps[i].key);
		sim_buf_puts(b, "=");
		cgi_escape(b, ps[i].value);
	}
	sim_buf_puts(b, ">");
	free(ps);
}

/* X-Per-Page, X-Page, X-Next-Page, X-Prev-Page, Link, X-Total, X-Total-Pages. */
static void pagination(struct sim_response *resp, const struct sim_request *req, const char *base,
		       int64_t page, int64_t per_page, int64_t total)
{
	int64_t pages = total ? (total + per_page - 1) / per_page : 1;
	bool counted = total <= GL_MAX_COUNT, has_next = page * per_page < total;
	struct sim_buf link;
	char *l;

	sim_resp_headerf(resp, "X-Per-Page", "%lld", (long long)per_page);
	sim_resp_headerf(resp, "X-Page", "%lld", (long long)page);
	if (has_next)
		sim_resp_headerf(resp, "X-Next-Page", "%lld", (long long)page + 1);
	else
		sim_resp_header(resp, "X-Next-Page", "");
	if (page > 1)
		sim_resp_headerf(resp, "X-Prev-Page", "%lld", (long long)page - 1);
	else
		sim_resp_header(resp, "X-Prev-Page", "");
	sim_buf_init(&link, 0);
	if (page > 1) {
		link_url(&link, base, req, page - 1, per_page);
		sim_buf_puts(&link, "; rel=\"prev\", ");
	}
	if (has_next) {
		link_url(&link, base, req, page + 1, per_page);
		sim_buf_puts(&link, "; rel=\"next\", ");
	}
	link_url(&link, base, req, 1, per_page);
	sim_buf_puts(&link, "; rel=\"first\"");
	if (counted) {
		sim_buf_puts(&link, ", ");
		link_url(&link, base, req, pages, per_page);
		sim_buf_puts(&link, "; rel=\"last\"");
	}
	l = sim_buf_take(&link);
	if (!l)
		resp->oom = true;
	else
		sim_resp_header(resp, "Link", l);
	free(l);
	if (counted) {
		sim_resp_headerf(resp, "X-Total", "%lld", (long long)total);
		sim_resp_headerf(resp, "X-Total-Pages", "%lld", (long long)pages);
	}
}

/* ---- handlers -------------------------------------------------------------------------------------- */

/* The group named by a path segment (decoded: a number or a full path), or NULL. */
static struct gl_group *find_group(const char *seg)
{
	struct gl_group *g = sim_map_get(&gl.by_id, seg);

	return g ? g : sim_map_get(&gl.by_path, seg);
}

/* Collect the projects of gi (and its descendants when deep). */
static int collect_projects(int gi, bool deep, int **out, size_t *n, size_t *cap)
{
	const struct gl_group *g = &gl.g[gi];

	for (size_t i = 0; i < g->nprojects; i++)
		if (push_int(out, n, cap, g->projects[i]))
			return -1;
	if (deep)
		for (size_t i = 0; i < g->nchildren; i++)
			if (collect_projects(g->children[i], true, out, n, cap))
				return -1;
	return 0;
}

static int collect_groups(int gi, bool deep, int **out, size_t *n, size_t *cap)
{
	const struct gl_group *g = &gl.g[gi];

	for (size_t i = 0; i < g->nchildren; i++) {
		if (push_int(out, n, cap, g->children[i]))
			return -1;
		if (deep && collect_groups(g->children[i], true, out, n, cap))
			return -1;
	}
	return 0;
}

/* Serialise items[off .. off+count) with fn into a JSON array body. */
static void render_page(struct sim_response *resp, const char *base, const int *items, size_t nitems,
			int64_t page, int64_t per_page, bool groups, bool simple)
{
	json_t *arr = json_array();
	int64_t off = (page - 1) * per_page;

	for (int64_t i = off; arr && i < off + per_page && i < (int64_t)nitems; i++)
		json_array_append_new(arr, groups ? group_json(base, &gl.g[items[i]])
						  : project_json(base, &gl.p[items[i]], simple));
	if (!arr) {
		resp->oom = true;
		return;
	}
	sim_resp_json(resp, 200, arr);
}

/* Which order_by / sort were asked for; false after a 400. */
static bool qorder(const struct sim_request *req, struct sim_response *resp, bool groups,
		   struct psort *s)
{
	const char *ob = sim_query_get(req, "order_by"), *so = sim_query_get(req, "sort");
	int k;

	s->order = groups ? OB_NAME : OB_CREATED;
	s->desc = !groups;
	if (ob) {
		for (k = 0; order_names[k] && strcmp(order_names[k], ob); k++)
			;
		if (!order_names[k] || (groups && k != OB_ID && k != OB_NAME && k != OB_PATH &&
					k != OB_SIMILARITY)) {
			grape_error(resp, 400, "order_by does not have a valid value");
			return false;
		}
		s->order = groups && k == OB_SIMILARITY ? OB_NAME : k;
	}
	if (so) {
		if (strcmp(so, "asc") && strcmp(so, "desc")) {
			grape_error(resp, 400, "sort does not have a valid value");
			return false;
		}
		s->desc = !strcmp(so, "desc");
	}
	return true;
}

static int list_projects(struct sim_response *resp, const struct sim_request *req, const char *base,
			 const int *scope_groups, size_t nscope, bool deep)
{
	int simple, archived_set = -1, include = deep;
	int64_t page, per_page;
	struct psort s;
	const char *search = sim_query_get(req, "search"), *arch = sim_query_get(req, "archived");
	int *items = NULL, *kept;
	size_t n = 0, cap = 0, m = 0;

	if (!qbool(req, resp, "simple", 0, &simple) || !qbool(req, resp, "with_shared", 1, &(int){0}) ||
	    !qpage(req, resp, &page, &per_page) || !qorder(req, resp, false, &s))
		return 0;
	if (arch && !qbool(req, resp, "archived", 0, &archived_set))
		return 0;
	(void)include;
	for (size_t i = 0; i < nscope; i++)
		if (collect_projects(scope_groups[i], deep, &items, &n, &cap)) {
			free(items);
			return -1;
		}
	kept = items;
	for (size_t i = 0; i < n; i++) {
		const struct gl_project *p = &gl.p[items[i]];
		if (search && *search && !sim_contains_ci(p->name, search) && !sim_contains_ci(p->path, search))
			continue;
		if (arch && (int)p->archived != archived_set)
			continue;
		kept[m++] = items[i];
	}
	s.term = search;
	cur_sort = s;
	if (m)
		qsort(kept, m, sizeof(int), cmp_proj);
	render_page(resp, base, kept, m, page, per_page, false, simple);
	pagination(resp, req, base, page, per_page, (int64_t)m);
	free(items);
	return 0;
}

static int list_groups(struct sim_response *resp, const struct sim_request *req, const char *base,
		       int gi, bool deep)
{
	int64_t page, per_page;
	struct psort s;
	const char *search = sim_query_get(req, "search");
	int *items = NULL;
	size_t n = 0, cap = 0, m = 0;

	if (!qpage(req, resp, &page, &per_page) || !qorder(req, resp, true, &s))
		return 0;
	if (collect_groups(gi, deep, &items, &n, &cap)) {
		free(items);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct gl_group *g = &gl.g[items[i]];
		if (search && *search && !sim_contains_ci(g->name, search) && !sim_contains_ci(g->path, search))
			continue;
		items[m++] = items[i];
	}
	cur_sort = s;
	if (m)
		qsort(items, m, sizeof(int), cmp_group);
	render_page(resp, base, items, m, page, per_page, true, false);
	pagination(resp, req, base, page, per_page, (int64_t)m);
	free(items);
	return 0;
}

/* The cost of GitLab's recursive query: 0.25 ms per project below the group;
 * past the 15 s statement timeout the request fails with a 500. */
static bool pathology(struct sim_response *resp, int gi)
{
	int *items = NULL;
	size_t n = 0, cap = 0;
	int64_t cost;

	if (collect_projects(gi, true, &items, &n, &cap)) {
		free(items);
		return false;
	}
	free(items);
	cost = (int64_t)n / 4;
	if (cost > 15000) {
		resp->delay_ms = 15000;
		message(resp, 500, "500 Internal Server Error");
		return true;
	}
	resp->delay_ms = (int)cost;
	return false;
}

static void rate_headers(struct sim_ctx *ctx, struct sim_response *resp, long limit, long remaining,
			 int64_t reset_s)
{
	char date[64];
	time_t t = (time_t)reset_s;
	struct tm tm;

	(void)ctx;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	sim_resp_header(resp, "RateLimit-Name", "throttle_authenticated_api");
	sim_resp_headerf(resp, "RateLimit-Limit", "%ld", limit);
	sim_resp_headerf(resp, "RateLimit-Observed", "%ld", limit - remaining);
	sim_resp_headerf(resp, "RateLimit-Remaining", "%ld", remaining);
	sim_resp_headerf(resp, "RateLimit-Reset", "%lld", (long long)reset_s);
	sim_resp_header(resp, "RateLimit-ResetTime", date);
}

static int handle_issue_create(struct sim_response *resp, const struct sim_request *req,
			       const char *base, struct gl_project *p)
{
	json_error_t jerr;
	json_t *in = sim_request_json(req, &jerr), *issue;
	const char *title = in ? json_string_value(json_object_get(in, "title")) : NULL;
	const char *desc = in ? json_string_value(json_object_get(in, "description")) : NULL;
	char *web;

	if (!title || !*title) {
		json_decref(in);
		grape_error(resp, 400, "title is missing");
		return 0;
	}
	web = sim_asprintf("%s/%s/%s/-/issues/%lld", base, gl.g[p->group].full_path, p->path,
			   (long long)p->next_iid);
	issue = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:o, s:s}", "id", (json_int_t)gl.next_issue_id++,
			  "iid", (json_int_t)p->next_iid++, "project_id", (json_int_t)p->id, "title", title,
			  "description", desc ? desc : "", "state", "opened", "created_at",
			  jtime(sim_now_ms()), "web_url", web ? web : "");
	free(web);
	json_decref(in);
	if (!issue)
		return -1;
	json_array_append(gl.issues, issue);
	sim_resp_json(resp, 201, issue);
	return 0;
}

static int route(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		 const char *base)
{
	bool anon, get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
	const struct gl_user *u = caller(ctx, req, &anon);
	long limit, remaining;
	int64_t reset;
	char bucket[64];

	if (!u && !anon) {
		message(resp, 401, "401 Unauthorized");
		return 0;
	}
	snprintf(bucket, sizeof(bucket), "gitlab:%s", u ? u->username : "anonymous");
	if (!sim_ctl_rate_take(ctx, bucket, ctx->opts.gitlab_rate_limit, &limit, &remaining, &reset)) {
		int64_t wait = reset - sim_now_ms() / 1000;
		rate_headers(ctx, resp, limit, remaining, reset);
		sim_resp_headerf(resp, "Retry-After", "%lld", (long long)(wait > 0 ? wait : 1));
		sim_resp_json_text(resp, 429, sim_strdup("Retry later\n"), 12);
		sim_resp_header_del(resp, "Content-Type");
		sim_resp_header(resp, "Content-Type", "text/plain");
		return 0;
	}
	rate_headers(ctx, resp, limit, remaining, reset);

	/* /api/v4/groups/:id[/...] */
	if (req->nseg >= 4 && !strcmp(req->seg[2], "groups")) {
		/* a %00 in the id names no group (the decoded segment would stop at it) */
		struct gl_group *g = strcasestr(req->raw_path, "%00") ? NULL : find_group(req->seg[3]);
		int gi = g ? (int)(g - gl.g) : -1;
		if (!g || !can_see(u, gi)) {
			message(resp, 404, "404 Group Not Found");
			return 0;
		}
		if (req->nseg == 4 && get) {
			int with_projects;
			json_t *j;
			if (!qbool(req, resp, "with_projects", 1, &with_projects))
				return 0;
			j = group_json(base, g);
			if (j && with_projects) {
				json_t *arr = json_array();
				for (size_t i = 0; arr && i < g->nprojects; i++)
					json_array_append_new(arr, project_json(base, &gl.p[g->projects[i]], true));
				json_object_set_new(j, "projects", arr);
				json_object_set_new(j, "shared_projects", json_array());
			}
			sim_resp_json(resp, 200, j);
			return 0;
		}
		if (req->nseg == 5 && get && !strcmp(req->seg[4], "projects")) {
			int deep;
			if (!qbool(req, resp, "include_subgroups", 0, &deep))
				return 0;
			if (deep && pathology(resp, gi))
				return 0;
			return list_projects(resp, req, base, &gi, 1, deep);
		}
		if (req->nseg == 5 && get && !strcmp(req->seg[4], "subgroups"))
			return list_groups(resp, req, base, gi, false);
		if (req->nseg == 5 && get && !strcmp(req->seg[4], "descendant_groups"))
			return list_groups(resp, req, base, gi, true);
	}
	/* /api/v4/projects: the caller's projects (membership or not: all visible ones) */
	if (req->nseg == 3 && get && !strcmp(req->seg[2], "projects")) {
		int *tops = NULL, membership;
		size_t n = 0, cap = 0;
		int rc;
		if (!qbool(req, resp, "membership", 0, &membership))
			return 0;
		for (size_t i = 0; i < gl.ng; i++)
			if (can_see(u, (int)i) && (gl.g[i].parent < 0 || !can_see(u, gl.g[i].parent)) &&
			    push_int(&tops, &n, &cap, (int)i)) {
				free(tops);
				return -1;
			}
		rc = list_projects(resp, req, base, tops, n, true);
		free(tops);
		return rc;
	}
	if (req->nseg >= 4 && !strcmp(req->seg[2], "projects")) {
		struct gl_project *p = sim_map_get(&gl.proj_by_id, req->seg[3]);
		if (!p || !can_see(u, p->group)) {
			message(resp, 404, "404 Project Not Found");
			return 0;
		}
		if (req->nseg == 4 && get) {
			sim_resp_json(resp, 200, project_json(base, p, false));
			return 0;
		}
		if (req->nseg == 5 && !strcmp(req->seg[4], "issues") && !strcmp(req->method, "POST"))
			return handle_issue_create(resp, req, base, p);
		if (req->nseg == 5 && !strcmp(req->seg[4], "issues") && get) {
			json_t *arr = json_array();
			for (size_t i = 0; arr && i < json_array_size(gl.issues); i++) {
				json_t *is = json_array_get(gl.issues, i);
				if (json_integer_value(json_object_get(is, "project_id")) == p->id)
					json_array_append(arr, is);
			}
			sim_resp_json(resp, 200, arr);
			return 0;
		}
	}
	if (req->nseg == 3 && get && !strcmp(req->seg[2], "user") && u) {
		sim_resp_json(resp, 200, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)u->id,
						   "username", u->username, "name", u->username, "state",
						   "active"));
		return 0;
	}
	grape_error(resp, 404, "404 Not Found");
	return 0;
}

static int gitlab_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	bool writer = strcmp(req->method, "GET") && strcmp(req->method, "HEAD");
	char *base;
	int rc;

	atomic_store(&gl_ctx, ctx);
	pthread_once(&gl.once, gl_init);
	if (!gl.ok)
		return -1;
	base = sim_base_url(req);
	if (!base)
		return -1;
	if (writer)
		pthread_rwlock_wrlock(&gl.lock);
	else
		pthread_rwlock_rdlock(&gl.lock);
	rc = route(ctx, req, resp, base);
	pthread_rwlock_unlock(&gl.lock);
	free(base);
	return rc;
}

/* Injected faults the GitLab way: 429 "Retry later" as text, JSON messages otherwise. */
static int gitlab_fault(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
			int status, int retry_after)
{
	(void)ctx;
	(void)req;
	if (status == 429) {
		sim_resp_json_text(resp, 429, sim_strdup("Retry later\n"), 12);
		sim_resp_header_del(resp, "Content-Type");
		sim_resp_header(resp, "Content-Type", "text/plain");
	} else if (status == 204) {
		sim_resp_empty(resp, 204);
	} else {
		char msg[64];
		snprintf(msg, sizeof(msg), "%d %s", status, sim_reason(status));
		message(resp, status, msg);
	}
	if (retry_after >= 0)
		sim_resp_headerf(resp, "Retry-After", "%d", retry_after);
	return 0;
}

const struct sim_upstream sim_upstream_gitlab = {
	.name = "gitlab",
	.prefix = "/api/v4",
	.control = false,
	.locked = false,
	.handle = gitlab_handle,
	.fault = gitlab_fault,
};
