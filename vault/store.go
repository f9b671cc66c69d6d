package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/wintro/teams-messaging/db"
)

// Sentinel errors of the store.
var (
	ErrNotFound = errors.New("vault: not found")
	// ErrConflict means the row changed (version) or vanished since it was read.
	ErrConflict = errors.New("vault: connection changed concurrently")
)

// Status of a connection, stored as text. A recruiter without a row is
// DISCONNECTED too; a DISCONNECTED row only keeps the last connect error.
type Status string

const (
	StatusConnected            Status = "CONNECTED"
	StatusExpired              Status = "EXPIRED"
	StatusPendingAdminApproval Status = "PENDING_ADMIN_APPROVAL"
	StatusDisconnected         Status = "DISCONNECTED"
)

// ExpiredReason values match the GraphQL enum ExpiredReason.
type ExpiredReason string

const (
	ReasonAccessRevoked    ExpiredReason = "ACCESS_REVOKED"
	ReasonPasswordReset    ExpiredReason = "PASSWORD_RESET"
	ReasonInactivity       ExpiredReason = "INACTIVITY"
	ReasonConsentWithdrawn ExpiredReason = "CONSENT_WITHDRAWN"
	ReasonKeyUnavailable   ExpiredReason = "KEY_UNAVAILABLE"
	ReasonUnknown          ExpiredReason = "UNKNOWN"
)

// Token kinds, part of each token's associated data.
const (
	kindAccess  = "access_token"
	kindRefresh = "refresh_token"
)

// Tokens are decrypted OAuth tokens. They live only for one request.
type Tokens struct {
	AccessToken     string
	RefreshToken    string
	AccessExpiresAt time.Time
}

