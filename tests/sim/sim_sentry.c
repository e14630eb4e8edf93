/*
 * sim_sentry.c: the simulated self-hosted Sentry web API under /api/0, as
 * described in shared/reference/sentry-api.md sections 1-5: org members
 * (list, detail, invite, update, remove), team membership, teams and
 * projects, with Sentry's role rules, its OffsetPaginator cursors and Link
 * header, Bearer auth and DRF-style error bodies.
 *
 * The caller's token acts like an org owner's user auth token with
 * superuser reach (no scope or role-hierarchy checks) that has no member
 * row of its own: isMember is false on teams and it is never auto-added to
 * teams it creates. The bridge's own policy decides what it may do.
 *
 * The handler runs with the state lock held (read for GET, write else).
 */
#include "sim.h"

#include "sim_util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NOT_FOUND "The requested resource does not exist"
#define SLUG_MSG "Enter a valid slug consisting of lowercase letters, numbers, underscores or " \
		 "hyphens. It cannot be entirely numeric."

/* Reserved project slugs (older copy of sentry/constants.py, sentry-api.md 3.4). */
static const char *const reserved_project_slugs[] = {
	"$all", "api-keys", "audit-log", "auth", "members", "projects", "rate-limits", "repos",
	"settings", "teams", "billing", "payments", "legal", "subscription", "support",
	"integrations", "developer-settings", "usage", NULL,
};

/* Org-role scopes (OSS SENTRY_ROLES, sentry-api.md 1.1), for query=scope:... */
static const char *const role_scopes[4] = {
	" event:read event:write event:admin project:releases project:read org:read member:invite"
	" member:read team:read alerts:read alerts:write ",
	" event:read event:write event:admin org:read member:read member:invite project:read"
	" project:write project:admin project:releases team:read team:write team:admin"
	" org:integrations alerts:read alerts:write ",
	" event:read event:write event:admin member:invite member:read member:write member:admin"
	" project:read project:write project:admin project:releases team:read team:write"
	" team:admin org:read org:write org:integrations alerts:read alerts:write ",
	" event:read event:write event:admin member:invite member:read member:write member:admin"
	" project:read project:write project:admin project:releases team:read team:write"
	" team:admin org:read org:write org:admin org:integrations alerts:read alerts:write ",
};

static const char *const role_descs[4] = {
	"Members can view and act on events, as well as view most other data within the organization.",
	"Admin privileges on any teams of which they're a member. They can create new teams and projects, as well as remove teams and projects on which they already hold membership (or all teams, if open membership is enabled). Additionally, they can manage memberships of teams that they are members of. They cannot invite members to the organization.",
	"Gains admin access on all teams as well as the ability to add and remove members.",
	"Gains full permission across the organization. Can manage members as well as perform catastrophic operations such as removing the organization.",
};

/* ---- responses ------------------------------------------------------------------------------- */

/* {"detail": msg} with status. */
static int detail(struct sim_response *resp, int status, const char *msg)
{
	sim_resp_json(resp, status, json_pack("{s:s}", "detail", msg));
	return 0;
}

/* 400 {field: [msg]} (DRF validation error shape). */
static int field_error(struct sim_response *resp, const char *field, const char *msg)
{
	sim_resp_json(resp, 400, json_pack("{s:[s]}", field, msg));
	return 0;
}

/*
 * Record a DRF-style error for a field into errs (first error per field
 * wins). If even that allocation fails, the field is recorded as null so
 * the caller still sees a non-empty error object and answers 400.
 */
static void add_err(json_t *errs, const char *field, const char *msg)
{
	if (!json_object_get(errs, field) && json_object_set_new(errs, field, json_pack("[s]", msg)))
		json_object_set_new(errs, field, json_null());
}

/* Timestamp or null. */
static json_t *jtime(int64_t ms)
{
	char buf[SIM_TIME_BUFSZ];

	if (!ms)
		return json_null();
	sim_fmt_sentry_time(ms, buf);
	return json_string(buf);
}

/* String or null. */
static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Integer id as a JSON string (Sentry serialises ids as strings). */
static json_t *jid(int64_t id)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)id);
	return json_string(buf);
}

/* ---- object rendering -------------------------------------------------------------------------- */

/* The serialized user of a non-pending member. */
static json_t *user_json(const struct sentry_member *m)
{
	const char *name = m->name ? m->name : m->email;

	return json_pack("{s:o, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:b, s:o, s:b, s:b,"
			 " s:{}, s:[{s:o, s:s, s:b}], s:{s:s, s:n}}",
			 "id", jid(m->user_id), "name", name, "username", m->email, "email", m->email,
			 "avatarUrl", "https://gravatar.com/avatar/?s=32&d=mm",
			 "isActive", 1, "hasPasswordAuth", 0, "isManaged", 0,
			 "dateJoined", jtime(m->created), "lastLogin", jtime(m->created),
			 "has2fa", 0, "lastActive", jtime(m->created), "isSuperuser", 0, "isStaff", 0,
			 "experiments", "emails", "id", jid(m->user_id), "email", m->email,
			 "is_verified", 1, "avatar", "avatarType", "letter_avatar", "avatarUuid");
}

/* Base member serializer (list items, invite response). */
static json_t *member_json(const struct sentry_member *m)
{
	json_t *flags = json_object();
	int k, bad = 0;

	if (!flags)
		return NULL;
	for (k = 0; k < SENTRY_NFLAGS; k++)
		bad |= json_object_set_new(flags, sentry_flag_names[k],
					   json_boolean(m->flags & (1u << k)));
	if (bad) {
		json_decref(flags);
		return NULL;
	}
	return json_pack("{s:o, s:s, s:s, s:o, s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:s, s:o}",
			 "id", jid(m->id), "email", m->email,
			 "name", m->user_id && m->name ? m->name : m->email,
			 "user", m->user_id ? user_json(m) : json_null(),
			 "orgRole", sentry_role_id(m->role), "role", sentry_role_id(m->role),
			 "roleName", sentry_role_name(m->role), "pending", m->user_id == 0,
			 "expired", m->expired, "flags", flags, "dateCreated", jtime(m->created),
			 "inviteStatus", "approved", "inviterName", jstr(m->inviter_name));
}

/* Detail serializer: teams, teamRoles, role lists, isOnlyOwner, invite_link. */
static json_t *member_detail_json(const struct sentry_state *se, const struct sentry_member *m,
				  const char *base)
{
	json_t *o = member_json(m), *teams = json_array(), *tr = json_array(), *orl = json_array();
	size_t i;
	int r, bad = 0;
	char *link = NULL;

	if (!o || !teams || !tr || !orl)
		goto fail;
	for (i = 0; i < m->nteams; i++) {
		bad |= json_array_append_new(teams, json_string(m->teams[i].team->slug));
		bad |= json_array_append_new(tr, json_pack("{s:s, s:o}", "teamSlug", m->teams[i].team->slug,
						    "role", jstr(sentry_team_role_id(m->teams[i].role))));
	}
	for (r = SENTRY_ROLE_MEMBER; r <= SENTRY_ROLE_OWNER; r++)
		bad |= json_array_append_new(orl, json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:b}",
			"id", sentry_role_id((enum sentry_role)r),
			"name", sentry_role_name((enum sentry_role)r), "desc", role_descs[r],
			"isAllowed", r != SENTRY_ROLE_ADMIN, "isRetired", r == SENTRY_ROLE_ADMIN,
			"isGlobal", r >= SENTRY_ROLE_MANAGER,
			"minimumTeamRole", sentry_team_role_id(sentry_min_team_role((enum sentry_role)r)),
			"isTeamRolesAllowed", 1));
	if (bad)
		goto fail;
	bad |= json_object_set_new(o, "teams", teams);
	bad |= json_object_set_new(o, "teamRoles", tr);
	bad |= json_object_set_new(o, "orgRoleList", orl);
	teams = tr = orl = NULL; /* stolen, even on failure */
	bad |= json_object_set_new(o, "teamRoleList", json_pack(
		"[{s:s, s:s, s:s, s:n}, {s:s, s:s, s:s, s:s}]",
		"id", "contributor", "name", "Contributor",
		"desc", "Contributors can view and act on events, as well as view most other data within the team's projects.",
		"isMinimumRoleFor",
		"id", "admin", "name", "Team Admin",
		"desc", "Admin privileges on the team. They can create and remove projects, and can manage the team's memberships.",
		"isMinimumRoleFor", "admin"));
	bad |= json_object_set_new(o, "isOnlyOwner", json_boolean(sentry_member_is_only_owner(se, m)));
	if (m->user_id == 0) {
		link = sim_asprintf("%s/accept/%lld/sim-invite-token/", base, (long long)m->id);
		bad |= !link || json_object_set_new(o, "invite_link", json_string(link));
		free(link);
	} else {
		bad |= json_object_set_new(o, "invite_link", json_null());
	}
	if (bad)
		goto fail;
	return o;
fail:
	json_decref(o);
	json_decref(teams);
	json_decref(tr);
	json_decref(orl);
	return NULL;
}

