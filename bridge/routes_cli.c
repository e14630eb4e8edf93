/*
 * routes_cli.c: `sentry-bridge routes show|test` (see routes_cli.h). Reads
 * the config and an alert, calls the routing policy, prints the decision.
 */
#include "routes_cli.h"

#include "app.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "integrations/sentry/sentry_alert.h"
#include "policies/policy_routing.h"
#include "tz.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const routes_cli_usage =
	"usage: sentry-bridge [global options] routes show\n"
	"       sentry-bridge [global options] routes test [--alert FILE.json] [--resource R] [--at TIME]\n"
	"                                                  [label=value ...]\n"
	"\n"
	"show  prints the route tree of the routing: section. Each node shows its\n"
	"      matchers and receiver; values in parentheses are inherited or defaults.\n"
	"test  prints the receivers an alert reaches and the path that took it there,\n"
	"      its group key and timers, and whether a time interval mutes it.\n"
	"      --alert FILE.json  a Sentry webhook body (event_alert, metric_alert, issue;\n"
	"                         the resource is guessed, or give --resource) or a flat\n"
	"                         object {\"project\": ..., \"team\": [...], \"tags\": {...}}\n"
	"      label=value        set or override a label: project, issue, team (repeat for\n"
	"                         several), level, environment, alert_rule, resource, tag:NAME\n"
	"      --at TIME          evaluate time intervals at TIME (2026-11-23T12:00:00Z or\n"
	"                         Unix milliseconds); default now\n"
	"      Silences live in the database and are not consulted here.\n";

static void dur(char *out, size_t n, int64_t ms)
{
	policy_format_duration(ms, out, n);
}

static void print_list(FILE *out, const struct config_strlist *l)
{
	fputc('[', out);
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "%s%s", i ? ", " : "", l->v[i]);
	fputc(']', out);
}

/* key=value, in parentheses when not written on this node. */
static void kv(FILE *out, const struct config_route *r, const char *key, const char *value)
{
	int set = config_route_key_set(r, key);
	fprintf(out, set == 1 ? " %s=%s" : " %s=(%s)", key, value);
}

static void show_node(FILE *out, const struct config_routing *rt, const struct config_route *r, const char *path,
		      int depth)
{
	fprintf(out, "%*s%s", depth * 2, "", path);
	if (r->matchers.n) {
		fputs("  ", out);
		print_list(out, &r->matchers);
	}
	if (r->continue_)
		fputs("  continue", out);
	fputc('\n', out);
	char a[32], b[32], c[32];
	fprintf(out, "%*s ", depth * 2, "");
	kv(out, r, "receiver", r->receiver);
	for (size_t i = 0; i < rt->n_receivers; i++)
		if (!strcmp(rt->receivers[i].name, r->receiver))
			fprintf(out, " -> %s%s", *rt->receivers[i].channel ? "channel " : "dm ",
				*rt->receivers[i].channel ? rt->receivers[i].channel : rt->receivers[i].email);
	if (*r->fallback_receiver)
		kv(out, r, "fallback_receiver", r->fallback_receiver);
	fputc('\n', out);
	dur(a, sizeof a, r->group_wait_ms);
	dur(b, sizeof b, r->group_interval_ms);
	dur(c, sizeof c, r->repeat_interval_ms);
	fprintf(out, "%*s ", depth * 2, "");
	struct buf g;
	buf_init(&g, 0);
	buf_puts(&g, "[");
	for (size_t i = 0; i < r->group_by.n; i++)
		buf_printf(&g, "%s%s", i ? ", " : "", r->group_by.v[i]);
	buf_puts(&g, "]");
	kv(out, r, "group_by", buf_str(&g));
	buf_reset(&g);
	kv(out, r, "group_wait", a);
	kv(out, r, "group_interval", b);
	kv(out, r, "repeat_interval", c);
	fputc('\n', out);
	if (r->mute_time_intervals.n || r->active_time_intervals.n) {
		fprintf(out, "%*s ", depth * 2, "");
		if (r->mute_time_intervals.n) {
			fputs(" mute_time_intervals=", out);
			print_list(out, &r->mute_time_intervals);
		}
		if (r->active_time_intervals.n) {
			fputs(" active_time_intervals=", out);
			print_list(out, &r->active_time_intervals);
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < r->n_routes; i++) {
		size_t len = strlen(path) + 32;
		char *cp = malloc(len);
		if (!cp)
			return;
		snprintf(cp, len, "%s.routes[%zu]", path, i);
		show_node(out, rt, &r->routes[i], cp, depth + 1);
		free(cp);
	}
}

static int parse_at(const char *s, int64_t *ms)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*s && !*end) {
		*ms = v;
		return 0;
	}
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &n) != 6 ||
	    s[n])
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static char *read_file(const char *path, FILE *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(err, "%s: cannot open: %m\n", path);
		return NULL;
	}
	struct buf b;
	buf_init(&b, 16u << 20);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&b, chunk, n)) {
			fprintf(err, "%s: too large (16 MiB at most)\n", path);
			fclose(f);
			buf_reset(&b);
			return NULL;
		}
	fclose(f);
	if (!b.len && buf_puts(&b, ""))
		return NULL;
	return buf_take(&b);
}

