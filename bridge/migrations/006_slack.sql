-- 006_slack: alert routing to Slack (issue 8): the Sentry project mirror
-- alerts are enriched from, silences, the notification outbox, message
-- groups, and the cached Slack channel and user directory.

-- Sentry projects by numeric id (event_alert payloads carry only the id).
-- Filled from GET /organizations/{org}/projects/ on a cache miss.
CREATE TABLE sentry_projects (
	id          bigint PRIMARY KEY,
	slug        text NOT NULL,
	teams       text[] NOT NULL DEFAULT '{}',
	synced_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sentry_projects_slug ON sentry_projects (slug);

-- Silences: alerts matching every matcher between starts_at and ends_at are
-- recorded as silenced and not sent. ends_at NULL with an issue: until that
-- issue is resolved. Deleting a silence sets expired_at: rows stay for the
-- audit trail.
CREATE TABLE slack_silences (
	id          bigserial PRIMARY KEY,
	matchers    text[] NOT NULL DEFAULT '{}',
	issue       text,
	starts_at   timestamptz NOT NULL DEFAULT now(),
	ends_at     timestamptz,
	author      text NOT NULL,
	comment     text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL DEFAULT now(),
	expired_at  timestamptz,
	CHECK (ends_at IS NOT NULL OR issue IS NOT NULL),
	CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX slack_silences_active ON slack_silences (starts_at) WHERE expired_at IS NULL;

-- One row per notification (an alert reaching one receiver). idem_key is
-- "sentry:<Request-ID>:<route path>": processing a delivery twice inserts
-- nothing twice. Delivery (issue 8 step 3) claims pending rows.
CREATE TABLE slack_outbox (
	id              bigserial PRIMARY KEY,
	idem_key        text NOT NULL UNIQUE,
	inbox_id        bigint,
	kind            text NOT NULL CHECK (kind IN ('alert', 'resolved', 'update')),
	receiver        text NOT NULL,
	target          text NOT NULL,        -- channel name or ID, or an e-mail for a DM
	route_path      text NOT NULL,
	route_trail     text NOT NULL,
	group_key       text NOT NULL,
	issue           text,
	status          text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'sending', 'sent', 'grouped', 'muted', 'silenced', 'suppressed', 'dead')),
	reason          text,                 -- muting interval, silence id, dead-letter cause
	alert           jsonb NOT NULL,       -- what the message shows
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	locked_by       text,
	lease_until     timestamptz,
	last_error      text,
	slack_channel   text,
	slack_ts        text,
	created_at      timestamptz NOT NULL DEFAULT now(),
	sent_at         timestamptz
);
CREATE INDEX slack_outbox_ready ON slack_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX slack_outbox_group ON slack_outbox (group_key, created_at);
CREATE INDEX slack_outbox_status ON slack_outbox (status, created_at);

-- One Slack message per group: the head message, its count, and when the
-- thread was last replied to (at most once per group_interval) and the
-- group last posted again (repeat_interval).
CREATE TABLE slack_groups (
	group_key       text PRIMARY KEY,
	receiver        text NOT NULL,
	slack_channel   text,
	head_ts         text,
	alerts          integer NOT NULL DEFAULT 0,
	first_at        timestamptz NOT NULL DEFAULT now(),
	last_alert_at   timestamptz NOT NULL DEFAULT now(),
	last_update_at  timestamptz,
	last_thread_at  timestamptz,
	last_post_at    timestamptz,
	resolved_at     timestamptz,
	-- A post in flight: the metadata key it carries, the thread it goes to
	-- (NULL: the channel) and a lower bound of its ts. After a crash the
	-- next delivery looks the key up in Slack before posting again.
	inflight_key    text,
	inflight_thread text,
	inflight_oldest text
);

-- The cached workspace directory (conversations.list, users.list).
CREATE TABLE slack_channels (
	id           text PRIMARY KEY,
	name         text NOT NULL,
	is_private   boolean NOT NULL DEFAULT false,
	is_archived  boolean NOT NULL DEFAULT false,
	is_member    boolean NOT NULL DEFAULT false,
	num_members  integer,
	refreshed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_channels_name ON slack_channels (name);

CREATE TABLE slack_users (
	id           text PRIMARY KEY,
	name         text NOT NULL DEFAULT '',
	real_name    text NOT NULL DEFAULT '',
	email        text,
	deleted      boolean NOT NULL DEFAULT false,
	is_bot       boolean NOT NULL DEFAULT false,
	refreshed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_users_email ON slack_users (lower(email));
