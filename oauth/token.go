package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/wintro/teams-messaging/vault"
)

// Access is a usable access token and the account it speaks for. It lives
// for one request and is never cached across requests.
type Access struct {
	ConnectionID string
	RecruiterID  string
	AccountID    string
	TenantID     string
	Email        string
	Scopes       []string
	Token        string
	ExpiresAt    time.Time
}

// HasScope reports whether the recruiter granted scope.
func (a *Access) HasScope(scope string) bool { return slices.Contains(a.Scopes, scope) }

// RequireScope returns a MissingScopeError when scope was not granted.
func (a *Access) RequireScope(scope string) error {
	if a.HasScope(scope) {
		return nil
	}
	p, ok := PermissionFor(scope)
	if !ok {
		p = Permission{Scope: scope, Name: scope}
	}
	return &MissingScopeError{Permission: p}
}

// Access returns a fresh access token for the recruiter's connection,
// refreshing it first when it has less than the refresh margin left.
// Errors: ErrNotConnected, ErrAdminApprovalRequired, *ExpiredError,
// ErrUpstreamUnavailable, ErrMisconfigured.
func (s *Service) Access(ctx context.Context, recruiterID string) (*Access, error) {
	conn, err := s.store.GetConnection(ctx, recruiterID, true)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return nil, ErrNotConnected
		}
		return nil, fmt.Errorf("load connection: %w", err)
	}
	if err := usable(conn); err != nil {
		return nil, err
	}
	if s.fresh(conn.Tokens) {
		return accessOf(conn), nil
	}
	return s.refresh(ctx, conn, conn.Tokens.AccessToken)
}

// ForceRefresh refreshes after Graph rejected the access token a with 401
// InvalidAuthenticationToken. When another request already replaced that
// token, the stored one is used without calling Microsoft.
func (s *Service) ForceRefresh(ctx context.Context, a *Access) (*Access, error) {
	conn, err := s.store.GetConnection(ctx, a.RecruiterID, false)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return nil, ErrNotConnected
		}
		return nil, fmt.Errorf("load connection: %w", err)
	}
	return s.refresh(ctx, conn, a.Token)
}

// ExpireConnection marks the connection of a as expired after Graph answered
// with a claims challenge: the user must sign in again.
func (s *Service) ExpireConnection(ctx context.Context, a *Access, reason vault.ExpiredReason) error {
	if err := s.store.MarkExpired(ctx, a.ConnectionID, 0, reason); err != nil && !errors.Is(err, vault.ErrNotFound) {
		return fmt.Errorf("mark connection expired: %w", err)
	}
	return nil
}

// MarkUsed records that the connection was used to send a message.
func (s *Service) MarkUsed(ctx context.Context, a *Access) error {
	return s.store.TouchLastUsed(ctx, a.ConnectionID)
}

func usable(conn *vault.Connection) error {
	switch conn.Status {
	case vault.StatusConnected:
	case vault.StatusPendingAdminApproval:
		return ErrAdminApprovalRequired
	case vault.StatusExpired:
		return &ExpiredError{Reason: conn.ExpiredReason}
	default:
		return ErrNotConnected
	}
	if conn.Tokens == nil {
		return &ExpiredError{Reason: vault.ReasonUnknown}
	}
	return nil
}

func (s *Service) fresh(t *vault.Tokens) bool {
	return t != nil && t.AccessExpiresAt.Sub(s.cfg.Now()) > s.cfg.RefreshMargin
}

func accessOf(c *vault.Connection) *Access {
	return &Access{
		ConnectionID: c.ID,
		RecruiterID:  c.RecruiterID,
		AccountID:    c.AccountID,
		TenantID:     c.TenantID,
		Email:        c.Email,
		Scopes:       c.GrantedScopes,
		Token:        c.Tokens.AccessToken,
		ExpiresAt:    c.Tokens.AccessExpiresAt,
	}
}

// redeemRefreshToken calls the token endpoint's refresh_token grant.
func (s *Service) redeemRefreshToken(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TokenTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)

	// An already-expired token makes the TokenSource refresh at once.
	src := s.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	if err != nil {
		return nil, tokenErrorFrom(err)
	}
	return tok, nil
}
