/*
 * pages_projects.c: the console's Projects page (issue 10): request a Sentry
 * project under the provisioning rules of issue 5, first as a check (the
 * decision: canonical name, slug, team and why, duplicates) and then, from
 * that preview, created; and the `projects lint` report for admins. Both go
 * through bridge/provision.c (provision_project(), provision_lint()), the
 * code of POST /api/v1/projects and `sentry-bridge projects lint`, with the
 * signed-in person as the requester and "web" in the audit details.
 */
#include "console_int.h"

#include "bridge/provision.h"
#include "db.h"
#include "html.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The form's fields (borrowed; NULL when empty). */
struct pform {
	const char *name, *team, *platform;
};

static void form_html(struct buf *b, const struct csess *s, const struct pform *f)
{
	html_printf(b, "<form method=\"post\" action=\"/console/projects/check\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		       "<label for=\"name\">Project name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"%s\" required>"
		       "<label for=\"team\">Team (optional: the rules pick one)</label><input type=\"text\" id=\"team\" name=\"team\" value=\"%s\">"
		       "<label for=\"platform\">Platform (optional, e.g. python)</label><input type=\"text\" id=\"platform\""
		       " name=\"platform\" value=\"%s\"><p><button class=\"primary\">Check</button></p></form>",
		    s->csrf, f->name ? f->name : "", f->team ? f->team : "", f->platform ? f->platform : "");
}

static void lint_html(struct ctx *ctx, struct buf *b)
{
	struct err e = {0};
	json_t *j = provision_lint(ctx->cfg, ctx->log, ctx->metrics, &e), *v;
	size_t i, k;

	html_printf(b, "<h2>Projects lint</h2>");
	if (!j) {
		html_printf(b, "<p class=\"err\">The organization could not be read from Sentry: %s</p>", e.msg);
		return;
	}
	json_t *c = json_object_get(j, "counts");
	html_printf(b, "<p>%l violation(s) in %l projects of %s: %l split by environment, %l named after an environment,"
		       " %l without a team, %l near-duplicates.</p>",
		    (long long)json_integer_value(json_object_get(j, "total")),
		    (long long)json_integer_value(json_object_get(j, "projects")),
		    json_string_value(json_object_get(j, "organization")),
		    (long long)json_integer_value(json_object_get(c, "env_split")),
		    (long long)json_integer_value(json_object_get(c, "env_suffix")),
		    (long long)json_integer_value(json_object_get(c, "no_team")),
		    (long long)json_integer_value(json_object_get(c, "near_duplicate")));
	if (json_array_size(json_object_get(j, "violations"))) {
		html_printf(b, "<div class=\"wrap\"><table><tr><th>Kind</th><th>Projects</th><th>Detail</th></tr>");
		json_array_foreach(json_object_get(j, "violations"), i, v) {
			json_t *p;
			html_printf(b, "<tr><td>%s</td><td>", json_string_value(json_object_get(v, "kind")));
			json_array_foreach(json_object_get(v, "projects"), k, p)
				html_printf(b, "%s<code>%s</code>", k ? ", " : "", json_string_value(p));
			html_printf(b, "</td><td>%s</td></tr>", json_string_value(json_object_get(v, "detail")));
		}
		html_printf(b, "</table></div>");
	}
	json_decref(j);
}

static void render(struct ctx *ctx, struct http_resp *resp, int status, const struct csess *s, const struct pform *f,
		   const char *pre)
{
	struct buf b;

	buf_init(&b, CON_PAGE_MAX);
	if (pre)
		buf_puts(&b, pre);
	html_printf(&b, "<h2>Request a project</h2><p class=\"muted\">Check shows what the provisioning rules decide"
			" (canonical name, slug, team, duplicates); nothing is created until you confirm.</p>");
	form_html(&b, s, f);
	if (s->is_admin)
		lint_html(ctx, &b);
	con_page(resp, status, "Projects", s, buf_str(&b));
	buf_reset(&b);
}

void con_h_projects(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct pform f = {0};

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	db_release(ctx->db, c);
	c = NULL;
	render(ctx, resp, 200, &s, &f, NULL);
	con_end(ctx, c, &s);
	con_finish(resp);
}

