/*
 * gl_load.c: an open-loop HTTP load generator for `make bench-gitlab`
 * (wrk 4 has no fixed-rate mode). Requests start on a fixed schedule of
 * RATE per second for SECONDS, spread over THREADS keep-alive connections;
 * each latency is measured from its scheduled start, so a slow answer
 * delays the ones behind it and shows up in the percentiles (no
 * coordinated omission).
 *
 *   gl_load URLS_FILE RATE SECONDS THREADS "Header: value"
 *
 * prints: requests, errors (transport or non-2xx), p50, p90, p99, max (ms).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char **urls;
static size_t nurls;
static double rate;
static int secs, nthreads;
static const char *header;
static double *lat;
static int *bad;
static int64_t t0;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	size_t total = (size_t)(rate * secs);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	for (size_t i = (size_t)id; i < total; i += (size_t)nthreads) {
		int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
		int64_t now = now_ns();
		if (due > now) {
			struct timespec ts = {(time_t)((due - now) / 1000000000), (long)((due - now) % 1000000000)};
			nanosleep(&ts, NULL);
		}
		curl_easy_setopt(c, CURLOPT_URL, urls[i % nurls]);
		long code = 0;
		CURLcode rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		lat[i] = (double)(now_ns() - due) / 1e6;
		bad[i] = rc != CURLE_OK || code < 200 || code > 299;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: gl_load URLS_FILE RATE SECONDS THREADS HEADER\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f)
		return 1;
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		urls = realloc(urls, (nurls + 1) * sizeof *urls);
		urls[nurls++] = strdup(line);
	}
	fclose(f);
	rate = atof(argv[2]);
	secs = atoi(argv[3]);
	nthreads = atoi(argv[4]);
	header = argv[5];
	size_t total = (size_t)(rate * secs);
	if (!nurls || !total || nthreads < 1)
		return 2;
	lat = calloc(total, sizeof *lat);
	bad = calloc(total, sizeof *bad);
	curl_global_init(CURL_GLOBAL_ALL);
	pthread_t *th = calloc((size_t)nthreads, sizeof *th);
	t0 = now_ns() + 50000000;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	size_t errors = 0;
	for (size_t i = 0; i < total; i++)
		errors += (size_t)bad[i];
	qsort(lat, total, sizeof *lat, cmp);
	printf("requests %zu  errors %zu  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", total, errors,
	       lat[total / 2], lat[total * 90 / 100], lat[total * 99 / 100], lat[total - 1]);
	curl_global_cleanup();
	return 0;
}
