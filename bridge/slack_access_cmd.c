/*
 * slack_access_cmd.c: the slash command's grammar (see slack_access_cmd.h).
 */
#include "slack_access_cmd.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip(const char *p)
{
	while (*p && space(*p))
		p++;
	return p;
}

/* The next word of *p (malloc'ed; NULL at the end or out of memory, *oom says). */
static char *word(const char **p, bool *oom)
{
	const char *s = skip(*p), *e = s;
	while (*e && !space(*e))
		e++;
	*p = e;
	if (e == s)
		return NULL;
	char *w = strndup(s, (size_t)(e - s));
	if (!w)
		*oom = true;
	return w;
}

static int fail(struct slack_access_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct slack_access_cmd *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&c->error, fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->error = NULL;
		return -1;
	}
	c->kind = SA_CMD_ERROR;
	return 0;
}

static void lower(char *s)
{
	for (; s && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* A duration token: an optional minus, digits, then letters (30m, 8h, 7d, 90s). */
static bool looks_like_duration(const char *w)
{
	const char *p = w + (*w == '-');
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (!*p)
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	return !*p;
}

static bool team_slug(const char *w)
{
	size_t n = strlen(w);
	if (!n || n > 50)
		return false;
	for (const char *p = w; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

static const char *const ROLES[] = {"member", "manager", "admin", "owner", "billing"};

static bool is_role(const char *w)
{
	for (size_t i = 0; i < sizeof ROLES / sizeof ROLES[0]; i++)
		if (!strcmp(w, ROLES[i]))
			return true;
	return false;
}

/* [duration] [reason...] after a role or team. */
static int tail(struct slack_access_cmd *c, const char *p)
{
	bool oom = false;
	const char *save = p;
	char *w = word(&p, &oom);
	if (oom)
		return -1;
	if (w && looks_like_duration(w)) {
		if (w[0] == '-') {
			free(w);
			return fail(c, "The duration must be positive (like 30m, 8h or 7d).");
		}
		c->duration = w;
	} else {
		free(w);
		p = save;
	}
	p = skip(p);
	size_t n = strlen(p);
	while (n && space(p[n - 1]))
		n--;
	if (n && !(c->reason = strndup(p, n)))
		return -1;
	return 0;
}

int slack_access_cmd_parse(const char *text, struct slack_access_cmd *c)
{
	memset(c, 0, sizeof *c);
	const char *p = text ? text : "";
	if (strlen(p) > SLACK_ACCESS_CMD_MAX)
		return fail(c, "That is too long: at most %d characters.", SLACK_ACCESS_CMD_MAX);
	bool oom = false;
	char *first = word(&p, &oom);
	if (oom)
		return -1;
	if (!first) {
		c->kind = SA_CMD_HELP;
		return 0;
	}
	lower(first);
	int rc = 0;
	if (!strcmp(first, "help") || !strcmp(first, "?")) {
		c->kind = SA_CMD_HELP;
	} else if (!strcmp(first, "list") || !strcmp(first, "ls")) {
		c->kind = SA_CMD_LIST;
		if (*skip(p))
			rc = fail(c, "`list` takes nothing after it.");
	} else if (!strcmp(first, "cancel")) {
		char *w = word(&p, &oom);
		if (oom) {
			rc = -1;
		} else if (!w) {
			rc = fail(c, "Say which request to cancel: `cancel 42` (see `list`).");
		} else {
			const char *d = w + (w[0] == '#');
			char *end = NULL;
			long long id = (*d >= '0' && *d <= '9' && strlen(d) <= 15) ? strtoll(d, &end, 10) : 0;
			if (id <= 0 || !end || *end || *skip(p))
				rc = fail(c, "`cancel` takes one request number, like `cancel 42`.");
			else {
				c->kind = SA_CMD_CANCEL;
				c->id = id;
			}
		}
		free(w);
	} else if (!strcmp(first, "team")) {
		char *w = word(&p, &oom);
		if (oom) {
			rc = -1;
		} else if (!w) {
			rc = fail(c, "Say which team: `team observability 7d reason`.");
		} else {
			lower(w);
			if (!team_slug(w)) {
				rc = fail(c, "`%.60s` is not a team slug (lower-case letters, digits, - and _).", w);
				free(w);
			} else {
				c->kind = SA_CMD_TEAM;
				c->team = w;
				rc = tail(c, p);
			}
		}
	} else if (!strcmp(first, "role") || is_role(first)) {
		char *w = strcmp(first, "role") ? strdup(first) : word(&p, &oom);
		if (oom || (!w && strcmp(first, "role"))) {
			rc = -1;
		} else if (!w) {
			rc = fail(c, "Say which role: `role manager 8h reason`.");
		} else {
			lower(w);
			if (!is_role(w)) {
				rc = fail(c, "`%.60s` is not a Sentry role; ask for `member` or `manager`.", w);
				free(w);
			} else {
				c->kind = SA_CMD_ROLE;
				c->role = w;
				rc = tail(c, p);
			}
		}
	} else {
		rc = fail(c, "I do not know `%.60s`. Try `help`.", first);
	}
	free(first);
	if (rc < 0 || c->kind == SA_CMD_ERROR) {
		char *err = c->error;
		c->error = NULL;
		slack_access_cmd_free(c);
		c->error = err;
		c->kind = SA_CMD_ERROR;
		if (rc < 0 || !err)
			return -1;
	}
	return 0;
}

void slack_access_cmd_free(struct slack_access_cmd *c)
{
	if (!c)
		return;
	free(c->role);
	free(c->team);
	free(c->duration);
	free(c->reason);
	free(c->error);
	memset(c, 0, sizeof *c);
}

char *slack_access_cmd_help(const char *command)
{
	const char *k = command && *command ? command : "/sentry-access";
	char *s = NULL;
	if (asprintf(&s,
		     "*Temporary Sentry access*\n"
		     "`%s manager 8h investigating INC-123`: the manager role for 8 hours\n"
		     "`%s team observability 7d on call this week`: membership of a team\n"
		     "`%s list`: your requests and grants\n"
		     "`%s cancel 42`: cancel your pending request 42\n"
		     "The duration is optional (30m, 8h, 7d); the reason is what approvers read.",
		     k, k, k, k) < 0)
		return NULL;
	return s;
}
