-- Issue 13: the browser data plane's auth-config and keys. The file number
-- is the issue's, not the next free one: migrations are applied by the set of
-- versions recorded, so a gap is harmless, and two branches adding "0004" at
-- once would otherwise collide.

-- One auth-config per database. version counts the PUTs, so the data plane
-- can key its JWT verifiers by (database, version) and rebuild one only when
-- the config changed.
CREATE TABLE auth_configs (
    database_id text PRIMARY KEY REFERENCES databases (id),
    auth_mode   text NOT NULL CHECK (auth_mode IN ('none', 'byo_jwt')),
    byo_jwt     json, -- json, not jsonb: GET answers the bytes PUT answered
    version     bigint NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Publishable (db9pk_) and service (db9sk_) keys. Only the SHA-256 of a key
-- is stored; a revoked key stays as a row (revoked_at) so its id is never
-- reused. exposed_tables empty = every table of the exposed schemas;
-- rate_rps NULL = no rate limit.
CREATE TABLE data_keys (
    id              text PRIMARY KEY,
    database_id     text NOT NULL REFERENCES databases (id),
    customer_id     text NOT NULL REFERENCES customers (id),
    kind            text NOT NULL CHECK (kind IN ('publishable', 'service')),
    name            text NOT NULL,
    key_hash        bytea NOT NULL UNIQUE,
    allowed_origins text[] NOT NULL,
    exposed_schemas text[] NOT NULL,
    exposed_tables  text[] NOT NULL,
    rate_rps        double precision,
    rate_burst      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz,
    CHECK ((rate_rps IS NULL) = (rate_burst IS NULL))
);
CREATE INDEX data_keys_database ON data_keys (database_id, kind, created_at DESC) WHERE revoked_at IS NULL;
