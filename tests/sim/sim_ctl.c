/*
 * sim_ctl.c: the simulator's control plane and its /_sim/... API.
 *
 *  - fault rules (latency, status, drop, truncate, slow body) matched by
 *    method + path glob, consumed in creation order;
 *  - the request log: a bounded ring of the upstream requests answered;
 *  - rate-limit windows (per named bucket, 60 s from first use) that the
 *    Okta simulator uses for X-Rate-Limit-*;
 *  - state inspection, replacement and reset.
 *
 * Control calls need no auth and are never delayed, faulted or logged.
 */
#include "sim.h"

#include "sim_oktalog.h"
#include "sim_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Ring size of the request log. */
#define SIM_LOG_CAP 100000

/* Maximum number of fault rules. */
#define SIM_MAX_FAULTS 1000

/* One recorded request. */
struct log_entry {
	uint64_t seq;        /* log sequence number, 1-based, in recording order */
	char *strs;          /* "method\0path\0query\0" in one allocation */
	const char *upstream;/* static string */
	int status;          /* 0 = connection dropped */
	int64_t fault_id;
	int64_t t_ms;
};

/* One fault rule. */
struct fault_rule {
	int64_t id;
	char *match;         /* the original "METHOD glob" text */
	char *method;        /* NULL = any */
	char *glob;          /* path glob */
	char *query_glob;    /* NULL = any query */
	struct sim_fault_effect eff;
	int64_t count;       /* 0 = unlimited */
	int64_t remaining;
	int64_t skip;        /* matching requests to let through first */
	int64_t skipped;
	double probability;  /* < 0: always */
	uint64_t rng;
	int64_t hits;        /* times applied */
	int64_t seen;        /* matching requests seen */
};

/* One rate-limit window. */
struct rate_bucket {
	char *name;
	int64_t start_ms;    /* wall clock; 0 = no window yet */
	long used;
};

struct sim_ctl {
	pthread_mutex_t lock;        /* guards everything below */
	struct log_entry *log;       /* ring of SIM_LOG_CAP */
	uint64_t log_next;           /* next log sequence number */
	struct fault_rule **faults;
	size_t nfaults;
	int64_t next_fault_id;
	struct rate_bucket *buckets;
	size_t nbuckets;
	long rate_override;          /* > 0: replaces every bucket's limit */
};

/* ---- lifecycle ------------------------------------------------------------------------ */

/* New control plane. */
struct sim_ctl *sim_ctl_new(void)
{
	struct sim_ctl *ctl = calloc(1, sizeof(*ctl));

	if (!ctl)
		return NULL;
	ctl->log = calloc(SIM_LOG_CAP, sizeof(*ctl->log));
	if (!ctl->log) {
		free(ctl);
		return NULL;
	}
	pthread_mutex_init(&ctl->lock, NULL);
	ctl->log_next = 1;
	ctl->next_fault_id = 1;
	return ctl;
}

/* Free one fault rule. */
static void fault_free(struct fault_rule *f)
{
	if (!f)
		return;
	free(f->match);
	free(f->method);
	free(f->glob);
	free(f->query_glob);
	free(f);
}

/* Drop all log entries (lock held). */
static void log_clear(struct sim_ctl *ctl)
{
	size_t i;

	for (i = 0; i < SIM_LOG_CAP; i++) {
		free(ctl->log[i].strs);
		memset(&ctl->log[i], 0, sizeof(ctl->log[i]));
	}
}

/* Drop all faults (lock held). */
static void faults_clear(struct sim_ctl *ctl)
{
	size_t i;

	for (i = 0; i < ctl->nfaults; i++)
		fault_free(ctl->faults[i]);
	ctl->nfaults = 0;
}

/* Drop all rate windows (lock held). */
static void buckets_clear(struct sim_ctl *ctl)
{
	size_t i;

	for (i = 0; i < ctl->nbuckets; i++) {
		ctl->buckets[i].start_ms = 0;
		ctl->buckets[i].used = 0;
	}
}

