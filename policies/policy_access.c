/*
 * policy_access.c: the rules of access requests (see policy_access.h).
 */
#include "policy_access.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool in_list(const struct config_strlist *l, const char *s)
{
	for (size_t i = 0; s && i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

static bool in_any_group(const struct access_person *p, const struct config_strlist *groups)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (in_list(groups, p->groups[i]))
			return true;
	return false;
}

static void refuse(struct access_verdict *v, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct access_verdict *v, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->problem, sizeof v->problem, fmt, ap);
	va_end(ap);
	v->ok = false;
	v->field = field;
}

/* Does a rule's team list cover team (empty = all teams)? */
static bool covers(const struct config_strlist *teams, const char *team)
{
	return teams->n == 0 || in_list(teams, team);
}

void policy_access_check(const struct config *cfg, const struct access_person *requester,
			 const struct access_ask *ask, struct access_verdict *v)
{
	const struct config_access_requests *ar = &cfg->access_requests;
	memset(v, 0, sizeof *v);
	v->approver_rule = -1;
	v->ok = true;
	if (!ar->enabled) {
		refuse(v, "access_requests", "access requests are not enabled (access_requests.enabled)");
		return;
	}
	if (!requester || !requester->email || !*requester->email) {
		refuse(v, "requester", "the request names no requester");
		return;
	}
	const struct config_strlist *who = ar->requester_groups.n ? &ar->requester_groups : &cfg->roles.access_groups;
	if (!in_any_group(requester, who)) {
		refuse(v, "requester", "%s is not in a group allowed to request access (%s)", requester->email,
		       ar->requester_groups.n ? "access_requests.requester_groups" : "roles.access_groups");
		return;
	}
	if (ask->kind == CONFIG_REQUEST_ROLE) {
		if (ask->role == CONFIG_ROLE_OWNER) {
			refuse(v, "role", "owner cannot be requested");
			return;
		}
		if (ask->role == CONFIG_ROLE_ADMIN) {
			refuse(v, "role", "admin is a retired Sentry role; request manager");
			return;
		}
		if (ask->role > ar->max_role) {
			refuse(v, "role", "%s is above access_requests.max_role (%s)", config_role_name(ask->role),
			       config_role_name(ar->max_role));
			return;
		}
	} else {
		if (!ask->team || !*ask->team) {
			refuse(v, "team", "a team request names no team");
			return;
		}
		if (!ar->any_team && !in_list(&ar->requestable_teams, ask->team)) {
			refuse(v, "team", "team %s is not requestable (access_requests.requestable_teams)", ask->team);
			return;
		}
		if (!ask->team_exists) {
			refuse(v, "team", "team %s does not exist in Sentry", ask->team);
			return;
		}
	}
	int64_t d = ask->duration_ms ? ask->duration_ms : ar->default_duration_ms;
	if (d <= 0) {
		refuse(v, "duration", "the duration must be positive");
		return;
	}
	if (d > ar->max_duration_ms) {
		refuse(v, "duration", "the duration is longer than access_requests.max_duration (%lld s)",
		       (long long)(ar->max_duration_ms / 1000));
		return;
	}
	v->duration_ms = d;
	if (ar->require_reason) {
		const char *r = ask->reason;
		while (r && (*r == ' ' || *r == '\t'))
			r++;
		if (!r || !*r) {
			refuse(v, "reason", "a reason is required (access_requests.require_reason)");
			return;
		}
	}
	for (size_t i = 0; i < ar->n_auto_approve; i++) {
		const struct config_auto_approve_rule *a = &ar->auto_approve[i];
		if (a->kind != ask->kind || !in_any_group(requester, &a->groups) || d > a->max_duration_ms)
			continue;
		if (ask->kind == CONFIG_REQUEST_ROLE && ask->role > a->max_role)
			continue;
		if (ask->kind == CONFIG_REQUEST_TEAM && !covers(&a->teams, ask->team))
			continue;
		v->auto_approved = true;
		return;
	}
	for (size_t i = 0; i < ar->n_approvers; i++) {
		const struct config_approver_rule *r = &ar->approvers[i];
		if (r->kind != ask->kind)
			continue;
		if (ask->kind == CONFIG_REQUEST_TEAM && !covers(&r->teams, ask->team))
			continue;
		v->approver_rule = (int)i;
		v->approvals_needed = r->approvals > 0 ? r->approvals : 1;
		return;
	}
	refuse(v, ask->kind == CONFIG_REQUEST_ROLE ? "role" : "team",
	       "no approver rule covers this request (access_requests.approvers)");
}

bool policy_access_rule_team_admins(const struct config *cfg, int approver_rule, const char *team)
{
	const struct config_access_requests *ar = &cfg->access_requests;
	if (approver_rule < 0 || (size_t)approver_rule >= ar->n_approvers || !team || !*team)
		return false;
	const struct config_approver_rule *r = &ar->approvers[approver_rule];
	return r->team_admins && r->kind == CONFIG_REQUEST_TEAM;
}

bool policy_access_is_approver_for(const struct config *cfg, int approver_rule, const char *team,
				   const struct access_person *person)
{
	const struct config_access_requests *ar = &cfg->access_requests;
	if (approver_rule < 0 || (size_t)approver_rule >= ar->n_approvers || !person || !person->email)
		return false;
	if (in_any_group(person, &ar->approvers[approver_rule].groups))
		return true;
	if (!policy_access_rule_team_admins(cfg, approver_rule, team))
		return false;
	for (size_t i = 0; person->admin_of && i < person->nadmin_of; i++)
		if (person->admin_of[i] && !strcmp(person->admin_of[i], team))
			return true;
	return false;
}

bool policy_access_is_approver(const struct config *cfg, int approver_rule, const struct access_person *person)
{
	return policy_access_is_approver_for(cfg, approver_rule, NULL, person);
}

void policy_access_can_approve(const struct config *cfg, const struct access_ask *ask, const char *requester_email,
			       int approver_rule, int approvals_needed, const char *const *approved_by,
			       size_t n_approved, const struct access_person *approver,
			       struct access_approval_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!approver || !approver->email || !*approver->email) {
		snprintf(v->problem, sizeof v->problem, "the approval names no approver");
		return;
	}
	if (requester_email && !strcasecmp(requester_email, approver->email)) {
		snprintf(v->problem, sizeof v->problem, "%s cannot approve their own request", approver->email);
		return;
	}
	if (!policy_access_is_approver_for(cfg, approver_rule,
					   ask && ask->kind == CONFIG_REQUEST_TEAM ? ask->team : NULL, approver)) {
		snprintf(v->problem, sizeof v->problem, "%s is not an approver of this request (access_requests.approvers)",
			 approver->email);
		return;
	}
	for (size_t i = 0; i < n_approved; i++)
		if (approved_by[i] && !strcasecmp(approved_by[i], approver->email)) {
			snprintf(v->problem, sizeof v->problem, "%s has already approved this request", approver->email);
			return;
		}
	v->ok = true;
	v->complete = (int)n_approved + 1 >= (approvals_needed > 0 ? approvals_needed : 1);
}
