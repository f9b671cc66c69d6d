package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wintro/teams-messaging/vault"
)

// refresh replaces the access token of conn when the stored one is still
// staleToken. Concurrent calls for one connection share one refresh in this
// process (singleflight); across processes the vault's row lock serializes
// them, and whoever waited re-reads the row and uses the token the winner
// stored. The rotated refresh token is committed before the new access token
// is returned.
func (s *Service) refresh(ctx context.Context, conn *vault.Connection, staleToken string) (*Access, error) {
	key := conn.ID + "\x00" + staleToken
	ch := s.refreshs.DoChan(key, func() (any, error) {
		// The shared refresh must not die with the first caller's request.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*s.cfg.TokenTimeout)
		defer cancel()
		return s.refreshLocked(rctx, conn.ID, staleToken)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Access), nil
	}
}

func (s *Service) refreshLocked(ctx context.Context, connectionID, staleToken string) (*Access, error) {
	var failure error
	conn, err := s.store.Refresh(ctx, connectionID, func(ctx context.Context, c *vault.Connection) (vault.RefreshOutcome, error) {
		if usable(c) != nil {
			return vault.RefreshOutcome{}, nil
		}
		if c.Tokens.AccessToken != staleToken && s.fresh(c.Tokens) {
			return vault.RefreshOutcome{}, nil // another request or replica refreshed meanwhile
		}
		outcome, err := s.refreshOutcome(ctx, c)
		failure = err
		return outcome, nil
	})
	if errors.Is(err, vault.ErrNotFound) {
		return nil, ErrNotConnected
	}
	if err != nil {
		return nil, fmt.Errorf("refresh connection: %w", err)
	}
	if err := usable(conn); err != nil {
		return nil, err
	}
	if failure != nil {
		// A transient failure still leaves a token that has not expired yet usable.
		if conn.Tokens.AccessExpiresAt.After(s.cfg.Now()) {
			return accessOf(conn), nil
		}
		return nil, failure
	}
	return accessOf(conn), nil
}

// refreshOutcome calls the token endpoint with the row's current refresh
// token, which the lock makes authoritative: an invalid_grant here is not a
// race with another replica but a dead grant.
func (s *Service) refreshOutcome(ctx context.Context, c *vault.Connection) (vault.RefreshOutcome, error) {
	tok, err := s.redeemRefreshToken(ctx, c.Tokens.RefreshToken)
	if err == nil {
		t := s.tokensOf(tok)
		if t.RefreshToken == "" {
			t.RefreshToken = c.Tokens.RefreshToken
		}
		return vault.RefreshOutcome{Tokens: &t}, nil
	}

	kind, reason := classifyRefreshError(err)
	switch kind {
	case failurePermanent:
		s.log.WarnContext(ctx, "refresh token rejected; connection expired", "connection_id", c.ID, "reason", reason, "error", err)
		return vault.RefreshOutcome{Expire: reason}, nil
	case failureConfig:
		s.log.ErrorContext(ctx, "token endpoint rejected the client credentials; check WINTRO_MS_CLIENT_ID and WINTRO_MS_CLIENT_SECRET", "connection_id", c.ID, "error", err)
		return vault.RefreshOutcome{}, ErrMisconfigured
	}
	s.log.Log(ctx, slog.LevelWarn, "token refresh failed; will retry", "connection_id", c.ID, "error", err)
	return vault.RefreshOutcome{}, fmt.Errorf("%w: %v", ErrUpstreamUnavailable, err)
}
