package vault_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/vault"
)

// staleRefresher returns a refresh fn that issues new tokens only when the
// access token it is given expires within 5 minutes, counting real refreshes.
// A real refresh pauses like a token endpoint call would, so that callers
// without the lock would read the stale row meanwhile.
func staleRefresher(clock *testkit.Clock, refreshes *atomic.Int64) func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
	return func(_ context.Context, c *vault.Connection) (vault.RefreshOutcome, error) {
		if c.Tokens.AccessExpiresAt.After(clock.Now().Add(5 * time.Minute)) {
			return vault.RefreshOutcome{}, nil // fresh: another caller refreshed it
		}
		time.Sleep(50 * time.Millisecond)
		n := int(refreshes.Add(1))
		t := tokensFor(c.RecruiterID, n, clock.Now().Add(time.Hour))
		return vault.RefreshOutcome{Tokens: &t}, nil
	}
}

// TestRefreshConcurrent has 20 goroutines refresh one stale connection: one
// refreshes, and every caller gets the tokens it stored.
func TestRefreshConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")
		clock.Add(time.Hour) // the access token is now expired

		var refreshes atomic.Int64
		fn := staleRefresher(clock, &refreshes)
		const n = 20
		results := make([]*vault.Connection, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = s.Refresh(ctx, c.ID, fn)
			}()
		}
		close(start)
		wg.Wait()

		if got := refreshes.Load(); got != 1 {
			t.Errorf("real refreshes = %d, want 1", got)
		}
		want := tokensFor("r1", 1, clock.Now().Add(time.Hour))
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Refresh #%d = %v", i, errs[i])
				continue
			}
			if results[i].Tokens == nil || *results[i].Tokens != want {
				t.Errorf("Refresh #%d tokens = %+v, want %+v", i, results[i].Tokens, want)
			}
		}
		got, err := s.GetConnection(ctx, "r1", true)
		if err != nil || got.Version != c.Version+1 || *got.Tokens != want {
			t.Errorf("GetConnection = version %d, tokens %+v, %v; want %d, %+v", got.Version, got.Tokens, err, c.Version+1, want)
		}
		if !got.RefreshTokenUsedAt.Equal(clock.Now()) || !got.LastRefreshedAt.Equal(clock.Now()) {
			t.Errorf("RefreshTokenUsedAt, LastRefreshedAt = %v, %v, want %v", got.RefreshTokenUsedAt, got.LastRefreshedAt, clock.Now())
		}
	})
}

func TestRefreshOutcomes(t *testing.T) {
	t.Parallel()
	errUpstream := errors.New("token endpoint unavailable")
	retryAt := time.Date(2025, 6, 1, 12, 0, 4, 0, time.UTC)
	failure := &vault.RefreshFailure{Failures: 3, RetryAt: retryAt}
	tests := []struct {
		name        string
		outcome     vault.RefreshOutcome
		fnErr       error
		wantErr     error
		wantStatus  vault.Status
		wantTokens  bool
		wantVersion int64 // added to the saved version
		rejected    bool  // the outcome sets more than one thing
	}{
		{"no change", vault.RefreshOutcome{}, nil, nil, vault.StatusConnected, true, 0, false},
		{"expire", vault.RefreshOutcome{Expire: vault.ReasonAccessRevoked}, nil, nil, vault.StatusExpired, false, 1, false},
		{"fn error", vault.RefreshOutcome{Expire: vault.ReasonAccessRevoked}, errUpstream, errUpstream, vault.StatusConnected, true, 0, false},
		{"both set", vault.RefreshOutcome{Expire: vault.ReasonUnknown, Tokens: &vault.Tokens{AccessToken: "x"}}, nil, nil, vault.StatusConnected, true, 0, true},
		{"failure", vault.RefreshOutcome{Failure: failure}, nil, nil, vault.StatusConnected, true, 0, false},
		{"failure and expire", vault.RefreshOutcome{Failure: failure, Expire: vault.ReasonUnknown}, nil, nil, vault.StatusConnected, true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				s, clock := newStore(t, d)
				c := connect(t, s, clock, "r1")

				out, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
					return tt.outcome, tt.fnErr
				})
				if tt.rejected {
					if err == nil {
						t.Errorf("Refresh(%s) = nil error, want one", tt.name)
					}
				} else if !errors.Is(err, tt.wantErr) {
					t.Errorf("Refresh = %v, want %v", err, tt.wantErr)
				}
				if err == nil && (out.Status != tt.wantStatus || (out.Tokens != nil) != tt.wantTokens) {
					t.Errorf("Refresh returned %s tokens %v, want %s tokens %v", out.Status, out.Tokens != nil, tt.wantStatus, tt.wantTokens)
				}

				got, err := s.GetConnection(ctx, "r1", true)
				if err != nil {
					t.Fatalf("GetConnection = %v", err)
				}
				if got.Status != tt.wantStatus || got.HasTokens != tt.wantTokens || got.Version != c.Version+tt.wantVersion {
					t.Errorf("stored %s HasTokens %v version %d, want %s %v %d",
						got.Status, got.HasTokens, got.Version, tt.wantStatus, tt.wantTokens, c.Version+tt.wantVersion)
				}
				wantFailures, wantRetry := 0, (*time.Time)(nil)
				if tt.outcome.Failure != nil && !tt.rejected {
					wantFailures, wantRetry = failure.Failures, &retryAt
				}
				if got.RefreshFailures != wantFailures || (got.RefreshRetryAt == nil) != (wantRetry == nil) ||
					wantRetry != nil && !got.RefreshRetryAt.Equal(*wantRetry) {
					t.Errorf("stored backoff = %d failures, retry at %v; want %d, %v", got.RefreshFailures, got.RefreshRetryAt, wantFailures, wantRetry)
				}
			})
		})
	}
}

