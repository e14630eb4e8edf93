/*
 * slack_blocks.c: Block Kit messages of alert notifications; see slack_blocks.h.
 */
#include "slack_blocks.h"

#include "buf.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s(const json_t *a, const char *k)
{
	const char *v = json_string_value(json_object_get(a, k));
	return v ? v : "";
}

/* Slack mrkdwn needs &, < and > escaped. */
static void esc(struct buf *b, const char *t)
{
	for (; *t; t++) {
		if (*t == '&')
			buf_puts(b, "&amp;");
		else if (*t == '<')
			buf_puts(b, "&lt;");
		else if (*t == '>')
			buf_puts(b, "&gt;");
		else
			buf_append(b, t, 1);
	}
}

/* <@U123> for a Slack user id (a mention Slack renders as @name); anything
 * else is written escaped, as text. */
static void mention(struct buf *b, const char *id)
{
	bool ok = *id && strlen(id) <= 32;
	for (const char *p = id; ok && *p; p++)
		ok = (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
	if (ok) {
		buf_printf(b, "<@%s>", id);
	} else {
		esc(b, id);
	}
}

static json_t *mrkdwn(const char *text)
{
	return json_pack("{s:s,s:s}", "type", "mrkdwn", "text", text);
}

static json_t *button(const char *prefix, const char *action, const char *label, const char *value, const char *style)
{
	char id[96];
	snprintf(id, sizeof id, "%s%s", prefix, action);
	json_t *b = json_pack("{s:s,s:{s:s,s:s},s:s,s:s}", "type", "button", "text", "type", "plain_text", "text", label,
			      "action_id", id, "value", value);
	if (b && style)
		json_object_set_new(b, "style", json_string(style));
	return b;
}

static const char *level_emoji(const char *level)
{
	if (!strcmp(level, "fatal") || !strcmp(level, "critical"))
		return ":red_circle:";
	if (!strcmp(level, "error"))
		return ":large_orange_circle:";
	if (!strcmp(level, "warning"))
		return ":large_yellow_circle:";
	if (!strcmp(level, "resolved"))
		return ":large_green_circle:";
	return ":white_circle:";
}

static json_t *option(const char *label, const char *value)
{
	return json_pack("{s:{s:s,s:s},s:s}", "text", "type", "plain_text", "text", label, "value", value);
}

json_t *slack_blocks_head(const json_t *alert, const struct slack_head_opts *o, char **text)
{
	*text = NULL;
	bool resolved = o->resolved_by || o->resolved_by_user || o->resolved_by_name;
	const char *title = *s(alert, "title") ? s(alert, "title") : "Sentry alert";
	struct buf t;
	buf_init(&t, 0);
	buf_printf(&t, "%s[%s] %s", resolved ? "Resolved: " : o->archived ? "Archived: " : "",
		   *s(alert, "project") ? s(alert, "project") : "?", title);
	if (o->count > 1)
		buf_printf(&t, " (%ld alerts)", o->count);
	json_t *blocks = json_array();
	char head[160];
	snprintf(head, sizeof head, "%s%.140s", resolved ? "Resolved: " : o->archived ? "Archived: " : "", title);
	json_array_append_new(blocks, json_pack("{s:s,s:{s:s,s:s,s:b}}", "type", "header", "text", "type",
						"plain_text", "text", head, "emoji", 1));
	struct buf f;
	buf_init(&f, 0);
	buf_printf(&f, "%s *%s*", level_emoji(resolved ? "resolved" : s(alert, "level")),
		   *s(alert, "level") ? s(alert, "level") : "alert");
	buf_puts(&f, "  ·  *Project:* ");
	esc(&f, *s(alert, "project") ? s(alert, "project") : "unknown");
	if (*s(alert, "environment")) {
		buf_puts(&f, "  ·  *Env:* ");
		esc(&f, s(alert, "environment"));
	}
	if (*s(alert, "culprit")) {
		buf_puts(&f, "\n*Culprit:* `");
		esc(&f, s(alert, "culprit"));
		buf_puts(&f, "`");
	}
	const json_t *cnt = json_object_get(alert, "count"), *uc = json_object_get(alert, "user_count");
	if (json_is_integer(cnt))
		buf_printf(&f, "\n*Events:* %lld", (long long)json_integer_value(cnt));
	if (json_is_integer(uc))
		buf_printf(&f, "  ·  *Users:* %lld", (long long)json_integer_value(uc));
	const json_t *tags = json_object_get(alert, "tags");
	for (size_t i = 0; o->tags && i < o->tags->n; i++) {
		const char *v = json_string_value(json_object_get(tags, o->tags->v[i]));
		if (!v)
			continue;
		buf_puts(&f, i ? "  ·  " : "\n");
		buf_printf(&f, "*%s:* ", o->tags->v[i]);
		esc(&f, v);
	}
	json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "section", "text", mrkdwn(buf_str(&f))));
	buf_reset(&f);

	buf_printf(&f, "%ld alert%s in this group", o->count, o->count == 1 ? "" : "s");
	if (*s(alert, "alert_rule")) {
		buf_puts(&f, "  ·  rule ");
		esc(&f, s(alert, "alert_rule"));
	}
	if (o->route)
		buf_printf(&f, "  ·  route `%s`", o->route);
	if (*s(alert, "web_url"))
		buf_printf(&f, "  ·  <%s|View in Sentry>", s(alert, "web_url"));
	if (o->resolved_by_user) {
		buf_puts(&f, "\n:white_check_mark: Resolved by ");
		mention(&f, o->resolved_by_user);
		buf_puts(&f, " via the bridge");
	} else if (o->resolved_by_name) {
		buf_puts(&f, "\n:white_check_mark: Resolved by ");
		esc(&f, o->resolved_by_name);
		buf_puts(&f, " in Sentry");
	} else if (o->archived && o->archived_by_name) {
		buf_puts(&f, "\n:zzz: Archived ");
		esc(&f, o->archived);
		buf_puts(&f, " by ");
		esc(&f, o->archived_by_name);
		buf_puts(&f, " in Sentry");
	} else if (o->resolved_by) {
		buf_puts(&f, "\n:white_check_mark: Resolved by ");
		esc(&f, o->resolved_by);
	} else if (o->archived) {
		buf_puts(&f, "\n:zzz: Archived ");
		esc(&f, o->archived);
		if (o->archived_by) {
			buf_puts(&f, " by ");
			mention(&f, o->archived_by);
		}
		buf_puts(&f, " via the bridge");
	}
	if (o->assignee) {
		buf_puts(&f, "\n:bust_in_silhouette: Assigned to ");
		mention(&f, o->assignee);
		buf_puts(&f, " via the bridge");
	} else if (o->assignee_name) {
		buf_puts(&f, "\n:bust_in_silhouette: Assigned to ");
		esc(&f, o->assignee_name);
		buf_puts(&f, " in Sentry");
	}
	json_array_append_new(blocks, json_pack("{s:s,s:[o]}", "type", "context", "elements", mrkdwn(buf_str(&f))));
	buf_reset(&f);

	if (!resolved) {
		const char *issue = s(alert, "issue");
		json_t *elems = json_array();
		bool is_issue = *issue && strcmp(s(alert, "resource"), "metric_alert");
		if (is_issue) {
			json_array_append_new(elems, button(o->action_prefix, "resolve", "Resolve", issue, "primary"));
			if (!o->archived) {
				/* Sentry: archived_until_escalating, or ignoreDuration minutes */
				char aid[96];
				snprintf(aid, sizeof aid, "%sarchive", o->action_prefix);
				json_array_append_new(
				    elems, json_pack("{s:s,s:s,s:{s:s,s:s},s:[o,o,o,o]}", "type", "static_select", "action_id",
						     aid, "placeholder", "type", "plain_text", "text", "Archive", "options",
						     option("Until escalating", "until_escalating"), option("For 1 hour", "60"),
						     option("For 1 day", "1440"), option("For 1 week", "10080")));
			}
			json_array_append_new(elems, button(o->action_prefix, "assign", "Assign to me", issue, NULL));
		}
		char id[96];
		snprintf(id, sizeof id, "%ssilence", o->action_prefix);
		json_array_append_new(
		    elems, json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:{s:s,s:s},s:s},{s:{s:s,s:s},s:s},{s:{s:s,s:s},s:s}]}",
				     "type", "static_select", "action_id", id, "placeholder", "type", "plain_text", "text",
				     "Silence", "options", "text", "type", "plain_text", "text", "1 hour", "value", "1h",
				     "text", "type", "plain_text", "text", "1 day", "value", "1d", "text", "type",
				     "plain_text", "text", "Until resolved", "value", "resolved"));
		char bid[160]; /* names the issue for the click handler */
		snprintf(bid, sizeof bid, "%striage:%.100s", o->action_prefix, issue);
		json_array_append_new(blocks,
				      json_pack("{s:s,s:s,s:o}", "type", "actions", "block_id", bid, "elements", elems));
	}
	*text = buf_take(&t);
	return blocks;
}

char *slack_text_thread(const json_t *alert, long n_new, long total)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%ld more alert%s (%ld in total). Latest: %s", n_new, n_new == 1 ? "" : "s", total,
		   *s(alert, "level") ? s(alert, "level") : "alert");
	if (*s(alert, "environment"))
		buf_printf(&b, " in %s", s(alert, "environment"));
	buf_puts(&b, ": ");
	esc(&b, s(alert, "title"));
	return buf_take(&b);
}

char *slack_text_resolved(const json_t *alert)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, ":white_check_mark: Resolved in Sentry: ");
	esc(&b, s(alert, "title"));
	return buf_take(&b);
}
