/*
 * sim_oktalog.c: the simulated Okta System Log ring, event hooks with their
 * delivery thread, and the built-in hook receivers (/_sim/echo/{name}).
 *
 * Event hooks follow shared/reference/okta-api.md section 1: a one-time
 * verification GET carrying X-Okta-Verification-Challenge (answer 200
 * {"verification": value}; 3 s timeout, one retry), then POST deliveries
 * with the com.okta.event_hook envelope, events close in time amalgamated
 * into one POST, 3 s timeout, at most one retry on a timeout or a 5xx and
 * none on a 4xx. A delivery that finally fails is recorded in the System
 * Log as an `event_hook.delivery` event (not hook-eligible, so never
 * delivered).
 */
#include "sim_oktalog.h"

#include "sim_hookc.h"
#include "sim_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Okta's outbound hook timeout (okta-api.md 1.4). */
#define HOOK_TIMEOUT_MS 3000

/* Hooks and receivers at most (Okta allows 25 active hooks per org). */
#define MAX_HOOKS 25
#define MAX_ECHOES 64

/* Requests one receiver keeps. */
#define ECHO_KEEP 10000

/* One stored event. */
struct lev {
	uint64_t seq;
	int64_t published, persisted, mono;
	char *type;
	char *text;
};

/* One registered event hook. */
struct hook {
	char id[21];              /* "who" + 17 characters */
	char *url;
	struct hookc_url u;
	char *auth_header, *secret;
	char *source;             /* envelope "source" */
	char **types;             /* NULL = every hook-eligible type */
	size_t ntypes;
	int batch_ms, max_batch, delay_ms, retry_delay_ms, timeout_ms;
	bool duplicate, shuffle;
	uint64_t next_seq;        /* next event to consider */
	int64_t created;
	uint64_t rng;
	/* counters */
	int64_t deliveries, attempts, events, retries, failures, dropped, duplicates_sent;
	int last_status;
	char last_error[160];
	int64_t last_delivery_ms;
	json_t *verification;     /* outcome of the verification request */
};

/* One built-in receiver. */
struct echo {
	char *name;
	json_t *requests;         /* array of recorded requests */
	int64_t received;         /* total, including ones no longer kept */
	int status;               /* answer for POSTs (0 = 200) */
	int64_t count;            /* > 0: requests still answered with status, then 200 */
	int delay_ms;
	bool no_verify;           /* do not answer the verification challenge */
};

struct okta_log {
	pthread_mutex_t lock;     /* events, hooks */
	pthread_cond_t cond;      /* new event, new hook, stop */
	struct lev *ring;         /* OKTA_LOG_CAP */
	uint64_t first, next;     /* held seqs: [first, next) */
	struct hook *hooks[MAX_HOOKS];
	size_t nhooks;
	size_t rr;                /* round-robin start for the delivery thread */
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	pthread_mutex_t elock;    /* receivers */
	struct echo *echoes[MAX_ECHOES];
	size_t nechoes;
};

/* ---- helpers ------------------------------------------------------------------------------- */

/* Random 64 bits (getrandom, else a clock mix). */
static uint64_t rand64(void)
{
	static atomic_uint_fast64_t ctr;
	uint64_t x;

	if (getrandom(&x, sizeof(x), 0) == (ssize_t)sizeof(x))
		return x;
	return sim_mix64((uint64_t)sim_now_ms() * 1000003u ^ atomic_fetch_add(&ctr, 1) ^
			 ((uint64_t)getpid() << 32));
}

void okta_uuid(char out[37])
{
	uint64_t a = rand64(), b = rand64();

	a = (a & ~UINT64_C(0xF000)) | UINT64_C(0x4000);            /* version 4 */
	b = (b & ~(UINT64_C(0xC) << 60)) | (UINT64_C(0x8) << 60);  /* variant 10 */
	snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)((a >> 16) & 0xFFFF), (unsigned)(a & 0xFFFF), (unsigned)(b >> 48),
		 (unsigned long long)(b & UINT64_C(0xFFFFFFFFFFFF)));
}

/* Deterministic-looking id characters. */
static void id_chars(char *out, size_t n, uint64_t x)
{
	static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 10 == 0)
			x = sim_mix64(x + i);
		out[i] = a[x % 62];
		x /= 62;
	}
	out[n] = '\0';
}

/* Event types Okta never sends to hooks (okta-api.md 1.7). */
static bool hook_eligible(const char *type)
{
	return strcmp(type, "event_hook.delivery") != 0 &&
	       strcmp(type, "user.lifecycle.delete.completed") != 0 &&
	       strcmp(type, "application.user_membership.change_username") != 0 &&
	       strcmp(type, "application.provision.group_push.push_memberships") != 0;
}

static bool hook_wants(const struct hook *h, const char *type)
{
	size_t i;

	if (!hook_eligible(type))
		return false;
	if (!h->types)
		return true;
	for (i = 0; i < h->ntypes; i++)
		if (strcmp(h->types[i], type) == 0)
			return true;
	return false;
}

static void hook_free(struct hook *h)
{
	size_t i;

	if (!h)
		return;
	free(h->url);
	hookc_url_clear(&h->u);
	free(h->auth_header);
	free(h->secret);
	free(h->source);
	for (i = 0; i < h->ntypes; i++)
		free(h->types[i]);
	free(h->types);
	json_decref(h->verification);
	free(h);
}

static void echo_free(struct echo *e)
{
	if (!e)
		return;
	free(e->name);
	json_decref(e->requests);
	free(e);
}

/* ---- the ring -------------------------------------------------------------------------------- */

static void lev_clear(struct lev *e)
{
	free(e->type);
	free(e->text);
	memset(e, 0, sizeof(*e));
}

