package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// TestRotateKeysCommand rotates the vault key of a connected recruiter with
// the rotate-keys subcommand, then serves with the new key alone.
func TestRotateKeysCommand(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		k1 := "k1:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("1", 32)))
		k2 := "k2:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("2", 32)))
		s := startStack(t, dbURL, func(c *Config) { c.VaultKeys = k1 })
		tok := s.token("r-rotate", msemulator.DemoRecruiterUPN)
		s.connect(tok, msemulator.DemoRecruiterUPN)
		s.app.close()

		env := func(keys string) func(string) string {
			return func(name string) string {
				return map[string]string{"DATABASE_URL": dbURL, "WINTRO_VAULT_KEYS": keys}[name]
			}
		}
		if code := run([]string{"rotate-keys", "--check"}, env(k2)); code == 0 {
			t.Error("rotate-keys --check without the key in use = exit 0, want a failure")
		}
		if code := run([]string{"rotate-keys"}, env(k2+","+k1)); code != 0 {
			t.Fatalf("rotate-keys with k2,k1 = exit %d, want 0", code)
		}
		if code := run([]string{"rotate-keys", "--check"}, env(k2)); code != 0 {
			t.Errorf("rotate-keys --check with k2 alone after rotation = exit %d, want 0", code)
		}

		rotated := startStack(t, dbURL, func(c *Config) { c.VaultKeys = k2 })
		conn, err := rotated.app.store.GetConnection(context.Background(), "r-rotate", true)
		if err != nil {
			t.Fatalf("GetConnection under k2 alone: %v", err)
		}
		if conn.Status != vault.StatusConnected || conn.Tokens == nil || conn.Tokens.RefreshToken == "" {
			t.Errorf("connection under k2 alone: status %s, tokens present %t; want CONNECTED with tokens", conn.Status, conn.Tokens != nil)
		}
	})
}
