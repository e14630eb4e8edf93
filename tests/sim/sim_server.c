/*
 * sim_server.c: the libmicrohttpd adapter of the upstream simulator (the
 * only file that includes <microhttpd.h>).
 *
 * Life of a request:
 *  1. The URI-log callback allocates a struct conn_req holding the raw URI.
 *  2. The access handler collects the body into a bounded buffer
 *     (SIM_MAX_BODY, 413 beyond), then builds a struct sim_request, picks
 *     the upstream by path prefix, asks the control plane for a matching
 *     fault and runs the upstream's handler under the state lock.
 *  3. If latency applies (global --latency-ms plus the fault's), the
 *     connection is suspended and the timer thread resumes it when due, so
 *     no worker thread sleeps: a pool of a few threads serves thousands of
 *     delayed requests. Slow bodies use the same mechanism per chunk.
 *  4. The response is queued, the request is recorded in the request log
 *     (control calls are not) and one line goes to stderr unless --quiet.
 */
#include "sim_server.h"

#include "sim_util.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIM_UPSTREAM(n) extern const struct sim_upstream sim_upstream_##n;
#include "sim_upstreams.h"
#undef SIM_UPSTREAM

/* The dispatch table, in sim_upstreams.h order. */
static const struct sim_upstream *const upstreams[] = {
#define SIM_UPSTREAM(n) &sim_upstream_##n,
#include "sim_upstreams.h"
#undef SIM_UPSTREAM
};

/* A suspended connection waiting for its due time. */
struct timer_entry {
	int64_t due;                  /* sim_mono_ms() deadline */
	struct MHD_Connection *conn;
};

struct sim_server {
	struct sim_ctx *ctx;
	struct MHD_Daemon *daemon;
	pthread_t timer_thread;
	bool timer_started;
	pthread_mutex_t tlock;        /* guards everything below */
	pthread_cond_t tcond;
	struct timer_entry *heap;     /* min-heap on due */
	size_t nheap, capheap;
	size_t suspended;             /* connections we suspended and not yet resumed */
	bool stopping;                /* no new suspensions */
	bool timer_exit;
};

enum phase { PH_NEW, PH_BODY, PH_WAIT };

/* Streaming state for truncated or slow bodies. */
struct body_stream {
	struct sim_server *srv;
	struct MHD_Connection *conn;
	char *data;
	size_t len;        /* full body length (what Content-Length declares) */
	size_t limit;      /* bytes that will actually be sent */
	bool truncate;
	int64_t chunk_ms;  /* pause before each chunk (slow body), 0 = none */
	size_t chunk;      /* chunk size for slow bodies */
	int64_t next_due;
};

/* Per-request context (MHD's con_cls). */
struct conn_req {
	struct sim_server *srv;
	char *uri;
	char *method;
	struct sim_buf body;
	bool too_big;
	enum phase phase;
	struct sim_request req;
	struct sim_response resp;
	const struct sim_upstream *up;
	bool drop;
	bool truncate;
	int slow_ms;
	int64_t fault_id;
	int64_t t0;
};

/* ---- timer ------------------------------------------------------------------------------- */

/* Push onto the min-heap (tlock held). 0 or -1. */
static int heap_push(struct sim_server *srv, int64_t due, struct MHD_Connection *conn)
{
	size_t i;

	if (srv->nheap == srv->capheap) {
		size_t ncap = srv->capheap ? srv->capheap * 2 : 64;
		struct timer_entry *h = realloc(srv->heap, ncap * sizeof(*h));

		if (!h)
			return -1;
		srv->heap = h;
		srv->capheap = ncap;
	}
	i = srv->nheap++;
	while (i > 0 && srv->heap[(i - 1) / 2].due > due) {
		srv->heap[i] = srv->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	srv->heap[i].due = due;
	srv->heap[i].conn = conn;
	return 0;
}

/* Pop the earliest entry (tlock held, heap non-empty). */
static struct timer_entry heap_pop(struct sim_server *srv)
{
	struct timer_entry top = srv->heap[0], last = srv->heap[--srv->nheap];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < srv->nheap) {
		if (c + 1 < srv->nheap && srv->heap[c + 1].due < srv->heap[c].due)
			c++;
		if (srv->heap[c].due >= last.due)
			break;
		srv->heap[i] = srv->heap[c];
		i = c;
	}
	if (srv->nheap)
		srv->heap[i] = last;
	return top;
}

