package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// maxExpireAttempts bounds GetConnection's retries when the row changes
// while it marks a connection with unreadable tokens as expired.
const maxExpireAttempts = 3

// GetConnection returns the recruiter's connection, or ErrNotFound.
//
// With withTokens, the tokens are decrypted into c.Tokens. A token can fail
// to open because it was altered, moved from another row, or sealed by a key
// not in the keyring. Such a token is never overwritten. Instead the
// connection becomes EXPIRED with KEY_UNAVAILABLE and keeps its ciphertexts
// for a key restore. OnDecryptFailure is called, and GetConnection returns
// the connection with Tokens nil and no error. A KEY_UNAVAILABLE connection
// whose tokens open again, because the key was restored, becomes CONNECTED.
func (s *Store) GetConnection(ctx context.Context, recruiterID string, withTokens bool) (*Connection, error) {
	row, err := s.getRow(ctx, s.db, "recruiter_id", recruiterID, "")
	if err != nil {
		return nil, err
	}
	if !withTokens {
		return row.connection(), nil
	}
	return s.openRow(ctx, recruiterID, row)
}

// openRow returns the connection of row with its tokens decrypted, and
// settles the status as GetConnection describes. When the row changed
// meanwhile, it reads it again.
func (s *Store) openRow(ctx context.Context, recruiterID string, row *connectionRow) (*Connection, error) {
	for attempt := 1; ; attempt++ {
		c := row.connection()
		if !row.hasTokens() || !readable(c) {
			return c, nil
		}

		tokens, openErr := s.openTokens(row)
		if openErr == nil && c.Status == StatusConnected {
			c.Tokens = tokens // the usual case: nothing to settle, so no write turn
			return c, nil
		}
		var expired bool
		err := s.write(ctx, func() error {
			var err error
			expired, err = s.settleStatus(ctx, s.db, row, c, openErr)
			return err
		})
		if errors.Is(err, ErrConflict) && attempt < maxExpireAttempts {
			if row, err = s.getRow(ctx, s.db, "recruiter_id", recruiterID, ""); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if expired {
			s.notifyDecryptFailure(row.ID, openErr)
		}
		if openErr == nil {
			c.Tokens = tokens
		}
		return c, nil
	}
}

// SaveConnected stores a successful connect for c.RecruiterID: status
// CONNECTED, the account fields, scopes and sealed tokens, with
// connected_at, last_refreshed_at and refresh_token_used_at set to now.
// It clears the expired reason and the last connect error, and fills c.ID
// and c.Version. A new row gets a new random id. An existing row keeps its
// id, and its chat cache is cleared when the Microsoft account changed.
func (s *Store) SaveConnected(ctx context.Context, c *Connection, t Tokens) error {
	now := s.clock()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		row, err := s.lockOrInsert(ctx, tx, c.RecruiterID, c.OrgID, StatusConnected, now)
		if err != nil {
			return err
		}
		id := row.ID
		if row.AccountID != "" && row.AccountID != c.AccountID {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM chat_cache WHERE connection_id = ?`), id); err != nil {
				return fmt.Errorf("clear chat cache: %w", err)
			}
		}

		access, refresh, err := s.sealTokens(id, t)
		if err != nil {
			return err
		}
		var version int64
		err = tx.GetContext(ctx, &version, s.q(`UPDATE connections SET org_id = ?, status = ?, expired_reason = NULL,
			account_id = ?, tenant_id = ?, email = ?, display_name = ?, granted_scopes = ?,
			access_token = ?, refresh_token = ?, access_expires_at = ?, connected_at = ?, last_refreshed_at = ?,
			refresh_token_used_at = ?, keepalive_claimed_until = NULL, last_connect_error_code = NULL,
			last_connect_error_message = NULL, refresh_failures = 0, refresh_retry_at = NULL,
			version = version + 1, updated_at = ?
			WHERE id = ? RETURNING version`),
			c.OrgID, StatusConnected, c.AccountID, c.TenantID, c.Email, c.DisplayName, joinScopes(c.GrantedScopes),
			access, refresh, nullTime(t.AccessExpiresAt), now, now, now, now, id)
		if err != nil {
			return fmt.Errorf("save connection: %w", err)
		}
		c.ID, c.Version, c.Status, c.ExpiredReason = id, version, StatusConnected, ""
		return nil
	})
}

// RecordConnectError stores a failed connect attempt of recruiterID. On a
// CONNECTED row it sets only the last connect error. Otherwise the row
// (created when missing) loses its tokens and becomes PENDING_ADMIN_APPROVAL
// when pending, else stays EXPIRED if it was, else becomes DISCONNECTED.
func (s *Store) RecordConnectError(ctx context.Context, recruiterID, orgID, code, message string, pending bool) error {
	now := s.clock()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		initial := StatusDisconnected
		if pending {
			initial = StatusPendingAdminApproval
		}
		row, err := s.lockOrInsert(ctx, tx, recruiterID, orgID, initial, now)
		if err != nil {
			return err
		}

		query := `UPDATE connections SET last_connect_error_code = ?, last_connect_error_message = ?, updated_at = ? WHERE id = ?`
		args := []any{code, message, now, row.ID}
		if Status(row.Status) != StatusConnected {
			status, reason := initial, sql.NullString{}
			if !pending && Status(row.Status) == StatusExpired {
				status, reason = StatusExpired, row.ExpiredReason
			}
			// Tokens sealed with a key that is gone are kept for a key restore.
			clear := `access_token = NULL, refresh_token = NULL,`
			if status == StatusExpired && reason.String == string(ReasonKeyUnavailable) {
				clear = ``
			}
			query = `UPDATE connections SET last_connect_error_code = ?, last_connect_error_message = ?, updated_at = ?,
				status = ?, expired_reason = ?, org_id = ?, ` + clear + `
				version = version + 1 WHERE id = ?`
			args = []any{code, message, now, status, reason, orgID, row.ID}
		}
		if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
			return fmt.Errorf("record connect error: %w", err)
		}
		return nil
	})
}

// MarkExpired sets the connection EXPIRED with reason and deletes its tokens.
// With version > 0 it applies only to that version and returns ErrConflict
// when the row has changed; it returns ErrNotFound when there is no row.
func (s *Store) MarkExpired(ctx context.Context, connectionID string, version int64, reason ExpiredReason) error {
	query := `UPDATE connections SET status = ?, expired_reason = ?, access_token = NULL, refresh_token = NULL,
		keepalive_claimed_until = NULL, version = version + 1, updated_at = ? WHERE id = ?`
	args := []any{StatusExpired, reason, s.clock(), connectionID}
	if version > 0 {
		query += ` AND version = ?`
		args = append(args, version)
	}
	res, err := s.exec(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("mark connection expired: %w", err)
	}
	return s.checkUpdated(ctx, s.db, res, connectionID)
}

// TouchLastUsed sets last_used_at to now. It does not change the version.
func (s *Store) TouchLastUsed(ctx context.Context, connectionID string) error {
	res, err := s.exec(ctx, s.q(`UPDATE connections SET last_used_at = ? WHERE id = ?`), s.clock(), connectionID)
	if err != nil {
		return fmt.Errorf("touch connection: %w", err)
	}
	return s.checkUpdated(ctx, s.db, res, connectionID)
}

// DeleteRecruiter deletes, in one transaction, every row of recruiterID in
// connections, connect_requests, chat_cache and sent_messages, and returns
// how many rows it deleted. Deleting a recruiter with no rows returns 0.
func (s *Store) DeleteRecruiter(ctx context.Context, recruiterID string) (int64, error) {
	n, err := s.deleteRows(ctx, recruiterID, "chat_cache", "sent_messages", "connect_requests", "connections")
	if err != nil {
		return 0, fmt.Errorf("delete recruiter: %w", err)
	}
	return n, nil
}

// Disconnect deletes, in one transaction, the recruiter's connection with
// its tokens, chat cache and open connect requests. The sent-message
// records stay until they expire: they hold no content and no token, and
// they keep a send repeated after a reconnect from being posted twice.
func (s *Store) Disconnect(ctx context.Context, recruiterID string) error {
	if _, err := s.deleteRows(ctx, recruiterID, "chat_cache", "connect_requests", "connections"); err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	return nil
}

// deleteRows deletes the recruiter's rows from tables, in that order and
// in one transaction, and returns how many it deleted. chat_cache must come
// before connections, so its rows count before the cascade removes them.
func (s *Store) deleteRows(ctx context.Context, recruiterID string, tables ...string) (int64, error) {
	var total int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, table := range tables {
			res, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE recruiter_id = ?`), recruiterID)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
			total += n
		}
		return nil
	})
	return total, err
}

