/*
 * pages_access.c: the console's access pages (issue 10): My access (role,
 * groups, grants with Extend, pending requests with Cancel), the Request
 * access form under the access_requests rules, and Approvals. Requests are
 * filed and decided through bridge/access.c with source "web", so the rules,
 * the audit log and the notifications are those of the API and the CLI.
 */
#include "console_int.h"

#include "bridge/access.h"
#include "bridge/api.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "html.h"
#include "policies/policy_routing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The message of a refusal answered by access.c. Borrowed from body. */
static const char *answer_msg(const struct access_answer *a, const char *dflt)
{
	const char *m = json_string_value(json_object_get(a->body, "message"));

	if (!m)
		m = json_string_value(json_object_get(json_object_get(a->body, "error"), "message"));
	return m ? m : dflt;
}

/* ---- My access ------------------------------------------------------------------------------------- */

/* One group of the person and what the rules make of it. */
static void why_group(struct buf *b, const struct config *cfg, const char *g)
{
	int any = 0;

	if (!g)
		return;
	html_printf(b, "<li><code>%s</code>", g);
	for (size_t k = 0; k < cfg->roles.access_groups.n; k++)
		if (!strcmp(cfg->roles.access_groups.v[k], g)) {
			html_printf(b, "%saccess group (<code>roles.access_groups</code>): %s", any++ ? "; " : ": ",
				    config_role_name(cfg->roles.default_role));
		}
	for (size_t k = 0; k < cfg->roles.n_mappings; k++)
		if (!strcmp(cfg->roles.mappings[k].group, g))
			html_printf(b, "%srole mapping: %s", any++ ? "; " : ": ", config_role_name(cfg->roles.mappings[k].role));
	for (size_t k = 0; k < cfg->n_teams; k++)
		if (!strcmp(cfg->teams[k].group, g))
			html_printf(b, "%steam mapping: team <code>%s</code>", any++ ? "; " : ": ", cfg->teams[k].team);
	if (!any)
		html_printf(b, " <span class=\"muted\">(no rule uses it)</span>");
	html_printf(b, "</li>");
}

