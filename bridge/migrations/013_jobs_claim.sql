-- 013_jobs_claim: an index that lets a worker claim a job without reading
-- the whole backlog (issue 8, the webhook acknowledgement target).
-- The claim (bridge/core/jobs.c) takes, for each kind the worker may run,
-- the first few ready jobs in (priority, run_at, id) order from this index,
-- then locks the best one. With only jobs_ready, the claim filtered every
-- queued row by kind and sorted them: 3.5 ms with 5,000 queued, under load
-- far more, and at 500 webhooks a second the backlog is thousands.
CREATE INDEX jobs_ready_kind ON jobs (kind, priority DESC, run_at, id) WHERE status = 'queued';
DROP INDEX jobs_ready;
