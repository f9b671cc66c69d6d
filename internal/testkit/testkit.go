// Package testkit holds the test setup that several packages share: a
// settable clock, a vault keyring, and the Microsoft emulator on a loopback
// server. Only tests import it.
package testkit

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads now until it is moved.
func NewClock(now time.Time) *Clock {
	return &Clock{now: now}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Emulator starts the Microsoft emulator, seeded with its demo tenants and
// users, for the dev client id with clientSecret and redirectURIs. It serves
// on a loopback server that closes when the test ends.
func Emulator(t testing.TB, clientSecret string, redirectURIs ...string) (*msemulator.Emulator, *httptest.Server) {
	t.Helper()
	emu, err := msemulator.New(msemulator.Config{
		ClientID: msemulator.DevClientID, ClientSecret: clientSecret, RedirectURIs: redirectURIs, Seed: true,
	})
	if err != nil {
		t.Fatalf("msemulator.New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.SetBaseURL(srv.URL)
	return emu, srv
}

// Keyring returns a vault keyring of one random key, with id k1.
func Keyring(t testing.TB) *vault.Keyring {
	t.Helper()
	secret, err := vault.GenerateKey()
	if err != nil {
		t.Fatalf("vault.GenerateKey: %v", err)
	}
	keys, err := vault.NewKeyring(vault.Key{ID: "k1", Secret: secret})
	if err != nil {
		t.Fatalf("vault.NewKeyring: %v", err)
	}
	return keys
}