void con_h_my_access(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct buf b;
	PGresult *r;
	size_t i;
	json_t *v;
	char now[24];

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	buf_init(&b, CON_PAGE_MAX);
	con_msg(&b, req);
	html_printf(&b, "<p><a href=\"/console/request\">Request access</a> (a role or a team, for a while)</p>");
	snprintf(now, sizeof(now), "%lld", (long long)(clock_now_ms() / 1000));
	const char *p[] = {s.email, now};
	r = db_exec(c, "SELECT role, pending, array_to_string(teams, ', ') FROM sentry_members"
		       " WHERE lower(email) = $1 ORDER BY pending LIMIT 1", 1, p, NULL);
	html_printf(&b, "<h2>Sentry</h2>");
	if (r && PQntuples(r) == 1)
		html_printf(&b,
			    PQgetvalue(r, 0, 1)[0] == 't'
				? "<p>Organization role: <strong>%s</strong> <span class=\"badge\">invite pending</span></p>"
				  "<p>Teams: %s</p>"
				: "<p>Organization role: <strong>%s</strong></p><p>Teams: %s</p>",
			    PQgetvalue(r, 0, 0), *PQgetvalue(r, 0, 2) ? PQgetvalue(r, 0, 2) : "none");
	else
		html_printf(&b, "<p class=\"muted\">You are not a member of the Sentry organization (as of the last sync).</p>");
	PQclear(r);
	html_printf(&b, "<h2>Why: your Okta groups</h2><p class=\"muted\">The role and teams come from these groups"
			" through the bridge's rules, and from your active grants below.</p><ul>");
	json_array_foreach(s.groups, i, v)
		why_group(&b, ctx->cfg, json_string_value(v));
	if (!json_array_size(s.groups))
		html_printf(&b, "<li class=\"muted\">no groups</li>");
	for (size_t k = 0; k < ctx->cfg->roles.owners.n; k++)
		if (!strcasecmp(ctx->cfg->roles.owners.v[k], s.email))
			html_printf(&b, "<li>you are listed in <code>roles.owners</code>: owner</li>");
	html_printf(&b, "</ul><h2>Active grants</h2>");
	r = db_exec(c, "SELECT id, kind, coalesce(role, team), approved_by, to_char(ends_at AT TIME ZONE 'UTC',"
		       " 'YYYY-MM-DD HH24:MI \"UTC\"'), greatest(0, extract(epoch FROM ends_at)::bigint - $2::bigint),"
		       " coalesce((SELECT reason FROM access_requests q WHERE q.id = g.request_id), ''),"
		       " coalesce(request_id, 0)"
		       " FROM access_grants g WHERE person = $1 AND status = 'active' ORDER BY ends_at LIMIT 100", 2, p, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>Grant</th><th>What</th><th>Ends</th><th>Left</th>"
				"<th>Approved by</th><th>Reason</th><th></th></tr>");
		for (int k = 0; k < PQntuples(r); k++) {
			char left[32], target[48];
			con_fmt_left(strtoll(PQgetvalue(r, k, 5), NULL, 10), left, sizeof(left));
			html_printf(&b, "<tr><td>#%s</td><td>%s %s</td><td>%s</td><td>%s</td><td>", PQgetvalue(r, k, 0),
				    PQgetvalue(r, k, 1), PQgetvalue(r, k, 2), PQgetvalue(r, k, 4), left);
			con_person(&b, &s, PQgetvalue(r, k, 3));
			html_printf(&b, "</td><td>%s</td><td><form class=\"inline\" method=\"post\""
					" action=\"/console/grants/%s/extend\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
					"<button>Extend</button></form> ",
				    PQgetvalue(r, k, 6), PQgetvalue(r, k, 0), s.csrf);
			snprintf(target, sizeof(target), "access-request:%s", PQgetvalue(r, k, 7));
			con_audit_link(&b, &s, target, "audit");
			html_printf(&b, "</td></tr>");
		}
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"muted\">No active grants.</p>");
	}
	PQclear(r);
	html_printf(&b, "<h2>Pending requests</h2>");
	r = db_exec(c, "SELECT id, kind, coalesce(role, team), duration_ms / 60000, coalesce(reason, ''),"
		       " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"')"
		       " FROM access_requests WHERE requester = $1 AND status = 'pending' ORDER BY id DESC LIMIT 100",
		    1, p, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>Request</th><th>What</th><th>For</th><th>Reason</th>"
				"<th>Filed</th><th></th></tr>");
		for (int k = 0; k < PQntuples(r); k++) {
			char target[48];
			html_printf(&b, "<tr><td>#%s</td><td>%s %s</td><td>%s min</td><td>%s</td><td>%s</td><td>"
					"<form class=\"inline\" method=\"post\" action=\"/console/requests/%s/cancel\">"
					"<input type=\"hidden\" name=\"csrf\" value=\"%s\"><button>Cancel</button></form> ",
				    PQgetvalue(r, k, 0), PQgetvalue(r, k, 1), PQgetvalue(r, k, 2), PQgetvalue(r, k, 3),
				    PQgetvalue(r, k, 4), PQgetvalue(r, k, 5), PQgetvalue(r, k, 0), s.csrf);
			snprintf(target, sizeof(target), "access-request:%s", PQgetvalue(r, k, 0));
			con_audit_link(&b, &s, target, "audit");
			html_printf(&b, "</td></tr>");
		}
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"muted\">No pending requests.</p>");
	}
	PQclear(r);
	con_page(resp, 200, "My access", &s, buf_str(&b));
	buf_reset(&b);
	con_end(ctx, c, &s);
	con_finish(resp);
}

