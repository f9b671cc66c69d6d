package teams

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/vault"
)

// sentRecord is a sent_messages row: the outcome of one idempotent send. It
// holds a hash of the request, never the content.
type sentRecord struct {
	RequestHash      string         `db:"request_hash"`
	Status           string         `db:"status"`
	AttemptID        string         `db:"attempt_id"`
	RecipientID      string         `db:"recipient_id"`
	RecipientName    string         `db:"recipient_display_name"`
	RecipientEmail   string         `db:"recipient_email"`
	RecipientUPN     string         `db:"recipient_upn"`
	ChatID           string         `db:"chat_id"`
	MessageID        string         `db:"message_id"`
	MessageCreatedAt sql.NullTime   `db:"message_created_at"`
	WebURL           sql.NullString `db:"web_url"`
	UpdatedAt        time.Time      `db:"updated_at"`
}

// claim is one request's attempt to own an idempotency key.
type claim struct {
	RecruiterID, Key, Hash, AttemptID string
	ConnectionID, TenantID            string
	Input                             SendInput
	// ExpiredBefore is the creation time before which an existing record
	// has outlived the idempotency TTL and is taken over.
	ExpiredBefore time.Time
}

// claimSQL inserts a pending record, filled with what the caches know about
// the recipient, in the statement that claims the key, so a send to a known
// recipient reads and claims in one round trip. An existing record is taken
// over when it outlived the TTL, or when it failed (nothing was posted) for
// the same request. RETURNING yields a row only when this request owns the
// key; both PostgreSQL and SQLite (3.35 and later) support it. SQLite needs
// "WHERE true" to parse ON CONFLICT after INSERT … SELECT.
const claimSQL = claimInsert + knownSource + `
	WHERE true
	` + claimConflict

// claimOnReadSQL is claimSQL as a vault.Companion of the connection read:
// it takes the connection and tenant from the table conn, and claims only
// for a CONNECTED connection.
const claimOnReadSQL = claimInsert + `FROM conn
		LEFT JOIN recipient_cache r ON r.tenant_id = conn.tenant_id AND r.email = ? AND r.expires_at > ?
		LEFT JOIN chat_cache c ON c.connection_id = conn.id AND c.recipient_id = COALESCE(r.user_id, ?)
	WHERE conn.status = 'CONNECTED'
	` + claimConflict

const (
	claimInsert = `INSERT INTO sent_messages (recruiter_id, idempotency_key, request_hash, status, attempt_id,
		recipient_id, recipient_display_name, recipient_email, recipient_upn, chat_id, created_at, updated_at)
	SELECT ?, ?, ?, 'pending', ?, ` + knownColumns + `, ?, ?
	`
	claimConflict = `ON CONFLICT (recruiter_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
		status = excluded.status, attempt_id = excluded.attempt_id, recipient_id = excluded.recipient_id,
		recipient_display_name = excluded.recipient_display_name, recipient_email = excluded.recipient_email,
		recipient_upn = excluded.recipient_upn, chat_id = excluded.chat_id, message_id = '',
		message_created_at = NULL, web_url = NULL, error_code = NULL,
		created_at = excluded.created_at, updated_at = excluded.updated_at
	WHERE sent_messages.created_at < ?
		OR (sent_messages.status = 'failed' AND sent_messages.request_hash = excluded.request_hash)
	RETURNING recipient_id, recipient_display_name, recipient_email, recipient_upn, chat_id`
)

// claimed is the result of a claim made in the connection read. Every
// field is NULL when the request does not own the key.
type claimed struct {
	recipientID, displayName, mail, upn, chatID sql.NullString
}

// owned reports whether the claim made this request the key's owner.
func (c *claimed) owned() bool { return c.recipientID.Valid }

// known returns what the caches knew about the recipient when it claimed.
func (c *claimed) known() known {
	return known{RecipientID: c.recipientID.String, DisplayName: c.displayName.String, Mail: c.mail.String,
		UPN: c.upn.String, ChatID: c.chatID.String}
}

// claimOnRead returns a companion of the connection read that claims c's
// key, and stores its outcome in into. c's connection and tenant are not
// used: they come from the row read.
func (s *store) claimOnRead(c claim, into *claimed) *vault.Companion {
	now := s.now().UTC()
	return &vault.Companion{
		SQL: claimOnReadSQL,
		Args: []any{c.RecruiterID, c.Key, c.Hash, c.AttemptID, now, now,
			c.Input.RecipientEmail, now, c.Input.RecipientID, c.ExpiredBefore.UTC()},
		Dest: []any{&into.recipientID, &into.displayName, &into.mail, &into.upn, &into.chatID},
	}
}