/* Free. */
void sim_ctl_free(struct sim_ctl *ctl)
{
	size_t i;

	if (!ctl)
		return;
	log_clear(ctl);
	faults_clear(ctl);
	free(ctl->faults);
	free(ctl->log);
	for (i = 0; i < ctl->nbuckets; i++)
		free(ctl->buckets[i].name);
	free(ctl->buckets);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}

/* Reset faults, log and rate windows. */
void sim_ctl_reset(struct sim_ctx *ctx)
{
	struct sim_ctl *ctl = ctx->ctl;

	pthread_mutex_lock(&ctl->lock);
	log_clear(ctl);
	faults_clear(ctl);
	buckets_clear(ctl);
	ctl->rate_override = 0;
	pthread_mutex_unlock(&ctl->lock);
}

/* ---- request log ------------------------------------------------------------------------ */

/* Record one answered (or dropped) upstream request. */
void sim_ctl_log_request(struct sim_ctx *ctx, const struct sim_request *req, const char *upstream,
			 int status, int64_t fault_id)
{
	struct sim_ctl *ctl = ctx->ctl;
	const char *m = req->method ? req->method : "";
	const char *p = req->raw_path ? req->raw_path : "";
	const char *q = req->raw_query ? req->raw_query : "";
	size_t lm = strlen(m) + 1, lp = strlen(p) + 1, lq = strlen(q) + 1;
	char *strs = malloc(lm + lp + lq);
	struct log_entry *e;

	if (!strs)
		return; /* the log is best effort under memory pressure */
	memcpy(strs, m, lm);
	memcpy(strs + lm, p, lp);
	memcpy(strs + lm + lp, q, lq);
	pthread_mutex_lock(&ctl->lock);
	e = &ctl->log[(ctl->log_next - 1) % SIM_LOG_CAP];
	free(e->strs);
	e->seq = ctl->log_next++;
	e->strs = strs;
	e->upstream = upstream;
	e->status = status;
	e->fault_id = fault_id;
	e->t_ms = sim_now_ms();
	pthread_mutex_unlock(&ctl->lock);
}

/* GET /_sim/requests[?since=SEQ][&upstream=NAME][&limit=N]. */
static int ctl_get_requests(struct sim_ctx *ctx, const struct sim_request *req,
			    struct sim_response *resp)
{
	struct sim_ctl *ctl = ctx->ctl;
	const char *up = sim_query_get(req, "upstream");
	int64_t since = 0, limit = SIM_LOG_CAP;
	json_t *arr = json_array(), *o;
	uint64_t s, first, next;
	int64_t n = 0;

	if (!arr)
		return -1;
	if (sim_query_get(req, "since") && !sim_parse_i64(sim_query_get(req, "since"), &since)) {
		json_decref(arr);
		sim_resp_json(resp, 400, json_pack("{s:s}", "detail", "since must be an integer"));
		return 0;
	}
	if (sim_query_get(req, "limit") &&
	    (!sim_parse_i64(sim_query_get(req, "limit"), &limit) || limit < 0)) {
		json_decref(arr);
		sim_resp_json(resp, 400, json_pack("{s:s}", "detail", "limit must be an integer"));
		return 0;
	}
	pthread_mutex_lock(&ctl->lock);
	next = ctl->log_next;
	first = next > SIM_LOG_CAP ? next - SIM_LOG_CAP : 1;
	s = since > 0 && (uint64_t)since > first ? (uint64_t)since : first;
	for (; s < next && n < limit; s++) {
		const struct log_entry *e = &ctl->log[(s - 1) % SIM_LOG_CAP];
		const char *m = e->strs, *p, *q;
		char ts[SIM_TIME_BUFSZ];

		if (!m || e->seq != s)
			continue;
		if (up && strcmp(up, e->upstream) != 0)
			continue;
		p = m + strlen(m) + 1;
		q = p + strlen(p) + 1;
		sim_fmt_okta_time(e->t_ms, ts);
		o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s}", "seq", (json_int_t)e->seq,
			      "method", m, "path", p, "query", q, "status", e->status,
			      "upstream", e->upstream, "time", ts);
		if (o && e->fault_id &&
		    json_object_set_new(o, "fault", json_integer((json_int_t)e->fault_id))) {
			json_decref(o);
			o = NULL;
		}
		if (json_array_append_new(arr, o)) {
			pthread_mutex_unlock(&ctl->lock);
			json_decref(arr);
			return -1;
		}
		n++;
	}
	/* "next" resumes right after what was returned (or after everything) */
	pthread_mutex_unlock(&ctl->lock);
	sim_resp_json(resp, 200, json_pack("{s:o, s:I, s:I}", "requests", arr,
					   "next", (json_int_t)s, "count", (json_int_t)n));
	return 0;
}

