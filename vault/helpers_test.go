package vault_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/vault"
)

// newTestClock returns a clock set to a fixed time.
func newTestClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
}

// newStore returns a store over d with a one-key keyring ("k1").
func newStore(t *testing.T, d *db.DB) (*vault.Store, *testkit.Clock) {
	t.Helper()
	clock := newTestClock()
	keys := mustKeyring(t, vault.Key{ID: "k1", Secret: mustKey(t)})
	return vault.NewStore(d, keys, clock.Now), clock
}

// tokensFor returns distinct recognizable tokens for a recruiter.
func tokensFor(recruiterID string, n int, expires time.Time) vault.Tokens {
	return vault.Tokens{
		AccessToken:     fmt.Sprintf("AT-PLAINTEXT-%s-%d", recruiterID, n),
		RefreshToken:    fmt.Sprintf("RT-PLAINTEXT-%s-%d", recruiterID, n),
		AccessExpiresAt: expires,
	}
}

// connect saves a CONNECTED connection for recruiterID with tokensFor(…, 0).
func connect(t *testing.T, s *vault.Store, clock *testkit.Clock, recruiterID string) *vault.Connection {
	t.Helper()
	c := &vault.Connection{
		RecruiterID:   recruiterID,
		OrgID:         "org-1",
		AccountID:     "oid-" + recruiterID,
		TenantID:      "tenant-1",
		Email:         recruiterID + "@contoso.example",
		DisplayName:   "Recruiter " + recruiterID,
		GrantedScopes: []string{"User.Read", "Chat.ReadWrite", "offline_access"},
	}
	if err := s.SaveConnected(context.Background(), c, tokensFor(recruiterID, 0, clock.Now().Add(time.Hour))); err != nil {
		t.Fatalf("SaveConnected(%s) = %v", recruiterID, err)
	}
	return c
}

// countRows returns the number of rows of table matching where (with ? args).
func countRows(t *testing.T, d *db.DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	query := d.Rebind(`SELECT COUNT(*) FROM ` + table + ` WHERE ` + where)
	if err := d.GetContext(context.Background(), &n, query, args...); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// rawTokens returns the stored ciphertexts of a connection.
func rawTokens(t *testing.T, d *db.DB, id string) (access, refresh []byte) {
	t.Helper()
	row := d.QueryRowxContext(context.Background(), d.Rebind(`SELECT access_token, refresh_token FROM connections WHERE id = ?`), id)
	if err := row.Scan(&access, &refresh); err != nil {
		t.Fatalf("read raw tokens: %v", err)
	}
	return access, refresh
}
