package msemulator

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func (h *harness) adminConsentURL(tenant string) string {
	q := url.Values{"client_id": {testClientID}, "redirect_uri": {testRedirectURI}, "state": {"admin-state"},
		"scope": {"https://graph.microsoft.com/.default"}}
	return h.base + "/" + tenant + "/v2.0/adminconsent?" + q.Encode()
}

func TestAdminConsentFlow(t *testing.T) {
	h := newHarness(t)
	target := h.adminConsentURL(FabrikamTenantDomain)

	resp := h.submit(target, url.Values{"login": {FabrikamUserUPN}, "consent": {"accept"}})
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "AADSTS90099") {
		t.Fatalf("admin consent by a non-admin = %d, want the page with AADSTS90099", resp.StatusCode)
	}

	q := h.redirectQuery(h.submit(target, url.Values{"login": {FabrikamAdminUPN}, "consent": {"accept"}}))
	if q.Get("admin_consent") != "True" || q.Get("tenant") != FabrikamTenantID || q.Get("state") != "admin-state" || !strings.Contains(q.Get("scope"), "ChatMessage.Send") {
		t.Fatalf("admin consent redirect = %v, want admin_consent=True with the tenant, scope and state", q)
	}

	tok := h.signIn(FabrikamUserUPN, serviceScopes)
	if tok.AccessToken == "" {
		t.Errorf("sign-in after admin consent gave no access token")
	}
}

func TestAdminConsentDecline(t *testing.T) {
	h := newHarness(t)
	q := h.redirectQuery(h.submit(h.adminConsentURL(BlockedTenantID), url.Values{"login": {BlockedAdminUPN}, "consent": {"decline"}}))
	if q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004:") || q.Has("tenant") {
		t.Errorf("declined admin consent = %v, want access_denied AADSTS65004 without tenant", q)
	}
	target, _ := h.authorizeURL("organizations", serviceScopes)
	resp := h.submit(target, url.Values{"login": {BlockedUserUPN}, "consent": {"accept"}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("user sign-in after declined admin consent = %d, want 200 wall page", resp.StatusCode)
	}
}

func TestAdminConsentOnCommonRejected(t *testing.T) {
	h := newHarness(t)
	resp, err := h.client.Get(h.adminConsentURL("common"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("GET common adminconsent = %d, want a 400 page", resp.StatusCode)
	}
}
