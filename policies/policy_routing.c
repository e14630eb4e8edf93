/*
 * policy_routing.c: the route tree, matchers, time intervals and silences
 * (see policy_routing.h for the rules). Pure: the clock and the time zone
 * database come in as parameters.
 */
#include "policy_routing.h"

#include "buf.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct cmatcher {
	struct config_matcher m;
	bool is_re;
	regex_t re;
};

struct policy_matchers {
	struct cmatcher *v;
	size_t n;
};

struct cnode {
	const struct config_route *route;
	struct policy_matchers *matchers;
	struct cnode *kids;
	size_t nkids;
	char *path;
};

struct policy_routing {
	const struct config_routing *rt;
	struct cnode root;
};

/* ---- matchers ---- */

void policy_matchers_free(struct policy_matchers *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].is_re)
			regfree(&m->v[i].re);
		config_matcher_clear(&m->v[i].m);
	}
	free(m->v);
	free(m);
}

struct policy_matchers *policy_matchers_new(const char *const *strs, size_t n, char *err, size_t errlen)
{
	struct policy_matchers *m = calloc(1, sizeof *m);
	if (!m || (n && !(m->v = calloc(n, sizeof *m->v)))) {
		snprintf(err, errlen, "out of memory");
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct cmatcher *c = &m->v[i];
		const char *why = NULL;
		if (config_matcher_parse(strs[i], &c->m, &why)) {
			snprintf(err, errlen, "matcher \"%.80s\": %s", strs[i], why);
			goto fail;
		}
		m->n = i + 1;
		if (c->m.op == CONFIG_MATCH_RE || c->m.op == CONFIG_MATCH_NRE) {
			size_t len = strlen(c->m.value) + 5;
			char *anchored = malloc(len);
			if (!anchored) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			snprintf(anchored, len, "^(%s)$", c->m.value);
			int rc = regcomp(&c->re, anchored, REG_EXTENDED | REG_NOSUB);
			free(anchored);
			if (rc) {
				snprintf(err, errlen, "matcher \"%.80s\": invalid regular expression", strs[i]);
				goto fail;
			}
			c->is_re = true;
		}
	}
	return m;
fail:
	policy_matchers_free(m);
	return NULL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Single-valued label (not team). */
static const char *label_value(const struct policy_alert *a, const char *name)
{
	if (!strcmp(name, "project"))
		return nz(a->project);
	if (!strcmp(name, "issue"))
		return nz(a->issue);
	if (!strcmp(name, "level"))
		return nz(a->level);
	if (!strcmp(name, "environment"))
		return nz(a->environment);
	if (!strcmp(name, "alert_rule"))
		return nz(a->alert_rule);
	if (!strcmp(name, "resource"))
		return nz(a->resource);
	if (!strncmp(name, "tag:", 4)) {
		for (size_t i = 0; i < a->ntags; i++)
			if (a->tags[i].key && !strcmp(a->tags[i].key, name + 4))
				return nz(a->tags[i].value);
	}
	return "";
}

static bool value_matches(const struct cmatcher *c, const char *v)
{
	if (c->is_re)
		return regexec(&c->re, v, 0, NULL, 0) == 0;
	return strcmp(c->m.value, v) == 0;
}

static bool matcher_holds(const struct cmatcher *c, const struct policy_alert *a)
{
	bool negated = c->m.op == CONFIG_MATCH_NE || c->m.op == CONFIG_MATCH_NRE;
	bool any;
	if (!strcmp(c->m.name, "team")) {
		any = false;
		if (!a->nteams)
			any = value_matches(c, "");
		for (size_t i = 0; i < a->nteams && !any; i++)
			any = value_matches(c, nz(a->teams[i]));
	} else {
		any = value_matches(c, label_value(a, c->m.name));
	}
	return negated ? !any : any;
}

int policy_matchers_match(const struct policy_matchers *m, const struct policy_alert *a)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (!matcher_holds(&m->v[i], a))
			return 0;
	return 1;
}

long policy_silenced(const struct policy_silence *s, size_t n, const struct policy_alert *a, int64_t now_ms)
{
	for (size_t i = 0; i < n; i++)
		if (now_ms >= s[i].starts_ms && now_ms < s[i].ends_ms && policy_matchers_match(s[i].matchers, a))
			return (long)i;
	return -1;
}

