/*
 * sim_http.c: request parsing (path segments, query parameters) and response
 * building helpers for the upstream simulator. No libmicrohttpd here.
 */
#include "sim_http.h"

#include "sim_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Value of one hex digit, -1 if not hex. */
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

/* Percent-decode; see header. */
char *sim_url_decode(const char *s, size_t n, bool plus)
{
	char *out = malloc(n + 1), *o;
	size_t i;

	if (!out)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else if (plus && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Percent-encode; unreserved characters stay. */
char *sim_url_encode(const char *s, bool plus)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i;
	char *out, *o;

	out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else if (c == ' ' && plus) {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Split the path into decoded segments (empty segments are dropped). */
static int parse_path(struct sim_request *req)
{
	const char *p = req->raw_path, *start;
	size_t cap = 0;

	req->trailing_slash = req->raw_path[0] && req->raw_path[strlen(req->raw_path) - 1] == '/';
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != '/')
			p++;
		if (req->nseg == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **ns = realloc(req->seg, ncap * sizeof(*ns));

			if (!ns)
				return -1;
			req->seg = ns;
			cap = ncap;
		}
		req->seg[req->nseg] = sim_url_decode(start, (size_t)(p - start), false);
		if (!req->seg[req->nseg])
			return -1;
		req->nseg++;
	}
	return 0;
}

/* Split the query into decoded key/value pairs. */
static int parse_query(struct sim_request *req)
{
	const char *p = req->raw_query, *start, *eq;
	size_t cap = 0;

	while (*p) {
		start = p;
		while (*p && *p != '&')
			p++;
		if (p > start) {
			struct sim_param *np;

			if (req->nparams == cap) {
				size_t ncap = cap ? cap * 2 : 8;

				np = realloc(req->params, ncap * sizeof(*np));
				if (!np)
					return -1;
				req->params = np;
				cap = ncap;
			}
			np = &req->params[req->nparams];
			eq = memchr(start, '=', (size_t)(p - start));
			if (eq) {
				np->key = sim_url_decode(start, (size_t)(eq - start), true);
				np->value = sim_url_decode(eq + 1, (size_t)(p - eq - 1), true);
			} else {
				np->key = sim_url_decode(start, (size_t)(p - start), true);
				np->value = strdup("");
			}
			if (!np->key || !np->value) {
				free(np->key);
				free(np->value);
				return -1;
			}
			req->nparams++;
		}
		if (*p == '&')
			p++;
	}
	return 0;
}

/* Fill the parsed parts of req from the raw URI. */
int sim_request_parse_uri(struct sim_request *req, const char *uri)
{
	const char *q = strchr(uri, '?');

	if (q) {
		req->raw_path = sim_strndup(uri, (size_t)(q - uri));
		req->raw_query = strdup(q + 1);
	} else {
		req->raw_path = strdup(uri);
		req->raw_query = strdup("");
	}
	if (!req->raw_path || !req->raw_query)
		return -1;
	if (parse_path(req) || parse_query(req))
		return -1;
	return 0;
}

/* Free parsed parts. */
void sim_request_clear(struct sim_request *req)
{
	size_t i;

	if (!req)
		return;
	for (i = 0; i < req->nseg; i++)
		free(req->seg[i]);
	free(req->seg);
	for (i = 0; i < req->nparams; i++) {
		free(req->params[i].key);
		free(req->params[i].value);
	}
	free(req->params);
	free(req->raw_path);
	free(req->raw_query);
	req->seg = NULL;
	req->params = NULL;
	req->raw_path = req->raw_query = NULL;
	req->nseg = req->nparams = 0;
}

/* First value of a query parameter. */
const char *sim_query_get(const struct sim_request *req, const char *key)
{
	size_t i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].key, key) == 0)
			return req->params[i].value;
	return NULL;
}

/* Segment pattern match, skipping the first `skip` segments. */
bool sim_path_is(const struct sim_request *req, size_t skip, ...)
{
	va_list ap;
	const char *pat;
	size_t i = skip;
	bool ok = true;

	va_start(ap, skip);
	while ((pat = va_arg(ap, const char *)) != NULL) {
		if (i >= req->nseg || (strcmp(pat, "*") != 0 && strcmp(pat, req->seg[i]) != 0)) {
			ok = false;
			break;
		}
		i++;
	}
	va_end(ap);
	return ok && i == req->nseg;
}

