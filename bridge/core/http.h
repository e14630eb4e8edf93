/*
 * http.h: plain request and response structs shared by the HTTP server
 * adapter (httpd.c, the only file that includes <microhttpd.h>), the router
 * and every handler. Handlers never see libmicrohttpd.
 */
#ifndef SB_CORE_HTTP_H
#define SB_CORE_HTTP_H

#include "buf.h"

#include <jansson.h>
#include <stddef.h>

#define HTTP_MAX_PARAMS 8

struct http_header {
	char *name;
	char *value;
};

struct http_req {
	const char *method;
	const char *path;        /* as received, without the query string */
	const char *query;       /* raw query string without '?', "" when none */
	const char *raw_path;    /* path with its %-escapes intact (path is decoded); may be NULL */
	struct http_header *headers;
	size_t nheaders;
	const char *body;        /* NUL-terminated for convenience; body_len is authoritative */
	size_t body_len;
	const char *request_id;
	const char *remote_addr;
	/* Filled by the router from {name} segments of the matched pattern. */
	const char *param_names[HTTP_MAX_PARAMS];
	char *param_values[HTTP_MAX_PARAMS];
	size_t nparams;
	const char *route;       /* the matched pattern, for metrics and logs */
};

struct http_resp {
	int status;
	struct buf body;
	char *content_type;      /* owned; NULL means application/json */
	struct http_header *headers; /* owned extra headers */
	size_t nheaders;
};

/* Header lookup, case-insensitive; NULL when absent. Borrowed. */
const char *http_req_header(const struct http_req *r, const char *name);

/* A path parameter by name ({id} in the pattern); NULL when absent. Borrowed. */
const char *http_req_param(const struct http_req *r, const char *name);

/* The first value of a query parameter, URL-decoded. Returns a malloc'ed
 * string the caller frees, or NULL when absent. */
char *http_req_query(const struct http_req *r, const char *key);

/* The URL-decoded value of field key of an application/x-www-form-urlencoded
 * body of len bytes (caller frees); NULL when absent, without "=", or badly
 * escaped. For bodies that are not NUL-terminated (Slack's requests). */
char *http_form_field(const char *body, size_t len, const char *key);

/* Free the path parameters the router stored in req. */
void http_req_clear_params(struct http_req *req);

/* Decode %XX and '+' (when plus_is_space) in place. -1 on a bad escape. */
int http_url_decode(char *s, int plus_is_space);

/* Initialise an empty 200 response with a body limit of max_body (0: none). */
void http_resp_init(struct http_resp *r);
void http_resp_free(struct http_resp *r);

/* Add a header (both copied). 0 or -1 on allocation failure. */
int http_resp_header(struct http_resp *r, const char *name, const char *value);

/* Set the content type (copied). */
void http_resp_content_type(struct http_resp *r, const char *ct);

/* Status + JSON body from a jansson value; steals the reference. */
void http_resp_json(struct http_resp *r, int status, json_t *body);

/* Status + {"error": {"code": code, "message": message}}. */
void http_resp_error(struct http_resp *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Status + plain text body. */
void http_resp_text(struct http_resp *r, int status, const char *text);

/* The reason phrase for a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
