/*
 * sim_slack.c: the Slack Web API as sentry-bridge uses it (reference
 * gitlab-slack-api.md sections 4 and 5), under /slack/api/<method>.
 *
 * Methods: auth.test, chat.postMessage, chat.update, chat.postEphemeral,
 * conversations.list, conversations.info, conversations.history,
 * conversations.replies, conversations.open (one user: the bot's DM),
 * views.open,
 * users.list, users.info, users.lookupByEmail. Arguments come from the
 * query string, a JSON body or a form body; the token from
 * "Authorization: Bearer" (or a token argument, not with JSON bodies).
 * Every answer is HTTP 200 with {"ok": true, ...} or {"ok": false, "error"},
 * except rate limits: HTTP 429, Retry-After (seconds) and
 * {"ok": false, "error": "ratelimited"}.
 *
 * Rate limits: per method per workspace, in 60 s windows, by tier (Tier 2:
 * 20/min for the listings, Tier 3: 50/min, Tier 4: 100/min), and for
 * chat.postMessage one message per second per channel. The limits can be
 * changed with POST /slack/_sim/config.
 *
 * Modals: views.open exchanges a trigger_id the way Slack does: only one
 * Slack issued (here: POST /slack/_sim/triggers, the trigger of a click or
 * command a test is about to send), once (exchanged_trigger_id), within 3 s
 * (expired_trigger_id); unknown ones are invalid_trigger_id.
 * POST /slack/_sim/view_submission {"view_id", "user_id", "values":
 * {"<action_id>": "text"}} builds the view_submission payload Slack would
 * send for that modal (state.values by block_id and action_id, a fresh
 * trigger_id) for the test to sign and post; GET /slack/_sim/views lists
 * the opened modals.
 *
 * response_url: POST /slack/response/<id> (the URL a test puts in a slash
 * command) records the message as if shown to the person, under the
 * "channel" resp:<id>; like Slack, one URL takes at most 5 messages
 * (then 404 used_url).
 *
 * Control (not part of Slack): /slack/_sim/messages (GET: every message
 * with its replies, updates and metadata; DELETE: forget messages and rate
 * windows), /slack/_sim/channels and /slack/_sim/users (POST one object or
 * {"generate": N}), /slack/_sim/config, /slack/_sim/stats (calls and 429s
 * per method, the shortest gap seen between two posts to one channel).
 */
#include "sim.h"
#include "sim_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_channel {
	char *id, *name;
	bool is_private, is_archived, is_member, is_im;
	int64_t last_post_ms;
	int64_t min_gap_ms; /* shortest gap between two accepted posts (-1: none yet) */
};

struct sl_user {
	char *id, *name, *real_name, *email;
	bool deleted, is_bot;
};

struct sl_message {
	char *channel, *ts, *thread_ts, *user; /* user: ephemeral recipient */
	char *asked;                           /* the channel argument as the client gave it (ID or name) */
	json_t *msg;                           /* text, blocks, metadata */
	int updates;
	bool ephemeral;
};

struct sl_trigger {
	char *id, *user;
	int64_t issued_ms;
	bool used;
};

struct sl_view {
	char *id, *user;
	json_t *view;
};

struct sl_window {
	char method[48];
	int64_t start_ms;
	long used, calls, limited;
};

static struct {
	pthread_mutex_t mu;
	bool seeded;
	char token[128];
	struct sl_channel *ch;
	size_t nch, capch;
	struct sl_user *us;
	size_t nus, capus;
	struct sl_message *msgs;
	size_t nmsgs, capmsgs;
	struct sl_window win[32];
	size_t nwin;
	long tier[5];          /* per-minute limits by tier */
	int64_t per_channel_ms;
	uint64_t ts_seq;
	struct sl_trigger *trig;
	size_t ntrig, captrig;
	struct sl_view *views;
	size_t nviews, capviews;
	uint64_t trig_seq, view_seq;
	json_t *resp_uses; /* response_url id -> uses */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * size);
	if (q)
		*cap = n;
	return q;
}

static struct sl_channel *add_channel(const char *id, const char *name, bool priv, bool archived, bool member)
{
	struct sl_channel *v = grow(S.ch, &S.capch, S.nch + 1, sizeof *v);
	if (!v)
		return NULL;
	S.ch = v;
	struct sl_channel *c = &v[S.nch++];
	memset(c, 0, sizeof *c);
	c->id = sim_strdup(id);
	c->name = sim_strdup(name);
	c->is_private = priv;
	c->is_archived = archived;
	c->is_member = member;
	c->min_gap_ms = -1;
	return c;
}

static struct sl_user *add_user(const char *id, const char *name, const char *email, bool bot)
{
	struct sl_user *v = grow(S.us, &S.capus, S.nus + 1, sizeof *v);
	if (!v)
		return NULL;
	S.us = v;
	struct sl_user *u = &v[S.nus++];
	memset(u, 0, sizeof *u);
	u->id = sim_strdup(id);
	u->name = sim_strdup(name);
	u->real_name = sim_strdup(name);
	u->email = email ? sim_strdup(email) : NULL;
	u->is_bot = bot;
	return u;
}

