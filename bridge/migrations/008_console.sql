-- The web console (issue 10): sign-ins in flight and server-side sessions.
-- Secrets are never stored as such: the state and the session id are kept
-- as SHA-256 hex digests, so a read of the table cannot be replayed as a
-- cookie. Times are milliseconds of the service clock (clock_now_ms).

-- One row per sign-in started at /console/login, deleted when the callback
-- uses it (a replayed state finds nothing).
CREATE TABLE console_logins (
	state_hash    text PRIMARY KEY,
	binding_hash  text NOT NULL,   -- digest of the browser's login cookie
	nonce         text NOT NULL,
	verifier      text NOT NULL,   -- PKCE code_verifier
	next_path     text NOT NULL,
	created_ms    bigint NOT NULL
);
CREATE INDEX console_logins_created ON console_logins (created_ms);

CREATE TABLE console_sessions (
	id_hash       text PRIMARY KEY,
	email         text NOT NULL,   -- lower-cased
	name          text,
	okta_id       text,
	groups        jsonb NOT NULL DEFAULT '[]',
	is_admin      boolean NOT NULL DEFAULT false,
	csrf          text NOT NULL,
	id_token      text,            -- for the id_token_hint of the Okta logout
	created_ms    bigint NOT NULL,
	last_seen_ms  bigint NOT NULL,
	ended_ms      bigint
);
CREATE INDEX console_sessions_email ON console_sessions (email);
