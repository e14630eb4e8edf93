/*
 * pages_alerts.c: the console's Alerts page (issue 10): the route tree as
 * `sentry-bridge routes show` prints it (the same code, bridge/routes_cli.c),
 * recent notifications from the outbox slack_outbox and where they went
 * (status, channel, message ts, error), keyset-paged by id, and the
 * silences with a form to create one (matchers, duration, comment; the
 * author is the signed-in person) and an Expire button. Silences are the
 * rows POST/DELETE /api/v1/silences write, checked by the same matcher
 * compiler (policies/policy_routing.h), audited with source "web".
 */
#include "console_int.h"

#include "bridge/api.h"
#include "bridge/routes_cli.h"
#include "db.h"
#include "html.h"
#include "log.h"
#include "policies/policy_routing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTBOX_PAGE 50
#define MATCHERS_MAX 32
#define COMMENT_MAX 2000

struct sform {
	const char *matchers, *duration, *comment, *error;
};

static void route_tree(struct ctx *ctx, struct buf *b)
{
	char show[] = "show";
	char *argv[] = {show, NULL};
	char *text = NULL, *etext = NULL;
	size_t n = 0, en = 0;
	FILE *out = open_memstream(&text, &n), *err = open_memstream(&etext, &en);

	html_printf(b, "<h2>Route tree</h2><p class=\"muted\">As <code>sentry-bridge routes show</code> prints it; values"
		       " in parentheses are inherited.</p>");
	if (out && err) {
		routes_cli(ctx->cfg, 1, argv, out, err);
		fclose(out);
		fclose(err);
		out = err = NULL;
		html_printf(b, "<pre>%s%s</pre>", text ? text : "", etext ? etext : "");
	} else {
		html_printf(b, "<p class=\"err\">Out of memory.</p>");
	}
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	free(text);
	free(etext);
}

