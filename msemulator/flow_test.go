package msemulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestCodeFlowWithOAuth2Client(t *testing.T) {
	h := newHarness(t)
	tok := h.signIn(DemoRecruiterUPN, serviceScopes)

	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("Exchange() = type %q access %t refresh %t, want Bearer with both tokens", tok.TokenType, tok.AccessToken != "", tok.RefreshToken != "")
	}
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Errorf("access token looks like a JWT, want an opaque token")
	}
	if got, _ := tok.Extra("expires_in").(float64); got != 3600 {
		t.Errorf("expires_in = %v, want 3600", tok.Extra("expires_in"))
	}
	scope, _ := tok.Extra("scope").(string)
	for _, want := range []string{"https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/ChatMessage.Send", "openid", "offline_access"} {
		if !strings.Contains(" "+scope+" ", " "+want+" ") {
			t.Errorf("scope = %q, want it to contain %q", scope, want)
		}
	}

	resp, me := h.graph(http.MethodGet, "/v1.0/me", tok.AccessToken, nil, nil)
	if resp.StatusCode != http.StatusOK || me["id"] != DemoRecruiterID || me["userPrincipalName"] != DemoRecruiterUPN {
		t.Errorf("GET /me = %d %v, want 200 with Rita", resp.StatusCode, me)
	}
	if resp.Header.Get("request-id") == "" || resp.Header.Get("client-request-id") == "" {
		t.Errorf("GET /me headers = %v, want request-id and client-request-id", resp.Header)
	}
}

func TestIDTokenClaims(t *testing.T) {
	h := newHarness(t)
	tok := h.signIn(DemoAdaUPN, serviceScopes)
	raw, _ := tok.Extra("id_token").(string)

	claims := jwt.MapClaims{}
	key := processSigningKey()
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &key.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(testClientID),
		jwt.WithIssuer(h.base+"/"+DemoTenantID+"/v2.0"))
	if err != nil {
		t.Fatalf("parse id_token: %v", err)
	}
	want := map[string]string{"oid": DemoAdaID, "tid": DemoTenantID, "preferred_username": DemoAdaUPN, "name": "Ada Lovelace", "email": DemoAdaMail}
	for claim, value := range want {
		if claims[claim] != value {
			t.Errorf("id_token %s = %v, want %q", claim, claims[claim], value)
		}
	}
	for _, claim := range []string{"iat", "nbf", "exp"} {
		if _, ok := claims[claim].(float64); !ok {
			t.Errorf("id_token %s = %v, want a number", claim, claims[claim])
		}
	}
}

func TestNoRefreshTokenWithoutOfflineAccess(t *testing.T) {
	h := newHarness(t)
	tok := h.signIn(DemoRecruiterUPN, []string{"https://graph.microsoft.com/User.Read"})
	if tok.RefreshToken != "" {
		t.Errorf("refresh_token = present, want none without offline_access")
	}
	if tok.Extra("id_token") != nil {
		t.Errorf("id_token = present, want none without openid")
	}
}

func TestPartialConsent(t *testing.T) {
	h := newHarness(t)
	target, verifier := h.authorizeURL("organizations", serviceScopes)
	form := url.Values{"login": {DemoRecruiterUPN}, "consent": {"accept"}, "scopes": {"User.Read User.ReadBasic.All"}}
	code := h.redirectQuery(h.submit(target, form)).Get("code")

	status, body := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {testRedirectURI}, "scope": {strings.Join(serviceScopes, " ")}})
	scope, _ := body["scope"].(string)
	if status != http.StatusOK || strings.Contains(scope, "ChatMessage.Send") || !strings.Contains(scope, "User.ReadBasic.All") {
		t.Fatalf("token = %d scope %q, want 200 without ChatMessage.Send", status, scope)
	}
	if body["refresh_token"] == nil {
		t.Errorf("refresh_token missing, want one: offline_access is always granted when requested")
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	h := newHarnessAt(t, "/_ms")
	tok := h.signIn(DemoRecruiterUPN, serviceScopes)

	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.Extra("id_token").(string), claims); err != nil {
		t.Fatalf("parse id_token: %v", err)
	}
	if want := h.srv.URL + "/_ms/" + DemoTenantID + "/v2.0"; claims["iss"] != want {
		t.Errorf("id_token iss = %v, want %s", claims["iss"], want)
	}
	path := "/v1.0/users?$top=1&$filter=" + url.QueryEscape("startswith(displayName,'a')")
	resp, body := h.graph(http.MethodGet, path, tok.AccessToken, nil, nil)
	next, _ := body["@odata.nextLink"].(string)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(next, h.srv.URL+"/_ms/v1.0/users?") {
		t.Errorf("GET users = %d nextLink %q, want 200 with a link under /_ms/v1.0", resp.StatusCode, next)
	}
}
