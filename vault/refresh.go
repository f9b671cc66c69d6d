package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// errManyOutcomes rejects a RefreshOutcome that sets more than one outcome.
var errManyOutcomes = errors.New("vault: refresh outcome sets more than one of tokens, expire and failure")

// Refresh runs fn while holding the connection's refresh lock, so only one
// refresh per connection runs at a time across goroutines and processes
// sharing the database. On PostgreSQL the lock is SELECT … FOR UPDATE on the
// row. On SQLite it is the database's write lock (BEGIN IMMEDIATE), which
// Refresh takes after the process's write turn (db.LockWrites). ctx bounds the wait for the lock and the whole
// transaction.
//
// Refresh re-reads the row with its tokens decrypted and calls fn with it,
// so a caller that waited gets the tokens another caller stored. fn may call
// the token endpoint. In the same transaction it then stores fn's outcome:
// Tokens are sealed and stored with access_expires_at, last_refreshed_at and
// refresh_token_used_at set to now; Expire makes the row EXPIRED with that
// reason and deletes both tokens; both clear the refresh backoff. Failure
// stores the backoff and keeps the tokens. None leaves the row unchanged. Refresh
// returns the row as committed, with tokens decrypted when it holds any.
//
// fn is not called when the row holds no tokens (not CONNECTED), or when
// they fail to open; the latter expires the row as GetConnection does. A
// missing row, for example after DeleteRecruiter, returns ErrNotFound, so a
// refresh racing a disconnect never stores tokens again. An error from fn
// rolls the transaction back and is returned wrapped.
//
// NOTE: On SQLite fn runs while this process holds the database's only write
// lock, so fn must not write to the database itself, and other writers wait
// (up to busy_timeout) until fn returns.
func (s *Store) Refresh(ctx context.Context, connectionID string, fn func(ctx context.Context, c *Connection) (RefreshOutcome, error)) (*Connection, error) {
	var out *Connection
	var notify error
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		row, err := s.getRow(ctx, tx, "id", connectionID, s.forUpdate())
		if err != nil {
			return err
		}
		c, openErr, err := s.lockedConnection(ctx, tx, row)
		if err != nil {
			return err
		}
		if c.Tokens == nil {
			out, notify = c, openErr
			return nil // commit the expiry, if any
		}

		outcome, err := fn(ctx, c)
		if err != nil {
			return fmt.Errorf("refresh connection: %w", err)
		}
		if err := s.storeOutcome(ctx, tx, row.ID, outcome); err != nil {
			return err
		}
		out, err = s.readDecrypted(ctx, tx, row.ID)
		return err
	})
	if notify != nil && err == nil {
		s.notifyDecryptFailure(connectionID, notify)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockedConnection converts the locked row and decrypts its tokens. When
// they fail to open, Tokens is nil, and a CONNECTED row becomes EXPIRED with
// the opening error returned as notify. When the row holds none, Tokens is nil too.
func (s *Store) lockedConnection(ctx context.Context, tx *sqlx.Tx, row *connectionRow) (c *Connection, notify, err error) {
	c = row.connection()
	if !row.hasTokens() || !readable(c) {
		return c, nil, nil
	}

	tokens, openErr := s.openTokens(row)
	expired, err := s.settleStatus(ctx, tx, row, c, openErr)
	if err != nil {
		return nil, nil, err
	}
	if expired {
		return c, openErr, nil
	}
	if openErr == nil {
		c.Tokens = tokens
	}
	return c, nil, nil
}

// storeOutcome writes fn's outcome to the locked row.
func (s *Store) storeOutcome(ctx context.Context, tx *sqlx.Tx, id string, o RefreshOutcome) error {
	now := s.clock()
	set := 0
	for _, ok := range []bool{o.Tokens != nil, o.Expire != "", o.Failure != nil} {
		if ok {
			set++
		}
	}
	switch {
	case set > 1:
		return errManyOutcomes
	case o.Tokens != nil:
		access, refresh, err := s.sealTokens(id, *o.Tokens)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE connections SET access_token = ?, refresh_token = ?,
			access_expires_at = ?, last_refreshed_at = ?, refresh_token_used_at = ?, keepalive_claimed_until = NULL,
			refresh_failures = 0, refresh_retry_at = NULL, version = version + 1, updated_at = ? WHERE id = ?`),
			access, refresh, nullTime(o.Tokens.AccessExpiresAt), now, now, now, id)
		if err != nil {
			return fmt.Errorf("store refreshed tokens: %w", err)
		}
		if o.Scopes != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET granted_scopes = ? WHERE id = ?`), strings.Join(o.Scopes, " "), id); err != nil {
				return fmt.Errorf("store granted scopes: %w", err)
			}
		}
	case o.Expire != "":
		_, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET status = ?, expired_reason = ?,
			access_token = NULL, refresh_token = NULL, keepalive_claimed_until = NULL,
			refresh_failures = 0, refresh_retry_at = NULL, version = version + 1, updated_at = ? WHERE id = ?`),
			StatusExpired, o.Expire, now, id)
		if err != nil {
			return fmt.Errorf("expire connection: %w", err)
		}
	case o.Failure != nil:
		// The tokens do not change, so neither does the version.
		_, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET refresh_failures = ?, refresh_retry_at = ? WHERE id = ?`),
			o.Failure.Failures, o.Failure.RetryAt.UTC(), id)
		if err != nil {
			return fmt.Errorf("store refresh backoff: %w", err)
		}
	}
	return nil
}

// readDecrypted reads the row by id with its tokens decrypted.
func (s *Store) readDecrypted(ctx context.Context, q sqlx.QueryerContext, id string) (*Connection, error) {
	row, err := s.getRow(ctx, q, "id", id, "")
	if err != nil {
		return nil, err
	}
	c := row.connection()
	if row.hasTokens() {
		if c.Tokens, err = s.openTokens(row); err != nil {
			return nil, err
		}
	}
	return c, nil
}
