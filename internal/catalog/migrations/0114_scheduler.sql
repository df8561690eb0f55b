-- Issue 14, the scheduler (docs/adr/0005-scheduler.md). Numbered 0114, not
-- 0014: the functions' tables of the same issue take 0014 on another
-- branch, and versions are keys.

-- The last tick the scheduler processed (one row). After a restart the
-- ticks between it and now are the missed ones (scheduler.Due).
CREATE TABLE scheduler_state (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_tick timestamptz NOT NULL
);

-- One row per thing fired per tick, inserted before it runs: a tick is
-- run at most once, across restarts and across servers sharing the
-- catalog. kind is 'sql' (job = cron.job's jobid) or 'function' (job =
-- function id). Pruned after a day.
CREATE TABLE scheduler_claims (
    kind        text NOT NULL,
    database_id text NOT NULL,
    job         text NOT NULL,
    tick        timestamptz NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, database_id, job, tick)
);
CREATE INDEX scheduler_claims_tick ON scheduler_claims (tick);

-- The active jobs of each database's cron.job, copied while the database
-- runs, so the scheduler knows which stopped databases to wake.
CREATE TABLE cron_jobs (
    database_id text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    jobid       bigint NOT NULL,
    schedule    text NOT NULL,
    PRIMARY KEY (database_id, jobid)
);