/* ---- faults ----------------------------------------------------------------------------- */

/* Does rule f match this request? (lock held) */
static bool fault_matches(const struct fault_rule *f, const struct sim_request *req)
{
	if (f->method && strcasecmp(f->method, req->method) != 0)
		return false;
	if (!sim_glob(f->glob, req->raw_path))
		return false;
	if (f->query_glob && !sim_glob(f->query_glob, req->raw_query ? req->raw_query : ""))
		return false;
	return true;
}

/* Pick and consume the first applicable fault. */
bool sim_ctl_fault_pick(struct sim_ctx *ctx, const struct sim_request *req,
			struct sim_fault_effect *eff)
{
	struct sim_ctl *ctl = ctx->ctl;
	bool found = false;
	size_t i;

	pthread_mutex_lock(&ctl->lock);
	for (i = 0; i < ctl->nfaults && !found; i++) {
		struct fault_rule *f = ctl->faults[i];

		if (!fault_matches(f, req))
			continue;
		f->seen++;
		if (f->skipped < f->skip) {
			f->skipped++;
			continue;
		}
		if (f->count > 0 && f->remaining <= 0)
			continue;
		if (f->probability >= 0 && sim_rand01(&f->rng) >= f->probability)
			continue;
		if (f->count > 0)
			f->remaining--;
		f->hits++;
		*eff = f->eff;
		found = true;
	}
	pthread_mutex_unlock(&ctl->lock);
	return found;
}

