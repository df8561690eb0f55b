-- Issue 4: connect keys, long-lived passwords for the PostgreSQL front door.
-- Only the SHA-256 of a key is stored; a revoked key stays as a row (revoked_at)
-- so its id is never reused.
CREATE TABLE connect_keys (
    id           text PRIMARY KEY,
    database_id  text NOT NULL REFERENCES databases (id),
    customer_id  text NOT NULL REFERENCES customers (id),
    name         text NOT NULL,
    role         text NOT NULL,
    scopes       text[] NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX connect_keys_database ON connect_keys (database_id, created_at DESC) WHERE revoked_at IS NULL;