/* Append under the lock. */
static uint64_t append_locked(struct okta_log *lg, json_t *ev, char **text_out)
{
	const char *type = json_string_value(json_object_get(ev, "eventType"));
	const char *pub = json_string_value(json_object_get(ev, "published"));
	struct lev *slot;
	int64_t now = sim_now_ms(), pms = 0;
	char *text = NULL, *t = NULL;
	char buf[SIM_TIME_BUFSZ], uuid[37];

	if (!json_object_get(ev, "uuid")) {
		okta_uuid(uuid);
		if (json_object_set_new(ev, "uuid", json_string(uuid)))
			return 0;
	}
	if (!pub || sim_parse_iso(pub, &pms)) {
		if (!json_object_get(ev, "published")) {
			sim_fmt_okta_time(now, buf);
			if (json_object_set_new(ev, "published", json_string(buf)))
				return 0;
		}
		pms = now;
	}
	text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	t = sim_strdup(type ? type : "");
	if (!text || !t || (text_out && !(*text_out = sim_strdup(text)))) {
		free(text);
		free(t);
		return 0;
	}
	slot = &lg->ring[lg->next % OKTA_LOG_CAP];
	if (lg->next - lg->first >= OKTA_LOG_CAP) {
		lev_clear(slot);
		lg->first++;
	}
	slot->seq = lg->next++;
	slot->published = pms;
	slot->persisted = now;
	slot->mono = sim_mono_ms();
	slot->type = t;
	slot->text = text;
	pthread_cond_broadcast(&lg->cond);
	return slot->seq;
}

uint64_t okta_log_append(struct okta_log *lg, json_t *ev, char **text_out)
{
	uint64_t seq = 0;

	if (text_out)
		*text_out = NULL;
	if (!lg || !json_is_object(ev)) {
		json_decref(ev);
		return 0;
	}
	pthread_mutex_lock(&lg->lock);
	seq = append_locked(lg, ev, text_out);
	pthread_mutex_unlock(&lg->lock);
	json_decref(ev);
	return seq;
}

void okta_log_lock(struct okta_log *lg)
{
	pthread_mutex_lock(&lg->lock);
}

void okta_log_unlock(struct okta_log *lg)
{
	pthread_mutex_unlock(&lg->lock);
}

void okta_log_range(const struct okta_log *lg, uint64_t *first, uint64_t *next)
{
	*first = lg->first;
	*next = lg->next;
}

bool okta_log_get(const struct okta_log *lg, uint64_t seq, struct okta_log_view *v)
{
	const struct lev *e;

	if (seq < lg->first || seq >= lg->next)
		return false;
	e = &lg->ring[seq % OKTA_LOG_CAP];
	v->seq = e->seq;
	v->published = e->published;
	v->persisted = e->persisted;
	v->type = e->type;
	v->text = e->text;
	return true;
}

/* ---- delivery ---------------------------------------------------------------------------------- */

/* What the thread needs to send one batch (copied out under the lock). */
struct batch {
	char id[21];
	struct hookc_url u;
	char *auth_header, *secret, *body;
	size_t nevents;
	int delay_ms, retry_delay_ms, timeout_ms;
	bool duplicate;
};

static void batch_clear(struct batch *b)
{
	hookc_url_clear(&b->u);
	free(b->auth_header);
	free(b->secret);
	free(b->body);
	memset(b, 0, sizeof(*b));
}

/* Copy a parsed URL. */
static int url_copy(struct hookc_url *dst, const struct hookc_url *src)
{
	dst->host = sim_strdup(src->host);
	dst->port = sim_strdup(src->port);
	dst->path = sim_strdup(src->path);
	dst->hostport = sim_strdup(src->hostport);
	return dst->host && dst->port && dst->path && dst->hostport ? 0 : -1;
}

/*
 * Look for a batch due on hook h (lock held). Returns 1 with *b filled, 0
 * if nothing is due (*wake lowered to when it will be), -1 on OOM.
 */
static int batch_pick(struct okta_log *lg, struct hook *h, int64_t now, int64_t *wake,
		      struct batch *b)
{
	const char **texts;
	uint64_t s, first_match = 0, last = 0;
	size_t n = 0, i;
	struct sim_buf body;
	char uuid[37], ts[SIM_TIME_BUFSZ];
	int64_t first_mono = 0;