/* ---- Request access ------------------------------------------------------------------------------- */

/* What the form holds (re-shown after an error). Borrowed strings. */
struct reqform {
	const char *kind, *role, *team, *duration, *reason;
	long long extend; /* grant id, 0 none */
	const char *error;
};

static int in_groups(const struct csess *s, const struct config_strlist *l)
{
	size_t i;
	json_t *v;

	json_array_foreach(s->groups, i, v)
		for (size_t k = 0; k < l->n; k++)
			if (json_string_value(v) && !strcmp(json_string_value(v), l->v[k]))
				return 1;
	return 0;
}

static void list_html(struct buf *b, const struct config_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		html_printf(b, "%s<code>%s</code>", i ? ", " : "", l->v[i]);
	if (!l->n)
		html_printf(b, "<span class=\"muted\">none</span>");
}

static void sel(struct buf *b, const char *value, const char *current, const char *label)
{
	html_printf(b, "<option value=\"%s\"%s>%s</option>", value,
		    current && !strcmp(current, value) ? " selected" : "", label);
}

static void render_request(struct ctx *ctx, struct http_resp *resp, int status, const struct csess *s,
			   const struct reqform *f)
{
	const struct config_access_requests *ar = &ctx->cfg->access_requests;
	const struct config_strlist *who = ar->requester_groups.n ? &ar->requester_groups : &ctx->cfg->roles.access_groups;
	struct buf b;
	char dd[32], md[32];

	buf_init(&b, CON_PAGE_MAX);
	if (f->error)
		html_printf(&b, "<p class=\"err\" role=\"alert\">The request was not filed: %s</p>", f->error);
	if (!ar->enabled) {
		html_printf(&b, "<p class=\"msg\">Access requests are not enabled on this bridge"
				" (<code>access_requests.enabled</code>).</p>");
		con_page(resp, status, "Request access", s, buf_str(&b));
		buf_reset(&b);
		return;
	}
	policy_format_duration(ar->default_duration_ms, dd, sizeof(dd));
	policy_format_duration(ar->max_duration_ms, md, sizeof(md));
	html_printf(&b, "<h2>What you may request</h2><dl><dt>Roles</dt><dd>member");
	if (ar->max_role >= CONFIG_ROLE_MANAGER)
		html_printf(&b, ", manager");
	html_printf(&b, " (up to <code>access_requests.max_role</code>: %s)</dd><dt>Teams</dt><dd>",
		    config_role_name(ar->max_role));
	if (ar->any_team)
		html_printf(&b, "any team of the Sentry organization");
	else
		list_html(&b, &ar->requestable_teams);
	html_printf(&b, "</dd><dt>Duration</dt><dd>%s by default, at most %s</dd><dt>Reason</dt><dd>%s</dd>"
			"<dt>Who may ask</dt><dd>members of ",
		    dd, md, ar->require_reason ? "required" : "optional");
	list_html(&b, who);
	html_printf(&b, in_groups(s, who) ? " <span class=\"ok\">(you are)</span>"
					   : " <span class=\"bad\">(your sign-in groups do not include one: a request would"
					     " be refused)</span>");
	html_printf(&b, "</dd></dl>");
	if (f->extend)
		html_printf(&b, "<p class=\"msg\">Extending grant #%l: this files a new request for the same access;"
				" once approved, its grant runs from then for the duration you ask.</p>",
			    f->extend);
	html_printf(&b, "<form method=\"post\" action=\"/console/request\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">",
		    s->csrf);
	if (f->extend)
		html_printf(&b, "<input type=\"hidden\" name=\"extend\" value=\"%l\">", f->extend);
	html_printf(&b, "<label for=\"kind\">Kind</label><select id=\"kind\" name=\"kind\">");
	sel(&b, "role", f->kind, "an organization role");
	sel(&b, "team", f->kind, "membership of a team");
	html_printf(&b, "</select><label for=\"role\">Role (kind role)</label><select id=\"role\" name=\"role\">");
	sel(&b, "member", f->role, "member");
	if (ar->max_role >= CONFIG_ROLE_MANAGER)
		sel(&b, "manager", f->role ? f->role : "manager", "manager");
	html_printf(&b, "</select><label for=\"team\">Team (kind team)</label>");
	if (ar->any_team) {
		html_printf(&b, "<input type=\"text\" id=\"team\" name=\"team\" value=\"%s\" placeholder=\"team slug\">",
			    f->team ? f->team : "");
	} else {
		html_printf(&b, "<select id=\"team\" name=\"team\"><option value=\"\">(none)</option>");
		for (size_t i = 0; i < ar->requestable_teams.n; i++)
			sel(&b, ar->requestable_teams.v[i], f->team, ar->requestable_teams.v[i]);
		html_printf(&b, "</select>");
	}
	html_printf(&b, "<label for=\"duration\">Duration (e.g. 8h, at most %s)</label>"
			"<input type=\"text\" id=\"duration\" name=\"duration\" value=\"%s\" placeholder=\"%s\">"
			"<label for=\"reason\">Reason%s</label><textarea id=\"reason\" name=\"reason\">%s</textarea>"
			"<p><button class=\"primary\">Request</button></p></form>",
		    md, f->duration ? f->duration : "", dd, ar->require_reason ? " (required)" : "",
		    f->reason ? f->reason : "");
	con_page(resp, status, "Request access", s, buf_str(&b));
	buf_reset(&b);
}

