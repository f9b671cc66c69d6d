package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/vault"
)

// Integration is the recruiter's view of their connection.
type Integration struct {
	Status vault.Status // DISCONNECTED when there is no connection
	// Connection is nil when the recruiter has no row. It is loaded without
	// tokens, and its LastConnectError fields describe the last failed attempt.
	Connection *vault.Connection
	// MissingScopes lists the required scopes a CONNECTED recruiter did not
	// grant, in the order of Permissions; nil otherwise.
	MissingScopes []string
	ApplicationID string
	// AdminConsentURL is set while an administrator's approval may be what
	// is missing; see needsAdminConsent.
	AdminConsentURL string
}

// Integration returns the recruiter's integration without decrypting tokens.
func (s *Service) Integration(ctx context.Context, r identity.Recruiter) (*Integration, error) {
	out := &Integration{Status: vault.StatusDisconnected, ApplicationID: s.cfg.ClientID}
	conn, err := s.store.GetConnection(ctx, r.ID, false)
	if errors.Is(err, vault.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load connection: %w", err)
	}

	out.Status = conn.Status
	out.Connection = conn
	if conn.Status == vault.StatusConnected {
		out.MissingScopes = MissingScopes(conn.GrantedScopes)
	}
	if needsAdminConsent(conn) {
		// The tenant is known once the recruiter has connected; before that
		// the link lets the administrator sign in to any organization.
		u, err := s.AdminConsentURL(r, conn.TenantID)
		if err != nil {
			return nil, err
		}
		out.AdminConsentURL = u
	}
	return out, nil
}

// needsAdminConsent reports whether IT may have to approve the app: approval
// is pending, the organization withdrew its consent, or the last attempt was
// denied, declined, or cancelled in a way Microsoft also uses for leaving
// the admin-approval page.
func needsAdminConsent(conn *vault.Connection) bool {
	switch {
	case conn.Status == vault.StatusPendingAdminApproval:
		return true
	case conn.Status == vault.StatusExpired && conn.ExpiredReason == vault.ReasonConsentWithdrawn:
		return true
	}
	switch conn.LastConnectErrorCode {
	case ReasonAdminApprovalRequired, ReasonConsentDeclined, ReasonCancelled, ReasonAdminConsentDenied, ReasonAdminConsentFailed:
		return true
	}
	return false
}

// Disconnect removes the recruiter's connection, every token, the open
// connect requests and the cached chats at once. The sent-message records
// stay until they expire, so an idempotency key keeps its meaning across a
// reconnect; DeleteRecruiter removes them too.
func (s *Service) Disconnect(ctx context.Context, recruiterID string) error {
	if err := s.store.Disconnect(ctx, recruiterID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "teams disconnected", "recruiter_id", recruiterID)
	return nil
}

// DeleteRecruiter removes everything stored for a deleted Wintro account.
func (s *Service) DeleteRecruiter(ctx context.Context, recruiterID string) (int64, error) {
	n, err := s.store.DeleteRecruiter(ctx, recruiterID)
	if err != nil {
		return 0, fmt.Errorf("delete recruiter: %w", err)
	}
	return n, nil
}

// expiredMessages explain each expiry reason to the recruiter.
var expiredMessages = map[vault.ExpiredReason]string{
	vault.ReasonAccessRevoked:    "Access to your Microsoft account was revoked. Connect again to keep sending Teams messages.",
	vault.ReasonPasswordReset:    "Your Microsoft sign-in was reset (for example after a password reset by your administrator). Connect again.",
	vault.ReasonInactivity:       "The connection expired after a long time without use. Connect again.",
	vault.ReasonConsentWithdrawn: "The permissions for Wintro were withdrawn in your organization. Connect again, or ask your IT administrator to approve Wintro.",
	vault.ReasonKeyUnavailable:   "Wintro can no longer read the stored sign-in (an encryption key was retired). Connect again.",
	vault.ReasonUnknown:          "Microsoft no longer accepts the stored sign-in. Connect again.",
}

// ExpiredMessage explains reason to the recruiter.
func ExpiredMessage(reason vault.ExpiredReason) string {
	if m, ok := expiredMessages[reason]; ok {
		return m
	}
	return expiredMessages[vault.ReasonUnknown]
}
