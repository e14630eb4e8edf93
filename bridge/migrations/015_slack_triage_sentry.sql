-- 015_slack_triage_sentry: triage done by a person in Sentry's own UI
-- (issue webhooks with an actor of type "user"), so that the heads of the
-- issue's groups say so: "Archived until escalating by Ada Lovelace in
-- Sentry", "Assigned to Backend in Sentry". The bridge's own changes (made
-- with its token: actor "application") stay recorded with the Slack person
-- who clicked (status_by, assignee).
ALTER TABLE slack_triage ADD COLUMN status_by_name text;  -- Sentry's name of the person; status_by is then NULL
ALTER TABLE slack_triage ADD COLUMN assignee_name text;   -- Sentry's name of the user or team; assignee is then NULL