/* ---- time intervals ---- */

static const char *const weekday_names[] = {"sunday",	"monday", "tuesday",  "wednesday",
					    "thursday", "friday", "saturday", NULL};
static const char *const month_names[] = {"january", "february",  "march",   "april",	 "may",	     "june", "july",
					  "august",  "september", "october", "november", "december", NULL};

static int range_end(const char *s, size_t n, const char *const *names, int base, int *out)
{
	for (int i = 0; names && names[i]; i++)
		if (strlen(names[i]) == n && !strncasecmp(s, names[i], n)) {
			*out = i + base;
			return 0;
		}
	char tmp[8];
	if (!n || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	long v = strtol(tmp, &end, 10);
	if (*end)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parse "a" or "a:b" (validated at load). */
static int parse_range(const char *s, const char *const *names, int base, int *a, int *b)
{
	const char *colon = strchr(s, ':');
	size_t alen = colon ? (size_t)(colon - s) : strlen(s);
	if (range_end(s, alen, names, base, a))
		return -1;
	if (!colon) {
		*b = *a;
		return 0;
	}
	return range_end(colon + 1, strlen(colon + 1), names, base, b);
}

static bool in_list(const struct config_strlist *l, const char *const *names, int base, int v)
{
	if (!l->n)
		return true;
	for (size_t i = 0; i < l->n; i++) {
		int a, b;
		if (!parse_range(l->v[i], names, base, &a, &b) && v >= a && v <= b)
			return true;
	}
	return false;
}

static bool in_times(const struct config_strlist *l, int minute)
{
	if (!l->n)
		return true;
	for (size_t i = 0; i < l->n; i++) {
		int h1, m1, h2, m2;
		if (sscanf(l->v[i], "%d:%d-%d:%d", &h1, &m1, &h2, &m2) == 4 && minute >= h1 * 60 + m1 &&
		    minute < h2 * 60 + m2)
			return true;
	}
	return false;
}

static int days_in_month(int year, int mon1)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return mon1 == 2 && leap ? 29 : dm[mon1 - 1];
}

static bool in_days_of_month(const struct config_strlist *l, int mday, int ndays)
{
	if (!l->n)
		return true;
	for (size_t i = 0; i < l->n; i++) {
		int a, b;
		if (parse_range(l->v[i], NULL, 0, &a, &b))
			continue;
		/* Negative days count from the end: -1 is the last day. */
		if (a < 0)
			a = ndays + 1 + a;
		if (b < 0)
			b = ndays + 1 + b;
		if (mday >= a && mday <= b)
			return true;
	}
	return false;
}

int policy_interval_contains(const struct config_time_interval *ti, int64_t now_ms, policy_tz_fn tz)
{
	int64_t sec = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
	int off = 0;
	if (tz(ti->location, sec, &off))
		return -1;
	time_t local = (time_t)(sec + off);
	struct tm tm;
	if (!gmtime_r(&local, &tm))
		return -1;
	bool ok = in_list(&ti->weekdays, weekday_names, 0, tm.tm_wday) &&
		  in_list(&ti->months, month_names, 1, tm.tm_mon + 1) &&
		  in_days_of_month(&ti->days_of_month, tm.tm_mday, days_in_month(tm.tm_year + 1900, tm.tm_mon + 1)) &&
		  in_times(&ti->times, tm.tm_hour * 60 + tm.tm_min);
	return ok ? 1 : 0;
}

static const struct config_time_interval *find_interval(const struct config_routing *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_time_intervals; i++)
		if (!strcmp(rt->time_intervals[i].name, name))
			return &rt->time_intervals[i];
	return NULL;
}

/* ---- the tree ---- */

static void node_free(struct cnode *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
	free(n->path);
	policy_matchers_free(n->matchers);
}