static void render(struct ctx *ctx, struct http_req *req, struct http_resp *resp, int status, PGconn *c,
		   const struct csess *s, const struct sform *f)
{
	struct buf b;
	PGresult *r;
	char *before_s = http_req_query(req, "before");
	long long before = before_s ? api_parse_id(before_s) : 0, last = 0;
	char bs[24], lim[8], maxd[32];

	free(before_s);
	if (before < 0)
		before = 0;
	buf_init(&b, CON_PAGE_MAX);
	con_msg(&b, req);
	if (f->error)
		html_printf(&b, "<p class=\"err\" role=\"alert\">The silence was not created: %s</p>", f->error);
	route_tree(ctx, &b);

	/* silences */
	html_printf(&b, "<h2>Silences</h2>");
	r = db_exec(c, "SELECT id, array_to_string(matchers, E'\\n'), coalesce(issue, ''),"
		       " to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),"
		       " coalesce(to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), 'issue resolved'),"
		       " author, comment, CASE WHEN expired_at IS NOT NULL OR ends_at <= now() THEN 'expired'"
		       " WHEN starts_at > now() THEN 'pending' ELSE 'active' END"
		       " FROM slack_silences WHERE expired_at IS NULL AND (ends_at IS NULL OR ends_at > now())"
		       " ORDER BY id DESC LIMIT 200", 0, NULL, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>#</th><th>Matchers</th><th>From</th><th>Until</th>"
				"<th>Author</th><th>Comment</th><th>State</th><th></th></tr>");
		for (int k = 0; k < PQntuples(r); k++) {
			char target[48];
			html_printf(&b, "<tr><td>%s</td><td><code>%s</code>%s%s</td><td>%s</td><td>%s</td><td>", PQgetvalue(r, k, 0),
				    PQgetvalue(r, k, 1), *PQgetvalue(r, k, 2) ? " issue " : "", PQgetvalue(r, k, 2),
				    PQgetvalue(r, k, 3), PQgetvalue(r, k, 4));
			con_person(&b, s, PQgetvalue(r, k, 5));
			html_printf(&b, "</td><td>%s</td><td>%s</td><td><form class=\"inline\" method=\"post\""
					" action=\"/console/silences/%s/expire\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
					"<button>Expire</button></form> ",
				    PQgetvalue(r, k, 6), PQgetvalue(r, k, 7), PQgetvalue(r, k, 0), s->csrf);
			snprintf(target, sizeof(target), "silence:%s", PQgetvalue(r, k, 0));
			con_audit_link(&b, s, target, "audit");
			html_printf(&b, "</td></tr>");
		}
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"muted\">No active silences.</p>");
	}
	PQclear(r);
	policy_format_duration(ctx->cfg->routing.silence_max_duration_ms, maxd, sizeof(maxd));
	html_printf(&b, "<h3>New silence</h3><form method=\"post\" action=\"/console/silences\">"
			"<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			"<label for=\"matchers\">Matchers, one a line (e.g. project=api, level=~\"error|fatal\")</label>"
			"<textarea id=\"matchers\" name=\"matchers\" required>%s</textarea>"
			"<label for=\"duration\">Duration (e.g. 2h, at most %s)</label>"
			"<input type=\"text\" id=\"duration\" name=\"duration\" value=\"%s\" required>"
			"<label for=\"comment\">Comment</label><input type=\"text\" id=\"comment\" name=\"comment\" value=\"%s\" required>"
			"<p><button class=\"primary\">Create silence</button></p></form>",
		    s->csrf, f->matchers ? f->matchers : "", maxd, f->duration ? f->duration : "2h",
		    f->comment ? f->comment : "");

	/* recent alerts */
	html_printf(&b, "<h2>Recent alerts</h2><p class=\"muted\">Each row is an alert reaching one receiver"
			" (the outbox); status sent means posted to Slack.</p>");
	snprintf(bs, sizeof(bs), "%lld", before);
	snprintf(lim, sizeof(lim), "%d", OUTBOX_PAGE + 1);
	const char *p[] = {bs, lim};
	r = db_exec(c, "SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), kind,"
		       " coalesce(alert->>'project', ''), coalesce(alert->>'level', ''), coalesce(alert->>'title', ''),"
		       " receiver, target, route_path, status, coalesce(reason, ''), coalesce(slack_channel, ''),"
		       " coalesce(slack_ts, ''), coalesce(last_error, ''), attempts"
		       " FROM slack_outbox WHERE ($1::bigint = 0 OR id < $1::bigint) ORDER BY id DESC LIMIT $2::int",
		    2, p, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>#</th><th>When</th><th>Alert</th><th>Receiver</th>"
				"<th>Route</th><th>Status</th><th>Slack</th></tr>");
		for (int k = 0; k < PQntuples(r) && k < OUTBOX_PAGE; k++) {
			html_printf(&b, "<tr><td>%s</td><td>%s</td><td>%s: <strong>%s</strong> %s %s</td><td>%s → %s</td>"
					"<td><code>%s</code></td><td>%s%s%s",
				    PQgetvalue(r, k, 0), PQgetvalue(r, k, 1), PQgetvalue(r, k, 2), PQgetvalue(r, k, 3),
				    PQgetvalue(r, k, 4), PQgetvalue(r, k, 5), PQgetvalue(r, k, 6), PQgetvalue(r, k, 7),
				    PQgetvalue(r, k, 8), PQgetvalue(r, k, 9), *PQgetvalue(r, k, 10) ? ": " : "",
				    PQgetvalue(r, k, 10));
			if (*PQgetvalue(r, k, 13))
				html_printf(&b, " <span class=\"bad\">(attempt %s: %s)</span>", PQgetvalue(r, k, 14),
					    PQgetvalue(r, k, 13));
			html_printf(&b, "</td><td>%s %s</td></tr>", PQgetvalue(r, k, 11), PQgetvalue(r, k, 12));
			last = strtoll(PQgetvalue(r, k, 0), NULL, 10);
		}
		html_printf(&b, "</table></div>");
		if (PQntuples(r) > OUTBOX_PAGE)
			html_printf(&b, "<p><a href=\"/console/alerts?before=%l\">Older alerts</a></p>", last);
	} else {
		html_printf(&b, "<p class=\"muted\">No alerts %s.</p>", r ? "yet" : "(the outbox could not be read)");
	}
	PQclear(r);
	con_page(resp, status, "Alerts", s, buf_str(&b));
	buf_reset(&b);
}

void con_h_alerts(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct sform f = {0};

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	render(ctx, req, resp, 200, c, &s, &f);
	con_end(ctx, c, &s);
	con_finish(resp);
}

/* "30m", "2h", "1d" (like POST /api/v1/silences) in ms, or -1. */
static long long silence_duration(const char *d)
{
	long long v = 0;
	char unit = 0;
	int used = 0;

	if (!d || sscanf(d, "%lld%c%n", &v, &unit, &used) != 2 || d[used] || v <= 0 || v > 1000000 || !strchr("smhd", unit))
		return -1;
	return v * (unit == 's' ? 1000LL : unit == 'm' ? 60000LL : unit == 'h' ? 3600000LL : 86400000LL);
}

