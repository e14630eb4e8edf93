/*
 * fake_http.c: scripted loopback HTTP server for unit tests (see fake_http.h).
 *
 * libmicrohttpd with a thread per connection. The URI log callback sees the
 * raw request target first and creates the per-request state; the access
 * handler records method, headers and body (bounded), then serves the
 * script; NOTIFY_COMPLETED frees the state.
 */
#include "fake_http.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Request bodies larger than this are answered 413 and not recorded in full. */
#define FAKE_MAX_BODY ((size_t)16 << 20)

struct stored_reply {
	char *match;
	int status;
	char **headers;
	size_t nheaders;
	char *body;
	size_t body_len;
	int64_t delay_ms;
	int drop, truncate;
	int left; /* -1 forever */
};

struct fake_http {
	struct MHD_Daemon *d;
	unsigned short port;
	char url[64];
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a request was recorded */
	atomic_int stopping;
	struct stored_reply *script;
	size_t nscript, capscript;
	struct stored_reply def;
	int have_def;
	struct fake_request **reqs;
	size_t nreqs, capreqs;
	int cur, max; /* requests being served now / at most */
};

struct conn_state {
	struct fake_http *f;
	struct fake_request *rec; /* recorded once complete; owned by f then */
	int started;
	int counted;
	int too_big;
	char *body;
	size_t body_len, body_cap;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void free_request(struct fake_request *r)
{
	if (!r)
		return;
	free(r->method);
	free(r->path);
	free(r->query);
	free(r->uri);
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	free(r->body);
	free(r);
}

static void free_reply(struct stored_reply *r)
{
	free(r->match);
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof *r);
}

static int copy_reply(struct stored_reply *dst, const struct fake_reply *src)
{
	memset(dst, 0, sizeof *dst);
	dst->status = src->status ? src->status : 200;
	dst->delay_ms = src->delay_ms;
	dst->drop = src->drop;
	dst->truncate = src->truncate;
	dst->left = src->times < 0 ? -1 : src->times == 0 ? 1 : src->times;
	if (src->match && !(dst->match = strdup(src->match)))
		goto fail;
	size_t bl = src->body ? (src->body_len ? src->body_len : strlen(src->body)) : 0;
	if (!(dst->body = xstrndup(src->body ? src->body : "", bl)))
		goto fail;
	dst->body_len = bl;
	size_t nh = 0;
	while (src->headers && src->headers[nh])
		nh++;
	if (nh) {
		dst->headers = calloc(nh, sizeof *dst->headers);
		if (!dst->headers)
			goto fail;
		for (size_t i = 0; i < nh; i++) {
			if (!(dst->headers[i] = strdup(src->headers[i])))
				goto fail;
			dst->nheaders++;
		}
	}
	return 0;
fail:
	free_reply(dst);
	return -1;
}

/* Does "METHOD /prefix" or "/prefix" fit this request? */
static int reply_matches(const struct stored_reply *r, const struct fake_request *q)
{
	if (!r->match)
		return 1;
	const char *m = r->match;
	const char *sp = strchr(m, ' ');
	if (m[0] != '/' && sp) {
		if (strncmp(m, q->method, (size_t)(sp - m)) || q->method[sp - m])
			return 0;
		m = sp + 1;
	}
	return !strncmp(q->path, m, strlen(m));
}

/* Pick the reply for q and copy what is needed to serve it (the script may
 * change while we sleep). */
