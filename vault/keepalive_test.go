package vault_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/vault"
)

// TestClaimIdleConcurrent has two claimers take batches until none is left:
// their sets are disjoint and together hold every idle connection.
func TestClaimIdleConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		const idle = 30
		for i := range idle {
			connect(t, s, clock, fmt.Sprintf("r%02d", i))
		}
		clock.Add(60 * 24 * time.Hour)
		connect(t, s, clock, "fresh")
		idleSince := clock.Now().Add(-30 * 24 * time.Hour)

		claims := make([][]string, 2)
		var wg sync.WaitGroup
		for w := range claims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ids, err := s.ClaimIdle(ctx, idleSince, time.Hour, 4)
					if err != nil {
						t.Errorf("ClaimIdle = %v", err)
						return
					}
					if len(ids) == 0 {
						return
					}
					claims[w] = append(claims[w], ids...)
				}
			}()
		}
		wg.Wait()

		seen := map[string]int{}
		for w, ids := range claims {
			for _, id := range ids {
				if prev, dup := seen[id]; dup {
					t.Errorf("connection %s claimed by claimer %d and %d", id, prev, w)
				}
				seen[id] = w
			}
		}
		if len(seen) != idle {
			t.Errorf("claimed %d connections, want %d", len(seen), idle)
		}
	})
}

func TestClaimIdleRules(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r1")
		expired := connect(t, s, clock, "r2")
		if err := s.MarkExpired(ctx, expired.ID, 0, vault.ReasonPasswordReset); err != nil {
			t.Fatalf("MarkExpired = %v", err)
		}
		clock.Add(48 * time.Hour)
		idleSince := clock.Now().Add(-24 * time.Hour)

		claim := func() []string {
			t.Helper()
			ids, err := s.ClaimIdle(ctx, idleSince, time.Hour, 10)
			if err != nil {
				t.Fatalf("ClaimIdle = %v", err)
			}
			return ids
		}
		if ids := claim(); len(ids) != 1 || ids[0] != c.ID {
			t.Errorf("ClaimIdle = %v, want [%s] (the CONNECTED one)", ids, c.ID)
		}
		if ids := claim(); len(ids) != 0 {
			t.Errorf("ClaimIdle while claimed = %v, want none", ids)
		}
		clock.Add(2 * time.Hour)
		if ids := claim(); len(ids) != 1 {
			t.Errorf("ClaimIdle after the claim timed out = %v, want [%s]", ids, c.ID)
		}

		_, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
			tok := tokensFor("r1", 1, clock.Now().Add(time.Hour))
			return vault.RefreshOutcome{Tokens: &tok}, nil
		})
		if err != nil {
			t.Fatalf("Refresh = %v", err)
		}
		if ids := claim(); len(ids) != 0 {
			t.Errorf("ClaimIdle after Refresh = %v, want none (no longer idle)", ids)
		}
	})
}
