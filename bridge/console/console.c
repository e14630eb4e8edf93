/*
 * console.c: the web console's wiring (see console.h): the page chrome and
 * the signed-in start of every handler (console_int.h), sign-in, callback
 * and sign-out, the stylesheet, and the routes. The pages live in
 * pages_*.c.
 *
 * Every handler goes through con_begin()/con_finish(): con_finish() adds
 * the security headers to whatever the handler answered (redirects and
 * errors too). Pages are built with html_printf(), whose %s arguments are
 * escaped.
 */
#include "console.h"

#include "bridge/access.h"
#include "bridge/api.h"
#include "bridge/app.h"
#include "audit.h"
#include "clock.h"
#include "db.h"
#include "html.h"
#include "log.h"
#include "router.h"
#include "rp.h"
#include "session.h"
#include "console_int.h"
#include "sso/oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOGIN_TTL_MS (10 * 60 * 1000)
#define PAGE_MAX CON_PAGE_MAX

struct console {
	struct rp *rp;
	char *csp;
	char *origin; /* public_url without a trailing slash */
};

/* Reachable for the life of the process (routes hold it as their arg). */
static struct console *g_console;

static const char STYLE[] =
	"*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;"
	"color:#1d2330;background:#f6f7f9}header{background:#1d2330;color:#fff;padding:.6em 1em;display:flex;"
	"flex-wrap:wrap;gap:.4em 1.2em;align-items:center}header a{color:#cfe0ff;text-decoration:none}"
	"header nav{display:flex;flex-wrap:wrap;gap:.3em 1em}header .who{margin-left:auto;font-size:.9em}header form{display:inline}main{max-width:60em;margin:0 auto;"
	"padding:1em}h1{font-size:1.35em}h2{font-size:1.1em;margin-top:1.6em}table{border-collapse:collapse;"
	"width:100%;background:#fff}th,td{text-align:left;padding:.4em .5em;border-bottom:1px solid #e3e6eb;"
	"vertical-align:top}th{font-weight:600;background:#eef1f5}.wrap{overflow-x:auto}.badge{display:inline-block;"
	"padding:0 .45em;border-radius:.6em;background:#e3e9f7;color:#1d2733;font-size:.85em}.ok{color:#176b2c}.bad{color:#a11}"
	"button{font:inherit;padding:.3em .8em;border:1px solid #8895a7;border-radius:4px;background:#fff;"
	"cursor:pointer}button.primary{background:#2453c6;color:#fff;border-color:#2453c6}input[type=text]{font:inherit;"
	"padding:.3em;max-width:100%}.muted{color:#667}.msg{padding:.6em;background:#fff7d6;border:1px solid #e8d48a}"
	"textarea,select,input{font:inherit;max-width:100%}textarea{width:100%;min-height:4em}label{display:block;"
	"margin:.5em 0 .2em;font-weight:600}form.inline{display:inline}pre{background:#fff;padding:.6em;overflow-x:auto;"
	"border:1px solid #e3e6eb}.err{padding:.6em;background:#fde8e8;border:1px solid #e0a0a0}dl{display:grid;"
	"grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}"
	"@media (max-width:40em){th,td{padding:.3em}main{padding:.6em}}\n";

/* ---- response plumbing ------------------------------------------------------------------------- */

void con_finish(struct http_resp *resp)
{
	struct console *co = g_console;

	http_resp_header(resp, "Content-Security-Policy", co->csp);
	http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	http_resp_header(resp, "Referrer-Policy", "same-origin");
	http_resp_header(resp, "X-Frame-Options", "DENY");
	http_resp_header(resp, "Cache-Control", "no-store");
}

void con_redirect(struct http_resp *resp, int status, const char *location)
{
	resp->status = status;
	buf_reset(&resp->body);
	http_resp_header(resp, "Location", location);
	http_resp_content_type(resp, "text/plain; charset=utf-8");
}

