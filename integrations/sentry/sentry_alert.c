/*
 * sentry_alert.c: Sentry webhook payloads into routing alerts; see sentry_alert.h.
 */
#include "sentry_alert.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A string or a number as text (Sentry sends ids as strings, sometimes numbers). */
static char *jtext(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		char tmp[32];
		snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
		return strdup(tmp);
	}
	return strdup("");
}

static int64_t jcount(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v)) {
		char *end;
		long long n = strtoll(json_string_value(v), &end, 10);
		if (*json_string_value(v) && !*end && n >= 0)
			return (int64_t)n;
	}
	return -1;
}

static int add_tag(struct sentry_alert *a, const char *k, const char *v)
{
	struct policy_tag *t = realloc(a->tags, (a->ntags + 1) * sizeof *t);
	if (!t)
		return -1;
	a->tags = t;
	char *kk = strdup(k), *vv = strdup(v);
	if (!kk || !vv) {
		free(kk);
		free(vv);
		return -1;
	}
	/* A later value of the same key replaces the earlier one. */
	for (size_t i = 0; i < a->ntags; i++)
		if (!strcmp(a->tags[i].key, k)) {
			free(kk);
			free((char *)a->tags[i].value);
			a->tags[i].value = vv;
			return 0;
		}
	t[a->ntags].key = kk;
	t[a->ntags].value = vv;
	a->ntags++;
	return 0;
}

static int add_team(struct sentry_alert *a, const char *team)
{
	char **t = realloc(a->teams, (a->nteams + 1) * sizeof *t);
	if (!t)
		return -1;
	a->teams = t;
	if (!(t[a->nteams] = strdup(team)))
		return -1;
	a->nteams++;
	return 0;
}

static int init_strings(struct sentry_alert *a)
{
	char **f[] = {&a->resource, &a->action,	  &a->project, &a->issue,   &a->short_id, &a->level,
		      &a->environment, &a->alert_rule, &a->title,   &a->culprit, &a->web_url};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (!*f[i] && !(*f[i] = strdup("")))
			return -1;
	return 0;
}

static void set(char **field, char *v)
{
	free(*field);
	*field = v;
}