// TestRefreshAfterDelete checks that a refresh racing a disconnect finds no
// row and stores nothing.
func TestRefreshAfterDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")
		if _, err := s.DeleteRecruiter(ctx, "r1"); err != nil {
			t.Fatalf("DeleteRecruiter = %v", err)
		}

		called := false
		_, err := s.Refresh(ctx, c.ID, func(_ context.Context, c *vault.Connection) (vault.RefreshOutcome, error) {
			called = true
			tok := tokensFor("r1", 1, clock.Now().Add(time.Hour))
			return vault.RefreshOutcome{Tokens: &tok}, nil
		})
		if !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("Refresh after DeleteRecruiter = %v, want ErrNotFound", err)
		}
		if called {
			t.Error("Refresh called fn for a deleted connection")
		}
		if n := countRows(t, d, "connections", "id = ? OR recruiter_id = ?", c.ID, "r1"); n != 0 {
			t.Errorf("connections rows = %d, want 0", n)
		}
	})
}

// TestRefreshDuringDelete deletes the recruiter while fn runs: the delete
// waits for the lock, so the refresh commits and the delete then removes it.
func TestRefreshDuringDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")

		deleted := make(chan error, 1)
		_, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
			go func() {
				_, err := s.DeleteRecruiter(ctx, "r1")
				deleted <- err
			}()
			tok := tokensFor("r1", 1, clock.Now().Add(time.Hour))
			return vault.RefreshOutcome{Tokens: &tok}, nil
		})
		if err != nil {
			t.Fatalf("Refresh = %v", err)
		}
		if err := <-deleted; err != nil {
			t.Fatalf("DeleteRecruiter = %v", err)
		}
		if n := countRows(t, d, "connections", "recruiter_id = ?", "r1"); n != 0 {
			t.Errorf("connections rows after delete = %d, want 0", n)
		}
	})
}

func TestRefreshSkipsWithoutTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")
		if err := s.MarkExpired(ctx, c.ID, 0, vault.ReasonPasswordReset); err != nil {
			t.Fatalf("MarkExpired = %v", err)
		}
		out, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
			t.Error("Refresh called fn for a connection without tokens")
			return vault.RefreshOutcome{}, nil
		})
		if err != nil || out.Status != vault.StatusExpired {
			t.Errorf("Refresh = %v, %v, want EXPIRED, nil", out, err)
		}
	})
}

func TestRefreshUnreadableTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		var hookCalls int
		s.OnDecryptFailure = func(string, error) { hookCalls++ }
		c := connect(t, s, clock, "r1")
		access, _ := rawTokens(t, d, c.ID)
		access[len(access)-1] ^= 0xFF
		setAccessToken(t, d, c.ID, access)

		out, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
			t.Error("Refresh called fn with unreadable tokens")
			return vault.RefreshOutcome{}, nil
		})
		if err != nil || out.Status != vault.StatusExpired || out.ExpiredReason != vault.ReasonKeyUnavailable || out.Tokens != nil {
			t.Errorf("Refresh = %+v, %v; want EXPIRED/KEY_UNAVAILABLE without tokens", out, err)
		}
		if hookCalls != 1 {
			t.Errorf("OnDecryptFailure calls = %d, want 1", hookCalls)
		}
		if stored, _ := rawTokens(t, d, c.ID); string(stored) != string(access) {
			t.Error("stored access token changed, want it kept")
		}
	})
}

// TestRefreshContextBoundsWait holds the lock in one Refresh and checks that
// a second Refresh gives up when its context ends.
func TestRefreshContextBoundsWait(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")

		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
				close(holding)
				<-release
				return vault.RefreshOutcome{}, nil
			})
			done <- err
		}()
		<-holding

		waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := s.Refresh(waitCtx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
			t.Error("second Refresh ran fn while the lock was held")
			return vault.RefreshOutcome{}, nil
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second Refresh = %v, want context.DeadlineExceeded", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Errorf("first Refresh = %v", err)
		}
	})
}
