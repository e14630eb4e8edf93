/*
 * pages_sync.c: the console's Sync pages (admins, issue 10): the runs, a
 * run's plan grouped by kind with each change's reason and outcome and the
 * guards' refusals, "Dry run now", and "Apply…" behind a confirmation page.
 * Runs are queued with sync_enqueue(), the entry point of POST /api/v1/sync:
 * the job "sync.reconcile" runs sync_run() under the reconcile lock, so a
 * run from the console is exactly a run from the API (trigger "web"), and
 * the request is audited with source "web".
 */
#include "console_int.h"

#include "bridge/api.h"
#include "bridge/sync.h"
#include "db.h"
#include "html.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_PAGE 50
#define CHANGES_PAGE 200

static const char *const KINDS[][2] = {
	{"invite", "Invites"},		   {"set_role", "Role changes"}, {"add_team", "Team additions"},
	{"remove_team", "Team removals"}, {"remove_member", "Removals"},
};

static void dry_run_form(struct buf *b, const struct csess *s)
{
	html_printf(b, "<form class=\"inline\" method=\"post\" action=\"/console/sync/dry-run\">"
		       "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><button class=\"primary\">Dry run now</button></form> "
		       "<form class=\"inline\" method=\"get\" action=\"/console/sync/apply\"><button>Apply…</button></form>",
		    s->csrf);
}

void con_h_sync(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct buf b;
	PGresult *r;
	char *before_s = http_req_query(req, "before");
	long long before = before_s ? api_parse_id(before_s) : 0, last = 0;
	char bs[24], lim[8];

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		free(before_s);
		con_finish(resp);
		return;
	}
	if (before < 0) {
		con_error_page(resp, 400, &s, "Bad link", "before must be a positive run id.");
		goto out;
	}
	buf_init(&b, CON_PAGE_MAX);
	con_msg(&b, req);
	html_printf(&b, "<p>");
	dry_run_form(&b, &s);
	html_printf(&b, "</p>");
	snprintf(bs, sizeof(bs), "%lld", before);
	snprintf(lim, sizeof(lim), "%d", RUNS_PAGE + 1);
	const char *p[] = {bs, lim};
	r = db_exec(c, "SELECT id, trigger, CASE WHEN dry_run THEN 'dry run' ELSE 'apply' END, status,"
		       " to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),"
		       " coalesce(summary::text, ''), coalesce(error, '') FROM sync_runs"
		       " WHERE ($1::bigint = 0 OR id < $1::bigint) ORDER BY id DESC LIMIT $2::int",
		    2, p, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>Run</th><th>Trigger</th><th>Mode</th><th>Status</th>"
				"<th>Started</th><th>Summary</th><th>Error</th></tr>");
		for (int k = 0; k < PQntuples(r) && k < RUNS_PAGE; k++) {
			html_printf(&b, "<tr><td><a href=\"/console/sync/%s\">#%s</a></td><td>%s</td><td>%s</td><td>%s</td>"
					"<td>%s</td><td><code>%s</code></td><td>%s</td></tr>",
				    PQgetvalue(r, k, 0), PQgetvalue(r, k, 0), PQgetvalue(r, k, 1), PQgetvalue(r, k, 2),
				    PQgetvalue(r, k, 3), PQgetvalue(r, k, 4), PQgetvalue(r, k, 5), PQgetvalue(r, k, 6));
			last = strtoll(PQgetvalue(r, k, 0), NULL, 10);
		}
		html_printf(&b, "</table></div>");
		if (PQntuples(r) > RUNS_PAGE)
			html_printf(&b, "<p><a href=\"/console/sync?before=%l\">Older runs</a></p>", last);
	} else {
		html_printf(&b, "<p class=\"muted\">No sync runs yet.</p>");
	}
	PQclear(r);
	con_page(resp, 200, "Sync runs", &s, buf_str(&b));
	buf_reset(&b);