static void seed(void)
{
	if (S.seeded)
		return;
	S.seeded = true;
	snprintf(S.token, sizeof S.token, "xoxb-sim-slack-token");
	S.tier[1] = 1;
	S.tier[2] = 20;
	S.tier[3] = 50;
	S.tier[4] = 100;
	S.per_channel_ms = 1000;
	static const char *const chans[][2] = {
	    {"C0000ALERTS", "alerts"}, {"C000PAYMENTS", "payments"}, {"C0RULES", "rules"},
	    {"C00000DEBUG", "debug"},  {"C000GENERAL", "general"},
	};
	for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++)
		add_channel(chans[i][0], chans[i][1], false, false, true);
	add_channel("C0ARCHIVED1", "old-alerts", false, true, true);
	add_channel("C0NOTMEMBER", "outsiders", false, false, false);
	add_user("U0ADA", "ada", "ada@acme.example", false);
	add_user("U0BOB", "bob", "bob@acme.example", false);
	add_user("U0ONCALL", "oncall", "oncall@acme.example", false);
	add_user("U0STRANGER", "stranger", "stranger@elsewhere.example", false);
	add_user("U0BOT", "sentry-bridge", NULL, true);
}

/* ---- helpers ---- */

static void ok_json(struct sim_response *resp, json_t *o)
{
	json_object_set_new(o, "ok", json_true());
	sim_resp_json(resp, 200, o);
}

static int fail(struct sim_response *resp, const char *error)
{
	sim_resp_json(resp, 200, json_pack("{s:b,s:s}", "ok", 0, "error", error));
	return 0;
}

static int ratelimited(struct sim_response *resp, int retry_after)
{
	sim_resp_json(resp, 429, json_pack("{s:b,s:s}", "ok", 0, "error", "ratelimited"));
	sim_resp_headerf(resp, "Retry-After", "%d", retry_after);
	return 0;
}

/* Take one call from the method's tier window; false (and *retry) when over. */
static bool tier_take(const char *method, int tier, int *retry)
{
	int64_t now = sim_now_ms();
	struct sl_window *w = NULL;
	for (size_t i = 0; i < S.nwin && !w; i++)
		if (!strcmp(S.win[i].method, method))
			w = &S.win[i];
	if (!w && S.nwin < sizeof S.win / sizeof S.win[0]) {
		w = &S.win[S.nwin++];
		memset(w, 0, sizeof *w);
		snprintf(w->method, sizeof w->method, "%s", method);
		w->start_ms = now;
	}
	if (!w)
		return true;
	w->calls++;
	if (now - w->start_ms >= 60000) {
		w->start_ms = now;
		w->used = 0;
	}
	long limit = tier >= 1 && tier <= 4 ? S.tier[tier] : 0;
	if (limit > 0 && w->used >= limit) {
		w->limited++;
		int64_t left = w->start_ms + 60000 - now;
		*retry = (int)((left + 999) / 1000);
		if (*retry < 1)
			*retry = 1;
		return false;
	}
	w->used++;
	return true;
}

static void count_limited(const char *method)
{
	for (size_t i = 0; i < S.nwin; i++)
		if (!strcmp(S.win[i].method, method))
			S.win[i].limited++;
}

/* Arguments: query parameters, then a JSON or form body. New object. */
static json_t *args_of(const struct sim_request *req, bool *json_body)
{
	json_t *a = json_object();
	*json_body = false;
	for (size_t i = 0; a && i < req->nparams; i++)
		json_object_set_new(a, req->params[i].key, json_string(req->params[i].value));
	if (!a || !req->body || !req->body_len)
		return a;
	if (req->body[0] == '{') {
		json_t *b = json_loadb(req->body, req->body_len, 0, NULL);
		if (!json_is_object(b)) {
			json_decref(b);
			json_decref(a);
			return NULL;
		}
		json_object_update(a, b);
		json_decref(b);
		*json_body = true;
		return a;
	}
	/* application/x-www-form-urlencoded */
	const char *p = req->body, *end = req->body + req->body_len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (eq) {
			char *k = sim_url_decode(p, (size_t)(eq - p), true);
			char *v = sim_url_decode(eq + 1, (size_t)(stop - eq - 1), true);
			if (k && v)
				json_object_set_new(a, k, json_string(v));
			free(k);
			free(v);
		}
		p = stop + 1;
	}
	return a;
}

static const char *arg(const json_t *a, const char *k)
{
	const json_t *v = json_object_get(a, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static struct sl_channel *find_channel(const char *ref)
{
	if (!ref)
		return NULL;
	const char *name = ref[0] == '#' ? ref + 1 : ref;
	for (size_t i = 0; i < S.nch; i++)
		if (!strcmp(S.ch[i].id, ref) || (!S.ch[i].is_im && !strcmp(S.ch[i].name, name)))
			return &S.ch[i];
	/* A user ID opens (or finds) the bot's DM with that user. */
	for (size_t i = 0; i < S.nus; i++)
		if (!strcmp(S.us[i].id, ref)) {
			char *id = sim_asprintf("D%s", ref + 1);
			struct sl_channel *c = NULL;
			for (size_t k = 0; k < S.nch && !c; k++)
				if (!strcmp(S.ch[k].id, id))
					c = &S.ch[k];
			if (!c && (c = add_channel(id, S.us[i].name, true, false, true)))
				c->is_im = true;
			free(id);
			return c;
		}
	return NULL;
}

static struct sl_message *find_message(const char *channel, const char *ts)
{
	for (size_t i = 0; ts && i < S.nmsgs; i++)
		if (!S.msgs[i].ephemeral && !strcmp(S.msgs[i].channel, channel) && !strcmp(S.msgs[i].ts, ts))
			return &S.msgs[i];
	return NULL;
}

static json_t *channel_json(const struct sl_channel *c)
{
	return json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b}", "id", c->id, "name", c->name, "is_channel",
			 !c->is_private && !c->is_im, "is_group", c->is_private && !c->is_im, "is_im", c->is_im,
			 "is_private", c->is_private, "is_archived", c->is_archived, "is_member", c->is_member);
}