static int node_build(struct cnode *n, const struct config_route *r, const char *path, char *err, size_t errlen)
{
	n->route = r;
	if (!(n->path = strdup(path)))
		goto oom;
	char merr[256];
	n->matchers = policy_matchers_new((const char *const *)r->matchers.v, r->matchers.n, merr, sizeof merr);
	if (!n->matchers) {
		snprintf(err, errlen, "%s: %s", path, merr);
		return -1;
	}
	if (r->n_routes && !(n->kids = calloc(r->n_routes, sizeof *n->kids)))
		goto oom;
	for (size_t i = 0; i < r->n_routes; i++) {
		n->nkids = i + 1;
		size_t len = strlen(path) + 32;
		char *cp = malloc(len);
		if (!cp)
			goto oom;
		snprintf(cp, len, "%s.routes[%zu]", path, i);
		int rc = node_build(&n->kids[i], &r->routes[i], cp, err, errlen);
		free(cp);
		if (rc)
			return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

struct policy_routing *policy_routing_new(const struct config_routing *rt, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (!rt->route.configured)
		return NULL;
	struct policy_routing *pr = calloc(1, sizeof *pr);
	if (!pr) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pr->rt = rt;
	if (node_build(&pr->root, &rt->route, "routing.route", err, errlen)) {
		policy_routing_free(pr);
		return NULL;
	}
	return pr;
}

void policy_routing_free(struct policy_routing *pr)
{
	if (!pr)
		return;
	node_free(&pr->root);
	free(pr);
}

void policy_route_result_clear(struct policy_route_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].trail);
		free(r->v[i].group_key);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static const struct config_receiver *find_receiver(const struct config_routing *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_receivers; i++)
		if (!strcmp(rt->receivers[i].name, name))
			return &rt->receivers[i];
	return NULL;
}

static const char *const all_labels[] = {"project", "issue", "team", "level", "environment", "alert_rule", "resource",
					 NULL};

static int key_label(struct buf *b, const struct policy_alert *a, const char *name, bool *first)
{
	int rc = buf_printf(b, "%s%s=\"", *first ? "" : ",", name);
	*first = false;
	if (!strcmp(name, "team")) {
		for (size_t i = 0; i < a->nteams; i++)
			rc |= buf_printf(b, "%s%s", i ? "," : "", nz(a->teams[i]));
	} else {
		rc |= buf_puts(b, label_value(a, name));
	}
	return rc | buf_puts(b, "\"");
}

static char *group_key(const struct cnode *n, const struct policy_alert *a)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = buf_printf(&b, "%s{", n->path);
	bool first = true;
	const struct config_strlist *g = &n->route->group_by;
	bool all = false;
	for (size_t i = 0; i < g->n; i++)
		all |= !strcmp(g->v[i], "...");
	if (all) {
		for (size_t i = 0; all_labels[i]; i++)
			rc |= key_label(&b, a, all_labels[i], &first);
		for (size_t i = 0; i < a->ntags; i++) {
			size_t len = strlen(nz(a->tags[i].key)) + 5;
			char *name = malloc(len);
			if (!name) {
				rc = -1;
				break;
			}
			snprintf(name, len, "tag:%s", nz(a->tags[i].key));
			rc |= key_label(&b, a, name, &first);
			free(name);
		}
	} else {
		for (size_t i = 0; i < g->n; i++)
			rc |= key_label(&b, a, g->v[i], &first);
	}
	rc |= buf_puts(&b, "}");
	if (rc) {
		buf_reset(&b);
		return NULL;
	}
	return buf_take(&b);
}

struct walk {
	const struct policy_routing *pr;
	const struct policy_alert *a;
	int64_t now_ms;
	policy_tz_fn tz;
	struct policy_route_result *out;
	const struct cnode *stack[CONFIG_MAX_ROUTE_DEPTH + 2];
	size_t depth;
	char *err;
	size_t errlen;
	bool failed;
};

