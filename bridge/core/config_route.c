/*
 * config_route.c: the routing section (issue 8), modelled on Prometheus
 * Alertmanager: named receivers, a route tree whose children inherit what
 * they do not set, matchers, and time intervals.
 *
 * After the YAML walk, cfg_routing_finish() goes down the tree once:
 * records which keys each node wrote (config_route.set_mask), copies the
 * inherited ones from the parent, and checks the references (receivers,
 * time intervals), the matchers (regexes compiled) and the intervals.
 * Pure configuration: the routing decisions themselves live in policies/.
 */
#include "config_int.h"

#include "buf.h"

#include <ctype.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define ROW(st, k, T, f, d, h, ...)                                                                                    \
	{                                                                                                              \
		.key = (k), .type = (T), .off = offsetof(st, f), .def = (d), .help = (h), __VA_ARGS__                  \
	}
#define BOUNDS(lo, hi) .bounded = true, .min = (lo), .max = (hi)
#define SEC_MS 1000LL
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

#define ROUTING_FEATURE "alert routing to Slack (issue 8)"

static const struct cfg_row receiver_rows[] = {
    ROW(struct config_receiver, "name", CT_STRING, name, NULL, "name routes refer to",
	.flags = CF_REQUIRED | CF_NONEMPTY),
    ROW(struct config_receiver, "channel", CT_STRING, channel, NULL,
	"Slack channel: \"#name\", \"name\" or a channel ID"),
    ROW(struct config_receiver, "email", CT_STRING, email, NULL, "or a person, by e-mail, who gets a direct message",
	.flags = CF_EMAIL),
    ROW(struct config_receiver, "send_resolved", CT_BOOL, send_resolved, "true",
	"also notify when the issue is resolved"),
    ROW(struct config_receiver, "tags", CT_STRLIST, tags, NULL, "Sentry tags shown in the message",
	.flags = CF_NONEMPTY),
};
static const struct cfg_table receiver_tab = {"config_receiver", receiver_rows,
					      sizeof receiver_rows / sizeof receiver_rows[0],
					      sizeof(struct config_receiver), ROUTING_FEATURE};

/* Row order is the bit order of config_route.set_mask. */
static const struct cfg_row route_rows[] = {
    ROW(struct config_route, "receiver", CT_STRING, receiver, NULL,
	"receiver of the alerts this route matches (required at the root)", .flags = CF_INHERIT),
    ROW(struct config_route, "fallback_receiver", CT_STRING, fallback_receiver, NULL,
	"receiver used when posting to receiver fails for good (archived channel, bot removed)", .flags = CF_INHERIT),
    ROW(struct config_route, "group_by", CT_STRLIST, group_by, "[project, issue]",
	"alert attributes that make a group (one Slack message per group); \"...\" = all",
	.flags = CF_INHERIT | CF_NONEMPTY),
    ROW(struct config_route, "group_wait", CT_DURATION, group_wait_ms, "30s",
	"wait before the first message of a new group", .flags = CF_INHERIT, BOUNDS(0, HOUR_MS)),
    ROW(struct config_route, "group_interval", CT_DURATION, group_interval_ms, "5m",
	"at most one update of a group per interval", .flags = CF_INHERIT, BOUNDS(SEC_MS, DAY_MS)),
    ROW(struct config_route, "repeat_interval", CT_DURATION, repeat_interval_ms, "4h",
	"a still-firing group is posted again after this long", .flags = CF_INHERIT, BOUNDS(MIN_MS, 30 * DAY_MS)),
    ROW(struct config_route, "matchers", CT_STRLIST, matchers, NULL,
	"all must match: label op value, labels project, team, level, environment, alert_rule, "
	"resource, tag:NAME; ops = != =~ !~",
	.flags = CF_NONEMPTY),
    ROW(struct config_route, "continue", CT_BOOL, continue_, "false",
	"keep looking at the next sibling routes after a match"),
    ROW(struct config_route, "mute_time_intervals", CT_STRLIST, mute_time_intervals, NULL,
	"time intervals during which this route does not notify (not inherited)", .flags = CF_NONEMPTY),
    ROW(struct config_route, "active_time_intervals", CT_STRLIST, active_time_intervals, NULL,
	"time intervals outside which this route does not notify (not inherited)", .flags = CF_NONEMPTY),
    ROW(struct config_route, "routes", CT_ROUTES, routes, NULL,
	"child routes: same keys, recursively; unset keys are inherited", .sub = &cfg_route_table,
	.aux = offsetof(struct config_route, n_routes)),
};
const struct cfg_table cfg_route_table = {"config_route", route_rows, sizeof route_rows / sizeof route_rows[0],
					  sizeof(struct config_route), ROUTING_FEATURE};