/* Timer thread: resume connections whose time has come (all of them when stopping). */
static void *timer_main(void *arg)
{
	struct sim_server *srv = arg;

	pthread_mutex_lock(&srv->tlock);
	while (!srv->timer_exit) {
		int64_t now = sim_mono_ms();

		while (srv->nheap && (srv->heap[0].due <= now || srv->stopping)) {
			struct timer_entry e = heap_pop(srv);

			srv->suspended--;
			MHD_resume_connection(e.conn);
		}
		if (srv->nheap) {
			struct timespec ts;
			int64_t due = srv->heap[0].due;

			ts.tv_sec = (time_t)(due / 1000);
			ts.tv_nsec = (long)(due % 1000) * 1000000L;
			pthread_cond_timedwait(&srv->tcond, &srv->tlock, &ts);
		} else {
			pthread_cond_wait(&srv->tcond, &srv->tlock);
		}
	}
	pthread_mutex_unlock(&srv->tlock);
	return NULL;
}

/*
 * Suspend conn until due (monotonic ms). Only legal from the access handler
 * or a content reader of that connection. Returns false (and does not
 * suspend) when stopping or out of memory: the caller then carries on at once.
 */
static bool delay_conn(struct sim_server *srv, struct MHD_Connection *conn, int64_t due)
{
	bool ok = false;

	pthread_mutex_lock(&srv->tlock);
	if (!srv->stopping && heap_push(srv, due, conn) == 0) {
		MHD_suspend_connection(conn);
		srv->suspended++;
		pthread_cond_signal(&srv->tcond);
		ok = true;
	}
	pthread_mutex_unlock(&srv->tlock);
	return ok;
}

/* ---- per-request context ------------------------------------------------------------------ */

/* URI-log callback: the first thing MHD tells us about a request. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn_req *cr = calloc(1, sizeof(*cr));

	(void)conn;
	if (!cr)
		return NULL;
	cr->srv = cls;
	cr->uri = strdup(uri ? uri : "/");
	if (!cr->uri) {
		free(cr);
		return NULL;
	}
	sim_buf_init(&cr->body, SIM_MAX_BODY);
	sim_resp_init(&cr->resp);
	cr->t0 = sim_mono_ms();
	cr->fault_id = 0;
	return cr;
}

/* Free a request context. */
static void conn_req_free(struct conn_req *cr)
{
	if (!cr)
		return;
	sim_request_clear(&cr->req);
	sim_resp_clear(&cr->resp);
	sim_buf_free(&cr->body);
	free(cr->uri);
	free(cr->method);
	free(cr);
}

/* Completion callback: always called once the URI callback ran. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	conn_req_free(*con_cls);
	*con_cls = NULL;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

/* Generic JSON error {"detail": msg}; falls back to an empty body on OOM. */
static void generic_error(struct sim_response *resp, int status, const char *msg)
{
	sim_resp_clear(resp);
	sim_resp_json(resp, status, json_pack("{s:s}", "detail", msg));
	if (resp->oom) {
		sim_resp_clear(resp);
		resp->status = status;
		resp->oom = false;
	}
}

/* The upstream serving this raw path, or NULL. */
static const struct sim_upstream *find_upstream(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(upstreams) / sizeof(upstreams[0]); i++) {
		size_t n = strlen(upstreams[i]->prefix);

		if (strncmp(path, upstreams[i]->prefix, n) == 0 &&
		    (path[n] == '/' || path[n] == '\0'))
			return upstreams[i];
	}
	return NULL;
}

/* Run an upstream handler under the state lock (read lock for GET/HEAD). */
static void run_handler(struct sim_ctx *ctx, const struct sim_upstream *up,
			const struct sim_request *req, struct sim_response *resp)
{
	bool reader = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	int rc;

	if (up->locked) {
		if (reader)
			pthread_rwlock_rdlock(&ctx->lock);
		else
			pthread_rwlock_wrlock(&ctx->lock);
	}
	rc = up->handle(ctx, req, resp);
	if (up->locked)
		pthread_rwlock_unlock(&ctx->lock);
	if (rc || resp->oom || resp->status == 0)
		generic_error(resp, 500, "sentry-bridge-sim: internal error");
}

