package msemulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tokenError checks an identity platform error body and returns its
// error_description.
func tokenError(t *testing.T, status int, body map[string]any, wantStatus int, wantError string, wantCode float64) string {
	t.Helper()
	desc, _ := body["error_description"].(string)
	codes, _ := body["error_codes"].([]any)
	if status != wantStatus || body["error"] != wantError || len(codes) != 1 || codes[0] != wantCode {
		t.Fatalf("token error = %d %v %v, want %d %s [%v]", status, body["error"], codes, wantStatus, wantError, wantCode)
	}
	for _, part := range []string{"Trace ID: ", "Correlation ID: ", "Timestamp: "} {
		if !strings.Contains(desc, part) {
			t.Errorf("error_description = %q, want it to contain %q", desc, part)
		}
	}
	for _, field := range []string{"timestamp", "trace_id", "correlation_id"} {
		if body[field] == nil {
			t.Errorf("error body lacks %s", field)
		}
	}
	return desc
}

func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {testRedirectURI}, "scope": {strings.Join(serviceScopes, " ")}}
}

func TestCodeRedemptionErrors(t *testing.T) {
	tests := []struct {
		name       string
		change     func(url.Values)
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"wrong verifier", func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 43)) }, 400, "invalid_grant", 501481},
		{"missing verifier", func(f url.Values) { f.Del("code_verifier") }, 400, "invalid_grant", 501481},
		{"empty scope", func(f url.Values) { f.Set("scope", "") }, 400, "invalid_scope", 28003},
		{"other redirect", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9999/other") }, 400, "invalid_grant", 500112},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "secret-id-not-value") }, 401, "invalid_client", 7000215},
		{"unknown code", func(f url.Values) { f.Set("code", "nope") }, 400, "invalid_grant", 70000},
		{"bad grant type", func(f url.Values) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type", 70003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			code, verifier := h.code("organizations", DemoRecruiterUPN, serviceScopes)
			form := codeForm(code, verifier)
			tt.change(form)
			status, body := h.token(form)
			tokenError(t, status, body, tt.wantStatus, tt.wantError, tt.wantCode)
		})
	}
}

func TestCodeSingleUse(t *testing.T) {
	h := newHarness(t)
	code, verifier := h.code("organizations", DemoRecruiterUPN, serviceScopes)
	if status, body := h.token(codeForm(code, verifier)); status != http.StatusOK {
		t.Fatalf("first redemption = %d %v, want 200", status, body)
	}
	status, body := h.token(codeForm(code, verifier))
	tokenError(t, status, body, 400, "invalid_grant", 54005)
}

func TestCodeExpiresAfterTenMinutes(t *testing.T) {
	h := newHarness(t)
	code, verifier := h.code("organizations", DemoRecruiterUPN, serviceScopes)
	h.emu.SetSettings(Settings{ClockOffsetSeconds: 601})
	status, body := h.token(codeForm(code, verifier))
	tokenError(t, status, body, 400, "invalid_grant", 70008)
}

func TestClientSecretInBasicAuth(t *testing.T) {
	h := newHarness(t)
	code, verifier := h.code("organizations", DemoRecruiterUPN, serviceScopes)
	req, _ := http.NewRequest(http.MethodPost, h.base+"/organizations/oauth2/v2.0/token", strings.NewReader(codeForm(code, verifier).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(testClientID), url.QueryEscape(testClientSecret))
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body := decodeBody(t, resp); resp.StatusCode != http.StatusOK || body["access_token"] == nil {
		t.Errorf("token with Basic auth = %d %v, want 200", resp.StatusCode, body["error"])
	}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

func TestRefreshRotation(t *testing.T) {
	h := newHarness(t)
	first := h.signIn(DemoRecruiterUPN, serviceScopes).RefreshToken

	status, body := h.token(refreshForm(first))
	second, _ := body["refresh_token"].(string)
	if status != http.StatusOK || second == "" || second == first {
		t.Fatalf("refresh = %d, new token %t, want 200 with a rotated refresh token", status, second != "" && second != first)
	}
	if body["id_token"] == nil || body["access_token"] == nil {
		t.Errorf("refresh response lacks id_token or access_token")
	}
	if status, _ := h.token(refreshForm(first)); status != http.StatusOK {
		t.Errorf("refresh with the old token = %d, want 200: Microsoft does not revoke it", status)
	}
	if status, _ := h.token(refreshForm(second)); status != http.StatusOK {
		t.Errorf("refresh with the new token = %d, want 200", status)
	}
}

func TestRefreshScopeNotGranted(t *testing.T) {
	h := newHarness(t)
	rt := h.signIn(DemoRecruiterUPN, serviceScopes).RefreshToken
	form := refreshForm(rt)
	form.Set("scope", "https://graph.microsoft.com/Mail.Read")
	status, body := h.token(form)
	tokenError(t, status, body, 400, "invalid_grant", 65001)
	if body["suberror"] != "consent_required" {
		t.Errorf("suberror = %v, want consent_required", body["suberror"])
	}
}

func TestRefreshAfterRevoke(t *testing.T) {
	h := newHarness(t)
	rt := h.signIn(DemoRecruiterUPN, serviceScopes).RefreshToken
	resp := h.submitJSON(http.MethodPost, "/_admin/users/"+DemoRecruiterID+"/revoke", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST revoke = %d, want 204", resp.StatusCode)
	}
	status, body := h.token(refreshForm(rt))
	tokenError(t, status, body, 400, "invalid_grant", 50173)
}

func TestRefreshAfterInactivity(t *testing.T) {
	h := newHarness(t)
	rt := h.signIn(DemoRecruiterUPN, serviceScopes).RefreshToken

	h.emu.SetSettings(Settings{ClockOffsetSeconds: 89 * 24 * 3600})
	status, body := h.token(refreshForm(rt))
	if status != http.StatusOK {
		t.Fatalf("refresh after 89 days = %d %v, want 200", status, body["error"])
	}
	fresh, _ := body["refresh_token"].(string)

	h.emu.SetSettings(Settings{ClockOffsetSeconds: 91 * 24 * 3600})
	status, body = h.token(refreshForm(rt))
	tokenError(t, status, body, 400, "invalid_grant", 700082)
	if body["suberror"] != "bad_token" {
		t.Errorf("suberror = %v, want bad_token", body["suberror"])
	}
	if status, _ := h.token(refreshForm(fresh)); status != http.StatusOK {
		t.Errorf("refresh with the token rotated on day 89 = %d, want 200: inactivity slides with use", status)
	}
}

func TestTokenSettings(t *testing.T) {
	h := newHarness(t)
	h.emu.SetSettings(Settings{AccessTokenLifetimeSeconds: 4500, ScopeFormat: "short", ExpiresInAsString: true})
	code, verifier := h.code("organizations", DemoRecruiterUPN, serviceScopes)
	_, body := h.token(codeForm(code, verifier))
	if body["expires_in"] != "4500" || body["ext_expires_in"] != "4500" {
		t.Errorf("expires_in = %#v, want the string \"4500\"", body["expires_in"])
	}
	if scope, _ := body["scope"].(string); strings.Contains(scope, "https://") || !strings.Contains(scope, "User.Read") {
		t.Errorf("scope = %q, want short names", scope)
	}
}