/* Short team reference {id, slug, name}. */
static json_t *team_ref(const struct sentry_team *t)
{
	return json_pack("{s:o, s:s, s:s}", "id", jid(t->id), "slug", t->slug, "name", t->name);
}

/* Project summary. */
static json_t *project_json(const struct sentry_project *p)
{
	json_t *teams = json_array();
	size_t i;
	int bad = 0;

	if (!teams)
		return NULL;
	for (i = 0; i < p->nteams; i++)
		bad |= json_array_append_new(teams, team_ref(p->teams[i]));
	if (bad) {
		json_decref(teams);
		return NULL;
	}
	return json_pack("{s:o, s:s, s:s, s:o, s:o, s:b, s:b, s:b, s:n, s:[], s:s, s:o, s:o,"
			 " s:{s:s, s:n}, s:s, s:b, s:b}",
			 "id", jid(p->id), "slug", p->slug, "name", p->name,
			 "platform", jstr(p->platform), "dateCreated", jtime(p->created),
			 "isBookmarked", 0, "isMember", 0, "hasAccess", 1, "firstEvent", "features",
			 "status", "active", "team", p->nteams ? team_ref(p->teams[0]) : json_null(),
			 "teams", teams, "avatar", "avatarType", "letter_avatar", "avatarUuid",
			 "color", "#3f70bf", "isPublic", 0, "isInternal", 0);
}

/* Team serializer; detailed adds projects and externalTeams. */
static json_t *team_json(const struct sentry_state *se, const struct sentry_team *t, bool detailed)
{
	json_t *o = json_pack("{s:o, s:s, s:s, s:o, s:b, s:n, s:{s:b}, s:[], s:b, s:b, s:I,"
			      " s:{s:s, s:n}}",
			      "id", jid(t->id), "slug", t->slug, "name", t->name,
			      "dateCreated", jtime(t->created), "isMember", 0, "teamRole",
			      "flags", "idp:provisioned", t->idp_provisioned, "access",
			      "hasAccess", 1, "isPending", 0, "memberCount", (json_int_t)t->member_count,
			      "avatar", "avatarType", "letter_avatar", "avatarUuid");
	json_t *projects;
	size_t i, j;
	int bad = 0;

	if (!o || !detailed)
		return o;
	projects = json_array();
	if (!projects) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; i < se->nprojects; i++)
		for (j = 0; j < se->projects[i]->nteams; j++)
			if (se->projects[i]->teams[j] == t)
				bad |= json_array_append_new(projects, project_json(se->projects[i]));
	bad |= json_object_set_new(o, "projects", projects);
	bad |= json_object_set_new(o, "externalTeams", json_array());
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- pagination (OffsetPaginator + Link header, sentry-api.md 4) -------------------------------- */

/* A page of an already filtered list. */
struct page {
	size_t start;   /* first index returned */
	size_t count;   /* items returned */
};

/* Parse "value:offset:is_prev"; false if malformed. */
static bool parse_cursor(const char *s, int64_t *value, int64_t *offset, int64_t *is_prev)
{
	char *copy = strdup(s), *a, *b, *c;
	bool ok = false;

	if (!copy)
		return false;
	a = copy;
	b = strchr(a, ':');
	if (b) {
		*b++ = '\0';
		c = strchr(b, ':');
		if (c) {
			*c++ = '\0';
			ok = sim_parse_i64(a, value) && sim_parse_i64(b, offset) &&
			     sim_parse_i64(c, is_prev);
		}
	}
	free(copy);
	return ok;
}

/* Query string without `cursor`, Django QueryDict.urlencode style (caller frees). */
static char *query_without_cursor(const struct sim_request *req)
{
	struct sim_buf b;
	size_t i;

	sim_buf_init(&b, 0);
	for (i = 0; i < req->nparams; i++) {
		char *k, *v;
		int rc;

		if (!strcmp(req->params[i].key, "cursor"))
			continue;
		k = sim_url_encode(req->params[i].key, true);
		v = sim_url_encode(req->params[i].value, true);
		rc = !k || !v || sim_buf_printf(&b, "%s%s=%s", b.len ? "&" : "", k, v);
		free(k);
		free(v);
		if (rc) {
			sim_buf_free(&b);
			return NULL;
		}
	}
	return sim_buf_take(&b);
}

/*
 * Apply per_page and cursor to a list of `total` items the way Sentry's
 * OffsetPaginator does (cursor = limit:page:is_prev), add the Link header
 * (previous and next, always both) and X-Hits. Returns 1 with *pg set,
 * or 0 after answering 400.
 */
static int paginate(const struct sim_request *req, struct sim_response *resp, const char *base,
		    size_t total, struct page *pg)
{
	const char *pp = sim_query_get(req, "per_page"), *cur = sim_query_get(req, "cursor");
	int64_t limit = 100, value = 0, page = 0, is_prev = 0, offset, stop, lo, hi;
	bool has_next;
	char *qs;

	if (pp && *pp && (!sim_parse_i64(pp, &limit) || limit > 100 || limit < 1)) {
		detail(resp, 400, "Invalid per_page value. Cannot exceed 100.");
		return 0;
	}
	/* bounded so the arithmetic below cannot overflow (Sentry would 400 or time out) */
	if (cur && *cur && (!parse_cursor(cur, &value, &page, &is_prev) || value < 0 ||
			    value > 1000000 || page < -1000000000 || page > 1000000000)) {
		detail(resp, 400, "Invalid cursor parameter.");
		return 0;
	}
	offset = page * value;
	if (offset < 0) {
		detail(resp, 400, "Pagination offset cannot be negative");
		return 0;
	}
	/* results = queryset[offset:stop]; if value != limit keep the last limit+1 */
	stop = offset + (value ? value : limit) + 1;
	lo = offset < (int64_t)total ? offset : (int64_t)total;
	hi = stop < (int64_t)total ? stop : (int64_t)total;
	if (value != limit && hi - lo > limit + 1)
		lo = hi - (limit + 1);
	has_next = hi - lo > limit;
	pg->start = (size_t)lo;
	pg->count = (size_t)(hi - lo > limit ? limit : hi - lo);
	qs = query_without_cursor(req);
	if (!qs) {
		resp->oom = true;
		return 1;
	}
	sim_resp_headerf(resp, "Link",
			 "<%s%s?%s&cursor=%lld:%lld:1>; rel=\"previous\"; results=\"%s\"; cursor=\"%lld:%lld:1\", "
			 "<%s%s?%s&cursor=%lld:%lld:0>; rel=\"next\"; results=\"%s\"; cursor=\"%lld:%lld:0\"",
			 base, req->raw_path, qs, (long long)limit, (long long)(page - 1),
			 page > 0 ? "true" : "false", (long long)limit, (long long)(page - 1),
			 base, req->raw_path, qs, (long long)limit, (long long)(page + 1),
			 has_next ? "true" : "false", (long long)limit, (long long)(page + 1));
	sim_resp_headerf(resp, "X-Hits", "%zu", total);
	free(qs);
	return 1;
}

/* ---- query tokenizer (sentry.search.utils.tokenize_query) ---------------------------------------- */

struct qtok {
	char *key;    /* "query" for free text */
	char *value;
};

struct qtoks {
	struct qtok *t;
	size_t n;
};

/* Free tokens. */
static void qtoks_free(struct qtoks *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->t[i].key);
		free(q->t[i].value);
	}
	free(q->t);
	q->t = NULL;
	q->n = 0;
}

/* Copy of s[0..n) without surrounding double quotes. */
static char *unquote(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	return sim_strndup(s, n);
}

/* Split on whitespace outside quotes; key:value tokens become tags. 0 or -1. */
static int tokenize_query(const char *q, struct qtoks *out)
{
	const char *p = q;

	out->t = NULL;
	out->n = 0;
	while (*p) {
		const char *s, *colon = NULL;
		bool inq = false;
		size_t n, i;
		struct qtok *nt;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && (inq || !isspace((unsigned char)*p))) {
			if (*p == '"')
				inq = !inq;
			p++;
		}
		n = (size_t)(p - s);
		if ((n == 2 && !strncasecmp(s, "OR", 2)) || (n == 3 && !strncasecmp(s, "AND", 3)))
			continue;
		for (i = 0; i < n && (s[i] == '(' || s[i] == ')'); i++)
			;
		if (i == n)
			continue;
		if (s[0] != '"' && s[0] != '\'' && s[0] != ':') {
			for (i = 0; i < n; i++) {
				if (s[i] == ':') {
					if (i + 1 < n && (s[i + 1] == ':' || s[i + 1] == ' '))
						break;
					colon = s + i;
					break;
				}
			}
		}
		nt = realloc(out->t, (out->n + 1) * sizeof(*nt));
		if (!nt)
			return -1;
		out->t = nt;
		nt = &out->t[out->n];
		if (colon) {
			nt->key = unquote(s, (size_t)(colon - s));
			nt->value = unquote(colon + 1, n - (size_t)(colon - s) - 1);
		} else {
			nt->key = strdup("query");
			nt->value = unquote(s, n);
		}
		if (!nt->key || !nt->value) {
			free(nt->key);
			free(nt->value);
			return -1;
		}
		out->n++;
	}
	return 0;
}

