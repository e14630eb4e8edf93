-- 011_access_slack: Slack notices of access requests (issue 9): a durable
-- outbox of the messages to approvers, requesters and holders, so Slack down
-- delays them and loses none, each posted once, and the approvers' messages
-- found again (channel + ts) to be updated when the request is decided.

CREATE TABLE access_notices (
	id               bigserial PRIMARY KEY,
	key              text NOT NULL UNIQUE,        -- idempotency key: a second insert is a no-op
	request_id       bigint NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
	kind             text NOT NULL CHECK (kind IN ('fanout', 'approver', 'requester', 'warning')),
	target           text NOT NULL DEFAULT '',    -- a channel (name or ID), or "email:<address>" for a DM
	message          jsonb,                       -- requester, warning: {text, blocks}; approver: rendered when sent
	status           text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'dead')),
	attempts         integer NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz NOT NULL DEFAULT now(),
	lease_until      timestamptz,                 -- sending: claimed until (a dead worker's claim runs out)
	last_error       text,
	slack_channel    text,                        -- where it went (channel or DM ID), set before the post for recovery
	slack_ts         text,
	rendered         text,                        -- approver: the request state the message shows
	update_lease     timestamptz,                 -- approver: an update in flight until
	created_at       timestamptz NOT NULL DEFAULT now(),
	sent_at          timestamptz
);
CREATE INDEX access_notices_due ON access_notices (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX access_notices_request ON access_notices (request_id);
CREATE INDEX access_notices_sent_approver ON access_notices (request_id) WHERE kind = 'approver' AND status = 'sent';