out:
	free(before_s);
	con_end(ctx, c, &s);
	con_finish(resp);
}

/* Queue a run like POST /api/v1/sync and audit it. The run id, or -1 after answering. */
static long long queue_run(struct ctx *ctx, struct http_resp *resp, PGconn **c, const struct csess *s, bool dry)
{
	struct err e = {0};
	int64_t id = 0;

	if (!ctx->cfg->okta.base_url[0] || !ctx->cfg->sentry.base_url[0]) {
		con_error_page(resp, 409, s, "Not configured", "okta.base_url and sentry.base_url must be configured to sync.");
		return -1;
	}
	db_release(ctx->db, *c); /* sync_enqueue takes its own connection */
	*c = NULL;
	if (sync_enqueue(ctx, dry, "web", &id, &e) || !(*c = api_need_db(ctx, resp))) {
		log_error(ctx->log, "console", ctx->request_id, "cannot queue a sync run", "error", e.msg, NULL);
		con_error_page(resp, 503, s, "Unavailable", "The run could not be queued; try again shortly.");
		return -1;
	}
	if (con_audit(*c, ctx, s, dry ? "sync.plan_requested" : "sync.requested", "organization",
		      dry ? "dry run requested in the web console" : "apply requested in the web console (confirmed)", NULL,
		      id, &e))
		log_warn(ctx->log, "console", ctx->request_id, "cannot audit the sync request", "error", e.msg, NULL);
	return id;
}

void con_h_sync_dry_run(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	long long id;
	char loc[64];

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		con_finish(resp);
		return;
	}
	id = queue_run(ctx, resp, &c, &s, true);
	if (id >= 0) {
		snprintf(loc, sizeof(loc), "/console/sync/%lld?msg=queued", id);
		con_redirect(resp, 303, loc);
	}
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_sync_apply_form(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct buf b;
	PGresult *r;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		con_finish(resp);
		return;
	}
	buf_init(&b, CON_PAGE_MAX);
	html_printf(&b, "<p>Applying runs a full reconcile now: the plan is computed afresh from Okta and Sentry and"
			" applied to Sentry, within the safety guards (<code>sync.guards</code>). Every change is audited.</p>");
	r = db_exec(c, "SELECT id, status, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),"
		       " coalesce(summary::text, ''), coalesce(plan->'refusals', '[]')::text <> '[]'"
		       " FROM sync_runs WHERE dry_run ORDER BY id DESC LIMIT 1", 0, NULL, NULL);
	if (r && PQntuples(r) == 1) {
		html_printf(&b, "<p>The latest dry run, <a href=\"/console/sync/%s\">#%s</a> (%s, %s), planned:"
				" <code>%s</code>.",
			    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
			    PQgetvalue(r, 0, 3));
		if (PQgetvalue(r, 0, 4)[0] == 't')
			html_printf(&b, " <strong class=\"bad\">A guard refused that plan.</strong>");
		html_printf(&b, "</p>");
	} else {
		html_printf(&b, "<p class=\"muted\">There is no dry run to compare with; consider a dry run first.</p>");
	}
	PQclear(r);
	html_printf(&b, "<form method=\"post\" action=\"/console/sync/apply\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			"<input type=\"hidden\" name=\"confirm\" value=\"yes\"><button class=\"primary\">Apply now</button>"
			" <a href=\"/console/sync\">Cancel</a></form>",
		    s.csrf);
	con_page(resp, 200, "Apply the sync plan", &s, buf_str(&b));
	buf_reset(&b);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_sync_apply(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	char *confirm = NULL, loc[64];
	long long id;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		con_finish(resp);
		return;
	}
	confirm = con_form_get(req, "confirm");
	if (!confirm || strcmp(confirm, "yes")) {
		con_error_page(resp, 400, &s, "Not confirmed", "Applying needs confirm=yes (the button of the confirmation page); nothing was run.");
	} else if ((id = queue_run(ctx, resp, &c, &s, false)) >= 0) {
		snprintf(loc, sizeof(loc), "/console/sync/%lld?msg=queued", id);
		con_redirect(resp, 303, loc);
	}
	free(confirm);
	con_end(ctx, c, &s);
	con_finish(resp);
}

