-- 002_sync: mirrors of Okta and Sentry kept current by each reconcile, and
-- the changes of each sync run.

ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
	CHECK (status IN ('queued', 'running', 'planned', 'applied', 'refused', 'failed'));

-- Okta groups the policy uses (access, role-mapped and team-mapped groups).
CREATE TABLE okta_groups (
	id            text PRIMARY KEY,
	name          text NOT NULL,
	type          text,
	member_count  integer NOT NULL DEFAULT 0,
	synced_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX okta_groups_name ON okta_groups (name);

-- Okta users who are in at least one of those groups.
CREATE TABLE okta_users (
	id         text PRIMARY KEY,
	email      text,
	login      text,
	status     text NOT NULL,
	synced_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX okta_users_email ON okta_users (lower(email));

CREATE TABLE okta_memberships (
	group_id  text NOT NULL REFERENCES okta_groups (id) ON DELETE CASCADE,
	user_id   text NOT NULL REFERENCES okta_users (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX okta_memberships_user ON okta_memberships (user_id);

-- Sentry members and pending invites, with the managed teams they are on.
CREATE TABLE sentry_members (
	id               text PRIMARY KEY,
	email            text NOT NULL,
	role             text NOT NULL,
	pending          boolean NOT NULL DEFAULT false,
	idp_provisioned  boolean NOT NULL DEFAULT false,
	teams            text[] NOT NULL DEFAULT '{}',
	synced_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sentry_members_email ON sentry_members (lower(email));

-- Each change of a run's plan and what became of it.
CREATE TABLE sync_changes (
	run_id      bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	seq         integer NOT NULL,
	kind        text NOT NULL,
	email       text NOT NULL,
	member_id   text,
	okta_id     text,
	team        text,
	before      jsonb,
	after       jsonb,
	reason      text NOT NULL,
	status      text NOT NULL DEFAULT 'planned'
		CHECK (status IN ('planned', 'applied', 'failed', 'requested', 'skipped')),
	error       text,
	applied_at  timestamptz,
	PRIMARY KEY (run_id, seq)
);