/*
 * Base URL from the Host header. A Host with characters outside what a
 * host[:port] may contain is replaced by "localhost", so the value can be
 * pasted into JSON strings and Link headers without escaping.
 */
char *sim_base_url(const struct sim_request *req)
{
	const char *h = req->host, *p;

	if (!h || !*h || strlen(h) > 255)
		h = "localhost";
	for (p = h; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_')) {
			h = "localhost";
			break;
		}
	}
	return sim_asprintf("http://%s", h);
}

/* Initialise. */
void sim_resp_init(struct sim_response *resp)
{
	memset(resp, 0, sizeof(*resp));
}

/* Free. */
void sim_resp_clear(struct sim_response *resp)
{
	size_t i;

	if (!resp)
		return;
	for (i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->body);
	sim_resp_init(resp);
}

/* Add a header (copied). */
void sim_resp_header(struct sim_response *resp, const char *name, const char *value)
{
	struct sim_header *h;

	if (resp->nheaders == resp->capheaders) {
		size_t ncap = resp->capheaders ? resp->capheaders * 2 : 8;

		h = realloc(resp->headers, ncap * sizeof(*h));
		if (!h) {
			resp->oom = true;
			return;
		}
		resp->headers = h;
		resp->capheaders = ncap;
	}
	h = &resp->headers[resp->nheaders];
	h->name = strdup(name);
	h->value = strdup(value ? value : "");
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		resp->oom = true;
		return;
	}
	resp->nheaders++;
}

/* Add a formatted header. */
void sim_resp_headerf(struct sim_response *resp, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *v = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n < 0) {
		resp->oom = true;
		return;
	}
	sim_resp_header(resp, name, v);
	free(v);
}

/* Remove headers by name. */
void sim_resp_header_del(struct sim_response *resp, const char *name)
{
	size_t i = 0;

	while (i < resp->nheaders) {
		if (strcasecmp(resp->headers[i].name, name) == 0) {
			free(resp->headers[i].name);
			free(resp->headers[i].value);
			memmove(&resp->headers[i], &resp->headers[i + 1],
				(resp->nheaders - i - 1) * sizeof(resp->headers[0]));
			resp->nheaders--;
		} else {
			i++;
		}
	}
}

/* JSON body. */
void sim_resp_json(struct sim_response *resp, int status, json_t *body)
{
	char *s;

	resp->status = status;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	if (!body) {
		resp->oom = true;
		return;
	}
	s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (!s) {
		resp->oom = true;
		return;
	}
	resp->body = s;
	resp->body_len = strlen(s);
	sim_resp_header_del(resp, "Content-Type");
	sim_resp_header(resp, "Content-Type", "application/json");
}

/* Pre-serialised JSON body. */
void sim_resp_json_text(struct sim_response *resp, int status, char *text, size_t len)
{
	resp->status = status;
	free(resp->body);
	resp->body = text;
	resp->body_len = text ? len : 0;
	if (!text) {
		resp->oom = true;
		return;
	}
	sim_resp_header_del(resp, "Content-Type");
	sim_resp_header(resp, "Content-Type", "application/json");
}

/* No body. */
void sim_resp_empty(struct sim_response *resp, int status)
{
	resp->status = status;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

/* Body as JSON. */
json_t *sim_request_json(const struct sim_request *req, json_error_t *err)
{
	if (!req->body || req->body_len == 0) {
		if (err)
			snprintf(err->text, sizeof(err->text), "empty body");
		return NULL;
	}
	return json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, err);
}

/* Reason phrases for the statuses the simulator produces. */
const char *sim_reason(int status)
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
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Any request header by name. */
const char *sim_header_get(const struct sim_request *req, const char *name)
{
	if (!req->header_fn)
		return NULL;
	return req->header_fn(req->header_ctx, name);
}

/* Every request header. */
void sim_header_each(const struct sim_request *req,
		     void (*cb)(void *arg, const char *name, const char *value), void *arg)
{
	if (req->header_each_fn)
		req->header_each_fn(req->header_ctx, cb, arg);
}