/* True if any token with this key has this value (case-insensitive). */
static bool tok_has(const struct qtoks *q, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (!strcmp(q->t[i].key, key) && !strcasecmp(q->t[i].value, value))
			return true;
	return false;
}

/* The free-text tokens joined by spaces (caller frees), or NULL if none / OOM. */
static char *tok_free_text(const struct qtoks *q)
{
	struct sim_buf b;
	size_t i;

	sim_buf_init(&b, 0);
	for (i = 0; i < q->n; i++)
		if (!strcmp(q->t[i].key, "query") &&
		    sim_buf_printf(&b, "%s%s", b.len ? " " : "", q->t[i].value)) {
			sim_buf_free(&b);
			return NULL;
		}
	return b.len ? sim_buf_take(&b) : (sim_buf_free(&b), NULL);
}

/* True if every value of `key` tokens is non-numeric (Sentry: ids filter then matches nothing). */
static bool tok_id_match(const struct qtoks *q, const char *key, int64_t id)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		int64_t v;

		if (!strcmp(q->t[i].key, key) && sim_parse_i64(q->t[i].value, &v) && v == id)
			return true;
	}
	return false;
}

/* ---- members ------------------------------------------------------------------------------------- */

/* Members list filter (organization_member_index.py get()). */
static bool member_matches(const struct qtoks *q, const char *text, const struct sentry_member *m)
{
	size_t i;
	int r;

	for (i = 0; i < q->n; i++) {
		const char *k = q->t[i].key;

		if (!strcmp(k, "email")) {
			size_t j;
			bool any = false;

			for (j = 0; j < q->n && !any; j++)
				if (!strcmp(q->t[j].key, "email") && sim_streq_ci(q->t[j].value, m->email))
					any = true;
			if (!any)
				return false;
		} else if (!strcmp(k, "id")) {
			if (!tok_id_match(q, "id", m->id))
				return false;
		} else if (!strcmp(k, "user.id")) {
			if (!m->user_id || !tok_id_match(q, "user.id", m->user_id))
				return false;
		} else if (!strcmp(k, "role")) {
			if (!tok_has(q, "role", sentry_role_id(m->role)))
				return false;
		} else if (!strcmp(k, "scope")) {
			size_t j;
			bool any = false;

			for (j = 0; j < q->n && !any; j++) {
				char *needle;

				if (strcmp(q->t[j].key, "scope"))
					continue;
				needle = sim_asprintf(" %s ", q->t[j].value);
				if (!needle)
					return false;
				r = (int)m->role;
				any = strstr(role_scopes[r], needle) != NULL;
				free(needle);
			}
			if (!any)
				return false;
		} else if (!strcmp(k, "isInvited")) {
			if (tok_has(q, "isInvited", "true") != (m->user_id == 0))
				return false;
		} else if (!strcmp(k, "ssoLinked")) {
			if (tok_has(q, "ssoLinked", "true") != !!(m->flags & SENTRY_FLAG_SSO_LINKED))
				return false;
		} else if (!strcmp(k, "has2fa")) {
			/* nobody has 2FA in the simulator; has2fa:false matches users only */
			if (tok_has(q, "has2fa", "true") || m->user_id == 0)
				return false;
		} else if (!strcmp(k, "hasExternalUsers")) {
			if (tok_has(q, "hasExternalUsers", "true"))
				return false;
		} else if (!strcmp(k, "query")) {
			if (!text || (!sim_contains_ci(m->email, text) &&
				      !(m->user_id && sim_contains_ci(m->name, text))))
				return false;
		} else {
			return false; /* any other key: queryset.none() */
		}
	}
	return true;
}

/* GET /organizations/{org}/members/ */
static int list_members(const struct sentry_state *se, const struct sim_request *req,
			struct sim_response *resp, const char *base)
{
	const char *query = sim_query_get(req, "query");
	struct qtoks q = { NULL, 0 };
	const struct sentry_member **sel = NULL;
	char *text = NULL;
	json_t *arr = NULL;
	struct page pg;
	size_t i, n = 0;
	int rc = -1;

	if (query && *query && tokenize_query(query, &q))
		goto out;
	text = tok_free_text(&q);
	sel = malloc((se->nmembers + 1) * sizeof(*sel));
	if (!sel)
		goto out;
	for (i = 0; i < se->nmembers; i++)
		if (member_matches(&q, text, se->members[i]))
			sel[n++] = se->members[i];
	if (!paginate(req, resp, base, n, &pg)) {
		rc = 0;
		goto out;
	}
	arr = json_array();
	if (!arr)
		goto out;
	for (i = 0; i < pg.count; i++)
		if (json_array_append_new(arr, member_json(sel[pg.start + i])))
			goto out;
	sim_resp_json(resp, 200, arr);
	arr = NULL;
	rc = 0;
out:
	json_decref(arr);
	free(sel);
	free(text);
	qtoks_free(&q);
	return rc;
}

/* GET /api/0/teams/{org}/{team}/members/: the team's members (not pending
 * invites, as Sentry documents), ordered by member id, paginated like the
 * other lists. Each item is the member object plus teamRole. */
static int list_team_members(const struct sentry_state *se, const struct sim_request *req,
			     struct sim_response *resp, const char *base, const struct sentry_team *t)
{
	const struct sentry_member **sel = NULL;
	json_t *arr = NULL;
	struct page pg;
	size_t i, n = 0;
	int rc = -1;

	sel = malloc((se->nmembers + 1) * sizeof(*sel));
	if (!sel)
		goto out;
	for (i = 0; i < se->nmembers; i++)
		if (se->members[i]->user_id && sentry_member_team_get(se->members[i], t))
			sel[n++] = se->members[i];
	if (!paginate(req, resp, base, n, &pg)) {
		rc = 0;
		goto out;
	}
	arr = json_array();
	if (!arr)
		goto out;
	for (i = 0; i < pg.count; i++) {
		const struct sentry_member *m = sel[pg.start + i];
		json_t *o = member_json(m);
		const struct sentry_member_team *row = sentry_member_team_get(m, t);
		if (!o || json_array_append_new(arr, o))
			goto out;
		json_object_set_new(o, "teamRole", row && row->role == 1 ? json_string("admin") : json_null());
		json_object_set_new(o, "teamSlug", json_string(t->slug));
	}
	sim_resp_json(resp, 200, arr);
	arr = NULL;
	rc = 0;
out:
	json_decref(arr);
	free(sel);
	return rc;
}

/* Validate an org role field the way OrganizationMemberRequestSerializer does. */
static int check_role(json_t *errs, const char *field, const json_t *v, bool allow_retired,
		      enum sentry_role *out)
{
	const char *s = json_string_value(v);
	char *msg;

	if (!s) {
		add_err(errs, field, "Not a valid string.");
		return -1;
	}
	/* orgRole's choices include "billing" (ROLE_CHOICES); role's do not */
	if (!strcmp(s, "billing") && !strcmp(field, "orgRole")) {
		add_err(errs, field, "You do not have permission to set that org-level role");
		return -1;
	}
	if (sentry_role_parse(s, out)) {
		msg = sim_asprintf("\"%s\" is not a valid choice.", s);
		add_err(errs, field, msg ? msg : "Invalid role");
		free(msg);
		return -1;
	}
	if (!allow_retired && *out == SENTRY_ROLE_ADMIN) {
		msg = sim_asprintf("The role '%s' is deprecated and may no longer be assigned.", s);
		add_err(errs, field, msg ? msg : "Invalid role");
		free(msg);
		return -1;
	}
	return 0;
}

/* Team by slug only (Django slug__in): all-digit keys never match. */
static struct sentry_team *team_by_slug(const struct sentry_state *se, const char *slug)
{
	const char *p;

	if (!slug || !*slug)
		return NULL;
	for (p = slug; isdigit((unsigned char)*p); p++)
		;
	return *p ? sentry_team_find(se, slug) : NULL;
}

/* True if t is already among the first n rows. */
static bool rows_have(const struct sentry_member_team *rows, size_t n, const struct sentry_team *t)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].team == t)
			return true;
	return false;
}

/*
 * Validate `teams` or `teamRoles` into rows (caller frees *rows). Errors go
 * to errs under the field name. Returns 0, or -1 on a validation error.
 */
static int check_teams(const struct sentry_state *se, json_t *errs, const json_t *body,
		       struct sentry_member_team **rows, size_t *nrows, bool *given)
{
	const json_t *tr = json_object_get(body, "teamRoles");
	const json_t *tl = json_object_get(body, "teams");
	const json_t *v;
	size_t i, n;