_Static_assert(sizeof route_rows / sizeof route_rows[0] <= 64, "set_mask has 64 bits");

static const struct cfg_row interval_rows[] = {
    ROW(struct config_time_interval, "name", CT_STRING, name, NULL, "name routes refer to",
	.flags = CF_REQUIRED | CF_NONEMPTY),
    ROW(struct config_time_interval, "location", CT_STRING, location, "UTC",
	"IANA time zone of the times, e.g. Europe/Madrid", .flags = CF_NONEMPTY),
    ROW(struct config_time_interval, "weekdays", CT_STRLIST, weekdays, NULL,
	"days or ranges: monday, monday:friday; empty = every day", .flags = CF_NONEMPTY),
    ROW(struct config_time_interval, "times", CT_STRLIST, times, NULL, "times of day: 09:00-17:30; empty = all day",
	.flags = CF_NONEMPTY),
    ROW(struct config_time_interval, "days_of_month", CT_STRLIST, days_of_month, NULL,
	"days or ranges: 1, 1:7, -1 (the last day); empty = every day", .flags = CF_NONEMPTY),
    ROW(struct config_time_interval, "months", CT_STRLIST, months, NULL,
	"months or ranges: january, 1:3; empty = every month", .flags = CF_NONEMPTY),
};
static const struct cfg_table interval_tab = {"config_time_interval", interval_rows,
					      sizeof interval_rows / sizeof interval_rows[0],
					      sizeof(struct config_time_interval), ROUTING_FEATURE};

static const struct cfg_row routing_rows[] = {
    ROW(struct config_routing, "receivers", CT_LIST, receivers, NULL, "where alerts can go", .sub = &receiver_tab,
	.aux = offsetof(struct config_routing, n_receivers)),
    ROW(struct config_routing, "route", CT_SECTION, route, NULL, "the root of the route tree; present = routing is on",
	.sub = &cfg_route_table, .flags = CF_PRESENCE, .aux = offsetof(struct config_route, configured)),
    ROW(struct config_routing, "time_intervals", CT_LIST, time_intervals, NULL,
	"named time intervals for mute_time_intervals and active_time_intervals", .sub = &interval_tab,
	.aux = offsetof(struct config_routing, n_time_intervals)),
    ROW(struct config_routing, "silence_max_duration", CT_DURATION, silence_max_duration_ms, "30d",
	"longest silence that may be created", BOUNDS(MIN_MS, 3650 * DAY_MS)),
    ROW(struct config_routing, "workers", CT_INT, workers, "2",
	"job workers of their own that route Sentry webhooks (database work: about the cores PostgreSQL may use)",
	BOUNDS(1, 256)),
};
const struct cfg_table cfg_routing_table = {"config_routing", routing_rows,
					    sizeof routing_rows / sizeof routing_rows[0], sizeof(struct config_routing),
					    ROUTING_FEATURE};

/* ---- matchers ---- */

static const char *const matcher_labels[] = {"project", "team", "level", "environment", "alert_rule", "resource", NULL};

/* A ")" outside any group would change the meaning of the anchored form
 * "^(" value ")$": refuse it rather than guess. */
static bool parens_balanced(const char *re)
{
	int depth = 0;
	for (const char *p = re; *p; p++) {
		if (*p == '\\') {
			if (!*++p)
				return false;
		} else if (*p == '[') {
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
					char close = p[1];
					const char *e = p + 2;
					while (*e && !(e[0] == close && e[1] == ']'))
						e++;
					if (!*e)
						return false;
					p = e + 1;
				}
				p++;
			}
			if (!*p)
				return false;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (--depth < 0)
				return false;
		}
	}
	return depth == 0;
}