static json_t *user_json(const struct sl_user *u)
{
	json_t *profile = json_pack("{s:s,s:s}", "real_name", u->real_name, "display_name", u->name);
	if (u->email)
		json_object_set_new(profile, "email", json_string(u->email));
	return json_pack("{s:s,s:s,s:s,s:b,s:b,s:o}", "id", u->id, "name", u->name, "real_name", u->real_name,
			 "deleted", u->deleted, "is_bot", u->is_bot, "profile", profile);
}

static json_t *message_json(const struct sl_message *m)
{
	json_t *o = json_deep_copy(m->msg);
	json_object_set_new(o, "ts", json_string(m->ts));
	json_object_set_new(o, "type", json_string("message"));
	if (m->thread_ts)
		json_object_set_new(o, "thread_ts", json_string(m->thread_ts));
	return o;
}

/* Cursor: opaque to clients; here base-36 offset behind a prefix. */
static char *make_cursor(size_t off)
{
	return sim_asprintf("c3Vi%zx", off);
}

static bool parse_cursor(const char *c, size_t *off)
{
	if (!c || !*c) {
		*off = 0;
		return true;
	}
	if (strncmp(c, "c3Vi", 4))
		return false;
	char *end;
	unsigned long long v = strtoull(c + 4, &end, 16);
	if (*end || end == c + 4)
		return false;
	*off = (size_t)v;
	return true;
}

static long limit_arg(const json_t *a, long def, long max)
{
	const char *l = arg(a, "limit");
	const json_t *lj = json_object_get(a, "limit");
	long v = def;
	if (l)
		v = strtol(l, NULL, 10);
	else if (json_is_integer(lj))
		v = (long)json_integer_value(lj);
	if (v <= 0)
		v = def;
	return v > max ? max : v;
}

/* ---- methods ---- */

static int m_post(const json_t *a, struct sim_response *resp, bool ephemeral)
{
	const char *chref = arg(a, "channel");
	const json_t *blocks = json_object_get(a, "blocks");
	const char *text = arg(a, "text");
	if (!chref)
		return fail(resp, "channel_not_found");
	struct sl_channel *c = find_channel(chref);
	if (!c)
		return fail(resp, "channel_not_found");
	if (json_is_string(blocks)) /* form bodies carry blocks as a JSON string */
		blocks = json_loads(json_string_value(blocks), 0, NULL);
	else
		json_incref((json_t *)blocks);
	int rc = 0;
	if (blocks && (!json_is_array(blocks) || json_array_size(blocks) > 50)) {
		rc = fail(resp, "invalid_blocks");
		goto out;
	}
	if ((!text || !*text) && !json_array_size(blocks)) {
		rc = fail(resp, "no_text");
		goto out;
	}
	if (text && strlen(text) > 40000) {
		rc = fail(resp, "msg_too_long");
		goto out;
	}
	if (c->is_archived) {
		rc = fail(resp, "is_archived");
		goto out;
	}
	if (!c->is_member && !c->is_im) {
		rc = fail(resp, "not_in_channel");
		goto out;
	}
	const char *thread_ts = arg(a, "thread_ts");
	if (thread_ts && !find_message(c->id, thread_ts)) {
		rc = fail(resp, "thread_not_found");
		goto out;
	}
	const char *user = arg(a, "user");
	if (ephemeral && !user) {
		rc = fail(resp, "user_not_found");
		goto out;
	}
	int64_t now = sim_now_ms();
	if (!ephemeral) {
		/* Special tier: one message per second per channel. */
		if (c->last_post_ms && now - c->last_post_ms < S.per_channel_ms) {
			count_limited("chat.postMessage");
			rc = ratelimited(resp, 1);
			goto out;
		}
		if (c->last_post_ms && (c->min_gap_ms < 0 || now - c->last_post_ms < c->min_gap_ms))
			c->min_gap_ms = now - c->last_post_ms;
		c->last_post_ms = now;
	}
	struct sl_message *v = grow(S.msgs, &S.capmsgs, S.nmsgs + 1, sizeof *v);
	if (!v) {
		rc = -1;
		goto out;
	}
	S.msgs = v;
	struct sl_message *m = &v[S.nmsgs++];
	memset(m, 0, sizeof *m);
	m->channel = sim_strdup(c->id);
	m->asked = sim_strdup(arg(a, "channel"));
	m->ts = sim_asprintf("%lld.%06llu", (long long)(now / 1000), (unsigned long long)(++S.ts_seq % 1000000));
	m->thread_ts = thread_ts ? sim_strdup(thread_ts) : NULL;
	m->ephemeral = ephemeral;
	m->user = user ? sim_strdup(user) : NULL;
	m->msg = json_object();
	if (text)
		json_object_set_new(m->msg, "text", json_string(text));
	if (blocks)
		json_object_set(m->msg, "blocks", (json_t *)blocks);
	const json_t *md = json_object_get(a, "metadata");
	if (json_is_string(md))
		json_object_set_new(m->msg, "metadata", json_loads(json_string_value(md), 0, NULL));
	else if (json_is_object(md))
		json_object_set(m->msg, "metadata", (json_t *)md);
	if (ephemeral)
		ok_json(resp, json_pack("{s:s}", "message_ts", m->ts));
	else
		ok_json(resp, json_pack("{s:s,s:s,s:o}", "channel", c->id, "ts", m->ts, "message", message_json(m)));
out:
	json_decref((json_t *)blocks);
	return rc;
}

