/*
 * http.c: request/response helpers (see http.h).
 */
#include "http.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *http_req_header(const struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

const char *http_req_param(const struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (!strcmp(r->param_names[i], name))
			return r->param_values[i];
	return NULL;
}

void http_req_clear_params(struct http_req *req)
{
	for (size_t i = 0; i < req->nparams; i++) {
		free(req->param_values[i]);
		req->param_values[i] = NULL;
	}
	req->nparams = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_url_decode(char *s, int plus_is_space)
{
	char *w = s;
	for (char *p = s; *p; p++) {
		if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (hi < 0 || lo < 0)
				return -1;
			*w++ = (char)(hi * 16 + lo);
			p += 2;
		} else if (*p == '+' && plus_is_space) {
			*w++ = ' ';
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return 0;
}

char *http_form_field(const char *body, size_t len, const char *key)
{
	size_t kl = strlen(key);
	const char *p = body, *end = body + len;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			char *v = strndup(p + kl + 1, (size_t)(stop - p - (ptrdiff_t)kl - 1));
			if (v && http_url_decode(v, 1)) {
				free(v);
				return NULL;
			}
			return v;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

char *http_req_query(const struct http_req *r, const char *key)
{
	if (!r->query || !*r->query)
		return NULL;
	size_t klen = strlen(key);
	const char *p = r->query;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		/* Compare the decoded name: names we look up never need escaping,
		 * so a raw comparison is exact for them. */
		if (nlen == klen && !memcmp(p, key, klen)) {
			const char *v = eq ? eq + 1 : p + len;
			size_t vlen = (size_t)(p + len - v);
			char *out = malloc(vlen + 1);
			if (!out)
				return NULL;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			if (http_url_decode(out, 1)) {
				free(out);
				return NULL;
			}
			return out;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return NULL;
}

void http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof *r);
	r->status = 200;
	buf_init(&r->body, 0);
}

void http_resp_free(struct http_resp *r)
{
	if (!r)
		return;
	buf_reset(&r->body);
	free(r->content_type);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	memset(r, 0, sizeof *r);
}

int http_resp_header(struct http_resp *r, const char *name, const char *value)
{
	struct http_header *h = realloc(r->headers, (r->nheaders + 1) * sizeof *h);
	if (!h)
		return -1;
	r->headers = h;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	h[r->nheaders].name = n;
	h[r->nheaders].value = v;
	r->nheaders++;
	return 0;
}

void http_resp_content_type(struct http_resp *r, const char *ct)
{
	free(r->content_type);
	r->content_type = strdup(ct);
}

void http_resp_json(struct http_resp *r, int status, json_t *body)
{
	r->status = status;
	buf_reset(&r->body);
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (s) {
		buf_puts(&r->body, s);
		free(s);
	} else {
		buf_puts(&r->body, "null");
	}
	buf_puts(&r->body, "\n");
	json_decref(body);
	http_resp_content_type(r, "application/json");
}

void http_resp_error(struct http_resp *r, int status, const char *code, const char *fmt, ...)
{
	struct buf msg;
	buf_init(&msg, 0);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	http_resp_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", buf_str(&msg)));
	buf_reset(&msg);
}

void http_resp_text(struct http_resp *r, int status, const char *text)
{
	r->status = status;
	buf_reset(&r->body);
	buf_puts(&r->body, text);
	http_resp_content_type(r, "text/plain; charset=utf-8");
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