int config_matcher_parse(const char *s, struct config_matcher *m, const char **why)
{
	memset(m, 0, sizeof *m);
	char *name = NULL, *value = NULL;
	const char *p = s;
	while (*p == ' ')
		p++;
	const char *n0 = p;
	while (islower((unsigned char)*p) || *p == '_')
		p++;
	size_t nlen = (size_t)(p - n0);
	if (nlen == 3 && !strncmp(n0, "tag", 3) && *p == ':') {
		const char *t0 = ++p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-' || *p == ':' || *p == '/')
			p++;
		if (p == t0) {
			*why = "tag: needs a tag name, e.g. tag:customer=acme";
			return -1;
		}
		nlen = (size_t)(p - n0);
	} else {
		bool known = false;
		for (size_t i = 0; matcher_labels[i]; i++)
			known |= strlen(matcher_labels[i]) == nlen && !strncmp(n0, matcher_labels[i], nlen);
		if (!known) {
			*why = "unknown label: use project, team, level, environment, alert_rule, resource or tag:NAME";
			return -1;
		}
	}
	while (*p == ' ')
		p++;
	enum config_match_op op;
	if (!strncmp(p, "=~", 2))
		op = CONFIG_MATCH_RE, p += 2;
	else if (!strncmp(p, "!~", 2))
		op = CONFIG_MATCH_NRE, p += 2;
	else if (!strncmp(p, "!=", 2))
		op = CONFIG_MATCH_NE, p += 2;
	else if (*p == '=')
		op = CONFIG_MATCH_EQ, p += 1;
	else {
		*why = "expected an operator: =, !=, =~ or !~";
		return -1;
	}
	while (*p == ' ')
		p++;
	if (*p == '"') {
		size_t cap = strlen(p), n = 0;
		value = malloc(cap + 1);
		if (!value)
			goto oom;
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				value[n++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			} else {
				value[n++] = *p;
			}
		}
		value[n] = '\0';
		if (*p != '"') {
			*why = "unterminated quoted value";
			goto fail;
		}
		for (p++; *p == ' '; p++)
			;
		if (*p) {
			*why = "unexpected text after the quoted value";
			goto fail;
		}
	} else {
		size_t len = strlen(p);
		while (len && p[len - 1] == ' ')
			len--;
		if (!len) {
			*why = "missing value (write \"\" for an empty value)";
			return -1;
		}
		if (!(value = strndup(p, len)))
			goto oom;
	}
	if (op == CONFIG_MATCH_RE || op == CONFIG_MATCH_NRE) {
		regex_t re;
		if (!parens_balanced(value)) {
			*why = "invalid regular expression: unbalanced parentheses or brackets";
			goto fail;
		}
		if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB)) {
			*why = "invalid regular expression (POSIX extended syntax)";
			goto fail;
		}
		regfree(&re);
		char *anchored = cfg_strdupf("^(%s)$", value);
		if (!anchored)
			goto oom;
		int rc = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
		free(anchored);
		if (rc) {
			*why = "invalid regular expression (POSIX extended syntax)";
			goto fail;
		}
		regfree(&re);
	}
	if (!(name = strndup(n0, nlen)))
		goto oom;
	m->name = name;
	m->op = op;
	m->value = value;
	return 0;
oom:
	*why = "out of memory";
fail:
	free(name);
	free(value);
	return -1;
}

void config_matcher_clear(struct config_matcher *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->value);
	m->name = m->value = NULL;
}

int config_route_key_set(const struct config_route *r, const char *key)
{
	int i = cfg_row_index(&cfg_route_table, key);
	if (i < 0 || !r)
		return -1;
	return (int)((r->set_mask >> i) & 1u);
}

/* ---- time intervals ---- */

static const char *const weekday_names[] = {"sunday",	"monday", "tuesday",  "wednesday",
					    "thursday", "friday", "saturday", NULL};
static const char *const month_names[] = {"january", "february",  "march",   "april",	 "may",	     "june", "july",
					  "august",  "september", "october", "november", "december", NULL};

/* One end of a range: a name (value = index + base) or a number. */
static int range_end(const char *s, size_t n, const char *const *names, int base, bool numbers, int *out)
{
	for (int i = 0; names && names[i]; i++)
		if (strlen(names[i]) == n && !strncasecmp(s, names[i], n)) {
			*out = i + base;
			return 0;
		}
	if (!numbers || !n || n > 3)
		return -1;
	char tmp[4];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	int64_t v;
	if (cfg_parse_int(tmp, &v))
		return -1;
	*out = (int)v;
	return 0;
}

/* "a" or "a:b" within [lo, hi]; start <= end. */
static int check_range(const char *s, const char *const *names, int base, bool numbers, int lo, int hi, bool nonzero)
{
	const char *colon = strchr(s, ':');
	int a, b;
	size_t alen = colon ? (size_t)(colon - s) : strlen(s);
	if (range_end(s, alen, names, base, numbers, &a))
		return -1;
	if (colon) {
		if (range_end(colon + 1, strlen(colon + 1), names, base, numbers, &b))
			return -1;
	} else {
		b = a;
	}
	if (a < lo || a > hi || b < lo || b > hi || a > b || (nonzero && (!a || !b || (a < 0) != (b < 0))))
		return -1;
	return 0;
}

