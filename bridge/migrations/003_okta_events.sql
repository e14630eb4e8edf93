-- 003_okta_events: Okta event hooks and System Log catch-up (issue 4).

-- An inbox item that failed for a passing reason waits until this time
-- before the next attempt (the drainer's backoff); NULL: now.
ALTER TABLE inbox ADD COLUMN next_attempt_at timestamptz;
CREATE INDEX inbox_okta_pending ON inbox (occurred_at, id)
	WHERE source = 'okta' AND status = 'pending';

-- The newest event applied to each aspect of a user ('status', 'profile',
-- 'group:<id>'). An event published no later than its aspect's mark (or
-- than the user's last full read, okta_users.synced_at) is stale: the user
-- is read again from Okta instead of applying it.
CREATE TABLE okta_event_marks (
	user_id    text NOT NULL,
	aspect     text NOT NULL,
	published  timestamptz NOT NULL,
	PRIMARY KEY (user_id, aspect)
);

-- Where System Log polling resumes: the rel="next" URL Okta gave last.
CREATE TABLE okta_syslog_state (
	id          boolean PRIMARY KEY DEFAULT true CHECK (id),
	next_url    text,
	polled_at   timestamptz NOT NULL DEFAULT now(),
	events      bigint NOT NULL DEFAULT 0
);

-- Event-driven changes are bounded by the guards over a sliding window:
-- demotions must be countable, and a change held back by the window is
-- 'refused'.
ALTER TABLE sync_changes ADD COLUMN demotion boolean NOT NULL DEFAULT false;
ALTER TABLE sync_changes DROP CONSTRAINT sync_changes_status_check;
ALTER TABLE sync_changes ADD CONSTRAINT sync_changes_status_check
	CHECK (status IN ('planned', 'applied', 'failed', 'requested', 'skipped', 'refused'));
CREATE INDEX sync_changes_applied ON sync_changes (applied_at) WHERE status = 'applied';
CREATE INDEX sync_runs_trigger ON sync_runs (trigger, started_at DESC);