static int take_reply(struct fake_http *f, const struct fake_request *q, struct stored_reply *out)
{
	static const char *const no_reply_hdrs[] = {"Content-Type: text/plain", NULL};
	const struct fake_reply fallback = {
	    .status = 404, .headers = no_reply_hdrs, .body = "fake_http: no scripted reply"};
	int rc;
	pthread_mutex_lock(&f->mu);
	struct stored_reply *r = NULL;
	for (size_t i = 0; i < f->nscript; i++) {
		if (f->script[i].left != 0 && reply_matches(&f->script[i], q)) {
			r = &f->script[i];
			break;
		}
	}
	if (r) {
		if (r->left > 0)
			r->left--;
	} else if (f->have_def) {
		r = &f->def;
	}
	if (r) {
		struct fake_reply tmp = {.status = r->status,
					 .body = r->body,
					 .body_len = r->body_len,
					 .delay_ms = r->delay_ms,
					 .drop = r->drop,
					 .truncate = r->truncate};
		const char **hs = calloc(r->nheaders + 1, sizeof *hs);
		rc = -1;
		if (hs) {
			for (size_t i = 0; i < r->nheaders; i++)
				hs[i] = r->headers[i];
			tmp.headers = hs;
			rc = copy_reply(out, &tmp);
			free(hs);
		}
	} else {
		rc = copy_reply(out, &fallback);
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	(void)con;
	struct conn_state *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->f = cls;
	st->rec = calloc(1, sizeof *st->rec);
	if (!st->rec || !(st->rec->uri = strdup(uri ? uri : ""))) {
		free_request(st->rec);
		free(st);
		return NULL;
	}
	const char *q = strchr(st->rec->uri, '?');
	if (q)
		st->rec->query = strdup(q + 1);
	return st;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct fake_request *r = cls;
	size_t kl = strlen(key), vl = value ? strlen(value) : 0;
	char *line = malloc(kl + 2 + vl + 1);
	char **nh = realloc(r->headers, (r->nheaders + 1) * sizeof *nh);
	if (!line || !nh) {
		free(line);
		if (nh)
			r->headers = nh;
		return MHD_NO;
	}
	r->headers = nh;
	memcpy(line, key, kl);
	memcpy(line + kl, ": ", 2);
	if (vl)
		memcpy(line + kl + 2, value, vl);
	line[kl + 2 + vl] = '\0';
	r->headers[r->nheaders++] = line;
	return MHD_YES;
}

static void record(struct fake_http *f, struct conn_state *st)
{
	struct fake_request *r = st->rec;
	r->body = st->body ? st->body : strdup("");
	r->body_len = st->body_len;
	st->body = NULL;
	r->at_ms = mono_ms();
	pthread_mutex_lock(&f->mu);
	if (f->nreqs == f->capreqs) {
		size_t nc = f->capreqs ? f->capreqs * 2 : 32;
		struct fake_request **n = realloc(f->reqs, nc * sizeof *n);
		if (n) {
			f->reqs = n;
			f->capreqs = nc;
		}
	}
	if (f->nreqs < f->capreqs) {
		r->index = (int)f->nreqs;
		f->reqs[f->nreqs++] = r;
		st->rec = NULL;
	}
	if (++f->cur > f->max)
		f->max = f->cur;
	st->counted = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void uncount(struct fake_http *f, struct conn_state *st)
{
	if (!st->counted)
		return;
	pthread_mutex_lock(&f->mu);
	f->cur--;
	pthread_mutex_unlock(&f->mu);
	st->counted = 0;
}

struct trunc_body {
	char *data;
	size_t len; /* bytes actually sent before the error */
};

static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct trunc_body *t = cls;
	if (pos >= t->len)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = t->len - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, t->data + pos, n);
	return (ssize_t)n;
}

static void trunc_free(void *cls)
{
	struct trunc_body *t = cls;
	free(t->data);
	free(t);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	(void)version;
	struct fake_http *f = cls;
	struct conn_state *st = *req_cls;
	if (!st)
		return MHD_NO;
	if (!st->started) {
		st->started = 1;
		if (!st->rec || !(st->rec->method = strdup(method)) || !(st->rec->path = strdup(url)))
			return MHD_NO;
		MHD_get_connection_values(con, MHD_HEADER_KIND, collect_header, st->rec);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (st->too_big || n > FAKE_MAX_BODY - st->body_len) {
			st->too_big = 1;
			return MHD_YES;
		}
		if (st->body_len + n + 1 > st->body_cap) {
			size_t nc = st->body_cap ? st->body_cap : 1024;
			while (nc < st->body_len + n + 1)
				nc *= 2;
			char *nb = realloc(st->body, nc);
			if (!nb)
				return MHD_NO;
			st->body = nb;
			st->body_cap = nc;
		}
		memcpy(st->body + st->body_len, upload_data, n);
		st->body_len += n;
		st->body[st->body_len] = '\0';
		return MHD_YES;
	}
	if (!st->rec)
		return MHD_NO; /* already answered */

	/* The request is complete: pick its reply, then record it. */
	struct stored_reply r;
	int trc = take_reply(f, st->rec, &r);
	record(f, st);
	if (trc) {
		uncount(f, st);
		return MHD_NO;
	}
	if (st->too_big) {
		free_reply(&r);
		static const struct fake_reply big = {.status = 413, .body = "fake_http: body too large"};
		if (copy_reply(&r, &big)) {
			uncount(f, st);
			return MHD_NO;
		}
	}
	int64_t end = mono_ms() + r.delay_ms;
	while (!atomic_load(&f->stopping)) {
		int64_t left = end - mono_ms();
		if (left <= 0)
			break;
		if (left > 10)
			left = 10;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	/* Leave the count before the client can see the reply, so a client
	 * that starts its next request at once never looks over its limit. */
	uncount(f, st);
	if (r.drop) {
		free_reply(&r);
		return MHD_NO;
	}
	struct MHD_Response *resp = NULL;
	if (r.truncate) {
		struct trunc_body *t = calloc(1, sizeof *t);
		if (t) {
			t->data = r.body;
			t->len = r.body_len / 2;
			r.body = NULL;
			resp = MHD_create_response_from_callback(r.body_len, 4096, trunc_reader, t, trunc_free);
			if (!resp)
				trunc_free(t);
		}
	} else {
		resp = MHD_create_response_from_buffer(r.body_len, r.body, MHD_RESPMEM_MUST_COPY);
	}
	enum MHD_Result ret = MHD_NO;
	if (resp) {
		for (size_t i = 0; i < r.nheaders; i++) {
			char *colon = strchr(r.headers[i], ':');
			if (!colon)
				continue;
			*colon = '\0';
			const char *v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			MHD_add_response_header(resp, r.headers[i], v);
			*colon = ':';
		}
		ret = MHD_queue_response(con, (unsigned int)r.status, resp);
		MHD_destroy_response(resp);
	}
	free_reply(&r);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	(void)con;
	(void)toe;
	struct fake_http *f = cls;
	struct conn_state *st = *req_cls;
	if (!st)
		return;
	uncount(f, st);
	free_request(st->rec);
	free(st->body);
	free(st);
	*req_cls = NULL;
}

struct fake_http *fake_http_start_on(unsigned short port)
{
	struct fake_http *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL,
				on_request, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, f, MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
	if (!f->d)
		goto fail;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	if (!di || !di->port)
		goto fail;
	f->port = di->port;
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)f->port);
	return f;
