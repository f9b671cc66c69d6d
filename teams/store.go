package teams

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wintro/teams-messaging/db"
)

// Statuses of a sent-message record.
const (
	sendPending = "pending"
	sendSent    = "sent"
	sendUnknown = "unknown"
	sendFailed  = "failed"
)

// store keeps the chat cache, the recipient cache and the sent-message
// records. It never stores message content.
type store struct {
	db  *db.DB
	now func() time.Time
}

// cachedChat is a chat cache row: the 1:1 chat with a recipient and the
// recipient's basic profile.
type cachedChat struct {
	ChatID      string `db:"chat_id"`
	RecipientID string `db:"recipient_id"`
	DisplayName string `db:"recipient_display_name"`
	Mail        string `db:"recipient_mail"`
	UPN         string `db:"recipient_upn"`
}

func (s *store) chat(ctx context.Context, connectionID, recipientID string) (*cachedChat, error) {
	var c cachedChat
	err := s.db.GetContext(ctx, &c, s.db.Rebind(`SELECT chat_id, recipient_id, recipient_display_name, recipient_mail, recipient_upn
		FROM chat_cache WHERE connection_id = ? AND recipient_id = ?`), connectionID, recipientID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read chat cache: %w", err)
	}
	return &c, nil
}

func (s *store) putChat(ctx context.Context, connectionID, recruiterID string, c cachedChat) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO chat_cache
		(connection_id, recruiter_id, recipient_id, chat_id, recipient_display_name, recipient_mail, recipient_upn, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection_id, recipient_id) DO UPDATE SET chat_id = excluded.chat_id,
			recipient_display_name = excluded.recipient_display_name, recipient_mail = excluded.recipient_mail,
			recipient_upn = excluded.recipient_upn`),
		connectionID, recruiterID, c.RecipientID, c.ChatID, c.DisplayName, c.Mail, c.UPN, s.now().UTC())
	if err != nil {
		return fmt.Errorf("write chat cache: %w", err)
	}
	return nil
}

func (s *store) dropChat(ctx context.Context, connectionID, recipientID string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM chat_cache WHERE connection_id = ? AND recipient_id = ?`), connectionID, recipientID)
	if err != nil {
		return fmt.Errorf("delete chat cache entry: %w", err)
	}
	return nil
}

// cachedRecipient is a recipient cache row: email → user, per tenant.
type cachedRecipient struct {
	UserID      string         `db:"user_id"`
	DisplayName string         `db:"display_name"`
	UPN         string         `db:"user_principal_name"`
	Mail        sql.NullString `db:"mail"`
}

func (s *store) recipient(ctx context.Context, tenantID, email string) (*cachedRecipient, error) {
	var r cachedRecipient
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT user_id, display_name, user_principal_name, mail
		FROM recipient_cache WHERE tenant_id = ? AND email = ? AND expires_at > ?`), tenantID, email, s.now().UTC())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read recipient cache: %w", err)
	}
	return &r, nil
}

func (s *store) putRecipient(ctx context.Context, tenantID, email string, r cachedRecipient, ttl time.Duration) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO recipient_cache
		(tenant_id, email, user_id, display_name, user_principal_name, mail, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, email) DO UPDATE SET user_id = excluded.user_id, display_name = excluded.display_name,
			user_principal_name = excluded.user_principal_name, mail = excluded.mail, expires_at = excluded.expires_at`),
		tenantID, email, r.UserID, r.DisplayName, r.UPN, r.Mail, s.now().Add(ttl).UTC())
	if err != nil {
		return fmt.Errorf("write recipient cache: %w", err)
	}
	return nil
}
