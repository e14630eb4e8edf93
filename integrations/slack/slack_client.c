/*
 * slack_client.c: Slack Web API calls through httpc; see slack_client.h.
 */
#include "slack_client.h"

#include "clock.h"
#include "buf.h"
#include "httpc.h"
#include "secret.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACE_SLOTS 512
#define PACE_MS 1000

struct pace {
	char channel[32];
	int64_t next_ms; /* monotonic: earliest next post */
};

struct slack_client {
	struct httpc *http;
	struct logger *lg;
	char *base;
	char *auth;
	const char *hdr[4];
	pthread_mutex_t mu;
	struct pace pace[PACE_SLOTS];
	size_t npace;
};

struct slack_client *slack_client_new(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e)
{
	return slack_client_new_opts(cfg, lg, m, NULL, e);
}

struct slack_client *slack_client_new_opts(const struct config *cfg, struct logger *lg, struct metrics *m,
					   const struct slack_client_opts *so, struct err *e)
{
	const struct config_slack *s = &cfg->slack;
	if (!s->api_url || !*s->api_url) {
		err_set(e, -1, "slack: slack.api_url is not set (Slack is not configured)");
		return NULL;
	}
	if (!s->bot_token || !*s->bot_token) {
		err_set(e, -1, "slack: no bot token (slack.bot_token_env or _file)");
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)s->bot_token; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			err_set(e, -1, "slack: the bot token contains a control character");
			return NULL;
		}
	struct slack_client *c = calloc(1, sizeof *c);
	if (!c)
		goto nomem;
	pthread_mutex_init(&c->mu, NULL);
	c->lg = lg;
	size_t bl = strlen(s->api_url);
	while (bl && s->api_url[bl - 1] == '/')
		bl--;
	if (!(c->base = strndup(s->api_url, bl)) || asprintf(&c->auth, "Authorization: Bearer %s", s->bot_token) < 0) {
		c->auth = NULL;
		goto nomem;
	}
	c->hdr[0] = c->auth;
	c->hdr[1] = "Content-Type: application/json; charset=utf-8";
	c->hdr[2] = "Accept: application/json";
	const struct upstream_http *h = &s->http;
	struct httpc_opts o = {
	    .name = so && so->name ? so->name : "slack",
	    .rl = HTTPC_RL_SLACK,
	    .max_rl_retries = so && so->caller_waits_429 ? -1 : 0,
	    .timeout_ms = h->timeout_ms,
	    .connect_timeout_ms = h->connect_timeout_ms,
	    .max_retries = h->max_retries > 0 ? h->max_retries : -1,
	    .max_concurrency = h->max_concurrency,
	    .rate_per_sec = h->rate_per_sec,
	    .burst = h->burst,
	    .ca_file = h->ca_file && *h->ca_file ? h->ca_file : NULL,
	    .max_response_bytes = h->max_response_bytes,
	    .max_wait_ms = 10000, /* longer waits go back to the queue */
	};
	if (!(c->http = httpc_new(&o, lg, m))) {
		err_set(e, -1, "slack: cannot create the HTTP client (see the log)");
		slack_client_free(c);
		return NULL;
	}
	return c;
nomem:
	err_set(e, -1, "slack: out of memory");
	slack_client_free(c);
	return NULL;
}

void slack_client_free(struct slack_client *c)
{
	if (!c)
		return;
	httpc_free(c->http);
	free(c->base);
	secret_free(c->auth);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void slack_result_clear(struct slack_result *res)
{
	if (!res)
		return;
	free(res->error);
	free(res->channel);
	free(res->ts);
	memset(res, 0, sizeof *res);
	res->retry_after_ms = -1;
}

int slack_error_permanent(const char *error)
{
	static const char *const perm[] = {
	    "channel_not_found", "not_in_channel",  "is_archived",	     "msg_too_long",   "no_text",
	    "invalid_blocks",	 "invalid_auth",    "not_authed",	     "token_revoked",  "account_inactive",
	    "missing_scope",	 "invalid_arguments", "message_not_found", "cant_update_message", "thread_not_found",
	    "users_not_found",	 "user_not_found",  "restricted_action", "invalid_json",   NULL,
	};
	for (size_t i = 0; error && perm[i]; i++)
		if (!strcmp(error, perm[i]))
			return 1;
	return 0;
}

/* Turn an httpc answer into res (and *body). */
static void read_answer(int hrc, const struct err *he, struct httpc_resp *r, struct slack_result *res, json_t **body)
{
	res->status = r->status;
	res->retry_after_ms = r->retry_after_ms;
	if (hrc && hrc != HTTPC_E_RATE_LIMITED) {
		if (asprintf(&res->error, "transport: %s", he->msg) < 0)
			res->error = NULL;
		return;
	}
	if (hrc == HTTPC_E_RATE_LIMITED || r->status == 429) {
		res->error = strdup("ratelimited");
		if (res->retry_after_ms < 0)
			res->retry_after_ms = 1000;
		return;
	}
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		if (asprintf(&res->error, "bad response: HTTP %ld, not a JSON object", r->status) < 0)
			res->error = NULL;
		return;
	}
	res->ok = json_is_true(json_object_get(j, "ok"));
	if (!res->ok) {
		const char *er = json_string_value(json_object_get(j, "error"));
		res->error = strdup(er ? er : "unknown_error");
		res->permanent = slack_error_permanent(res->error);
	} else {
		const char *ch = json_string_value(json_object_get(j, "channel"));
		const char *ts = json_string_value(json_object_get(j, "ts"));
		res->channel = ch ? strdup(ch) : NULL;
		res->ts = ts ? strdup(ts) : NULL;
	}
	if (body)
		*body = j;
	else
		json_decref(j);
}

