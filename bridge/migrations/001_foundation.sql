-- 001_foundation: the durable inbox, the job queue, the audit log, sync runs.

-- Received webhooks, stored before they are acknowledged. One row per
-- upstream delivery item (an Okta event uuid, a Sentry Request-ID, ...): a
-- redelivery hits the unique key and is ignored.
CREATE TABLE inbox (
	id            bigserial PRIMARY KEY,
	source        text NOT NULL,
	external_id   text NOT NULL,
	kind          text NOT NULL,
	received_at   timestamptz NOT NULL DEFAULT now(),
	occurred_at   timestamptz,
	subject       text,
	payload       jsonb NOT NULL,
	status        text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'done', 'skipped', 'failed', 'dead')),
	attempts      integer NOT NULL DEFAULT 0,
	last_error    text,
	processed_at  timestamptz,
	request_id    text,
	UNIQUE (source, external_id)
);
CREATE INDEX inbox_status ON inbox (status, received_at);
CREATE INDEX inbox_subject ON inbox (source, subject, occurred_at) WHERE subject IS NOT NULL;

-- Work to do. Claimed with FOR UPDATE SKIP LOCKED; a running job holds a
-- lease so a job whose worker died is picked up again after the lease.
CREATE TABLE jobs (
	id            bigserial PRIMARY KEY,
	kind          text NOT NULL,
	payload       jsonb NOT NULL DEFAULT '{}',
	dedupe_key    text,
	status        text NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'running', 'done', 'dead')),
	priority      integer NOT NULL DEFAULT 0,
	attempts      integer NOT NULL DEFAULT 0,
	max_attempts  integer NOT NULL,
	run_at        timestamptz NOT NULL DEFAULT now(),
	locked_by     text,
	lease_until   timestamptz,
	last_error    text,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	finished_at   timestamptz
);
-- While a job with a dedupe key is waiting or running, a second one with
-- the same kind and key is not queued again.
CREATE UNIQUE INDEX jobs_dedupe ON jobs (kind, dedupe_key)
	WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_status ON jobs (status, updated_at);

-- Append-only record of every change the bridge made or refused, and why.
CREATE TABLE audit_log (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor       text NOT NULL,
	action      text NOT NULL,
	target      text,
	reason      text,
	before      jsonb,
	after       jsonb,
	run_id      bigint,
	request_id  text,
	details     jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- One reconcile of Okta against Sentry: its plan and what became of it.
CREATE TABLE sync_runs (
	id           bigserial PRIMARY KEY,
	trigger      text NOT NULL,
	dry_run      boolean NOT NULL,
	status       text NOT NULL DEFAULT 'running'
		CHECK (status IN ('running', 'planned', 'applied', 'refused', 'failed')),
	started_at   timestamptz NOT NULL DEFAULT now(),
	finished_at  timestamptz,
	replica      text,
	plan         jsonb,
	summary      jsonb,
	error        text
);
CREATE INDEX sync_runs_started ON sync_runs (started_at DESC);

-- When each scheduled task last ran, so a new leader keeps the rhythm
-- instead of starting every task at once.
CREATE TABLE schedule_state (
	name         text PRIMARY KEY,
	last_run_at  timestamptz NOT NULL,
	last_replica text
);
