package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wintro/teams-messaging/identity"
)

// adminStatePrefix marks a state that belongs to an admin consent link.
// Such a state is not stored: it is the organization and tenant sealed by
// the vault keyring, so a link can be handed to IT without a database row
// per page view, and it cannot be forged or moved to another organization.
const adminStatePrefix = "ac."

var adminStateAD = []byte("admin_consent_state")

type adminState struct {
	OrgID       string `json:"o"`
	RecruiterID string `json:"r"`
	TenantID    string `json:"t,omitempty"`
	ExpiresAt   int64  `json:"e"`
}

// AdminConsentURL returns the v2.0 admin consent link for the recruiter's
// tenant ("organizations" when unknown), with the required scopes and a
// state bound to the recruiter's organization.
func (s *Service) AdminConsentURL(r identity.Recruiter, tenantID string) (string, error) {
	st := adminState{OrgID: r.OrgID, RecruiterID: r.ID, TenantID: tenantID, ExpiresAt: s.cfg.Now().Add(adminConsentStateTTL).Unix()}
	plain, _ := json.Marshal(st)
	sealed, err := s.keys.Seal(plain, adminStateAD)
	if err != nil {
		return "", fmt.Errorf("seal admin consent state: %w", err)
	}
	tenant := tenantID
	if tenant == "" {
		tenant = "organizations"
	}
	q := url.Values{
		"client_id":    {s.cfg.ClientID},
		"scope":        {graphScopeList()},
		"redirect_uri": {s.cfg.RedirectURL},
		"state":        {adminStatePrefix + base64.RawURLEncoding.EncodeToString(sealed)},
	}
	return strings.TrimRight(s.cfg.AuthorityURL, "/") + "/" + url.PathEscape(tenant) + "/v2.0/adminconsent?" + q.Encode(), nil
}

// graphScopeList names the delegated Graph scopes as full resource URIs, as
// the admin consent endpoint expects.
func graphScopeList() string {
	var parts []string
	for _, scope := range RequiredScopes() {
		if scope == ScopeOfflineAccess {
			parts = append(parts, scope)
			continue
		}
		parts = append(parts, graphResourcePrefix+scope)
	}
	return strings.Join(parts, " ")
}

func (s *Service) openAdminState(state string) (*adminState, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(state, adminStatePrefix))
	if err != nil {
		return nil, errors.New("admin consent state is not base64")
	}
	plain, err := s.keys.Open(raw, adminStateAD)
	if err != nil {
		return nil, fmt.Errorf("open admin consent state: %w", err)
	}
	var st adminState
	if err := json.Unmarshal(plain, &st); err != nil {
		return nil, fmt.Errorf("decode admin consent state: %w", err)
	}
	if s.cfg.Now().Unix() >= st.ExpiresAt {
		return nil, errors.New("admin consent state expired")
	}
	return &st, nil
}

// handleAdminConsent records the outcome of an administrator's consent.
// On success the organization's pending recruiters become DISCONNECTED with
// a note that they can connect now.
func (s *Service) handleAdminConsent(ctx context.Context, q url.Values) string {
	st, err := s.openAdminState(q.Get("state"))
	if err != nil {
		s.log.WarnContext(ctx, "admin consent callback rejected", "error", err)
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {ReasonInvalidState}})
	}

	tenant := q.Get("tenant")
	if q.Get("error") != "" || !strings.EqualFold(q.Get("admin_consent"), "true") || tenant == "" {
		ce := classifyAuthorizeError(q.Get("error"), q.Get("error_subcode"), q.Get("error_description"))
		msg := "The administrator did not approve Wintro (" + ce.reason + "). Ask your IT administrator to open the admin consent link again."
		if err := s.store.RecordConnectError(ctx, st.RecruiterID, st.OrgID, "admin_consent_denied", msg, true); err != nil {
			s.log.ErrorContext(ctx, "record admin consent failure", "recruiter_id", st.RecruiterID, "error", err)
		}
		s.log.WarnContext(ctx, "admin consent failed", "org_id", st.OrgID, "reason", ce.reason, "error", ce.cause)
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {"admin_consent_denied"}})
	}

	if err := s.store.RecordTenantApproval(ctx, tenant, st.OrgID); err != nil {
		s.log.ErrorContext(ctx, "record tenant approval", "tenant_id", tenant, "error", err)
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {ReasonInternal}})
	}
	n, err := s.store.ClearPendingForOrg(ctx, st.OrgID, "Your administrator approved Wintro. Click Connect to finish connecting Microsoft Teams.")
	if err != nil {
		s.log.ErrorContext(ctx, "clear pending approvals", "org_id", st.OrgID, "error", err)
	}
	s.log.InfoContext(ctx, "admin consent granted", "org_id", st.OrgID, "tenant_id", tenant, "recruiters_released", n)
	return s.appRedirect("/", url.Values{"teams": {"admin_approved"}})
}
