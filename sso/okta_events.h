/*
 * okta_events.h: Okta event hook deliveries and System Log events, parsed
 * into what the bridge acts on. No I/O.
 *
 * A delivery is {"eventType":"com.okta.event_hook", "eventId":..., "data":
 * {"events":[LogEvent, ...]}}; the System Log answers a JSON array of the
 * same LogEvent objects (shared/reference/okta-api.md §1.5, §1.6). Targets
 * are found by type ("User", "UserGroup"), never by position, and a null
 * actor or target is tolerated (the event then names nobody and is
 * recorded and skipped).
 */
#ifndef SB_SSO_OKTA_EVENTS_H
#define SB_SSO_OKTA_EVENTS_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>

enum okta_event_kind {
	OE_OTHER = 0,          /* recorded and ignored */
	OE_MEMBERSHIP_ADD,     /* group.user_membership.add */
	OE_MEMBERSHIP_REMOVE,  /* group.user_membership.remove */
	OE_USER_ACTIVE,        /* user.lifecycle.activate, .reactivate, .unsuspend */
	OE_USER_DEACTIVATED,   /* user.lifecycle.deactivate, .delete.initiated */
	OE_USER_SUSPENDED,     /* user.lifecycle.suspend */
	OE_USER_PROFILE,       /* user.account.update_profile (email or login may have changed) */
	OE_GROUP_DELETED,      /* group.lifecycle.delete */
};

struct okta_event {
	enum okta_event_kind kind;
	const char *uuid;       /* borrowed from json */
	const char *type;       /* eventType */
	const char *published;  /* RFC 3339 */
	const char *user_id;    /* target of type User, or NULL */
	const char *user_login; /* its alternateId */
	const char *group_id;   /* target of type UserGroup, or NULL */
	const char *group_name; /* its displayName */
	json_t *json;           /* the LogEvent object (borrowed) */
	char problem[160];      /* non-empty: the event is unusable, and why */
};

/* The event types the bridge subscribes to (for the System Log filter and
 * the docs); NULL-terminated. */
extern const char *const okta_event_types[];

enum okta_event_kind okta_event_kind_of(const char *event_type);

/* Fill ev from one LogEvent object (borrowing from it). An event without
 * uuid, eventType or a valid published time gets ev->problem set; the
 * return is 0 either way. */
void okta_event_read(json_t *obj, struct okta_event *ev);

/*
 * Parse a hook delivery body. *root receives the parsed document (caller
 * json_decref after using *events, which borrow from it); *events an array
 * of *n events, some of which may carry a problem. -1 with e (and nothing
 * to free) when the body is not JSON, not an object, or has no
 * data.events array.
 */
int okta_delivery_parse(const char *body, size_t len, json_t **root, struct okta_event **events, size_t *n,
			struct err *e);

/* 1 when s is an RFC 3339 date-time Okta would write (YYYY-MM-DDTHH:MM:SS
 * with optional fraction and Z or an offset). */
int okta_time_valid(const char *s);

#endif
