/*
 * okta_client.h: the Okta Management API as the reconcile engine needs it.
 *
 * Reads only: groups by name, the members of a group, one user. Every call
 * goes through httpc (rate-limit headers honoured, a reserve kept, 429s
 * waited out) with the largest page size each endpoint allows, following
 * the Link rel="next" URLs Okta returns (never building cursors). Several
 * groups' member lists are read concurrently (page by page, in waves).
 *
 * Service authentication is either an SSWS API token or OAuth 2.0 for a
 * service app with private_key_jwt (a client assertion signed with cjose,
 * RS256 or ES256, key from a PEM or JWK file); the access token is cached
 * until shortly before it expires.
 *
 * Thread-safe: one client may be used by several threads.
 */
#ifndef SB_SSO_OKTA_CLIENT_H
#define SB_SSO_OKTA_CLIENT_H

#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

struct okta_client;

struct okta_group {
	char *id;
	char *name;                    /* profile.name */
	char *type;                    /* OKTA_GROUP, APP_GROUP, BUILT_IN */
	char *last_membership_updated; /* RFC 3339 or NULL */
};

struct okta_user {
	char *id;
	char *status;      /* ACTIVE, SUSPENDED, DEPROVISIONED, ... */
	char *email;       /* profile[okta.email_attribute]; NULL when absent */
	char *login;       /* profile.login */
};

/* A client for cfg->okta (base_url, token or oauth, http settings).
 * NULL with e filled when Okta is not configured or setup fails. */
struct okta_client *okta_client_new(const struct config *cfg, struct logger *lg, struct metrics *m, struct err *e);
void okta_client_free(struct okta_client *c);

/* The groups whose profile.name is one of names (exact match). Groups not
 * found are simply absent from the result: the caller reports them.
 * *out is an array the caller frees with okta_groups_free. 0 or -1 with e. */
int okta_groups_by_name(struct okta_client *c, const char *const *names, size_t n, struct okta_group **out,
			size_t *nout, struct err *e);

/* The members of each group in ids (all pages), read concurrently.
 * out[i]/nout[i] receive group i's users (free each with okta_users_free).
 * 0 or -1 with e (then nothing is returned). */
int okta_groups_members(struct okta_client *c, const char *const *ids, size_t n, struct okta_user **out,
			size_t *nout, struct err *e);

/* One user by id or login. 0, 1 when not found (404), -1 with e. */
int okta_get_user(struct okta_client *c, const char *id, struct okta_user *out, struct err *e);

/* The groups user id is in (all pages of /api/v1/users/{id}/groups).
 * 0, 1 when the user does not exist (404), -1 with e. */
int okta_user_groups(struct okta_client *c, const char *id, struct okta_group **out, size_t *nout, struct err *e);

/* One page of the System Log: url is the rel="next" URL of the previous
 * page, or NULL/"" to start at since (RFC 3339) filtered to the eventTypes
 * in types. *events gets the JSON array (caller decrefs), *next the next
 * URL to poll (allocated; NULL when Okta gave none). 0 or -1 with e. */
int okta_logs_page(struct okta_client *c, const char *url, const char *since, const char *const *types,
		   size_t ntypes, json_t **events, char **next, struct err *e);

void okta_groups_free(struct okta_group *v, size_t n);
void okta_users_free(struct okta_user *v, size_t n);
void okta_user_clear(struct okta_user *u);

#endif
