package vault_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/vault"
)

func TestRefreshReplacesGrantedScopes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, clock := newStore(t, d)
		c := connect(t, s, clock, "r-scopes")
		shrunk := []string{"Chat.ReadWrite", "User.Read"}

		for _, outcome := range []vault.RefreshOutcome{
			{Tokens: ptr(tokensFor("r-scopes", 2, clock.Now().Add(time.Hour)))},                 // no scopes: kept
			{Tokens: ptr(tokensFor("r-scopes", 3, clock.Now().Add(time.Hour))), Scopes: shrunk}, // replaced
		} {
			if _, err := s.Refresh(ctx, c.ID, func(context.Context, *vault.Connection) (vault.RefreshOutcome, error) {
				return outcome, nil
			}); err != nil {
				t.Fatalf("Refresh = %v", err)
			}
			got, err := s.GetConnection(ctx, "r-scopes", false)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(c.GrantedScopes)
			if outcome.Scopes != nil {
				want = slices.Clone(shrunk)
			}
			slices.Sort(want)
			if !slices.Equal(slices.Sorted(slices.Values(got.GrantedScopes)), want) {
				t.Errorf("GrantedScopes after refresh = %v, want %v", got.GrantedScopes, want)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
