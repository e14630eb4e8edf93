/*
 * gl_index.c: times the GitLab cache index alone (no HTTP) for
 * `make bench-gitlab`: parsing and indexing a stored snapshot, then
 * searches and Sentry's listing pages over it.
 *
 *   gl_index SNAPSHOT.json GROUP_ID TERM...
 */

#include "integrations/gitlab/gl_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	double t = now_ms();
	json_error_t je;
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *data = malloc((size_t)size + 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
		return 1;
	fclose(f);
	data[size] = '\0';
	char *nl = memchr(data, '\n', (size_t)size);
	size_t mlen = nl ? (size_t)(nl - data) : (size_t)size;
	const char *blob = nl ? nl + 1 : NULL;
	size_t blob_len = nl ? (size_t)size - mlen - 1 : 0;
	if (blob_len && blob[blob_len - 1] == '\n')
		blob_len--; /* psql's line end */
	json_t *snap = json_loadb(data, mlen, 0, &je);
	if (!snap) {
		fprintf(stderr, "%s: %s\n", argv[1], je.text);
		return 1;
	}
	double t1 = now_ms();
	struct err e;
	err_clear(&e);
	struct gl_cache *c = gl_cache_build(snap, blob, blob_len, &e);
	double t2 = now_ms();
	json_decref(snap);
	free(data);
	if (!c) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	printf("  snapshot read and parse %.0f ms, index build %.0f ms (%zu projects, %zu groups)\n", t1 - t, t2 - t1,
	       gl_cache_nprojects(c), gl_cache_ngroups(c));
	int gi = gl_cache_find(c, argv[2]);
	int n = 2000;
	double *lat = calloc((size_t)n, sizeof *lat);
	struct buf b;
	buf_init(&b, 0);
	for (int pass = 0; pass < 2; pass++) {
		long matches = 0;
		for (int i = 0; i < n; i++) {
			struct gl_listq q = {.include_subgroups = 1, .simple = 1, .with_shared = 1, .archived = -1,
					     .order = GL_OB_ACTIVITY, .desc = 1, .page = pass ? 1 + i % 10 : 1, .per_page = 100,
					     .search = pass ? NULL : argv[3 + i % (argc - 3)]};
			int64_t total = 0;
			buf_reset(&b);
			double s = now_ms();
			gl_cache_projects(c, &gi, 1, &q, &b, &total);
			lat[i] = now_ms() - s;
			matches += total;
		}
		qsort(lat, (size_t)n, sizeof *lat, cmp);
		printf("  %s: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d calls, %ld matches on average, JSON rendered)\n",
		       pass ? "listing pages 1-10 of 100, last_activity_at desc" : "search, 100 per page",
		       lat[n / 2], lat[n * 99 / 100], lat[n - 1], n, matches / n);
	}
	buf_reset(&b);
	free(lat);
	gl_cache_free(c);
	return 0;
}
