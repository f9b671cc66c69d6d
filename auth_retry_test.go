package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// TestRepeated401KeepsConnection checks that Graph rejecting a token that
// was refreshed a moment ago fails the send without expiring the
// connection, and without a second refresh.
func TestRepeated401KeepsConnection(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-401", msemulator.DemoRecruiterUPN)
	s.connect(tok, msemulator.DemoRecruiterUPN)
	send := `mutation { sendTeamsMessage(input: {recipientEmail: "ada@contoso.test", content: "hi"}) { message { id } } }`
	if r := s.graphql(tok, send, nil, nil); len(r.Errors) > 0 {
		t.Fatalf("first send: %+v", r.Errors)
	}

	s.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: "/v1.0/chats/", Status: http.StatusUnauthorized, Count: 2})
	before := tokenEndpointCount(s)
	if code := s.graphql(tok, send, nil, nil).code(); code != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("send with two 401s: code %q, want UPSTREAM_UNAVAILABLE", code)
	}
	if got := tokenEndpointCount(s) - before; got != 1 {
		t.Errorf("token endpoint calls = %d, want 1 (one forced refresh, no loop)", got)
	}
	var in integrationData
	s.graphql(tok, integrationQuery, nil, &in)
	if in.TeamsIntegration.Status != "CONNECTED" {
		t.Errorf("status after repeated 401 = %q, want CONNECTED", in.TeamsIntegration.Status)
	}
	if r := s.graphql(tok, send, nil, nil); len(r.Errors) > 0 {
		t.Errorf("send after the 401s passed: %+v", r.Errors)
	}
	if logs := s.logs.String(); !strings.Contains(logs, `"error_code":"UPSTREAM_UNAVAILABLE"`) {
		t.Errorf("the upstream failure is not logged with its code:\n%s", logs)
	}
}

// TestClaimsChallengeSparesRenewedConnection checks that expiring the
// connection an old token came from leaves a connection renewed since then.
func TestClaimsChallengeSparesRenewedConnection(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-renew", msemulator.DemoRecruiterUPN)
	s.connect(tok, msemulator.DemoRecruiterUPN)
	ctx := context.Background()
	old, err := s.app.oauth.Access(ctx, "r-renew")
	if err != nil {
		t.Fatal(err)
	}

	s.connect(tok, msemulator.DemoRecruiterUPN) // the recruiter connects again
	if err := s.app.oauth.ExpireConnection(ctx, old, vault.ReasonAccessRevoked); err != nil {
		t.Fatalf("ExpireConnection(old token) = %v", err)
	}
	var in integrationData
	s.graphql(tok, integrationQuery, nil, &in)
	if in.TeamsIntegration.Status != "CONNECTED" {
		t.Errorf("status after a challenge on the old token = %q, want CONNECTED", in.TeamsIntegration.Status)
	}

	current, err := s.app.oauth.Access(ctx, "r-renew")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.oauth.ExpireConnection(ctx, current, vault.ReasonAccessRevoked); err != nil {
		t.Fatalf("ExpireConnection(current token) = %v", err)
	}
	s.graphql(tok, integrationQuery, nil, &in)
	if in.TeamsIntegration.Status != "EXPIRED" {
		t.Errorf("status after a challenge on the current token = %q, want EXPIRED", in.TeamsIntegration.Status)
	}
}
