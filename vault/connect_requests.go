package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Connect request kinds.
const (
	KindConnect      = "connect"
	KindAdminConsent = "admin_consent"
)

// ConnectRequest is an open authorization attempt, found again by the hash
// of its OAuth state. Verifier is the PKCE code verifier, sealed at rest; it
// may be empty for the admin_consent kind.
type ConnectRequest struct {
	StateHash   string
	Kind        string
	RecruiterID string
	OrgID       string
	Verifier    string
	ReturnTo    string
	// BrowserHash is the hash of the nonce set in the starting browser's
	// cookie; empty for requests that are not bound to a browser.
	BrowserHash string
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

type connectRequestRow struct {
	StateHash   string    `db:"state_hash"`
	Kind        string    `db:"kind"`
	RecruiterID string    `db:"recruiter_id"`
	OrgID       string    `db:"org_id"`
	Verifier    []byte    `db:"verifier"`
	ReturnTo    string    `db:"return_to"`
	BrowserHash string    `db:"browser_hash"`
	ExpiresAt   time.Time `db:"expires_at"`
	CreatedAt   time.Time `db:"created_at"`
}

const connectRequestColumns = `state_hash, kind, recruiter_id, org_id, verifier, return_to, browser_hash, expires_at, created_at`

// verifierAD binds a sealed PKCE verifier to its connect request.
func verifierAD(stateHash string) []byte {
	return []byte("connect_request:" + stateHash + ":pkce_verifier")
}

// CreateConnectRequest stores r with its verifier sealed. A zero CreatedAt
// is set to now. Kind must be KindConnect or KindAdminConsent.
func (s *Store) CreateConnectRequest(ctx context.Context, r ConnectRequest) error {
	if r.StateHash == "" || r.RecruiterID == "" || r.ExpiresAt.IsZero() {
		return errors.New("vault: connect request needs a state hash, a recruiter id and an expiry")
	}
	if r.Kind != KindConnect && r.Kind != KindAdminConsent {
		return fmt.Errorf("vault: connect request kind %q is not %q or %q", r.Kind, KindConnect, KindAdminConsent)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.clock()
	}

	var verifier []byte
	if r.Verifier != "" {
		var err error
		if verifier, err = s.keys.Seal([]byte(r.Verifier), verifierAD(r.StateHash)); err != nil {
			return fmt.Errorf("seal verifier: %w", err)
		}
	}
	_, err := s.exec(ctx, s.q(`INSERT INTO connect_requests (`+connectRequestColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.StateHash, r.Kind, r.RecruiterID, r.OrgID, verifier, r.ReturnTo, r.BrowserHash, nullTime(r.ExpiresAt), nullTime(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("create connect request: %w", err)
	}
	return nil
}

// ConsumeConnectRequest deletes the request with stateHash and returns it
// with its verifier decrypted. The delete is one statement, so of concurrent
// callers exactly one gets the request and the others get ErrNotFound. An
// expired request is returned too: the caller checks ExpiresAt. A verifier
// that fails to open returns an error matching a Keyring.Open sentinel, and
// the request is gone all the same.
func (s *Store) ConsumeConnectRequest(ctx context.Context, stateHash string) (*ConnectRequest, error) {
	var row connectRequestRow
	err := s.write(ctx, func() error {
		return s.db.GetContext(ctx, &row, s.q(`DELETE FROM connect_requests WHERE state_hash = ? RETURNING `+connectRequestColumns), stateHash)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("consume connect request: %w", err)
	}

	r := &ConnectRequest{
		StateHash:   row.StateHash,
		Kind:        row.Kind,
		RecruiterID: row.RecruiterID,
		OrgID:       row.OrgID,
		ReturnTo:    row.ReturnTo,
		BrowserHash: row.BrowserHash,
		ExpiresAt:   row.ExpiresAt.UTC(),
		CreatedAt:   row.CreatedAt.UTC(),
	}
	if row.Verifier != nil {
		verifier, err := s.keys.Open(row.Verifier, verifierAD(row.StateHash))
		if err != nil {
			return nil, fmt.Errorf("open verifier: %w", err)
		}
		r.Verifier = string(verifier)
	}
	return r, nil
}

// DeleteExpiredConnectRequests deletes requests that expired before before
// and returns how many it deleted.
func (s *Store) DeleteExpiredConnectRequests(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, s.q(`DELETE FROM connect_requests WHERE expires_at < ?`), before.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired connect requests: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired connect requests: %w", err)
	}
	return n, nil
}
