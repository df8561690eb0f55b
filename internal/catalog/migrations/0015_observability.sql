-- Observability (issue 15): per-database figures at one-minute resolution,
-- kept 7 days (pruned by the collector), and the cumulative counters they
-- were computed from, so that deltas stay right across server restarts.
-- No foreign keys: a deleted database's figures age out with the rest.

-- One row per database and wall-clock minute. Several collections in one
-- minute add their deltas (calls, totals, commits, errors) and keep the
-- largest p99 estimate and connection count, and the latest sizes.
CREATE TABLE obs_minutes (
    database_id        text        NOT NULL,
    minute             timestamptz NOT NULL,
    calls              bigint      NOT NULL DEFAULT 0,
    total_ms           double precision NOT NULL DEFAULT 0,
    p99_ms             double precision NOT NULL DEFAULT 0,
    xact_commit        bigint      NOT NULL DEFAULT 0,
    errors             bigint      NOT NULL DEFAULT 0,
    connections        integer     NOT NULL DEFAULT 0,
    db_size_bytes      bigint,
    fs_logical_bytes   bigint,
    PRIMARY KEY (database_id, minute)
);
CREATE INDEX obs_minutes_minute ON obs_minutes (minute);

-- Per-query deltas per minute (at most a few dozen per collection, the
-- largest by time), summed over a window for top_queries.
CREATE TABLE obs_query_minutes (
    database_id text        NOT NULL,
    minute      timestamptz NOT NULL,
    queryid     bigint      NOT NULL,
    query       text        NOT NULL,
    calls       bigint      NOT NULL,
    total_ms    double precision NOT NULL,
    rows        bigint      NOT NULL,
    PRIMARY KEY (database_id, minute, queryid)
);
CREATE INDEX obs_query_minutes_minute ON obs_query_minutes (minute);

-- The last cumulative counters read from a database: pg_stat_database
-- (commits) and pg_stat_statements per query (calls, time, sum of squared
-- times, rows). A counter lower than its baseline was reset.
CREATE TABLE obs_baselines (
    database_id text PRIMARY KEY,
    xact_commit bigint NOT NULL,
    queries     jsonb  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