/* The decision and conflicts of an answer of provision_project(), as HTML. */
static void decision_html(struct buf *b, const struct csess *s, const struct pform *f, json_t *ans, int status,
			  int create_form)
{
	json_t *d = json_object_get(ans, "decision"), *t = json_object_get(d, "team"), *v;
	json_t *cf = json_object_get(ans, "conflicts");
	const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
	size_t i;

	if (!msg)
		msg = json_string_value(json_object_get(ans, "message"));
	if (status >= 300)
		html_printf(b, "<p class=\"err\" role=\"alert\">Refused: %s</p>", msg ? msg : "the request was refused");
	if (d) {
		html_printf(b, "<h2>Decision</h2><dl><dt>Canonical name</dt><dd>%s</dd><dt>Slug</dt><dd><code>%s</code></dd>",
			    json_string_value(json_object_get(d, "canonical_name")), json_string_value(json_object_get(d, "slug")));
		if (json_array_size(json_object_get(d, "stripped_suffixes"))) {
			html_printf(b, "<dt>Environment suffixes removed</dt><dd>");
			json_array_foreach(json_object_get(d, "stripped_suffixes"), i, v)
				html_printf(b, "%s<code>%s</code>", i ? ", " : "", json_string_value(v));
			html_printf(b, "</dd>");
		}
		if (t)
			html_printf(b, "<dt>Team</dt><dd><code>%s</code> (%s): %s</dd>", json_string_value(json_object_get(t, "slug")),
				    json_string_value(json_object_get(t, "source")), json_string_value(json_object_get(t, "note")));
		if (json_string_value(json_object_get(d, "platform")))
			html_printf(b, "<dt>Platform</dt><dd>%s</dd>", json_string_value(json_object_get(d, "platform")));
		html_printf(b, "</dl>");
	}
	html_printf(b, "<h2>Duplicates</h2>");
	if (json_array_size(cf)) {
		html_printf(b, "<div class=\"wrap\"><table><tr><th>Existing project</th><th>Name</th><th>Why</th></tr>");
		json_array_foreach(cf, i, v)
			html_printf(b, "<tr><td><code>%s</code></td><td>%s</td><td>%s</td></tr>",
				    json_string_value(json_object_get(v, "slug")), json_string_value(json_object_get(v, "name")),
				    json_string_value(json_object_get(v, "why")));
		html_printf(b, "</table></div>");
	} else {
		html_printf(b, "<p class=\"muted\">%s</p>", d ? "None: no existing project has this name or one close to it."
							      : "Not checked.");
	}
	if (create_form)
		html_printf(b, "<form method=\"post\" action=\"/console/projects\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			       "<input type=\"hidden\" name=\"name\" value=\"%s\"><input type=\"hidden\" name=\"team\" value=\"%s\">"
			       "<input type=\"hidden\" name=\"platform\" value=\"%s\">"
			       "<p><button class=\"primary\">Create the project</button></p></form>",
			    s->csrf, f->name ? f->name : "", f->team ? f->team : "", f->platform ? f->platform : "");
}

/* Check (dry_run) or create. */
static void ask(struct ctx *ctx, struct http_req *req, struct http_resp *resp, int dry)
{
	struct csess s;
	PGconn *c;
	char *name = NULL, *team = NULL, *platform = NULL;
	struct pform f;
	struct http_resp ar;
	struct buf pre;
	json_t *ans = NULL;

	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	db_release(ctx->db, c); /* provision_project takes its own connection */
	c = NULL;
	http_resp_init(&ar);
	buf_init(&pre, CON_PAGE_MAX);
	name = con_form_get(req, "name");
	team = con_form_get(req, "team");
	platform = con_form_get(req, "platform");
	f = (struct pform){.name = name, .team = team && *team ? team : NULL, .platform = platform && *platform ? platform : NULL};
	if (!name || !*name) {
		html_printf(&pre, "<p class=\"err\" role=\"alert\">Refused: name is required.</p>");
		render(ctx, resp, 422, &s, &f, buf_str(&pre));
		goto out;
	}
	struct provision_ask pa = {.name = name, .team = f.team, .platform = f.platform, .requester = s.email,
				   .dry_run = dry, .via = "web"};
	provision_project(ctx, &pa, &ar);
	ans = json_loadb(buf_str(&ar.body), ar.body.len, 0, NULL);
	if (!dry && ar.status == 201) {
		json_t *pj = json_object_get(ans, "project");
		html_printf(&pre, "<p class=\"msg\">Created the project <code>%s</code> in team <code>%s</code>%s.</p>",
			    json_string_value(json_object_get(pj, "slug")), json_string_value(json_object_get(pj, "team")),
			    json_is_true(json_object_get(ans, "team_created")) ? " (a new team)" : "");
		if (json_string_value(json_object_get(pj, "slug"))) {
			char *target = NULL;
			if (asprintf(&target, "project:%s", json_string_value(json_object_get(pj, "slug"))) >= 0) {
				con_audit_link(&pre, &s, target, "The audit entry");
				free(target);
			}
		}
		decision_html(&pre, &s, &f, ans, 200, 0);
		f = (struct pform){0};
		render(ctx, resp, 200, &s, &f, buf_str(&pre));
	} else {
		int st = ar.status >= 200 && ar.status < 300 ? 200 : ar.status ? ar.status : 500;
		if (dry && st == 200)
			html_printf(&pre, "<p class=\"msg\">Allowed: the project can be created as below.</p>");
		decision_html(&pre, &s, &f, ans, st, dry && st == 200);
		render(ctx, resp, st, &s, &f, buf_str(&pre));
	}
out:
	json_decref(ans);
	http_resp_free(&ar);
	buf_reset(&pre);
	free(name);
	free(team);
	free(platform);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_projects_check(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	ask(ctx, req, resp, 1);
}

void con_h_projects_create(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)arg;
	ask(ctx, req, resp, 0);
}
