CREATE TABLE customers (
    id                    text PRIMARY KEY,
    email                 text UNIQUE,
    is_anonymous          boolean NOT NULL,
    anonymous_secret_hash bytea,
    status                text NOT NULL DEFAULT 'active',
    created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id           text PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES customers (id),
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    scope        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_customer ON api_tokens (customer_id, created_at DESC);

CREATE TABLE databases (
    id                 text PRIMARY KEY,
    customer_id        text NOT NULL REFERENCES customers (id),
    name               text NOT NULL,
    state              text NOT NULL,
    state_reason       text NOT NULL DEFAULT '',
    region             text NOT NULL,
    admin_password_enc bytea,
    parent_database_id text,
    snapshot_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
CREATE UNIQUE INDEX databases_customer_name ON databases (customer_id, name) WHERE state <> 'DISABLED';
CREATE INDEX databases_customer ON databases (customer_id, created_at DESC);