/* The page frame around body (already escaped HTML). s may be NULL (signed out). */
void con_page(struct http_resp *resp, int status, const char *title, const struct csess *s, const char *body)
{
	struct buf *b = &resp->body;

	resp->status = status;
	buf_reset(b);
	b->max = PAGE_MAX;
	html_printf(b,
		    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		    "<title>%s · sentry-bridge</title><link rel=\"stylesheet\" href=\"/console/style.css\"></head><body>"
		    "<header><strong>sentry-bridge</strong>",
		    title);
	if (s) {
		html_printf(b, "<nav><a href=\"/console/\">My access</a><a href=\"/console/request\">Request</a>"
			       "<a href=\"/console/approvals\">Approvals</a><a href=\"/console/projects\">Projects</a>"
			       "<a href=\"/console/alerts\">Alerts</a>");
		if (s->is_admin)
			html_printf(b, "<a href=\"/console/sync\">Sync</a><a href=\"/console/audit\">Audit log</a>"
				       "<a href=\"/console/gitlab\">GitLab</a><a href=\"/console/slack\">Slack</a>");
		html_printf(b, "</nav>");
		html_printf(b, "<span class=\"who\">%s &lt;%s&gt;", s->name ? s->name : "", s->email);
		if (s->is_admin)
			html_printf(b, " <span class=\"badge\">admin</span>");
		html_printf(b,
			    " <form method=\"post\" action=\"/console/logout\">"
			    "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><button>Sign out</button></form></span>",
			    s->csrf);
	}
	html_printf(b, "</header><main><h1>%s</h1>", title);
	buf_puts(b, body);
	buf_puts(b, "</main></body></html>\n");
	http_resp_content_type(resp, "text/html; charset=utf-8");
}

/* An error page: title and message are escaped. */
void con_error_page(struct http_resp *resp, int status, const struct csess *s, const char *title, const char *msg)
{
	struct buf b;

	buf_init(&b, 0);
	html_printf(&b, "<p class=\"msg\">%s</p><p><a href=\"/console/\">Back to the console</a></p>", msg);
	con_page(resp, status, title, s, buf_str(&b));
	buf_reset(&b);
}

/* A form field or query parameter (caller frees), or NULL. */
char *con_form_get(const struct http_req *req, const char *key)
{
	struct http_req f;

	memset(&f, 0, sizeof(f));
	f.query = req->body ? req->body : "";
	return http_req_query(&f, key);
}

/* The signed-in session of req into s: 0 yes, 1 no (nothing answered), -1 answered (503). */
static int session_of(struct ctx *ctx, struct http_req *req, struct http_resp *resp, PGconn *c, struct csess *s)
{
	const struct config_console *cc = &ctx->cfg->console;
	char *id = csess_cookie_get(http_req_header(req, "Cookie"), cc->session.cookie_name);
	struct err e = {0};
	int rc;

	memset(s, 0, sizeof(*s));
	if (!id)
		return 1;
	rc = csess_load(c, &cc->session, id, clock_now_ms(), s, &e);
	free(id);
	if (rc < 0) {
		log_error(ctx->log, "console", ctx->request_id, "cannot read the session", "error", e.msg, NULL);
		con_error_page(resp, 503, NULL, "Unavailable", "The database is not reachable; try again shortly.");
		return -1;
	}
	return rc;
}

/*
 * Common start of a signed-in page: database, session, and for POST the
 * CSRF token. 0 when the handler may go on (c and s filled); otherwise the
 * answer is made (redirect to sign-in, 403, 503) and c is released.
 */
int con_begin(struct ctx *ctx, struct http_req *req, struct http_resp *resp, PGconn **c, struct csess *s,
		 int admin)
{
	int post = !strcmp(req->method, "POST");
	int rc;

	memset(s, 0, sizeof(*s));
	*c = api_need_db(ctx, resp);
	if (!*c)
		return -1;
	rc = session_of(ctx, req, resp, *c, s);
	if (rc == 1) {
		if (post) {
			con_error_page(resp, 403, NULL, "Signed out", "You are not signed in (or your session ended); nothing was changed.");
		} else {
			char *next = rp_url_encode(req->path);
			char *loc = NULL;
			if (next && asprintf(&loc, "/console/login?next=%s", next) < 0)
				loc = NULL;
			con_redirect(resp, 303, loc ? loc : "/console/login");
			free(loc);
			free(next);
		}
	} else if (rc == 0 && post) {
		char *tok = con_form_get(req, "csrf");
		if (!csess_csrf_ok(s, tok)) {
			con_error_page(resp, 403, s, "Refused", "The form's CSRF token is missing or wrong; nothing was changed. Reload the page and try again.");
			rc = -1;
		}
		free(tok);
	}
	if (rc == 0 && admin && !s->is_admin) {
		con_error_page(resp, 403, s, "Forbidden", "This page is for console admins (members of console.admin_groups).");
		rc = -1;
	}
	if (rc) {
		csess_clear(s);
		db_release(ctx->db, *c);
		*c = NULL;
		return -1;
	}
	return 0;
}