int slack_call(struct slack_client *c, const char *method, const json_t *args, struct slack_result *res, json_t **body,
	       struct err *e)
{
	memset(res, 0, sizeof *res);
	res->retry_after_ms = -1;
	if (body)
		*body = NULL;
	char *url = NULL, *payload = NULL, endpoint[64];
	if (asprintf(&url, "%s/%s", c->base, method) < 0)
		return err_set(e, -1, "slack: out of memory"), -1;
	payload = json_dumps(args, JSON_COMPACT);
	if (!payload) {
		free(url);
		return err_set(e, -1, "slack: out of memory"), -1;
	}
	snprintf(endpoint, sizeof endpoint, "POST %s", method);
	struct httpc_req req = {
	    .method = "POST",
	    .url = url,
	    .headers = c->hdr,
	    .body = payload,
	    .body_len = strlen(payload),
	    .endpoint = endpoint,
	    .idempotent = 0, /* a post is not; httpc still retries a 429 (not processed) */
	};
	struct httpc_resp r = {0};
	struct err he;
	err_clear(&he);
	int hrc = httpc_call(c->http, &req, &r, &he);
	read_answer(hrc, &he, &r, res, body);
	httpc_resp_free(&r);
	free(url);
	free(payload);
	return 0;
}

static int url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~') {
			if (buf_append(b, p, 1))
				return -1;
		} else if (buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15])) {
			return -1;
		}
	}
	return 0;
}

int slack_call_get(struct slack_client *c, const char *method, const char *const *params, const volatile int *cancel,
		   struct slack_result *res, json_t **body, struct err *e)
{
	memset(res, 0, sizeof *res);
	res->retry_after_ms = -1;
	if (body)
		*body = NULL;
	struct buf u;
	buf_init(&u, 0);
	int bad = buf_printf(&u, "%s/%s", c->base, method);
	for (size_t i = 0; !bad && params && params[i] && params[i + 1]; i += 2) {
		bad |= buf_puts(&u, i ? "&" : "?");
		bad |= url_escape(&u, params[i]);
		bad |= buf_puts(&u, "=");
		bad |= url_escape(&u, params[i + 1]);
	}
	if (bad) {
		buf_reset(&u);
		return err_set(e, -1, "slack: out of memory"), -1;
	}
	char endpoint[64];
	snprintf(endpoint, sizeof endpoint, "GET %s", method);
	/* Only the Authorization header: a GET has no body. */
	const char *hdr[] = {c->auth, "Accept: application/json", NULL};
	struct httpc_req req = {
	    .method = "GET",
	    .url = buf_str(&u),
	    .headers = hdr,
	    .endpoint = endpoint,
	    .idempotent = 1,
	    .cancel = cancel,
	};
	struct httpc_resp r = {0};
	struct err he;
	err_clear(&he);
	int hrc = httpc_call(c->http, &req, &r, &he);
	read_answer(hrc, &he, &r, res, body);
	httpc_resp_free(&r);
	buf_reset(&u);
	return 0;
}

/* Wait for this channel's turn (one post per second per channel). */
static void pace_channel(struct slack_client *c, const char *channel)
{
	int64_t wait = 0;
	pthread_mutex_lock(&c->mu);
	int64_t now = clock_mono_ms();
	struct pace *p = NULL;
	for (size_t i = 0; i < c->npace && !p; i++)
		if (!strcmp(c->pace[i].channel, channel))
			p = &c->pace[i];
	if (!p) {
		if (c->npace < PACE_SLOTS) {
			p = &c->pace[c->npace++];
		} else { /* reuse the slot whose turn is longest past */
			p = &c->pace[0];
			for (size_t i = 1; i < c->npace; i++)
				if (c->pace[i].next_ms < p->next_ms)
					p = &c->pace[i];
		}
		snprintf(p->channel, sizeof p->channel, "%s", channel);
		p->next_ms = 0;
	}
	if (p->next_ms > now)
		wait = p->next_ms - now;
	p->next_ms = (p->next_ms > now ? p->next_ms : now) + PACE_MS;
	pthread_mutex_unlock(&c->mu);
	if (wait > 0)
		clock_sleep_ms(wait, NULL);
}

