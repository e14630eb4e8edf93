/*
 * check_gitlab.c: the pure parts of the GitLab proxy: query parsing
 * (integrations/gitlab/gl_query.c), pagination headers, and the cache
 * index's search, ordering and paging (integrations/gitlab/gl_cache.c).
 */
#include "http.h"
#include "integrations/gitlab/gl_cache.h"
#include "integrations/gitlab/gl_query.h"
#include "suites.h"

#include <stdlib.h>
#include <string.h>

static const char *hdr(const struct http_resp *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strcmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

START_TEST(params_decode)
{
	struct gl_params p;
	ck_assert_int_eq(gl_params_parse("a=1&b=x+y&&c=%2Fz&flag", &p), 0);
	ck_assert_uint_eq(p.n, 4);
	ck_assert_str_eq(gl_params_get(&p, "b"), "x y");
	ck_assert_str_eq(gl_params_get(&p, "c"), "/z");
	ck_assert_str_eq(gl_params_get(&p, "flag"), "");
	ck_assert_ptr_null(gl_params_get(&p, "d"));
	static const char *const ok[] = {"a", "b", "c", "flag", NULL}, *const few[] = {"a", NULL};
	ck_assert_int_eq(gl_params_only(&p, ok), 1);
	ck_assert_int_eq(gl_params_only(&p, few), 0);
	gl_params_free(&p);
	ck_assert_int_eq(gl_params_parse("a=%zz", &p), -1);
	ck_assert_int_eq(gl_params_parse("a=%2", &p), -1);
	ck_assert_int_eq(gl_params_parse("a=%00", &p), -1);
	ck_assert_int_eq(gl_params_parse("", &p), 0);
	ck_assert_uint_eq(p.n, 0);
}
END_TEST

START_TEST(booleans)
{
	ck_assert_int_eq(gl_parse_bool("True"), 1);
	ck_assert_int_eq(gl_parse_bool("true"), 1);
	ck_assert_int_eq(gl_parse_bool("1"), 1);
	ck_assert_int_eq(gl_parse_bool("False"), 0);
	ck_assert_int_eq(gl_parse_bool("0"), 0);
	ck_assert_int_eq(gl_parse_bool("maybe"), -1);
	ck_assert_int_eq(gl_parse_bool(""), -1);
	ck_assert_int_eq(gl_parse_bool(NULL), -1);
}
END_TEST

static int listq(const char *query, enum gl_list_kind kind, struct gl_listq *q, char *msg)
{
	struct gl_params p;
	ck_assert_int_eq(gl_params_parse(query, &p), 0);
	int rc = gl_listq_parse(&p, kind, q, msg, 96);
	q->search = NULL; /* borrowed from p */
	gl_params_free(&p);
	return rc;
}

START_TEST(listing_options)
{
	struct gl_listq q;
	char msg[96];
	ck_assert_int_eq(listq("", GL_LIST_GROUP_PROJECTS, &q, msg), 0);
	ck_assert_int_eq(q.order, GL_OB_CREATED);
	ck_assert_int_eq(q.desc, 1);
	ck_assert_int_eq(q.page, 1);
	ck_assert_int_eq(q.per_page, 20);
	ck_assert_int_eq(q.with_shared, 1);
	ck_assert_int_eq(q.archived, -1);
	ck_assert_int_eq(listq("include_subgroups=True&simple=True&order_by=last_activity_at&page=3&per_page=100",
			       GL_LIST_GROUP_PROJECTS, &q, msg),
			 0);
	ck_assert_int_eq(q.include_subgroups, 1);
	ck_assert_int_eq(q.simple, 1);
	ck_assert_int_eq(q.order, GL_OB_ACTIVITY);
	ck_assert_int_eq(q.page, 3);
	ck_assert_int_eq(listq("per_page=500&page=-2", GL_LIST_GROUP_PROJECTS, &q, msg), 0);
	ck_assert_int_eq(q.per_page, 100);
	ck_assert_int_eq(q.page, 1);
	ck_assert_int_eq(listq("per_page=0", GL_LIST_GROUP_PROJECTS, &q, msg), 400);
	ck_assert_str_eq(msg, "per_page has a value not allowed");
	ck_assert_int_eq(listq("page=abc", GL_LIST_GROUP_PROJECTS, &q, msg), 400);
	ck_assert_str_eq(msg, "page is invalid");
	ck_assert_int_eq(listq("order_by=stars", GL_LIST_GROUP_PROJECTS, &q, msg), 400);
	ck_assert_str_eq(msg, "order_by does not have a valid value");
	ck_assert_int_eq(listq("sort=up", GL_LIST_GROUP_PROJECTS, &q, msg), 400);
	ck_assert_str_eq(msg, "sort does not have a valid value");
	ck_assert_int_eq(listq("include_subgroups=maybe&page=x", GL_LIST_GROUP_PROJECTS, &q, msg), 400);
	ck_assert_str_eq(msg, "include_subgroups is invalid");
	ck_assert_int_eq(listq("archived=nope", GL_LIST_GROUP_PROJECTS, &q, msg), 400);
	ck_assert_str_eq(msg, "archived is invalid");
	/* groups: name asc by default; only id, name, path (similarity means name) */
	ck_assert_int_eq(listq("", GL_LIST_GROUPS, &q, msg), 0);
	ck_assert_int_eq(q.order, GL_OB_NAME);
	ck_assert_int_eq(q.desc, 0);
	ck_assert_int_eq(listq("order_by=last_activity_at", GL_LIST_GROUPS, &q, msg), 400);
	ck_assert_int_eq(listq("order_by=similarity", GL_LIST_GROUPS, &q, msg), 0);
	ck_assert_int_eq(q.order, GL_OB_NAME);
	ck_assert_int_eq(listq("membership=True", GL_LIST_PROJECTS, &q, msg), 0);
	ck_assert_int_eq(q.membership, 1);
	ck_assert_int_eq(q.include_subgroups, 1);
}
END_TEST

START_TEST(link_and_headers)
{
	struct gl_params p;
	ck_assert_int_eq(gl_params_parse("simple=True&search=a+b&page=2&per_page=3", &p), 0);
	char *l = gl_link_header("http://h/gitlab/api/v4/groups/1/projects", &p, 2, 3, 8);
	ck_assert_str_eq(l, "<http://h/gitlab/api/v4/groups/1/projects?page=1&per_page=3&search=a+b&simple=True>; rel=\"prev\", "
			    "<http://h/gitlab/api/v4/groups/1/projects?page=3&per_page=3&search=a+b&simple=True>; rel=\"next\", "
			    "<http://h/gitlab/api/v4/groups/1/projects?page=1&per_page=3&search=a+b&simple=True>; rel=\"first\", "
			    "<http://h/gitlab/api/v4/groups/1/projects?page=3&per_page=3&search=a+b&simple=True>; rel=\"last\"");
	free(l);
	struct http_resp r;
	http_resp_init(&r);
	ck_assert_int_eq(gl_pagination(&r, "http://h/x", &p, 3, 3, 8), 0);
	ck_assert_str_eq(hdr(&r, "X-Page"), "3");
	ck_assert_str_eq(hdr(&r, "X-Per-Page"), "3");
	ck_assert_str_eq(hdr(&r, "X-Next-Page"), "");
	ck_assert_str_eq(hdr(&r, "X-Prev-Page"), "2");
	ck_assert_str_eq(hdr(&r, "X-Total"), "8");
	ck_assert_str_eq(hdr(&r, "X-Total-Pages"), "3");
	http_resp_free(&r);
	/* more than 10,000 records: no totals, no rel="last" */
	http_resp_init(&r);
	ck_assert_int_eq(gl_pagination(&r, "http://h/x", &p, 1, 100, 10001), 0);
	ck_assert_ptr_null(hdr(&r, "X-Total"));
	ck_assert_ptr_null(hdr(&r, "X-Total-Pages"));
	ck_assert_str_eq(hdr(&r, "X-Next-Page"), "2");
	ck_assert_str_eq(hdr(&r, "X-Prev-Page"), "");
	ck_assert_ptr_null(strstr(hdr(&r, "Link"), "rel=\"last\""));
	ck_assert_ptr_nonnull(strstr(hdr(&r, "Link"), "rel=\"first\""));
	http_resp_free(&r);
	/* an empty listing still has one page */
	http_resp_init(&r);
	ck_assert_int_eq(gl_pagination(&r, "http://h/x", &p, 1, 20, 0), 0);
	ck_assert_str_eq(hdr(&r, "X-Total-Pages"), "1");
	http_resp_free(&r);
	gl_params_free(&p);
}
END_TEST

/* acme(1) > platform(2) > sre(3); acme > pay(4); projects in each. */
static struct gl_cache *small_cache(void)
{
	const char *snap =
		"{\"version\":1,\"built_at\":1000,\"roots\":[1],\"groups\":["
		"{\"id\":1,\"name\":\"Acme\",\"path\":\"acme\",\"full_path\":\"acme\",\"parent_id\":null},"
		"{\"id\":3,\"name\":\"SRE\",\"path\":\"sre\",\"full_path\":\"acme/platform/sre\",\"parent_id\":2},"
		"{\"id\":2,\"name\":\"Platform\",\"path\":\"platform\",\"full_path\":\"acme/platform\",\"parent_id\":1},"
		"{\"id\":4,\"name\":\"Pay\",\"path\":\"pay\",\"full_path\":\"acme/pay\",\"parent_id\":1}],"
		"\"projects\":["
		"{\"p\":{\"id\":10,\"name\":\"Handbook\",\"path\":\"handbook\",\"created_at\":\"2024-01-01\",\"star_count\":1,\"last_activity_at\":\"2024-03-01\"},\"group\":1,\"updated_at\":\"2024-02-01\",\"archived\":false},"
		"{\"p\":{\"id\":11,\"name\":\"API Gateway\",\"path\":\"api-gateway\",\"created_at\":\"2024-01-02\",\"star_count\":5,\"last_activity_at\":\"2024-03-05\"},\"group\":2,\"updated_at\":\"2024-02-02\",\"archived\":false},"
		"{\"p\":{\"id\":12,\"name\":\"Runbooks\",\"path\":\"runbooks-api\",\"created_at\":\"2024-01-03\",\"star_count\":2,\"last_activity_at\":\"2024-03-02\"},\"group\":3,\"updated_at\":\"2024-02-03\",\"archived\":false},"
		"{\"p\":{\"id\":13,\"name\":\"Ledger\",\"path\":\"ledger\",\"created_at\":\"2024-01-04\",\"star_count\":0,\"last_activity_at\":\"2024-03-09\"},\"group\":4,\"updated_at\":\"2024-02-04\",\"archived\":true},"
		"{\"p\":{\"id\":14,\"name\":\"api\",\"path\":\"api\",\"created_at\":\"2024-01-05\",\"star_count\":0,\"last_activity_at\":\"2024-03-03\"},\"group\":4,\"updated_at\":\"2024-02-05\",\"archived\":false}"
		"]}";
	json_t *j = json_loads(snap, 0, NULL);
	ck_assert_ptr_nonnull(j);
	struct err e;
	err_clear(&e);
	struct gl_cache *c = gl_cache_build(j, NULL, 0, &e);
	json_decref(j);
	ck_assert_msg(c != NULL, "build: %s", e.msg);
	return c;
}

/* The ids in a JSON array answer, comma-separated. */
static char *ids(const struct buf *b)
{
	json_t *a = json_loads(buf_str(b), 0, NULL);
	ck_assert_ptr_nonnull(a);
	static char out[256];
	out[0] = '\0';
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		char n[24];
		snprintf(n, sizeof n, "%s%lld", i ? "," : "", (long long)json_integer_value(json_object_get(v, "id")));
		strcat(out, n);
	}
	json_decref(a);
	return out;
}

