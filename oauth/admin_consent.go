package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/vault"
)

// adminStatePrefix marks a state that belongs to an admin consent link.
// Such a state is not stored. It is the organization, recruiter and tenant
// sealed by the vault keyring, so a link needs no database row, and it
// cannot be forged or moved to another organization. A normal state is base64url, which has no ".", so the two
// never collide.
const adminStatePrefix = "ac."

// adminConsentStateTTL bounds how long an admin consent link stays valid.
const adminConsentStateTTL = 7 * 24 * time.Hour

// Messages recorded for the outcome of an administrator's consent.
const (
	msgAdminApproved      = "Your administrator approved Wintro. Click Connect to finish connecting Microsoft Teams."
	msgAdminDenied        = "Your IT administrator did not approve Wintro for your organization. Ask them to open the admin consent link again and accept it."
	msgAdminUnavailable   = "Microsoft's sign-in service was unavailable while your IT administrator approved Wintro. Ask them to open the admin consent link again in a few minutes."
	msgAdminOtherTenant   = "Your IT administrator approved Wintro for a different Microsoft organization than yours. Ask them to open the admin consent link again, signed in to your organization."
	msgAdminConsentFailed = "Microsoft could not complete your IT administrator's approval of Wintro. Ask them to open the admin consent link again; if it keeps failing, contact Wintro support."
)

// codeAdminApproved is the last connect error code that
// vault.Store.ClearPendingForOrg records on the recruiters it releases.
// releasePending records the same code on a recruiter without an organization.
const codeAdminApproved = "ADMIN_APPROVED"

// adminStateAD binds a sealed admin consent state to its purpose, so no
// other sealed value of the keyring can pass for one.
var adminStateAD = []byte("admin_consent_state")

type adminState struct {
	OrgID       string `json:"o"`
	RecruiterID string `json:"r"`
	TenantID    string `json:"t,omitempty"`
	ExpiresAt   int64  `json:"e"`
}

// AdminConsentURL returns the v2.0 admin consent link for tenantID, or for
// "organizations" when tenantID is empty, with the scopes Wintro requests
// and a sealed state bound to the recruiter and their organization. The
// link stays valid for seven days. It stores nothing.
func (s *Service) AdminConsentURL(r identity.Recruiter, tenantID string) (string, error) {
	st := adminState{OrgID: r.OrgID, RecruiterID: r.ID, TenantID: tenantID, ExpiresAt: s.cfg.Now().Add(adminConsentStateTTL).Unix()}
	plain, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("encode admin consent state: %w", err)
	}
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
		"scope":        {adminConsentScopes()},
		"redirect_uri": {s.cfg.RedirectURL},
		"state":        {adminStatePrefix + base64.RawURLEncoding.EncodeToString(sealed)},
	}
	return strings.TrimRight(s.cfg.AuthorityURL, "/") + "/" + url.PathEscape(tenant) + "/v2.0/adminconsent?" + q.Encode(), nil
}