/* before -> after of a change, from its stored JSON columns. */
static void change_detail(struct buf *b, const char *kind, const char *team, const char *rb, const char *ra,
			  const char *teams)
{
	if (!strcmp(kind, "invite"))
		html_printf(b, "as %s%s%s", ra, *teams ? ", teams " : "", teams);
	else if (!strcmp(kind, "set_role"))
		html_printf(b, "%s → %s", rb, ra);
	else if (*team)
		html_printf(b, "%s team %s", !strcmp(kind, "add_team") ? "to" : "from", team);
}

void con_h_sync_run(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct buf b;
	PGresult *r = NULL, *ch = NULL;
	long long id = api_parse_id(http_req_param(req, "id"));
	char *page_s = http_req_query(req, "page");
	long long pg = page_s ? api_parse_id(page_s) : 0;
	char ids[24], off[24], lim[8], title[48];
	const char *kind = "";

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		free(page_s);
		con_finish(resp);
		return;
	}
	if (id < 1 || pg < 0 || pg > 100000) {
		con_error_page(resp, 400, &s, "Bad link", "The run id and page must be positive numbers.");
		goto out;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	const char *p[] = {ids};
	r = db_exec(c, "SELECT trigger, dry_run, status, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),"
		       " coalesce(to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), ''),"
		       " coalesce(summary::text, ''), coalesce(error, ''),"
		       " coalesce((SELECT string_agg(x, E'\\n') FROM jsonb_array_elements_text(plan->'refusals') x), ''),"
		       " coalesce((SELECT string_agg(x, E'\\n') FROM jsonb_array_elements_text(plan->'warnings') x), ''),"
		       " (SELECT count(*) FROM sync_changes WHERE run_id = s.id)"
		       " FROM sync_runs s WHERE id = $1::bigint", 1, p, NULL);
	if (!r) {
		con_error_page(resp, 503, &s, "Unavailable", "The database is not reachable; try again shortly.");
		goto out;
	}
	if (PQntuples(r) != 1) {
		con_error_page(resp, 404, &s, "No such run", "There is no sync run with this id.");
		goto out;
	}
	buf_init(&b, CON_PAGE_MAX);
	const char *status = PQgetvalue(r, 0, 2);
	/* "queued" (the redirect after Dry run / Apply) only while it is: a
	 * reload after the run finished shows the outcome without it. */
	if (!strcmp(status, "queued") || !strcmp(status, "running"))
		con_msg(&b, req);
	int dry = PQgetvalue(r, 0, 1)[0] == 't';
	html_printf(&b, "<dl><dt>Mode</dt><dd>%s</dd><dt>Trigger</dt><dd>%s</dd><dt>Status</dt><dd><strong>%s</strong></dd>"
			"<dt>Started</dt><dd>%s</dd><dt>Finished</dt><dd>%s</dd><dt>Summary</dt><dd><code>%s</code></dd></dl>",
		    dry ? "dry run" : "apply", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
		    PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5));
	if (*PQgetvalue(r, 0, 6))
		html_printf(&b, "<p class=\"err\">Error: %s</p>", PQgetvalue(r, 0, 6));
	if (*PQgetvalue(r, 0, 7)) {
		char *list = PQgetvalue(r, 0, 7), *save = NULL;
		html_printf(&b, "<h2>Refused by a safety guard</h2><p class=\"err\">Nothing was changed. The cause:</p><ul>");
		for (char *t = strtok_r(list, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			html_printf(&b, "<li>%s</li>", t);
		html_printf(&b, "</ul>");
	}
	if (*PQgetvalue(r, 0, 8)) {
		char *list = PQgetvalue(r, 0, 8), *save = NULL;
		html_printf(&b, "<h2>Warnings</h2><ul>");
		for (char *t = strtok_r(list, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			html_printf(&b, "<li>%s</li>", t);
		html_printf(&b, "</ul>");
	}
	html_printf(&b, "<p>");
	if (dry)
		html_printf(&b, "<form class=\"inline\" method=\"get\" action=\"/console/sync/apply\"><button>Apply…</button>"
				"</form> ");
	html_printf(&b, "<a href=\"/console/audit?run=%s\">Audit entries of this run</a></p>", ids);
	long long total = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
	snprintf(off, sizeof(off), "%lld", pg * CHANGES_PAGE);
	snprintf(lim, sizeof(lim), "%d", CHANGES_PAGE);
	const char *pc[] = {ids, off, lim};
	ch = db_exec(c, "SELECT kind, email, coalesce(team, ''), coalesce(before->>'role', ''), coalesce(after->>'role', ''),"
			" coalesce((SELECT string_agg(t, ', ') FROM jsonb_array_elements_text(after->'teams') t), ''),"
			" reason, status, coalesce(error, '') FROM sync_changes WHERE run_id = $1::bigint"
			" ORDER BY array_position(ARRAY['invite','set_role','add_team','remove_team','remove_member'], kind), seq"
			" OFFSET $2::bigint LIMIT $3::int", 3, pc, NULL);
	if (!total) {
		html_printf(&b, "<p class=\"muted\">The plan has no changes%s.</p>",
			    !strcmp(PQgetvalue(r, 0, 2), "queued") || !strcmp(PQgetvalue(r, 0, 2), "running") ? " yet" : "");
	} else if (ch) {
		html_printf(&b, "<h2>Plan</h2><p class=\"muted\">%l change%s; by kind, each with its reason and outcome.</p>",
			    total, total == 1 ? "" : "s");
		for (int k = 0; k < PQntuples(ch); k++) {
			if (strcmp(kind, PQgetvalue(ch, k, 0))) {
				const char *title_k = PQgetvalue(ch, k, 0);
				if (*kind)
					html_printf(&b, "</table></div>");
				kind = PQgetvalue(ch, k, 0);
				for (size_t i = 0; i < sizeof(KINDS) / sizeof(KINDS[0]); i++)
					if (!strcmp(KINDS[i][0], kind))
						title_k = KINDS[i][1];
				html_printf(&b, "<h3>%s</h3><div class=\"wrap\"><table><tr><th>Who</th><th>Change</th>"
						"<th>Reason</th><th>Outcome</th></tr>",
					    title_k);
			}
			html_printf(&b, "<tr><td>");
			con_person(&b, &s, PQgetvalue(ch, k, 1));
			html_printf(&b, "</td><td>");
			change_detail(&b, kind, PQgetvalue(ch, k, 2), PQgetvalue(ch, k, 3), PQgetvalue(ch, k, 4),
				      PQgetvalue(ch, k, 5));
			html_printf(&b, "</td><td>%s</td><td>%s%s%s</td></tr>", PQgetvalue(ch, k, 6), PQgetvalue(ch, k, 7),
				    *PQgetvalue(ch, k, 8) ? ": " : "", PQgetvalue(ch, k, 8));
		}
		if (*kind)
			html_printf(&b, "</table></div>");
		if ((pg + 1) * CHANGES_PAGE < total)
			html_printf(&b, "<p><a href=\"/console/sync/%s?page=%l\">More changes</a></p>", ids, pg + 1);
	}
	snprintf(title, sizeof(title), "Sync run #%lld", id);
	con_page(resp, 200, title, &s, buf_str(&b));
	buf_reset(&b);
out:
	PQclear(r);
	PQclear(ch);
	free(page_s);
	con_end(ctx, c, &s);
	con_finish(resp);
}
