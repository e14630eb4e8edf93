/*
 * fuzz_query.c: query-string decoding and path routing on arbitrary input.
 * The first line is the path, the rest the query string.
 */
#include "http.h"
#include "router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)ctx;
	(void)arg;
	http_resp_text(resp, 200, http_req_param(req, "id") ? http_req_param(req, "id") : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char *nl = strchr(s, '\n');
	const char *query = "";
	if (nl) {
		*nl = '\0';
		query = nl + 1;
	}
	struct http_req req;
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.path = s;
	req.query = query;
	const char *keys[] = {"status", "limit", "q", "", "a"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		free(http_req_query(&req, keys[i]));
	struct router *r = router_new();
	if (r) {
		router_add(r, "GET", "/api/v1/jobs/{id}/replay", h, NULL);
		router_add(r, "GET", "/x/{a}/{id}", h, NULL);
		router_add(r, "*", "/gitlab/*", h, NULL);
		struct http_resp resp;
		http_resp_init(&resp);
		struct ctx ctx;
		memset(&ctx, 0, sizeof ctx);
		router_dispatch(r, &ctx, &req, &resp);
		http_resp_free(&resp);
		http_req_clear_params(&req);
		router_free(r);
	}
	char *copy = strdup(query);
	if (copy) {
		http_url_decode(copy, 1);
		free(copy);
	}
	free(s);
	return 0;
}