/* JSON view of a rule (lock held). */
static json_t *fault_json(const struct fault_rule *f)
{
	json_t *o = json_pack("{s:I, s:s, s:i, s:b, s:b, s:i, s:I, s:I, s:I, s:I, s:b}",
			      "id", (json_int_t)f->id, "match", f->match,
			      "latency_ms", f->eff.latency_ms, "drop", f->eff.drop,
			      "truncate", f->eff.truncate, "slow_body_ms", f->eff.slow_body_ms,
			      "count", (json_int_t)f->count, "remaining", (json_int_t)f->remaining,
			      "skip", (json_int_t)f->skip, "hits", (json_int_t)f->hits,
			      "apply", f->eff.apply);

	int bad = 0;

	if (!o)
		return NULL;
	bad |= json_object_set_new(o, "seen", json_integer((json_int_t)f->seen));
	bad |= json_object_set_new(o, "status", f->eff.status ? json_integer(f->eff.status) : json_null());
	bad |= json_object_set_new(o, "retry_after",
				   f->eff.retry_after >= 0 ? json_integer(f->eff.retry_after) : json_null());
	bad |= json_object_set_new(o, "query", f->query_glob ? json_string(f->query_glob) : json_null());
	bad |= json_object_set_new(o, "probability",
				   f->probability >= 0 ? json_real(f->probability) : json_null());
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Read an optional non-negative integer field; -1 if present but invalid. */
static int opt_int(const json_t *body, const char *key, int64_t dflt, int64_t max, int64_t *out)
{
	const json_t *v = json_object_get(body, key);

	*out = dflt;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* Reply 400 {"detail": msg}. */
static int bad_request(struct sim_response *resp, const char *msg)
{
	sim_resp_json(resp, 400, json_pack("{s:s}", "detail", msg));
	return 0;
}

/* POST /_sim/faults. */
static int ctl_post_fault(struct sim_ctx *ctx, const struct sim_request *req,
			  struct sim_response *resp)
{
	struct sim_ctl *ctl = ctx->ctl;
	json_error_t jerr;
	json_t *body = sim_request_json(req, &jerr), *out;
	struct fault_rule *f = NULL;
	const char *match, *sp;
	const json_t *v;
	int64_t x;
	int rc = -1;

	if (!json_is_object(body)) {
		rc = bad_request(resp, "body must be a JSON object");
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	match = json_string_value(json_object_get(body, "match"));
	if (!match)
		match = "*";
	if (!(f->match = strdup(match)))
		goto out;
	sp = strchr(match, ' ');
	if (sp) {
		if (!(f->method = sim_strndup(match, (size_t)(sp - match))))
			goto out;
		while (*sp == ' ')
			sp++;
		if (strcmp(f->method, "*") == 0) {
			free(f->method);
			f->method = NULL;
		}
		if (!(f->glob = strdup(*sp ? sp : "*")))
			goto out;
	} else if (!(f->glob = strdup(match))) {
		goto out;
	}
	if (json_is_string(json_object_get(body, "query")) &&
	    !(f->query_glob = strdup(json_string_value(json_object_get(body, "query")))))
		goto out;
	if (opt_int(body, "latency_ms", 0, 3600000, &x)) {
		rc = bad_request(resp, "latency_ms must be an integer in 0..3600000");
		goto out;
	}
	f->eff.latency_ms = (int)x;
	if (opt_int(body, "status", 0, 599, &x) || (x != 0 && x < 100)) {
		rc = bad_request(resp, "status must be an HTTP status code");
		goto out;
	}
	f->eff.status = (int)x;
	if (opt_int(body, "retry_after", -1, 86400, &x)) {
		rc = bad_request(resp, "retry_after must be an integer in 0..86400");
		goto out;
	}
	f->eff.retry_after = (int)x;
	if (opt_int(body, "slow_body_ms", 0, 3600000, &x)) {
		rc = bad_request(resp, "slow_body_ms must be an integer in 0..3600000");
		goto out;
	}
	f->eff.slow_body_ms = (int)x;
	if (opt_int(body, "count", 0, INT64_C(1) << 40, &f->count) ||
	    opt_int(body, "skip", 0, INT64_C(1) << 40, &f->skip)) {
		rc = bad_request(resp, "count and skip must be non-negative integers");
		goto out;
	}
	f->remaining = f->count;
	f->eff.drop = json_is_true(json_object_get(body, "drop"));
	f->eff.truncate = json_is_true(json_object_get(body, "truncate"));
	f->eff.apply = json_is_true(json_object_get(body, "apply"));
	f->probability = -1;
	v = json_object_get(body, "probability");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
			rc = bad_request(resp, "probability must be a number in 0..1");
			goto out;
		}
		f->probability = json_number_value(v);
	}
	pthread_mutex_lock(&ctl->lock);
	if (ctl->nfaults >= SIM_MAX_FAULTS) {
		pthread_mutex_unlock(&ctl->lock);
		rc = bad_request(resp, "too many fault rules");
		goto out;
	}
	if (!ctl->faults) {
		ctl->faults = calloc(SIM_MAX_FAULTS, sizeof(*ctl->faults));
		if (!ctl->faults) {
			pthread_mutex_unlock(&ctl->lock);
			goto out;
		}
	}
	f->id = ctl->next_fault_id++;
	f->eff.id = f->id;
	/* deterministic per rule: same seed and rule id -> same dice */
	f->rng = sim_mix64(ctx->opts.seed ^ ((uint64_t)f->id * 0x9e3779b97f4a7c15ULL));
	ctl->faults[ctl->nfaults++] = f;
	out = fault_json(f);
	f = NULL;
	pthread_mutex_unlock(&ctl->lock);
	sim_resp_json(resp, 201, out);
	rc = 0;
out:
	fault_free(f);
	json_decref(body);
	return rc;
}

/* GET /_sim/faults. */
static int ctl_get_faults(struct sim_ctx *ctx, struct sim_response *resp)
{
	struct sim_ctl *ctl = ctx->ctl;
	json_t *arr = json_array();
	size_t i;
	int bad = 0;

	if (!arr)
		return -1;
	pthread_mutex_lock(&ctl->lock);
	for (i = 0; i < ctl->nfaults; i++)
		bad |= json_array_append_new(arr, fault_json(ctl->faults[i]));
	pthread_mutex_unlock(&ctl->lock);
	if (bad) {
		json_decref(arr);
		return -1;
	}
	sim_resp_json(resp, 200, json_pack("{s:o}", "faults", arr));
	return 0;
}

/* DELETE /_sim/faults[/{id}]. */
static int ctl_delete_faults(struct sim_ctx *ctx, const char *id_s, struct sim_response *resp)
{
	struct sim_ctl *ctl = ctx->ctl;
	int64_t id;
	size_t i;

	pthread_mutex_lock(&ctl->lock);
	if (!id_s) {
		faults_clear(ctl);
		pthread_mutex_unlock(&ctl->lock);
		sim_resp_empty(resp, 204);
		return 0;
	}
	if (sim_parse_i64(id_s, &id)) {
		for (i = 0; i < ctl->nfaults; i++) {
			if (ctl->faults[i]->id == id) {
				fault_free(ctl->faults[i]);
				memmove(&ctl->faults[i], &ctl->faults[i + 1],
					(ctl->nfaults - i - 1) * sizeof(ctl->faults[0]));
				ctl->nfaults--;
				pthread_mutex_unlock(&ctl->lock);
				sim_resp_empty(resp, 204);
				return 0;
			}
		}
	}
	pthread_mutex_unlock(&ctl->lock);
	sim_resp_json(resp, 404, json_pack("{s:s}", "detail", "no such fault"));
	return 0;
}

/* ---- rate limits ------------------------------------------------------------------------- */

/* Bucket by name, created on first use (lock held); NULL on OOM. */
static struct rate_bucket *bucket_get(struct sim_ctl *ctl, const char *name)
{
	struct rate_bucket *b;
	size_t i;

	for (i = 0; i < ctl->nbuckets; i++)
		if (strcmp(ctl->buckets[i].name, name) == 0)
			return &ctl->buckets[i];
	b = realloc(ctl->buckets, (ctl->nbuckets + 1) * sizeof(*b));
	if (!b)
		return NULL;
	ctl->buckets = b;
	b = &ctl->buckets[ctl->nbuckets];
	memset(b, 0, sizeof(*b));
	b->name = strdup(name);
	if (!b->name)
		return NULL;
	ctl->nbuckets++;
	return b;
}

/* Start a new window if none is open (lock held). */
static void bucket_roll(struct rate_bucket *b, int64_t now)
{
	if (b->start_ms == 0 || now >= b->start_ms + 60000) {
		b->start_ms = now;
		b->used = 0;
	}
}

/* Take one request from a bucket. */
bool sim_ctl_rate_take(struct sim_ctx *ctx, const char *bucket, long limit, long *out_limit,
		       long *out_remaining, int64_t *out_reset_s)
{
	struct sim_ctl *ctl = ctx->ctl;
	int64_t now = sim_now_ms();
	struct rate_bucket *b;
	bool ok = true;

	pthread_mutex_lock(&ctl->lock);
	if (ctl->rate_override > 0)
		limit = ctl->rate_override;
	b = bucket_get(ctl, bucket);
	*out_limit = limit;
	if (!b) {
		*out_remaining = limit;
		*out_reset_s = (now + 60000) / 1000;
		goto out;
	}
	bucket_roll(b, now);
	if (b->used < limit) {
		b->used++;
	} else {
		ok = false;
	}
	*out_remaining = limit - b->used;
	*out_reset_s = (b->start_ms + 60000 + 999) / 1000;
out:
	pthread_mutex_unlock(&ctl->lock);
	return ok;
}

/* Peek at a bucket's window. */
void sim_ctl_rate_peek(struct sim_ctx *ctx, const char *bucket, long limit, long *out_limit,
		       long *out_remaining, int64_t *out_reset_s)
{
	struct sim_ctl *ctl = ctx->ctl;
	int64_t now = sim_now_ms();
	struct rate_bucket *b;

	pthread_mutex_lock(&ctl->lock);
	if (ctl->rate_override > 0)
		limit = ctl->rate_override;
	*out_limit = limit;
	b = bucket_get(ctl, bucket);
	if (b)
		bucket_roll(b, now);
	*out_remaining = b ? (b->used < limit ? limit - b->used : 0) : limit;
	*out_reset_s = b ? (b->start_ms + 60000 + 999) / 1000 : (now + 60000) / 1000;
	pthread_mutex_unlock(&ctl->lock);
}

/* GET /_sim/rate-limits. */
static int ctl_get_rates(struct sim_ctx *ctx, struct sim_response *resp)
{
	struct sim_ctl *ctl = ctx->ctl;
	json_t *arr = json_array();
	int64_t now = sim_now_ms();
	size_t i;
	int bad = 0;

	if (!arr)
		return -1;
	pthread_mutex_lock(&ctl->lock);
	for (i = 0; i < ctl->nbuckets; i++) {
		const struct rate_bucket *b = &ctl->buckets[i];
		bool open = b->start_ms && now < b->start_ms + 60000;

		bad |= json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "bucket", b->name,
			"used", (json_int_t)(open ? b->used : 0),
			"reset", (json_int_t)(open ? (b->start_ms + 60000 + 999) / 1000 : 0)));
	}
	if (bad) {
		pthread_mutex_unlock(&ctl->lock);
		json_decref(arr);
		return -1;
	}
	sim_resp_json(resp, 200, json_pack("{s:I, s:o}", "limit",
		(json_int_t)(ctl->rate_override > 0 ? ctl->rate_override : ctx->opts.okta_rate_limit),
		"buckets", arr));
	pthread_mutex_unlock(&ctl->lock);
	return 0;
}