static const char *projects(const struct gl_cache *c, const char *group, const char *query, int64_t *total)
{
	struct gl_params p;
	struct gl_listq q;
	char msg[96];
	struct buf b;
	ck_assert_int_eq(gl_params_parse(query, &p), 0);
	ck_assert_int_eq(gl_listq_parse(&p, GL_LIST_GROUP_PROJECTS, &q, msg, sizeof msg), 0);
	int gi = gl_cache_find(c, group);
	ck_assert_int_ge(gi, 0);
	buf_init(&b, 0);
	ck_assert_int_eq(gl_cache_projects(c, &gi, 1, &q, &b, total), 0);
	const char *r = ids(&b);
	buf_reset(&b);
	gl_params_free(&p);
	return r;
}

START_TEST(cache_projects)
{
	struct gl_cache *c = small_cache();
	int64_t total;
	ck_assert_uint_eq(gl_cache_ngroups(c), 4);
	ck_assert_uint_eq(gl_cache_nprojects(c), 5);
	ck_assert_int_eq(gl_cache_find(c, "ACME/Platform"), gl_cache_find(c, "2"));
	ck_assert_int_eq(gl_cache_find(c, "acme/nope"), -1);
	ck_assert_int_eq(gl_cache_find(c, "99"), -1);
	/* Sentry's listing: newest activity first */
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&order_by=last_activity_at", &total), "13,11,14,12,10");
	ck_assert_int_eq(total, 5);
	ck_assert_str_eq(projects(c, "1", "include_subgroups=false", &total), "10");
	ck_assert_str_eq(projects(c, "acme/platform", "include_subgroups=true&order_by=id&sort=asc", &total), "11,12");
	/* search: case-insensitive substring of name or path */
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&search=API&order_by=id&sort=asc", &total), "11,12,14");
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&search=zz", &total), "");
	ck_assert_int_eq(total, 0);
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&search=api&order_by=similarity", &total), "14,11,12");
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&order_by=name&sort=asc", &total), "11,10,13,12,14");
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&order_by=star_count", &total), "11,12,10,14,13");
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&archived=true", &total), "13");
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&archived=false&order_by=id&sort=asc", &total),
			 "10,11,12,14");
	/* paging */
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&order_by=id&sort=asc&per_page=2&page=2", &total), "12,13");
	ck_assert_int_eq(total, 5);
	ck_assert_str_eq(projects(c, "1", "include_subgroups=true&per_page=2&page=9", &total), "");
	gl_cache_free(c);
}
END_TEST

