/*
 * pages_status.c: the console's status pages (admins, issue 10): the
 * GitLab cache (what this replica serves, as /readyz tells it, and the
 * stored snapshots: age, size, refresh time) and the Slack directory (the
 * cached channels and users: counts and last refresh; and the refresh
 * state of each walk, errors included, from slack_directory_state).
 */
#include "console_int.h"

#include "bridge/api_gitlab.h"
#include "db.h"
#include "html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void con_h_gitlab(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c;
	struct buf b;
	PGresult *r;
	json_t *rz = json_object(), *g;

	(void)arg;
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		json_decref(rz);
		con_finish(resp);
		return;
	}
	buf_init(&b, CON_PAGE_MAX);
	gitlab_readyz(rz);
	g = json_object_get(rz, "gitlab");
	html_printf(&b, "<h2>This replica</h2>");
	if (!g) {
		html_printf(&b, "<p class=\"muted\">The GitLab proxy is disabled (<code>gitlab.base_url</code> is not set).</p>");
	} else {
		json_t *age = json_object_get(g, "cache_age_seconds");
		html_printf(&b, "<dl><dt>Cache loaded</dt><dd>%s</dd><dt>Groups</dt><dd>%l</dd><dt>Projects</dt><dd>%l</dd>"
				"<dt>Age</dt><dd>%s%l%s</dd><dt>Last refresh</dt><dd>%s</dd>",
			    json_is_true(json_object_get(g, "cache_loaded")) ? "yes" : "no",
			    (long long)json_integer_value(json_object_get(g, "groups")),
			    (long long)json_integer_value(json_object_get(g, "projects")), json_is_integer(age) ? "" : "none",
			    json_is_integer(age) ? (long long)json_integer_value(age) : 0LL, json_is_integer(age) ? " s" : "",
			    json_string_value(json_object_get(g, "last_refresh")));
		if (json_string_value(json_object_get(g, "last_refresh_error")))
			html_printf(&b, "<dt>Last error</dt><dd class=\"bad\">%s</dd>",
				    json_string_value(json_object_get(g, "last_refresh_error")));
		html_printf(&b, "</dl>");
	}
	html_printf(&b, "<h2>Stored snapshots</h2><p class=\"muted\">Each refresh stores one; replicas load the newest."
			" The two newest are kept.</p>");
	r = db_exec(c, "SELECT id, to_char(built_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),"
		       " extract(epoch FROM now() - built_at)::bigint, groups, projects, duration_ms,"
		       " pg_size_pretty(octet_length(data)::bigint) FROM gitlab_cache_snapshots ORDER BY id DESC LIMIT 10",
		    0, NULL, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>#</th><th>Built</th><th>Age</th><th>Groups</th>"
				"<th>Projects</th><th>Walk took</th><th>Size</th></tr>");
		for (int k = 0; k < PQntuples(r); k++) {
			char age[32];
			con_fmt_left(strtoll(PQgetvalue(r, k, 2), NULL, 10), age, sizeof(age));
			html_printf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s ms</td><td>%s</td></tr>",
				    PQgetvalue(r, k, 0), PQgetvalue(r, k, 1), age, PQgetvalue(r, k, 3), PQgetvalue(r, k, 4),
				    PQgetvalue(r, k, 5), PQgetvalue(r, k, 6));
		}
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"muted\">No snapshot stored%s.</p>", r ? "" : " (the table could not be read)");
	}
	PQclear(r);
	con_page(resp, 200, "GitLab cache", &s, buf_str(&b));
	buf_reset(&b);
	json_decref(rz);
	con_end(ctx, c, &s);
	con_finish(resp);
}