// claimSend tries to own c's key. It returns owned true and what the caches
// know about the recipient, or owned false when another request owns the
// key or its outcome is recorded.
func (s *store) claimSend(ctx context.Context, c claim) (k known, owned bool, err error) {
	now := s.now().UTC()
	args := []any{c.RecruiterID, c.Key, c.Hash, c.AttemptID}
	args = append(args, now, now)
	args = append(args, s.knownArgs(c.ConnectionID, c.TenantID, c.Input)...)
	args = append(args, c.ExpiredBefore.UTC())

	st, err := s.db.Prepared(ctx, claimSQL)
	if err != nil {
		return known{}, false, err
	}
	release, err := s.db.LockWrites(ctx)
	if err != nil {
		return known{}, false, err
	}
	defer release()
	err = st.QueryRowxContext(ctx, args...).Scan(&k.RecipientID, &k.DisplayName, &k.Mail, &k.UPN, &k.ChatID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return known{}, false, nil
	case err != nil:
		return known{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return k, true, nil
}

// sentRecordOf reads the record of key, or nil when there is none.
func (s *store) sentRecordOf(ctx context.Context, recruiterID, key string) (*sentRecord, error) {
	var rec sentRecord
	err := sqlx.GetContext(ctx, s.db, &rec, s.db.Rebind(`SELECT request_hash, status, attempt_id, recipient_id,
		recipient_display_name, recipient_email, recipient_upn, chat_id, message_id, message_created_at, web_url, updated_at
		FROM sent_messages WHERE recruiter_id = ? AND idempotency_key = ?`), recruiterID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", err)
	}
	return &rec, nil
}

const finishSQL = `UPDATE sent_messages SET status = ?, recipient_id = ?,
	recipient_display_name = ?, recipient_email = ?, recipient_upn = ?, chat_id = ?, message_id = ?,
	message_created_at = ?, web_url = ?, updated_at = ?
	WHERE recruiter_id = ? AND idempotency_key = ? AND attempt_id = ?`

// finishSend records the outcome of the send that attempt owns. It changes
// nothing when another request took the key over meanwhile. On PostgreSQL
// the write joins a batch (see outcomeWriter).
func (s *store) finishSend(ctx context.Context, recruiterID, key, attemptID string, rec sentRecord) error {
	if s.outcomes != nil {
		return s.outcomes.write(ctx, &outcome{recruiterID: recruiterID, key: key, attemptID: attemptID, rec: rec, updatedAt: s.now()})
	}
	release, err := s.outcomeDB.LockWrites(ctx)
	if err != nil {
		return err
	}
	defer release()
	return finishOne(ctx, s.outcomeDB, recruiterID, key, attemptID, rec, s.now())
}

// finishOne writes one outcome with finishSQL.
func finishOne(ctx context.Context, d *db.DB, recruiterID, key, attemptID string, rec sentRecord, updatedAt time.Time) error {
	var created any
	if rec.MessageCreatedAt.Valid {
		created = rec.MessageCreatedAt.Time.UTC()
	}
	var webURL any
	if rec.WebURL.Valid {
		webURL = rec.WebURL.String
	}
	st, err := d.Prepared(ctx, finishSQL)
	if err == nil {
		_, err = st.ExecContext(ctx, rec.Status, rec.RecipientID, rec.RecipientName, rec.RecipientEmail, rec.RecipientUPN,
			rec.ChatID, rec.MessageID, created, webURL, updatedAt.UTC(), recruiterID, key, attemptID)
	}
	if err != nil {
		return fmt.Errorf("record send outcome: %w", err)
	}
	return nil
}

// markAbandoned turns a pending record not updated since before cutoff into
// an unknown outcome: the process that owned it stopped without recording
// what happened. The owner's attempt id is kept, so a late finish from it
// still records the real outcome.
func (s *store) markAbandoned(ctx context.Context, recruiterID, key string, cutoff time.Time) error {
	_, err := s.exec(ctx, `UPDATE sent_messages SET status = ?
		WHERE recruiter_id = ? AND idempotency_key = ? AND status = ? AND updated_at < ?`,
		sendUnknown, recruiterID, key, sendPending, cutoff.UTC())
	if err != nil {
		return fmt.Errorf("mark abandoned send: %w", err)
	}
	return nil
}

// deleteSentBefore deletes the idempotency records created before cutoff.
func (s *store) deleteSentBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM sent_messages WHERE created_at < ?`, cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency records: %w", err)
	}
	return res.RowsAffected()
}