START_TEST(cache_groups)
{
	struct gl_cache *c = small_cache();
	struct gl_params p;
	struct gl_listq q;
	char msg[96];
	struct buf b;
	int64_t total;
	buf_init(&b, 0);
	ck_assert_int_eq(gl_params_parse("", &p), 0);
	ck_assert_int_eq(gl_listq_parse(&p, GL_LIST_GROUPS, &q, msg, sizeof msg), 0);
	ck_assert_int_eq(gl_cache_groups(c, gl_cache_find(c, "1"), 0, &q, &b, &total), 0);
	ck_assert_str_eq(ids(&b), "4,2"); /* Pay, Platform by name */
	buf_reset(&b);
	ck_assert_int_eq(gl_cache_groups(c, gl_cache_find(c, "1"), 1, &q, &b, &total), 0);
	ck_assert_str_eq(ids(&b), "4,2,3");
	ck_assert_int_eq(total, 3);
	buf_reset(&b);
	gl_params_free(&p);
	ck_assert_int_eq(gl_params_parse("search=SR&order_by=id&sort=desc", &p), 0);
	ck_assert_int_eq(gl_listq_parse(&p, GL_LIST_GROUPS, &q, msg, sizeof msg), 0);
	ck_assert_int_eq(gl_cache_groups(c, gl_cache_find(c, "1"), 1, &q, &b, &total), 0);
	ck_assert_str_eq(ids(&b), "3");
	buf_reset(&b);
	gl_params_free(&p);
	ck_assert_int_eq(gl_cache_group_detail(c, gl_cache_find(c, "4"), 1, &b), 0);
	json_t *g = json_loads(buf_str(&b), 0, NULL);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(json_array_size(json_object_get(g, "projects")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(g, "shared_projects")), 0);
	json_decref(g);
	buf_reset(&b);
	size_t nr;
	const int *roots = gl_cache_roots(c, &nr);
	ck_assert_uint_eq(nr, 1);
	ck_assert_int_eq(gl_cache_group_id(c, roots[0]), 1);
	gl_cache_free(c);
}
END_TEST

