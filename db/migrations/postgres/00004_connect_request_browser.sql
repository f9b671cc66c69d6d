-- +goose Up
-- Hash of the nonce in the cookie connectTeams set in the recruiter's
-- browser; the callback must present the same nonce.
ALTER TABLE connect_requests ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE connect_requests DROP COLUMN browser_hash;
