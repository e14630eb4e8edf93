/*
 * open_load.c: the open-loop HTTP load generator of the benchmarks (wrk 4
 * has no fixed-rate mode, and its Lua has no HMAC). Requests start on a
 * fixed schedule of RATE per second for SECONDS, spread over THREADS
 * keep-alive connections; each latency is measured from its scheduled start,
 * so a slow answer delays the ones behind it and shows up in the percentiles
 * (no coordinated omission).
 *
 *   open_load URLS_FILE RATE SECONDS THREADS "Header: value"
 *       GET request i to line i % n of URLS_FILE, with the header
 *       (`make bench-gitlab`, `make bench-slack-directory`).
 *   open_load --sentry-hook URL SECRET BODIES_FILE RATE SECONDS THREADS RID_PREFIX
 *       POST line i % n of BODIES_FILE (one JSON body a line) to URL as a
 *       Sentry integration webhook: Sentry-Hook-Resource: event_alert,
 *       Request-ID: RID_PREFIX-i, Sentry-Hook-Signature: hex HMAC-SHA256 of
 *       the body with SECRET (reference sentry-api.md 6.1) (`make bench-slack`).
 *
 * prints: requests, ok (2xx), errors (transport or non-2xx), p50, p90, p99,
 * max (ms). With OPEN_LOAD_DUMP=FILE, also writes each request's index and
 * latency to FILE (to see when the slow ones happened).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char **lines; /* URLs (GET) or bodies (--sentry-hook) */
static size_t nlines;
static const char *url, *secret, *prefix, *header;
static int hook;
static double rate;
static int secs, nthreads;
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

/* The headers of webhook i: content type, resource, Request-ID, signature. */
static struct curl_slist *hook_headers(size_t i, const char *body, size_t blen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, blen, mac, &maclen);
	char sig[160] = "Sentry-Hook-Signature: ", rid[128];
	size_t o = strlen(sig);
	for (unsigned int k = 0; k < maclen; k++, o += 2)
		snprintf(sig + o, 3, "%02x", mac[k]);
	snprintf(rid, sizeof rid, "Request-ID: %s-%zu", prefix, i);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Sentry-Hook-Resource: event_alert");
	h = curl_slist_append(h, rid);
	return curl_slist_append(h, sig);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	size_t total = (size_t)(rate * secs);
	CURL *c = curl_easy_init();
	struct curl_slist *fixed = hook ? NULL : curl_slist_append(NULL, header);
	if (hook)
		curl_easy_setopt(c, CURLOPT_URL, url);
	else
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, fixed);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	for (size_t i = (size_t)id; i < total; i += (size_t)nthreads) {
		const char *line = lines[i % nlines];
		struct curl_slist *h = NULL;
		if (hook) {
			size_t blen = strlen(line);
			h = hook_headers(i, line, blen);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, line);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
		} else {
			curl_easy_setopt(c, CURLOPT_URL, line);
		}
		int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
		int64_t now = now_ns();
		if (due > now) {
			struct timespec ts = {(time_t)((due - now) / 1000000000), (long)((due - now) % 1000000000)};
			nanosleep(&ts, NULL);
		}
		long code = 0;
		CURLcode rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		lat[i] = (double)(now_ns() - due) / 1e6;
		bad[i] = rc != CURLE_OK || code < 200 || code > 299;
		curl_slist_free_all(h);
	}
	curl_slist_free_all(fixed);
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
	hook = argc > 1 && !strcmp(argv[1], "--sentry-hook");
	if (argc != (hook ? 9 : 6)) {
		fprintf(stderr, "usage: open_load URLS_FILE RATE SECONDS THREADS HEADER\n"
				"       open_load --sentry-hook URL SECRET BODIES_FILE RATE SECONDS THREADS RID_PREFIX\n");
		return 2;
	}
	char **a = hook ? argv + 4 : argv + 1; /* FILE RATE SECONDS THREADS ... */
	if (hook) {
		url = argv[2];
		secret = argv[3];
		prefix = argv[8];
	} else {
		header = argv[5];
	}
	FILE *f = fopen(a[0], "r");
	if (!f)
		return 1;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		char **nl = realloc(lines, (nlines + 1) * sizeof *lines);
		if (!nl)
			return 1;
		lines = nl;
		lines[nlines++] = strdup(line);
	}
	free(line);
	fclose(f);
	rate = atof(a[1]);
	secs = atoi(a[2]);
	nthreads = atoi(a[3]);
	size_t total = (size_t)(rate * secs);
	if (!nlines || !total || nthreads < 1)
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
	const char *dump = getenv("OPEN_LOAD_DUMP"); /* request index and latency, one a line */
	FILE *df = dump ? fopen(dump, "w") : NULL;
	for (size_t i = 0; df && i < total; i++)
		fprintf(df, "%zu %.2f\n", i, lat[i]);
	if (df)
		fclose(df);
	qsort(lat, total, sizeof *lat, cmp);
	printf("requests %zu  ok %zu  errors %zu  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", total,
	       total - errors, errors, lat[total / 2], lat[total * 90 / 100], lat[total * 99 / 100], lat[total - 1]);
	curl_global_cleanup();
	return 0;
}
