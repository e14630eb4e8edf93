/*
 * pages_audit.c: the console's Audit log (admins, issue 10): filters by
 * person (actor or target), action, source (api, cli, slack, web, ...),
 * time (since, until), target and sync run; newest first, keyset-paged by
 * id in SQL. The WHERE clause is assembled from constant fragments, one
 * per filter given, so PostgreSQL can use the index of each filter
 * (migration 012); every value is a parameter.
 */
#include "console_int.h"

#include "bridge/api.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_PAGE 50
#define NFILTERS 7

/*
 * A time filter: "2026-11-23", "2026-11-23T13:20" (a datetime-local input),
 * "2026-11-23 13:20:05", with an optional trailing "Z" (always UTC), or a
 * duration back from now ("2h", "7d"). Epoch seconds into *out; 0 or -1.
 */
static int parse_when(const char *s, long long *out)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	size_t len = strlen(s);
	int64_t dur;

	if (!config_parse_duration(s, &dur) && dur > 0) {
		*out = (clock_now_ms() - dur) / 1000;
		return 0;
	}
	if (len && (s[len - 1] == 'Z' || s[len - 1] == 'z'))
		len--;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	if ((size_t)n < len) {
		int m = 0;
		if ((s[10] != 'T' && s[10] != ' ') || sscanf(s + 11, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5)
			return -1;
		n = 16;
		if ((size_t)n < len && (sscanf(s + 16, ":%2d%n", &sec, &m) != 1 || m != 3))
			return -1;
		if ((size_t)n < len)
			n = 19;
	}
	if ((size_t)n != len || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || h < 0 || mi < 0 || sec < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (long long)timegm(&tm);
	return 0;
}

/* The filters, in the order of the form and of the "older" link. */
static const char *const FNAMES[NFILTERS] = {"person", "action", "source", "since", "until", "target", "run"};

void con_h_audit(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct csess s;
	PGconn *c = NULL;
	struct buf b, sql, more;
	PGresult *r = NULL;
	char *f[NFILTERS] = {0};
	char *before_s = http_req_query(req, "before");
	long long before = before_s ? api_parse_id(before_s) : 0, last = 0, since = 0, until = 0, run = 0;
	char bs[24], lim[8], ss[24], us[24], rs[24];
	const char *p[NFILTERS + 2];
	int np = 0, k;

	(void)arg;
	buf_init(&b, CON_PAGE_MAX);
	buf_init(&sql, 0);
	buf_init(&more, 0);
	for (k = 0; k < NFILTERS; k++) {
		f[k] = http_req_query(req, FNAMES[k]);
		if (f[k] && !*f[k]) {
			free(f[k]);
			f[k] = NULL;
		}
	}
	if (con_begin(ctx, req, resp, &c, &s, 1)) {
		c = NULL;
		goto out;
	}
	if (before < 0) {
		con_error_page(resp, 400, &s, "Bad link", "before must be a positive entry id.");
		goto out;
	}
	if ((f[3] && parse_when(f[3], &since)) || (f[4] && parse_when(f[4], &until))) {
		con_error_page(resp, 400, &s, "Bad filter",
			       "since and until take a UTC date and time (2026-11-23, 2026-11-23T13:20) or a time back"
			       " from now (2h, 7d).");
		goto out;
	}
	if (f[6] && (run = api_parse_id(f[6])) < 1) {
		con_error_page(resp, 400, &s, "Bad filter", "run must be a sync run id.");
		goto out;
	}
	html_printf(&b, "<form method=\"get\" action=\"/console/audit\" class=\"filters\">"
			"<input type=\"text\" name=\"person\" value=\"%s\" placeholder=\"person (email)\" aria-label=\"person\"> "
			"<input type=\"text\" name=\"action\" value=\"%s\" placeholder=\"action, e.g. access.approve\" aria-label=\"action\"> "
			"<select name=\"source\" aria-label=\"source\"><option value=\"\">any source</option>",
		    f[0] ? f[0] : "", f[1] ? f[1] : "");
	{
		static const char *const SOURCES[] = {"web", "api", "cli", "slack"};
		for (size_t i = 0; i < sizeof(SOURCES) / sizeof(SOURCES[0]); i++)
			html_printf(&b, "<option%s>%s</option>", f[2] && !strcmp(f[2], SOURCES[i]) ? " selected" : "",
				    SOURCES[i]);
		if (f[2] && strcmp(f[2], "web") && strcmp(f[2], "api") && strcmp(f[2], "cli") && strcmp(f[2], "slack"))
			html_printf(&b, "<option selected>%s</option>", f[2]);
	}
	html_printf(&b, "</select> <input type=\"text\" name=\"since\" value=\"%s\" placeholder=\"since (2026-11-23, 2h)\""
			" aria-label=\"since\"> <input type=\"text\" name=\"until\" value=\"%s\" placeholder=\"until\""
			" aria-label=\"until\">",
		    f[3] ? f[3] : "", f[4] ? f[4] : "");
	if (f[5])
		html_printf(&b, "<input type=\"hidden\" name=\"target\" value=\"%s\">", f[5]);
	if (f[6])
		html_printf(&b, "<input type=\"hidden\" name=\"run\" value=\"%s\">", f[6]);
	html_printf(&b, " <button>Filter</button> <a href=\"/console/audit\">Clear</a></form>");
	if (f[5] || f[6])
		html_printf(&b, "<p class=\"muted\">Only %s%s%s.</p>", f[5] ? "entries about " : "entries of sync run #",
			    f[5] ? f[5] : f[6], "");

	/* the query: constant fragments, values as parameters */
	snprintf(bs, sizeof(bs), "%lld", before);
	snprintf(lim, sizeof(lim), "%d", AUDIT_PAGE + 1);
	p[np++] = lim;
	buf_puts(&sql, "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), actor, action,"
		       " coalesce(target, ''), coalesce(reason, ''), coalesce(details->>'source', ''), coalesce(run_id, 0)"
		       " FROM audit_log WHERE true");
#define ADD(frag, val) do { p[np++] = (val); buf_printf(&sql, frag, np); } while (0)
	if (before)
		ADD(" AND id < $%1$d::bigint", bs);
	if (f[0])
		ADD(" AND (actor = $%1$d OR target = $%1$d)", f[0]);
	if (f[1])
		ADD(" AND action = $%1$d", f[1]);
	if (f[2])
		ADD(" AND details->>'source' = $%1$d", f[2]);
	if (f[3]) {
		snprintf(ss, sizeof(ss), "%lld", since);
		ADD(" AND at >= to_timestamp($%1$d::bigint)", ss);
	}
	if (f[4]) {
		snprintf(us, sizeof(us), "%lld", until);
		ADD(" AND at < to_timestamp($%1$d::bigint)", us);
	}
	if (f[5])
		ADD(" AND target = $%1$d", f[5]);
	if (f[6]) {
		snprintf(rs, sizeof(rs), "%lld", run);
		ADD(" AND run_id = $%1$d::bigint", rs);
	}
#undef ADD
	buf_puts(&sql, " ORDER BY id DESC LIMIT $1::int");
	r = db_exec(c, buf_str(&sql), np, p, NULL);
	if (r && PQntuples(r)) {
		html_printf(&b, "<div class=\"wrap\"><table><tr><th>#</th><th>When</th><th>Who</th><th>Action</th>"
				"<th>Target</th><th>Reason</th><th>Source</th></tr>");
		for (k = 0; k < PQntuples(r) && k < AUDIT_PAGE; k++) {
			const char *target = PQgetvalue(r, k, 4);
			html_printf(&b, "<tr><td>%s</td><td>%s</td><td>", PQgetvalue(r, k, 0), PQgetvalue(r, k, 1));
			con_person(&b, &s, PQgetvalue(r, k, 2));
			html_printf(&b, "</td><td>%s</td><td>", PQgetvalue(r, k, 3));
			if (strchr(target, '@'))
				con_person(&b, &s, target);
			else if (*target)
				con_audit_link(&b, &s, target, target);
			html_printf(&b, "</td><td>%s", PQgetvalue(r, k, 5));
			if (strcmp(PQgetvalue(r, k, 7), "0"))
				html_printf(&b, " (<a href=\"/console/sync/%s\">run #%s</a>)", PQgetvalue(r, k, 7),
					    PQgetvalue(r, k, 7));
			html_printf(&b, "</td><td>%s</td></tr>", PQgetvalue(r, k, 6));
			last = strtoll(PQgetvalue(r, k, 0), NULL, 10);
		}
		html_printf(&b, "</table></div>");
		if (PQntuples(r) > AUDIT_PAGE) {
			buf_printf(&more, "/console/audit?before=%lld", last);
			for (k = 0; k < NFILTERS; k++) {
				char *enc = f[k] ? con_urlenc(f[k]) : NULL;
				if (enc)
					buf_printf(&more, "&%s=%s", FNAMES[k], enc);
				free(enc);
			}
			html_printf(&b, "<p><a href=\"%s\">Older entries</a></p>", buf_str(&more));
		}
	} else if (!r) {
		html_printf(&b, "<p class=\"err\">The audit log could not be read.</p>");
	} else {
		html_printf(&b, "<p class=\"muted\">No entries.</p>");
	}
	con_page(resp, r ? 200 : 503, "Audit log", &s, buf_str(&b));
out:
	PQclear(r);
	buf_reset(&b);
	buf_reset(&sql);
	buf_reset(&more);
	free(before_s);
	for (k = 0; k < NFILTERS; k++)
		free(f[k]);
	con_end(ctx, c, &s);
	con_finish(resp);
}