	if (h->next_seq < lg->first) {
		h->dropped += (int64_t)(lg->first - h->next_seq);
		h->next_seq = lg->first;
	}
	for (s = h->next_seq; s < lg->next; s++) {
		const struct lev *e = &lg->ring[s % OKTA_LOG_CAP];

		if (!hook_wants(h, e->type)) {
			if (!n)
				h->next_seq = s + 1;
			continue;
		}
		if (!n) {
			first_match = s;
			first_mono = e->mono;
		}
		n++;
		if ((int)n >= h->max_batch)
			break;
	}
	if (!n)
		return 0;
	if ((int)n < h->max_batch && first_mono + h->batch_ms > now) {
		if (first_mono + h->batch_ms < *wake)
			*wake = first_mono + h->batch_ms;
		return 0;
	}
	texts = calloc(n, sizeof(*texts));
	if (!texts)
		return -1;
	n = 0;
	for (s = first_match; s < lg->next && (int)n < h->max_batch; s++) {
		const struct lev *e = &lg->ring[s % OKTA_LOG_CAP];

		if (hook_wants(h, e->type)) {
			texts[n++] = e->text;
			last = s;
		}
	}
	if (h->shuffle && n > 1)
		for (i = n - 1; i > 0; i--) {
			size_t j = sim_rand_below(&h->rng, (uint32_t)(i + 1));
			const char *t = texts[i];

			texts[i] = texts[j];
			texts[j] = t;
		}
	okta_uuid(uuid);
	sim_fmt_okta_time(sim_now_ms(), ts);
	sim_buf_init(&body, 0);
	if (sim_buf_puts(&body, "{\"eventType\":\"com.okta.event_hook\",\"eventTypeVersion\":\"1.0\","
			 "\"cloudEventsVersion\":\"0.1\",\"source\":") ||
	    sim_buf_json_str(&body, h->source) ||
	    sim_buf_printf(&body, ",\"eventId\":\"%s\",\"eventTime\":\"%s\","
			   "\"contentType\":\"application/json\",\"data\":{\"events\":[", uuid, ts))
		goto oom;
	for (i = 0; i < n; i++)
		if ((i && sim_buf_puts(&body, ",")) || sim_buf_puts(&body, texts[i]))
			goto oom;
	if (sim_buf_puts(&body, "]}}"))
		goto oom;
	memset(b, 0, sizeof(*b));
	memcpy(b->id, h->id, sizeof(b->id));
	b->auth_header = sim_strdup(h->auth_header);
	b->secret = sim_strdup(h->secret);
	b->body = sim_buf_take(&body);
	b->nevents = n;
	b->delay_ms = h->delay_ms;
	b->retry_delay_ms = h->retry_delay_ms;
	b->timeout_ms = h->timeout_ms;
	b->duplicate = h->duplicate;
	if (url_copy(&b->u, &h->u) || !b->auth_header || !b->secret || !b->body) {
		batch_clear(b);
		goto oom;
	}
	h->next_seq = last + 1;
	free(texts);
	sim_buf_free(&body);
	return 1;
oom:
	free(texts);
	sim_buf_free(&body);
	return -1;
}

/* Sleep ms in slices, returning early when stopping. */
static void nap(struct okta_log *lg, int ms)
{
	while (ms > 0 && !atomic_load(&lg->stop)) {
		int s = ms > 50 ? 50 : ms;
		struct timespec ts = { 0, (long)s * 1000000L };

		nanosleep(&ts, NULL);
		ms -= s;
	}
}

/* One POST; the outcome class: 0 success, 1 retryable (timeout, 5xx, no answer), 2 final (4xx ...). */
static int post_once(struct okta_log *lg, const struct batch *b, struct hookc_result *res)
{
	struct hookc_header hdrs[3] = {
		{ "Accept", "application/json" },
		{ "Content-Type", "application/json" },
		{ b->auth_header, b->secret },
	};

	if (hookc_request(&b->u, "POST", hdrs, 3, b->body, strlen(b->body), b->timeout_ms, &lg->stop,
			  res))
		return 1;
	if (res->status >= 200 && res->status < 300)
		return 0;
	if (res->status >= 500)
		return 1;
	return 2;
}

/* Build the event_hook.delivery failure event (okta-api.md 1.4: logged on failure only). */
static json_t *delivery_failure_event(const struct hook *h, const char *hook_id, const char *url,
				      int status, const char *error)
{
	char *reason = status ? sim_asprintf("Event hook delivery failed: HTTP %d", status)
			      : sim_asprintf("Event hook delivery failed: %s", error);
	json_t *ev;

	(void)h;
	ev = json_pack("{s:s, s:s, s:s, s:s, s:n, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:s, s:s, s:s}],"
		       " s:{s:s, s:s?}, s:{s:s, s:s, s:{}}, s:{s:{s:s, s:s?}}}",
		       "eventType", "event_hook.delivery", "version", "0", "severity", "WARN",
		       "displayMessage", "Event hook delivery", "legacyEventType",
		       "actor", "id", "0oasystemprincipal00", "type", "SystemPrincipal",
		       "alternateId", "system@okta.com", "displayName", "Okta System",
		       "target", "id", hook_id, "type", "EventHook", "alternateId", url,
		       "displayName", hook_id,
		       "outcome", "result", "FAILURE", "reason", reason,
		       "transaction", "type", "JOB", "id", hook_id, "detail",
		       "debugContext", "debugData", "url", url, "error", error && *error ? error : NULL);
	free(reason);
	return ev;
}

/* Send one batch with Okta's retry rule; update the hook's counters. */
static void deliver(struct okta_log *lg, struct batch *b)
{
	struct hookc_result res;
	int cls, sends = b->duplicate ? 2 : 1, k, attempts = 0, retries = 0, status = 0;
	bool ok = false;
	char err[160] = "";
	size_t i;

	if (b->delay_ms > 0)
		nap(lg, b->delay_ms);
	for (k = 0; k < sends && !atomic_load(&lg->stop); k++) {
		cls = post_once(lg, b, &res);
		attempts++;
		if (cls == 1 && !atomic_load(&lg->stop)) {
			/* at most one retry, after a timeout or a 5xx (okta-api.md 1.4) */
			free(res.body);
			nap(lg, b->retry_delay_ms);
			cls = post_once(lg, b, &res);
			attempts++;
			retries++;
		}
		status = res.status;
		snprintf(err, sizeof(err), "%s", cls == 0 ? "" : res.status ? "" : res.err);
		if (cls != 0 && res.status)
			snprintf(err, sizeof(err), "HTTP %d", res.status);
		free(res.body);
		if (k == 0)
			ok = cls == 0;
	}
	pthread_mutex_lock(&lg->lock);
	for (i = 0; i < lg->nhooks; i++) {
		struct hook *h = lg->hooks[i];

		if (strcmp(h->id, b->id) != 0)
			continue;
		h->attempts += attempts;
		h->retries += retries;
		h->last_status = status;
		h->last_delivery_ms = sim_now_ms();
		if (sends > 1)
			h->duplicates_sent++;
		if (ok) {
			h->deliveries++;
			h->events += (int64_t)b->nevents;
			h->last_error[0] = '\0';
		} else {
			json_t *ev;

			h->failures++;
			snprintf(h->last_error, sizeof(h->last_error), "%s", err);
			ev = delivery_failure_event(h, h->id, h->url, status, err);
			if (ev) {
				append_locked(lg, ev, NULL);
				json_decref(ev);
			}
		}
	}
	pthread_mutex_unlock(&lg->lock);
}