static char *render_trail(struct walk *w)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = 0;
	for (size_t i = 0; i < w->depth; i++) {
		const struct cnode *n = w->stack[i];
		rc |= buf_printf(&b, "%s%s", i ? " > " : "", n->path);
		if (n->route->matchers.n) {
			rc |= buf_puts(&b, " {");
			for (size_t k = 0; k < n->route->matchers.n; k++)
				rc |= buf_printf(&b, "%s%s", k ? ", " : "", n->route->matchers.v[k]);
			rc |= buf_puts(&b, "}");
		}
	}
	if (rc) {
		buf_reset(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* The name of the interval muting node n now, or NULL. */
static const char *muted_by(struct walk *w, const struct config_route *r)
{
	for (size_t i = 0; i < r->mute_time_intervals.n; i++) {
		const struct config_time_interval *ti = find_interval(w->pr->rt, r->mute_time_intervals.v[i]);
		int in = ti ? policy_interval_contains(ti, w->now_ms, w->tz) : 0;
		if (in < 0) {
			snprintf(w->err, w->errlen, "time interval \"%s\": unknown time zone \"%s\"", ti->name,
				 ti->location);
			w->failed = true;
		}
		if (in > 0)
			return ti->name;
	}
	if (!r->active_time_intervals.n)
		return NULL;
	for (size_t i = 0; i < r->active_time_intervals.n; i++) {
		const struct config_time_interval *ti = find_interval(w->pr->rt, r->active_time_intervals.v[i]);
		int in = ti ? policy_interval_contains(ti, w->now_ms, w->tz) : 0;
		if (in < 0) {
			snprintf(w->err, w->errlen, "time interval \"%s\": unknown time zone \"%s\"", ti->name,
				 ti->location);
			w->failed = true;
		}
		if (in > 0)
			return NULL;
	}
	return r->active_time_intervals.v[0]; /* outside every active interval */
}

static int add_match(struct walk *w, const struct cnode *n)
{
	struct policy_route_match *v = realloc(w->out->v, (w->out->n + 1) * sizeof *v);
	if (!v)
		return -1;
	w->out->v = v;
	struct policy_route_match *m = &v[w->out->n];
	memset(m, 0, sizeof *m);
	w->out->n++;
	m->route = n->route;
	m->receiver = find_receiver(w->pr->rt, n->route->receiver);
	m->path = strdup(n->path);
	m->trail = render_trail(w);
	m->group_key = group_key(n, w->a);
	m->muted_by = muted_by(w, n->route);
	return m->path && m->trail && m->group_key ? 0 : -1;
}

/* Alertmanager's Route.Match: 1 when n matched (and added results), 0 when
 * not, -1 on error. */
static int walk(struct walk *w, const struct cnode *n)
{
	if (!policy_matchers_match(n->matchers, w->a))
		return 0;
	if (w->depth >= sizeof w->stack / sizeof w->stack[0])
		return -1;
	w->stack[w->depth++] = n;
	size_t before = w->out->n;
	for (size_t i = 0; i < n->nkids; i++) {
		int rc = walk(w, &n->kids[i]);
		if (rc < 0)
			return -1;
		if (rc > 0 && !n->kids[i].route->continue_)
			break;
	}
	if (w->out->n == before && add_match(w, n))
		return -1;
	w->depth--;
	return 1;
}

int policy_route(const struct policy_routing *pr, const struct policy_alert *a, int64_t now_ms, policy_tz_fn tz,
		 struct policy_route_result *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	struct walk w = {.pr = pr, .a = a, .now_ms = now_ms, .tz = tz, .out = out, .err = err, .errlen = errlen};
	if (errlen)
		err[0] = '\0';
	if (walk(&w, &pr->root) < 0 && !w.failed) {
		snprintf(err, errlen, "out of memory");
		w.failed = true;
	}
	if (w.failed) {
		policy_route_result_clear(out);
		return -1;
	}
	return 0;
}

void policy_format_duration(int64_t ms, char *out, size_t outlen)
{
	if (ms <= 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	static const struct {
		int64_t ms;
		char unit;
	} units[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < 4 && len + 1 < outlen; i++)
		if (ms >= units[i].ms) {
			int w = snprintf(out + len, outlen - len, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
			if (w < 0)
				return;
			len += (size_t)w;
			ms %= units[i].ms;
		}
	if (ms && len + 1 < outlen)
		snprintf(out + len, outlen - len, "%lldms", (long long)ms);
}

const struct config_route *policy_route_at(const struct config_routing *rt, const char *path)
{
	static const char root[] = "routing.route";
	if (!rt->route.configured || strncmp(path, root, sizeof root - 1))
		return NULL;
	const struct config_route *r = &rt->route;
	const char *p = path + sizeof root - 1;
	while (*p) {
		unsigned long i;
		int n = 0;
		if (sscanf(p, ".routes[%lu]%n", &i, &n) != 1 || n <= 0 || i >= r->n_routes)
			return NULL;
		r = &r->routes[i];
		p += n;
	}
	return r;
}

const struct config_receiver *policy_receiver(const struct config_routing *rt, const char *name)
{
	return name ? find_receiver(rt, name) : NULL;
}
