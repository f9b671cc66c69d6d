package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/msemulator"
)

func TestCallerTokenCodes(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	now := time.Now()
	sign := func(claims jwt.MapClaims, method jwt.SigningMethod, key any) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return tok
	}
	valid := jwt.MapClaims{"sub": "r-1", "exp": now.Add(time.Hour).Unix(), "permissions": []string{identity.PermissionTeamsMessaging}}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for key, val := range valid {
			c[key] = val
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	secret := []byte(testJWTSecret)
	cases := []struct {
		name, token, want string
	}{
		{"valid", sign(valid, jwt.SigningMethodHS256, secret), ""},
		{"empty", "", "UNAUTHENTICATED"},
		{"garbage", "not-a-jwt", "UNAUTHENTICATED"},
		{"expired", sign(with("exp", now.Add(-2*time.Minute).Unix()), jwt.SigningMethodHS256, secret), "UNAUTHENTICATED"},
		{"not yet valid", sign(with("nbf", now.Add(5*time.Minute).Unix()), jwt.SigningMethodHS256, secret), "UNAUTHENTICATED"},
		{"wrong secret", sign(valid, jwt.SigningMethodHS256, []byte("another-secret-another-secret-0123")), "UNAUTHENTICATED"},
		{"alg none", sign(valid, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), "UNAUTHENTICATED"},
		{"missing sub", sign(with("sub", nil), jwt.SigningMethodHS256, secret), "UNAUTHENTICATED"},
		{"missing permission", sign(with("permissions", []string{"jobs.read"}), jwt.SigningMethodHS256, secret), "FORBIDDEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.graphql(tc.token, `{ teamsIntegration { status } }`, nil, nil)
			if got := r.code(); got != tc.want {
				t.Errorf("teamsIntegration with %s token: code %q, want %q", tc.name, got, tc.want)
			}
		})
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "http request") {
		t.Fatal("log capture is empty; the check would prove nothing")
	}
	for _, tc := range cases {
		if len(tc.token) > 20 && strings.Contains(logs, tc.token) {
			t.Errorf("the log contains the %s caller token", tc.name)
		}
	}
}

