package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/msemulator"
)

const approvalQuery = `{ teamsIntegration { status applicationId adminConsentUrl grantedScopes missingScopes notAccessed
	lastConnectError { code message } account { email tenantId } requiredPermissions { scope name reason granted } } }`

type approvalData struct {
	TeamsIntegration struct {
		Status           string
		ApplicationID    string
		AdminConsentURL  *string
		GrantedScopes    []string
		MissingScopes    []string
		NotAccessed      []string
		LastConnectError *struct{ Code, Message string }
		Account          *struct{ Email, TenantID string }
		// RequiredPermissions lists scope, name, reason and whether it was granted.
		RequiredPermissions []struct {
			Scope, Name, Reason string
			Granted             bool
		}
	}
}

// integrationOf queries teamsIntegration for the caller token.
func (s *stack) integrationOf(tok string) approvalData {
	s.t.Helper()
	var in approvalData
	if r := s.graphql(tok, approvalQuery, nil, &in); len(r.Errors) > 0 {
		s.t.Fatalf("teamsIntegration: %+v", r.Errors)
	}
	return in
}

// startConnect runs connectTeams and returns the authorization URL.
func (s *stack) startConnect(tok string) string {
	s.t.Helper()
	var data struct {
		ConnectTeams struct{ AuthorizationURL string } `json:"connectTeams"`
	}
	if r := s.graphql(tok, `mutation { connectTeams(input: {returnTo: "/settings/communication"}) { authorizationUrl } }`, nil, &data); len(r.Errors) > 0 {
		s.t.Fatalf("connectTeams: %+v", r.Errors)
	}
	return data.ConnectTeams.AuthorizationURL
}