void con_end(struct ctx *ctx, PGconn *c, struct csess *s)
{
	csess_clear(s);
	db_release(ctx->db, c);
}

void con_fmt_left(long long s, char *out, size_t n)
{
	if (s <= 0)
		snprintf(out, n, "ending now");
	else if (s >= 86400)
		snprintf(out, n, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, n, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, n, "%lldm", (s + 59) / 60);
}

char *con_urlenc(const char *s)
{
	return rp_url_encode(s ? s : "");
}

void con_person(struct buf *b, const struct csess *viewer, const char *email)
{
	char *enc;

	if (!email || !*email || !viewer || !viewer->is_admin) {
		html_puts(b, email);
		return;
	}
	enc = con_urlenc(email);
	html_printf(b, "<a href=\"/console/audit?person=%s\">%s</a>", enc ? enc : "", email);
	free(enc);
}

void con_audit_link(struct buf *b, const struct csess *viewer, const char *target, const char *text)
{
	char *enc;

	if (!viewer || !viewer->is_admin)
		return;
	enc = con_urlenc(target);
	html_printf(b, "<a href=\"/console/audit?target=%s\">%s</a>", enc ? enc : "", text);
	free(enc);
}

int con_audit(PGconn *c, struct ctx *ctx, const struct csess *s, const char *action, const char *target,
	      const char *reason, const char *after, int64_t run_id, struct err *e)
{
	struct audit_entry a = {.actor = s->email, .action = action, .target = target, .reason = reason,
				.after = after, .run_id = run_id, .request_id = ctx->request_id,
				.details = "{\"source\":\"web\"}"};
	return audit_write(c, &a, e);
}

/* The notices a redirect-after-POST may ask for: fixed texts, so a link
 * cannot put words of its own on a console page. */
static const char *const MSGS[][2] = {
	{"requested", "Your request is filed; its approvers can decide it on their Approvals page."},
	{"approved", "Your request was approved at once by an auto-approval rule; the grant is being applied."},
	{"cancelled", "Your request is cancelled."},
	{"silenced", "The silence is created."},
	{"expired", "The silence is expired."},
	{"queued", "The sync run is queued; this page shows it when it has run (reload)."},
};

void con_msg(struct buf *b, const struct http_req *req)
{
	char *m = http_req_query(req, "msg");

	for (size_t i = 0; m && i < sizeof(MSGS) / sizeof(MSGS[0]); i++)
		if (!strcmp(m, MSGS[i][0]))
			html_printf(b, "<p class=\"msg\">%s</p>", MSGS[i][1]);
	free(m);
}

/* ---- sign-in, callback, sign-out ----------------------------------------------------------------- */

