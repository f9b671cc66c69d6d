package msemulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func decodeInto(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", resp.Request.URL.Path, err)
	}
}

func TestAdminTenantsAndUsers(t *testing.T) {
	h := newHarness(t)
	resp := h.submitJSON(http.MethodPost, "/_admin/tenants", Tenant{Domain: "northwind.test", UserConsent: UserConsentBlocked})
	var created struct{ ID string }
	decodeInto(t, resp, &created)
	if resp.StatusCode != http.StatusCreated || !isGUID(created.ID) {
		t.Fatalf("POST /_admin/tenants = %d %+v, want 201 with a GUID", resp.StatusCode, created)
	}

	resp = h.submitJSON(http.MethodPost, "/_admin/users", User{TenantID: created.ID, UserPrincipalName: "nina@northwind.test", Mail: "nina@northwind.test", DisplayName: "Nina"})
	var user struct{ ID string }
	decodeInto(t, resp, &user)
	if resp.StatusCode != http.StatusCreated || !isGUID(user.ID) {
		t.Fatalf("POST /_admin/users = %d %+v, want 201 with an id", resp.StatusCode, user)
	}

	tests := []struct {
		name string
		path string
		body any
		want int
	}{
		{"duplicate domain", "/_admin/tenants", Tenant{Domain: "NORTHWIND.test"}, http.StatusConflict},
		{"bad policy", "/_admin/tenants", Tenant{Domain: "x.test", UserConsent: "maybe"}, http.StatusBadRequest},
		{"unknown tenant", "/_admin/users", User{TenantID: "00000000-0000-4000-8000-000000000000", UserPrincipalName: "a@b.test"}, http.StatusNotFound},
		{"duplicate upn", "/_admin/users", User{TenantID: created.ID, UserPrincipalName: "NINA@northwind.test"}, http.StatusConflict},
		{"unknown field", "/_admin/users", map[string]string{"upn": "x"}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := h.submitJSON(http.MethodPost, tt.path, tt.body); resp.StatusCode != tt.want {
				t.Errorf("POST %s = %d, want %d", tt.path, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestAdminTokensAndReset(t *testing.T) {
	h := newHarness(t)
	tok := h.signIn(DemoRecruiterUPN, serviceScopes)

	var issued []IssuedToken
	decodeInto(t, h.submitJSON(http.MethodGet, "/_admin/tokens", nil), &issued)
	var plain []string
	for _, it := range issued {
		plain = append(plain, it.Token)
	}
	if !slices.Contains(plain, tok.AccessToken) || !slices.Contains(plain, tok.RefreshToken) {
		t.Errorf("GET /_admin/tokens lacks the issued access or refresh token")
	}

	var counts map[string]int
	decodeInto(t, h.submitJSON(http.MethodGet, "/_admin/requests", nil), &counts)
	if counts["POST /{tenant}/oauth2/v2.0/token 200"] != 1 || counts["POST /{tenant}/oauth2/v2.0/authorize 302"] != 1 {
		t.Errorf("GET /_admin/requests = %v, want one token and one authorize request", counts)
	}

	if resp := h.submitJSON(http.MethodPost, "/_admin/reset", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /_admin/reset = %d, want 204", resp.StatusCode)
	}
	if len(h.emu.IssuedTokens()) != 0 || len(h.emu.RequestCounts()) != 0 || len(h.emu.Users()) != len(seedUsers()) {
		t.Errorf("after reset: %d tokens, %d counts, %d users; want 0, 0 and the seeded users", len(h.emu.IssuedTokens()), len(h.emu.RequestCounts()), len(h.emu.Users()))
	}
	if resp, _ := h.graph(http.MethodGet, "/v1.0/me", tok.AccessToken, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /me with a token from before reset = %d, want 401", resp.StatusCode)
	}
}

func TestAdminSettingsMerge(t *testing.T) {
	h := newHarness(t)
	h.submitJSON(http.MethodPost, "/_admin/settings", map[string]any{"bareCancel": true})
	h.submitJSON(http.MethodPost, "/_admin/settings", map[string]any{"accessTokenLifetimeSeconds": 600})
	s := h.emu.CurrentSettings()
	if !s.BareCancel || s.AccessTokenLifetimeSeconds != 600 || s.ScopeFormat != "uri" {
		t.Errorf("settings = %+v, want bareCancel kept, lifetime 600, scopeFormat uri", s)
	}
	if resp := h.submitJSON(http.MethodPost, "/_admin/settings", map[string]any{"scopeFormat": "long"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST settings scopeFormat=long = %d, want 400", resp.StatusCode)
	}
}

func TestAdminMessagesAndBatch(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	chatID := h.openChat(token, DemoRecruiterID, DemoAdaID)
	batch := map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users?$filter=mail eq 'ada@contoso.test'&$select=id"},
		{"id": "2", "method": "POST", "url": "/chats/" + chatID + "/messages", "headers": map[string]string{"Content-Type": "application/json"},
			"body": map[string]any{"body": map[string]string{"content": "batched"}}},
	}}
	resp, body := h.graph(http.MethodPost, "/v1.0/$batch", token, batch, nil)
	responses, _ := body["responses"].([]any)
	if resp.StatusCode != http.StatusOK || len(responses) != 2 {
		t.Fatalf("POST /$batch = %d %v, want 200 with 2 responses", resp.StatusCode, body)
	}
	for i, want := range []float64{200, 201} {
		if got := responses[i].(map[string]any)["status"]; got != want {
			t.Errorf("batch response %d status = %v, want %v", i, got, want)
		}
	}

	var messages []Message
	decodeInto(t, h.submitJSON(http.MethodGet, "/_admin/messages", nil), &messages)
	if len(messages) != 1 || messages[0].Content != "batched" || messages[0].ChatID != chatID || len(messages[0].MemberIDs) != 2 {
		t.Errorf("GET /_admin/messages = %+v, want the batched message", messages)
	}
}