	*rows = NULL;
	*nrows = 0;
	*given = tr != NULL || tl != NULL;
	if (tr && !json_is_null(tr)) {
		if (!json_is_array(tr)) {
			add_err(errs, "teamRoles", "Expected a list of items.");
			return -1;
		}
		n = json_array_size(tr);
		/* roles first ("Invalid team-role"), then slugs ("Invalid teams") */
		json_array_foreach(tr, i, v) {
			const json_t *r = json_object_get(v, "role");
			int role;

			if (!json_is_object(v) ||
			    (r && !json_is_null(r) && sentry_team_role_parse(json_string_value(r), &role))) {
				add_err(errs, "teamRoles", "Invalid team-role");
				return -1;
			}
		}
		*rows = calloc(n ? n : 1, sizeof(**rows));
		if (!*rows)
			return -2;
		json_array_foreach(tr, i, v) {
			const json_t *r = json_object_get(v, "role");
			struct sentry_team *t = team_by_slug(se, json_string_value(json_object_get(v, "teamSlug")));
			int role = SENTRY_TEAM_ROLE_NULL;

			/* unknown or repeated slugs make validate_teams' counts differ */
			if (!t || rows_have(*rows, *nrows, t)) {
				add_err(errs, "teamRoles", "Invalid teams");
				return -1;
			}
			if (r && !json_is_null(r))
				sentry_team_role_parse(json_string_value(r), &role);
			(*rows)[(*nrows)++] = (struct sentry_member_team){ t, role };
		}
		return 0;
	}
	if (tr)
		return 0; /* teamRoles: null */
	if (tl && !json_is_null(tl)) {
		if (!json_is_array(tl)) {
			add_err(errs, "teams", "Expected a list of items.");
			return -1;
		}
		n = json_array_size(tl);
		*rows = calloc(n ? n : 1, sizeof(**rows));
		if (!*rows)
			return -2;
		json_array_foreach(tl, i, v) {
			struct sentry_team *t = team_by_slug(se, json_string_value(v));

			/* slug__in lookup: unknown or duplicate slugs make the counts differ */
			if (!t || rows_have(*rows, *nrows, t)) {
				add_err(errs, "teams", "Invalid teams");
				return -1;
			}
			(*rows)[(*nrows)++] = (struct sentry_member_team){ t, SENTRY_TEAM_ROLE_NULL };
		}
	}
	return 0;
}

/* POST /organizations/{org}/members/ (invite). */
static int invite_member(struct sentry_state *se, const struct sim_request *req,
			 struct sim_response *resp)
{
	json_t *body = sim_request_json(req, NULL), *errs = json_object();
	const json_t *jrole = NULL;
	const char *email;
	struct sentry_member_team *rows = NULL;
	struct sentry_member *m = NULL;
	enum sentry_role role = SENTRY_ROLE_MEMBER, r2;
	size_t nrows = 0, i;
	bool teams_given;
	int rc = -1, tc;

	if (!errs)
		goto out;
	if (!json_is_object(body)) {
		rc = detail(resp, 400, "JSON parse error - Expecting value: line 1 column 1 (char 0)");
		goto out;
	}
	email = json_string_value(json_object_get(body, "email"));
	if (!json_object_get(body, "email")) {
		add_err(errs, "email", "This field is required.");
	} else if (!email || !strchr(email, '@') || strchr(email, ' ') || email[0] == '@') {
		add_err(errs, "email", "Enter a valid email address.");
	} else if (strlen(email) > 75) {
		add_err(errs, "email", "Ensure this field has no more than 75 characters.");
	} else {
		const struct sentry_member *other = sentry_member_find_email(se, email);
		char *msg;

		if (other) {
			msg = sim_asprintf(other->user_id ? "The user %s is already a member"
							  : "The user %s has already been invited", email);
			add_err(errs, "email", msg ? msg : "conflict");
			free(msg);
		}
	}
	/* allow_retired_roles = not features.has("organizations:team-roles") = False */
	if (json_object_get(body, "role") && !json_is_null(json_object_get(body, "role")) &&
	    check_role(errs, "role", json_object_get(body, "role"), false, &r2) == 0)
		jrole = json_object_get(body, "role");
	if (json_object_get(body, "orgRole") && !json_is_null(json_object_get(body, "orgRole")) &&
	    check_role(errs, "orgRole", json_object_get(body, "orgRole"), false, &r2) == 0)
		jrole = json_object_get(body, "orgRole");
	tc = check_teams(se, errs, body, &rows, &nrows, &teams_given);
	if (tc == -2)
		goto out;
	if (json_object_size(errs)) {
		sim_resp_json(resp, 400, errs);
		errs = NULL;
		rc = 0;
		goto out;
	}
	/* orgRole or role or the default */
	if (jrole)
		sentry_role_parse(json_string_value(jrole), &role);
	m = sentry_member_alloc();
	if (!m || !(m->email = strdup(email)))
		goto out;
	m->role = role;
	m->created = sim_now_ms();
	/* team roles are ignored on invite: memberships only */
	for (i = 0; i < nrows; i++)
		if (sentry_member_team_add(m, rows[i].team, SENTRY_TEAM_ROLE_NULL) < 0)
			goto out;
	if (sentry_member_insert(se, m))
		goto out;
	sim_resp_json(resp, 201, member_json(m));
	m = NULL;
	rc = 0;
out:
	if (m) {
		for (i = 0; i < m->nteams; i++)
			m->teams[i].team->member_count--;
		sentry_member_free(m);
	}
	free(rows);
	json_decref(errs);
	json_decref(body);
	return rc;
}

/* PUT /organizations/{org}/members/{id}/ (organization_member_details.py put()). */
static int update_member(struct sentry_state *se, const struct sim_request *req,
			 struct sim_response *resp, struct sentry_member *m, const char *base)
{
	json_t *body = sim_request_json(req, NULL), *errs = json_object();
	struct sentry_member_team *rows = NULL;
	enum sentry_role role = m->role, tmp;
	const json_t *jorg, *jrole;
	bool teams_given, has_role = false;
	const char *key;
	json_t *v;
	size_t nrows = 0;
	int rc = -1, tc;

	if (!errs)
		goto out;
	if (!json_is_object(body)) {
		rc = detail(resp, 400, "JSON parse error - Expecting value: line 1 column 1 (char 0)");
		goto out;
	}
	jorg = json_object_get(body, "orgRole");
	jrole = json_object_get(body, "role");
	/* the serializer allows retired roles here (allowed_roles = all for the sim's token) */
	if (jrole && !json_is_null(jrole) && check_role(errs, "role", jrole, true, &tmp) == 0) {
		role = tmp;
		has_role = true;
	}
	if (jorg && !json_is_null(jorg) && check_role(errs, "orgRole", jorg, true, &tmp) == 0) {
		role = tmp; /* orgRole wins over role */
		has_role = true;
	}
	tc = check_teams(se, errs, body, &rows, &nrows, &teams_given);
	if (tc == -2)
		goto out;
	if (json_object_size(errs)) {
		sim_resp_json(resp, 400, errs);
		errs = NULL;
		rc = 0;
		goto out;
	}
	if (m->flags & SENTRY_FLAG_PARTNERSHIP_RESTRICTED) {
		rc = detail(resp, 403, "This member is managed by an active partnership and cannot be "
				       "modified until the end of the partnership.");
		goto out;
	}
	if (json_is_true(json_object_get(body, "reinvite"))) {
		json_object_foreach(body, key, v) {
			if (strcmp(key, "reinvite") && strcmp(key, "regenerate")) {
				rc = detail(resp, 403, "You cannot modify member details when resending an "
						       "invitation. Separate requests are required.");
				goto out;
			}
		}
		if (m->user_id == 0) {
			if (json_is_true(json_object_get(body, "regenerate")))
				m->expired = false;
			if (m->expired) {
				rc = detail(resp, 400, "You cannot resend an expired invitation without "
						       "regenerating the token.");
				goto out;
			}
		} else if (m->flags & SENTRY_FLAG_SSO_LINKED) {
			rc = detail(resp, 400, "You cannot send an invitation to a user who is already a "
					       "full member.");
			goto out;
		}
		/* else: Sentry would e-mail an SSO link (the org has an auth provider) */
		sim_resp_json(resp, 200, member_detail_json(se, m, base));
		rc = 0;
		goto out;
	}
	/* Sentry saves team assignments before it validates the org-role change */
	if (teams_given && sentry_member_set_teams(m, rows, nrows))
		goto out;
	if (has_role && role != m->role) {
		if (role == SENTRY_ROLE_ADMIN) {
			rc = detail(resp, 400, "The role 'admin' is deprecated and may no longer be assigned.");
			goto out;
		}
		/* sim's stricter rule: never leave the org without an owner (see docs) */
		if (sentry_member_is_only_owner(se, m)) {
			rc = detail(resp, 400, "You cannot demote the only remaining owner of the organization.");
			goto out;
		}
		sentry_member_set_role(m, role);
	}
	sim_resp_json(resp, 200, member_detail_json(se, m, base));
	rc = 0;
out:
	free(rows);
	json_decref(errs);
	json_decref(body);
	return rc;
}

/* DELETE /organizations/{org}/members/{id}/ */
static int delete_member(struct sentry_state *se, struct sim_response *resp, struct sentry_member *m)
{
	if (sentry_member_is_only_owner(se, m))
		return detail(resp, 403, "You cannot remove the only remaining owner of the organization.");
	if (m->flags & SENTRY_FLAG_IDP_PROVISIONED)
		return detail(resp, 403, "This user is managed through your organization's identity provider.");
	if (m->flags & SENTRY_FLAG_PARTNERSHIP_RESTRICTED)
		return detail(resp, 403, "This member is managed by an active partnership and cannot be "
					 "modified until the end of the partnership.");
	sentry_member_delete(se, m);
	sim_resp_empty(resp, 204);
	return 0;
}