/* A same-origin relative path: "/x...", not "//", no backslash or control characters. */
static int safe_next(const char *n)
{
	const unsigned char *p;

	if (!n || n[0] != '/' || n[1] == '/' || n[1] == '\\' || strlen(n) > 1024)
		return 0;
	for (p = (const unsigned char *)n; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	return 1;
}

static void h_login(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct console *co = arg;
	char *next = http_req_query(req, "next");
	char state[44], nonce[44], verifier[44], binding[44], challenge[44], sh[65], bh[65], now[24];
	char *url = NULL, *cookie = NULL, *lname = NULL;
	struct err e = {0};
	PGconn *c = NULL;

	if (next && !safe_next(next)) {
		con_error_page(resp, 400, NULL, "Bad sign-in link",
			   "The next parameter must be a path on this site (starting with a single /).");
		goto out;
	}
	if (oidc_random_token(state) || oidc_random_token(nonce) || oidc_random_token(verifier) ||
	    oidc_random_token(binding)) {
		con_error_page(resp, 500, NULL, "Error", "The system random source failed.");
		goto out;
	}
	oidc_pkce_challenge(verifier, challenge);
	url = rp_authorize_url(co->rp, state, nonce, challenge, &e);
	if (!url) {
		log_warn(ctx->log, "console", ctx->request_id, "the OIDC issuer is not usable", "error", e.msg, NULL);
		con_error_page(resp, 502, NULL, "Sign-in unavailable", "Okta could not be reached; try again shortly.");
		goto out;
	}
	c = api_need_db(ctx, resp);
	if (!c)
		goto out;
	csess_digest(state, sh);
	csess_digest(binding, bh);
	snprintf(now, sizeof(now), "%lld", (long long)clock_now_ms());
	{
		char old[24];
		snprintf(old, sizeof(old), "%lld", (long long)(clock_now_ms() - LOGIN_TTL_MS));
		const char *po[] = {old};
		db_run(c, "DELETE FROM console_logins WHERE created_ms < $1::bigint", 1, po, NULL);
		/* sessions past the absolute timeout are dead whatever happened to them */
		snprintf(old, sizeof(old), "%lld", (long long)(clock_now_ms() - ctx->cfg->console.session.absolute_timeout_ms));
		db_run(c, "DELETE FROM console_sessions WHERE created_ms < $1::bigint", 1, po, NULL);
		const char *p[] = {sh, bh, nonce, verifier, next ? next : "/console/", now};
		if (db_run(c,
			   "INSERT INTO console_logins (state_hash, binding_hash, nonce, verifier, next_path, created_ms)"
			   " VALUES ($1, $2, $3, $4, $5, $6::bigint)",
			   6, p, &e)) {
			con_error_page(resp, 503, NULL, "Unavailable", "The database is not reachable; try again shortly.");
			goto out;
		}
	}
	if (asprintf(&lname, "%s_login", ctx->cfg->console.session.cookie_name) < 0)
		lname = NULL;
	cookie = lname ? csess_set_cookie(ctx->cfg->public_url, ctx->cfg->console.oidc.redirect_path, lname, binding, LOGIN_TTL_MS / 1000) : NULL;
	if (cookie)
		http_resp_header(resp, "Set-Cookie", cookie);
	con_redirect(resp, 302, url);
out:
	db_release(ctx->db, c);
	free(next);
	free(url);
	free(cookie);
	free(lname);
	con_finish(resp);
}

/* Groups from the claim named groups_claim, else from the Okta mirror. New array. */
static json_t *groups_of(struct ctx *ctx, PGconn *c, json_t *claims, const char *okta_id)
{
	json_t *g = json_object_get(claims, ctx->cfg->console.oidc.groups_claim);
	json_t *out = json_array();
	size_t i;
	json_t *v;

	if (json_is_array(g)) {
		json_array_foreach(g, i, v)
			if (json_is_string(v))
				json_array_append(out, v);
		return out;
	}
	if (okta_id) {
		const char *p[] = {okta_id};
		PGresult *r = db_exec(c, "SELECT g.name FROM okta_memberships m JOIN okta_groups g ON g.id = m.group_id"
					 " WHERE m.user_id = $1 ORDER BY g.name", 1, p, NULL);
		for (int k = 0; r && k < PQntuples(r); k++)
			json_array_append_new(out, json_string(PQgetvalue(r, k, 0)));
		PQclear(r);
	}
	return out;
}

static int is_admin_of(const struct config *cfg, json_t *groups)
{
	size_t i, j;
	json_t *v;

	json_array_foreach(groups, i, v)
		for (j = 0; j < cfg->console.admin_groups.n; j++)
			if (!strcmp(json_string_value(v), cfg->console.admin_groups.v[j]))
				return 1;
	return 0;
}

static void h_callback(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct console *co = arg;
	const struct config_console *cc = &ctx->cfg->console;
	char *state = http_req_query(req, "state"), *code = http_req_query(req, "code");
	char *error = http_req_query(req, "error"), *lname = NULL, *binding = NULL, *old = NULL;
	char *nonce = NULL, *verifier = NULL, *next = NULL, *id_token = NULL, *cookie = NULL, *clear = NULL;
	char sh[65], bh[65], sid[44];
	struct csess s;
	struct err e = {0};
	json_t *claims = NULL;
	PGresult *r = NULL;
	PGconn *c = NULL;
	int64_t now = clock_now_ms();
	const char *email;

	memset(&s, 0, sizeof(s));
	c = api_need_db(ctx, resp);
	if (!c)
		goto out;
	if (!state || !*state) {
		con_error_page(resp, 400, NULL, "Sign-in refused", "The callback has no state parameter.");
		goto out;
	}
	csess_digest(state, sh);
	{
		const char *p[] = {sh};
		r = db_exec(c, "DELETE FROM console_logins WHERE state_hash = $1"
			       " RETURNING binding_hash, nonce, verifier, next_path, created_ms", 1, p, &e);
	}
	if (!r) {
		con_error_page(resp, 503, NULL, "Unavailable", "The database is not reachable; try again shortly.");
		goto out;
	}
	if (PQntuples(r) != 1) {
		con_error_page(resp, 400, NULL, "Sign-in refused",
			   "This sign-in state is unknown or was already used. Start again from the sign-in page.");
		goto out;
	}
	if (asprintf(&lname, "%s_login", cc->session.cookie_name) < 0) {
		lname = NULL;
		goto out;
	}
	binding = csess_cookie_get(http_req_header(req, "Cookie"), lname);
	if (binding)
		csess_digest(binding, bh);
	if (!binding || strcmp(bh, PQgetvalue(r, 0, 0)) != 0) {
		con_error_page(resp, 400, NULL, "Sign-in refused",
			   "This sign-in was not started in this browser. Start again from the sign-in page.");
		goto out;
	}
	if (now - strtoll(PQgetvalue(r, 0, 4), NULL, 10) > LOGIN_TTL_MS) {
		con_error_page(resp, 400, NULL, "Sign-in refused", "This sign-in took too long. Start again.");
		goto out;
	}
	if (error) {
		char *m = NULL;
		if (asprintf(&m, "Okta did not sign you in (%.100s).", error) < 0)
			m = NULL;
		con_error_page(resp, 401, NULL, "Sign-in refused", m ? m : "Okta did not sign you in.");
		free(m);
		log_info(ctx->log, "console", ctx->request_id, "Okta refused a sign-in", "error", error, NULL);
		goto out;
	}
	if (!code || !*code) {
		con_error_page(resp, 400, NULL, "Sign-in refused", "The callback has no code parameter.");
		goto out;
	}
	nonce = strdup(PQgetvalue(r, 0, 1));
	verifier = strdup(PQgetvalue(r, 0, 2));
	next = strdup(PQgetvalue(r, 0, 3));
	if (!nonce || !verifier || !next)
		goto out;
	if (rp_exchange(co->rp, code, verifier, nonce, now, &claims, &id_token, &e)) {
		log_warn(ctx->log, "console", ctx->request_id, "sign-in refused", "error", e.msg,
			 "kind", e.code < 999 ? oidc_rc_name(e.code) : "exchange", NULL);
		con_error_page(resp, e.code == 999 ? 502 : 401, NULL, "Sign-in refused",
			   e.code < 999 ? "The ID token from Okta did not verify; nothing was signed in."
					: "Okta did not accept the sign-in code (used twice, expired or not ours).");
		goto out;
	}
	email = json_string_value(json_object_get(claims, "email"));
	if (!email || !*email) {
		con_error_page(resp, 403, NULL, "Sign-in refused", "The ID token carries no email.");
		goto out;
	}
	{
		const char *p[] = {email};
		PQclear(r);
		r = db_exec(c, "SELECT id FROM okta_users WHERE lower(email) = lower($1) AND status = 'ACTIVE'"
			       " ORDER BY id LIMIT 1", 1, p, &e);
		if (!r) {
			con_error_page(resp, 503, NULL, "Unavailable", "The database is not reachable; try again shortly.");
			goto out;
		}
		if (PQntuples(r) != 1) {
			con_error_page(resp, 403, NULL, "Not known here",
				   "Your Okta account is not an active user in the bridge's Okta mirror yet.");
			goto out;
		}
		s.okta_id = strdup(PQgetvalue(r, 0, 0));
	}
	s.email = strdup(email);
	if (json_string_value(json_object_get(claims, "name")))
		s.name = strdup(json_string_value(json_object_get(claims, "name")));
	s.groups = groups_of(ctx, c, claims, s.okta_id);
	s.is_admin = is_admin_of(ctx->cfg, s.groups);
	s.id_token = id_token;
	id_token = NULL;
	/* a session cookie from before sign-in is ended, never reused */
	old = csess_cookie_get(http_req_header(req, "Cookie"), cc->session.cookie_name);
	if (old)
		csess_end(c, old, now, NULL);
	if (!s.email || !s.okta_id || !s.groups || csess_create(c, &s, now, sid, &e)) {
		con_error_page(resp, 503, NULL, "Unavailable", "The session could not be stored; try again.");
		goto out;
	}
	{
		struct audit_entry a = {.actor = s.email, .action = "console.sign_in", .target = s.email,
					.reason = s.is_admin ? "admin" : NULL, .request_id = ctx->request_id};
		audit_write(c, &a, NULL);
	}
	cookie = csess_set_cookie(ctx->cfg->public_url, "/console", cc->session.cookie_name, sid, cc->session.absolute_timeout_ms / 1000);
	clear = csess_set_cookie(ctx->cfg->public_url, cc->oidc.redirect_path, lname, NULL, 0);
	if (cookie)
		http_resp_header(resp, "Set-Cookie", cookie);
	if (clear)
		http_resp_header(resp, "Set-Cookie", clear);
	con_redirect(resp, 303, next);
out:
	if (!resp->status)
		con_error_page(resp, 500, NULL, "Error", "Out of memory.");
	PQclear(r);
	db_release(ctx->db, c);
	csess_clear(&s);
	json_decref(claims);
	free(state);
	free(code);
	free(error);
	free(lname);
	free(binding);
	free(old);
	free(nonce);
	free(verifier);
	free(next);
	free(id_token);
	free(cookie);
	free(clear);
	con_finish(resp);
}

static void h_logout(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	struct console *co = arg;
	struct csess s;
	PGconn *c;
	char *id, *clear, *post = NULL, *url = NULL;
	struct err e = {0};

	if (con_begin(ctx, req, resp, &c, &s, 0)) {
		con_finish(resp);
		return;
	}
	id = csess_cookie_get(http_req_header(req, "Cookie"), ctx->cfg->console.session.cookie_name);
	csess_end(c, id, clock_now_ms(), NULL);
	{
		struct audit_entry a = {.actor = s.email, .action = "console.sign_out", .target = s.email,
					.request_id = ctx->request_id};
		audit_write(c, &a, NULL);
	}
	clear = csess_set_cookie(ctx->cfg->public_url, "/console", ctx->cfg->console.session.cookie_name, NULL, 0);
	if (clear)
		http_resp_header(resp, "Set-Cookie", clear);
	if (asprintf(&post, "%s/console/signed-out", co->origin) < 0)
		post = NULL;
	url = post ? rp_logout_url(co->rp, s.id_token, post, &e) : NULL;
	con_redirect(resp, 303, url ? url : "/console/signed-out");
	free(id);
	free(clear);
	free(post);
	free(url);
	con_end(ctx, c, &s);
	con_finish(resp);
}

static void h_signed_out(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)ctx;
	(void)req;
	(void)arg;
	con_page(resp, 200, "Signed out", NULL,
	     "<p>You are signed out of the console and of Okta.</p><p><a href=\"/console/login\">Sign in again</a></p>");
	con_finish(resp);
}