static const char *guess_resource(const json_t *body)
{
	const json_t *data = json_object_get(body, "data");
	if (json_object_get(data, "event"))
		return "event_alert";
	if (json_object_get(data, "metric_alert"))
		return "metric_alert";
	if (json_object_get(data, "issue"))
		return "issue";
	return NULL;
}

static int load_alert(const char *path, const char *resource, struct sentry_alert *a, FILE *err)
{
	char *text = read_file(path, err);
	if (!text)
		return -1;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	free(text);
	if (!j) {
		fprintf(err, "%s:%d: invalid JSON: %s\n", path, je.line, je.text);
		return -1;
	}
	struct err e = {0};
	int rc;
	if (json_is_object(json_object_get(j, "data"))) {
		const char *r = resource ? resource : guess_resource(j);
		if (!r) {
			fprintf(err, "%s: cannot tell the resource of this webhook (data has no event, metric_alert "
				     "or issue): give --resource\n",
				path);
			json_decref(j);
			return -1;
		}
		rc = sentry_alert_from_webhook(r, j, a, &e);
	} else {
		rc = sentry_alert_from_labels(j, a, &e);
	}
	json_decref(j);
	if (rc)
		fprintf(err, "%s: %s\n", path, e.msg);
	return rc;
}

static void print_alert(FILE *out, const struct sentry_alert *a)
{
	fprintf(out, "alert: project=\"%s\" issue=\"%s\" team=\"", a->project, a->issue);
	for (size_t i = 0; i < a->nteams; i++)
		fprintf(out, "%s%s", i ? "," : "", a->teams[i]);
	fprintf(out, "\" level=\"%s\" environment=\"%s\" alert_rule=\"%s\" resource=\"%s\"", a->level,
		a->environment, a->alert_rule, a->resource);
	for (size_t i = 0; i < a->ntags; i++)
		fprintf(out, " tag:%s=\"%s\"", a->tags[i].key, a->tags[i].value);
	fputc('\n', out);
}