/* /organizations/{org}/members/{id}/teams/{team}/ */
static int member_team(struct sentry_state *se, const struct sim_request *req,
		       struct sim_response *resp, struct sentry_member *m, struct sentry_team *t)
{
	const char *me = req->method;
	struct sentry_member_team *row = sentry_member_team_get(m, t);

	if (!strcmp(me, "POST") || !strcmp(me, "DELETE")) {
		if (t->idp_provisioned)
			return detail(resp, 403, "This team is managed through your organization's "
						 "identity provider.");
		if (!strcmp(me, "POST")) {
			if (row) {
				sim_resp_empty(resp, 204);
				return 0;
			}
			if (sentry_member_team_add(m, t, SENTRY_TEAM_ROLE_NULL) < 0)
				return -1;
			sim_resp_json(resp, 201, team_json(se, t, false));
			return 0;
		}
		sentry_member_team_remove(m, t);
		sim_resp_json(resp, 200, team_json(se, t, false));
		return 0;
	}
	if (!strcmp(me, "PUT")) {
		json_t *body = sim_request_json(req, NULL);
		int role;

		if (!row) {
			json_decref(body);
			return detail(resp, 404, NOT_FOUND);
		}
		if (sentry_team_role_parse(json_string_value(json_object_get(body, "teamRole")), &role)) {
			json_decref(body);
			return detail(resp, 400, "Invalid team-role");
		}
		json_decref(body);
		row->role = sentry_normalise_team_role(m->role, role);
		sim_resp_json(resp, 200, json_pack("{s:b, s:o}", "isActive", 1, "teamRole",
						   jstr(sentry_team_role_id(row->role))));
		return 0;
	}
	{
		char *msg = sim_asprintf("Method \"%s\" not allowed.", me);

		detail(resp, 405, msg ? msg : "Method not allowed.");
		free(msg);
	}
	return 0;
}

/* ---- teams ----------------------------------------------------------------------------------------- */

/* GET /organizations/{org}/teams/ */
static int list_teams(const struct sentry_state *se, const struct sim_request *req,
		      struct sim_response *resp, const char *base)
{
	const char *query = sim_query_get(req, "query"), *det = sim_query_get(req, "detailed");
	bool detailed = !det || strcmp(det, "0") != 0;
	struct qtoks q = { NULL, 0 };
	const struct sentry_team **sel = NULL;
	char *text = NULL;
	json_t *arr = NULL;
	struct page pg;
	size_t i, j, n = 0;
	int rc = -1;

	if (query && *query && tokenize_query(query, &q))
		goto out;
	for (i = 0; i < q.n; i++) {
		int64_t id;

		if (!strcmp(q.t[i].key, "id") && !sim_parse_i64(q.t[i].value, &id)) {
			rc = detail(resp, 400, "Invalid id value");
			goto out;
		}
	}
	text = tok_free_text(&q);
	sel = malloc((se->nteams + 1) * sizeof(*sel));
	if (!sel)
		goto out;
	for (i = 0; i < se->nteams; i++) {
		const struct sentry_team *t = se->teams[i];
		bool ok = true;

		for (j = 0; j < q.n && ok; j++) {
			const char *k = q.t[j].key;

			if (!strcmp(k, "slug"))
				ok = tok_has(&q, "slug", t->slug);
			else if (!strcmp(k, "id"))
				ok = tok_id_match(&q, "id", t->id);
			else if (!strcmp(k, "hasExternalTeams"))
				ok = !tok_has(&q, "hasExternalTeams", "true");
			else if (!strcmp(k, "query"))
				ok = text && (sim_contains_ci(t->name, text) || sim_contains_ci(t->slug, text));
			else
				ok = false;
		}
		if (ok)
			sel[n++] = t;
	}
	if (!paginate(req, resp, base, n, &pg)) {
		rc = 0;
		goto out;
	}
	arr = json_array();
	if (!arr)
		goto out;
	for (i = 0; i < pg.count; i++)
		if (json_array_append_new(arr, team_json(se, sel[pg.start + i], detailed)))
			goto out;
	sim_resp_json(resp, 200, arr);
	arr = NULL;
	rc = 0;
out:
	json_decref(arr);
	free(sel);
	free(text);
	qtoks_free(&q);
	return rc;
}

/* POST /organizations/{org}/teams/ */
static int create_team(struct sentry_state *se, const struct sim_request *req,
		       struct sim_response *resp)
{
	json_t *body = sim_request_json(req, NULL);
	const json_t *js = json_object_get(body, "slug"), *jn = json_object_get(body, "name");
	const char *slug = json_string_value(js), *name = json_string_value(jn);
	struct sentry_team *t = NULL;
	char *gen = NULL;
	int rc = -1, r;

	if (!json_is_object(body)) {
		rc = detail(resp, 400, "JSON parse error - Expecting value: line 1 column 1 (char 0)");
		goto out;
	}
	if ((!slug || !*slug) && (!name || !*name)) {
		sim_resp_json(resp, 400, json_pack("{s:[s]}", "non_field_errors", "Name or slug is required"));
		rc = 0;
		goto out;
	}
	if (name && strlen(name) > 64) {
		rc = field_error(resp, "name", "Ensure this field has no more than 64 characters.");
		goto out;
	}
	if (!slug || !*slug) {
		gen = sentry_slugify(name);
		if (!gen)
			goto out;
		if (strlen(gen) > 50)
			gen[50] = '\0';
		slug = gen;
	}
	if (strlen(slug) > 50) {
		rc = field_error(resp, "slug", "Ensure this field has no more than 50 characters.");
		goto out;
	}
	if (!sentry_slug_valid(slug, 50)) {
		rc = field_error(resp, "slug", SLUG_MSG);
		goto out;
	}
	if (sentry_team_find(se, slug)) {
		sim_resp_json(resp, 409, json_pack("{s:[s], s:s}",
			"non_field_errors", "A team with this slug already exists.",
			"detail", "A team with this slug already exists."));
		rc = 0;
		goto out;
	}
	t = sentry_team_alloc();
	if (!t || !(t->slug = strdup(slug)) || !(t->name = strdup(name && *name ? name : slug)))
		goto out;
	t->created = sim_now_ms();
	r = sentry_team_insert(se, t);
	if (r)
		goto out;
	sim_resp_json(resp, 201, team_json(se, t, false));
	t = NULL;
	rc = 0;
out:
	sentry_team_free(t);
	free(gen);
	json_decref(body);
	return rc;
}

/*
 * DELETE /teams/{org}/{team}/: 204. Sentry schedules the deletion and
 * releases the slug at once (docs.sentry.io/api/teams/delete-a-team/); the
 * sim removes the team outright. Its members lose the membership and its
 * projects lose it from their team list (they stay, maybe with no team).
 */
static int delete_team(struct sentry_state *se, struct sim_response *resp, struct sentry_team *t)
{
	size_t i, j, k;

	for (i = 0; i < se->nmembers; i++)
		sentry_member_team_remove(se->members[i], t);
	for (i = 0; i < se->nprojects; i++) {
		struct sentry_project *p = se->projects[i];

		for (j = k = 0; j < p->nteams; j++)
			if (p->teams[j] != t)
				p->teams[k++] = p->teams[j];
		p->nteams = k;
	}
	for (i = 0; i < se->nteams; i++) {
		if (se->teams[i] == t) {
			memmove(&se->teams[i], &se->teams[i + 1], (se->nteams - i - 1) * sizeof(*se->teams));
			se->nteams--;
			break;
		}
	}
	sentry_team_free(t);
	sim_resp_empty(resp, 204);
	return 0;
}

/* ---- projects ----------------------------------------------------------------------------------------- */

/* Is slug in the reserved list? */
static bool reserved_slug(const char *s)
{
	size_t i;

	for (i = 0; reserved_project_slugs[i]; i++)
		if (!strcmp(s, reserved_project_slugs[i]))
			return true;
	return false;
}

/* Does project p belong to a team with this slug? */
static bool project_in_team(const struct sentry_project *p, const char *slug)
{
	size_t i;

	for (i = 0; i < p->nteams; i++)
		if (!strcmp(p->teams[i]->slug, slug))
			return true;
	return false;
}

/* Project list (org-wide when team is NULL). */
static int list_projects(const struct sentry_state *se, const struct sim_request *req,
			 struct sim_response *resp, const char *base, const struct sentry_team *team)
{
	const char *query = sim_query_get(req, "query");
	struct qtoks q = { NULL, 0 };
	const struct sentry_project **sel = NULL;
	char *text = NULL;
	json_t *arr = NULL;
	struct page pg;
	size_t i, j, k, n = 0;
	int rc = -1;