// postForm posts a form to an emulator page and returns the status and body
// when the page is rendered again instead of redirecting.
func (s *stack) postForm(pageURL string, form url.Values) (int, string) {
	s.t.Helper()
	res, err := noRedirect.PostForm(pageURL, form)
	if err != nil {
		s.t.Fatalf("POST %s: %v", pageURL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// openRedirect GETs an emulator URL that redirects at once and returns the target.
func (s *stack) openRedirect(pageURL string) *url.URL {
	s.t.Helper()
	res, err := noRedirect.Get(pageURL)
	if err != nil {
		s.t.Fatalf("GET %s: %v", pageURL, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		s.t.Fatalf("GET %s: status %d, want 302", pageURL, res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	return loc
}

// setEmulator posts JSON to an emulator admin route.
func (s *stack) setEmulator(path string, body any) {
	s.t.Helper()
	raw, _ := json.Marshal(body)
	res, err := http.Post(s.emuURL+"/_admin/"+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		s.t.Fatalf("POST /_admin/%s: %v", path, err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		s.t.Fatalf("POST /_admin/%s: status %d", path, res.StatusCode)
	}
}

// assertNothingStored checks that the recruiter's connection row holds no
// token and the token endpoint was not called since tokenCalls was read.
func assertNothingStored(t *testing.T, s *stack, recruiterID string, tokenCalls int) {
	t.Helper()
	if got := tokenEndpointCount(s) - tokenCalls; got != 0 {
		t.Errorf("token endpoint calls = %d, want 0", got)
	}
	query := `SELECT COUNT(*) FROM connections WHERE recruiter_id = '` + recruiterID + `' AND (access_token IS NOT NULL OR refresh_token IS NOT NULL)`
	if n := countRows(t, s, query); n != 0 {
		t.Errorf("connection rows of %s holding tokens = %d, want 0", recruiterID, n)
	}
}

// assertOutcome checks the app redirect and the recorded integration of a
// failed connect: status, lastConnectError code and message, the same code
// in the redirect's reason, and the admin consent link when wanted.
func assertOutcome(t *testing.T, s *stack, tok string, back *url.URL, wantStatus, wantCode string, wantLink bool) {
	t.Helper()
	if q := back.Query(); back.Path != "/settings/communication" || q.Get("teams") != "error" || q.Get("reason") != wantCode {
		t.Errorf("callback redirect = %s, want /settings/communication?teams=error&reason=%s", back, wantCode)
	}
	ti := s.integrationOf(tok).TeamsIntegration
	if ti.Status != wantStatus {
		t.Errorf("teamsIntegration.status = %s, want %s", ti.Status, wantStatus)
	}
	if ti.LastConnectError == nil || ti.LastConnectError.Code != wantCode || ti.LastConnectError.Message == "" {
		t.Errorf("teamsIntegration.lastConnectError = %+v, want code %s with a message", ti.LastConnectError, wantCode)
	}
	if got := ti.AdminConsentURL != nil; got != wantLink {
		t.Errorf("teamsIntegration.adminConsentUrl = %v, want a link: %v", ti.AdminConsentURL, wantLink)
	}
	if ti.ApplicationID != msemulator.DevClientID {
		t.Errorf("teamsIntegration.applicationId = %q, want %q", ti.ApplicationID, msemulator.DevClientID)
	}
	if ti.Account != nil || len(ti.GrantedScopes) != 0 {
		t.Errorf("teamsIntegration account %+v, grantedScopes %v, want none after a failed connect", ti.Account, ti.GrantedScopes)
	}
}

// TestTenantPolicies connects once per tenant user consent policy, through
// the consent page as a person would use it.
func TestTenantPolicies(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)

		t.Run("allowed", func(t *testing.T) {
			tok := s.token("r-allowed", msemulator.DemoRecruiterUPN)
			back := s.connect(tok, msemulator.DemoRecruiterUPN)
			if back.Query().Get("teams") != "connected" {
				t.Fatalf("callback redirect = %s, want teams=connected", back)
			}
			ti := s.integrationOf(tok).TeamsIntegration
			if ti.Status != "CONNECTED" || ti.LastConnectError != nil || ti.AdminConsentURL != nil {
				t.Errorf("teamsIntegration = %s, lastConnectError %+v, link %v, want CONNECTED with neither", ti.Status, ti.LastConnectError, ti.AdminConsentURL)
			}
		})

		t.Run("admin approval", func(t *testing.T) {
			tok := s.token("r-approval", msemulator.FabrikamUserUPN)
			authURL := s.startConnect(tok)
			calls := tokenEndpointCount(s)

			// Accepting shows the "Approval required" page again: nothing comes back.
			status, body := s.postForm(authURL, url.Values{"login": {msemulator.FabrikamUserUPN}, "consent": {"accept"}})
			if status != http.StatusOK || !strings.Contains(body, "Approval required") || !strings.Contains(body, `name="justification"`) {
				t.Errorf("accept on an approval tenant = status %d, want 200 with the Approval required page and a justification box", status)
			}

			back := s.consent(authURL, msemulator.FabrikamUserUPN, "request_approval", url.Values{"justification": {"I message candidates' interviewers"}})
			assertOutcome(t, s, tok, s.follow(back.String()), "PENDING_ADMIN_APPROVAL", "admin_approval_required", true)
			assertNothingStored(t, s, "r-approval", calls)

			var requests []msemulator.ConsentRequest
			s.admin("consent-requests", &requests)
			if len(requests) != 1 || requests[0].UserID != msemulator.FabrikamUserID || requests[0].Justification != "I message candidates' interviewers" {
				t.Errorf("/_admin/consent-requests = %+v, want one request by %s with the justification", requests, msemulator.FabrikamUserID)
			}
		})

		t.Run("blocked", func(t *testing.T) {
			tok := s.token("r-blocked", msemulator.BlockedUserUPN)
			authURL := s.startConnect(tok)
			calls := tokenEndpointCount(s)

			for _, answer := range []string{"accept", "request_approval"} {
				status, body := s.postForm(authURL, url.Values{"login": {msemulator.BlockedUserUPN}, "consent": {answer}})
				if status != http.StatusOK || !strings.Contains(body, "Need admin approval") {
					t.Errorf("%s on a blocked tenant = status %d, want 200 with the Need admin approval page", answer, status)
				}
			}

			back := s.consent(authURL, msemulator.BlockedUserUPN, "cancel", nil)
			assertOutcome(t, s, tok, s.follow(back.String()), "PENDING_ADMIN_APPROVAL", "admin_approval_required", true)
			assertNothingStored(t, s, "r-blocked", calls)

			ti := s.integrationOf(tok).TeamsIntegration
			if link := ti.AdminConsentURL; link == nil || !strings.Contains(*link, "/organizations/v2.0/adminconsent?") {
				t.Errorf("adminConsentUrl = %v, want the organizations endpoint while the tenant is unknown", link)
			}
		})
	})
}

// TestCallbackErrorVariants sends every error redirect that Microsoft
// documents or is reported to send, through the consent page where the
// emulator models it and through its authorizeError setting otherwise.
func TestCallbackErrorVariants(t *testing.T) {
	type variant struct {
		name       string
		login      string
		answer     string                     // consent form choice, or "" for a forced error
		bare       bool                       // the emulator's bareCancel setting
		forced     *msemulator.AuthorizeError // the emulator's authorizeError setting
		wantStatus string
		wantCode   string
		wantLink   bool
	}
	variants := []variant{
		{name: "declined", login: msemulator.DemoRecruiterUPN, answer: "decline", wantStatus: "DISCONNECTED", wantCode: "consent_declined", wantLink: true},
		{name: "left consent page", answer: "cancel", wantStatus: "DISCONNECTED", wantCode: "consent_declined", wantLink: true},
		{name: "approval requested", login: msemulator.FabrikamUserUPN, answer: "request_approval", wantStatus: "PENDING_ADMIN_APPROVAL", wantCode: "admin_approval_required", wantLink: true},
		{name: "left approval page", login: msemulator.FabrikamUserUPN, answer: "cancel", wantStatus: "PENDING_ADMIN_APPROVAL", wantCode: "admin_approval_required", wantLink: true},
		{name: "bare cancel", login: msemulator.FabrikamUserUPN, answer: "request_approval", bare: true, wantStatus: "DISCONNECTED", wantCode: "cancelled", wantLink: true},
		{name: "forced bare cancel", forced: &msemulator.AuthorizeError{Error: "access_denied", ErrorSubcode: "cancel"}, wantStatus: "DISCONNECTED", wantCode: "cancelled", wantLink: true},
		{name: "forced 65004", forced: &msemulator.AuthorizeError{Error: "access_denied", ErrorDescription: "AADSTS65004: User declined to consent to access the app."}, wantStatus: "DISCONNECTED", wantCode: "consent_declined", wantLink: true},
		{name: "forced 90094", forced: &msemulator.AuthorizeError{Error: "access_denied", ErrorDescription: "AADSTS90094: The grant requires admin permission."}, wantStatus: "PENDING_ADMIN_APPROVAL", wantCode: "admin_approval_required", wantLink: true},
		{name: "forced 65001", forced: &msemulator.AuthorizeError{Error: "invalid_client", ErrorDescription: "AADSTS65001: The user or administrator has not consented to use the application."}, wantStatus: "PENDING_ADMIN_APPROVAL", wantCode: "admin_approval_required", wantLink: true},
		{name: "consent_required", forced: &msemulator.AuthorizeError{Error: "consent_required"}, wantStatus: "PENDING_ADMIN_APPROVAL", wantCode: "admin_approval_required", wantLink: true},
		{name: "interaction_required", forced: &msemulator.AuthorizeError{Error: "interaction_required", ErrorDescription: "AADSTS50076: You must use multi-factor authentication."}, wantStatus: "DISCONNECTED", wantCode: "sign_in_interrupted"},
		{name: "login_required", forced: &msemulator.AuthorizeError{Error: "login_required"}, wantStatus: "DISCONNECTED", wantCode: "sign_in_interrupted"},
		{name: "temporarily_unavailable", forced: &msemulator.AuthorizeError{Error: "temporarily_unavailable"}, wantStatus: "DISCONNECTED", wantCode: "microsoft_unavailable"},
		{name: "server_error", forced: &msemulator.AuthorizeError{Error: "server_error", ErrorDescription: "AADSTS90033: A transient error has occurred."}, wantStatus: "DISCONNECTED", wantCode: "microsoft_unavailable"},
		{name: "invalid_request", forced: &msemulator.AuthorizeError{Error: "invalid_request"}, wantStatus: "DISCONNECTED", wantCode: "request_rejected"},
		{name: "unauthorized_client", forced: &msemulator.AuthorizeError{Error: "unauthorized_client"}, wantStatus: "DISCONNECTED", wantCode: "request_rejected"},
		{name: "unsupported_response_type", forced: &msemulator.AuthorizeError{Error: "unsupported_response_type"}, wantStatus: "DISCONNECTED", wantCode: "request_rejected"},
		{name: "invalid_resource", forced: &msemulator.AuthorizeError{Error: "invalid_resource"}, wantStatus: "DISCONNECTED", wantCode: "request_rejected"},
	}
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				recruiterID := "r-" + strings.ReplaceAll(v.name, " ", "-")
				tok := s.token(recruiterID, v.login)
				authURL := s.startConnect(tok)
				s.setEmulator("settings", map[string]any{"bareCancel": v.bare, "authorizeError": v.forced})
				defer s.setEmulator("settings", map[string]any{"bareCancel": false, "authorizeError": nil})
				calls := tokenEndpointCount(s)

				var redirect *url.URL
				if v.forced != nil {
					redirect = s.openRedirect(authURL)
				} else {
					redirect = s.consent(authURL, v.login, v.answer, nil)
				}

				assertOutcome(t, s, tok, s.follow(redirect.String()), v.wantStatus, v.wantCode, v.wantLink)
				assertNothingStored(t, s, recruiterID, calls)
			})
		}
	})
}