static int cmd_test(const struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	const char *file = NULL, *resource = NULL;
	int64_t at = clock_now_ms();
	struct sentry_alert a;
	memset(&a, 0, sizeof a);
	a.count = a.user_count = -1;
	int code = EXIT_USAGE;
	int first_pair = -1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--alert") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(argv[i], "--resource") && i + 1 < argc) {
			resource = argv[++i];
		} else if (!strcmp(argv[i], "--at") && i + 1 < argc) {
			if (parse_at(argv[++i], &at)) {
				fprintf(err, "sentry-bridge routes test: --at %s: use 2026-11-23T12:00:00Z or Unix "
					     "milliseconds\n",
					argv[i]);
				return EXIT_USAGE;
			}
		} else if (argv[i][0] == '-') {
			fprintf(err, "sentry-bridge routes test: unknown or incomplete option %s\n\n%s", argv[i],
				routes_cli_usage);
			return EXIT_USAGE;
		} else if (first_pair < 0) {
			first_pair = i;
		}
	}
	if (!file && first_pair < 0) {
		fprintf(err, "sentry-bridge routes test: give --alert FILE.json or label=value pairs\n\n%s",
			routes_cli_usage);
		return EXIT_USAGE;
	}
	if (file && load_alert(file, resource, &a, err))
		return EXIT_USAGE;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--alert") || !strcmp(argv[i], "--resource") || !strcmp(argv[i], "--at")) {
			i++;
			continue;
		}
		struct err e = {0};
		if (sentry_alert_set_label(&a, argv[i], &e)) {
			fprintf(err, "sentry-bridge routes test: %s\n", e.msg);
			goto out;
		}
	}
	char perr[256];
	struct policy_routing *pr = policy_routing_new(&cfg->routing, perr, sizeof perr);
	if (!pr) {
		fprintf(err, "%s: %s\n", cfg->path, *perr ? perr : "routing is off (no routing.route)");
		code = EXIT_CONFIG;
		goto out;
	}
	print_alert(out, &a);
	if (a.project_id && !*a.project)
		fprintf(out, "note: the webhook names project id %lld; the service looks its slug and teams up in the "
			     "Sentry mirror: add project=SLUG team=TEAM to route as it would\n",
			(long long)a.project_id);
	char iso[40];
	clock_format_iso(at, iso, sizeof iso);
	fprintf(out, "at: %s\n", iso);
	struct policy_alert pa;
	sentry_alert_view(&a, &pa);
	struct policy_route_result r;
	if (policy_route(pr, &pa, at, tz_offset, &r, perr, sizeof perr)) {
		fprintf(err, "%s: %s\n", cfg->path, perr);
		policy_routing_free(pr);
		code = EXIT_FAILURE_RUNTIME;
		goto out;
	}
	fprintf(out, "%zu receiver%s:\n", r.n, r.n == 1 ? "" : "s");
	for (size_t i = 0; i < r.n; i++) {
		const struct policy_route_match *m = &r.v[i];
		const struct config_receiver *rc = m->receiver;
		fprintf(out, "  %s  %s %s%s\n", rc ? rc->name : m->route->receiver,
			rc && *rc->channel ? "channel" : "dm", rc ? (*rc->channel ? rc->channel : rc->email) : "?",
			m->muted_by ? "  (MUTED)" : "");
		fprintf(out, "    path: %s\n", m->trail);
		char a1[32], b1[32], c1[32];
		dur(a1, sizeof a1, m->route->group_wait_ms);
		dur(b1, sizeof b1, m->route->group_interval_ms);
		dur(c1, sizeof c1, m->route->repeat_interval_ms);
		fprintf(out, "    group: %s\n    timers: group_wait=%s group_interval=%s repeat_interval=%s\n",
			m->group_key, a1, b1, c1);
		if (*m->route->fallback_receiver)
			fprintf(out, "    fallback: %s\n", m->route->fallback_receiver);
		if (m->muted_by)
			fprintf(out, "    muted by time interval \"%s\": recorded, not sent\n", m->muted_by);
	}
	policy_route_result_clear(&r);
	policy_routing_free(pr);
	code = EXIT_OK;
out:
	sentry_alert_clear(&a);
	return code;
}

int routes_cli(const struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 1) {
		fprintf(err, "sentry-bridge routes: show or test?\n\n%s", routes_cli_usage);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "show")) {
		if (argc > 1) {
			fprintf(err, "sentry-bridge routes show: unexpected argument %s\n", argv[1]);
			return EXIT_USAGE;
		}
		if (!cfg->routing.route.configured) {
			fprintf(err, "%s: routing is off (no routing.route)\n", cfg->path);
			return EXIT_CONFIG;
		}
		show_node(out, &cfg->routing, &cfg->routing.route, "routing.route", 0);
		return EXIT_OK;
	}
	if (!strcmp(argv[0], "test"))
		return cmd_test(cfg, argc - 1, argv + 1, out, err);
	fprintf(err, "sentry-bridge routes: unknown subcommand \"%s\"\n\n%s", argv[0], routes_cli_usage);
	return EXIT_USAGE;
}