/* PUT /_sim/rate-limits {"limit": N} (0 = back to --okta-rate-limit); windows restart. */
static int ctl_put_rates(struct sim_ctx *ctx, const struct sim_request *req,
			 struct sim_response *resp)
{
	struct sim_ctl *ctl = ctx->ctl;
	json_t *body = sim_request_json(req, NULL);
	int64_t limit;

	if (!json_is_object(body) || opt_int(body, "limit", 0, INT64_C(1) << 40, &limit)) {
		json_decref(body);
		return bad_request(resp, "body must be {\"limit\": N}");
	}
	json_decref(body);
	pthread_mutex_lock(&ctl->lock);
	ctl->rate_override = (long)limit;
	buckets_clear(ctl);
	pthread_mutex_unlock(&ctl->lock);
	return ctl_get_rates(ctx, resp);
}

/* ---- state --------------------------------------------------------------------------------- */

/* Build a state from the start options, optionally overridden by a reset body. */
static int build_state(struct sim_ctx *ctx, const json_t *over, struct sim_state **out, char **err)
{
	const char *org = ctx->opts.org;
	const json_t *fx = ctx->start_fixture;
	int64_t users = ctx->opts.users, groups = ctx->opts.groups;
	int64_t seed = (int64_t)ctx->opts.seed;
	bool demo = !fx && users <= 0;

	if (json_is_object(over) && json_object_size(over) > 0) {
		if (json_is_string(json_object_get(over, "org")))
			org = json_string_value(json_object_get(over, "org"));
		if (json_object_get(over, "fixture")) {
			fx = json_object_get(over, "fixture");
			demo = false;
			users = 0;
		} else if (json_is_true(json_object_get(over, "demo"))) {
			fx = NULL;
			demo = true;
		} else if (json_object_get(over, "users")) {
			fx = NULL;
			demo = false;
			if (opt_int(over, "users", 0, 10000000, &users) ||
			    opt_int(over, "groups", 10, 100000, &groups) ||
			    opt_int(over, "seed", (int64_t)ctx->opts.seed, INT64_MAX, &seed)) {
				*err = sim_asprintf("users/groups/seed must be non-negative integers");
				return -1;
			}
		}
	}
	if (fx)
		return sim_state_from_fixture(fx, ctx->opts.org_explicit || org != ctx->opts.org ? org : NULL,
					      out, err);
	if (!demo && users > 0) {
		if (sim_seed_generate(org, (int)users, (int)groups, (uint64_t)seed, out)) {
			*err = sim_asprintf("cannot generate the state (out of memory?)");
			return -1;
		}
		return 0;
	}
	if (sim_seed_demo(org, out)) {
		*err = sim_asprintf("cannot build the demo state (out of memory?)");
		return -1;
	}
	return 0;
}