static int m_update(const json_t *a, struct sim_response *resp)
{
	struct sl_channel *c = find_channel(arg(a, "channel"));
	if (!c)
		return fail(resp, "channel_not_found");
	struct sl_message *m = find_message(c->id, arg(a, "ts"));
	if (!m)
		return fail(resp, "message_not_found");
	if (c->is_archived)
		return fail(resp, "is_archived");
	const json_t *blocks = json_object_get(a, "blocks");
	const char *text = arg(a, "text");
	if (json_is_string(blocks))
		blocks = json_loads(json_string_value(blocks), 0, NULL);
	else
		json_incref((json_t *)blocks);
	if (!text && !blocks)
		return fail(resp, "no_text");
	if (text)
		json_object_set_new(m->msg, "text", json_string(text));
	if (blocks)
		json_object_set(m->msg, "blocks", (json_t *)blocks);
	json_decref((json_t *)blocks);
	m->updates++;
	ok_json(resp, json_pack("{s:s,s:s,s:s}", "channel", c->id, "ts", m->ts, "text", text ? text : ""));
	return 0;
}

static int m_conv_list(const json_t *a, struct sim_response *resp)
{
	const char *types = arg(a, "types");
	const char *excl = arg(a, "exclude_archived");
	bool exclude = excl && (!strcmp(excl, "true") || !strcmp(excl, "1"));
	bool pub = !types || strstr(types, "public_channel"), priv = types && strstr(types, "private_channel");
	size_t off;
	if (!parse_cursor(arg(a, "cursor"), &off))
		return fail(resp, "invalid_cursor");
	long limit = limit_arg(a, 100, 1000);
	json_t *arr = json_array();
	size_t i = off, taken = 0;
	for (; i < S.nch && taken < (size_t)limit; i++) {
		const struct sl_channel *c = &S.ch[i];
		if (c->is_im || (c->is_private ? !priv : !pub) || (exclude && c->is_archived))
			continue;
		json_array_append_new(arr, channel_json(c));
		taken++;
	}
	char *next = i < S.nch ? make_cursor(i) : sim_strdup("");
	ok_json(resp, json_pack("{s:o,s:{s:s}}", "channels", arr, "response_metadata", "next_cursor", next));
	free(next);
	return 0;
}

static int m_users_list(const json_t *a, struct sim_response *resp)
{
	size_t off;
	if (!parse_cursor(arg(a, "cursor"), &off))
		return fail(resp, "invalid_cursor");
	long limit = limit_arg(a, 100, 1000);
	json_t *arr = json_array();
	size_t i = off;
	for (; i < S.nus && i < off + (size_t)limit; i++)
		json_array_append_new(arr, user_json(&S.us[i]));
	char *next = i < S.nus ? make_cursor(i) : sim_strdup("");
	ok_json(resp, json_pack("{s:o,s:{s:s}}", "members", arr, "response_metadata", "next_cursor", next));
	free(next);
	return 0;
}

static int m_history(const json_t *a, struct sim_response *resp)
{
	struct sl_channel *c = find_channel(arg(a, "channel"));
	if (!c)
		return fail(resp, "channel_not_found");
	if (!c->is_member && !c->is_im)
		return fail(resp, "not_in_channel");
	const char *oldest = arg(a, "oldest");
	double old = oldest ? strtod(oldest, NULL) : 0;
	long limit = limit_arg(a, 100, 1000);
	json_t *arr = json_array();
	for (size_t i = S.nmsgs; i-- > 0 && (long)json_array_size(arr) < limit;) {
		const struct sl_message *m = &S.msgs[i];
		if (m->ephemeral || strcmp(m->channel, c->id) || strtod(m->ts, NULL) < old)
			continue;
		if (m->thread_ts && strcmp(m->thread_ts, m->ts))
			continue; /* replies are not in the channel history */
		json_array_append_new(arr, message_json(m));
	}
	ok_json(resp, json_pack("{s:o,s:b}", "messages", arr, "has_more", 0));
	return 0;
}

/* A trigger_id Slack would put in an interaction payload: "<sec>.<seq>.<hex>". */
static const char *issue_trigger(const char *user)
{
	struct sl_trigger *v = grow(S.trig, &S.captrig, S.ntrig + 1, sizeof *v);
	if (!v)
		return NULL;
	S.trig = v;
	struct sl_trigger *t = &v[S.ntrig++];
	int64_t now = sim_now_ms();
	uint64_t seq = ++S.trig_seq;
	t->id = sim_asprintf("%lld.%llu.%08llx", (long long)(now / 1000), (unsigned long long)seq,
			     (unsigned long long)((seq * 2654435761u) & 0xffffffffu));
	t->user = user ? sim_strdup(user) : NULL;
	t->issued_ms = now;
	t->used = false;
	return t->id;
}

