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
// records. It never stores message content. Its writes on SQLite queue in
// db.LockWrites, as the vault's do. It is safe for concurrent use.
type store struct {
	db        *db.DB
	outcomeDB *db.DB // writes send outcomes; db when not configured
	now       func() time.Time
	// outcomes batches the outcome writes on PostgreSQL; nil on SQLite,
	// where a write costs no round trip.
	outcomes *outcomeWriter
}

func newStore(d, outcomeDB *db.DB, now func() time.Time) *store {
	if outcomeDB == nil {
		outcomeDB = d
	}
	s := &store{db: d, outcomeDB: outcomeDB, now: now}
	if outcomeDB.Dialect == db.Postgres {
		s.outcomes = &outcomeWriter{db: outcomeDB}
	}
	return s
}

// known is the cached data about a recipient: the profile when RecipientID
// is set, and the 1:1 chat when ChatID is set.
type known struct {
	RecipientID string `db:"recipient_id"`
	DisplayName string `db:"recipient_display_name"`
	Mail        string `db:"recipient_email"`
	UPN         string `db:"recipient_upn"`
	ChatID      string `db:"chat_id"`
}

// knownColumns and knownSource read both caches in one statement. The
// recipient cache maps an email to a user. A lookup by id passes an empty
// email, so it skips that cache. The chat cache maps the user, or the id
// given, to the chat. The one-row subquery makes the statement return a row
// even when neither cache has the recipient.
const (
	knownColumns = `COALESCE(c.recipient_id, r.user_id, ''), COALESCE(c.recipient_display_name, r.display_name, ''),
		COALESCE(c.recipient_mail, r.mail, ''), COALESCE(c.recipient_upn, r.user_principal_name, ''), COALESCE(c.chat_id, '')`
	knownSource = `FROM (SELECT 1 AS one) AS k
		LEFT JOIN recipient_cache r ON r.tenant_id = ? AND r.email = ? AND r.expires_at > ?
		LEFT JOIN chat_cache c ON c.connection_id = ? AND c.recipient_id = COALESCE(r.user_id, ?)`
)

const lookupSQL = `SELECT ` + knownColumns + ` ` + knownSource

// knownArgs are the arguments of knownSource.
func (s *store) knownArgs(connectionID, tenantID string, in SendInput) []any {
	return []any{tenantID, in.RecipientEmail, s.now().UTC(), connectionID, in.RecipientID}
}

// lookup reads what the caches know about the recipient of in.
func (s *store) lookup(ctx context.Context, connectionID, tenantID string, in SendInput) (known, error) {
	var k known
	st, err := s.db.Prepared(ctx, lookupSQL)
	if err == nil {
		err = st.QueryRowxContext(ctx, s.knownArgs(connectionID, tenantID, in)...).
			Scan(&k.RecipientID, &k.DisplayName, &k.Mail, &k.UPN, &k.ChatID)
	}
	if err != nil {
		return known{}, fmt.Errorf("read recipient and chat caches: %w", err)
	}
	return k, nil
}

// chat reads the chat cache entry of recipientID, or "" when there is none.
func (s *store) chat(ctx context.Context, connectionID, recipientID string) (string, error) {
	var chatID string
	err := s.db.GetContext(ctx, &chatID, s.db.Rebind(`SELECT chat_id FROM chat_cache
		WHERE connection_id = ? AND recipient_id = ?`), connectionID, recipientID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read chat cache: %w", err)
	}
	return chatID, nil
}

// putChat stores the chat with c and c's profile.
func (s *store) putChat(ctx context.Context, connectionID, recruiterID, chatID string, c Colleague) error {
	_, err := s.exec(ctx, `INSERT INTO chat_cache
		(connection_id, recruiter_id, recipient_id, chat_id, recipient_display_name, recipient_mail, recipient_upn, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection_id, recipient_id) DO UPDATE SET chat_id = excluded.chat_id,
			recipient_display_name = excluded.recipient_display_name, recipient_mail = excluded.recipient_mail,
			recipient_upn = excluded.recipient_upn`,
		connectionID, recruiterID, c.ID, chatID, c.DisplayName, c.Mail, c.UserPrincipalName, s.now().UTC())
	if err != nil {
		return fmt.Errorf("write chat cache: %w", err)
	}
	return nil
}

// dropChat deletes the chat cache entry of recipientID.
func (s *store) dropChat(ctx context.Context, connectionID, recipientID string) error {
	_, err := s.exec(ctx, `DELETE FROM chat_cache WHERE connection_id = ? AND recipient_id = ?`, connectionID, recipientID)
	if err != nil {
		return fmt.Errorf("delete chat cache entry: %w", err)
	}
	return nil
}

// putRecipient caches email → c for the tenant until ttl has passed.
func (s *store) putRecipient(ctx context.Context, tenantID, email string, c Colleague, ttl time.Duration) error {
	mail := sql.NullString{String: c.Mail, Valid: c.Mail != ""}
	_, err := s.exec(ctx, `INSERT INTO recipient_cache
		(tenant_id, email, user_id, display_name, user_principal_name, mail, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, email) DO UPDATE SET user_id = excluded.user_id, display_name = excluded.display_name,
			user_principal_name = excluded.user_principal_name, mail = excluded.mail, expires_at = excluded.expires_at`,
		tenantID, email, c.ID, c.DisplayName, c.UserPrincipalName, mail, s.now().Add(ttl).UTC())
	if err != nil {
		return fmt.Errorf("write recipient cache: %w", err)
	}
	return nil
}

// deleteRecipientsExpired deletes the recipient cache entries expired at now.
func (s *store) deleteRecipientsExpired(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM recipient_cache WHERE expires_at <= ?`, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired recipient cache entries: %w", err)
	}
	return res.RowsAffected()
}

// exec runs one writing statement, written with ? placeholders, in this
// process's write turn.
func (s *store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	release, err := s.db.LockWrites(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.db.ExecContext(ctx, s.db.Rebind(query), args...)
}