// CountByStatus returns how many connections have each status.
func (s *Store) CountByStatus(ctx context.Context) (map[Status]int, error) {
	var rows []struct {
		Status string `db:"status"`
		Count  int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT status, COUNT(*) AS n FROM connections GROUP BY status`); err != nil {
		return nil, fmt.Errorf("count connections: %w", err)
	}
	counts := make(map[Status]int, len(rows))
	for _, r := range rows {
		counts[Status(r.Status)] = r.Count
	}
	return counts, nil
}

// getRow reads one connection by column (id or recruiter_id), with suffix
// appended (a row lock), or returns ErrNotFound.
func (s *Store) getRow(ctx context.Context, q sqlx.QueryerContext, column, value, suffix string) (*connectionRow, error) {
	var row connectionRow
	err := q.QueryRowxContext(ctx, s.q(`SELECT `+connectionColumns+` FROM connections WHERE `+column+` = ?`+suffix), value).
		Scan(row.fields()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read connection: %w", err)
	}
	return &row, nil
}

// lockedRow contains the columns lockOrInsert reads of a locked connection.
type lockedRow struct {
	ID            string         `db:"id"`
	AccountID     string         `db:"account_id"`
	Status        string         `db:"status"`
	ExpiredReason sql.NullString `db:"expired_reason"`
}

// lockOrInsert locks the recruiter's row, inserting one with status and no
// tokens when there is none. A new row's AccountID is empty.
func (s *Store) lockOrInsert(ctx context.Context, tx *sqlx.Tx, recruiterID, orgID string, status Status, now time.Time) (*lockedRow, error) {
	lock := s.q(`SELECT id, account_id, status, expired_reason FROM connections WHERE recruiter_id = ?` + s.forUpdate())
	var row lockedRow
	err := tx.GetContext(ctx, &row, lock, recruiterID)
	if err == nil {
		return &row, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("lock connection: %w", err)
	}

	// A concurrent insert for the same recruiter wins the unique key; then
	// the row is locked again as it now exists.
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO connections (id, recruiter_id, org_id, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (recruiter_id) DO NOTHING`),
		uuid.NewString(), recruiterID, orgID, status, now, now)
	if err != nil {
		return nil, fmt.Errorf("insert connection: %w", err)
	}
	if err := tx.GetContext(ctx, &row, lock, recruiterID); err != nil {
		return nil, fmt.Errorf("lock connection: %w", err)
	}
	return &row, nil
}