static int m_views_open(const json_t *a, struct sim_response *resp)
{
	const char *tid = arg(a, "trigger_id");
	if (!tid)
		return fail(resp, "invalid_arguments");
	struct sl_trigger *t = NULL;
	for (size_t i = 0; i < S.ntrig && !t; i++)
		if (!strcmp(S.trig[i].id, tid))
			t = &S.trig[i];
	if (!t)
		return fail(resp, "invalid_trigger_id");
	if (t->used)
		return fail(resp, "exchanged_trigger_id");
	if (sim_now_ms() - t->issued_ms > 3000)
		return fail(resp, "expired_trigger_id");
	const json_t *vj = json_object_get(a, "view");
	json_t *view = json_is_string(vj) ? json_loads(json_string_value(vj), 0, NULL) : json_deep_copy(vj);
	const char *type = json_string_value(json_object_get(view, "type"));
	const json_t *blocks = json_object_get(view, "blocks");
	if (!json_is_object(view) || !type || strcmp(type, "modal") || !json_is_object(json_object_get(view, "title")) ||
	    !json_is_array(blocks) || json_array_size(blocks) > 100) {
		json_decref(view);
		return fail(resp, "invalid_arguments");
	}
	char *vt = json_dumps(view, JSON_COMPACT);
	size_t vlen = vt ? strlen(vt) : 0;
	free(vt);
	if (vlen > 250 * 1024) {
		json_decref(view);
		return fail(resp, "view_too_large");
	}
	t->used = true;
	struct sl_view *v = grow(S.views, &S.capviews, S.nviews + 1, sizeof *v);
	if (!v) {
		json_decref(view);
		return -1;
	}
	S.views = v;
	struct sl_view *w = &v[S.nviews++];
	w->id = sim_asprintf("V%09llu", (unsigned long long)++S.view_seq);
	w->user = t->user ? sim_strdup(t->user) : NULL;
	json_object_set_new(view, "id", json_string(w->id));
	json_object_set_new(view, "team_id", json_string("T0ACME"));
	json_object_set_new(view, "state", json_pack("{s:{}}", "values"));
	json_object_set_new(view, "hash", json_string(w->id + 1));
	json_object_set_new(view, "root_view_id", json_string(w->id));
	if (!json_is_string(json_object_get(view, "callback_id")))
		json_object_set_new(view, "callback_id", json_string(""));
	if (!json_is_string(json_object_get(view, "private_metadata")))
		json_object_set_new(view, "private_metadata", json_string(""));
	w->view = view;
	ok_json(resp, json_pack("{s:O}", "view", view));
	return 0;
}

/* The view_submission payload of an opened modal with the given input values. */
static int view_submission(const json_t *body, struct sim_response *resp)
{
	const char *vid = json_string_value(json_object_get(body, "view_id"));
	const char *uid = json_string_value(json_object_get(body, "user_id"));
	const json_t *values = json_object_get(body, "values");
	struct sl_view *w = NULL;
	for (size_t i = 0; vid && i < S.nviews && !w; i++)
		if (!strcmp(S.views[i].id, vid))
			w = &S.views[i];
	if (!w || !uid) {
		sim_resp_json(resp, 404, json_pack("{s:s}", "error", "no such view (view_id) or no user_id"));
		return 0;
	}
	const struct sl_user *u = NULL;
	for (size_t i = 0; i < S.nus && !u; i++)
		if (!strcmp(S.us[i].id, uid))
			u = &S.us[i];
	json_t *state = json_object();
	const json_t *blocks = json_object_get(w->view, "blocks");
	for (size_t i = 0; i < json_array_size(blocks); i++) {
		const json_t *b = json_array_get(blocks, i);
		if (strcmp(json_string_value(json_object_get(b, "type")) ? json_string_value(json_object_get(b, "type")) : "",
			   "input"))
			continue;
		const json_t *el = json_object_get(b, "element");
		const char *aid = json_string_value(json_object_get(el, "action_id"));
		const char *bid = json_string_value(json_object_get(b, "block_id"));
		const char *val = aid ? json_string_value(json_object_get(values, aid)) : NULL;
		if (!aid || !bid)
			continue;
		if ((!val || !*val) && !json_is_true(json_object_get(b, "optional"))) {
			/* Slack does not let the person submit without a required input. */
			json_decref(state);
			sim_resp_json(resp, 400, json_pack("{s:s,s:s}", "error", "a required input has no value", "action_id", aid));
			return 0;
		}
		json_object_set_new(state, bid,
				    json_pack("{s:{s:s,s:s?}}", aid, "type", json_string_value(json_object_get(el, "type")),
					      "value", val));
	}
	json_t *view = json_deep_copy(w->view);
	json_object_set_new(view, "state", json_pack("{s:o}", "values", state));
	const char *tid = issue_trigger(uid);
	json_t *p = json_pack("{s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s?,s:o,s:[]}", "type", "view_submission",
			      "team", "id", "T0ACME", "domain", "acme", "user", "id", uid, "username",
			      u ? u->name : uid, "name", u ? u->name : uid, "team_id", "T0ACME", "api_app_id", "A0BRIDGE",
			      "token", "deprecated-verification-token", "trigger_id", tid, "view", view,
			      "response_urls");
	sim_resp_json(resp, 200, json_pack("{s:o}", "payload", p));
	return 0;
}

static void sim_resp_text(struct sim_response *resp, int status, const char *text)
{
	sim_resp_json_text(resp, status, sim_strdup(text), strlen(text));
	sim_resp_header_del(resp, "Content-Type");
	sim_resp_header(resp, "Content-Type", "text/html");
}

/* POST /slack/response/<id>: a response_url. */
static int response_url(const struct sim_request *req, struct sim_response *resp)
{
	const char *id = req->seg[2];
	if (!S.resp_uses)
		S.resp_uses = json_object();
	json_int_t uses = json_integer_value(json_object_get(S.resp_uses, id));
	if (uses >= 5) {
		sim_resp_text(resp, 404, "used_url");
		return 0;
	}
	json_t *b = req->body && req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	const char *text = json_string_value(json_object_get(b, "text"));
	if (!json_is_object(b) || (!text && !json_is_array(json_object_get(b, "blocks")))) {
		json_decref(b);
		sim_resp_text(resp, 400, "no_text");
		return 0;
	}
	json_object_set_new(S.resp_uses, id, json_integer(uses + 1));
	struct sl_message *v = grow(S.msgs, &S.capmsgs, S.nmsgs + 1, sizeof *v);
	if (!v) {
		json_decref(b);
		return -1;
	}
	S.msgs = v;
	struct sl_message *m = &v[S.nmsgs++];
	memset(m, 0, sizeof *m);
	m->channel = sim_asprintf("resp:%s", id);
	m->ts = sim_asprintf("%lld.%06llu", (long long)(sim_now_ms() / 1000), (unsigned long long)(++S.ts_seq % 1000000));
	const char *rt = json_string_value(json_object_get(b, "response_type"));
	m->ephemeral = !rt || strcmp(rt, "in_channel");
	m->msg = json_object();
	if (text)
		json_object_set_new(m->msg, "text", json_string(text));
	if (json_is_array(json_object_get(b, "blocks")))
		json_object_set(m->msg, "blocks", json_object_get(b, "blocks"));
	json_decref(b);
	sim_resp_text(resp, 200, "ok");
	return 0;
}

