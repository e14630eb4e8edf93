/*
 * httpd.c: libmicrohttpd adapter (see httpd.h).
 *
 * Request lifecycle, as libmicrohttpd drives it:
 *  1. the URI log callback runs first with the raw request URI; it creates
 *     the per-request state (so the raw query string survives) and counts
 *     the request as in flight;
 *  2. the access handler runs once with no body, then once per body chunk
 *     (appended to a bounded buffer), then once more to answer;
 *  3. the completion callback frees the state and ends the in-flight count.
 */
#include "httpd.h"

#include "buf.h"
#include "clock.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpd {
	struct MHD_Daemon *mhd;
	httpd_handler fn;
	void *arg;
	struct logger *lg;
	size_t max_body;
	int port;
	atomic_int in_flight;
	int quiesced;
};

struct reqstate {
	struct httpd *d;
	char *raw_uri;
	struct buf body;
	int too_large;
	int started;
};

void httpd_new_request_id(char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		/* Not security sensitive: fall back to time and address bits. */
		int64_t t = clock_mono_ns();
		for (size_t i = 0; i < sizeof rnd; i++)
			rnd[i] = (unsigned char)((t >> (i % 8) * 8) ^ (intptr_t)&rnd >> i);
	}
	size_t n = 0;
	for (size_t i = 0; i < sizeof rnd && n + 2 < outlen; i++) {
		out[n++] = hex[rnd[i] >> 4];
		out[n++] = hex[rnd[i] & 15];
	}
	out[n] = '\0';
}

/* A caller-supplied request id is echoed only if it is short and plain. */
static int request_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)conn;
	struct httpd *d = cls;
	struct reqstate *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->d = d;
	st->raw_uri = strdup(uri ? uri : "/");
	buf_init(&st->body, d->max_body);
	atomic_fetch_add(&d->in_flight, 1);
	return st;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct httpd *d = cls;
	struct reqstate *st = *req_cls;
	if (!st)
		return;
	buf_reset(&st->body);
	free(st->raw_uri);
	free(st);
	*req_cls = NULL;
	atomic_fetch_sub(&d->in_flight, 1);
}

struct hdr_collect {
	struct http_header *h;
	size_t n;
	int oom;
};

static enum MHD_Result header_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct hdr_collect *c = cls;
	struct http_header *h = realloc(c->h, (c->n + 1) * sizeof *h);
	if (!h) {
		c->oom = 1;
		return MHD_NO;
	}
	c->h = h;
	h[c->n].name = strdup(key);
	h[c->n].value = strdup(value ? value : "");
	if (!h[c->n].name || !h[c->n].value) {
		free(h[c->n].name);
		free(h[c->n].value);
		c->oom = 1;
		return MHD_NO;
	}
	c->n++;
	return MHD_YES;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, const struct http_resp *resp, const char *rid)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(resp->body.len, resp->body.data ? resp->body.data : (void *)"",
						MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	if (rid)
		MHD_add_response_header(r, "X-Request-Id", rid);
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *upload_data, size_t *upload_data_size,
				 void **req_cls)
{
	(void)version;
	struct httpd *d = cls;
	struct reqstate *st = *req_cls;
	if (!st)
		return MHD_NO; /* out of memory in uri_log_cb */

	if (!st->started) {
		st->started = 1;
		/* Refuse a declared oversized body before reading any of it. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long n = strtoull(cl, &end, 10);
			if (*end == '\0' && d->max_body && n > d->max_body)
				st->too_large = 1;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!st->too_large && buf_append(&st->body, upload_data, *upload_data_size) != BUF_OK) {
			st->too_large = 1;
			buf_reset(&st->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is here: build the plain request and answer it. */
	struct hdr_collect hc = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, header_cb, &hc);
	char rid[136];
	struct http_req req;
	memset(&req, 0, sizeof req);
	req.method = method;
	req.path = url;
	const char *q = st->raw_uri ? strchr(st->raw_uri, '?') : NULL;
	req.query = q ? q + 1 : "";
	char *raw_path = st->raw_uri ? strndup(st->raw_uri, q ? (size_t)(q - st->raw_uri) : strlen(st->raw_uri)) : NULL;
	req.raw_path = raw_path;
	req.headers = hc.h;
	req.nheaders = hc.n;
	req.body = buf_str(&st->body);
	req.body_len = st->body.len;
	const char *given = http_req_header(&req, "X-Request-Id");
	if (given && request_id_ok(given))
		snprintf(rid, sizeof rid, "%s", given);
	else
		httpd_new_request_id(rid, sizeof rid);
	req.request_id = rid;
	char addr[INET6_ADDRSTRLEN] = "";
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr, sizeof addr);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
				  sizeof addr);
	}
	req.remote_addr = addr;

	struct http_resp resp;
	http_resp_init(&resp);
	if (hc.oom)
		http_resp_error(&resp, 500, "internal", "out of memory");
	else
		d->fn(d->arg, &req, &resp, st->too_large);
	enum MHD_Result ret = send_resp(conn, &resp, rid);
	http_resp_free(&resp);
	http_req_clear_params(&req);
	free(raw_path);
	for (size_t i = 0; i < hc.n; i++) {
		free(hc.h[i].name);
		free(hc.h[i].value);
	}
	free(hc.h);
	return ret;
}

