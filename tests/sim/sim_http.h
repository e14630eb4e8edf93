/*
 * sim_http.h: the plain request and response structs every simulated
 * upstream works with, plus tiny helpers to read queries and build
 * responses. Only sim_server.c talks to libmicrohttpd; it fills a
 * struct sim_request and sends whatever struct sim_response a handler built.
 */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maximum request body the simulator accepts (413 beyond). */
#define SIM_MAX_BODY (4u * 1024u * 1024u)

/* Maximum URI length the simulator accepts (414 beyond). */
#define SIM_MAX_URI (64u * 1024u)

/* A decoded query parameter (both strings owned by the request). */
struct sim_param {
	char *key;
	char *value;
};

/* One incoming request; every string is owned by the request or by MHD. */
struct sim_request {
	const char *method;        /* "GET", ... (borrowed) */
	char *raw_path;            /* path as received, without the query */
	char *raw_query;           /* query as received, without '?', "" if none */
	char **seg;                /* percent-decoded path segments */
	size_t nseg;
	bool trailing_slash;       /* raw path ended in '/' */
	struct sim_param *params;  /* decoded query parameters in order */
	size_t nparams;
	const char *host;          /* Host header or NULL (borrowed) */
	const char *authorization; /* Authorization header or NULL (borrowed) */
	const char *private_token; /* PRIVATE-TOKEN header (GitLab) or NULL (borrowed) */
	const char *body;          /* request body (borrowed), may be NULL */
	size_t body_len;
	uint64_t seq;              /* request sequence number (also in the log) */
	/* any request header by name (case-insensitive), set by the adapter; may be NULL */
	const char *(*header_fn)(void *header_ctx, const char *name);
	/* call cb for every request header, in order; set by the adapter; may be NULL */
	void (*header_each_fn)(void *header_ctx,
			       void (*cb)(void *arg, const char *name, const char *value), void *arg);
	void *header_ctx;
};

/* One response header (owned strings). */
struct sim_header {
	char *name;
	char *value;
};

/* A response under construction. */
struct sim_response {
	int status;                /* 0 until set */
	struct sim_header *headers;
	size_t nheaders;
	size_t capheaders;
	char *body;                /* malloc'd, may be NULL for no body */
	size_t body_len;
	bool oom;                  /* an allocation failed while building */
	int delay_ms;              /* extra delay the handler asks for (GitLab's slow queries) */
};

/*
 * Split uri ("/a/b?x=1") into raw_path, raw_query, decoded segments and
 * decoded parameters ('+' is a space in queries). Returns 0, or -1 on
 * allocation failure or malformed percent-encoding.
 */
int sim_request_parse_uri(struct sim_request *req, const char *uri);

/* Free what sim_request_parse_uri allocated. NULL-safe. */
void sim_request_clear(struct sim_request *req);

/* First value of query parameter key, or NULL. */
const char *sim_query_get(const struct sim_request *req, const char *key);

/* Value of request header name (case-insensitive), or NULL (borrowed, valid during the handler). */
const char *sim_header_get(const struct sim_request *req, const char *name);

/* Call cb for every request header (nothing when the adapter cannot enumerate them). */
void sim_header_each(const struct sim_request *req,
		     void (*cb)(void *arg, const char *name, const char *value), void *arg);

/* True if the decoded path has exactly n segments and each equals the
 * pattern ('*' matches any single segment). Patterns are given as a
 * NULL-terminated list. */
bool sim_path_is(const struct sim_request *req, size_t skip, ...);

/* Percent-encode s for a query component; spaces become '+' when plus. Caller frees. */
char *sim_url_encode(const char *s, bool plus);

/* Percent-decode n bytes of s; '+' becomes ' ' when plus. Caller frees; NULL on bad input. */
char *sim_url_decode(const char *s, size_t n, bool plus);

/* "http://<Host header>" (or http://localhost); caller frees. */
char *sim_base_url(const struct sim_request *req);

/* Initialise an empty response. */
void sim_resp_init(struct sim_response *resp);

/* Free headers and body. NULL-safe. */
void sim_resp_clear(struct sim_response *resp);

/* Append a header (both strings copied); sets resp->oom on failure. */
void sim_resp_header(struct sim_response *resp, const char *name, const char *value);

/* Append a printf-formatted header value. */
void sim_resp_headerf(struct sim_response *resp, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Remove every header called name (case-insensitive). */
void sim_resp_header_del(struct sim_response *resp, const char *name);

/*
 * Set status and a compact JSON body from body (reference stolen; NULL body
 * is treated as allocation failure). Adds Content-Type: application/json.
 */
void sim_resp_json(struct sim_response *resp, int status, json_t *body);

/* Set status and an already serialised JSON body (text is taken over; NULL = OOM). */
void sim_resp_json_text(struct sim_response *resp, int status, char *text, size_t len);

/* Set status and no body (e.g. 204). */
void sim_resp_empty(struct sim_response *resp, int status);

/* Parse the request body as JSON; NULL if empty or invalid (err gets the reason). */
json_t *sim_request_json(const struct sim_request *req, json_error_t *err);

/* HTTP reason phrase for a status code. */
const char *sim_reason(int status);

#endif