static int slack_method(const char *method, const json_t *a, struct sim_response *resp)
{
	int retry = 0;
	if (!strcmp(method, "auth.test"))
		return ok_json(resp, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "url", "https://acme.slack.com/", "team",
					       "Acme", "user", "sentry-bridge", "team_id", "T0ACME", "user_id", "U0BOT",
					       "bot_id", "B0BOT")),
		       0;
	if (!strcmp(method, "chat.postMessage"))
		return m_post(a, resp, false);
	if (!strcmp(method, "chat.postEphemeral"))
		return tier_take(method, 4, &retry) ? m_post(a, resp, true) : ratelimited(resp, retry);
	if (!strcmp(method, "chat.update"))
		return tier_take(method, 3, &retry) ? m_update(a, resp) : ratelimited(resp, retry);
	if (!strcmp(method, "conversations.list"))
		return tier_take(method, 2, &retry) ? m_conv_list(a, resp) : ratelimited(resp, retry);
	if (!strcmp(method, "conversations.history"))
		return tier_take(method, 3, &retry) ? m_history(a, resp) : ratelimited(resp, retry);
	if (!strcmp(method, "conversations.replies")) {
		if (!tier_take(method, 3, &retry))
			return ratelimited(resp, retry);
		struct sl_channel *c = find_channel(arg(a, "channel"));
		const char *ts = arg(a, "ts");
		if (!c)
			return fail(resp, "channel_not_found");
		if (!find_message(c->id, ts))
			return fail(resp, "thread_not_found");
		json_t *arr = json_array();
		for (size_t i = 0; i < S.nmsgs; i++) {
			const struct sl_message *m = &S.msgs[i];
			if (!m->ephemeral && !strcmp(m->channel, c->id) &&
			    (!strcmp(m->ts, ts) || (m->thread_ts && !strcmp(m->thread_ts, ts))))
				json_array_append_new(arr, message_json(m));
		}
		return ok_json(resp, json_pack("{s:o,s:b}", "messages", arr, "has_more", 0)), 0;
	}
	if (!strcmp(method, "conversations.info")) {
		if (!tier_take(method, 3, &retry))
			return ratelimited(resp, retry);
		struct sl_channel *c = find_channel(arg(a, "channel"));
		return c ? (ok_json(resp, json_pack("{s:o}", "channel", channel_json(c))), 0)
			 : fail(resp, "channel_not_found");
	}
	if (!strcmp(method, "users.list"))
		return tier_take(method, 2, &retry) ? m_users_list(a, resp) : ratelimited(resp, retry);
	if (!strcmp(method, "users.info") || !strcmp(method, "users.lookupByEmail")) {
		bool by_email = !strcmp(method, "users.lookupByEmail");
		if (!tier_take(method, by_email ? 3 : 4, &retry))
			return ratelimited(resp, retry);
		const char *key = arg(a, by_email ? "email" : "user");
		for (size_t i = 0; key && i < S.nus; i++)
			if (by_email ? (S.us[i].email && sim_streq_ci(S.us[i].email, key)) : !strcmp(S.us[i].id, key))
				return ok_json(resp, json_pack("{s:o}", "user", user_json(&S.us[i]))), 0;
		return fail(resp, by_email ? "users_not_found" : "user_not_found");
	}
	if (!strcmp(method, "conversations.open")) {
		/* One user: the bot's DM with them (created on first use). */
		if (!tier_take(method, 3, &retry))
			return ratelimited(resp, retry);
		const char *users = arg(a, "users");
		if (!users || !*users)
			return fail(resp, "users_list_not_supplied");
		if (strchr(users, ','))
			return fail(resp, "not_enough_users"); /* group DMs: not simulated */
		const struct sl_user *u = NULL;
		for (size_t i = 0; i < S.nus && !u; i++)
			if (!strcmp(S.us[i].id, users))
				u = &S.us[i];
		if (!u)
			return fail(resp, "user_not_found");
		if (u->is_bot)
			return fail(resp, "cannot_dm_bot");
		if (u->deleted)
			return fail(resp, "user_disabled");
		struct sl_channel *c = find_channel(users);
		return c ? (ok_json(resp, json_pack("{s:{s:s}}", "channel", "id", c->id)), 0) : -1;
	}
	if (!strcmp(method, "views.open"))
		return tier_take(method, 4, &retry) ? m_views_open(a, resp) : ratelimited(resp, retry);
	return fail(resp, "unknown_method");
}

/* ---- control ---- */

static void reset_messages(void)
{
	for (size_t i = 0; i < S.nmsgs; i++) {
		free(S.msgs[i].channel);
		free(S.msgs[i].ts);
		free(S.msgs[i].thread_ts);
		free(S.msgs[i].user);
		free(S.msgs[i].asked);
		json_decref(S.msgs[i].msg);
	}
	S.nmsgs = 0;
	S.nwin = 0;
	for (size_t i = 0; i < S.nch; i++) {
		S.ch[i].last_post_ms = 0;
		S.ch[i].min_gap_ms = -1;
	}
}

