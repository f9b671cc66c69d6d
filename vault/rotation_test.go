package vault_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/vault"
)

// seedUnderKey stores n connections and n connect requests sealed by key.
func seedUnderKey(t *testing.T, d *db.DB, clock *testkit.Clock, key vault.Key, n int) []*vault.Connection {
	t.Helper()
	s := vault.NewStore(d, mustKeyring(t, key), clock.Now)
	var conns []*vault.Connection
	for i := range n {
		r := fmt.Sprintf("r%02d", i)
		conns = append(conns, connect(t, s, clock, r))
		req := vault.ConnectRequest{StateHash: "h-" + r, Kind: vault.KindConnect, RecruiterID: r, Verifier: "v-" + r,
			ExpiresAt: clock.Now().Add(time.Hour)}
		if err := s.CreateConnectRequest(context.Background(), req); err != nil {
			t.Fatalf("CreateConnectRequest = %v", err)
		}
	}
	return conns
}

func TestRotateKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := newTestClock()
		oldKey := vault.Key{ID: "old", Secret: mustKey(t)}
		newKey := vault.Key{ID: "new", Secret: mustKey(t)}
		goneKey := vault.Key{ID: "gone", Secret: mustKey(t)}
		seedUnderKey(t, d, clock, oldKey, 7)
		connect(t, vault.NewStore(d, mustKeyring(t, goneKey), clock.Now), clock, "lost")

		s := vault.NewStore(d, mustKeyring(t, newKey, oldKey), clock.Now)
		usage, err := s.KeyUsage(ctx)
		if err != nil || usage["old"] != 21 || usage["gone"] != 2 || len(usage) != 2 {
			t.Fatalf("KeyUsage before = %v, %v, want old:21 gone:2", usage, err)
		}

		report, err := s.RotateKeys(ctx, 3)
		if err != nil {
			t.Fatalf("RotateKeys = %v", err)
		}
		if report.Reencrypted != 21 {
			t.Errorf("RotateKeys Reencrypted = %d, want 21", report.Reencrypted)
		}
		if len(report.Remaining) != 1 || report.Remaining["gone"] != 2 {
			t.Errorf("RotateKeys Remaining = %v, want gone:2", report.Remaining)
		}
		if usage, _ := s.KeyUsage(ctx); usage["new"] != 21 || usage["old"] != 0 {
			t.Errorf("KeyUsage after = %v, want new:21 and no old", usage)
		}
		again, err := s.RotateKeys(ctx, 3)
		if err != nil || again.Reencrypted != 0 {
			t.Errorf("second RotateKeys = %+v, %v, want nothing re-encrypted", again, err)
		}

		withoutOld := vault.NewStore(d, mustKeyring(t, newKey), clock.Now)
		got, err := withoutOld.ConsumeConnectRequest(ctx, "h-r03")
		if err != nil || got.Verifier != "v-r03" {
			t.Errorf("ConsumeConnectRequest without the old key = %+v, %v, want verifier v-r03", got, err)
		}
	})
}

// TestRotateKeysDuringRefresh rotates while 8 goroutines keep refreshing:
// every value ends under the new key, each connection keeps its latest
// refreshed tokens, and the old key can be removed.
func TestRotateKeysDuringRefresh(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := newTestClock()
		oldKey := vault.Key{ID: "old", Secret: mustKey(t)}
		newKey := vault.Key{ID: "new", Secret: mustKey(t)}
		conns := seedUnderKey(t, d, clock, oldKey, 24)
		s := vault.NewStore(d, mustKeyring(t, newKey, oldKey), clock.Now)

		// latest[i] counts refreshes of conns[i]; fn runs under the row lock,
		// so each connection's count is the n of its stored tokens.
		latest := make([]atomic.Int64, len(conns))
		stop := make(chan struct{})
		started := make(chan struct{})
		var startOnce sync.Once
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := rng.IntN(len(conns))
					_, err := s.Refresh(ctx, conns[i].ID, func(_ context.Context, c *vault.Connection) (vault.RefreshOutcome, error) {
						tok := tokensFor(c.RecruiterID, int(latest[i].Add(1)), clock.Now().Add(time.Hour))
						return vault.RefreshOutcome{Tokens: &tok}, nil
					})
					if err != nil {
						t.Errorf("Refresh = %v", err)
						return
					}
					startOnce.Do(func() { close(started) })
				}
			}()
		}

		// Rotation starts once refreshes are running, so the two overlap.
		<-started
		report, err := s.RotateKeys(ctx, 5)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("RotateKeys = %v", err)
		}
		if len(report.Remaining) != 0 {
			t.Errorf("RotateKeys Remaining = %v, want none", report.Remaining)
		}
		var refreshes int64
		for i := range latest {
			refreshes += latest[i].Load()
		}
		if refreshes == 0 {
			t.Error("no Refresh ran during RotateKeys, want concurrent refreshes")
		}
		t.Logf("RotateKeys re-encrypted %d values during %d refreshes", report.Reencrypted, refreshes)

		withoutOld := vault.NewStore(d, mustKeyring(t, newKey), clock.Now)
		if err := withoutOld.CheckKeysReferenced(ctx); err != nil {
			t.Errorf("CheckKeysReferenced without old key = %v, want nil", err)
		}
		for i, c := range conns {
			got, err := withoutOld.GetConnection(ctx, c.RecruiterID, true)
			if err != nil || got.Tokens == nil {
				t.Fatalf("GetConnection(%s) = %+v, %v, want tokens", c.RecruiterID, got, err)
			}
			want := tokensFor(c.RecruiterID, int(latest[i].Load()), got.Tokens.AccessExpiresAt)
			if *got.Tokens != want {
				t.Errorf("GetConnection(%s).Tokens = %+v, want %+v (latest refresh)", c.RecruiterID, *got.Tokens, want)
			}
		}
	})
}