static void h_style(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)ctx;
	(void)req;
	(void)arg;
	resp->status = 200;
	buf_reset(&resp->body);
	buf_puts(&resp->body, STYLE);
	http_resp_content_type(resp, "text/css; charset=utf-8");
	con_finish(resp);
	http_resp_header(resp, "Vary", "Cookie");
}

static void h_not_found(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg)
{
	(void)ctx;
	(void)req;
	(void)arg;
	con_error_page(resp, 404, NULL, "Not found", "There is no console page here.");
	con_finish(resp);
}


int console_routes(struct app *a)
{
	const struct config *cfg = a->ctx.cfg;
	struct router *r = a->router;
	struct console *co;
	size_t n, il;
	int rc = 0;

	if (!*cfg->console.oidc.issuer)
		return 0;
	co = calloc(1, sizeof(*co));
	if (!co)
		return -1;
	co->rp = rp_new(cfg, a->ctx.log, a->ctx.metrics);
	n = strlen(cfg->public_url);
	while (n && cfg->public_url[n - 1] == '/')
		n--;
	co->origin = strndup(cfg->public_url, n);
	/* the sign-out form redirects to Okta: form-action must allow the issuer's origin */
	il = strcspn(cfg->console.oidc.issuer + strcspn(cfg->console.oidc.issuer, ":") + 3, "/") +
	     strcspn(cfg->console.oidc.issuer, ":") + 3;
	if (asprintf(&co->csp,
		     "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' %.*s;"
		     " frame-ancestors 'none'; base-uri 'none'",
		     (int)il, cfg->console.oidc.issuer) < 0)
		co->csp = NULL;
	if (!co->rp || !co->origin || !co->csp) {
		rp_free(co->rp);
		free(co->origin);
		free(co->csp);
		free(co);
		return -1;
	}
	g_console = co;
	rc |= router_add(r, "GET", "/console/login", h_login, co);
	rc |= router_add(r, "GET", cfg->console.oidc.redirect_path, h_callback, co);
	rc |= router_add(r, "POST", "/console/logout", h_logout, co);
	rc |= router_add(r, "GET", "/console/signed-out", h_signed_out, co);
	rc |= router_add(r, "GET", "/console/style.css", h_style, co);
	rc |= router_add(r, "GET", "/console/", con_h_my_access, co);
	rc |= router_add(r, "GET", "/console/request", con_h_request_form, co);
	rc |= router_add(r, "POST", "/console/request", con_h_request_post, co);
	rc |= router_add(r, "POST", "/console/requests/{id}/cancel", con_h_request_cancel, co);
	rc |= router_add(r, "POST", "/console/grants/{id}/extend", con_h_grant_extend, co);
	rc |= router_add(r, "GET", "/console/approvals", con_h_approvals, co);
	rc |= router_add(r, "POST", "/console/approvals/{id}", con_h_decide, co);
	rc |= router_add(r, "GET", "/console/sync", con_h_sync, co);
	rc |= router_add(r, "POST", "/console/sync/dry-run", con_h_sync_dry_run, co);
	rc |= router_add(r, "GET", "/console/sync/apply", con_h_sync_apply_form, co);
	rc |= router_add(r, "POST", "/console/sync/apply", con_h_sync_apply, co);
	rc |= router_add(r, "GET", "/console/sync/{id}", con_h_sync_run, co);
	rc |= router_add(r, "GET", "/console/audit", con_h_audit, co);
	rc |= router_add(r, "GET", "/console/projects", con_h_projects, co);
	rc |= router_add(r, "POST", "/console/projects/check", con_h_projects_check, co);
	rc |= router_add(r, "POST", "/console/projects", con_h_projects_create, co);
	rc |= router_add(r, "GET", "/console/alerts", con_h_alerts, co);
	rc |= router_add(r, "POST", "/console/silences", con_h_silence_create, co);
	rc |= router_add(r, "POST", "/console/silences/{id}/expire", con_h_silence_expire, co);
	rc |= router_add(r, "GET", "/console/gitlab", con_h_gitlab, co);
	rc |= router_add(r, "GET", "/console/slack", con_h_slack, co);
	rc |= router_add(r, "*", "/console/*", h_not_found, co);
	return rc ? -1 : 0;
}