static int control(const struct sim_request *req, struct sim_response *resp)
{
	const char *what = req->nseg > 2 ? req->seg[2] : "";
	bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST"),
	     del = !strcmp(req->method, "DELETE");
	json_t *body = post ? sim_request_json(req, NULL) : NULL;
	int rc = 0;
	if (!strcmp(what, "messages") && get) {
		const char *channel = sim_query_get(req, "channel");
		json_t *arr = json_array();
		for (size_t i = 0; i < S.nmsgs; i++) {
			const struct sl_message *m = &S.msgs[i];
			if (channel && strcmp(channel, m->channel))
				continue;
			json_t *o = message_json(m);
			json_object_set_new(o, "channel", json_string(m->channel));
			json_object_set_new(o, "updates", json_integer(m->updates));
			json_object_set_new(o, "ephemeral", json_boolean(m->ephemeral));
			if (m->asked)
				json_object_set_new(o, "channel_arg", json_string(m->asked));
			if (m->user)
				json_object_set_new(o, "user", json_string(m->user));
			json_array_append_new(arr, o);
		}
		sim_resp_json(resp, 200, json_pack("{s:o}", "messages", arr));
	} else if (!strcmp(what, "messages") && del) {
		reset_messages();
		sim_resp_empty(resp, 204);
	} else if (!strcmp(what, "channels") && post && json_is_object(body)) {
		json_int_t n = json_integer_value(json_object_get(body, "generate"));
		for (json_int_t i = 0; i < n; i++) {
			char id[32], name[64];
			snprintf(id, sizeof id, "CG%09lld", (long long)i);
			snprintf(name, sizeof name, "gen-%lld", (long long)i);
			add_channel(id, name, i % 10 == 9, i % 25 == 24, i % 3 == 0);
		}
		const char *id = json_string_value(json_object_get(body, "id"));
		const char *name = json_string_value(json_object_get(body, "name"));
		if (id && name) {
			struct sl_channel *c = NULL;
			for (size_t i = 0; i < S.nch && !c; i++)
				if (!strcmp(S.ch[i].id, id))
					c = &S.ch[i];
			if (!c)
				c = add_channel(id, name, false, false, true);
			if (c) {
				free(c->name);
				c->name = sim_strdup(name);
				c->is_private = json_is_true(json_object_get(body, "is_private"));
				c->is_archived = json_is_true(json_object_get(body, "is_archived"));
				c->is_member = !json_is_false(json_object_get(body, "is_member"));
			}
		}
		sim_resp_json(resp, 200, json_pack("{s:I}", "channels", (json_int_t)S.nch));
	} else if (!strcmp(what, "users") && post && json_is_object(body)) {
		json_int_t n = json_integer_value(json_object_get(body, "generate"));
		for (json_int_t i = 0; i < n; i++) {
			char id[32], name[64], email[96];
			snprintf(id, sizeof id, "UG%09lld", (long long)i);
			snprintf(name, sizeof name, "user%lld", (long long)i);
			snprintf(email, sizeof email, "user%lld@acme.example", (long long)i);
			add_user(id, name, email, false);
		}
		const char *id = json_string_value(json_object_get(body, "id"));
		const char *name = json_string_value(json_object_get(body, "name"));
		if (id && name)
			add_user(id, name, json_string_value(json_object_get(body, "email")), false);
		sim_resp_json(resp, 200, json_pack("{s:I}", "users", (json_int_t)S.nus));
	} else if (!strcmp(what, "config") && post && json_is_object(body)) {
		static const char *const keys[] = {NULL, "tier1", "tier2", "tier3", "tier4"};
		for (int t = 1; t <= 4; t++)
			if (json_is_integer(json_object_get(body, keys[t])))
				S.tier[t] = (long)json_integer_value(json_object_get(body, keys[t]));
		if (json_is_integer(json_object_get(body, "per_channel_ms")))
			S.per_channel_ms = (int64_t)json_integer_value(json_object_get(body, "per_channel_ms"));
		if (json_is_string(json_object_get(body, "token")))
			snprintf(S.token, sizeof S.token, "%s", json_string_value(json_object_get(body, "token")));
		sim_resp_json(resp, 200,
			      json_pack("{s:I,s:I,s:I,s:I,s:I}", "tier1", (json_int_t)S.tier[1], "tier2",
					(json_int_t)S.tier[2], "tier3", (json_int_t)S.tier[3], "tier4",
					(json_int_t)S.tier[4], "per_channel_ms", (json_int_t)S.per_channel_ms));
	} else if (!strcmp(what, "triggers") && post) {
		const char *tid = issue_trigger(json_string_value(json_object_get(body, "user")));
		sim_resp_json(resp, tid ? 200 : 500, json_pack("{s:s?}", "trigger_id", tid));
	} else if (!strcmp(what, "views") && get) {
		json_t *arr = json_array();
		for (size_t i = 0; i < S.nviews; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s?,s:O}", "id", S.views[i].id, "user", S.views[i].user,
							     "view", S.views[i].view));
		sim_resp_json(resp, 200, json_pack("{s:o}", "views", arr));
	} else if (!strcmp(what, "view_submission") && post && json_is_object(body)) {
		rc = view_submission(body, resp);
	} else if (!strcmp(what, "stats") && get) {
		json_t *methods = json_object(), *gaps = json_object();
		for (size_t i = 0; i < S.nwin; i++)
			json_object_set_new(methods, S.win[i].method,
					    json_pack("{s:I,s:I}", "calls", (json_int_t)S.win[i].calls, "limited",
						      (json_int_t)S.win[i].limited));
		for (size_t i = 0; i < S.nch; i++)
			if (S.ch[i].min_gap_ms >= 0)
				json_object_set_new(gaps, S.ch[i].id, json_integer(S.ch[i].min_gap_ms));
		sim_resp_json(resp, 200, json_pack("{s:o,s:o}", "methods", methods, "min_post_gap_ms", gaps));
	} else {
		sim_resp_json(resp, 404, json_pack("{s:s}", "error", "unknown slack control endpoint"));
	}
	json_decref(body);
	return rc;
}

