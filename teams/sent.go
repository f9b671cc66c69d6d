package teams

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// sentRecord is a sent_messages row: the outcome of one idempotent send. It
// holds a hash of the request, never the content.
type sentRecord struct {
	RequestHash      string         `db:"request_hash"`
	Status           string         `db:"status"`
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

// claimSend inserts a pending record for the key. It returns nil when this
// request owns the send, or the existing record when the key was used before.
// A failed record (nothing was posted) is taken over for a new attempt.
func (s *store) claimSend(ctx context.Context, recruiterID, key, hash string) (*sentRecord, error) {
	now := s.now().UTC()
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO sent_messages
		(recruiter_id, idempotency_key, request_hash, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (recruiter_id, idempotency_key) DO NOTHING`), recruiterID, key, hash, sendPending, now, now)
	if err != nil {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}

	var rec sentRecord
	err = s.db.GetContext(ctx, &rec, s.db.Rebind(`SELECT request_hash, status, recipient_id, recipient_display_name,
		recipient_email, recipient_upn, chat_id, message_id, message_created_at, web_url, updated_at
		FROM sent_messages WHERE recruiter_id = ? AND idempotency_key = ?`), recruiterID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return s.claimSend(ctx, recruiterID, key, hash) // deleted meanwhile (disconnect): claim afresh
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", err)
	}
	if rec.RequestHash == hash && rec.Status == sendFailed {
		res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE sent_messages SET status = ?, updated_at = ?
			WHERE recruiter_id = ? AND idempotency_key = ? AND status = ?`), sendPending, now, recruiterID, key, sendFailed)
		if err != nil {
			return nil, fmt.Errorf("retake failed send: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, nil
		}
		rec.Status = sendPending
	}
	return &rec, nil
}

// finishSend records the outcome of an owned send.
func (s *store) finishSend(ctx context.Context, recruiterID, key string, rec sentRecord) error {
	var created any
	if rec.MessageCreatedAt.Valid {
		created = rec.MessageCreatedAt.Time.UTC()
	}
	var webURL any
	if rec.WebURL.Valid {
		webURL = rec.WebURL.String
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE sent_messages SET status = ?, recipient_id = ?,
		recipient_display_name = ?, recipient_email = ?, recipient_upn = ?, chat_id = ?, message_id = ?,
		message_created_at = ?, web_url = ?, updated_at = ? WHERE recruiter_id = ? AND idempotency_key = ?`),
		rec.Status, rec.RecipientID, rec.RecipientName, rec.RecipientEmail, rec.RecipientUPN, rec.ChatID, rec.MessageID,
		created, webURL, s.now().UTC(), recruiterID, key)
	if err != nil {
		return fmt.Errorf("record send outcome: %w", err)
	}
	return nil
}

// deleteSentBefore removes idempotency records older than cutoff.
func (s *store) deleteSentBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM sent_messages WHERE created_at < ?`), cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete old idempotency records: %w", err)
	}
	return res.RowsAffected()
}
