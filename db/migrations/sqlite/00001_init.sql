-- +goose Up
-- Times are TIMESTAMP text written by modernc.org/sqlite as "2006-01-02 15:04:05.999999999-07:00",
-- always in UTC, so they sort as text and scan back into time.Time.
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
    access_token                BLOB NULL,
    refresh_token               BLOB NULL,
    access_expires_at           TIMESTAMP NULL,
    connected_at                TIMESTAMP NULL,
    last_used_at                TIMESTAMP NULL,
    last_refreshed_at           TIMESTAMP NULL,
    refresh_token_used_at       TIMESTAMP NULL,
    keepalive_claimed_until     TIMESTAMP NULL,
    last_connect_error_code     TEXT NULL,
    last_connect_error_message  TEXT NULL,
    version                     INTEGER NOT NULL DEFAULT 1,
    created_at                  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at                  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX connections_status_refresh_used_idx ON connections (status, refresh_token_used_at);

CREATE TABLE connect_requests (
    state_hash    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('connect', 'admin_consent')),
    recruiter_id  TEXT NOT NULL,
    org_id        TEXT NOT NULL DEFAULT '',
    verifier      BLOB NULL,
    return_to     TEXT NOT NULL DEFAULT '',
    expires_at    TIMESTAMP   NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX connect_requests_recruiter_idx ON connect_requests (recruiter_id);

CREATE TABLE chat_cache (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    recruiter_id   TEXT NOT NULL,
    recipient_id   TEXT NOT NULL,
    chat_id        TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
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
    expires_at           TIMESTAMP   NOT NULL,
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
    message_created_at      TIMESTAMP NULL,
    web_url                 TEXT NULL,
    error_code              TEXT NULL,
    created_at              TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at              TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (recruiter_id, idempotency_key)
);
CREATE INDEX sent_messages_created_idx ON sent_messages (created_at);

CREATE TABLE tenant_approvals (
    tenant_id    TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL DEFAULT '',
    approved_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- +goose Down
DROP TABLE tenant_approvals;
DROP TABLE sent_messages;
DROP TABLE recipient_cache;
DROP TABLE chat_cache;
DROP TABLE connect_requests;
DROP TABLE connections;