// TestAdminApprovalThenConnect has IT approve through the admin consent link
// of a pending recruiter, after which the recruiter connects.
func TestAdminApprovalThenConnect(t *testing.T) {
	tenants := []struct {
		name, user, admin, tenantID, answer string
	}{
		{"admin approval", msemulator.FabrikamUserUPN, msemulator.FabrikamAdminUPN, msemulator.FabrikamTenantID, "request_approval"},
		{"blocked", msemulator.BlockedUserUPN, msemulator.BlockedAdminUPN, msemulator.BlockedTenantID, "cancel"},
	}
	for _, tc := range tenants {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, dbURL string) {
				s := startStack(t, dbURL)
				tok := s.token("r-pending", tc.user)
				s.follow(s.consent(s.startConnect(tok), tc.user, tc.answer, nil).String())
				ti := s.integrationOf(tok).TeamsIntegration
				if ti.Status != "PENDING_ADMIN_APPROVAL" || ti.AdminConsentURL == nil {
					t.Fatalf("teamsIntegration = %s with link %v, want PENDING_ADMIN_APPROVAL with a link", ti.Status, ti.AdminConsentURL)
				}

				// IT opens the link, which lists the permissions, and accepts for the organization.
				link := *ti.AdminConsentURL
				res, err := http.Get(link)
				if err != nil {
					t.Fatalf("GET admin consent link: %v", err)
				}
				page, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "ChatMessage.Send") {
					t.Errorf("admin consent page = status %d, want 200 listing ChatMessage.Send", res.StatusCode)
				}
				back := s.follow(s.consent(link, tc.admin, "accept", nil).String())
				if back.Query().Get("teams") != "admin_approved" {
					t.Errorf("admin consent redirect = %s, want teams=admin_approved", back)
				}
				ti = s.integrationOf(tok).TeamsIntegration
				if ti.Status != "DISCONNECTED" || ti.LastConnectError == nil || ti.LastConnectError.Code != "ADMIN_APPROVED" || ti.AdminConsentURL != nil {
					t.Errorf("teamsIntegration after approval = %s, %+v, link %v, want DISCONNECTED with ADMIN_APPROVED and no link", ti.Status, ti.LastConnectError, ti.AdminConsentURL)
				}
				if n := countRows(t, s, `SELECT COUNT(*) FROM tenant_approvals WHERE tenant_id = '`+tc.tenantID+`'`); n != 1 {
					t.Errorf("tenant_approvals rows for %s = %d, want 1", tc.tenantID, n)
				}

				back = s.connect(tok, tc.user)
				if back.Query().Get("teams") != "connected" {
					t.Fatalf("connect after approval: redirect %s, want teams=connected", back)
				}
				ti = s.integrationOf(tok).TeamsIntegration
				if ti.Status != "CONNECTED" || ti.Account == nil || ti.Account.TenantID != tc.tenantID || len(ti.MissingScopes) != 0 || ti.LastConnectError != nil {
					t.Errorf("teamsIntegration after connect = %s, %+v, missing %v, error %+v, want CONNECTED in %s with nothing missing",
						ti.Status, ti.Account, ti.MissingScopes, ti.LastConnectError, tc.tenantID)
				}
			})
		})
	}
}

