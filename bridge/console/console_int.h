/*
 * console_int.h: what the console's page files (pages_*.c) share with
 * console.c: the page chrome, the signed-in start and end of a handler, form
 * fields, audit entries with source "web", and the page handlers that
 * console.c wires to their routes. Internal to bridge/console.
 *
 * A handler is:
 *     if (con_begin(ctx, req, resp, &c, &s, admin)) { con_finish(resp); return; }
 *     ... build the body with html_printf() into a buf, con_page(...) ...
 *     con_end(ctx, c, &s); con_finish(resp);
 * con_begin() answers for the handler when there is no session (GET: 303 to
 * sign-in, POST: 403), a POST's CSRF token is missing or wrong (403), or
 * the page is for admins and the person is not one (403).
 */
#ifndef SB_CONSOLE_INT_H
#define SB_CONSOLE_INT_H

#include "buf.h"
#include "ctx.h"
#include "http.h"
#include "session.h"

#include <libpq-fe.h>

#define CON_PAGE_MAX (4u * 1024u * 1024u)

/* Add the security headers to whatever resp holds. Call last. */
void con_finish(struct http_resp *resp);

/* An empty-bodied redirect. */
void con_redirect(struct http_resp *resp, int status, const char *location);

/* The page frame (navigation, who is signed in, <h1>title</h1>) around
 * body, which is already escaped HTML. s NULL: signed out. */
void con_page(struct http_resp *resp, int status, const char *title, const struct csess *s, const char *body);

/* A page with one message; title and msg are escaped. */
void con_error_page(struct http_resp *resp, int status, const struct csess *s, const char *title, const char *msg);

/* A form field of an urlencoded body (caller frees), or NULL. */
char *con_form_get(const struct http_req *req, const char *key);

/* See the top of this file. 0: go on with *c and *s; -1: answered. */
int con_begin(struct ctx *ctx, struct http_req *req, struct http_resp *resp, PGconn **c, struct csess *s, int admin);

/* Clear s and release c (NULL-safe). */
void con_end(struct ctx *ctx, PGconn *c, struct csess *s);

/* "3h 20m" for a number of seconds. */
void con_fmt_left(long long s, char *out, size_t n);

/* A person's email, linked to the audit log filtered by them when the
 * viewer is an admin (the audit log is an admin page). */
void con_person(struct buf *b, const struct csess *viewer, const char *email);

/* A link to the audit entries of target (e.g. "access-request:12") for
 * admins; nothing for others. */
void con_audit_link(struct buf *b, const struct csess *viewer, const char *target, const char *text);

/* Append an audit entry acted by the signed-in person, details
 * {"source":"web"}. after may be NULL (JSON text otherwise). 0 or -1 with e. */
int con_audit(PGconn *c, struct ctx *ctx, const struct csess *s, const char *action, const char *target,
	      const char *reason, const char *after, int64_t run_id, struct err *e);

/* "?msg=..." of the request, for the outcome of a redirect-after-POST:
 * escaped into a notice (nothing when absent). */
void con_msg(struct buf *b, const struct http_req *req);

/* Percent-encode s for a query value (caller frees; NULL on OOM). */
char *con_urlenc(const char *s);

/* ---- the pages (route handlers) ---- */
typedef void con_handler(struct ctx *ctx, struct http_req *req, struct http_resp *resp, void *arg);

/* pages_access.c */
con_handler con_h_my_access, con_h_request_form, con_h_request_post, con_h_request_cancel, con_h_grant_extend,
	con_h_approvals, con_h_decide;
/* pages_sync.c */
con_handler con_h_sync, con_h_sync_dry_run, con_h_sync_run, con_h_sync_apply_form, con_h_sync_apply;
/* pages_audit.c */
con_handler con_h_audit;
/* pages_projects.c */
con_handler con_h_projects, con_h_projects_check, con_h_projects_create;
/* pages_alerts.c */
con_handler con_h_alerts, con_h_silence_create, con_h_silence_expire;
/* pages_status.c */
con_handler con_h_gitlab, con_h_slack;

#endif