/* The state the process started with. */
int sim_build_start_state(struct sim_ctx *ctx, struct sim_state **out, char **err)
{
	return build_state(ctx, NULL, out, err);
}

/*
 * Swap in a new state (takes the write lock) and free the old one. With
 * diff, the Okta changes between the two go to the System Log (and hooks).
 */
static void swap_state(struct sim_ctx *ctx, struct sim_state *st, bool diff)
{
	struct sim_state *old;

	pthread_rwlock_wrlock(&ctx->lock);
	if (diff)
		sim_okta_diff_events(ctx, ctx->state, st);
	old = ctx->state;
	ctx->state = st;
	pthread_rwlock_unlock(&ctx->lock);
	sim_state_free(old);
}

/* Reply with the state summary. */
static int reply_summary(struct sim_ctx *ctx, struct sim_response *resp, int status)
{
	json_t *s;

	pthread_rwlock_rdlock(&ctx->lock);
	s = sim_state_summary(ctx->state);
	pthread_rwlock_unlock(&ctx->lock);
	sim_resp_json(resp, status, s);
	return 0;
}

/* GET /_sim/state[?full=1]. */
static int ctl_get_state(struct sim_ctx *ctx, const struct sim_request *req,
			 struct sim_response *resp)
{
	const char *full = sim_query_get(req, "full");
	json_t *d;