// TestAdminConsentDenied has IT decline the admin consent: the recruiter
// stays pending, with the reason recorded.
func TestAdminConsentDenied(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-pending", msemulator.FabrikamUserUPN)
	s.follow(s.consent(s.startConnect(tok), msemulator.FabrikamUserUPN, "request_approval", nil).String())
	link := *s.integrationOf(tok).TeamsIntegration.AdminConsentURL

	back := s.follow(s.consent(link, msemulator.FabrikamAdminUPN, "decline", nil).String())

	if q := back.Query(); q.Get("teams") != "error" || q.Get("reason") != "admin_consent_denied" {
		t.Errorf("admin consent redirect = %s, want teams=error&reason=admin_consent_denied", back)
	}
	ti := s.integrationOf(tok).TeamsIntegration
	if ti.Status != "PENDING_ADMIN_APPROVAL" || ti.LastConnectError == nil || ti.LastConnectError.Code != "admin_consent_denied" || ti.AdminConsentURL == nil {
		t.Errorf("teamsIntegration = %s, %+v, link %v, want PENDING_ADMIN_APPROVAL with admin_consent_denied and a link", ti.Status, ti.LastConnectError, ti.AdminConsentURL)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM tenant_approvals`); n != 0 {
		t.Errorf("tenant_approvals rows = %d, want 0", n)
	}
}

// TestPartialGrant connects with every permission but ChatMessage.Send.
func TestPartialGrant(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("r-partial", msemulator.DemoRecruiterUPN)
		partial := url.Values{"scopes": {"User.Read User.ReadBasic.All Chat.ReadWrite"}}
		back := s.follow(s.consent(s.startConnect(tok), msemulator.DemoRecruiterUPN, "accept", partial).String())
		if back.Query().Get("teams") != "connected" {
			t.Fatalf("callback redirect = %s, want teams=connected", back)
		}

		ti := s.integrationOf(tok).TeamsIntegration
		if ti.Status != "CONNECTED" || !slices.Equal(ti.MissingScopes, []string{"ChatMessage.Send"}) {
			t.Errorf("teamsIntegration = %s missing %v, want CONNECTED missing [ChatMessage.Send]", ti.Status, ti.MissingScopes)
		}
		if slices.Contains(ti.GrantedScopes, "ChatMessage.Send") {
			t.Errorf("grantedScopes = %v, want no ChatMessage.Send", ti.GrantedScopes)
		}
		for _, p := range ti.RequiredPermissions {
			if p.Granted != (p.Scope != "ChatMessage.Send") {
				t.Errorf("requiredPermissions[%s].granted = %v, want %v", p.Scope, p.Granted, p.Scope != "ChatMessage.Send")
			}
		}

		// Sending fails before any Graph call, naming the permission and its reason.
		before := graphRequestCount(s)
		send := `mutation { sendTeamsMessage(input: {recipientEmail: "` + msemulator.DemoAdaMail + `", content: "Hello"}) { message { id } } }`
		r := s.graphql(tok, send, nil, nil)
		if r.code() != "MISSING_PERMISSION" {
			t.Fatalf("sendTeamsMessage code = %q, want MISSING_PERMISSION (errors %+v)", r.code(), r.Errors)
		}
		if scope := r.Errors[0].Extensions["scope"]; scope != "ChatMessage.Send" {
			t.Errorf("sendTeamsMessage extensions.scope = %v, want ChatMessage.Send", scope)
		}
		if msg := r.Errors[0].Message; !strings.Contains(msg, "ChatMessage.Send") || !strings.Contains(msg, "Send Teams messages") || !strings.Contains(msg, "Post the message") {
			t.Errorf("sendTeamsMessage message = %q, want the permission's scope, name and reason", msg)
		}
		if got := graphRequestCount(s) - before; got != 0 {
			t.Errorf("Graph requests for a refused send = %d, want 0", got)
		}
		var msgs []msemulator.Message
		if s.admin("messages", &msgs); len(msgs) != 0 {
			t.Errorf("emulator holds %d messages, want 0", len(msgs))
		}

		// Search needs only User.ReadBasic.All, which was granted.
		var found struct{ SearchColleagues []struct{ ID string } }
		if r := s.graphql(tok, `{ searchColleagues(query: "ada") { id } }`, nil, &found); len(r.Errors) > 0 {
			t.Fatalf("searchColleagues: %+v", r.Errors)
		}
		if len(found.SearchColleagues) == 0 || found.SearchColleagues[0].ID != msemulator.DemoAdaID {
			t.Errorf("searchColleagues(ada) = %+v, want %s first", found.SearchColleagues, msemulator.DemoAdaID)
		}

		// Connecting again requests every permission, and after a full grant the send succeeds.
		if scope := mustQueryOf(t, s.startConnect(tok)).Get("scope"); !strings.Contains(scope, "ChatMessage.Send") {
			t.Errorf("reconnect scope = %q, want ChatMessage.Send requested", scope)
		}
		s.connect(tok, msemulator.DemoRecruiterUPN)
		if r := s.graphql(tok, send, nil, nil); len(r.Errors) > 0 {
			t.Errorf("sendTeamsMessage after a full grant: %+v", r.Errors)
		}
	})
}

func mustQueryOf(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u.Query()
}

// TestRequiredPermissions checks what recruiters and IT read about the
// permissions, before any connect.
func TestRequiredPermissions(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	ti := s.integrationOf(s.token("r-new", msemulator.DemoRecruiterUPN)).TeamsIntegration

	want := []string{"User.Read", "User.ReadBasic.All", "ChatMessage.Send", "Chat.ReadWrite", "offline_access"}
	var got []string
	for _, p := range ti.RequiredPermissions {
		got = append(got, p.Scope)
		if p.Name == "" || p.Reason == "" || p.Granted {
			t.Errorf("requiredPermissions[%s] = %+v, want a name, a reason and granted false", p.Scope, p)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("requiredPermissions scopes = %v, want %v", got, want)
	}
	for i, topic := range []string{"messages", "mail", "calendar", "files", "profile"} {
		if i >= len(ti.NotAccessed) || !strings.Contains(strings.ToLower(ti.NotAccessed[i]), topic) {
			t.Errorf("notAccessed = %v, want entry %d about %s", ti.NotAccessed, i, topic)
		}
	}
	if ti.Status != "DISCONNECTED" || ti.LastConnectError != nil || ti.AdminConsentURL != nil || ti.ApplicationID != msemulator.DevClientID {
		t.Errorf("teamsIntegration = %+v, want DISCONNECTED with the application id only", ti)
	}
}
