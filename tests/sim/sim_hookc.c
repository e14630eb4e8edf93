/*
 * sim_hookc.c: the tiny blocking HTTP/1.1 client of sim_hookc.h.
 *
 * Non-blocking socket + poll() in slices of at most 100 ms, so a deadline
 * and a cancel flag are both honoured during connect, write and read.
 */
#include "sim_hookc.h"

#include "sim_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Largest response head (status line + headers). */
#define HOOKC_MAX_HEAD (64u * 1024u)

/* Clear a URL. */
void hookc_url_clear(struct hookc_url *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->port);
	free(u->path);
	free(u->hostport);
	memset(u, 0, sizeof(*u));
}

/* Parse http://host[:port][/path]. */
int hookc_url_parse(const char *url, struct hookc_url *out, char *err, size_t errsz)
{
	const char *p, *h, *he, *path;
	char *host = NULL, *port = NULL;

	memset(out, 0, sizeof(*out));
	if (!url || strncasecmp(url, "http://", 7) != 0) {
		snprintf(err, errsz, "url must start with http:// (the simulator has no TLS)");
		return -1;
	}
	p = url + 7;
	path = p + strcspn(p, "/?#");
	if (*p == '[') {
		h = p + 1;
		he = memchr(h, ']', (size_t)(path - h));
		if (!he) {
			snprintf(err, errsz, "url: unterminated [ipv6] host");
			return -1;
		}
		p = he + 1;
	} else {
		h = p;
		he = memchr(h, ':', (size_t)(path - h));
		if (!he)
			he = path;
		p = he;
	}
	if (p < path && *p == ':') {
		const char *q;

		for (q = p + 1; q < path; q++)
			if (!isdigit((unsigned char)*q))
				break;
		if (q != path || q == p + 1 || path - p > 6) {
			snprintf(err, errsz, "url: bad port");
			return -1;
		}
		port = sim_strndup(p + 1, (size_t)(path - p - 1));
	} else if (p != path) {
		snprintf(err, errsz, "url: bad host");
		return -1;
	} else {
		port = sim_strdup("80");
	}
	host = sim_strndup(h, (size_t)(he - h));
	if (!host || !port) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (strcmp(host, "127.0.0.1") != 0 && strcasecmp(host, "localhost") != 0 &&
	    strcmp(host, "::1") != 0) {
		snprintf(err, errsz, "url: only loopback hosts (127.0.0.1, localhost, [::1]) are allowed");
		goto fail;
	}
	if (*path == '#') {
		snprintf(err, errsz, "url: fragments are not allowed");
		goto fail;
	}
	out->host = host;
	out->port = port;
	out->path = *path ? sim_strdup(path) : sim_strdup("/");
	if (*path == '?')
		out->path = (free(out->path), sim_asprintf("/%s", path));
	out->hostport = sim_strndup(url + 7, (size_t)(path - (url + 7)));
	if (!out->path || !out->hostport) {
		hookc_url_clear(out);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
fail:
	free(host);
	free(port);
	return -1;
}

/* Milliseconds left before deadline (monotonic), at least 0. */
static int left_ms(int64_t deadline)
{
	int64_t l = deadline - sim_mono_ms();

	return l < 0 ? 0 : (int)l;
}

/*
 * Wait for events on fd until the deadline or cancel. Returns 1 ready, 0 on
 * timeout, -1 on cancel/error (err filled).
 */
static int wait_fd(int fd, short events, int64_t deadline, const atomic_bool *cancel,
		   struct hookc_result *out)
{
	for (;;) {
		struct pollfd pfd = { fd, events, 0 };
		int l = left_ms(deadline), r;

		if (cancel && atomic_load(cancel)) {
			snprintf(out->err, sizeof(out->err), "cancelled (simulator stopping)");
			return -1;
		}
		if (l == 0) {
			out->timeout = true;
			snprintf(out->err, sizeof(out->err), "timeout");
			return 0;
		}
		r = poll(&pfd, 1, l > 100 ? 100 : l);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR) {
			snprintf(out->err, sizeof(out->err), "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* Connect (non-blocking) to the first address that answers. -1 with err on failure. */
static int connect_to(const struct hookc_url *u, int64_t deadline, const atomic_bool *cancel,
		      struct hookc_result *out)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc) {
		snprintf(out->err, sizeof(out->err), "resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
			close(fd);
			fd = -1;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline, cancel, out);
			if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr)
				break;
			if (rc <= 0) {
				close(fd);
				fd = -1;
				break;
			}
			snprintf(out->err, sizeof(out->err), "connect %s:%s: %s", u->host, u->port,
				 strerror(soerr));
		} else {
			snprintf(out->err, sizeof(out->err), "connect %s:%s: %s", u->host, u->port,
				 strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Write all of data. 0 or -1. */
static int write_all(int fd, const char *data, size_t n, int64_t deadline, const atomic_bool *cancel,
		     struct hookc_result *out)
{
	while (n) {
		ssize_t w = send(fd, data, n, MSG_NOSIGNAL);

		if (w > 0) {
			data += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(out->err, sizeof(out->err), "send: %s", strerror(errno));
			return -1;
		}
		if (wait_fd(fd, POLLOUT, deadline, cancel, out) != 1)
			return -1;
	}
	return 0;
}

/* Read what is available into b (waiting if nothing is); *eof at end of stream. 0 or -1. */
static int read_some(int fd, struct sim_buf *b, int64_t deadline, const atomic_bool *cancel,
		     struct hookc_result *out, bool *eof)
{
	char tmp[16384];
	ssize_t r;

	for (;;) {
		r = recv(fd, tmp, sizeof(tmp), 0);
		if (r > 0) {
			int e = sim_buf_append(b, tmp, (size_t)r);

			if (e) {
				snprintf(out->err, sizeof(out->err), "response too large");
				return -1;
			}
			return 0;
		}
		if (r == 0) {
			*eof = true;
			return 0;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(out->err, sizeof(out->err), "recv: %s", strerror(errno));
			return -1;
		}
		if (wait_fd(fd, POLLIN, deadline, cancel, out) != 1)
			return -1;
	}
}

/* Decode a chunked body src[0..n) into dst: -1 malformed, else *complete says if it ended. */
static long dechunk(const char *src, size_t n, struct sim_buf *dst, bool *complete)
{
	size_t i = 0;

	*complete = false;
	for (;;) {
		size_t sz = 0;
		int digits = 0;
		const char *nl;

		while (i < n && isxdigit((unsigned char)src[i])) {
			int c = (unsigned char)src[i];

			sz = sz * 16 + (size_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
			if (++digits > 8)
				return -1;
			i++;
		}
		nl = memchr(src + i, '\n', n - i);
		if (!nl)
			return 0; /* incomplete */
		if (!digits)
			return -1;
		i = (size_t)(nl - src) + 1;
		if (sz == 0) {
			*complete = true;
			return (long)dst->len;
		}
		if (n - i < sz + 2)
			return 0;
		if (sim_buf_append(dst, src + i, sz))
			return -1;
		i += sz;
		if (src[i] == '\r')
			i++;
		if (i >= n || src[i] != '\n')
			return -1;
		i++;
	}
}

/* Send a request and read the answer. */
int hookc_request(const struct hookc_url *u, const char *method, const struct hookc_header *hdrs,
		  size_t nhdrs, const char *body, size_t body_len, int timeout_ms,
		  const atomic_bool *cancel, struct hookc_result *out)
{
	int64_t deadline = sim_mono_ms() + timeout_ms;
	struct sim_buf req, in, dec;
	const char *head_end, *p;
	size_t head_len, i;
	long clen = -1;
	bool chunked = false, eof = false;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	sim_buf_init(&req, 0);
	sim_buf_init(&in, HOOKC_MAX_HEAD + HOOKC_MAX_BODY + 4096);
	sim_buf_init(&dec, HOOKC_MAX_BODY);
	fd = connect_to(u, deadline, cancel, out);
	if (fd < 0)
		goto out;
	if (sim_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
			   "User-Agent: Okta Google-HTTP-Java-Client/1.23.0 (sentry-bridge-sim)\r\n",
			   method, u->path, u->hostport))
		goto oom;
	for (i = 0; i < nhdrs; i++)
		if (sim_buf_printf(&req, "%s: %s\r\n", hdrs[i].name, hdrs[i].value))
			goto oom;
	if ((body || !strcmp(method, "POST") || !strcmp(method, "PUT")) &&
	    sim_buf_printf(&req, "Content-Length: %zu\r\n", body ? body_len : 0))
		goto oom;
	if (sim_buf_puts(&req, "\r\n") || (body && body_len && sim_buf_append(&req, body, body_len)))
		goto oom;
	if (write_all(fd, req.data, req.len, deadline, cancel, out))
		goto out;
	/* the head */
	for (;;) {
		head_end = in.data ? strstr(in.data, "\r\n\r\n") : NULL;
		if (head_end)
			break;
		if (in.len > HOOKC_MAX_HEAD) {
			snprintf(out->err, sizeof(out->err), "response head too large");
			goto out;
		}
		if (eof) {
			snprintf(out->err, sizeof(out->err),
				 in.len ? "connection closed inside the response head"
					: "empty reply (connection closed without a response)");
			goto out;
		}
		if (read_some(fd, &in, deadline, cancel, out, &eof))
			goto out;
	}
	head_len = (size_t)(head_end - in.data) + 4;
	if (sscanf(in.data, "HTTP/1.%*1[01] %3d", &out->status) != 1 || out->status < 100 ||
	    out->status > 999) {
		out->status = 0;
		snprintf(out->err, sizeof(out->err), "malformed status line");
		goto out;
	}
	for (p = strstr(in.data, "\r\n") + 2; p < head_end; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			clen = strtol(p + 15, NULL, 10);
		if (strncasecmp(p, "Transfer-Encoding:", 18) == 0) {
			const char *e = strstr(p, "\r\n");
			char *v = sim_strndup(p + 18, (size_t)(e - p - 18));

			if (!v)
				goto oom;
			chunked = sim_contains_ci(v, "chunked");
			free(v);
		}
	}
	if (out->status == 204 || out->status == 304 || (out->status >= 100 && out->status < 200))
		clen = 0;
	/* the body */
	for (;;) {
		size_t have = in.len - head_len;

		if (chunked) {
			bool complete;
			long r;

			dec.len = 0;
			r = dechunk(in.data + head_len, have, &dec, &complete);
			if (r < 0) {
				snprintf(out->err, sizeof(out->err), "malformed chunked body");
				out->status = 0;
				goto out;
			}
			if (complete) {
				out->body = sim_strndup(dec.data ? dec.data : "", dec.len);
				out->body_len = dec.len;
				break;
			}
		} else if (clen >= 0 && have >= (size_t)clen) {
			out->body = sim_strndup(in.data + head_len, (size_t)clen);
			out->body_len = (size_t)clen;
			break;
		} else if (eof && clen < 0) {
			out->body = sim_strndup(in.data + head_len, have);
			out->body_len = have;
			break;
		}
		if (eof) {
			snprintf(out->err, sizeof(out->err), "connection closed inside the response body");
			out->status = 0;
			goto out;
		}
		if (read_some(fd, &in, deadline, cancel, out, &eof)) {
			out->status = 0;
			goto out;
		}
	}
	if (!out->body)
		goto oom;
	rc = 0;
	goto out;
oom:
	snprintf(out->err, sizeof(out->err), "out of memory");
out:
	if (fd >= 0)
		close(fd);
	sim_buf_free(&req);
	sim_buf_free(&in);
	sim_buf_free(&dec);
	if (rc) {
		free(out->body);
		out->body = NULL;
		out->body_len = 0;
		out->status = 0;
	}
	return rc;
}
