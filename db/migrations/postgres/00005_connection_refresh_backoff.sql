-- +goose Up
-- The refresh backoff of a connection, shared by every replica: how many
-- token endpoint calls failed in a row, and the earliest time of the next.
ALTER TABLE connections ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN refresh_retry_at TIMESTAMPTZ NULL;

-- +goose Down
ALTER TABLE connections DROP COLUMN refresh_retry_at;
ALTER TABLE connections DROP COLUMN refresh_failures;
