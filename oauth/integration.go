package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/vault"
)

// Integration is the recruiter's view of their connection.
type Integration struct {
	Status          vault.Status // DISCONNECTED when there is no connection
	Connection      *vault.Connection
	MissingScopes   []string
	ApplicationID   string
	AdminConsentURL string // set while approval is pending or was denied
}

// Integration returns the recruiter's integration without decrypting tokens.
func (s *Service) Integration(ctx context.Context, r identity.Recruiter) (*Integration, error) {
	out := &Integration{Status: vault.StatusDisconnected, ApplicationID: s.cfg.ClientID}
	conn, err := s.store.GetConnection(ctx, r.ID, false)
	if err != nil && !errors.Is(err, vault.ErrNotFound) {
		return nil, fmt.Errorf("load connection: %w", err)
	}
	tenant := ""
	if conn != nil {
		out.Status = conn.Status
		out.Connection = conn
		tenant = conn.TenantID
		if conn.Status == vault.StatusConnected {
			out.MissingScopes = MissingScopes(conn.GrantedScopes)
		}
	}
	if needsAdmin(conn) {
		u, err := s.AdminConsentURL(r, tenant)
		if err != nil {
			return nil, err
		}
		out.AdminConsentURL = u
	}
	return out, nil
}

func needsAdmin(conn *vault.Connection) bool {
	if conn == nil {
		return false
	}
	return conn.Status == vault.StatusPendingAdminApproval ||
		conn.LastConnectErrorCode == ReasonAdminApprovalRequired ||
		conn.LastConnectErrorCode == ReasonConsentDeclined
}

// Disconnect removes the recruiter's connection and every token, connect
// request, cached chat and sent-message record at once.
func (s *Service) Disconnect(ctx context.Context, recruiterID string) error {
	if _, err := s.store.DeleteRecruiter(ctx, recruiterID); err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
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

// adminConsentStateTTL bounds how long an admin consent link stays valid.
const adminConsentStateTTL = 7 * 24 * time.Hour