/* Render an injected fault status the upstream's way. */
static void run_fault(struct sim_ctx *ctx, const struct sim_upstream *up,
		      const struct sim_request *req, struct sim_response *resp,
		      const struct sim_fault_effect *eff)
{
	sim_resp_clear(resp);
	if (up && up->fault) {
		if (up->fault(ctx, req, resp, eff->status, eff->retry_after) == 0 && !resp->oom)
			return;
		sim_resp_clear(resp);
	}
	generic_error(resp, eff->status, sim_reason(eff->status));
	if (eff->retry_after >= 0)
		sim_resp_headerf(resp, "Retry-After", "%d", eff->retry_after);
}

/* sim_request.header_fn: look a request header up on the MHD connection. */
static const char *header_lookup(void *conn, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)conn, MHD_HEADER_KIND, name);
}

/* What header_each passes through MHD's iterator. */
struct header_each_arg {
	void (*cb)(void *arg, const char *name, const char *value);
	void *arg;
};

/* MHD iterator adapter for header_each. */
static enum MHD_Result header_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct header_each_arg *a = cls;

	(void)kind;
	if (key && value)
		a->cb(a->arg, key, value);
	return MHD_YES;
}

/* sim_request.header_each_fn: every request header of the MHD connection. */
static void header_each(void *conn, void (*cb)(void *arg, const char *name, const char *value),
			void *arg)
{
	struct header_each_arg a = { cb, arg };

	MHD_get_connection_values((struct MHD_Connection *)conn, MHD_HEADER_KIND, header_iter, &a);
}

/* Build the request and the response; returns the delay to apply in ms. */
static int64_t process(struct sim_server *srv, struct MHD_Connection *conn, struct conn_req *cr)
{
	struct sim_ctx *ctx = srv->ctx;
	struct sim_request *req = &cr->req;
	struct sim_fault_effect eff;
	int64_t delay = 0;
	bool faulted = false;

	req->method = cr->method;
	req->seq = atomic_fetch_add(&ctx->next_seq, 1);
	if (sim_request_parse_uri(req, cr->uri)) {
		cr->up = find_upstream(req->raw_path ? req->raw_path : "");
		generic_error(&cr->resp, 400, "Malformed request URI");
		return 0;
	}
	req->host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	req->authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_AUTHORIZATION);
	req->header_fn = header_lookup;
	req->header_each_fn = header_each;
	req->header_ctx = conn;
	req->private_token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "PRIVATE-TOKEN");
	req->body = cr->body.data;
	req->body_len = cr->body.len;
	cr->up = find_upstream(req->raw_path);
	if (cr->too_big) {
		generic_error(&cr->resp, 413, "Request body too large");
		return 0;
	}
	if (!cr->up) {
		if (ctx->opts.latency_ms > 0)
			delay = ctx->opts.latency_ms;
		generic_error(&cr->resp, 404, "sentry-bridge-sim: no simulated upstream serves this path");
		return delay;
	}
	if (cr->up->control) {
		run_handler(ctx, cr->up, req, &cr->resp);
		return 0;
	}
	delay = ctx->opts.latency_ms > 0 ? ctx->opts.latency_ms : 0;
	memset(&eff, 0, sizeof(eff));
	if (sim_ctl_fault_pick(ctx, req, &eff)) {
		faulted = true;
		cr->fault_id = eff.id;
		delay += eff.latency_ms > 0 ? eff.latency_ms : 0;
		cr->drop = eff.drop;
		cr->truncate = eff.truncate;
		cr->slow_ms = eff.slow_body_ms;
	}
	if (!faulted || (eff.status == 0 && !eff.drop) || eff.apply)
		run_handler(ctx, cr->up, req, &cr->resp);
	delay += cr->resp.delay_ms > 0 ? cr->resp.delay_ms : 0;
	if (faulted && eff.status)
		run_fault(ctx, cr->up, req, &cr->resp, &eff);
	return delay;
}

/* ---- sending ----------------------------------------------------------------------------------- */