// checkUpdated turns an update that matched no row into ErrNotFound when the
// row is gone, else ErrConflict (its version changed).
func (s *Store) checkUpdated(ctx context.Context, q sqlx.QueryerContext, res sql.Result, connectionID string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update connection: %w", err)
	}
	if n > 0 {
		return nil
	}
	var exists int
	err = sqlx.GetContext(ctx, q, &exists, s.q(`SELECT 1 FROM connections WHERE id = ?`), connectionID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read connection: %w", err)
	}
	return ErrConflict
}

// readable reports whether GetConnection opens the connection's tokens:
// a CONNECTED one, or one expired only because its key was missing.
func readable(c *Connection) bool {
	return c.Status == StatusConnected || c.Status == StatusExpired && c.ExpiredReason == ReasonKeyUnavailable
}

// settleStatus records the outcome of opening row's tokens, guarded by the
// version read: a CONNECTED row whose tokens failed to open becomes EXPIRED
// with KEY_UNAVAILABLE (ciphertexts kept, OnDecryptFailure called), and a
// KEY_UNAVAILABLE row whose tokens open becomes CONNECTED. It updates c to
// match, reports whether it just expired the row (so the caller notifies
// OnDecryptFailure once committed), and returns ErrConflict when the row
// changed since it was read.
func (s *Store) settleStatus(ctx context.Context, q sqlx.ExtContext, row *connectionRow, c *Connection, openErr error) (bool, error) {
	status, reason := StatusExpired, sql.NullString{String: string(ReasonKeyUnavailable), Valid: true}
	if openErr == nil {
		status, reason = StatusConnected, sql.NullString{}
	}
	if c.Status == status {
		return false, nil
	}

	now := s.clock()
	res, err := q.ExecContext(ctx, s.q(`UPDATE connections SET status = ?, expired_reason = ?, version = version + 1,
		updated_at = ? WHERE id = ? AND version = ?`), status, reason, now, row.ID, row.Version)
	if err != nil {
		return false, fmt.Errorf("update connection status: %w", err)
	}
	if err := s.checkUpdated(ctx, q, res, row.ID); err != nil {
		return false, err
	}
	c.Status, c.ExpiredReason, c.Version, c.UpdatedAt = status, ExpiredReason(reason.String), row.Version+1, now
	return openErr != nil, nil
}

// notifyDecryptFailure calls OnDecryptFailure when it is set.
func (s *Store) notifyDecryptFailure(connectionID string, err error) {
	if s.OnDecryptFailure != nil {
		s.OnDecryptFailure(connectionID, err)
	}
}