	if (!team && query && *query && tokenize_query(query, &q))
		goto out;
	text = tok_free_text(&q);
	sel = malloc((se->nprojects + 1) * sizeof(*sel));
	if (!sel)
		goto out;
	for (i = 0; i < se->nprojects; i++) {
		const struct sentry_project *p = se->projects[i];
		bool ok = true;

		if (team) {
			ok = false;
			for (k = 0; k < p->nteams; k++)
				if (p->teams[k] == team)
					ok = true;
		}
		for (j = 0; j < q.n && ok; j++) {
			const char *key = q.t[j].key;

			if (!strcmp(key, "slug")) {
				ok = tok_has(&q, "slug", p->slug);
			} else if (!strcmp(key, "id")) {
				ok = tok_id_match(&q, "id", p->id);
			} else if (!strcmp(key, "team")) {
				ok = false;
				for (k = 0; k < q.n && !ok; k++)
					if (!strcmp(q.t[k].key, "team") && project_in_team(p, q.t[k].value))
						ok = true;
			} else if (!strcmp(key, "!team")) {
				for (k = 0; k < q.n && ok; k++)
					if (!strcmp(q.t[k].key, "!team") && project_in_team(p, q.t[k].value))
						ok = false;
			} else if (!strcmp(key, "is_member")) {
				ok = !tok_has(&q, "is_member", "true");
			} else if (!strcmp(key, "query")) {
				ok = text && (sim_contains_ci(p->name, text) || sim_contains_ci(p->slug, text));
			} else {
				ok = false;
			}
		}
		if (ok)
			sel[n++] = p;
	}
	if (!paginate(req, resp, base, n, &pg)) {
		rc = 0;
		goto out;
	}
	arr = json_array();
	if (!arr)
		goto out;
	for (i = 0; i < pg.count; i++)
		if (json_array_append_new(arr, project_json(sel[pg.start + i])))
			goto out;
	sim_resp_json(resp, 200, arr);
	arr = NULL;
	rc = 0;
out:
	json_decref(arr);
	free(sel);
	free(text);
	qtoks_free(&q);
	return rc;
}

/* POST /teams/{org}/{team}/projects/ */
static int create_project(struct sentry_state *se, const struct sim_request *req,
			  struct sim_response *resp, struct sentry_team *team)
{
	json_t *body = sim_request_json(req, NULL), *errs = json_object();
	const json_t *jn = json_object_get(body, "name"), *js = json_object_get(body, "slug");
	const json_t *jp = json_object_get(body, "platform");
	const char *name = json_string_value(jn), *slug = json_string_value(js);
	struct sentry_project *p = NULL;
	char *gen = NULL, *msg = NULL;
	int rc = -1, i;

	if (!errs)
		goto out;
	if (!json_is_object(body)) {
		rc = detail(resp, 400, "JSON parse error - Expecting value: line 1 column 1 (char 0)");
		goto out;
	}
	if (!jn || json_is_null(jn)) {
		add_err(errs, "name", "This field is required.");
	} else if (!name || !*name) {
		add_err(errs, "name", "This field may not be blank.");
	} else if (strlen(name) > 50) {
		add_err(errs, "name", "Ensure this field has no more than 50 characters.");
	} else if (reserved_slug(name)) {
		msg = sim_asprintf("The name \"%s\" is reserved and not allowed.", name);
		add_err(errs, "name", msg ? msg : "reserved");
	}
	if (js && !json_is_null(js)) {
		if (!slug || strlen(slug) > 100) {
			add_err(errs, "slug", "Ensure this field has no more than 100 characters.");
		} else if (!sentry_slug_valid(slug, 100)) {
			add_err(errs, "slug", SLUG_MSG);
		} else if (reserved_slug(slug)) {
			free(msg);
			msg = sim_asprintf("The slug \"%s\" is reserved and not allowed.", slug);
			add_err(errs, "slug", msg ? msg : "reserved");
		}
	} else {
		slug = NULL;
	}
	if (jp && !json_is_null(jp) && !json_is_string(jp))
		add_err(errs, "platform", "Invalid platform");
	if (json_object_size(errs)) {
		sim_resp_json(resp, 400, errs);
		errs = NULL;
		rc = 0;
		goto out;
	}
	if (slug && sentry_project_find(se, slug)) {
		rc = detail(resp, 409, "A project with this slug already exists.");
		goto out;
	}
	if (!slug) {
		/* generated from the name; a taken slug gets a numeric suffix (Sentry: random) */
		char *s = sentry_slugify(name);

		if (!s)
			goto out;
		if (strlen(s) > 90)
			s[90] = '\0';
		if (!sentry_slug_valid(s, 100)) {
			free(s);
			s = strdup("project");
			if (!s)
				goto out;
		}
		gen = strdup(s);
		for (i = 2; gen && (sentry_project_find(se, gen) || reserved_slug(gen)); i++) {
			free(gen);
			gen = sim_asprintf("%s-%d", s, i);
		}
		free(s);
		if (!gen)
			goto out;
		slug = gen;
	}
	p = sentry_project_alloc();
	if (!p || !(p->slug = strdup(slug)) || !(p->name = strdup(name)))
		goto out;
	if (json_is_string(jp) && !(p->platform = strdup(json_string_value(jp))))
		goto out;
	p->created = sim_now_ms();
	if (sentry_project_add_team(p, team) || sentry_project_insert(se, p))
		goto out;
	sim_resp_json(resp, 201, project_json(p));
	p = NULL;
	rc = 0;
out:
	sentry_project_free(p);
	free(gen);
	free(msg);
	json_decref(errs);
	json_decref(body);
	return rc;
}

/* ---- routing ------------------------------------------------------------------------------------------ */

/* 405 with DRF's message. */
static int bad_method(const struct sim_request *req, struct sim_response *resp)
{
	char *msg = sim_asprintf("Method \"%s\" not allowed.", req->method);

	detail(resp, 405, msg ? msg : "Method not allowed.");
	free(msg);
	return 0;
}

/* Does {org} (slug or numeric id) name the simulated org? */
static bool org_matches(const struct sentry_state *se, const char *key)
{
	int64_t id;

	if (!strcmp(key, se->org_slug))
		return true;
	return sim_parse_i64(key, &id) && id == se->org_id;
}

/* Member by numeric id ("me" and others: none). */
static struct sentry_member *find_member(const struct sentry_state *se, const char *key)
{
	int64_t id;

	if (!sim_parse_i64(key, &id))
		return NULL;
	return sentry_member_find(se, id);
}


/* ---- issues: "Update an Issue" (Slack triage, issue 8) ---------------------------------------------- */

/*
 * PUT/GET /api/0/organizations/{org}/issues/{issue_id}/. Validation as
 * Sentry's GroupValidator (src/sentry/api/helpers/group_index/validators):
 * status in STATUS_UPDATE_CHOICES, substatus in SUBSTATUS_UPDATE_CHOICES,
 * statusDetails a StatusDetailsValidator object (integers, windows at most
 * 7 days), assignedTo an ActorField ("user:<id>", "<id>", "team:<id>", a
 * username or e-mail; "Unknown actor input" otherwise). Errors are DRF
 * field errors {"field": ["..."]}; an unknown issue is 404 {"detail": ...}.
 *
 * Which issues exist: every decimal id below SIM_ISSUE_UNKNOWN_FROM (created
 * on first use as an unresolved issue of project my-awesome-app, so the ids
 * webhooks carry in tests are issues), plus those created with
 * POST /_sim/sentry/issues. Ids from SIM_ISSUE_UNKNOWN_FROM up are unknown.
 * Issues live outside the org state (a /_sim/reset keeps them; DELETE
 * /_sim/sentry/issues forgets them).
 */
#define SIM_ISSUE_UNKNOWN_FROM 900000

struct sim_issue {
	char *id, *project, *title;
	char status[32];
	char substatus[48];   /* "" = null */
	json_t *status_details;
	json_t *assigned;     /* serialized actor, NULL = unassigned */
	long puts;            /* PUTs that changed it (200) */
	long refused;         /* PUTs answered 400 */
};

static struct {
	pthread_mutex_t mu;
	struct sim_issue *v;
	size_t n, cap;
} IS = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The issue with this id; created when absent and create is set (or when
 * the id is a small decimal number). NULL: unknown (or out of memory). */
static struct sim_issue *issue_get(const char *id, const char *project, bool create)
{
	int64_t n;
	for (size_t i = 0; i < IS.n; i++)
		if (!strcmp(IS.v[i].id, id))
			return &IS.v[i];
	if (!create && !(sim_parse_i64(id, &n) && n > 0 && n < SIM_ISSUE_UNKNOWN_FROM))
		return NULL;
	if (IS.n == IS.cap) {
		size_t cap = IS.cap ? IS.cap * 2 : 64;
		struct sim_issue *v = realloc(IS.v, cap * sizeof *v);
		if (!v)
			return NULL;
		IS.v = v;
		IS.cap = cap;
	}
	struct sim_issue *is = &IS.v[IS.n];
	memset(is, 0, sizeof *is);
	is->id = sim_strdup(id);
	is->project = sim_strdup(project ? project : "my-awesome-app");
	is->title = sim_asprintf("Issue %s", id);
	snprintf(is->status, sizeof is->status, "unresolved");
	snprintf(is->substatus, sizeof is->substatus, "ongoing");
	is->status_details = json_object();
	if (!is->id || !is->project || !is->title || !is->status_details) {
		free(is->id);
		free(is->project);
		free(is->title);
		json_decref(is->status_details);
		return NULL;
	}
	IS.n++;
	return is;
}

