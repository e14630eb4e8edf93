-- 007_access: time-bound access requests and the grants they create (issue 9).

CREATE TABLE access_requests (
	id                bigserial PRIMARY KEY,
	requester         text NOT NULL,               -- email, lower-cased
	kind              text NOT NULL CHECK (kind IN ('role', 'team')),
	role              text,
	team              text,
	duration_ms       bigint NOT NULL CHECK (duration_ms > 0),
	reason            text,
	status            text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
	approver_rule     integer,
	approvals_needed  integer NOT NULL DEFAULT 1,
	source            text NOT NULL,               -- api, cli, slack, web
	created_by        text NOT NULL,
	created_at        timestamptz NOT NULL DEFAULT now(),
	decided_at        timestamptz,
	decided_by        text,
	decision_reason   text
);
CREATE INDEX access_requests_status ON access_requests (status, created_at DESC);
CREATE INDEX access_requests_requester ON access_requests (requester, created_at DESC);

-- One row per distinct approver of a request: a second click is a no-op.
CREATE TABLE access_approvals (
	request_id  bigint NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
	approver    text NOT NULL,
	source      text NOT NULL,
	at          timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (request_id, approver)
);

CREATE TABLE access_grants (
	id           bigserial PRIMARY KEY,
	request_id   bigint UNIQUE REFERENCES access_requests (id),
	person       text NOT NULL,                    -- email, lower-cased
	kind         text NOT NULL CHECK (kind IN ('role', 'team')),
	role         text,
	team         text,
	approved_by  text NOT NULL,
	starts_at    timestamptz NOT NULL DEFAULT now(),
	ends_at      timestamptz NOT NULL,
	status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'revoked')),
	ended_at     timestamptz,
	ended_by     text,
	end_reason   text,
	warned_at    timestamptz
);
CREATE INDEX access_grants_active ON access_grants (ends_at) WHERE status = 'active';
CREATE INDEX access_grants_person ON access_grants (person, status);