/* The delivery thread. */
static void *delivery_main(void *arg)
{
	struct okta_log *lg = arg;

	pthread_mutex_lock(&lg->lock);
	while (!atomic_load(&lg->stop)) {
		int64_t now = sim_mono_ms(), wake = now + 1000;
		struct batch b;
		bool picked = false;
		size_t k;

		for (k = 0; k < lg->nhooks && !picked; k++) {
			struct hook *h = lg->hooks[(lg->rr + k) % lg->nhooks];
			int r = batch_pick(lg, h, now, &wake, &b);

			if (r < 0) {
				wake = now + 100;
				break;
			}
			if (r > 0) {
				picked = true;
				lg->rr = (lg->rr + k + 1) % lg->nhooks;
			}
		}
		if (picked) {
			pthread_mutex_unlock(&lg->lock);
			deliver(lg, &b);
			batch_clear(&b);
			pthread_mutex_lock(&lg->lock);
			continue;
		}
		{
			struct timespec ts;
			int64_t wait = wake - now;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait / 1000);
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&lg->cond, &lg->lock, &ts);
		}
	}
	pthread_mutex_unlock(&lg->lock);
	return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------------- */

struct okta_log *okta_log_new(void)
{
	struct okta_log *lg = calloc(1, sizeof(*lg));

	if (!lg)
		return NULL;
	lg->ring = calloc(OKTA_LOG_CAP, sizeof(*lg->ring));
	if (!lg->ring) {
		free(lg);
		return NULL;
	}
	lg->first = lg->next = 1;
	atomic_init(&lg->stop, false);
	pthread_mutex_init(&lg->lock, NULL);
	pthread_mutex_init(&lg->elock, NULL);
	pthread_cond_init(&lg->cond, NULL);
	if (pthread_create(&lg->thread, NULL, delivery_main, lg) != 0) {
		okta_log_free(lg);
		return NULL;
	}
	lg->thread_started = true;
	return lg;
}

/* Drop hooks (lock held). */
static void hooks_clear(struct okta_log *lg)
{
	size_t i;

	for (i = 0; i < lg->nhooks; i++)
		hook_free(lg->hooks[i]);
	lg->nhooks = 0;
	lg->rr = 0;
}

/* Drop receivers (elock held). */
static void echoes_clear(struct okta_log *lg)
{
	size_t i;

	for (i = 0; i < lg->nechoes; i++)
		echo_free(lg->echoes[i]);
	lg->nechoes = 0;
}

void okta_log_reset(struct okta_log *lg)
{
	size_t i;

	pthread_mutex_lock(&lg->lock);
	for (i = 0; i < OKTA_LOG_CAP; i++)
		if (lg->ring[i].text || lg->ring[i].type)
			lev_clear(&lg->ring[i]);
	lg->first = lg->next; /* seqs keep counting so old cursors never alias new events */
	hooks_clear(lg);
	pthread_mutex_unlock(&lg->lock);
	pthread_mutex_lock(&lg->elock);
	echoes_clear(lg);
	pthread_mutex_unlock(&lg->elock);
}

void okta_log_free(struct okta_log *lg)
{
	size_t i;

	if (!lg)
		return;
	if (lg->thread_started) {
		pthread_mutex_lock(&lg->lock);
		atomic_store(&lg->stop, true);
		pthread_cond_broadcast(&lg->cond);
		pthread_mutex_unlock(&lg->lock);
		pthread_join(lg->thread, NULL);
	}
	for (i = 0; i < OKTA_LOG_CAP; i++)
		lev_clear(&lg->ring[i]);
	free(lg->ring);
	hooks_clear(lg);
	echoes_clear(lg);
	pthread_cond_destroy(&lg->cond);
	pthread_mutex_destroy(&lg->lock);
	pthread_mutex_destroy(&lg->elock);
	free(lg);
}

/* ---- control: event hooks --------------------------------------------------------------------------- */

static int ctl_error(struct sim_response *resp, int status, const char *msg)
{
	sim_resp_json(resp, status, json_pack("{s:s}", "detail", msg));
	return 0;
}

/* A hook as GET /_sim/okta/event-hooks shows it (lock held). */
static json_t *hook_json(const struct okta_log *lg, const struct hook *h)
{
	char created[SIM_TIME_BUFSZ], last[SIM_TIME_BUFSZ];
	json_t *types = json_array(), *o;
	uint64_t s, pending = 0;
	size_t i;

	if (!types)
		return NULL;
	for (i = 0; i < h->ntypes; i++)
		json_array_append_new(types, json_string(h->types[i]));
	for (s = h->next_seq < lg->first ? lg->first : h->next_seq; s < lg->next; s++)
		if (hook_wants(h, lg->ring[s % OKTA_LOG_CAP].type))
			pending++;
	sim_fmt_okta_time(h->created, created);
	sim_fmt_okta_time(h->last_delivery_ms, last);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:i, s:i, s:i, s:b, s:b, s:s,"
		      " s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:s?, s:s?, s:O?}",
		      "id", h->id, "status", "ACTIVE", "verificationStatus", "VERIFIED", "url", h->url,
		      "auth_header", h->auth_header, "source", h->source,
		      "event_types", h->types ? types : (json_decref(types), json_null()),
		      "batch_ms", h->batch_ms, "max_batch", h->max_batch, "delay_ms", h->delay_ms,
		      "retry_delay_ms", h->retry_delay_ms, "duplicate", h->duplicate,
		      "shuffle", h->shuffle, "created", created, "timeout_ms", h->timeout_ms,
		      "deliveries", (json_int_t)h->deliveries, "attempts", (json_int_t)h->attempts,
		      "events", (json_int_t)h->events, "retries", (json_int_t)h->retries,
		      "failures", (json_int_t)h->failures, "dropped", (json_int_t)h->dropped,
		      "pending", (json_int_t)pending, "duplicates_sent", (json_int_t)h->duplicates_sent,
		      "last_status", h->last_status,
		      "last_error", h->last_error[0] ? h->last_error : NULL,
		      "last_delivery", h->last_delivery_ms ? last : NULL,
		      "verification", h->verification);
	return o;
}