static json_t *issue_json(const struct sentry_state *se, const struct sim_issue *is)
{
	const struct sentry_project *p = sentry_project_find(se, is->project);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:O,s:O,s:{s:o,s:s,s:s},s:s,s:i,s:s}",
			 "id", is->id, "shortId", "SIM-1", "title", is->title, "level", "error",
			 "status", is->status, "substatus", is->substatus[0] ? json_string(is->substatus) : json_null(),
			 "statusDetails", is->status_details, "assignedTo", is->assigned ? is->assigned : json_null(),
			 "project", "id", p ? jid(p->id) : json_string("0"), "slug", is->project, "name", is->project,
			 "count", "1", "userCount", 0, "permalink", "http://sentry.example/issues/");
}

static const char *const issue_statuses[] = {"resolved", "resolvedInNextRelease", "unresolved", "ignored", NULL};
static const char *const issue_substatuses[] = {
	"archived_until_escalating", "archived_until_condition_met", "archived_forever", "escalating",
	"ongoing", "regressed", "new", "until_escalating", "until_condition_met", "forever", NULL};

static bool in_list(const char *const *l, const char *v)
{
	for (; *l; l++)
		if (!strcmp(*l, v))
			return true;
	return false;
}

/* DRF's "is not a valid choice" text. */
static void choice_err(json_t *errs, const char *field, const char *v)
{
	char *m = sim_asprintf("\"%s\" is not a valid choice.", v);
	add_err(errs, field, m ? m : "not a valid choice");
	free(m);
}

/* assignedTo (ActorField): the serialized actor, json_null() to unassign,
 * NULL with an error recorded. */
static json_t *actor_of(const struct sentry_state *se, const json_t *v, json_t *errs)
{
	const char *s = json_string_value(v);
	const struct sentry_member *m = NULL;
	int64_t id;
	if (json_is_null(v) || (s && !*s))
		return json_null();
	if (json_is_integer(v)) {
		id = (int64_t)json_integer_value(v);
		goto by_user_id;
	}
	if (!s)
		goto unknown;
	if (!strncmp(s, "team:", 5)) {
		for (size_t i = 0; i < se->nteams; i++)
			if (sim_parse_i64(s + 5, &id) && se->teams[i]->id == id)
				return json_pack("{s:s,s:o,s:s}", "type", "team", "id", jid(id), "name", se->teams[i]->slug);
		goto unknown;
	}
	if (sim_parse_i64(!strncmp(s, "user:", 5) ? s + 5 : s, &id))
		goto by_user_id;
	m = sentry_member_find_email(se, s); /* username or primary e-mail (the sim's username is the e-mail) */
	if (m && m->user_id)
		goto found;
	goto unknown;
by_user_id:
	for (size_t i = 0; i < se->nmembers; i++)
		if (se->members[i]->user_id == id) {
			m = se->members[i];
			goto found;
		}
unknown:
	add_err(errs, "assignedTo", "Unknown actor input");
	return NULL;
found:
	return json_pack("{s:s,s:o,s:s,s:s}", "type", "user", "id", jid(m->user_id), "name",
			 m->name ? m->name : m->email, "email", m->email);
}

static int update_issue(struct sentry_state *se, const struct sim_request *req, struct sim_response *resp,
			struct sim_issue *is)
{
	json_error_t jerr;
	json_t *body = sim_request_json(req, &jerr), *errs = json_object(), *actor = NULL, *sd = NULL;
	int rc = 0;
	if (!errs)
		goto oom;
	if (!json_is_object(body)) {
		char *m = sim_asprintf("JSON parse error - %s", body ? "Expected an object" : jerr.text);
		detail(resp, 400, m ? m : "JSON parse error");
		free(m);
		is->refused++;
		goto out;
	}
	const json_t *st = json_object_get(body, "status"), *sub = json_object_get(body, "substatus"),
		     *det = json_object_get(body, "statusDetails"), *as = json_object_get(body, "assignedTo");
	if (st && !(json_is_string(st) && in_list(issue_statuses, json_string_value(st))))
		choice_err(errs, "status", json_is_string(st) ? json_string_value(st) : "?");
	if (sub && !json_is_null(sub) && !(json_is_string(sub) && in_list(issue_substatuses, json_string_value(sub))))
		choice_err(errs, "substatus", json_is_string(sub) ? json_string_value(sub) : "?");
	if (det && !json_is_object(det)) {
		add_err(errs, "statusDetails", "Invalid data. Expected a dictionary.");
	} else if (det) {
		static const char *const ints[] = {"ignoreDuration", "ignoreCount", "ignoreWindow", "ignoreUserCount",
						   "ignoreUserWindow", NULL};
		for (const char *const *k = ints; *k; k++) {
			const json_t *v = json_object_get(det, *k);
			if (!v)
				continue;
			if (!json_is_integer(v))
				add_err(errs, "statusDetails", "A valid integer is required.");
			else if (strstr(*k, "Window") && json_integer_value(v) > 7 * 24 * 60)
				add_err(errs, "statusDetails", "Ensure this value is less than or equal to 10080.");
		}
	}
	if (as)
		actor = actor_of(se, as, errs); /* NULL: the error is recorded */
	if (json_object_size(errs)) {
		sim_resp_json(resp, 400, errs);
		errs = NULL;
		is->refused++;
		goto out;
	}
	if (st) {
		const char *sv = json_string_value(st);
		const char *subv = json_string_value(sub);
		int64_t dur = det ? (int64_t)json_integer_value(json_object_get(det, "ignoreDuration")) : 0;
		snprintf(is->status, sizeof is->status, "%s", !strcmp(sv, "resolvedInNextRelease") ? "resolved" : sv);
		if (!(sd = json_object()))
			goto oom;
		if (!strcmp(sv, "ignored")) {
			/* infer_substatus: until escalating when asked, a condition when
			 * there is one, else forever */
			if (subv && strstr(subv, "until_escalating"))
				snprintf(is->substatus, sizeof is->substatus, "archived_until_escalating");
			else if (dur > 0 || (det && json_object_size(det)))
				snprintf(is->substatus, sizeof is->substatus, "archived_until_condition_met");
			else
				snprintf(is->substatus, sizeof is->substatus, "archived_forever");
			if (dur > 0) {
				char ts[SIM_TIME_BUFSZ];
				sim_fmt_sentry_time(sim_now_ms() + dur * 60000, ts);
				json_object_set_new(sd, "ignoreUntil", json_string(ts));
				json_object_set_new(sd, "ignoreDuration", json_integer((json_int_t)dur));
			}
		} else if (!strcmp(sv, "unresolved")) {
			snprintf(is->substatus, sizeof is->substatus, "ongoing");
		} else {
			is->substatus[0] = '\0';
		}
		json_decref(is->status_details);
		is->status_details = sd;
		sd = NULL;
	}
	if (actor) {
		json_decref(is->assigned);
		is->assigned = json_is_null(actor) ? NULL : actor;
		if (json_is_null(actor))
			json_decref(actor);
		actor = NULL;
	}
	is->puts++;
	sim_resp_json(resp, 200, issue_json(se, is));
	goto out;
oom:
	rc = -1;
out:
	json_decref(sd);
	json_decref(actor);
	json_decref(errs);
	json_decref(body);
	return rc;
}

/* /api/0/organizations/{org}/issues/{id}/ */
static int route_issue(struct sentry_state *se, const struct sim_request *req, struct sim_response *resp)
{
	int rc = 0;
	pthread_mutex_lock(&IS.mu);
	struct sim_issue *is = req->nseg == 6 ? issue_get(req->seg[5], NULL, false) : NULL;
	if (!is)
		rc = detail(resp, 404, NOT_FOUND);
	else if (!strcmp(req->method, "GET"))
		sim_resp_json(resp, 200, issue_json(se, is));
	else if (!strcmp(req->method, "PUT"))
		rc = update_issue(se, req, resp, is);
	else
		rc = bad_method(req, resp);
	pthread_mutex_unlock(&IS.mu);
	return rc;
}

/* Control: /_sim/sentry/issues[/{id}] (GET: state and counters; POST
 * {"id", "project"?, "title"?}: create; DELETE: forget every issue). */