/* The grant id of ?extend= / extend= when it is an active grant of s; fills f. 0 none, -1 not one. */
static long long extend_of(PGconn *c, const struct csess *s, const char *v, struct reqform *f, PGresult **keep)
{
	long long id = v && *v ? api_parse_id(v) : 0;
	char ids[24];

	if (!id)
		return 0;
	if (id < 0)
		return -1;
	snprintf(ids, sizeof(ids), "%lld", id);
	const char *p[] = {ids, s->email};
	*keep = db_exec(c, "SELECT kind, coalesce(role, ''), coalesce(team, '') FROM access_grants"
			   " WHERE id = $1::bigint AND person = $2 AND status = 'active'", 2, p, NULL);
	if (!*keep || PQntuples(*keep) != 1)
		return -1;
	f->kind = PQgetvalue(*keep, 0, 0);
	f->role = *PQgetvalue(*keep, 0, 1) ? PQgetvalue(*keep, 0, 1) : NULL;
	f->team = *PQgetvalue(*keep, 0, 2) ? PQgetvalue(*keep, 0, 2) : NULL;
	f->extend = id;
	return id;
}

void con_h_request_form(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct reqform f = {0};
	char *ext = http_req_query(req, "extend");
	PGresult *keep = NULL;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		free(ext);
		con_finish(resp);
		return;
	}
	if (extend_of(c, &s, ext, &f, &keep) < 0)
		con_error_page(resp, 404, &s, "No such grant", "You hold no active grant with that id to extend.");
	else
		render_request(ctx, resp, 200, &s, &f);
	PQclear(keep);
	free(ext);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_request_post(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct reqform f = {0};
	char *kind = NULL, *role = NULL, *team = NULL, *duration = NULL, *reason = NULL, *ext = NULL;
	struct access_answer ans = {0};

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	db_release(ctx->db, c); /* access_request_create takes its own connection */
	c = NULL;
	kind = con_form_get(req, "kind");
	role = con_form_get(req, "role");
	team = con_form_get(req, "team");
	duration = con_form_get(req, "duration");
	reason = con_form_get(req, "reason");
	ext = con_form_get(req, "extend");
	f = (struct reqform){.kind = kind, .role = role, .team = team, .duration = duration, .reason = reason};
	f.extend = ext ? api_parse_id(ext) : 0;
	if (f.extend < 0)
		f.extend = 0;
	if (!kind || (strcmp(kind, "role") && strcmp(kind, "team"))) {
		f.error = "choose the kind: role or team";
		render_request(ctx, resp, 422, &s, &f);
		goto out;
	}
	access_request_create(ctx, s.email, kind, !strcmp(kind, "role") ? role : NULL,
			      !strcmp(kind, "team") ? team : NULL, duration && *duration ? duration : NULL,
			      reason && *reason ? reason : NULL, "web", s.email, &ans);
	if (ans.status == 201) {
		const char *st = json_string_value(json_object_get(ans.body, "status"));
		con_redirect(resp, 303, st && !strcmp(st, "approved") ? "/console/?msg=approved" : "/console/?msg=requested");
	} else {
		const char *field = json_string_value(json_object_get(ans.body, "field"));
		char *m = NULL;
		if (asprintf(&m, "%s%s%s", field ? field : "", field ? ": " : "", answer_msg(&ans, "refused")) < 0)
			m = NULL;
		f.error = m ? m : "refused";
		render_request(ctx, resp, ans.status >= 500 ? ans.status : 422, &s, &f);
		free(m);
	}
out:
	json_decref(ans.body);
	free(kind);
	free(role);
	free(team);
	free(duration);
	free(reason);
	free(ext);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_request_cancel(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	long long id = api_parse_id(http_req_param(req, "id"));
	struct access_answer ans = {0};

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	db_release(ctx->db, c);
	c = NULL;
	if (id < 1) {
		con_error_page(resp, 400, &s, "Bad form", "The request id must be a positive number.");
	} else {
		access_request_decide(ctx, id, "cancel", s.email, "cancelled in the web console", "web", &ans);
		if (ans.status == 200)
			con_redirect(resp, 303, "/console/?msg=cancelled");
		else
			con_error_page(resp, ans.status ? ans.status : 500, &s, "Not cancelled",
				       answer_msg(&ans, "The request could not be cancelled."));
	}
	json_decref(ans.body);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_grant_extend(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	long long id = api_parse_id(http_req_param(req, "id"));
	char loc[64];

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	if (id < 1) {
		con_error_page(resp, 400, &s, "Bad form", "The grant id must be a positive number.");
	} else {
		snprintf(loc, sizeof(loc), "/console/request?extend=%lld", id);
		con_redirect(resp, 303, loc);
	}
	con_end(ctx, c, &s);
	con_finish(resp);
}

/* ---- Approvals ------------------------------------------------------------------------------------- */

/* The Approvals page, with an optional message (the outcome of a decision). */
static void render_approvals(struct http_resp *resp, int status, PGconn *c, const struct csess *s, const char *msg)
{
	struct buf b;
	PGresult *r;
	char target[48];

	buf_init(&b, CON_PAGE_MAX);
	if (msg)
		html_printf(&b, "<p class=\"msg\">%s</p>", msg);
	html_printf(&b, "<h2>Waiting</h2><p class=\"muted\">Requests of others; the access rules decide whether your"
			" approval counts.</p>");
	const char *p[] = {s->email};
	r = db_exec(c, "SELECT id, requester, kind, coalesce(role, team), duration_ms / 60000, coalesce(reason, ''),"
		       " approvals_needed, (SELECT count(*) FROM access_approvals a WHERE a.request_id = q.id)"
		       " FROM access_requests q WHERE status = 'pending' AND requester <> $1 ORDER BY id LIMIT 200",
		    1, p, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>Request</th><th>Who</th><th>What</th><th>For</th>"
				"<th>Reason</th><th>Approvals</th><th>Decide</th></tr>");
		for (int k = 0; k < PQntuples(r); k++) {
			html_printf(&b, "<tr><td>#%s ", PQgetvalue(r, k, 0));
			snprintf(target, sizeof(target), "access-request:%s", PQgetvalue(r, k, 0));
			con_audit_link(&b, s, target, "audit");
			html_printf(&b, "</td><td>");
			con_person(&b, s, PQgetvalue(r, k, 1));
			html_printf(&b,
				    "</td><td>%s %s</td><td>%s min</td><td>%s</td><td>%s/%s</td><td>"
				    "<form method=\"post\" action=\"/console/approvals/%s\">"
				    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
				    "<input type=\"text\" name=\"reason\" placeholder=\"reason\" aria-label=\"reason\"> "
				    "<button class=\"primary\" name=\"action\" value=\"approve\">Approve</button> "
				    "<button name=\"action\" value=\"deny\">Deny</button></form></td></tr>",
				    PQgetvalue(r, k, 2), PQgetvalue(r, k, 3), PQgetvalue(r, k, 4), PQgetvalue(r, k, 5),
				    PQgetvalue(r, k, 7), PQgetvalue(r, k, 6), PQgetvalue(r, k, 0), s->csrf);
		}
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"muted\">Nothing is waiting.</p>");
	}
	PQclear(r);
	html_printf(&b, "<h2>Decided recently</h2>");
	r = db_exec(c, "SELECT id, requester, kind, coalesce(role, team), status, coalesce(decided_by, ''),"
		       " coalesce(decision_reason, '') FROM access_requests WHERE status <> 'pending'"
		       " ORDER BY coalesce(decided_at, created_at) DESC LIMIT 50", 0, NULL, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>Request</th><th>Who</th><th>What</th><th>Status</th>"
				"<th>By</th><th>Reason</th></tr>");
		for (int k = 0; k < PQntuples(r); k++) {
			html_printf(&b, "<tr><td>#%s ", PQgetvalue(r, k, 0));
			snprintf(target, sizeof(target), "access-request:%s", PQgetvalue(r, k, 0));
			con_audit_link(&b, s, target, "audit");
			html_printf(&b, "</td><td>");
			con_person(&b, s, PQgetvalue(r, k, 1));
			html_printf(&b, "</td><td>%s %s</td><td>%s</td><td>", PQgetvalue(r, k, 2), PQgetvalue(r, k, 3),
				    PQgetvalue(r, k, 4));
			con_person(&b, s, PQgetvalue(r, k, 5));
			html_printf(&b, "</td><td>%s</td></tr>", PQgetvalue(r, k, 6));
		}
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"muted\">None yet.</p>");
	}
	PQclear(r);
	con_page(resp, status, "Approvals", s, buf_str(&b));
	buf_reset(&b);
}

