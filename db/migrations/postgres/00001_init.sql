-- +goose Up
CREATE TABLE connections (
    id                          TEXT PRIMARY KEY,
    recruiter_id                TEXT NOT NULL UNIQUE,
    org_id                      TEXT NOT NULL DEFAULT '',
    status                      TEXT NOT NULL,
    expired_reason              TEXT NULL,
    account_id                  TEXT NOT NULL DEFAULT '',
    tenant_id                   TEXT NOT NULL DEFAULT '',
    email                       TEXT NOT NULL DEFAULT '',
    display_name                TEXT NOT NULL DEFAULT '',
    granted_scopes              TEXT NOT NULL DEFAULT '',
    access_token                BYTEA NULL,
    refresh_token               BYTEA NULL,
    access_expires_at           TIMESTAMPTZ NULL,
    connected_at                TIMESTAMPTZ NULL,
    last_used_at                TIMESTAMPTZ NULL,
    last_refreshed_at           TIMESTAMPTZ NULL,
    refresh_token_used_at       TIMESTAMPTZ NULL,
    keepalive_claimed_until     TIMESTAMPTZ NULL,
    last_connect_error_code     TEXT NULL,
    last_connect_error_message  TEXT NULL,
    version                     BIGINT NOT NULL DEFAULT 1,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX connections_status_refresh_used_idx ON connections (status, refresh_token_used_at);

CREATE TABLE connect_requests (
    state_hash    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('connect', 'admin_consent')),
    recruiter_id  TEXT NOT NULL,
    org_id        TEXT NOT NULL DEFAULT '',
    verifier      BYTEA NULL,
    return_to     TEXT NOT NULL DEFAULT '',
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX connect_requests_recruiter_idx ON connect_requests (recruiter_id);

CREATE TABLE chat_cache (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    recruiter_id   TEXT NOT NULL,
    recipient_id   TEXT NOT NULL,
    chat_id        TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, recipient_id)
);
CREATE INDEX chat_cache_recruiter_idx ON chat_cache (recruiter_id);

CREATE TABLE recipient_cache (
    tenant_id            TEXT NOT NULL,
    email                TEXT NOT NULL,
    user_id              TEXT NOT NULL,
    display_name         TEXT NOT NULL DEFAULT '',
    user_principal_name  TEXT NOT NULL DEFAULT '',
    mail                 TEXT NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, email)
);

CREATE TABLE sent_messages (
    recruiter_id            TEXT NOT NULL,
    idempotency_key         TEXT NOT NULL,
    request_hash            TEXT NOT NULL,
    status                  TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'unknown', 'failed')),
    recipient_id            TEXT NOT NULL DEFAULT '',
    recipient_display_name  TEXT NOT NULL DEFAULT '',
    recipient_email         TEXT NOT NULL DEFAULT '',
    recipient_upn           TEXT NOT NULL DEFAULT '',
    chat_id                 TEXT NOT NULL DEFAULT '',
    message_id              TEXT NOT NULL DEFAULT '',
    message_created_at      TIMESTAMPTZ NULL,
    web_url                 TEXT NULL,
    error_code              TEXT NULL,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (recruiter_id, idempotency_key)
);
CREATE INDEX sent_messages_created_idx ON sent_messages (created_at);

CREATE TABLE tenant_approvals (
    tenant_id    TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL DEFAULT '',
    approved_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tenant_approvals;
DROP TABLE sent_messages;
DROP TABLE recipient_cache;
DROP TABLE chat_cache;
DROP TABLE connect_requests;
DROP TABLE connections;