fail:
	fake_http_stop(f);
	return NULL;
}

struct fake_http *fake_http_start(void)
{
	return fake_http_start_on(0);
}

void fake_http_reset(struct fake_http *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nscript; i++)
		free_reply(&f->script[i]);
	f->nscript = 0;
	for (size_t i = 0; i < f->nreqs; i++)
		free_request(f->reqs[i]);
	f->nreqs = 0;
	f->max = f->cur;
	pthread_mutex_unlock(&f->mu);
}

void fake_http_stop(struct fake_http *f)
{
	if (!f)
		return;
	atomic_store(&f->stopping, 1);
	if (f->d)
		MHD_stop_daemon(f->d);
	fake_http_reset(f);
	free(f->script);
	free(f->reqs);
	if (f->have_def)
		free_reply(&f->def);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

unsigned short fake_http_port(const struct fake_http *f)
{
	return f ? f->port : 0;
}

const char *fake_http_url(const struct fake_http *f)
{
	return f ? f->url : "";
}

int fake_http_push(struct fake_http *f, const struct fake_reply *r)
{
	if (!f || !r)
		return -1;
	struct stored_reply s;
	if (copy_reply(&s, r))
		return -1;
	pthread_mutex_lock(&f->mu);
	int rc = 0;
	if (f->nscript == f->capscript) {
		size_t nc = f->capscript ? f->capscript * 2 : 16;
		struct stored_reply *n = realloc(f->script, nc * sizeof *n);
		if (!n)
			rc = -1;
		else {
			f->script = n;
			f->capscript = nc;
		}
	}
	if (!rc)
		f->script[f->nscript++] = s;
	pthread_mutex_unlock(&f->mu);
	if (rc)
		free_reply(&s);
	return rc;
}

int fake_http_default(struct fake_http *f, const struct fake_reply *r)
{
	if (!f)
		return -1;
	struct stored_reply s;
	memset(&s, 0, sizeof s);
	if (r && copy_reply(&s, r))
		return -1;
	pthread_mutex_lock(&f->mu);
	if (f->have_def)
		free_reply(&f->def);
	f->def = s;
	f->have_def = r != NULL;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

size_t fake_http_count(struct fake_http *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->nreqs;
	pthread_mutex_unlock(&f->mu);
	return n;
}

size_t fake_http_wait_count(struct fake_http *f, size_t n, int64_t timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mu);
	while (f->nreqs < n && pthread_cond_timedwait(&f->cv, &f->mu, &ts) == 0)
		;
	size_t got = f->nreqs;
	pthread_mutex_unlock(&f->mu);
	return got;
}

const struct fake_request *fake_http_request(struct fake_http *f, size_t i)
{
	pthread_mutex_lock(&f->mu);
	const struct fake_request *r = i < f->nreqs ? f->reqs[i] : NULL;
	pthread_mutex_unlock(&f->mu);
	return r;
}

const char *fake_request_header(const struct fake_request *r, const char *name)
{
	if (!r || !name)
		return NULL;
	size_t nl = strlen(name);
	for (size_t i = 0; i < r->nheaders; i++) {
		const char *h = r->headers[i];
		if (!strncasecmp(h, name, nl) && h[nl] == ':') {
			h += nl + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

int fake_http_max_concurrent(struct fake_http *f)
{
	pthread_mutex_lock(&f->mu);
	int m = f->max;
	pthread_mutex_unlock(&f->mu);
	return m;
}

size_t fake_http_pending(struct fake_http *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = 0;
	for (size_t i = 0; i < f->nscript; i++)
		if (f->script[i].left != 0)
			n++;
	pthread_mutex_unlock(&f->mu);
	return n;
}