/* Content reader for truncated and slow bodies. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body_stream *bs = cls;
	size_t n;

	if (pos >= bs->limit)
		return bs->truncate ? MHD_CONTENT_READER_END_WITH_ERROR
				    : MHD_CONTENT_READER_END_OF_STREAM;
	n = bs->limit - (size_t)pos;
	if (bs->chunk_ms > 0) {
		int64_t now = sim_mono_ms();

		if (now < bs->next_due && delay_conn(bs->srv, bs->conn, bs->next_due))
			return 0; /* called again after the timer resumes us */
		bs->next_due = (now > bs->next_due ? now : bs->next_due) + bs->chunk_ms;
		if (n > bs->chunk)
			n = bs->chunk;
	}
	if (n > max)
		n = max;
	memcpy(buf, bs->data + pos, n);
	return (ssize_t)n;
}

/* Free a body stream. */
static void stream_free(void *cls)
{
	struct body_stream *bs = cls;

	if (!bs)
		return;
	free(bs->data);
	free(bs);
}

/* A callback-driven response for truncate / slow_body faults; NULL on failure. */
static struct MHD_Response *stream_response(struct sim_server *srv, struct MHD_Connection *conn,
					    struct conn_req *cr)
{
	struct body_stream *bs = calloc(1, sizeof(*bs));
	struct MHD_Response *r;
	size_t chunks;

	if (!bs)
		return NULL;
	bs->srv = srv;
	bs->conn = conn;
	bs->data = cr->resp.body;
	bs->len = cr->resp.body_len;
	bs->truncate = cr->truncate && bs->len > 0;
	bs->limit = bs->truncate ? bs->len / 2 : bs->len;
	if (cr->slow_ms > 0 && bs->limit > 0) {
		chunks = bs->limit < 10 ? bs->limit : 10;
		bs->chunk = (bs->limit + chunks - 1) / chunks;
		bs->chunk_ms = cr->slow_ms / (int64_t)chunks;
		if (bs->chunk_ms < 1)
			bs->chunk_ms = 1;
		bs->next_due = sim_mono_ms() + bs->chunk_ms;
	}
	r = MHD_create_response_from_callback(bs->len, 32 * 1024, stream_read, bs, stream_free);
	if (!r) {
		free(bs);
		return NULL;
	}
	cr->resp.body = NULL; /* now owned by the stream */
	return r;
}

/* One stderr line per request unless --quiet. */
static void log_line(struct sim_server *srv, const struct conn_req *cr, int status)
{
	const struct sim_request *req = &cr->req;

	if (srv->ctx->opts.quiet)
		return;
	fprintf(stderr, "sentry-bridge-sim: #%llu %s %s%s%s -> %d %s %lldms%s\n",
		(unsigned long long)req->seq, cr->method ? cr->method : "?",
		req->raw_path ? req->raw_path : cr->uri,
		req->raw_query && *req->raw_query ? "?" : "",
		req->raw_query ? req->raw_query : "", status,
		cr->up ? cr->up->name : "none", (long long)(sim_mono_ms() - cr->t0),
		cr->fault_id ? " (fault)" : "");
}

/* Queue the prepared response (or drop the connection). */
static enum MHD_Result send_response(struct sim_server *srv, struct MHD_Connection *conn,
				     struct conn_req *cr)
{
	struct sim_response *resp = &cr->resp;
	struct MHD_Response *r;
	enum MHD_Result ret;
	bool record = !cr->up || !cr->up->control;
	int status = resp->status ? resp->status : 500;
	size_t i;

	if (cr->drop) {
		if (record)
			sim_ctl_log_request(srv->ctx, &cr->req, cr->up ? cr->up->name : "none", 0,
					    cr->fault_id);
		log_line(srv, cr, 0);
		return MHD_NO;
	}
	if ((cr->truncate || cr->slow_ms > 0) && resp->body_len > 0) {
		r = stream_response(srv, conn, cr);
	} else {
		r = MHD_create_response_from_buffer(resp->body_len, resp->body,
						    resp->body ? MHD_RESPMEM_MUST_FREE
							       : MHD_RESPMEM_PERSISTENT);
		if (r)
			resp->body = NULL; /* MHD frees it */
	}
	if (!r)
		return MHD_NO;
	for (i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	ret = MHD_queue_response(conn, (unsigned int)status, r);
	MHD_destroy_response(r);
	if (record)
		sim_ctl_log_request(srv->ctx, &cr->req, cr->up ? cr->up->name : "none", status,
				    cr->fault_id);
	log_line(srv, cr, status);
	return ret;
}

/* MHD access handler (see the file comment for the phases). */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct sim_server *srv = cls;
	struct conn_req *cr = *con_cls;
	int64_t delay;

