package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/msemulator"
)

// TestNoSecretInLogs runs connect → forced refresh → send → disconnect with
// debug logging and searches the log and every GraphQL response for each
// secret the flow handled.
func TestNoSecretInLogs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("r-secrets", msemulator.DemoRecruiterUPN)
		var responses strings.Builder

		// Connect, keeping the authorization code and the PKCE verifier.
		var start struct {
			ConnectTeams struct{ AuthorizationURL string }
		}
		s.graphql(tok, `mutation { connectTeams { authorizationUrl } }`, nil, &start)
		verifier := openVerifier(t, s)
		loc := s.consent(start.ConnectTeams.AuthorizationURL, msemulator.DemoRecruiterUPN, "accept", nil)
		code := loc.Query().Get("code")
		if code == "" || verifier == "" {
			t.Fatalf("code %q or verifier %q missing", code, verifier)
		}
		if back := s.follow(loc.String()); back.Query().Get("teams") != "connected" {
			t.Fatalf("callback redirect %s", back)
		}

		// Send, force a refresh through a 401, send again, disconnect.
		send := `mutation($k: String) { sendTeamsMessage(input: {recipientEmail: "ada@contoso.test", content: "hi", idempotencyKey: $k}) { message { id } } }`
		r := s.graphql(tok, send, map[string]any{"k": "one"}, nil)
		responses.WriteString(string(r.Data))
		adminPost(t, s, "users/"+msemulator.DemoRecruiterID+"/expire-access-tokens")
		before := tokenEndpointCount(s)
		r = s.graphql(tok, send, map[string]any{"k": "two"}, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("send after expiring access tokens: %+v", r.Errors)
		}
		if tokenEndpointCount(s) == before {
			t.Fatal("no refresh happened; the check would not cover refresh logging")
		}
		responses.WriteString(string(r.Data))
		r = s.graphql(tok, `{ teamsIntegration { status account { email } } }`, nil, nil)
		responses.WriteString(string(r.Data))
		r = s.graphql(tok, `mutation { disconnectTeams { integration { status } } }`, nil, nil)
		responses.WriteString(string(r.Data))

		var issued []struct{ Token string }
		s.admin("tokens", &issued)
		secrets := map[string]string{"authorization code": code, "PKCE verifier": verifier, "client secret": "test-client-secret", "caller JWT": tok}
		for _, it := range issued {
			secrets["issued token "+it.Token[:6]] = it.Token
		}
		logs := s.logs.String()
		if !strings.Contains(logs, "http request") {
			t.Fatal("log capture is empty; the check would prove nothing")
		}
		for name, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("log contains the %s", name)
			}
			if strings.Contains(responses.String(), secret) {
				t.Errorf("a GraphQL response contains the %s", name)
			}
		}
	})
}

// openVerifier reads the newest connect request's PKCE verifier from the
// database and opens it with the service's keyring.
func openVerifier(t *testing.T, s *stack) string {
	t.Helper()
	var row struct {
		StateHash string `db:"state_hash"`
		Verifier  []byte `db:"verifier"`
	}
	if err := s.app.db.GetContext(context.Background(), &row, `SELECT state_hash, verifier FROM connect_requests ORDER BY created_at DESC LIMIT 1`); err != nil {
		t.Fatalf("read connect request: %v", err)
	}
	plain, err := s.app.keys.Open(row.Verifier, []byte("connect_request:"+row.StateHash+":pkce_verifier"))
	if err != nil {
		t.Fatalf("open verifier: %v", err)
	}
	return string(plain)
}

// adminPost POSTs to an emulator admin route with no body.
func adminPost(t *testing.T, s *stack, path string) {
	t.Helper()
	res, err := http.Post(s.emuURL+"/_admin/"+path, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST /_admin/%s: %v", path, err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("POST /_admin/%s: status %d", path, res.StatusCode)
	}
}
