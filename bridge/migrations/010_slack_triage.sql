-- 010_slack_triage: what the bridge did to a Sentry issue from Slack
-- (Resolve, Archive, Assign to me; issue 8), so that
--  * the head message of every group about the issue shows it ("Resolved by
--    @ada via the bridge") and keeps showing it when later alerts update
--    the message (bridge/delivery.c renders from this row);
--  * a second click for a state the issue is already in does not call
--    Sentry again (a double click acts once).
-- Sentry records its internal integration as the actor; the person is
-- recorded here and in the audit log.
CREATE TABLE slack_triage (
	issue          text PRIMARY KEY,
	status         text CHECK (status IN ('resolved', 'ignored')),  -- NULL: as Sentry has it
	status_detail  text,          -- "until escalating", "for 1 hour", ...
	substatus      text,          -- what was sent: archived_until_escalating, ...
	status_by      text,          -- Slack user id of the person who clicked
	status_at      timestamptz,
	assignee       text,          -- Slack user id of the person assigned ("Assign to me")
	assignee_email text,
	sentry_actor   text,          -- what Sentry was sent as assignedTo ("user:42")
	assigned_at    timestamptz,
	updated_at     timestamptz NOT NULL DEFAULT now()
);