int sentry_alert_from_webhook(const char *resource, const json_t *body, struct sentry_alert *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	out->count = out->user_count = -1;
	const json_t *data = json_object_get(body, "data");
	if (!json_is_object(body) || !json_is_object(data)) {
		err_set(e, 400, "the body is not a Sentry webhook: no \"data\" object");
		goto fail;
	}
	out->resource = dup_or_empty(resource);
	out->action = dup_or_empty(jstr(body, "action"));
	if (init_strings(out))
		goto oom;
	if (!strcmp(resource, "event_alert")) {
		const json_t *ev = json_object_get(data, "event");
		if (!json_is_object(ev)) {
			err_set(e, 422, "event_alert without data.event");
			goto fail;
		}
		const json_t *pid = json_object_get(ev, "project");
		if (json_is_integer(pid))
			out->project_id = (int64_t)json_integer_value(pid);
		else if (json_is_string(pid))
			out->project_id = strtoll(json_string_value(pid), NULL, 10);
		set(&out->issue, jtext(ev, "issue_id"));
		set(&out->level, dup_or_empty(jstr(ev, "level")));
		set(&out->environment, dup_or_empty(jstr(ev, "environment")));
		set(&out->title, dup_or_empty(jstr(ev, "title")));
		set(&out->culprit, dup_or_empty(jstr(ev, "culprit")));
		set(&out->web_url, dup_or_empty(jstr(ev, "web_url")));
		set(&out->alert_rule, dup_or_empty(jstr(data, "triggered_rule")));
		/* Sentry: tags is a list of [key, value] pairs, not an object. */
		const json_t *tags = json_object_get(ev, "tags");
		size_t i;
		const json_t *pair;
		json_array_foreach(tags, i, pair)
		{
			const json_t *k = json_array_get(pair, 0), *v = json_array_get(pair, 1);
			if (json_is_string(k) && json_is_string(v) &&
			    add_tag(out, json_string_value(k), json_string_value(v)))
				goto oom;
		}
		if (!*out->environment) {
			for (size_t k = 0; k < out->ntags; k++)
				if (!strcmp(out->tags[k].key, "environment"))
					set(&out->environment, strdup(out->tags[k].value));
		}
	} else if (!strcmp(resource, "metric_alert")) {
		const json_t *ma = json_object_get(data, "metric_alert");
		const json_t *rule = json_object_get(ma, "alert_rule");
		if (!json_is_object(ma)) {
			err_set(e, 422, "metric_alert without data.metric_alert");
			goto fail;
		}
		set(&out->alert_rule, dup_or_empty(jstr(rule, "name")));
		const json_t *projects = json_object_get(rule, "projects");
		if (json_is_string(json_array_get(projects, 0)))
			set(&out->project, strdup(json_string_value(json_array_get(projects, 0))));
		set(&out->environment, dup_or_empty(jstr(rule, "environment")));
		set(&out->issue, jtext(ma, "id"));
		set(&out->level, dup_or_empty(jstr(body, "action")));
		const char *t = jstr(data, "description_title");
		set(&out->title, dup_or_empty(t ? t : jstr(ma, "title")));
		set(&out->culprit, dup_or_empty(jstr(data, "description_text")));
		set(&out->web_url, dup_or_empty(jstr(data, "web_url")));
	} else if (!strcmp(resource, "issue")) {
		const json_t *is = json_object_get(data, "issue");
		if (!json_is_object(is)) {
			err_set(e, 422, "issue without data.issue");
			goto fail;
		}
		set(&out->issue, jtext(is, "id"));
		set(&out->short_id, dup_or_empty(jstr(is, "shortId")));
		set(&out->level, dup_or_empty(jstr(is, "level")));
		set(&out->title, dup_or_empty(jstr(is, "title")));
		set(&out->culprit, dup_or_empty(jstr(is, "culprit")));
		const char *url = jstr(is, "web_url");
		set(&out->web_url, dup_or_empty(url ? url : jstr(is, "permalink")));
		const json_t *proj = json_object_get(is, "project");
		set(&out->project, dup_or_empty(jstr(proj, "slug")));
		const json_t *pid = json_object_get(proj, "id");
		if (json_is_string(pid))
			out->project_id = strtoll(json_string_value(pid), NULL, 10);
		else if (json_is_integer(pid))
			out->project_id = (int64_t)json_integer_value(pid);
		out->count = jcount(is, "count");
		out->user_count = jcount(is, "userCount");
	} else {
		err_set(e, 422, "resource \"%.60s\" does not make an alert", resource);
		goto fail;
	}
	if (!out->issue || !out->project || !out->level || !out->environment || !out->title || !out->culprit ||
	    !out->web_url || !out->alert_rule || !out->short_id)
		goto oom;
	return 0;
oom:
	err_set(e, 500, "out of memory");
fail:
	sentry_alert_clear(out);
	return -1;
}

int sentry_alert_set_label(struct sentry_alert *a, const char *pair, struct err *e)
{
	const char *eq = strchr(pair, '=');
	if (!eq || eq == pair)
		return err_set(e, 2, "\"%.80s\": expected label=value", pair), -1;
	size_t n = (size_t)(eq - pair);
	const char *v = eq + 1;
	if (init_strings(a))
		return err_set(e, 1, "out of memory"), -1;
	struct {
		const char *name;
		char **field;
	} fields[] = {{"project", &a->project},		{"issue", &a->issue},	     {"level", &a->level},
		      {"environment", &a->environment}, {"alert_rule", &a->alert_rule}, {"resource", &a->resource}};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strlen(fields[i].name) == n && !strncmp(pair, fields[i].name, n)) {
			char *d = strdup(v);
			if (!d)
				return err_set(e, 1, "out of memory"), -1;
			set(fields[i].field, d);
			return 0;
		}
	if (n == 4 && !strncmp(pair, "team", 4))
		return add_team(a, v) ? (err_set(e, 1, "out of memory"), -1) : 0;
	if (n > 4 && !strncmp(pair, "tag:", 4)) {
		char *k = strndup(pair + 4, n - 4);
		int rc = k ? add_tag(a, k, v) : -1;
		free(k);
		return rc ? (err_set(e, 1, "out of memory"), -1) : 0;
	}
	return err_set(e, 2, "unknown label \"%.*s\": use project, issue, team, level, environment, alert_rule, "
			     "resource or tag:NAME",
		       (int)(n > 60 ? 60 : n), pair),
	       -1;
}

