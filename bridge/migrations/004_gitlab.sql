-- 004_gitlab: snapshots of the GitLab scope tree that the GitLab proxy
-- answers listings from (issue 6). Each refresh stores one complete
-- snapshot; replicas load the newest at start and whenever a newer one
-- appears. The two newest are kept.

CREATE TABLE gitlab_cache_snapshots (
	id           bigserial PRIMARY KEY,
	built_at     timestamptz NOT NULL DEFAULT now(),
	groups       integer NOT NULL,
	projects     integer NOT NULL,
	duration_ms  bigint NOT NULL,
	data         text NOT NULL   -- the snapshot document of integrations/gitlab/gl_cache.h
);