void con_h_approvals(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	render_approvals(resp, 200, c, &s, NULL);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_decide(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	long long id = api_parse_id(http_req_param(req, "id"));
	char *action = NULL, *reason = NULL;
	struct access_answer ans = {0};
	const char *msg;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	db_release(ctx->db, c); /* access_request_decide takes its own connection */
	c = NULL;
	action = con_form_get(req, "action");
	reason = con_form_get(req, "reason");
	if (id < 0 || !action || (strcmp(action, "approve") && strcmp(action, "deny"))) {
		con_error_page(resp, 400, &s, "Bad form", "The form needs a request id and action approve or deny.");
		goto out;
	}
	access_request_decide(ctx, id, action, s.email, reason && *reason ? reason : NULL, "web", &ans);
	if (ans.status >= 200 && ans.status < 300)
		msg = !strcmp(action, "approve") ? "Your approval is recorded." : "The request is denied.";
	else
		msg = answer_msg(&ans, "The decision was refused.");
	c = api_need_db(ctx, resp);
	if (c)
		render_approvals(resp, ans.status >= 200 && ans.status < 300 ? 200 : ans.status ? ans.status : 500, c,
				 &s, msg);
out:
	json_decref(ans.body);
	free(action);
	free(reason);
	con_end(ctx, c, &s);
	con_finish(resp);
}
