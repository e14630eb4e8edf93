/*
 * session.c: console sessions and cookies (see session.h).
 */
#include "session.h"

#include "db.h"
#include "secret.h"
#include "sso/oidc.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void csess_clear(struct csess *s)
{
	if (!s)
		return;
	free(s->email);
	free(s->name);
	free(s->okta_id);
	json_decref(s->groups);
	free(s->csrf);
	free(s->id_token);
	memset(s, 0, sizeof(*s));
}

void csess_digest(const char *s, char out[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)s, strlen(s), d);
	for (i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int csess_create(PGconn *c, struct csess *s, int64_t now_ms, char id_out[44], struct err *e)
{
	char hash[65], csrf[44], now[24];
	char *groups;
	int rc;

	if (oidc_random_token(id_out) || oidc_random_token(csrf))
		return err_set(e, -1, "the system random source failed");
	free(s->csrf);
	s->csrf = strdup(csrf);
	groups = s->groups ? json_dumps(s->groups, JSON_COMPACT) : strdup("[]");
	if (!s->csrf || !groups) {
		free(groups);
		return err_set(e, -1, "out of memory");
	}
	csess_digest(id_out, hash);
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	const char *p[] = {hash, s->email, s->name, s->okta_id, groups, s->is_admin ? "true" : "false",
			   s->csrf, s->id_token, now};
	rc = db_run(c,
		    "INSERT INTO console_sessions (id_hash, email, name, okta_id, groups, is_admin, csrf, id_token,"
		    " created_ms, last_seen_ms) VALUES ($1, lower($2), $3, $4, $5::jsonb, $6::boolean, $7, $8,"
		    " $9::bigint, $9::bigint)",
		    9, p, e);
	free(groups);
	return rc ? -1 : 0;
}

static char *dup_or_null(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? NULL : strdup(PQgetvalue(r, 0, col));
}

int csess_load(PGconn *c, const struct config_console_session *cc, const char *id, int64_t now_ms,
	       struct csess *s, struct err *e)
{
	char hash[65], now[24], idle[24], absolute[24];
	PGresult *r;

	memset(s, 0, sizeof(*s));
	if (!id || strlen(id) != 43)
		return 1;
	csess_digest(id, hash);
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	snprintf(idle, sizeof(idle), "%lld", (long long)(now_ms - cc->idle_timeout_ms));
	snprintf(absolute, sizeof(absolute), "%lld", (long long)(now_ms - cc->absolute_timeout_ms));
	const char *p[] = {hash, now, idle, absolute};
	r = db_exec(c,
		    "UPDATE console_sessions SET last_seen_ms = $2::bigint WHERE id_hash = $1 AND ended_ms IS NULL"
		    " AND last_seen_ms > $3::bigint AND created_ms > $4::bigint"
		    " RETURNING email, name, okta_id, groups::text, is_admin, csrf, id_token",
		    4, p, e);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 1;
	}
	s->email = strdup(PQgetvalue(r, 0, 0));
	s->name = dup_or_null(r, 1);
	s->okta_id = dup_or_null(r, 2);
	s->groups = json_loads(PQgetvalue(r, 0, 3), 0, NULL);
	s->is_admin = PQgetvalue(r, 0, 4)[0] == 't';
	s->csrf = strdup(PQgetvalue(r, 0, 5));
	s->id_token = dup_or_null(r, 6);
	PQclear(r);
	if (!s->email || !s->csrf || !json_is_array(s->groups)) {
		csess_clear(s);
		return err_set(e, -1, "out of memory reading a console session");
	}
	return 0;
}

int csess_end(PGconn *c, const char *id, int64_t now_ms, struct err *e)
{
	char hash[65], now[24];

	if (!id)
		return 0;
	csess_digest(id, hash);
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	const char *p[] = {hash, now};
	return db_run(c, "UPDATE console_sessions SET ended_ms = $2::bigint WHERE id_hash = $1 AND ended_ms IS NULL",
		      2, p, e)
		       ? -1
		       : 0;
}

int csess_csrf_ok(const struct csess *s, const char *token)
{
	return s && s->csrf && token && *token && secret_equal(token, s->csrf);
}

char *csess_set_cookie(const char *public_url, const char *path, const char *name, const char *value,
		       int64_t max_age_s)
{
	int secure = public_url && !strncasecmp(public_url, "https://", 8);
	char *out = NULL;

	if (asprintf(&out, "%s=%s; Path=%s; Max-Age=%lld; HttpOnly; SameSite=Lax%s", name,
		     max_age_s > 0 && value ? value : "", path, (long long)(max_age_s > 0 ? max_age_s : 0),
		     secure ? "; Secure" : "") < 0)
		return NULL;
	return out;
}

char *csess_cookie_get(const char *h, const char *name)
{
	size_t nl = strlen(name);

	while (h && *h) {
		const char *end = strchr(h, ';');
		size_t len = end ? (size_t)(end - h) : strlen(h);

		while (len && (*h == ' ' || *h == '\t')) {
			h++;
			len--;
		}
		if (len > nl && strncmp(h, name, nl) == 0 && h[nl] == '=') {
			const char *v = h + nl + 1;
			size_t vl = len - nl - 1;
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			return vl ? strndup(v, vl) : NULL;
		}
		h = end ? end + 1 : NULL;
	}
	return NULL;
}
