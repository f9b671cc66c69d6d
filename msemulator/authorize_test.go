package msemulator

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// withQuery returns target with the query parameter key replaced, or
// removed when value is empty.
func withQuery(t *testing.T, target, key, value string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestAuthorizeRedirectErrors(t *testing.T) {
	tests := []struct {
		name        string
		tenant      string
		param, to   string // query change
		login       string
		consent     string
		settings    *Settings
		wantError   string
		wantSubcode string
		wantDesc    string // prefix of error_description; "" means absent
	}{
		{"decline", "organizations", "", "", DemoRecruiterUPN, "decline", nil, "access_denied", "", "AADSTS65004:"},
		{"request approval", FabrikamTenantDomain, "", "", FabrikamUserUPN, "request_approval", nil, "access_denied", "cancel", "AADSTS90095:"},
		{"bare cancel", FabrikamTenantDomain, "", "", FabrikamUserUPN, "request_approval", &Settings{BareCancel: true}, "access_denied", "cancel", ""},
		{"leave approval page", "organizations", "", "", BlockedUserUPN, "cancel", nil, "access_denied", "cancel", "AADSTS90094:"},
		{"plain challenge", "organizations", "code_challenge_method", "plain", DemoRecruiterUPN, "accept", nil, "invalid_request", "", "AADSTS5000312:"},
		{"no challenge", "organizations", "code_challenge", "", DemoRecruiterUPN, "accept", nil, "invalid_request", "", "AADSTS9002325:"},
		{"no scope", "organizations", "scope", "", DemoRecruiterUPN, "accept", nil, "invalid_request", "", "AADSTS900144:"},
		{"unknown scope", "organizations", "scope", "openid Files.ReadWrite.All", DemoRecruiterUPN, "accept", nil, "invalid_scope", "", "AADSTS70011:"},
		{"token response type", "organizations", "response_type", "token", DemoRecruiterUPN, "accept", nil, "unsupported_response_type", "", "AADSTS900125:"},
		{"prompt none", "organizations", "prompt", "none", DemoRecruiterUPN, "accept", nil, "login_required", "", "AADSTS50058:"},
		{"forced error", "organizations", "", "", DemoRecruiterUPN, "accept",
			&Settings{AuthorizeError: &AuthorizeError{Error: "temporarily_unavailable", ErrorDescription: "AADSTS90033: try again"}},
			"temporarily_unavailable", "", "AADSTS90033: try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.settings != nil {
				h.emu.SetSettings(*tt.settings)
			}
			target, _ := h.authorizeURL(tt.tenant, serviceScopes)
			if tt.param != "" {
				target = withQuery(t, target, tt.param, tt.to)
			}
			q := h.redirectQuery(h.submit(target, url.Values{"login": {tt.login}, "consent": {tt.consent}}))

			if q.Get("error") != tt.wantError || q.Get("error_subcode") != tt.wantSubcode || q.Get("state") != "state-123" || q.Has("code") {
				t.Errorf("redirect = %v, want error %q subcode %q and the state", q, tt.wantError, tt.wantSubcode)
			}
			desc := q.Get("error_description")
			if (tt.wantDesc == "") != (desc == "") || !strings.HasPrefix(desc, tt.wantDesc) {
				t.Errorf("error_description = %q, want prefix %q", desc, tt.wantDesc)
			}
		})
	}
}

func TestAuthorizeErrorPages(t *testing.T) {
	tests := []struct {
		name, tenant, param, to, want string
	}{
		{"wrong redirect", "organizations", "redirect_uri", "http://127.0.0.1:9999/evil", "AADSTS50011"},
		{"unknown client", "organizations", "client_id", "00000000-0000-4000-8000-000000000000", "AADSTS700016"},
		{"no client", "organizations", "client_id", "", "AADSTS900144"},
		{"unknown tenant", "nowhere.test", "", "", "AADSTS90002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			target, _ := h.authorizeURL(tt.tenant, serviceScopes)
			if tt.param != "" {
				target = withQuery(t, target, tt.param, tt.to)
			}
			resp, err := h.client.Get(target)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), tt.want) {
				t.Errorf("GET authorize = %d Location %q, want 400 page with %s", resp.StatusCode, resp.Header.Get("Location"), tt.want)
			}
		})
	}
}

func TestAuthorizePageRerendered(t *testing.T) {
	tests := []struct {
		name, tenant, login, consent, want string
	}{
		{"unknown login", "organizations", "nobody@contoso.test", "accept", "AADSTS50034"},
		{"empty login", "organizations", "", "accept", "user principal name"},
		{"other tenant", DemoTenantID, FabrikamUserUPN, "accept", "AADSTS50020"},
		{"approval wall", "organizations", FabrikamUserUPN, "accept", "Approval required"},
		{"blocked wall", BlockedTenantDomain, BlockedUserUPN, "accept", "Need admin approval"},
		{"blocked request", BlockedTenantDomain, BlockedUserUPN, "request_approval", "no admin consent workflow"},
		{"no consent value", "organizations", DemoRecruiterUPN, "", "Choose accept or decline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			target, _ := h.authorizeURL(tt.tenant, serviceScopes)
			resp := h.submit(target, url.Values{"login": {tt.login}, "consent": {tt.consent}})
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tt.want) {
				t.Errorf("POST authorize = %d, want 200 page containing %q; body: %.400s", resp.StatusCode, tt.want, body)
			}
		})
	}
}

func TestApprovalRequestRecorded(t *testing.T) {
	h := newHarness(t)
	target, _ := h.authorizeURL("organizations", serviceScopes)
	h.submit(target, url.Values{"login": {FabrikamUserUPN}, "consent": {"request_approval"}, "justification": {"to message candidates"}})

	requests := h.emu.ConsentRequests()
	if len(requests) != 1 || requests[0].TenantID != FabrikamTenantID || requests[0].Justification != "to message candidates" {
		t.Fatalf("ConsentRequests() = %+v, want one from Fabrikam with the justification", requests)
	}
}

func TestConsentPageHeadersAndEscaping(t *testing.T) {
	h := newHarness(t)
	target, _ := h.authorizeURL("organizations", serviceScopes)
	target = withQuery(t, target, "login_hint", `"><script>alert(1)</script>`)
	resp, err := h.client.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)

	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "https://") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none' and no third-party origin", csp)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers = %v, want X-Frame-Options DENY and nosniff", resp.Header)
	}
	if strings.Contains(string(body), "<script>") {
		t.Errorf("page contains an unescaped login_hint")
	}
	for _, want := range []string{"Send chat messages", "Read all users&#39; basic profiles", `name="login"`, `value="accept"`, `value="decline"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestApprovalPageOnGet(t *testing.T) {
	h := newHarness(t)
	target, _ := h.authorizeURL(FabrikamTenantID, serviceScopes)
	resp, err := h.client.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"Approval required", `name="justification"`, `value="request_approval"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("approval page lacks %q", want)
		}
	}
}
