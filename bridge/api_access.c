/*
 * api_access.c: /api/v1/access-requests (issue 9). Automation acts with the
 * admin token and says for whom: "on_behalf_of" (the requester) on create,
 * "by" (the person deciding) on approve, deny, cancel and revoke; "by"
 * absent means the admin token itself decides, as the operators.
 */
#include "access.h"
#include "api.h"
#include "db.h"
#include "http.h"
#include "router.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *body_object(struct http_req *req, struct http_resp *resp)
{
	json_error_t je;
	json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		http_resp_error(resp, 400, "bad_request", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void reply(struct http_resp *resp, struct access_answer *a)
{
	http_resp_json(resp, a->status ? a->status : 500, a->body ? a->body : json_object());
}

static void h_create(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	json_t *b = body_object(req, resp);
	if (!b)
		return;
	json_t *dur = json_object_get(b, "duration");
	if (dur && !json_is_string(dur)) {
		json_decref(b);
		http_resp_error(resp, 422, "invalid", "duration must be a string like \"8h\"");
		return;
	}
	const char *who = str(b, "on_behalf_of");
	char actor[300];
	snprintf(actor, sizeof actor, "admin-token for %s", who ? who : "?");
	struct access_answer a;
	access_request_create(ctx, who, str(b, "kind"), str(b, "role"), str(b, "team"), json_string_value(dur),
			      str(b, "reason"), "api", actor, &a);
	reply(resp, &a);
	json_decref(b);
}

static void h_decide(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	const char *action = arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	long long id = api_parse_id(http_req_param(req, "id"));
	if (id < 1) {
		http_resp_error(resp, 400, "bad_request", "request id must be a positive integer");
		return;
	}
	json_t *b = req->body_len ? body_object(req, resp) : json_object();
	if (!b)
		return;
	const char *by = str(b, "by");
	struct access_answer a;
	access_request_decide(ctx, id, action, by && *by ? by : "admin-token", str(b, "reason"), "api", &a);
	reply(resp, &a);
	json_decref(b);
}

static void h_list(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	int limit = api_query_limit(req, resp, 100);
	if (limit < 0)
		return;
	char *status = http_req_query(req, "status"), *person = http_req_query(req, "person");
	static const char *const ok[] = {"pending", "approved", "denied", "cancelled", NULL};
	int valid = !status;
	for (size_t i = 0; !valid && ok[i]; i++)
		valid = !strcmp(status, ok[i]);
	if (!valid) {
		http_resp_error(resp, 400, "bad_request", "status must be pending, approved, denied or cancelled");
	} else {
		PGconn *c = api_need_db(ctx, resp);
		if (c) {
			struct err e = {0};
			json_t *l = access_request_list(c, status, person, limit, &e);
			if (l)
				http_resp_json(resp, 200, json_pack("{s:o}", "items", l));
			else
				http_resp_error(resp, 500, "internal", "database error");
			db_release(ctx->db, c);
		}
	}
	free(status);
	free(person);
}

static void h_show(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	if (!api_require_admin(ctx, req, resp))
		return;
	long long id = api_parse_id(http_req_param(req, "id"));
	if (id < 1) {
		http_resp_error(resp, 400, "bad_request", "request id must be a positive integer");
		return;
	}
	PGconn *c = api_need_db(ctx, resp);
	if (!c)
		return;
	struct err e = {0};
	json_t *r = access_request_show(c, id, &e);
	if (r)
		http_resp_json(resp, 200, r);
	else if (e.code == 404)
		http_resp_error(resp, 404, "not_found", "no access request with id %lld", id);
	else
		http_resp_error(resp, 500, "internal", "database error");
	db_release(ctx->db, c);
}

int access_routes(struct router *r)
{
	int rc = 0;
	rc |= router_add(r, "POST", "/api/v1/access-requests", h_create, NULL);
	rc |= router_add(r, "GET", "/api/v1/access-requests", h_list, NULL);
	rc |= router_add(r, "GET", "/api/v1/access-requests/{id}", h_show, NULL);
	rc |= router_add(r, "POST", "/api/v1/access-requests/{id}/approve", h_decide, (void *)"approve");
	rc |= router_add(r, "POST", "/api/v1/access-requests/{id}/deny", h_decide, (void *)"deny");
	rc |= router_add(r, "POST", "/api/v1/access-requests/{id}/cancel", h_decide, (void *)"cancel");
	rc |= router_add(r, "POST", "/api/v1/access-requests/{id}/revoke", h_decide, (void *)"revoke");
	return rc ? -1 : 0;
}
