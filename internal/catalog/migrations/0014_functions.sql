-- Functions, their versions, runs, logs, uploaded bundles and database
-- secrets (API.md "Functions, secrets, cron").

-- Uploaded bundle bytes, per customer and digest: a bundle uploaded once
-- deploys into any of the customer's databases. Deploy copies the built
-- script into the version, so a bundle is not needed to run.
CREATE TABLE function_bundles (
    customer_id text NOT NULL REFERENCES customers (id),
    digest      text NOT NULL, -- sha256:<hex> of content
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, digest)
);

-- A function and its schedule. next_run_at is the next tick of
-- cron_schedule (UTC), NULL without a schedule; the scheduler reads it.
CREATE TABLE functions (
    id                text PRIMARY KEY,
    database_id       text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    name              text NOT NULL,
    active_version_id text,
    version           integer NOT NULL DEFAULT 0,
    cron_schedule     text,
    next_run_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT functions_database_name UNIQUE (database_id, name)
);
CREATE INDEX functions_due ON functions (next_run_at) WHERE next_run_at IS NOT NULL;

-- One deploy of a function: what it runs and under which grant.
CREATE TABLE function_versions (
    id                text PRIMARY KEY,
    function_id       text NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    version           integer NOT NULL,
    entrypoint        text NOT NULL,
    bundle_ref        text NOT NULL,
    bundle_digest     text NOT NULL,
    script            text NOT NULL, -- the esbuild output the runtime loads
    export            text NOT NULL,
    run_as            text NOT NULL,
    bypass_rls        boolean NOT NULL,
    timeout_ms        integer NOT NULL,
    memory_mb         integer NOT NULL,
    network_allowlist text[] NOT NULL,
    fs9_read          text[] NOT NULL,
    fs9_write         text[] NOT NULL,
    secret_bindings   text[] NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (function_id, version)
);

-- Runs. idempotency_key is unique per function while set; keys older than
-- 24 h are cleared (at the next use of the key, and by the prune), which
-- is how the uniqueness lasts 24 hours.
CREATE TABLE function_runs (
    id              text PRIMARY KEY,
    function_id     text NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    database_id     text NOT NULL,
    version_id      text NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out')),
    trigger_type    text NOT NULL CHECK (trigger_type IN ('invoke', 'cron')),
    input_json      text,
    result_json     text,
    error           text,
    duration_ms     bigint,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX function_runs_function ON function_runs (function_id, created_at DESC);
CREATE INDEX function_runs_unfinished ON function_runs (status) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX function_runs_idempotency ON function_runs (function_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- A run's console output, secrets already redacted by the worker pool.
CREATE TABLE function_run_logs (
    run_id  text NOT NULL REFERENCES function_runs (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    ts      timestamptz NOT NULL,
    level   text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Secrets of a database, sealed with the master key (AES-GCM).
CREATE TABLE database_secrets (
    database_id text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    name        text NOT NULL,
    value_enc   bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (database_id, name)
);