func TestHandlerPanicIsRecovered(t *testing.T) {
	logs := &syncBuffer{}
	log := newLogger(&Config{LogJSON: true}, logs)
	h := recoverPanics(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: internal detail")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "internal detail") {
		t.Errorf("panic answered %d %q, want 500 without the panic text", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "internal detail") {
		t.Errorf("panic not logged: %q", logs.String())
	}
}

func TestRecruiterIsolation(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	owner := s.token("owner", msemulator.DemoRecruiterUPN)
	other := s.token("other", "other@wintro.test")
	if back := s.connect(owner, msemulator.DemoRecruiterUPN); back.Query().Get("teams") != "connected" {
		t.Fatalf("connect: redirect %s", back)
	}

	var in integrationData
	s.graphql(other, integrationQuery, nil, &in)
	if in.TeamsIntegration.Status != "DISCONNECTED" || in.TeamsIntegration.Account != nil {
		t.Errorf("other recruiter sees %+v, want DISCONNECTED without account", in.TeamsIntegration)
	}
	send := `mutation { sendTeamsMessage(input: {recipientEmail: "ada@contoso.test", content: "hi"}) { message { id } } }`
	if code := s.graphql(other, send, nil, nil).code(); code != "NOT_CONNECTED" {
		t.Errorf("other recruiter send: code %q, want NOT_CONNECTED", code)
	}
	if code := s.graphql(other, `{ searchColleagues(query: "ada") { id } }`, nil, nil).code(); code != "NOT_CONNECTED" {
		t.Errorf("other recruiter search: code %q, want NOT_CONNECTED", code)
	}
	if r := s.graphql(other, `mutation { disconnectTeams { integration { status } } }`, nil, nil); len(r.Errors) > 0 {
		t.Fatalf("other recruiter disconnect: %+v", r.Errors)
	}

	s.graphql(owner, integrationQuery, nil, &in)
	if in.TeamsIntegration.Status != "CONNECTED" {
		t.Errorf("owner status after other's disconnect = %q, want CONNECTED", in.TeamsIntegration.Status)
	}
	var msgs []msemulator.Message
	s.admin("messages", &msgs)
	if len(msgs) != 0 {
		t.Errorf("emulator holds %d messages, want 0", len(msgs))
	}
}

func TestHTTPHardening(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-1", msemulator.DemoRecruiterUPN)

	t.Run("oversized body", func(t *testing.T) {
		body := `{"query":"{ teamsIntegration { status } }","variables":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}`
		res := post(t, s.server.URL+"/graphql", tok, body, -1)
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", res.StatusCode)
		}
		res = post(t, s.server.URL+"/graphql", tok, body, len(body))
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status with Content-Length = %d, want 413", res.StatusCode)
		}
	})
	t.Run("deep query", func(t *testing.T) {
		q := "{ __schema { types { fields { type " + strings.Repeat("{ ofType ", 14) + "{ name }" + strings.Repeat(" }", 14) + " } } } }"
		r := s.graphql(tok, q, nil, nil)
		if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "deeper") {
			t.Errorf("deep query errors = %+v, want a depth error", r.Errors)
		}
	})
	t.Run("1000 aliases", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 1000 {
			fmt.Fprintf(&b, " a%d: teamsIntegration { status }", i)
		}
		b.WriteString(" }")
		r := s.graphql(tok, b.String(), nil, nil)
		if len(r.Errors) == 0 || r.Data != nil && string(r.Data) != "null" {
			t.Errorf("1000 aliases: errors %+v, data %s; want rejection without data", r.Errors, r.Data)
		}
	})
	t.Run("token count", func(t *testing.T) {
		q := "{ teamsIntegration { status " + strings.Repeat("a ", 6000) + "} }"
		r := s.graphql(tok, q, nil, nil)
		if len(r.Errors) == 0 || !strings.Contains(strings.ToLower(r.Errors[0].Message), "token") {
			t.Errorf("huge token count: errors %+v, want a token limit error", r.Errors)
		}
	})
	t.Run("mutation over GET", func(t *testing.T) {
		u := s.server.URL + "/graphql?query=" + url.QueryEscape("mutation { disconnectTeams { integration { status } } }")
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
			t.Errorf("status %d Allow %q, want 405 with Allow: POST", res.StatusCode, res.Header.Get("Allow"))
		}
	})
	t.Run("query over GET", func(t *testing.T) {
		u := s.server.URL + "/graphql?query=" + url.QueryEscape("{ teamsIntegration { status } }")
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "DISCONNECTED") {
			t.Errorf("GET query: status %d body %s, want 200 with the status", res.StatusCode, body)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", got)
		}
	})
	t.Run("malformed JSON not echoed", func(t *testing.T) {
		res := post(t, s.server.URL+"/graphql", tok, `{"query": "SECRET-ECHO-MARKER`, -1)
		body, _ := io.ReadAll(res.Body)
		if strings.Contains(string(body), "SECRET-ECHO-MARKER") {
			t.Errorf("malformed body echoed back: %s", body)
		}
	})
	t.Run("form transport refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.server.URL+"/graphql", strings.NewReader("query=%7B__typename%7D"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("form-encoded POST: status %d, want a 4xx", res.StatusCode)
		}
	})
	t.Run("cors", func(t *testing.T) {
		for origin, want := range map[string]string{"http://app.wintro.test": "http://app.wintro.test", "https://evil.test": ""} {
			req, _ := http.NewRequest(http.MethodOptions, s.server.URL+"/graphql", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("preflight from %s: Allow-Origin %q, want %q", origin, got, want)
			}
		}
	})
}

