-- 012_console_audit: indexes for the console's audit log filters (issue 10).
-- The page is keyset-paged by id, newest first, and filters by person (the
-- actor or the target), action, source (details->>'source': api, cli,
-- slack, web) and time; each filter has an index that yields its rows in id
-- order, so a page of a rare filter does not scan the whole log.
CREATE INDEX audit_log_actor_id ON audit_log (actor, id);
CREATE INDEX audit_log_target_id ON audit_log (target, id);
CREATE INDEX audit_log_action_id ON audit_log (action, id);
CREATE INDEX audit_log_source_id ON audit_log ((details->>'source'), id);
CREATE INDEX audit_log_run_id ON audit_log (run_id) WHERE run_id IS NOT NULL;
