/*
 * okta_events.c: parsing of Okta event hook deliveries and LogEvents (see
 * okta_events.h).
 */
#include "okta_events.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest uuid or id accepted (Okta's are 20-36 characters). */
#define OKTA_ID_MAX 128

const char *const okta_event_types[] = {
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.lifecycle.delete",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
    "user.lifecycle.unsuspend",
    "user.lifecycle.deactivate",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.suspend",
    "user.account.update_profile",
    NULL,
};

static const struct {
	const char *type;
	enum okta_event_kind kind;
} kinds[] = {
    {"group.user_membership.add", OE_MEMBERSHIP_ADD},
    {"group.user_membership.remove", OE_MEMBERSHIP_REMOVE},
    {"group.lifecycle.delete", OE_GROUP_DELETED},
    {"user.lifecycle.activate", OE_USER_ACTIVE},
    {"user.lifecycle.reactivate", OE_USER_ACTIVE},
    {"user.lifecycle.unsuspend", OE_USER_ACTIVE},
    {"user.lifecycle.deactivate", OE_USER_DEACTIVATED},
    {"user.lifecycle.delete.initiated", OE_USER_DEACTIVATED},
    {"user.lifecycle.suspend", OE_USER_SUSPENDED},
    {"user.account.update_profile", OE_USER_PROFILE},
};

enum okta_event_kind okta_event_kind_of(const char *t)
{
	if (!t)
		return OE_OTHER;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcasecmp(kinds[i].type, t))
			return kinds[i].kind;
	return OE_OTHER;
}

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int okta_time_valid(const char *s)
{
	if (!s || strlen(s) < 20 || strlen(s) > 40)
		return 0;
	/* YYYY-MM-DDTHH:MM:SS */
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return 0;
	int mon = atoi(s + 5), day = atoi(s + 8), h = atoi(s + 11), mi = atoi(s + 14), sec = atoi(s + 17);
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60)
		return 0;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1])
		return 1;
	if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && !p[6])
		return 1;
	return 0;
}

/* A short identifier string: printable ASCII without blanks. */
static const char *id_string(json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > OKTA_ID_MAX)
		return NULL;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p > '~')
			return NULL;
	return s;
}

void okta_event_read(json_t *obj, struct okta_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->json = obj;
	if (!json_is_object(obj)) {
		snprintf(ev->problem, sizeof ev->problem, "an event is not a JSON object");
		return;
	}
	ev->uuid = id_string(json_object_get(obj, "uuid"));
	ev->type = json_string_value(json_object_get(obj, "eventType"));
	ev->published = json_string_value(json_object_get(obj, "published"));
	ev->kind = okta_event_kind_of(ev->type);
	json_t *targets = json_object_get(obj, "target");
	for (size_t i = 0; json_is_array(targets) && i < json_array_size(targets); i++) {
		json_t *t = json_array_get(targets, i);
		const char *type = json_string_value(json_object_get(t, "type"));
		if (!type)
			continue;
		if (!strcasecmp(type, "User") && !ev->user_id) {
			ev->user_id = id_string(json_object_get(t, "id"));
			ev->user_login = json_string_value(json_object_get(t, "alternateId"));
		} else if (!strcasecmp(type, "UserGroup") && !ev->group_id) {
			ev->group_id = id_string(json_object_get(t, "id"));
			ev->group_name = json_string_value(json_object_get(t, "displayName"));
		}
	}
	if (!ev->uuid)
		snprintf(ev->problem, sizeof ev->problem, "event has no usable \"uuid\"");
	else if (!ev->type || !*ev->type)
		snprintf(ev->problem, sizeof ev->problem, "event %.64s has no \"eventType\"", ev->uuid);
	else if (!okta_time_valid(ev->published))
		snprintf(ev->problem, sizeof ev->problem, "event %.64s has no valid \"published\" time", ev->uuid);
}

int okta_delivery_parse(const char *body, size_t len, json_t **root, struct okta_event **events, size_t *n,
			struct err *e)
{
	*root = NULL;
	*events = NULL;
	*n = 0;
	json_error_t je;
	json_t *doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return err_set(e, -1, "the body is not valid JSON (line %d, column %d)", je.line, je.column);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return err_set(e, -1, "the body is not a JSON object");
	}
	json_t *arr = json_object_get(json_object_get(doc, "data"), "events");
	if (!json_is_array(arr)) {
		json_decref(doc);
		return err_set(e, -1, "the body has no data.events array");
	}
	size_t k = json_array_size(arr);
	struct okta_event *v = calloc(k ? k : 1, sizeof *v);
	if (!v) {
		json_decref(doc);
		return err_set(e, -1, "out of memory");
	}
	for (size_t i = 0; i < k; i++)
		okta_event_read(json_array_get(arr, i), &v[i]);
	*root = doc;
	*events = v;
	*n = k;
	return 0;
}
