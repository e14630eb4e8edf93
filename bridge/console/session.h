/*
 * session.h: the web console's server-side sessions in PostgreSQL
 * (table console_sessions, migration 008) and their cookies.
 *
 * A session id is 32 bytes from the OS CSPRNG (base64url); only its
 * SHA-256 is stored. A new id is made at every sign-in and never taken from
 * the browser. A session is valid while not ended, younger than
 * console.session.absolute_timeout and used within idle_timeout; every use
 * moves last_seen. Each session has its own CSRF token for POST forms.
 */
#ifndef SB_CONSOLE_SESSION_H
#define SB_CONSOLE_SESSION_H

#include "config.h"
#include "err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

/* Who is signed in (all strings owned). */
struct csess {
	char *email;    /* lower-cased */
	char *name;     /* may be NULL */
	char *okta_id;  /* may be NULL */
	json_t *groups; /* array of group names */
	int is_admin;
	char *csrf;
	char *id_token; /* may be NULL */
};

/* Free the strings of s (not s). NULL-safe. */
void csess_clear(struct csess *s);

/* SHA-256 of s as 64 hex characters into out[65]. */
void csess_digest(const char *s, char out[65]);

/*
 * Store a new session for s (s->csrf is made here and set on s) at now_ms.
 * id_out receives the new cookie value. 0, or -1 with e.
 */
int csess_create(PGconn *c, struct csess *s, int64_t now_ms, char id_out[44], struct err *e);

/*
 * Load the live session with cookie value id at now_ms under the timeouts
 * of cc, and mark it used. 0 found (s filled; csess_clear it), 1 none (no
 * such id, ended, idle or too old), -1 with e.
 */
int csess_load(PGconn *c, const struct config_console_session *cc, const char *id, int64_t now_ms,
	       struct csess *s, struct err *e);

/* End the session with this cookie value (no-op when none). 0 or -1 with e. */
int csess_end(PGconn *c, const char *id, int64_t now_ms, struct err *e);

/* 1 when token equals the session's CSRF token (constant time), else 0. */
int csess_csrf_ok(const struct csess *s, const char *token);

/*
 * The value of a Set-Cookie header: name=value; Path=path; HttpOnly;
 * SameSite=Lax; Secure when public_url is https; Max-Age=max_age_s (0
 * deletes the cookie, with an empty value). Caller frees; NULL on OOM.
 */
char *csess_set_cookie(const char *public_url, const char *path, const char *name, const char *value,
		       int64_t max_age_s);

/* The value of cookie name in a Cookie request header (caller frees), or NULL. */
char *csess_cookie_get(const char *cookie_header, const char *name);

#endif