static int slack_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	(void)ctx;
	pthread_mutex_lock(&S.mu);
	seed();
	int rc = 0;
	if (req->nseg >= 2 && !strcmp(req->seg[1], "_sim")) {
		rc = control(req, resp);
		goto out;
	}
	if (req->nseg == 3 && !strcmp(req->seg[1], "response") && !strcmp(req->method, "POST")) {
		rc = response_url(req, resp);
		goto out;
	}
	if (req->nseg != 3 || strcmp(req->seg[1], "api")) {
		sim_resp_json(resp, 404, json_pack("{s:b,s:s}", "ok", 0, "error", "unknown_method"));
		goto out;
	}
	const char *method = req->seg[2];
	bool json_body = false;
	json_t *a = args_of(req, &json_body);
	if (!a) {
		rc = fail(resp, "invalid_json");
		goto out;
	}
	/* The token: Authorization: Bearer, or a token argument (never with JSON). */
	const char *tok = NULL;
	if (req->authorization && !strncmp(req->authorization, "Bearer ", 7))
		tok = req->authorization + 7;
	else if (!json_body)
		tok = arg(a, "token");
	if (!tok)
		rc = fail(resp, "not_authed");
	else if (!sim_secret_eq(tok, S.token))
		rc = fail(resp, "invalid_auth");
	else {
		/* Calls are counted even for methods without a tier window. */
		int unused;
		if (!strcmp(method, "chat.postMessage") || !strcmp(method, "auth.test"))
			(void)tier_take(method, 0, &unused);
		rc = slack_method(method, a, resp);
	}
	json_decref(a);
out:
	pthread_mutex_unlock(&S.mu);
	return rc;
}

static int slack_fault(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp, int status,
		       int retry_after)
{
	(void)ctx;
	(void)req;
	if (status == 429) {
		sim_resp_json(resp, 429, json_pack("{s:b,s:s}", "ok", 0, "error", "ratelimited"));
		sim_resp_headerf(resp, "Retry-After", "%d", retry_after >= 0 ? retry_after : 1);
		return 0;
	}
	sim_resp_json(resp, status, json_pack("{s:b,s:s}", "ok", 0, "error", status >= 500 ? "fatal_error" : "request_error"));
	if (retry_after >= 0)
		sim_resp_headerf(resp, "Retry-After", "%d", retry_after);
	return 0;
}

/* ---- Sentry's Slack endpoints (/extensions/slack/...): a recorder ---- */

static struct {
	pthread_mutex_t mu;
	json_t *received; /* [{path, content_type, signature, timestamp, body}] */
	int status;       /* what to answer (default 200) */
	char *answer;     /* body to answer (default a small JSON) */
} X = {.mu = PTHREAD_MUTEX_INITIALIZER, .status = 200};

static int ext_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	(void)ctx;
	pthread_mutex_lock(&X.mu);
	if (!X.received)
		X.received = json_array();
	if (req->nseg >= 3 && !strcmp(req->seg[2], "_received")) {
		if (!strcmp(req->method, "DELETE")) {
			json_array_clear(X.received);
			sim_resp_empty(resp, 204);
		} else {
			sim_resp_json(resp, 200, json_pack("{s:O}", "received", X.received));
		}
	} else if (req->nseg >= 3 && !strcmp(req->seg[2], "_answer") && !strcmp(req->method, "POST")) {
		json_t *b = sim_request_json(req, NULL);
		X.status = (int)json_integer_value(json_object_get(b, "status"));
		if (X.status < 100)
			X.status = 200;
		free(X.answer);
		X.answer = json_is_string(json_object_get(b, "body")) ? sim_strdup(json_string_value(json_object_get(b, "body")))
									: NULL;
		json_decref(b);
		sim_resp_empty(resp, 204);
	} else {
		json_array_append_new(
		    X.received,
		    json_pack("{s:s,s:s?,s:s?,s:s?,s:s%}", "path", req->raw_path, "content_type",
			      sim_header_get(req, "Content-Type"), "signature", sim_header_get(req, "X-Slack-Signature"),
			      "timestamp", sim_header_get(req, "X-Slack-Request-Timestamp"), "body",
			      req->body ? req->body : "", req->body_len));
		const char *ans = X.answer ? X.answer : "{\"response_type\":\"ephemeral\",\"text\":\"Sentry got it\"}";
		sim_resp_json_text(resp, X.status, sim_strdup(ans), strlen(ans));
	}
	pthread_mutex_unlock(&X.mu);
	return 0;
}

/* Sentry's Slack endpoints: POST /extensions/slack/{action,event,commands,options-load}/
 * are recorded (path, content type, Slack signature headers, raw body) for
 * GET /extensions/slack/_received; POST /extensions/slack/_answer sets the
 * answer ({"status", "body"}). Slow answers: /_sim/faults with latency_ms. */
const struct sim_upstream sim_upstream_sentry_slack = {
    .name = "sentry_slack",
    .prefix = "/extensions/slack",
    .control = false,
    .locked = false,
    .handle = ext_handle,
    .fault = NULL,
};

const struct sim_upstream sim_upstream_slack = {
    .name = "slack",
    .prefix = "/slack",
    .control = false,
    .locked = false,
    .handle = slack_handle,
    .fault = slack_fault,
};