START_TEST(cache_bad_snapshots)
{
	struct err e;
	err_clear(&e);
	json_t *j = json_loads("{\"groups\":[],\"projects\":[],\"roots\":[7]}", 0, NULL);
	ck_assert_ptr_null(gl_cache_build(j, NULL, 0, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "root group 7"));
	json_decref(j);
	j = json_loads("{\"groups\":{}}", 0, NULL);
	ck_assert_ptr_null(gl_cache_build(j, NULL, 0, &e));
	json_decref(j);
	/* the stored form: entity texts in a blob after the snapshot */
	const char *blob = "{\"id\":1,\"x\":1}{\"id\":5}";
	j = json_loads("{\"roots\":[1],\"groups\":[{\"id\":1,\"jo\":0,\"jl\":14}],"
		       "\"projects\":[{\"id\":5,\"group\":1,\"jo\":14,\"jl\":8}]}", 0, NULL);
	struct gl_cache *cb = gl_cache_build(j, blob, strlen(blob), &e);
	ck_assert_ptr_nonnull(cb);
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(gl_cache_group_detail(cb, 0, 1, &b), 0);
	ck_assert_str_eq(buf_str(&b), "{\"id\":1,\"x\":1,\"projects\":[{\"id\":5}],\"shared_projects\":[]}");
	buf_reset(&b);
	gl_cache_free(cb);
	ck_assert_ptr_null(gl_cache_build(j, blob, 10, &e)); /* out of bounds */
	json_decref(j);
	/* a cycle does not loop */
	j = json_loads("{\"roots\":[1],\"projects\":[],\"groups\":[{\"id\":1,\"parent_id\":2},{\"id\":2,\"parent_id\":1}]}", 0,
		       NULL);
	struct gl_cache *c = gl_cache_build(j, NULL, 0, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(gl_cache_ngroups(c), 2);
	gl_cache_free(c);
	json_decref(j);
}
END_TEST

Suite *gitlab_suite(void)
{
	Suite *s = suite_create("gitlab");
	TCase *t = tcase_create("query");
	tcase_add_test(t, params_decode);
	tcase_add_test(t, booleans);
	tcase_add_test(t, listing_options);
	tcase_add_test(t, link_and_headers);
	suite_add_tcase(s, t);
	t = tcase_create("cache");
	tcase_add_test(t, cache_projects);
	tcase_add_test(t, cache_groups);
	tcase_add_test(t, cache_bad_snapshots);
	suite_add_tcase(s, t);
	return s;
}
