package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/msemulator"
)

// TestCallbackRejects checks that a bad callback ends with a clear reason
// and never reaches Microsoft's token endpoint.
func TestCallbackRejects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("r-cb", msemulator.DemoRecruiterUPN)
		startURL := func() string {
			var d struct {
				ConnectTeams struct{ AuthorizationURL string }
			}
			s.graphql(tok, `mutation { connectTeams { authorizationUrl } }`, nil, &d)
			return d.ConnectTeams.AuthorizationURL
		}
		callback := s.server.URL + "/oauth/callback?"

		cases := []struct {
			name   string
			target func() string // the callback URL to GET
			reason string
		}{
			{"unknown state", func() string {
				return callback + url.Values{"code": {"abc"}, "state": {"made-up-state"}}.Encode()
			}, "invalid_state"},
			{"no state", func() string { return callback + "code=abc" }, "invalid_state"},
			{"replayed state", func() string {
				loc := s.consent(startURL(), msemulator.DemoRecruiterUPN, "accept", nil)
				if back := s.follow(loc.String()); back.Query().Get("teams") != "connected" {
					t.Fatalf("first callback: %s", back)
				}
				return loc.String()
			}, "invalid_state"},
			{"expired state", func() string {
				loc := s.consent(startURL(), msemulator.DemoRecruiterUPN, "accept", nil)
				if _, err := s.app.db.ExecContext(context.Background(), s.app.db.Rebind(`UPDATE connect_requests SET expires_at = ?`), time.Now().Add(-time.Minute).UTC()); err != nil {
					t.Fatal(err)
				}
				return loc.String()
			}, "expired_state"},
			{"access denied", func() string {
				state := mustQuery(t, startURL()).Get("state")
				return callback + url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent."}, "state": {state}}.Encode()
			}, "consent_declined"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				target := tc.target()
				before := tokenEndpointCount(s)
				back := s.follow(target)
				if back.Host != "app.wintro.test" || back.Query().Get("teams") != "error" || back.Query().Get("reason") != tc.reason {
					t.Errorf("callback redirect = %s, want teams=error&reason=%s on the app", back, tc.reason)
				}
				if got := tokenEndpointCount(s) - before; got != 0 {
					t.Errorf("token endpoint calls = %d, want 0", got)
				}
			})
		}
	})
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u.Query()
}

// TestAuthorizationURL checks the request sent to Microsoft's authorize endpoint.
func TestAuthorizationURL(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-url", msemulator.DemoRecruiterUPN)
	var d struct {
		ConnectTeams struct{ AuthorizationURL string }
	}
	s.graphql(tok, `mutation { connectTeams { authorizationUrl expiresAt } }`, nil, &d)
	u, err := url.Parse(d.ConnectTeams.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if !strings.HasSuffix(u.Path, "/organizations/oauth2/v2.0/authorize") {
		t.Errorf("path = %s, want …/organizations/oauth2/v2.0/authorize", u.Path)
	}
	want := map[string]string{
		"response_type": "code", "response_mode": "query", "code_challenge_method": "S256",
		"client_id": msemulator.DevClientID, "login_hint": msemulator.DemoRecruiterUPN,
		"scope":        "User.Read User.ReadBasic.All ChatMessage.Send Chat.ReadWrite offline_access openid profile email",
		"redirect_uri": s.server.URL + "/oauth/callback",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if q.Get("prompt") != "" {
		t.Errorf("prompt = %q, want none sent", q.Get("prompt"))
	}
	if len(q.Get("state")) < 43 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("state %q or code_challenge %q too short", q.Get("state"), q.Get("code_challenge"))
	}
	var stored int
	if err := s.app.db.GetContext(context.Background(), &stored, s.app.db.Rebind(`SELECT COUNT(*) FROM connect_requests WHERE state_hash = ?`), q.Get("state")); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Error("the state is stored in plaintext; want only its hash")
	}
}

// TestCallbackFromOtherBrowser checks that an authorization URL forwarded to
// someone else cannot connect their Microsoft account to the recruiter who
// started the flow: the callback needs the cookie connectTeams set.
func TestCallbackFromOtherBrowser(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("mallory", msemulator.DemoRecruiterUPN)
	var d struct {
		ConnectTeams struct{ AuthorizationURL string }
	}
	s.graphql(tok, `mutation { connectTeams { authorizationUrl } }`, nil, &d)

	// The colleague opens the forwarded URL in their own browser.
	loc := s.consent(d.ConnectTeams.AuthorizationURL, msemulator.DemoAdaUPN, "accept", nil)
	before := tokenEndpointCount(s)
	otherBrowser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := otherBrowser.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, _ := url.Parse(res.Header.Get("Location"))
	if back.Query().Get("reason") != "other_browser" {
		t.Errorf("callback from another browser redirected to %s, want reason=other_browser", back)
	}
	if got := tokenEndpointCount(s) - before; got != 0 {
		t.Errorf("token endpoint calls = %d, want 0", got)
	}
	var in integrationData
	s.graphql(tok, integrationQuery, nil, &in)
	if in.TeamsIntegration.Status == "CONNECTED" || in.TeamsIntegration.Account != nil {
		t.Errorf("recruiter holds a connection after a callback from another browser: %+v", in.TeamsIntegration)
	}

	// In the recruiter's own browser the flow still works, and the cookie
	// is spent after its callback.
	if back := s.connect(tok, msemulator.DemoRecruiterUPN); back.Query().Get("teams") != "connected" {
		t.Errorf("connect in the starting browser: redirect %s", back)
	}
}

// TestTwoOpenConnectRequests checks that finishing one connect request in a
// browser leaves another one open in the same browser usable.
func TestTwoOpenConnectRequests(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-two", msemulator.DemoRecruiterUPN)
	var first, second struct {
		ConnectTeams struct{ AuthorizationURL string }
	}
	s.graphql(tok, `mutation { connectTeams { authorizationUrl } }`, nil, &first)
	s.graphql(tok, `mutation { connectTeams { authorizationUrl } }`, nil, &second)

	for i, start := range []string{first.ConnectTeams.AuthorizationURL, second.ConnectTeams.AuthorizationURL} {
		loc := s.consent(start, msemulator.DemoRecruiterUPN, "accept", nil)
		if back := s.follow(loc.String()); back.Query().Get("teams") != "connected" {
			t.Errorf("callback of connect request %d redirected to %s, want teams=connected", i+1, back)
		}
	}
}
