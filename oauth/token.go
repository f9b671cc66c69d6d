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
	// version is the connection row's version when the token was read.
	version int64
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

// Access returns a usable access token for the recruiter's connection. A
// token with less than the refresh margin left is refreshed first (see
// refresh). When that refresh fails transiently but the stored token has
// not expired yet, the stored token is returned.
// Errors: ErrNotConnected, ErrAdminApprovalRequired, *ExpiredError,
// ErrUpstreamUnavailable, ErrMisconfigured.
func (s *Service) Access(ctx context.Context, recruiterID string) (*Access, error) {
	return s.AccessWith(ctx, recruiterID, nil)
}

// AccessWith is Access that runs comp in the round trip that reads the
// connection (see vault.Companion). When comp is not nil, it has run
// whenever the connection was read, whatever AccessWith returns, and it ran
// before any refresh.
func (s *Service) AccessWith(ctx context.Context, recruiterID string, comp *vault.Companion) (*Access, error) {
	var conn *vault.Connection
	var err error
	if comp != nil {
		conn, err = s.store.GetConnectionWith(ctx, recruiterID, comp)
	} else {
		conn, err = s.store.GetConnection(ctx, recruiterID, true)
	}
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
	return s.accessAfter(ctx, refreshRequest{connectionID: conn.ID, mode: refreshDue})
}

// ForceRefresh replaces a after Graph rejected it with 401
// InvalidAuthenticationToken. When another request already replaced that
// token, the stored one is returned without calling Microsoft. It never
// returns the rejected token: a failed refresh returns its error. Callers
// retry their Graph call once with the result, never in a loop.
func (s *Service) ForceRefresh(ctx context.Context, a *Access) (*Access, error) {
	return s.accessAfter(ctx, refreshRequest{connectionID: a.ConnectionID, mode: refreshForced, staleToken: a.Token})
}

// accessAfter runs req and returns the access token it leaves.
func (s *Service) accessAfter(ctx context.Context, req refreshRequest) (*Access, error) {
	res, err := s.refresh(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := usable(res.conn); err != nil {
		return nil, err
	}
	if res.failure == nil {
		return accessOf(res.conn), nil
	}

	// The stored token still works until it expires, unless Graph rejected it.
	t := res.conn.Tokens
	if req.mode == refreshDue && t.AccessExpiresAt.After(s.cfg.Now()) {
		return accessOf(res.conn), nil
	}
	return nil, res.failure
}

// ExpireConnection marks the connection of a as expired after Graph returned
// a claims challenge, because the user must sign in again.
func (s *Service) ExpireConnection(ctx context.Context, a *Access, reason vault.ExpiredReason) error {
	// Only the row the token came from is expired: a connection renewed or
	// refreshed meanwhile (ErrConflict) is left alone, and if its session is
	// revoked too, its own next call meets the challenge.
	err := s.store.MarkExpired(ctx, a.ConnectionID, a.version, reason)
	if err != nil && !errors.Is(err, vault.ErrNotFound) && !errors.Is(err, vault.ErrConflict) {
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
		version:      c.Version,
	}
}

// redeemRefreshToken calls the token endpoint's refresh_token grant. The
// call ends after TokenTimeout, or earlier when ctx leaves less than
// refreshCommitGrace after it for storing the outcome.
func (s *Service) redeemRefreshToken(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	timeout := s.cfg.TokenTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-refreshCommitGrace)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
