-- +goose Up
-- attempt_id names the request that owns a pending send, so only that
-- request records the outcome, even after another one took the key over.
ALTER TABLE sent_messages ADD COLUMN attempt_id TEXT NOT NULL DEFAULT '';
-- The purge of expired recipient cache entries reads this index.
CREATE INDEX recipient_cache_expires_idx ON recipient_cache (expires_at);

-- +goose Down
DROP INDEX recipient_cache_expires_idx;
ALTER TABLE sent_messages DROP COLUMN attempt_id;
