package vault_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/vault"
)

func TestConnectRequestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		kind     string
		verifier string
	}{
		{"connect", vault.KindConnect, "pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz"},
		{"admin consent", vault.KindAdminConsent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				s, clock := newStore(t, d)
				in := vault.ConnectRequest{StateHash: "hash-1", Kind: tt.kind, RecruiterID: "r1", OrgID: "org-1",
					Verifier: tt.verifier, ReturnTo: "/settings/teams", ExpiresAt: clock.Now().Add(10 * time.Minute)}
				if err := s.CreateConnectRequest(ctx, in); err != nil {
					t.Fatalf("CreateConnectRequest = %v", err)
				}

				got, err := s.ConsumeConnectRequest(ctx, "hash-1")
				if err != nil {
					t.Fatalf("ConsumeConnectRequest = %v", err)
				}
				want := in
				want.CreatedAt = clock.Now()
				if *got != want {
					t.Errorf("ConsumeConnectRequest = %+v, want %+v", *got, want)
				}
				if _, err := s.ConsumeConnectRequest(ctx, "hash-1"); !errors.Is(err, vault.ErrNotFound) {
					t.Errorf("second ConsumeConnectRequest = %v, want ErrNotFound", err)
				}
			})
		})
	}
}

func TestCreateConnectRequestRejects(t *testing.T) {
	t.Parallel()
	s, clock := newStore(t, dbtest.SQLite(t))
	exp := clock.Now().Add(time.Minute)
	tests := []struct {
		name string
		r    vault.ConnectRequest
	}{
		{"no state", vault.ConnectRequest{Kind: vault.KindConnect, RecruiterID: "r", ExpiresAt: exp}},
		{"no recruiter", vault.ConnectRequest{StateHash: "h", Kind: vault.KindConnect, ExpiresAt: exp}},
		{"no expiry", vault.ConnectRequest{StateHash: "h", Kind: vault.KindConnect, RecruiterID: "r"}},
		{"bad kind", vault.ConnectRequest{StateHash: "h", Kind: "login", RecruiterID: "r", ExpiresAt: exp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateConnectRequest(context.Background(), tt.r); err == nil {
				t.Errorf("CreateConnectRequest(%+v) = nil, want an error", tt.r)
			}
		})
	}
}

// TestConsumeConnectRequestConcurrent consumes one request from many
// goroutines: exactly one gets it.
func TestConsumeConnectRequestConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		r := vault.ConnectRequest{StateHash: "h", Kind: vault.KindConnect, RecruiterID: "r1", Verifier: "v",
			ExpiresAt: clock.Now().Add(time.Minute)}
		if err := s.CreateConnectRequest(ctx, r); err != nil {
			t.Fatalf("CreateConnectRequest = %v", err)
		}

		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.ConsumeConnectRequest(ctx, "h")
			}()
		}
		wg.Wait()

		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, vault.ErrNotFound):
				t.Errorf("ConsumeConnectRequest #%d = %v, want nil or ErrNotFound", i, err)
			}
		}
		if winners != 1 {
			t.Errorf("winners = %d, want 1", winners)
		}
	})
}

func TestConsumeExpiredConnectRequest(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		for _, h := range []string{"old", "new"} {
			exp := clock.Now().Add(-time.Minute)
			if h == "new" {
				exp = clock.Now().Add(time.Minute)
			}
			r := vault.ConnectRequest{StateHash: h, Kind: vault.KindConnect, RecruiterID: "r1", Verifier: "v", ExpiresAt: exp}
			if err := s.CreateConnectRequest(ctx, r); err != nil {
				t.Fatalf("CreateConnectRequest = %v", err)
			}
		}

		n, err := s.DeleteExpiredConnectRequests(ctx, clock.Now())
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredConnectRequests = %d, %v, want 1, nil", n, err)
		}
		clock.Add(time.Hour)
		got, err := s.ConsumeConnectRequest(ctx, "new")
		if err != nil || !got.ExpiresAt.Before(clock.Now()) {
			t.Errorf("ConsumeConnectRequest(expired) = %+v, %v, want the expired request", got, err)
		}
	})
}

// TestConsumeMovedVerifier copies one request's sealed verifier to another:
// it fails to open.
func TestConsumeMovedVerifier(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		for _, h := range []string{"a", "b"} {
			r := vault.ConnectRequest{StateHash: h, Kind: vault.KindConnect, RecruiterID: "r1", Verifier: "v-" + h,
				ExpiresAt: clock.Now().Add(time.Minute)}
			if err := s.CreateConnectRequest(ctx, r); err != nil {
				t.Fatalf("CreateConnectRequest = %v", err)
			}
		}
		move := d.Rebind(`UPDATE connect_requests SET verifier = (SELECT verifier FROM connect_requests WHERE state_hash = ?) WHERE state_hash = ?`)
		if _, err := d.ExecContext(ctx, move, "a", "b"); err != nil {
			t.Fatalf("move verifier: %v", err)
		}
		if _, err := s.ConsumeConnectRequest(ctx, "b"); !errors.Is(err, vault.ErrAuthFailed) {
			t.Errorf("ConsumeConnectRequest(moved verifier) = %v, want ErrAuthFailed", err)
		}
	})
}
