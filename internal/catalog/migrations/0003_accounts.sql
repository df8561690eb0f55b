-- Issue 3: claimed identities and idempotent adoption of anonymous databases.

-- An OIDC identity (issuer + subject) belongs to at most one account.
ALTER TABLE customers ADD COLUMN oidc_issuer text;
ALTER TABLE customers ADD COLUMN oidc_subject text;
ALTER TABLE customers ADD COLUMN claimed_at timestamptz;
CREATE UNIQUE INDEX customers_oidc_identity ON customers (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;

-- The first answer of every adopt-anonymous-databases call, by the caller's
-- idempotency key, written in the transaction that moves the databases: a
-- retry finds it and moves nothing twice.
CREATE TABLE adopt_requests (
    customer_id     text NOT NULL REFERENCES customers (id),
    idempotency_key text NOT NULL,
    request_hash    bytea NOT NULL,
    response        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, idempotency_key)
);

CREATE INDEX api_tokens_customer_live ON api_tokens (customer_id) WHERE revoked_at IS NULL;