// adminConsentScopes lists every scope of an authorization request, Graph
// permissions as full resource URIs and the OpenID Connect scopes as short
// names. The OpenID Connect scopes are included because a tenant that blocks
// user consent blocks them too, and an admin consent grants only the scopes
// it names.
func adminConsentScopes() string {
	parts := make([]string, 0, len(requestedScopes()))
	for _, scope := range requestedScopes() {
		if isOpenIDScope(scope) {
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
		return nil, errors.New("admin consent state is not base64url")
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

// handleAdminConsent records the outcome of an administrator's consent and
// returns the app URL to redirect to. On success it records the tenant's
// approval and moves the organization's PENDING_ADMIN_APPROVAL recruiters to
// DISCONNECTED with a note that they can connect now. On failure it records
// the reason on the recruiter who produced the link.
//
// NOTE: Microsoft's admin consent redirect carries no code to redeem, so
// nothing proves that Microsoft sent it. The sealed state limits a forged
// redirect to the organization of a leaked link, and to its tenant when the
// link named one. The worst it does is release that organization's pending
// recruiters to try connecting again, which Microsoft still guards.
func (s *Service) handleAdminConsent(ctx context.Context, q url.Values) string {
	st, err := s.openAdminState(q.Get("state"))
	if err != nil {
		s.log.WarnContext(ctx, "admin consent callback rejected", "error", err)
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {ReasonInvalidState}})
	}

	tenant := q.Get("tenant")
	ce := adminConsentError(q, st)
	if ce != nil {
		s.log.WarnContext(ctx, "admin consent failed", "org_id", st.OrgID, "recruiter_id", st.RecruiterID, "reason", ce.reason, "error", ce.cause)
		if err := s.store.RecordConnectError(ctx, st.RecruiterID, st.OrgID, ce.reason, ce.message, true); err != nil {
			s.log.ErrorContext(ctx, "record admin consent failure", "recruiter_id", st.RecruiterID, "error", err)
		}
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {ce.reason}})
	}

	if err := s.store.RecordTenantApproval(ctx, tenant, st.OrgID); err != nil {
		s.log.ErrorContext(ctx, "record tenant approval", "tenant_id", tenant, "error", err)
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {ReasonInternal}})
	}
	released, err := s.releasePending(ctx, st)
	if err != nil {
		s.log.ErrorContext(ctx, "release pending recruiters", "org_id", st.OrgID, "error", err)
	}
	s.log.InfoContext(ctx, "admin consent granted", "org_id", st.OrgID, "tenant_id", tenant, "recruiters_released", released)
	return s.appRedirect("/", url.Values{"teams": {"admin_approved"}})
}

// adminConsentError returns the failure of an admin consent redirect, or nil
// when the administrator approved. Microsoft may send admin_consent=True
// alongside an error and without a tenant, so success needs all three of
// admin_consent=True, a tenant and no error.
func adminConsentError(q url.Values, st *adminState) *callbackError {
	tenant := q.Get("tenant")
	code := q.Get("error")
	if code == "" && strings.EqualFold(q.Get("admin_consent"), "true") && tenant != "" {
		if st.TenantID != "" && !strings.EqualFold(st.TenantID, tenant) {
			return &callbackError{reason: ReasonAdminConsentFailed, message: msgAdminOtherTenant, pending: true,
				cause: fmt.Errorf("admin consent for tenant %q, link was for %q", tenant, st.TenantID)}
		}
		return nil
	}

	outcome := classifyAuthorizeError(code, q.Get("error_subcode"), q.Get("error_description"))
	fail := func(reason, message string) *callbackError {
		return &callbackError{reason: reason, message: message, pending: true, cause: outcome.cause}
	}
	switch outcome.reason {
	case ReasonConsentDeclined, ReasonCancelled, ReasonAdminApprovalRequired:
		return fail(ReasonAdminConsentDenied, msgAdminDenied)
	case ReasonMicrosoftUnavailable:
		return fail(ReasonAdminConsentFailed, msgAdminUnavailable)
	}
	if code == "" {
		outcome.cause = errors.New("admin consent redirect without error, admin_consent=True or tenant")
	}
	return fail(ReasonAdminConsentFailed, msgAdminConsentFailed)
}

// releasePending moves the organization's recruiters waiting for approval to
// DISCONNECTED with a note that they can connect now. A recruiter without an
// organization is released alone, because an empty organization would match
// unrelated recruiters.
func (s *Service) releasePending(ctx context.Context, st *adminState) (int64, error) {
	if st.OrgID != "" {
		return s.store.ClearPendingForOrg(ctx, st.OrgID, msgAdminApproved)
	}
	conn, err := s.store.GetConnection(ctx, st.RecruiterID, false)
	if errors.Is(err, vault.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read connection: %w", err)
	}
	if conn.Status != vault.StatusPendingAdminApproval {
		return 0, nil
	}
	if err := s.store.RecordConnectError(ctx, st.RecruiterID, "", codeAdminApproved, msgAdminApproved, false); err != nil {
		return 0, err
	}
	return 1, nil
}