static int parse_hhmm(const char *s, size_t n, int *min)
{
	if (n != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static bool zone_exists(const char *name)
{
	if (!strcmp(name, "UTC") || !strcmp(name, "Local"))
		return true;
	if (name[0] == '/' || strstr(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return false;
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return true; /* no zone database to check against: the syntax must do */
	char *path = cfg_strdupf("%s/%s", dir, name);
	bool ok = path && !stat(path, &st) && S_ISREG(st.st_mode);
	free(path);
	return ok;
}

/* "<what> "<entry>": <hint>" at the line of list entry i. */
static void item_error(struct cfg_ctx *x, const struct config_strlist *l, size_t i, const char *what, const char *hint)
{
	cfg_error(x, cfg_line(x, &l->v[i], POS_ITEM), cfg_path(x, &l->v[i], POS_ITEM), "%s \"%.80s\": %s", what,
		  l->v[i], hint);
}

static void check_interval(struct cfg_ctx *x, const struct config_time_interval *ti)
{
	for (size_t i = 0; i < ti->weekdays.n; i++)
		if (check_range(ti->weekdays.v[i], weekday_names, 0, false, 0, 6, false))
			item_error(x, &ti->weekdays, i, "invalid weekday",
				   "use monday or a range like monday:friday (weeks start on sunday)");
	for (size_t i = 0; i < ti->times.n; i++) {
		const char *s = ti->times.v[i], *dash = strchr(s, '-');
		int a, b;
		if (!dash || parse_hhmm(s, (size_t)(dash - s), &a) || parse_hhmm(dash + 1, strlen(dash + 1), &b) ||
		    a >= b)
			item_error(x, &ti->times, i, "invalid time range",
				   "use HH:MM-HH:MM with the start before the end, e.g. 09:00-17:30");
	}
	for (size_t i = 0; i < ti->days_of_month.n; i++)
		if (check_range(ti->days_of_month.v[i], NULL, 0, true, -31, 31, true))
			item_error(x, &ti->days_of_month, i, "invalid day of month",
				   "use 1..31, -31..-1 (from the end) or a range like 1:7");
	for (size_t i = 0; i < ti->months.n; i++)
		if (check_range(ti->months.v[i], month_names, 1, true, 1, 12, false))
			item_error(x, &ti->months, i, "invalid month",
				   "use january..december, 1..12 or a range like 1:3");
	if (!zone_exists(ti->location))
		cfg_error(x, cfg_line(x, &ti->location, POS_FIELD), cfg_path(x, &ti->location, POS_FIELD),
			  "unknown time zone \"%.80s\" (use an IANA name such as Europe/Madrid, or UTC)", ti->location);
}

/* ---- the route tree ---- */

static const struct config_receiver *find_receiver(const struct config_routing *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_receivers; i++)
		if (!strcmp(rt->receivers[i].name, name))
			return &rt->receivers[i];
	return NULL;
}

static bool find_interval(const struct config_routing *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_time_intervals; i++)
		if (!strcmp(rt->time_intervals[i].name, name))
			return true;
	return false;
}

static void check_receiver_ref(struct cfg_ctx *x, const struct config_routing *rt, char *const *field,
			       const char *fallback_path)
{
	int line = cfg_line(x, field, POS_FIELD);
	if (!**field || !line || find_receiver(rt, *field))
		return;
	struct buf names;
	buf_init(&names, 0);
	for (size_t i = 0; i < rt->n_receivers; i++)
		if (buf_printf(&names, "%s%s", i ? ", " : "", rt->receivers[i].name))
			x->oom = true;
	const char *p = cfg_path(x, field, POS_FIELD);
	cfg_error(x, line, p ? p : fallback_path, "unknown receiver \"%.80s\" (defined: %s)", *field,
		  names.len ? buf_str(&names) : "none");
	buf_reset(&names);
}

static void finish_route(struct cfg_ctx *x, struct config_route *r, const struct config_route *parent, const char *path)
{
	const struct config_routing *rt = &x->c->routing;
	r->set_mask = 0;
	for (size_t i = 0; i < cfg_route_table.nrows; i++) {
		const struct cfg_row *row = &cfg_route_table.rows[i];
		if (cfg_line(x, CFG_AT(r, row->off, char), POS_FIELD))
			r->set_mask |= (uint64_t)1 << i;
		else if (parent && (row->flags & CF_INHERIT) && cfg_copy_field(row, r, parent))
			x->oom = true;
	}
	check_receiver_ref(x, rt, &r->receiver, path);
	check_receiver_ref(x, rt, &r->fallback_receiver, path);
	for (size_t i = 0; i < r->group_by.n; i++) {
		const char *g = r->group_by.v[i];
		bool ok = !strcmp(g, "...") || !strcmp(g, "issue") || (!strncmp(g, "tag:", 4) && g[4]);
		for (size_t k = 0; !ok && matcher_labels[k]; k++)
			ok = !strcmp(g, matcher_labels[k]);
		if (!ok && cfg_line(x, &r->group_by.v[i], POS_ITEM))
			item_error(
			    x, &r->group_by, i, "unknown alert attribute",
			    "use project, issue, team, level, environment, alert_rule, resource, tag:NAME or ...");
	}
	for (size_t i = 0; i < r->matchers.n; i++) {
		struct config_matcher m;
		const char *why = NULL;
		if (config_matcher_parse(r->matchers.v[i], &m, &why))
			item_error(x, &r->matchers, i, "invalid matcher", why);
		config_matcher_clear(&m);
	}
	const struct config_strlist *tl[2] = {&r->mute_time_intervals, &r->active_time_intervals};
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < tl[k]->n; i++)
			if (!find_interval(rt, tl[k]->v[i]))
				item_error(x, tl[k], i, "unknown time interval",
					   "define it under routing.time_intervals");
	for (size_t i = 0; i < r->n_routes; i++) {
		char *cp = cfg_strdupf("%s.routes[%zu]", path, i);
		if (!cp) {
			x->oom = true;
			return;
		}
		finish_route(x, &r->routes[i], r, cp);
		free(cp);
	}
}

void cfg_routing_finish(struct cfg_ctx *x)
{
	struct config_routing *rt = &x->c->routing;
	for (size_t i = 0; i < rt->n_receivers; i++) {
		const struct config_receiver *rc = &rt->receivers[i];
		int line = cfg_line(x, rc, POS_NODE);
		const char *path = cfg_path(x, rc, POS_NODE);
		/* For messages after load (the Slack directory's receiver check). */
		rt->receivers[i].line = *rc->channel ? cfg_line(x, &rc->channel, POS_FIELD) : line;
		for (size_t k = 0; k < i; k++)
			if (*rc->name && !strcmp(rt->receivers[k].name, rc->name)) {
				cfg_error(x, line, path, "duplicate receiver name \"%.80s\" (first on line %d)",
					  rc->name, cfg_line(x, &rt->receivers[k], POS_NODE));
				break;
			}
		if (!*rc->channel && !*rc->email)
			cfg_error(x, line, path, "a receiver needs a channel or an email");
		else if (*rc->channel && *rc->email)
			cfg_error(x, line, path, "set either channel or email, not both");
		const char *ch = rc->channel + (rc->channel[0] == '#');
		bool ok = strlen(ch) <= 80 && (*ch || !*rc->channel);
		for (const char *p = ch; ok && *p; p++)
			ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
		if (!ok)
			cfg_error(x, cfg_line(x, &rc->channel, POS_FIELD), cfg_path(x, &rc->channel, POS_FIELD),
				  "\"%.80s\" is not a Slack channel name or ID", rc->channel);
	}
	for (size_t i = 0; i < rt->n_time_intervals; i++) {
		const struct config_time_interval *ti = &rt->time_intervals[i];
		for (size_t k = 0; k < i; k++)
			if (*ti->name && !strcmp(rt->time_intervals[k].name, ti->name)) {
				cfg_error(x, cfg_line(x, ti, POS_NODE), cfg_path(x, ti, POS_NODE),
					  "duplicate time interval name \"%.80s\" (first on line %d)", ti->name,
					  cfg_line(x, &rt->time_intervals[k], POS_NODE));
				break;
			}
		check_interval(x, ti);
	}
	struct config_route *root = &rt->route;
	if (!root->configured) {
		if (rt->n_receivers)
			cfg_warn(x, cfg_line(x, &rt->receivers, POS_FIELD), "routing",
				 "receivers are defined but routing.route is missing: no alert is routed");
		return;
	}
	int line = cfg_line(x, root, POS_NODE);
	if (!*root->receiver)
		cfg_error(x, line, "routing.route.receiver", "the root route needs a receiver");
	if (root->matchers.n)
		cfg_error(x, cfg_line(x, &root->matchers, POS_FIELD), "routing.route.matchers",
			  "the root route matches every alert: it cannot have matchers");
	if (root->continue_)
		cfg_error(x, cfg_line(x, &root->continue_, POS_FIELD), "routing.route.continue",
			  "the root route cannot have continue: true");
	if (!*x->c->slack.api_url)
		cfg_warn(x, line, "routing.route", "alerts are routed to Slack but slack.api_url is empty");
	finish_route(x, root, NULL, "routing.route");
}