	if (!full || strcmp(full, "1") != 0)
		return reply_summary(ctx, resp, 200);
	pthread_rwlock_rdlock(&ctx->lock);
	d = sim_state_dump(ctx->state);
	if (d && json_object_set_new(d, "summary", sim_state_summary(ctx->state))) {
		json_decref(d);
		d = NULL;
	}
	pthread_rwlock_unlock(&ctx->lock);
	sim_resp_json(resp, 200, d);
	return 0;
}

/* POST /_sim/state (fixture) and POST /_sim/reset (optional overrides). */
static int ctl_replace_state(struct sim_ctx *ctx, const struct sim_request *req,
			     struct sim_response *resp, bool reset)
{
	json_error_t jerr;
	json_t *body = NULL, *wrap = NULL;
	struct sim_state *st = NULL;
	char *err = NULL;
	int rc = -1;

	if (req->body_len) {
		body = sim_request_json(req, &jerr);
		if (!json_is_object(body)) {
			char *msg = sim_asprintf("invalid JSON body: %s", jerr.text);

			rc = bad_request(resp, msg ? msg : "invalid JSON body");
			free(msg);
			goto out;
		}
	} else if (!reset) {
		rc = bad_request(resp, "a fixture JSON body is required");
		goto out;
	}
	if (!reset) {
		wrap = json_pack("{s:O}", "fixture", body);
		if (!wrap)
			goto out;
	}
	if (build_state(ctx, reset ? body : wrap, &st, &err)) {
		rc = bad_request(resp, err ? err : "cannot build the state");
		goto out;
	}
	if (reset) {
		sim_ctl_reset(ctx);
		okta_log_reset(ctx->oktalog);
	}
	swap_state(ctx, st, !reset);
	rc = reply_summary(ctx, resp, 200);
out:
	free(err);
	json_decref(wrap);
	json_decref(body);
	return rc;
}