int slack_post(struct slack_client *c, const char *channel, const char *text, const json_t *blocks,
	       const char *thread_ts, const json_t *metadata, struct slack_result *res, struct err *e)
{
	json_t *a = json_pack("{s:s,s:s,s:b,s:b}", "channel", channel, "text", text ? text : "", "unfurl_links", 0,
			      "unfurl_media", 0);
	if (!a)
		return err_set(e, -1, "slack: out of memory"), -1;
	if (blocks)
		json_object_set(a, "blocks", (json_t *)blocks);
	if (thread_ts)
		json_object_set_new(a, "thread_ts", json_string(thread_ts));
	if (metadata)
		json_object_set(a, "metadata", (json_t *)metadata);
	pace_channel(c, channel);
	int rc = slack_call(c, "chat.postMessage", a, res, NULL, e);
	json_decref(a);
	return rc;
}

int slack_update(struct slack_client *c, const char *channel, const char *ts, const char *text, const json_t *blocks,
		 struct slack_result *res, struct err *e)
{
	json_t *a = json_pack("{s:s,s:s,s:s}", "channel", channel, "ts", ts, "text", text ? text : "");
	if (!a)
		return err_set(e, -1, "slack: out of memory"), -1;
	if (blocks)
		json_object_set(a, "blocks", (json_t *)blocks);
	int rc = slack_call(c, "chat.update", a, res, NULL, e);
	json_decref(a);
	return rc;
}

int slack_find_by_key(struct slack_client *c, const char *channel, const char *thread_ts, const char *oldest_ts,
		      const char *key, char **ts, struct err *e)
{
	*ts = NULL;
	json_t *a = json_pack("{s:s,s:b,s:i}", "channel", channel, "include_all_metadata", 1, "limit", 200);
	if (!a)
		return err_set(e, -1, "slack: out of memory"), -1;
	if (thread_ts)
		json_object_set_new(a, "ts", json_string(thread_ts));
	if (oldest_ts)
		json_object_set_new(a, "oldest", json_string(oldest_ts));
	struct slack_result res;
	json_t *body = NULL;
	int rc = slack_call(c, thread_ts ? "conversations.replies" : "conversations.history", a, &res, &body, e);
	json_decref(a);
	if (!rc && !res.ok)
		rc = err_set(e, -1, "slack: looking for a message: %s", res.error ? res.error : "?");
	if (!rc) {
		size_t i;
		const json_t *m;
		json_array_foreach(json_object_get(body, "messages"), i, m)
		{
			const json_t *k = json_object_get(json_object_get(json_object_get(m, "metadata"), "event_payload"),
							  "key");
			const char *mts = json_string_value(json_object_get(m, "ts"));
			if (json_is_string(k) && !strcmp(json_string_value(k), key) && mts) {
				*ts = strdup(mts);
				break;
			}
		}
	}
	json_decref(body);
	slack_result_clear(&res);
	return rc;
}

int slack_lookup_email(struct slack_client *c, const char *email, char **user_id, struct slack_result *res,
		       struct err *e)
{
	*user_id = NULL;
	json_t *a = json_pack("{s:s}", "email", email);
	json_t *body = NULL;
	if (!a)
		return err_set(e, -1, "slack: out of memory"), -1;
	int rc = slack_call(c, "users.lookupByEmail", a, res, &body, e);
	json_decref(a);
	const char *id = json_string_value(json_object_get(json_object_get(body, "user"), "id"));
	if (!rc && res->ok && id)
		*user_id = strdup(id);
	json_decref(body);
	return rc;
}

int slack_open_dm(struct slack_client *c, const char *user_id, char **channel, struct slack_result *res,
		  struct err *e)
{
	*channel = NULL;
	json_t *a = json_pack("{s:s}", "users", user_id);
	json_t *body = NULL;
	if (!a)
		return err_set(e, -1, "slack: out of memory"), -1;
	int rc = slack_call(c, "conversations.open", a, res, &body, e);
	json_decref(a);
	const char *id = json_string_value(json_object_get(json_object_get(body, "channel"), "id"));
	if (!rc && res->ok && id)
		*channel = strdup(id);
	json_decref(body);
	return rc;
}