void con_h_slack(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
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
	html_printf(&b, "<p class=\"muted\">The cached Slack workspace directory (conversations.list, users.list) that"
			" alert routing resolves channel names and people with.</p>");
	r = db_exec(c, "SELECT count(*), count(*) FILTER (WHERE is_archived), count(*) FILTER (WHERE is_private),"
		       " count(*) FILTER (WHERE is_member),"
		       " coalesce(to_char(max(refreshed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), 'never'),"
		       " coalesce(extract(epoch FROM now() - max(refreshed_at))::bigint, -1) FROM slack_channels",
		    0, NULL, NULL);
	if (r && PQntuples(r) == 1) {
		char age[32] = "";
		long long a = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
		if (a >= 0)
			con_fmt_left(a, age, sizeof(age));
		html_printf(&b, "<h2>Channels</h2><dl><dt>Cached</dt><dd>%s</dd><dt>Archived</dt><dd>%s</dd><dt>Private</dt>"
				"<dd>%s</dd><dt>The bot is a member of</dt><dd>%s</dd><dt>Last refresh</dt><dd>%s%s%s%s</dd></dl>",
			    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
			    PQgetvalue(r, 0, 4), a >= 0 ? " (" : "", age, a >= 0 ? " ago)" : "");
	} else {
		html_printf(&b, "<p class=\"err\">The channel cache could not be read.</p>");
	}
	PQclear(r);
	r = db_exec(c, "SELECT count(*), count(*) FILTER (WHERE deleted), count(*) FILTER (WHERE is_bot),"
		       " count(*) FILTER (WHERE email IS NOT NULL AND NOT deleted),"
		       " coalesce(to_char(max(refreshed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), 'never'),"
		       " coalesce(extract(epoch FROM now() - max(refreshed_at))::bigint, -1) FROM slack_users",
		    0, NULL, NULL);
	if (r && PQntuples(r) == 1) {
		char age[32] = "";
		long long a = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
		if (a >= 0)
			con_fmt_left(a, age, sizeof(age));
		html_printf(&b, "<h2>Users</h2><dl><dt>Cached</dt><dd>%s</dd><dt>Deactivated</dt><dd>%s</dd><dt>Bots</dt>"
				"<dd>%s</dd><dt>Active with an email</dt><dd>%s</dd><dt>Last refresh</dt><dd>%s%s%s%s</dd></dl>",
			    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
			    PQgetvalue(r, 0, 4), a >= 0 ? " (" : "", age, a >= 0 ? " ago)" : "");
	} else {
		html_printf(&b, "<p class=\"err\">The user cache could not be read.</p>");
	}
	PQclear(r);
	/* the refresh state of each walk (bridge/slack_directory.c) */
	r = db_exec(c, "SELECT kind, coalesce(to_char(last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), 'never'),"
		       " coalesce(to_char(last_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), 'never'),"
		       " coalesce(last_error, ''), entries, removed, coalesce(duration_ms::text, ''), calls, rate_limited,"
		       " coalesce(replica, ''), coalesce(to_char(running_since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), '')"
		       " FROM slack_directory_state ORDER BY kind", 0, NULL, NULL);
	html_printf(&b, "<h2>Refreshes</h2>");
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>Kind</th><th>Last success</th><th>Last attempt</th>"
				"<th>Entries</th><th>Removed</th><th>Took</th><th>Calls (429s)</th><th>Replica</th>"
				"<th>Error</th></tr>");
		for (int k = 0; k < PQntuples(r); k++)
			html_printf(&b, "<tr><td>%s%s%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s%s</td><td>%s (%s)</td>"
					"<td>%s</td><td class=\"bad\">%s</td></tr>",
				    PQgetvalue(r, k, 0), *PQgetvalue(r, k, 10) ? ", refreshing since " : "", PQgetvalue(r, k, 10),
				    PQgetvalue(r, k, 1), PQgetvalue(r, k, 2), PQgetvalue(r, k, 4), PQgetvalue(r, k, 5),
				    PQgetvalue(r, k, 6), *PQgetvalue(r, k, 6) ? " ms" : "", PQgetvalue(r, k, 7),
				    PQgetvalue(r, k, 8), PQgetvalue(r, k, 9), PQgetvalue(r, k, 3));
		html_printf(&b, "</table></div>");
	} else {
		html_printf(&b, "<p class=\"err\">The directory's refresh state could not be read.</p>");
	}
	PQclear(r);
	r = db_exec(c, "SELECT count(*) FILTER (WHERE status = 'dead'), coalesce((SELECT last_error FROM slack_outbox"
		       " WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT 1), '') FROM slack_outbox"
		       " WHERE created_at > now() - interval '1 day'", 0, NULL, NULL);
	if (r && PQntuples(r) == 1)
		html_printf(&b, "<h2>Errors</h2><dl><dt>Dead notifications (24 h)</dt><dd>%s</dd><dt>Last Slack error</dt>"
				"<dd>%s</dd></dl>",
			    PQgetvalue(r, 0, 0), *PQgetvalue(r, 0, 1) ? PQgetvalue(r, 0, 1) : "none");
	PQclear(r);
	con_page(resp, 200, "Slack directory", &s, buf_str(&b));
	buf_reset(&b);
	con_end(ctx, c, &s);
	con_finish(resp);
}
