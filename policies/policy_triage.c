/*
 * policy_triage.c: what a triage click asks of Sentry; see policy_triage.h.
 */
#include "policy_triage.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const struct triage_option policy_triage_archive_options[] = {
    {"until_escalating", "Until escalating"},
    {"60", "For 1 hour"},
    {"1440", "For 1 day"},
    {"10080", "For 1 week"},
    {NULL, NULL},
};

static const struct {
	const char *value;
	int64_t minutes;
	const char *detail;
} durations[] = {
    {"60", 60, "for 1 hour"},
    {"1440", 1440, "for 1 day"},
    {"10080", 10080, "for 1 week"},
};

int policy_triage_parse(const char *verb, const char *choice, struct triage_req *out)
{
	memset(out, 0, sizeof *out);
	if (!verb)
		return -1;
	if (!strcmp(verb, "resolve")) {
		*out = (struct triage_req){.verb = TRIAGE_RESOLVE, .status = "resolved", .action = "issue.resolve",
					   .done = "Resolved"};
		return 0;
	}
	if (!strcmp(verb, "assign")) {
		*out = (struct triage_req){.verb = TRIAGE_ASSIGN, .action = "issue.assign", .done = "Assigned"};
		return 0;
	}
	if (strcmp(verb, "archive"))
		return -1;
	*out = (struct triage_req){.verb = TRIAGE_ARCHIVE, .status = "ignored", .action = "issue.archive",
				   .done = "Archived"};
	if (!choice || !strcmp(choice, "until_escalating")) {
		out->substatus = "archived_until_escalating";
		out->detail = "until escalating";
		return 0;
	}
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
		if (!strcmp(choice, durations[i].value)) {
			out->substatus = "archived_until_condition_met";
			out->minutes = durations[i].minutes;
			out->detail = durations[i].detail;
			return 0;
		}
	memset(out, 0, sizeof *out);
	return -1;
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

bool policy_triage_noop(const struct triage_state *cur, const struct triage_req *r, const char *email)
{
	if (!cur)
		return false;
	switch (r->verb) {
	case TRIAGE_RESOLVE:
		return same(cur->status, "resolved");
	case TRIAGE_ARCHIVE:
		/* archiving again for a duration restarts the clock, unless it is
		 * the same click twice */
		return same(cur->status, "ignored") && same(cur->status_detail, r->detail) &&
		       (r->minutes == 0 || (cur->status_age_ms >= 0 && cur->status_age_ms < TRIAGE_DOUBLE_CLICK_MS));
	case TRIAGE_ASSIGN:
		return email && cur->assignee_email && !strcasecmp(cur->assignee_email, email);
	}
	return false;
}

bool policy_triage_issue_ok(const char *issue)
{
	size_t n = issue ? strlen(issue) : 0;
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (issue[i] < '0' || issue[i] > '9')
			return false;
	return true;
}

bool policy_triage_slack_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
			return false;
	return true;
}

int policy_triage_from_sentry(const char *action, const char *actor_type, const char *substatus,
			      int64_t ignore_minutes, struct triage_from_sentry *out)
{
	memset(out, 0, sizeof *out);
	if (!action || !actor_type || strcmp(actor_type, "user"))
		return 0;
	if (!strcmp(action, "assigned")) {
		out->assign = true;
		return 1;
	}
	if (!strcmp(action, "resolved")) {
		out->status = "resolved";
		return 1;
	}
	if (strcmp(action, "ignored") && strcmp(action, "archived"))
		return 0;
	out->status = "ignored";
	out->substatus = substatus;
	const char *d = "";
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
		if (ignore_minutes == durations[i].minutes)
			d = durations[i].detail;
	if (*d)
		snprintf(out->detail, sizeof out->detail, "%s", d);
	else if (ignore_minutes > 0)
		snprintf(out->detail, sizeof out->detail, "for %lld minutes", (long long)ignore_minutes);
	else if (same(substatus, "archived_until_escalating"))
		snprintf(out->detail, sizeof out->detail, "until escalating");
	else if (same(substatus, "archived_until_condition_met"))
		snprintf(out->detail, sizeof out->detail, "until a condition is met");
	else
		snprintf(out->detail, sizeof out->detail, "forever");
	return 1;
}
