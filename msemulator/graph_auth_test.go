package msemulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestScopeChecks(t *testing.T) {
	h := newHarness(t)
	target, verifier := h.authorizeURL("organizations", serviceScopes)
	form := url.Values{"login": {DemoRecruiterUPN}, "consent": {"accept"}, "scopes": {"User.Read"}}
	code := h.redirectQuery(h.submit(target, form)).Get("code")
	_, tok := h.token(codeForm(code, verifier))
	token, _ := tok["access_token"].(string)

	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
		wantCode           string
	}{
		{"me allowed", http.MethodGet, "/v1.0/me", nil, 200, ""},
		{"users", http.MethodGet, "/v1.0/users/" + DemoAlanUPN, nil, 403, "Authorization_RequestDenied"},
		{"chats", http.MethodPost, "/v1.0/chats", chatBody(member(graphBind(DemoRecruiterID)), member(graphBind(DemoAlanID))), 403, "Forbidden"},
		{"messages", http.MethodPost, messagePath("19:x@unq.gbl.spaces"), map[string]any{}, 403, "Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.graph(tt.method, tt.path, token, tt.body, nil)
			if resp.StatusCode != tt.wantStatus || graphErrorCode(body) != tt.wantCode {
				t.Errorf("%s %s = %d %s, want %d %q", tt.method, tt.path, resp.StatusCode, graphErrorCode(body), tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestAccessTokenRejected(t *testing.T) {
	tests := []struct {
		name        string
		prepare     func(h *harness)
		token       string // empty: a fresh token of Rita
		wantMessage string
		wantClaims  bool
	}{
		{"missing", nil, "-", "Access token is empty.", false},
		{"unknown", nil, "made-up", "Access token validation failure", false},
		{"expired by clock", func(h *harness) { h.emu.SetSettings(Settings{ClockOffsetSeconds: 3601}) }, "", "Access token has expired or is not yet valid.", false},
		{"expired by admin", func(h *harness) {
			h.submitJSON(http.MethodPost, "/_admin/users/"+DemoRecruiterID+"/expire-access-tokens", nil)
		}, "", "Access token has expired or is not yet valid.", false},
		{"claims challenge", func(h *harness) {
			h.submitJSON(http.MethodPost, "/_admin/users/"+DemoRecruiterID+"/claims-challenge", nil)
		}, "", "Continuous access evaluation", true},
		{"challenge setting", func(h *harness) { h.emu.SetSettings(Settings{ClaimsChallenge: true}) }, "", "Continuous access evaluation", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			token := tt.token
			switch token {
			case "":
				token = h.userToken(DemoRecruiterUPN)
			case "-":
				token = ""
			}
			if tt.prepare != nil {
				tt.prepare(h)
			}
			resp, body := h.graph(http.MethodGet, "/v1.0/me", token, nil, nil)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if resp.StatusCode != http.StatusUnauthorized || graphErrorCode(body) != "InvalidAuthenticationToken" || !strings.HasPrefix(msg, tt.wantMessage) {
				t.Errorf("GET /me = %d %s %q, want 401 InvalidAuthenticationToken %q", resp.StatusCode, graphErrorCode(body), msg, tt.wantMessage)
			}
			challenge := strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_claims", claims="`)
			if challenge != tt.wantClaims {
				t.Errorf("WWW-Authenticate = %q, want claims challenge %t", resp.Header.Get("WWW-Authenticate"), tt.wantClaims)
			}
		})
	}
}

func TestGraphErrorEnvelope(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest(http.MethodGet, h.base+"/v1.0/me", nil)
	req.Header.Set("client-request-id", "c0ffee00-0000-4000-8000-000000000000")
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := decodeBody(t, resp)
	inner, _ := body["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["request-id"] != resp.Header.Get("request-id") || inner["client-request-id"] != "c0ffee00-0000-4000-8000-000000000000" || inner["date"] == nil {
		t.Errorf("innerError = %v, headers %v, want matching request ids and a date", inner, resp.Header)
	}
}
