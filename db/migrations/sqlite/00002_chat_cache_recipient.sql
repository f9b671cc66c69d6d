-- +goose Up
-- The chat cache also keeps the recipient's basic profile, so a message to a
-- colleague already messaged needs no Graph lookup.
ALTER TABLE chat_cache ADD COLUMN recipient_display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE chat_cache ADD COLUMN recipient_mail TEXT NOT NULL DEFAULT '';
ALTER TABLE chat_cache ADD COLUMN recipient_upn TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE chat_cache DROP COLUMN recipient_upn;
ALTER TABLE chat_cache DROP COLUMN recipient_mail;
ALTER TABLE chat_cache DROP COLUMN recipient_display_name;