int sentry_alert_from_labels(const json_t *obj, struct sentry_alert *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	out->count = out->user_count = -1;
	if (!json_is_object(obj)) {
		err_set(e, 2, "the alert must be a JSON object");
		return -1;
	}
	if (init_strings(out))
		goto oom;
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (!strcmp(key, "team") || !strcmp(key, "teams")) {
			if (json_is_string(v)) {
				if (add_team(out, json_string_value(v)))
					goto oom;
				continue;
			}
			size_t i;
			const json_t *t;
			json_array_foreach(v, i, t)
			{
				if (!json_is_string(t)) {
					err_set(e, 2, "\"%s\" must be a string or a list of strings", key);
					goto fail;
				}
				if (add_team(out, json_string_value(t)))
					goto oom;
			}
			if (!json_is_array(v)) {
				err_set(e, 2, "\"%s\" must be a string or a list of strings", key);
				goto fail;
			}
		} else if (!strcmp(key, "tags")) {
			const char *k;
			const json_t *tv;
			if (!json_is_object(v)) {
				err_set(e, 2, "\"tags\" must be an object of strings");
				goto fail;
			}
			json_object_foreach((json_t *)v, k, tv)
			{
				if (!json_is_string(tv)) {
					err_set(e, 2, "tag \"%.60s\" must be a string", k);
					goto fail;
				}
				if (add_tag(out, k, json_string_value(tv)))
					goto oom;
			}
		} else {
			if (!json_is_string(v)) {
				err_set(e, 2, "\"%.60s\" must be a string", key);
				goto fail;
			}
			size_t len = strlen(key) + strlen(json_string_value(v)) + 2;
			char *pair = malloc(len);
			if (!pair)
				goto oom;
			snprintf(pair, len, "%s=%s", key, json_string_value(v));
			int rc = sentry_alert_set_label(out, pair, e);
			free(pair);
			if (rc)
				goto fail;
		}
	}
	return 0;
oom:
	err_set(e, 1, "out of memory");
fail:
	sentry_alert_clear(out);
	return -1;
}

int sentry_alert_set_project(struct sentry_alert *a, const char *slug, const char *const *teams, size_t nteams)
{
	char *s = strdup(slug ? slug : "");
	if (!s)
		return -1;
	set(&a->project, s);
	for (size_t i = 0; i < a->nteams; i++)
		free(a->teams[i]);
	free(a->teams);
	a->teams = NULL;
	a->nteams = 0;
	for (size_t i = 0; i < nteams; i++)
		if (add_team(a, teams[i]))
			return -1;
	return 0;
}

void sentry_alert_view(const struct sentry_alert *a, struct policy_alert *out)
{
	memset(out, 0, sizeof *out);
	out->project = a->project;
	out->issue = a->issue;
	out->level = a->level;
	out->environment = a->environment;
	out->alert_rule = a->alert_rule;
	out->resource = a->resource;
	out->teams = (const char *const *)a->teams;
	out->nteams = a->nteams;
	out->tags = a->tags;
	out->ntags = a->ntags;
}

void sentry_alert_clear(struct sentry_alert *a)
{
	if (!a)
		return;
	char *f[] = {a->resource, a->action, a->project, a->issue,   a->short_id, a->level,
		     a->environment, a->alert_rule, a->title, a->culprit, a->web_url};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		free(f[i]);
	for (size_t i = 0; i < a->nteams; i++)
		free(a->teams[i]);
	free(a->teams);
	for (size_t i = 0; i < a->ntags; i++) {
		free((char *)a->tags[i].key);
		free((char *)a->tags[i].value);
	}
	free(a->tags);
	memset(a, 0, sizeof *a);
	a->count = a->user_count = -1;
}