/* POST /_sim/sentry/members/{id}/accept: a pending invite becomes a full member. */
static int ctl_accept_invite(struct sim_ctx *ctx, const struct sim_request *req, const char *id_s,
			     struct sim_response *resp)
{
	json_t *body = req->body_len ? sim_request_json(req, NULL) : NULL;
	const char *name = json_string_value(json_object_get(body, "name"));
	struct sentry_member *m;
	int64_t id;
	char *n;
	int rc = 0;

	pthread_rwlock_wrlock(&ctx->lock);
	if (!sim_parse_i64(id_s, &id) || !(m = sentry_member_find(&ctx->state->sentry, id))) {
		sim_resp_json(resp, 404, json_pack("{s:s}", "detail", "no such member"));
		goto out;
	}
	if (m->user_id) {
		rc = bad_request(resp, "member is not a pending invite");
		goto out;
	}
	n = strdup(name ? name : m->email);
	if (!n) {
		rc = -1;
		goto out;
	}
	free(m->name);
	m->name = n;
	m->user_id = ctx->state->sentry.next_user_id++;
	m->expired = false;
	if (json_is_true(json_object_get(body, "ssoLinked")))
		m->flags |= SENTRY_FLAG_SSO_LINKED;
	sim_resp_json(resp, 200, json_pack("{s:I, s:s, s:I}", "id", (json_int_t)m->id,
					   "email", m->email, "userId", (json_int_t)m->user_id));
out:
	pthread_rwlock_unlock(&ctx->lock);
	json_decref(body);
	return rc;
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

/* 404/405 helpers for the control API. */
static int ctl_not_found(struct sim_response *resp)
{
	sim_resp_json(resp, 404, json_pack("{s:s}", "detail", "unknown control endpoint"));
	return 0;
}

/* Route /_sim/... (segments after "_sim"). */
static int ctl_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	const char *m = req->method;
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
	bool del = strcmp(m, "DELETE") == 0, put = strcmp(m, "PUT") == 0;
	int rc;

	if (okta_log_ctl(ctx, req, resp, &rc))
		return rc;

	if (sim_path_is(req, 1, "health", NULL) && get) {
		sim_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
		return 0;
	}
	if (sim_path_is(req, 1, "requests", NULL)) {
		if (get)
			return ctl_get_requests(ctx, req, resp);
		if (del) {
			pthread_mutex_lock(&ctx->ctl->lock);
			log_clear(ctx->ctl);
			pthread_mutex_unlock(&ctx->ctl->lock);
			sim_resp_empty(resp, 204);
			return 0;
		}
	}
	if (sim_path_is(req, 1, "faults", NULL)) {
		if (post)
			return ctl_post_fault(ctx, req, resp);
		if (get)
			return ctl_get_faults(ctx, resp);
		if (del)
			return ctl_delete_faults(ctx, NULL, resp);
	}
	if (sim_path_is(req, 1, "faults", "*", NULL) && del)
		return ctl_delete_faults(ctx, req->seg[2], resp);
	if (sim_path_is(req, 1, "state", NULL)) {
		if (get)
			return ctl_get_state(ctx, req, resp);
		if (post || put)
			return ctl_replace_state(ctx, req, resp, false);
	}
	if (sim_path_is(req, 1, "reset", NULL) && post)
		return ctl_replace_state(ctx, req, resp, true);
	if (sim_path_is(req, 1, "rate-limits", NULL)) {
		if (get)
			return ctl_get_rates(ctx, resp);
		if (put || post)
			return ctl_put_rates(ctx, req, resp);
		if (del) {
			pthread_mutex_lock(&ctx->ctl->lock);
			buckets_clear(ctx->ctl);
			pthread_mutex_unlock(&ctx->ctl->lock);
			sim_resp_empty(resp, 204);
			return 0;
		}
	}
	if (sim_path_is(req, 1, "sentry", "members", "*", "accept", NULL) && post)
		return ctl_accept_invite(ctx, req, req->seg[3], resp);
	return ctl_not_found(resp);
}

const struct sim_upstream sim_upstream_ctl = {
	.name = "ctl",
	.prefix = "/_sim",
	.control = true,
	.locked = false, /* takes ctx->lock itself where it touches the state */
	.handle = ctl_handle,
	.fault = NULL,
};