	(void)version;
	if (!cr) {
		cr = on_uri(srv, url, conn);
		if (!cr)
			return MHD_NO;
		*con_cls = cr;
	}
	switch (cr->phase) {
	case PH_NEW:
		cr->method = strdup(method);
		if (!cr->method)
			return MHD_NO;
		cr->phase = PH_BODY;
		return MHD_YES;
	case PH_BODY:
		if (*upload_data_size) {
			if (!cr->too_big &&
			    sim_buf_append(&cr->body, upload_data, *upload_data_size) != SIM_BUF_OK)
				cr->too_big = true;
			*upload_data_size = 0;
			return MHD_YES;
		}
		cr->phase = PH_WAIT;
		delay = process(srv, conn, cr);
		if (delay > 0 && delay_conn(srv, conn, sim_mono_ms() + delay))
			return MHD_YES; /* resumed by the timer; we come back in PH_WAIT */
		return send_response(srv, conn, cr);
	case PH_WAIT:
	default:
		return send_response(srv, conn, cr);
	}
}

/* ---- start / stop ----------------------------------------------------------------------------------- */

/* Free a server whose daemon is not running. */
static void server_free(struct sim_server *srv)
{
	if (srv->timer_started) {
		pthread_mutex_lock(&srv->tlock);
		srv->timer_exit = true;
		pthread_cond_signal(&srv->tcond);
		pthread_mutex_unlock(&srv->tlock);
		pthread_join(srv->timer_thread, NULL);
	}
	pthread_cond_destroy(&srv->tcond);
	pthread_mutex_destroy(&srv->tlock);
	free(srv->heap);
	free(srv);
}

/* Start the daemon. */
int sim_server_start(struct sim_ctx *ctx, struct sim_server **out, int *port, char **err)
{
	struct sim_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	pthread_condattr_t ca;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	unsigned int threads = ctx->opts.threads > 0 ? (unsigned int)ctx->opts.threads : 4;

	*out = NULL;
	if (!srv) {
		*err = sim_asprintf("out of memory");
		return -1;
	}
	srv->ctx = ctx;
	pthread_mutex_init(&srv->tlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->tcond, &ca);
	pthread_condattr_destroy(&ca);

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, ctx->opts.listen_host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)ctx->opts.listen_port);
		sa = (struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, ctx->opts.listen_host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)ctx->opts.listen_port);
		sa = (struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		*err = sim_asprintf("--listen: not an IP address: %s", ctx->opts.listen_host);
		goto fail;
	}
	if (pthread_create(&srv->timer_thread, NULL, timer_main, srv)) {
		*err = sim_asprintf("cannot start the timer thread");
		goto fail;
	}
	srv->timer_started = true;
	errno = 0;
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv,
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)300,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)20000,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
		MHD_OPTION_END);
	if (!srv->daemon) {
		*err = sim_asprintf("cannot listen on %s:%d%s%s", ctx->opts.listen_host,
				    ctx->opts.listen_port, errno ? ": " : "",
				    errno ? strerror(errno) : "");
		goto fail;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : ctx->opts.listen_port;
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return -1;
}

/* Stop: resume everything that waits, then stop MHD and the timer. */
void sim_server_stop(struct sim_server *srv)
{
	size_t waiting;
	int i;

	if (!srv)
		return;
	pthread_mutex_lock(&srv->tlock);
	srv->stopping = true;
	waiting = srv->suspended;
	pthread_cond_signal(&srv->tcond);
	pthread_mutex_unlock(&srv->tlock);
	/* give resumed connections a moment to be processed (bounded) */
	for (i = 0; i < 300; i++) {
		size_t n;

		pthread_mutex_lock(&srv->tlock);
		n = srv->suspended + srv->nheap;
		pthread_mutex_unlock(&srv->tlock);
		if (n == 0)
			break;
		usleep(10000);
	}
	/* let the answers of the connections just resumed go out (best effort) */
	if (waiting)
		usleep(100000);
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	server_free(srv);
}