void con_h_silence_create(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	char *matchers = NULL, *duration = NULL, *comment = NULL, *mtext = NULL, *after = NULL;
	struct sform f = {0};
	const char *lines[MATCHERS_MAX];
	size_t n = 0;
	char merr[256], problem[320], durs[32];
	struct err e = {0};
	PGresult *r = NULL;
	json_t *arr = NULL, *aj = NULL;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	matchers = con_form_get(req, "matchers");
	duration = con_form_get(req, "duration");
	comment = con_form_get(req, "comment");
	f = (struct sform){.matchers = matchers, .duration = duration, .comment = comment};
	char *mcopy = matchers ? strdup(matchers) : NULL, *save = NULL;
	for (char *t = mcopy ? strtok_r(mcopy, "\r\n", &save) : NULL; t; t = strtok_r(NULL, "\r\n", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		size_t l = strlen(t);
		while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
			t[--l] = '\0';
		if (!*t)
			continue;
		if (n == MATCHERS_MAX) {
			f.error = "at most 32 matchers";
			goto bad;
		}
		lines[n++] = t;
	}
	long long dms = silence_duration(duration);
	if (!n) {
		f.error = "give at least one matcher, such as project=api";
		goto bad;
	}
	struct policy_matchers *pm = policy_matchers_new(lines, n, merr, sizeof(merr));
	if (!pm) {
		snprintf(problem, sizeof(problem), "matchers: %s", merr);
		f.error = problem;
		goto bad;
	}
	policy_matchers_free(pm);
	if (dms < 0) {
		f.error = "duration must look like 30m, 2h or 1d";
		goto bad;
	}
	if (dms > ctx->cfg->routing.silence_max_duration_ms) {
		char maxd[32];
		policy_format_duration(ctx->cfg->routing.silence_max_duration_ms, maxd, sizeof(maxd));
		snprintf(problem, sizeof(problem), "duration is longer than routing.silence_max_duration (%s)", maxd);
		f.error = problem;
		goto bad;
	}
	if (!comment || !*comment || strlen(comment) > COMMENT_MAX) {
		f.error = "a comment is required (at most 2000 characters)";
		goto bad;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(lines[i]));
	mtext = json_dumps(arr, JSON_COMPACT);
	snprintf(durs, sizeof(durs), "%lld", dms);
	aj = json_pack("{s:O,s:s,s:s,s:s}", "matchers", arr, "duration", duration, "comment", comment, "author", s.email);
	after = aj ? json_dumps(aj, JSON_COMPACT) : NULL;
	const char *p[] = {mtext, durs, s.email, comment};
	if (!mtext || !after || db_begin(c, &e) ||
	    !(r = db_exec(c, "INSERT INTO slack_silences (matchers, starts_at, ends_at, author, comment)"
			     " SELECT ARRAY(SELECT json_array_elements_text($1::json)), now(),"
			     " now() + $2::bigint * interval '1 millisecond', $3, $4 RETURNING id", 4, p, &e))) {
		db_rollback(c);
		con_error_page(resp, 503, &s, "Unavailable", "The silence could not be stored; try again shortly.");
		goto out;
	}
	char target[48];
	snprintf(target, sizeof(target), "silence:%s", PQgetvalue(r, 0, 0));
	if (con_audit(c, ctx, &s, "silence.create", target, comment, after, 0, &e) || db_commit(c, &e)) {
		db_rollback(c);
		con_error_page(resp, 503, &s, "Unavailable", "The silence could not be stored; try again shortly.");
		goto out;
	}
	con_redirect(resp, 303, "/console/alerts?msg=silenced");
	goto out;
bad:
	render(ctx, req, resp, 422, c, &s, &f);
out:
	PQclear(r);
	json_decref(arr);
	json_decref(aj);
	free(mcopy);
	free(mtext);
	free(after);
	free(matchers);
	free(duration);
	free(comment);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_silence_expire(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	long long id = api_parse_id(http_req_param(req, "id"));
	char ids[24], target[48];
	struct err e = {0};
	PGresult *r = NULL;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	if (id < 1) {
		con_error_page(resp, 400, &s, "Bad form", "The silence id must be a positive number.");
		goto out;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(target, sizeof(target), "silence:%lld", id);
	const char *p[] = {ids};
	if (db_begin(c, &e) ||
	    !(r = db_exec(c, "UPDATE slack_silences SET expired_at = now() WHERE id = $1::bigint AND expired_at IS NULL"
			     " RETURNING id", 1, p, &e))) {
		db_rollback(c);
		con_error_page(resp, 503, &s, "Unavailable", "The database is not reachable; try again shortly.");
		goto out;
	}
	if (!PQntuples(r)) {
		db_rollback(c);
		con_error_page(resp, 404, &s, "No such silence", "There is no active silence with this id.");
		goto out;
	}
	if (con_audit(c, ctx, &s, "silence.expire", target, "expired in the web console (kept for the audit trail)", NULL, 0,
		      &e) ||
	    db_commit(c, &e)) {
		db_rollback(c);
		con_error_page(resp, 503, &s, "Unavailable", "The database is not reachable; try again shortly.");
		goto out;
	}
	con_redirect(resp, 303, "/console/alerts?msg=expired");
out:
	PQclear(r);
	con_end(ctx, c, &s);
	con_finish(resp);
}