static int sentry_ctl_handle(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp)
{
	const struct sentry_state *se = &ctx->state->sentry;
	pthread_mutex_lock(&IS.mu);
	bool get = !strcmp(req->method, "GET");
	if (req->nseg < 3 || strcmp(req->seg[2], "issues")) {
		sim_resp_json(resp, 404, json_pack("{s:s}", "error", "unknown sentry control endpoint"));
	} else if (req->nseg == 4 && get) {
		struct sim_issue *is = issue_get(req->seg[3], NULL, false);
		json_t *o = is ? issue_json(se, is) : NULL;
		if (o) {
			json_object_set_new(o, "puts", json_integer(is->puts));
			json_object_set_new(o, "refused", json_integer(is->refused));
			sim_resp_json(resp, 200, o);
		} else {
			sim_resp_json(resp, 404, json_pack("{s:s}", "error", "unknown issue"));
		}
	} else if (req->nseg == 3 && get) {
		json_t *arr = json_array();
		for (size_t i = 0; i < IS.n; i++)
			json_array_append_new(arr, issue_json(se, &IS.v[i]));
		sim_resp_json(resp, 200, json_pack("{s:o}", "issues", arr));
	} else if (req->nseg == 3 && !strcmp(req->method, "POST")) {
		json_t *b = sim_request_json(req, NULL);
		const char *id = json_string_value(json_object_get(b, "id"));
		struct sim_issue *is = id && *id ? issue_get(id, json_string_value(json_object_get(b, "project")), true)
						 : NULL;
		const char *title = json_string_value(json_object_get(b, "title"));
		if (is && title) {
			free(is->title);
			is->title = sim_strdup(title);
		}
		if (is)
			sim_resp_json(resp, 201, issue_json(se, is));
		else
			sim_resp_json(resp, 400, json_pack("{s:s}", "error", "need {\"id\": \"...\"}"));
		json_decref(b);
	} else if (req->nseg == 3 && !strcmp(req->method, "DELETE")) {
		for (size_t i = 0; i < IS.n; i++) {
			free(IS.v[i].id);
			free(IS.v[i].project);
			free(IS.v[i].title);
			json_decref(IS.v[i].status_details);
			json_decref(IS.v[i].assigned);
		}
		IS.n = 0;
		sim_resp_empty(resp, 204);
	} else {
		sim_resp_json(resp, 405, json_pack("{s:s}", "error", "method not allowed"));
	}
	pthread_mutex_unlock(&IS.mu);
	return 0;
}


/* /api/0/organizations/{org}/... */
static int route_org(struct sentry_state *se, const struct sim_request *req,
		     struct sim_response *resp, const char *base)
{
	const char *m = req->method;
	struct sentry_member *mem;
	struct sentry_team *t;

	if (req->nseg == 4) {
		char ts[SIM_TIME_BUFSZ];

		if (strcmp(m, "GET"))
			return bad_method(req, resp);
		sim_fmt_sentry_time(se->org_created, ts);
		sim_resp_json(resp, 200, json_pack("{s:o, s:s, s:s, s:s, s:{s:s, s:s}, s:b, s:b}",
			"id", jid(se->org_id), "slug", se->org_slug, "name", se->org_name,
			"dateCreated", ts, "status", "id", "active", "name", "active",
			"isEarlyAdopter", 0, "require2FA", 0));
		return 0;
	}
	if (!strcmp(req->seg[4], "members")) {
		if (req->nseg == 5) {
			if (!strcmp(m, "GET"))
				return list_members(se, req, resp, base);
			if (!strcmp(m, "POST"))
				return invite_member(se, req, resp);
			return bad_method(req, resp);
		}
		mem = find_member(se, req->seg[5]);
		if (!mem)
			return detail(resp, 404, NOT_FOUND);
		if (req->nseg == 6) {
			if (!strcmp(m, "GET")) {
				sim_resp_json(resp, 200, member_detail_json(se, mem, base));
				return 0;
			}
			if (!strcmp(m, "PUT"))
				return update_member(se, req, resp, mem, base);
			if (!strcmp(m, "DELETE"))
				return delete_member(se, resp, mem);
			return bad_method(req, resp);
		}
		if (req->nseg == 8 && !strcmp(req->seg[6], "teams")) {
			t = sentry_team_find(se, req->seg[7]);
			if (!t)
				return detail(resp, 404, NOT_FOUND);
			return member_team(se, req, resp, mem, t);
		}
		return detail(resp, 404, NOT_FOUND);
	}
	if (!strcmp(req->seg[4], "teams") && req->nseg == 5) {
		if (!strcmp(m, "GET"))
			return list_teams(se, req, resp, base);
		if (!strcmp(m, "POST"))
			return create_team(se, req, resp);
		return bad_method(req, resp);
	}
	if (!strcmp(req->seg[4], "projects") && req->nseg == 5) {
		if (!strcmp(m, "GET"))
			return list_projects(se, req, resp, base, NULL);
		return bad_method(req, resp);
	}
	if (!strcmp(req->seg[4], "issues") && req->nseg == 6)
		return route_issue(se, req, resp);
	return detail(resp, 404, NOT_FOUND);
}

/* /api/0/teams/{org}/{team}/... */
static int route_team(struct sentry_state *se, const struct sim_request *req,
		      struct sim_response *resp, const char *base)
{
	struct sentry_team *t = req->nseg >= 5 ? sentry_team_find(se, req->seg[4]) : NULL;

	if (!t)
		return detail(resp, 404, NOT_FOUND);
	if (req->nseg == 5) {
		if (!strcmp(req->method, "DELETE"))
			return delete_team(se, resp, t);
		if (strcmp(req->method, "GET"))
			return bad_method(req, resp);
		sim_resp_json(resp, 200, team_json(se, t, true));
		return 0;
	}
	if (req->nseg == 6 && !strcmp(req->seg[5], "members")) {
		if (strcmp(req->method, "GET"))
			return bad_method(req, resp);
		return list_team_members(se, req, resp, base, t);
	}
	if (req->nseg == 6 && !strcmp(req->seg[5], "projects")) {
		if (!strcmp(req->method, "GET"))
			return list_projects(se, req, resp, base, t);
		if (!strcmp(req->method, "POST"))
			return create_project(se, req, resp, t);
		return bad_method(req, resp);
	}
	return detail(resp, 404, NOT_FOUND);
}

/* True if the Authorization header is "Bearer <configured token>". */
static bool sentry_authorized(const struct sim_ctx *ctx, const struct sim_request *req)
{
	const char *a = req->authorization;

	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	while (*a == ' ')
		a++;
	return sim_secret_eq(a, ctx->opts.sentry_token);
}

/* Handle /api/0/... */
static int sentry_handle(struct sim_ctx *ctx, const struct sim_request *req,
			 struct sim_response *resp)
{
	struct sentry_state *se = &ctx->state->sentry;
	char *base;
	int rc;

	if (!sentry_authorized(ctx, req))
		return detail(resp, 401, "Invalid token");
	if (req->nseg < 4 || (strcmp(req->seg[2], "organizations") && strcmp(req->seg[2], "teams")))
		return detail(resp, 404, NOT_FOUND);
	if (!org_matches(se, req->seg[3]))
		return detail(resp, 404, NOT_FOUND);
	base = sim_base_url(req);
	if (!base)
		return -1;
	if (!strcmp(req->seg[2], "organizations"))
		rc = route_org(se, req, resp, base);
	else
		rc = route_team(se, req, resp, base);
	free(base);
	return rc;
}

/* Injected faults rendered the Sentry way (sentry-api.md 5.1). */
static int sentry_fault(struct sim_ctx *ctx, const struct sim_request *req,
			struct sim_response *resp, int status, int retry_after)
{
	(void)ctx;
	if (status == 429) {
		/* the rate-limit middleware's body is a JSON string, and it sets no Retry-After */
		sim_resp_json(resp, 429, json_string("You are attempting to use this endpoint too "
						     "frequently. Limit is 40 requests in 1 seconds"));
	} else if (status == 500) {
		sim_resp_json(resp, 500, json_pack("{s:s, s:s}", "detail", "Internal Error",
						   "errorId", "5f1c4b6e0a9d4c2fb1e3a7d8c9b0e1f2"));
	} else if (status == 204) {
		sim_resp_empty(resp, 204);
	} else if (status == 403) {
		/* DRF's PermissionDenied, e.g. disable_member_project_creation (sentry-api.md 3.3) */
		detail(resp, 403, "You do not have permission to perform this action.");
	} else if (status == 409 && !strcmp(req->method, "POST") && req->nseg == 6 &&
		   !strcmp(req->seg[2], "teams") && !strcmp(req->seg[5], "projects")) {
		/* the slug was taken by someone else in the meantime */
		detail(resp, 409, "A project with this slug already exists.");
	} else if (status == 409 && !strcmp(req->method, "POST") && req->nseg == 5 &&
		   !strcmp(req->seg[2], "organizations") && !strcmp(req->seg[4], "teams")) {
		sim_resp_json(resp, 409, json_pack("{s:[s], s:s}",
			"non_field_errors", "A team with this slug already exists.",
			"detail", "A team with this slug already exists."));
	} else {
		detail(resp, status, sim_reason(status));
	}
	if (retry_after >= 0)
		sim_resp_headerf(resp, "Retry-After", "%d", retry_after);
	return 0;
}

const struct sim_upstream sim_upstream_sentry = {
	.name = "sentry",
	.prefix = "/api/0",
	.control = false,
	.locked = true,
	.handle = sentry_handle,
	.fault = sentry_fault,
};

/* Control of the issues (Slack triage tests): /_sim/sentry/issues. */
const struct sim_upstream sim_upstream_sentryctl = {
	.name = "sentryctl",
	.prefix = "/_sim/sentry/issues",
	.control = true,
	.locked = true,
	.handle = sentry_ctl_handle,
	.fault = NULL,
};