func post(t *testing.T, u, token, body string, contentLength int) *http.Response {
	t.Helper()
	var rdr io.Reader = strings.NewReader(body)
	if contentLength < 0 {
		rdr = io.MultiReader(strings.NewReader(body)) // hides the length: chunked upload
	}
	req, _ := http.NewRequest(http.MethodPost, u, rdr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestReturnToRejected(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tok := s.token("r-1", msemulator.DemoRecruiterUPN)
	for _, returnTo := range []string{
		"//evil.test", `/\evil.test`, "https://evil.test", "javascript:alert(1)", "/%2F%2Fevil.test", "%2F%2Fevil.test",
		"/%5Cevil.test", "http:/evil.test", "/ok\r\nLocation: https://evil.test", "/" + strings.Repeat("a", 600), "evil.test",
	} {
		r := s.graphql(tok, `mutation($r: String) { connectTeams(input: {returnTo: $r}) { authorizationUrl } }`, map[string]any{"r": returnTo}, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "returnTo" {
			t.Errorf("returnTo %q: errors %+v, want BAD_USER_INPUT on returnTo", returnTo, r.Errors)
		}
	}
	var ok struct {
		ConnectTeams struct{ AuthorizationURL string }
	}
	if r := s.graphql(tok, `mutation { connectTeams(input: {returnTo: "/settings/communication?tab=teams"}) { authorizationUrl } }`, nil, &ok); len(r.Errors) > 0 {
		t.Errorf("a path on the app was rejected: %+v", r.Errors)
	}
}

func TestProductionConfigFailsClosed(t *testing.T) {
	full := map[string]string{
		"WINTRO_ENV":              "production",
		"DATABASE_URL":            "postgres://wintro@127.0.0.1:5432/wintro?sslmode=disable",
		"WINTRO_PUBLIC_URL":       "https://teams.wintro.test",
		"WINTRO_APP_URL":          "https://app.wintro.test",
		"WINTRO_MS_CLIENT_ID":     "11111111-2222-3333-4444-555555555555",
		"WINTRO_MS_CLIENT_SECRET": "client-secret-value",
		"WINTRO_VAULT_KEYS":       "k1:" + strings.Repeat("A", 43) + "=",
		"WINTRO_AUTH_JWT_SECRET":  testJWTSecret,
	}
	getenv := func(env map[string]string) func(string) string { return func(k string) string { return env[k] } }
	cfg, err := loadConfig(getenv(full))
	if err != nil {
		t.Fatalf("loadConfig(complete production settings) = %v, want no error", err)
	}
	if cfg.DevMode || cfg.Playground || cfg.Introspection {
		t.Errorf("production config: dev mode %t, playground %t, introspection %t; want all off", cfg.DevMode, cfg.Playground, cfg.Introspection)
	}

	for _, missing := range []string{"WINTRO_MS_CLIENT_ID", "WINTRO_MS_CLIENT_SECRET", "WINTRO_VAULT_KEYS", "WINTRO_AUTH_JWT_SECRET", "WINTRO_APP_URL"} {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		delete(env, missing)
		_, err := loadConfig(getenv(env))
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("production without %s: error %v, want one naming it", missing, err)
		}
	}
	for name, value := range map[string]string{"WINTRO_PUBLIC_URL": "http://teams.wintro.test", "DATABASE_URL": "sqlite:./x.db", "WINTRO_AUTH_JWT_SECRET": "short"} {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		env[name] = value
		_, err := loadConfig(getenv(env))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("production with weak %s: error %v, want one naming it", name, err)
		}
	}
	_, err = loadConfig(getenv(map[string]string{"WINTRO_ENV": "production"}))
	if err == nil {
		t.Fatal("production with nothing configured started")
	}
	for _, name := range []string{"WINTRO_MS_CLIENT_ID", "WINTRO_VAULT_KEYS", "WINTRO_AUTH_JWT_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s; one message must list every problem", err, name)
		}
	}
}

func TestInternalDeletionRoute(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("gone", msemulator.DemoRecruiterUPN)
		s.connect(tok, msemulator.DemoRecruiterUPN)
		if r := s.graphql(tok, `mutation { sendTeamsMessage(input: {recipientEmail: "ada@contoso.test", content: "hi", idempotencyKey: "k1"}) { message { id } } }`, nil, nil); len(r.Errors) > 0 {
			t.Fatalf("send: %+v", r.Errors)
		}
		s.graphql(tok, `mutation { connectTeams { authorizationUrl } }`, nil, nil) // leaves an open connect request

		del := func(token string) int {
			req, _ := http.NewRequest(http.MethodDelete, s.server.URL+"/internal/recruiters/gone", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if got := del(""); got != http.StatusUnauthorized {
			t.Errorf("DELETE without token: %d, want 401", got)
		}
		if got := del("internal-test-tokeX"); got != http.StatusUnauthorized {
			t.Errorf("DELETE with wrong token: %d, want 401", got)
		}
		for i := range 2 {
			if got := del("internal-test-token"); got != http.StatusNoContent {
				t.Errorf("DELETE #%d: %d, want 204", i+1, got)
			}
		}
		for _, table := range []string{"connections", "connect_requests", "chat_cache", "sent_messages"} {
			if n := countRows(t, s, "SELECT COUNT(*) FROM "+table+" WHERE recruiter_id = 'gone'"); n != 0 {
				t.Errorf("%s rows after account deletion = %d, want 0", table, n)
			}
		}
	})
}

func TestInternalRouteAbsentWithoutToken(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db", func(c *Config) { c.InternalToken = "" })
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, s.server.URL+"/internal/recruiters/x", nil)
	req.Header.Set("Authorization", "Bearer ")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE with no internal token configured: %d, want 404", res.StatusCode)
	}
}

func TestIntrospectionDisabledIsExplained(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db", func(c *Config) { c.Introspection = false })
	r := s.graphql(s.token("r-1", ""), `{ __schema { types { name } } }`, nil, nil)
	if r.code() != "INTROSPECTION_DISABLED" {
		t.Errorf("introspection with it turned off: errors %+v, want INTROSPECTION_DISABLED", r.Errors)
	}
	if strings.Contains(s.logs.String(), "level=ERROR") || strings.Contains(s.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a disabled introspection query was logged as an error:\n%s", s.logs.String())
	}
}