// Connection is one recruiter's link to one Microsoft account.
type Connection struct {
	ID            string
	RecruiterID   string
	OrgID         string
	Status        Status
	ExpiredReason ExpiredReason // empty unless Status is EXPIRED

	AccountID     string // Graph user id (ID token oid)
	TenantID      string
	Email         string // preferred_username or mail
	DisplayName   string
	GrantedScopes []string // normalized short names, sorted

	// Tokens is nil when the row holds none (expired, pending) or when it was
	// loaded without decrypting.
	Tokens *Tokens
	// HasTokens reports whether the row stores sealed tokens, decrypted or not.
	HasTokens bool

	ConnectedAt     *time.Time
	LastUsedAt      *time.Time
	LastRefreshedAt *time.Time
	// RefreshTokenUsedAt is when the refresh token was last issued or used.
	RefreshTokenUsedAt *time.Time

	// LastConnectErrorCode and LastConnectErrorMessage describe the last
	// failed connect attempt; empty when the last attempt succeeded.
	LastConnectErrorCode    string
	LastConnectErrorMessage string

	// RefreshFailures counts the token endpoint calls for this connection
	// that failed in a row without expiring it. RefreshRetryAt, when set, is
	// the earliest time any replica may call it again.
	RefreshFailures int
	RefreshRetryAt  *time.Time

	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RefreshOutcome is the decision of a refresh function, made while the lock was held.
// At most one of Tokens, Expire and Failure is set; none means "leave the row
// as it is" (for example the row was already fresh, or the backoff runs).
type RefreshOutcome struct {
	Tokens *Tokens
	Expire ExpiredReason
	// Scopes, when not nil and Tokens is set, replaces the granted scopes:
	// a refresh reports what the grant covers now.
	Scopes []string
	// Failure records a token endpoint call that failed without ending the
	// grant: the row keeps its tokens and takes the failure count and the
	// time before which no replica calls again. Tokens and Expire clear both.
	Failure *RefreshFailure
}

// RefreshFailure is the backoff a failed refresh starts.
type RefreshFailure struct {
	Failures int       // failed calls in a row, this one included
	RetryAt  time.Time // the earliest time of the next call
}

// Store keeps connections with AES-256-GCM encrypted tokens. Safe for
// concurrent use once its exported fields are set.
type Store struct {
	// OnDecryptFailure, when set before first use, is called after a stored
	// token failed to open (the connection became EXPIRED with
	// KEY_UNAVAILABLE). err matches ErrAuthFailed, ErrKeyUnavailable or
	// ErrFormat and contains no key or token bytes.
	OnDecryptFailure func(connectionID string, err error)

	db   *db.DB
	keys *Keyring
	now  func() time.Time
}

// NewStore returns a store over an open, migrated database. now is the clock;
// times are stored in UTC with microsecond precision.
func NewStore(d *db.DB, keys *Keyring, now func() time.Time) *Store {
	return &Store{db: d, keys: keys, now: now}
}

// connectionColumns lists connections' columns in connectionRow's order.
const connectionColumns = `id, recruiter_id, org_id, status, expired_reason, account_id, tenant_id, email,
	display_name, granted_scopes, access_token, refresh_token, access_expires_at, connected_at,
	last_used_at, last_refreshed_at, refresh_token_used_at, keepalive_claimed_until,
	last_connect_error_code, last_connect_error_message, version, created_at, updated_at,
	refresh_failures, refresh_retry_at`

// connectionRow is one row of connections as stored.
type connectionRow struct {
	ID                      string         `db:"id"`
	RecruiterID             string         `db:"recruiter_id"`
	OrgID                   string         `db:"org_id"`
	Status                  string         `db:"status"`
	ExpiredReason           sql.NullString `db:"expired_reason"`
	AccountID               string         `db:"account_id"`
	TenantID                string         `db:"tenant_id"`
	Email                   string         `db:"email"`
	DisplayName             string         `db:"display_name"`
	GrantedScopes           string         `db:"granted_scopes"`
	AccessToken             []byte         `db:"access_token"`
	RefreshToken            []byte         `db:"refresh_token"`
	AccessExpiresAt         sql.NullTime   `db:"access_expires_at"`
	ConnectedAt             sql.NullTime   `db:"connected_at"`
	LastUsedAt              sql.NullTime   `db:"last_used_at"`
	LastRefreshedAt         sql.NullTime   `db:"last_refreshed_at"`
	RefreshTokenUsedAt      sql.NullTime   `db:"refresh_token_used_at"`
	KeepaliveClaimedUntil   sql.NullTime   `db:"keepalive_claimed_until"`
	LastConnectErrorCode    sql.NullString `db:"last_connect_error_code"`
	LastConnectErrorMessage sql.NullString `db:"last_connect_error_message"`
	Version                 int64          `db:"version"`
	CreatedAt               time.Time      `db:"created_at"`
	UpdatedAt               time.Time      `db:"updated_at"`
	RefreshFailures         int            `db:"refresh_failures"`
	RefreshRetryAt          sql.NullTime   `db:"refresh_retry_at"`
}

// fields returns pointers to r's fields in connectionColumns' order, for
// Scan.
func (r *connectionRow) fields() []any {
	return []any{&r.ID, &r.RecruiterID, &r.OrgID, &r.Status, &r.ExpiredReason, &r.AccountID, &r.TenantID, &r.Email,
		&r.DisplayName, &r.GrantedScopes, &r.AccessToken, &r.RefreshToken, &r.AccessExpiresAt, &r.ConnectedAt,
		&r.LastUsedAt, &r.LastRefreshedAt, &r.RefreshTokenUsedAt, &r.KeepaliveClaimedUntil,
		&r.LastConnectErrorCode, &r.LastConnectErrorMessage, &r.Version, &r.CreatedAt, &r.UpdatedAt,
		&r.RefreshFailures, &r.RefreshRetryAt}
}

func (r *connectionRow) hasTokens() bool {
	return r.AccessToken != nil && r.RefreshToken != nil
}

// connection converts a row without decrypting its tokens.
func (r *connectionRow) connection() *Connection {
	return &Connection{
		ID:                      r.ID,
		RecruiterID:             r.RecruiterID,
		OrgID:                   r.OrgID,
		Status:                  Status(r.Status),
		ExpiredReason:           ExpiredReason(r.ExpiredReason.String),
		AccountID:               r.AccountID,
		TenantID:                r.TenantID,
		Email:                   r.Email,
		DisplayName:             r.DisplayName,
		GrantedScopes:           splitScopes(r.GrantedScopes),
		HasTokens:               r.hasTokens(),
		ConnectedAt:             timePtr(r.ConnectedAt),
		LastUsedAt:              timePtr(r.LastUsedAt),
		LastRefreshedAt:         timePtr(r.LastRefreshedAt),
		RefreshTokenUsedAt:      timePtr(r.RefreshTokenUsedAt),
		LastConnectErrorCode:    r.LastConnectErrorCode.String,
		LastConnectErrorMessage: r.LastConnectErrorMessage.String,
		Version:                 r.Version,
		CreatedAt:               r.CreatedAt.UTC(),
		UpdatedAt:               r.UpdatedAt.UTC(),
		RefreshFailures:         r.RefreshFailures,
		RefreshRetryAt:          timePtr(r.RefreshRetryAt),
	}
}

// tokenAD binds a token ciphertext to its connection row and kind.
func tokenAD(connectionID, kind string) []byte {
	return []byte("connection:" + connectionID + ":" + kind)
}

// sealTokens seals both tokens of connection id.
func (s *Store) sealTokens(id string, t Tokens) (access, refresh []byte, err error) {
	access, err = s.keys.Seal([]byte(t.AccessToken), tokenAD(id, kindAccess))
	if err != nil {
		return nil, nil, fmt.Errorf("seal access token: %w", err)
	}
	refresh, err = s.keys.Seal([]byte(t.RefreshToken), tokenAD(id, kindRefresh))
	if err != nil {
		return nil, nil, fmt.Errorf("seal refresh token: %w", err)
	}
	return access, refresh, nil
}

// openTokens decrypts the row's tokens; the error matches a Keyring.Open sentinel.
func (s *Store) openTokens(r *connectionRow) (*Tokens, error) {
	access, err := s.keys.Open(r.AccessToken, tokenAD(r.ID, kindAccess))
	if err != nil {
		return nil, fmt.Errorf("open access token: %w", err)
	}
	refresh, err := s.keys.Open(r.RefreshToken, tokenAD(r.ID, kindRefresh))
	if err != nil {
		return nil, fmt.Errorf("open refresh token: %w", err)
	}
	t := &Tokens{AccessToken: string(access), RefreshToken: string(refresh)}
	if r.AccessExpiresAt.Valid {
		t.AccessExpiresAt = r.AccessExpiresAt.Time.UTC()
	}
	return t, nil
}

// clock returns the current time as stored: UTC, whole microseconds, which
// PostgreSQL keeps exactly.
func (s *Store) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// q rebinds a query written with ? placeholders for the dialect.
func (s *Store) q(query string) string {
	return s.db.Rebind(query)
}

// forUpdate is the row-lock suffix of a SELECT inside a transaction. SQLite
// has none because its transactions start with BEGIN IMMEDIATE.
func (s *Store) forUpdate() string {
	if s.db.Dialect == db.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs fn in a transaction, committing when fn returns nil. On SQLite
// it first takes the process's write turn (db.LockWrites), and the
// transaction begins IMMEDIATE (set by db.Open), so it holds the write lock
// from the start. An error caused by ctx ending also matches ctx.Err().
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	release, err := s.db.LockWrites(ctx)
	if err != nil {
		return err
	}
	defer release()

	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return withContextErr(ctx, fmt.Errorf("begin transaction: %w", err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error of fn is the one to report
		return withContextErr(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return withContextErr(ctx, fmt.Errorf("commit: %w", err))
	}
	return nil
}

// write runs fn, a statement that writes outside a transaction, in the
// process's write turn (db.LockWrites).
func (s *Store) write(ctx context.Context, fn func() error) error {
	release, err := s.db.LockWrites(ctx)
	if err != nil {
		return err
	}
	defer release()
	return withContextErr(ctx, fn())
}

// exec runs one writing statement in the process's write turn.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.write(ctx, func() error {
		var err error
		res, err = s.db.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// withContextErr makes err match ctx.Err() once ctx has ended, because lib/pq
// reports a cancelled query as its own error (SQLSTATE 57014).
func withContextErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return err
}

func splitScopes(s string) []string {
	scopes := strings.Fields(s)
	if scopes == nil {
		return []string{}
	}
	return scopes
}

func joinScopes(scopes []string) string {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	return strings.Join(slices.Compact(sorted), " ")
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC().Truncate(time.Microsecond), Valid: true}
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