/* Split "host:port" / "[v6]:port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen, struct err *e)
{
	char host[256];
	const char *port;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host)
			return err_set(e, -1, "listen address \"%s\" is not [host]:port", listen);
		memcpy(host, listen + 1, (size_t)(close - listen - 1));
		host[close - listen - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (!colon || (size_t)(colon - listen) >= sizeof host)
			return err_set(e, -1, "listen address \"%s\" is not host:port", listen);
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc || !res)
		return err_set(e, -1, "listen address \"%s\": %s", listen, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct httpd *httpd_start(const struct httpd_opts *o, httpd_handler fn, void *arg, struct logger *lg,
			  struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	if (parse_listen(o->listen, &ss, &sslen, e))
		return NULL;
	struct httpd *d = calloc(1, sizeof *d);
	if (!d) {
		err_set(e, -1, "out of memory");
		return NULL;
	}
	d->fn = fn;
	d->arg = arg;
	d->lg = lg;
	d->max_body = o->max_body_bytes;
	atomic_init(&d->in_flight, 0);
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned int threads = o->threads > 0 ? (unsigned int)o->threads : 4;
	unsigned int tmo = (unsigned int)((o->connection_timeout_ms + 999) / 1000);
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, d,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_THREAD_POOL_SIZE, threads,
				  MHD_OPTION_CONNECTION_TIMEOUT, tmo ? tmo : 30u,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
				  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
				  MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, d,
				  MHD_OPTION_NOTIFY_COMPLETED, completed_cb, d,
				  MHD_OPTION_END);
	if (!d->mhd) {
		err_set(e, -1, "cannot listen on %s (address in use or not available)", o->listen);
		free(d);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	d->port = di ? di->port : 0;
	return d;
}

int httpd_port(const struct httpd *d)
{
	return d->port;
}

void httpd_quiesce(struct httpd *d)
{
	if (!d || d->quiesced)
		return;
	MHD_socket s = MHD_quiesce_daemon(d->mhd);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	d->quiesced = 1;
}

int httpd_wait_idle(struct httpd *d, int64_t grace_ms)
{
	int64_t end = clock_mono_ms() + grace_ms;
	while (atomic_load(&d->in_flight) > 0 && clock_mono_ms() < end)
		clock_sleep_ms(10, NULL);
	return atomic_load(&d->in_flight);
}

void httpd_stop(struct httpd *d)
{
	if (!d)
		return;
	MHD_stop_daemon(d->mhd);
	free(d);
}