/* GET /_sim/okta/event-hooks */
static int ctl_get_hooks(struct okta_log *lg, struct sim_response *resp)
{
	json_t *arr = json_array();
	size_t i;
	int bad = 0;

	if (!arr)
		return -1;
	pthread_mutex_lock(&lg->lock);
	for (i = 0; i < lg->nhooks; i++)
		bad |= json_array_append_new(arr, hook_json(lg, lg->hooks[i]));
	pthread_mutex_unlock(&lg->lock);
	if (bad) {
		json_decref(arr);
		return -1;
	}
	sim_resp_json(resp, 200, json_pack("{s:o}", "hooks", arr));
	return 0;
}

/* Integer option with bounds; 0 ok, -1 bad. */
static int opt_int(const json_t *body, const char *key, int dflt, int lo, int hi, int *out)
{
	const json_t *v = json_object_get(body, key);

	if (!v || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = (int)json_integer_value(v);
	return 0;
}

/*
 * The one-time verification (okta-api.md 1.2): GET with the challenge header
 * and the auth header, 3 s timeout, one retry after a timeout or an error
 * answer. Returns true when verified; *outcome describes the attempts.
 */
static bool verify_hook(struct okta_log *lg, const struct hook *h, json_t **outcome)
{
	char challenge[37], err[200] = "";
	struct hookc_header hdrs[3];
	struct hookc_result res;
	int attempt, status = 0;
	bool ok = false;

	okta_uuid(challenge);
	hdrs[0].name = "Accept";
	hdrs[0].value = "application/json";
	hdrs[1].name = "X-Okta-Verification-Challenge";
	hdrs[1].value = challenge;
	hdrs[2].name = h->auth_header;
	hdrs[2].value = h->secret;
	for (attempt = 1; attempt <= 2 && !ok; attempt++) {
		if (hookc_request(&h->u, "GET", hdrs, 3, NULL, 0, h->timeout_ms, &lg->stop, &res)) {
			snprintf(err, sizeof(err), "%s", res.err);
			status = 0;
			continue;
		}
		status = res.status;
		if (res.status == 200) {
			json_t *j = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
			const char *v = json_string_value(json_object_get(j, "verification"));

			if (v && strcmp(v, challenge) == 0)
				ok = true;
			else
				snprintf(err, sizeof(err),
					 "the answer was not {\"verification\": \"<challenge>\"}");
			json_decref(j);
		} else {
			snprintf(err, sizeof(err), "HTTP %d", res.status);
		}
		free(res.body);
	}
	*outcome = json_pack("{s:b, s:i, s:i, s:s?}", "verified", ok, "attempts", attempt - 1,
			     "status", status, "error", ok ? NULL : err);
	return ok;
}

/* POST /_sim/okta/event-hooks */
static int ctl_post_hook(struct sim_ctx *ctx, const struct sim_request *req,
			 struct sim_response *resp)
{
	struct okta_log *lg = ctx->oktalog;
	json_error_t jerr;
	json_t *body = sim_request_json(req, &jerr), *types, *v, *outcome = NULL, *j;
	struct hook *h = NULL;
	const char *url, *hdr, *secret;
	char err[200];
	char *base = NULL;
	size_t i;
	int rc = 0;
	bool verify;

	if (!json_is_object(body)) {
		rc = ctl_error(resp, 400, "body must be a JSON object");
		goto out;
	}
	url = json_string_value(json_object_get(body, "url"));
	hdr = json_string_value(json_object_get(body, "auth_header"));
	secret = json_string_value(json_object_get(body, "secret"));
	types = json_object_get(body, "event_types");
	if (!hdr)
		hdr = "Authorization";
	if (!url || !secret) {
		rc = ctl_error(resp, 400, "\"url\" and \"secret\" are required strings");
		goto out;
	}
	if (!*hdr || strpbrk(hdr, " :\r\n\t") || strpbrk(secret, "\r\n")) {
		rc = ctl_error(resp, 400, "\"auth_header\" must be a header name, \"secret\" one line");
		goto out;
	}
	if (types && !json_is_null(types) && (!json_is_array(types) || json_array_size(types) > 300)) {
		rc = ctl_error(resp, 400, "\"event_types\" must be an array of at most 300 strings");
		goto out;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		rc = -1;
		goto out;
	}
	memcpy(h->id, "who", 3);
	id_chars(h->id + 3, 17, rand64());
	if (hookc_url_parse(url, &h->u, err, sizeof(err))) {
		rc = ctl_error(resp, 400, err);
		goto out;
	}
	if (opt_int(body, "batch_ms", 50, 0, 60000, &h->batch_ms) ||
	    opt_int(body, "max_batch", 50, 1, 1000, &h->max_batch) ||
	    opt_int(body, "delay_ms", 0, 0, 60000, &h->delay_ms) ||
	    opt_int(body, "retry_delay_ms", 100, 0, 60000, &h->retry_delay_ms) ||
	    opt_int(body, "timeout_ms", HOOK_TIMEOUT_MS, 1, 60000, &h->timeout_ms)) {
		rc = ctl_error(resp, 400, "batch_ms (0-60000), max_batch (1-1000), delay_ms, "
				   "retry_delay_ms (0-60000) and timeout_ms (1-60000) must be "
				   "integers in range");
		goto out;
	}
	h->duplicate = json_is_true(json_object_get(body, "duplicate"));
	h->shuffle = json_is_true(json_object_get(body, "shuffle"));
	v = json_object_get(body, "verify");
	verify = !v || json_is_true(v);
	h->url = sim_strdup(url);
	h->auth_header = sim_strdup(hdr);
	h->secret = sim_strdup(secret);
	base = sim_base_url(req);
	h->source = base ? sim_asprintf("%s/api/v1/eventHooks/%s", base, h->id) : NULL;
	h->created = sim_now_ms();
	h->rng = rand64();
	if (!h->url || !h->auth_header || !h->secret || !h->source) {
		rc = -1;
		goto out;
	}
	if (types && json_is_array(types)) {
		h->types = calloc(json_array_size(types) + 1, sizeof(char *));
		if (!h->types) {
			rc = -1;
			goto out;
		}
		json_array_foreach(types, i, v) {
			if (!json_is_string(v)) {
				rc = ctl_error(resp, 400, "\"event_types\" must be an array of strings");
				goto out;
			}
			h->types[h->ntypes] = sim_strdup(json_string_value(v));
			if (!h->types[h->ntypes++]) {
				rc = -1;
				goto out;
			}
		}
	}
	/* verification happens without any lock: the receiver may be this very process */
	if (verify && !verify_hook(lg, h, &outcome)) {
		sim_resp_json(resp, 400, json_pack("{s:s, s:s, s:s, s:b, s:o?}", "detail",
			"event hook verification failed", "status", "INACTIVE",
			"verificationStatus", "UNVERIFIED", "verified", 0, "verification", outcome));
		outcome = NULL;
		goto out;
	}
	if (!verify)
		outcome = json_pack("{s:b, s:b}", "verified", 1, "skipped", 1);
	h->verification = outcome;
	outcome = NULL;
	pthread_mutex_lock(&lg->lock);
	if (lg->nhooks >= MAX_HOOKS) {
		pthread_mutex_unlock(&lg->lock);
		rc = ctl_error(resp, 400, "at most 25 event hooks (Okta's limit)");
		goto out;
	}
	h->next_seq = lg->next; /* events from now on */
	lg->hooks[lg->nhooks++] = h;
	j = hook_json(lg, h);
	h = NULL;
	pthread_cond_broadcast(&lg->cond);
	pthread_mutex_unlock(&lg->lock);
	if (j && json_object_set_new(j, "verified", json_true())) {
		json_decref(j);
		j = NULL;
	}
	sim_resp_json(resp, 201, j);
out:
	json_decref(outcome);
	hook_free(h);
	free(base);
	json_decref(body);
	return rc;
}

/* DELETE /_sim/okta/event-hooks[/{id}] */
static int ctl_delete_hooks(struct okta_log *lg, const char *id, struct sim_response *resp)
{
	size_t i;
	bool found = false;

	pthread_mutex_lock(&lg->lock);
	if (!id) {
		hooks_clear(lg);
		found = true;
	} else {
		for (i = 0; i < lg->nhooks; i++) {
			if (strcmp(lg->hooks[i]->id, id) == 0) {
				hook_free(lg->hooks[i]);
				memmove(&lg->hooks[i], &lg->hooks[i + 1],
					(lg->nhooks - i - 1) * sizeof(lg->hooks[0]));
				lg->nhooks--;
				lg->rr = 0;
				found = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&lg->lock);
	if (!found)
		return ctl_error(resp, 404, "no such event hook");
	sim_resp_empty(resp, 204);
	return 0;
}

/* GET /_sim/okta/events[?since=SEQ][&limit=N]: the raw log, no auth, no rate limit. */
static int ctl_get_events(struct okta_log *lg, const struct sim_request *req,
			  struct sim_response *resp)
{
	int64_t since = 0, limit = 1000;
	uint64_t s, first, next;
	struct sim_buf b;
	size_t n = 0;
	int bad = 0;

	if ((sim_query_get(req, "since") && !sim_parse_i64(sim_query_get(req, "since"), &since)) ||
	    (sim_query_get(req, "limit") && !sim_parse_i64(sim_query_get(req, "limit"), &limit)) ||
	    since < 0 || limit < 1)
		return ctl_error(resp, 400, "since and limit must be non-negative integers");
	sim_buf_init(&b, 0);
	pthread_mutex_lock(&lg->lock);
	first = lg->first;
	next = lg->next;
	s = (uint64_t)since + 1 > first ? (uint64_t)since + 1 : first;
	bad |= sim_buf_puts(&b, "{\"events\":[");
	for (; s < next && (int64_t)n < limit; s++, n++)
		bad |= (n ? sim_buf_puts(&b, ",") : 0) | sim_buf_puts(&b, lg->ring[s % OKTA_LOG_CAP].text);
	bad |= sim_buf_printf(&b, "],\"next\":%llu,\"count\":%zu,\"first\":%llu}",
			      (unsigned long long)(s - 1 < first ? first - 1 : s - 1), n,
			      (unsigned long long)first);
	pthread_mutex_unlock(&lg->lock);
	if (bad) {
		sim_buf_free(&b);
		return -1;
	}
	n = b.len;
	sim_resp_json_text(resp, 200, sim_buf_take(&b), n);
	return 0;
}

/* POST /_sim/okta/events with an array: build all, then append all (in order). */
static int ctl_post_events(struct sim_ctx *ctx, const struct sim_request *req, json_t *body,
			   struct sim_response *resp)
{
	json_t *evs = json_array(), *v;
	struct sim_buf out;
	char err[240] = "";
	size_t i;
	int rc = 0;

	sim_buf_init(&out, 0);
	if (!evs) {
		rc = -1;
		goto out;
	}
	json_array_foreach(body, i, v) {
		json_t *ev = json_is_object(v) ? sim_okta_synthetic_event(ctx, req, v, err, sizeof(err))
					       : NULL;

		if (!ev) {
			char *msg = sim_asprintf("events[%zu]: %s", i,
						 err[0] ? err : "must be an object");

			rc = ctl_error(resp, 400, msg ? msg : "bad event");
			free(msg);
			goto out;
		}
		json_array_append_new(evs, ev);
	}
	if (sim_buf_puts(&out, "{\"events\":["))
		goto oom;
	json_array_foreach(evs, i, v) {
		char *text = NULL;

		if (!okta_log_append(ctx->oktalog, json_incref(v), &text))
			goto oom;
		if ((i && sim_buf_puts(&out, ",")) || sim_buf_puts(&out, text)) {
			free(text);
			goto oom;
		}
		free(text);
	}
	if (sim_buf_printf(&out, "],\"count\":%zu}", json_array_size(evs)))
		goto oom;
	i = out.len;
	sim_resp_json_text(resp, 201, sim_buf_take(&out), i);
	goto out;
oom:
	rc = -1;
out:
	sim_buf_free(&out);
	json_decref(evs);
	return rc;
}

/* POST /_sim/okta/events: a synthetic event, appended and delivered like any other. */
static int ctl_post_event(struct sim_ctx *ctx, const struct sim_request *req,
			  struct sim_response *resp)
{
	json_error_t jerr;
	json_t *body = sim_request_json(req, &jerr), *ev;
	char err[200] = "";
	char *text = NULL;
	size_t len;
	int rc;

	if (json_is_array(body)) {
		rc = ctl_post_events(ctx, req, body, resp);
		json_decref(body);
		return rc;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		return ctl_error(resp, 400, "body must be a JSON object (or an array of them)");
	}
	ev = sim_okta_synthetic_event(ctx, req, body, err, sizeof(err));
	json_decref(body);
	if (!ev)
		return ctl_error(resp, 400, err[0] ? err : "cannot build the event");
	if (!okta_log_append(ctx->oktalog, ev, &text))
		return -1;
	len = strlen(text);
	sim_resp_json_text(resp, 201, text, len);
	return 0;
}

/* ---- control: built-in receivers ---------------------------------------------------------------------- */

/* Receiver by name, created when create is set (elock held). */
static struct echo *echo_get(struct okta_log *lg, const char *name, bool create)
{
	struct echo *e;
	size_t i;

	for (i = 0; i < lg->nechoes; i++)
		if (strcmp(lg->echoes[i]->name, name) == 0)
			return lg->echoes[i];
	if (!create || lg->nechoes >= MAX_ECHOES)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->name = sim_strdup(name);
	e->requests = json_array();
	if (!e->name || !e->requests) {
		echo_free(e);
		return NULL;
	}
	lg->echoes[lg->nechoes++] = e;
	return e;
}

/* sim_header_each callback: keep the first value of each header (as sent, name as given). */
static void rec_header(void *arg, const char *name, const char *value)
{
	json_t *obj = arg;

	if (!json_object_get(obj, name))
		json_object_set_new(obj, name, json_string(value));
}

/* ANY /_sim/echo/{name}: record the request and answer like a hook receiver. */
static int ctl_echo(struct okta_log *lg, const struct sim_request *req, const char *name,
		    struct sim_response *resp)
{
	const char *challenge = sim_header_get(req, "X-Okta-Verification-Challenge");
	json_t *hdrs = json_object(), *rec, *jb = NULL;
	char ts[SIM_TIME_BUFSZ];
	int status = 200, delay = 0;
	bool answer_challenge;
	struct echo *e;

	if (!hdrs)
		return -1;
	sim_header_each(req, rec_header, hdrs);
	if (req->body_len)
		jb = json_loadb(req->body, req->body_len, 0, NULL);
	if (!jb && req->body_len)
		jb = json_stringn(req->body, req->body_len);
	sim_fmt_okta_time(sim_now_ms(), ts);
	rec = json_pack("{s:s, s:s, s:o, s:o, s:s}", "method", req->method, "path", req->raw_path,
			"headers", hdrs, "body", jb ? jb : json_null(), "time", ts);
	pthread_mutex_lock(&lg->elock);
	e = echo_get(lg, name, true);
	if (!e || !rec) {
		pthread_mutex_unlock(&lg->elock);
		json_decref(rec);
		return -1;
	}
	e->received++;
	if (json_array_size(e->requests) >= ECHO_KEEP)
		json_array_remove(e->requests, 0);
	json_array_append_new(e->requests, rec);
	answer_challenge = challenge && !e->no_verify;
	if (!challenge && e->status) {
		status = e->status;
		if (e->count > 0 && --e->count == 0)
			e->status = 0;
	}
	delay = e->delay_ms;
	pthread_mutex_unlock(&lg->elock);
	if (delay > 0) {
		struct timespec t = { delay / 1000, (long)(delay % 1000) * 1000000L };

		nanosleep(&t, NULL);
	}
	if (answer_challenge) {
		sim_resp_json(resp, 200, json_pack("{s:s}", "verification", challenge));
		return 0;
	}
	if (status >= 400)
		sim_resp_json(resp, status, json_pack("{s:s}", "detail", sim_reason(status)));
	else
		sim_resp_empty(resp, status);
	return 0;
}

/* GET/PUT/DELETE /_sim/echoes/{name} and GET /_sim/echoes. */
static int ctl_echoes(struct okta_log *lg, const struct sim_request *req, const char *name,
		      struct sim_response *resp)
{
	const char *m = req->method;
	struct echo *e;
	json_t *o;

	pthread_mutex_lock(&lg->elock);
	if (!name) {
		json_t *arr = json_array();
		size_t i;

		for (i = 0; arr && i < lg->nechoes; i++)
			json_array_append_new(arr, json_pack("{s:s, s:I}", "name", lg->echoes[i]->name,
							     "received",
							     (json_int_t)lg->echoes[i]->received));
		pthread_mutex_unlock(&lg->elock);
		sim_resp_json(resp, 200, json_pack("{s:o?}", "echoes", arr));
		return 0;
	}
	if (!strcmp(m, "DELETE")) {
		size_t i;

		for (i = 0; i < lg->nechoes; i++)
			if (strcmp(lg->echoes[i]->name, name) == 0) {
				echo_free(lg->echoes[i]);
				lg->echoes[i] = lg->echoes[--lg->nechoes];
				break;
			}
		pthread_mutex_unlock(&lg->elock);
		sim_resp_empty(resp, 204);
		return 0;
	}
	if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
		json_t *body = sim_request_json(req, NULL);
		int status, delay, count;

		if (!json_is_object(body) || opt_int(body, "status", 200, 100, 599, &status) ||
		    opt_int(body, "count", 0, 0, 1000000, &count) ||
		    opt_int(body, "delay_ms", 0, 0, 60000, &delay)) {
			pthread_mutex_unlock(&lg->elock);
			json_decref(body);
			return ctl_error(resp, 400, "body: {\"status\": 100-599, \"count\": N, "
					 "\"delay_ms\": N, \"verify\": bool}");
		}
		e = echo_get(lg, name, true);
		if (!e) {
			pthread_mutex_unlock(&lg->elock);
			json_decref(body);
			return ctl_error(resp, 400, "too many receivers");
		}
		e->status = status == 200 ? 0 : status;
		e->count = count;
		e->delay_ms = delay;
		e->no_verify = json_is_false(json_object_get(body, "verify"));
		json_decref(body);
	}
	e = echo_get(lg, name, false);
	if (!e) {
		pthread_mutex_unlock(&lg->elock);
		sim_resp_json(resp, 200, json_pack("{s:s, s:[], s:i, s:i}", "name", name, "requests",
						   "received", 0, "status", 200));
		return 0;
	}
	o = json_pack("{s:s, s:O, s:I, s:i, s:I, s:i, s:b}", "name", e->name, "requests",
		      e->requests, "received", (json_int_t)e->received, "status",
		      e->status ? e->status : 200, "count", (json_int_t)e->count, "delay_ms",
		      e->delay_ms, "verify", !e->no_verify);
	pthread_mutex_unlock(&lg->elock);
	sim_resp_json(resp, 200, o);
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------------------- */

int okta_log_ctl(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		 int *rc)
{
	struct okta_log *lg = ctx->oktalog;
	const char *m = req->method;

	*rc = 0;
	if (sim_path_is(req, 1, "okta", "event-hooks", NULL)) {
		if (!strcmp(m, "GET"))
			*rc = ctl_get_hooks(lg, resp);
		else if (!strcmp(m, "POST"))
			*rc = ctl_post_hook(ctx, req, resp);
		else if (!strcmp(m, "DELETE"))
			*rc = ctl_delete_hooks(lg, NULL, resp);
		else
			*rc = ctl_error(resp, 405, "method not allowed");
		return 1;
	}
	if (sim_path_is(req, 1, "okta", "event-hooks", "*", NULL)) {
		if (!strcmp(m, "DELETE"))
			*rc = ctl_delete_hooks(lg, req->seg[3], resp);
		else
			*rc = ctl_error(resp, 405, "method not allowed");
		return 1;
	}
	if (sim_path_is(req, 1, "okta", "events", NULL)) {
		if (!strcmp(m, "GET"))
			*rc = ctl_get_events(lg, req, resp);
		else if (!strcmp(m, "POST"))
			*rc = ctl_post_event(ctx, req, resp);
		else
			*rc = ctl_error(resp, 405, "method not allowed");
		return 1;
	}
	if (sim_path_is(req, 1, "okta", "memberships", NULL)) {
		json_t *body = sim_request_json(req, NULL);

		if (strcmp(m, "POST"))
			*rc = ctl_error(resp, 405, "method not allowed");
		else if (!json_is_object(body))
			*rc = ctl_error(resp, 400, "body must be {\"add\": [...], \"remove\": [...]}");
		else
			*rc = sim_okta_memberships(ctx, req, body, resp);
		json_decref(body);
		return 1;
	}
	if (sim_path_is(req, 1, "echo", "*", NULL)) {
		*rc = ctl_echo(lg, req, req->seg[2], resp);
		return 1;
	}
	if (sim_path_is(req, 1, "echoes", NULL) && !strcmp(m, "GET")) {
		*rc = ctl_echoes(lg, req, NULL, resp);
		return 1;
	}
	if (sim_path_is(req, 1, "echoes", "*", NULL)) {
		*rc = ctl_echoes(lg, req, req->seg[2], resp);
		return 1;
	}
	return 0;
}
