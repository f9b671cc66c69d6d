package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
)

// testJWTSecret signs caller tokens in tests.
const testJWTSecret = "test-secret-for-caller-tokens-0123456789"

// stack is the service and the Microsoft emulator, each on its own loopback
// HTTP server, as in a multi-process deployment.
type stack struct {
	t        *testing.T
	app      *app
	server   *httptest.Server
	emulator *msemulator.Emulator
	emuURL   string
	logs     *syncBuffer
	dbURL    string

	// jar keeps the cookies a browser would, across GraphQL calls and the
	// callback (connectTeams binds the flow to the caller's browser).
	jarOnce sync.Once
	jar     http.CookieJar
}

// browser returns an HTTP client with the stack's cookie jar; with
// follow false it returns redirects instead of following them.
func (s *stack) browser(follow bool) *http.Client {
	s.jarOnce.Do(func() { s.jar, _ = cookiejar.New(nil) })
	c := &http.Client{Timeout: 30 * time.Second, Jar: s.jar}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// syncBuffer is a log sink that tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dialects returns the database URLs a test runs on: SQLite always,
// PostgreSQL when TEST_DATABASE_URL is set.
func forEachDialect(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite:"+t.TempDir()+"/test.db") })
	t.Run("postgres", func(t *testing.T) { fn(t, dbtest.URL(t)) })
}

// startStack starts the emulator and the service on loopback.
func startStack(t *testing.T, dbURL string, tweak ...func(*Config)) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	publicURL := "http://" + ln.Addr().String()

	emu, emuServer := testkit.Emulator(t, "test-client-secret", publicURL+"/oauth/callback")

	cfg, err := loadConfig(func(name string) string {
		return map[string]string{
			"DATABASE_URL":            dbURL,
			"WINTRO_PUBLIC_URL":       publicURL,
			"WINTRO_APP_URL":          "http://app.wintro.test",
			"WINTRO_MS_CLIENT_ID":     msemulator.DevClientID,
			"WINTRO_MS_CLIENT_SECRET": "test-client-secret",
			"WINTRO_MS_AUTHORITY":     emuServer.URL,
			"WINTRO_MS_GRAPH_URL":     emuServer.URL + "/v1.0",
			"WINTRO_VAULT_KEYS":       "k1:" + strings.Repeat("A", 43) + "=",
			"WINTRO_AUTH_JWT_SECRET":  testJWTSecret,
			"WINTRO_INTERNAL_TOKEN":   "internal-test-token",
			"WINTRO_SEND_RATE":        "1000",
			"WINTRO_SEND_BURST":       "1000",
			"WINTRO_LOG_LEVEL":        "debug",
		}[name]
	})
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	for _, f := range tweak {
		f(cfg)
	}
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, logs))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	t.Cleanup(a.close)

	srv := httptest.NewUnstartedServer(a.routes())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &stack{t: t, app: a, server: srv, emulator: emu, emuURL: emuServer.URL, logs: logs, dbURL: dbURL}
}

// token mints a caller token for a recruiter with the Teams permission.
func (s *stack) token(recruiterID, email string) string {
	s.t.Helper()
	tok, err := identity.SignHS256([]byte(testJWTSecret), identity.Recruiter{
		ID: recruiterID, OrgID: "org-1", Email: email, Name: "Test Recruiter",
		Permissions: []string{identity.PermissionTeamsMessaging},
	}, "", "", time.Hour, time.Now())
	if err != nil {
		s.t.Fatalf("SignHS256: %v", err)
	}
	return tok
}

// gqlResponse is a GraphQL response with raw data.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// code returns the first error's extensions.code, or "".
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// graphql posts a GraphQL request with the caller token and decodes data into out.
func (s *stack) graphql(token, query string, vars map[string]any, out any) *gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.browser(true).Do(req)
	if err != nil {
		s.t.Fatalf("POST /graphql: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var gr gqlResponse
	if err := json.Unmarshal(raw, &gr); err != nil {
		s.t.Fatalf("POST /graphql: status %d, body %q: %v", res.StatusCode, raw, err)
	}
	if out != nil && len(gr.Errors) == 0 {
		if err := json.Unmarshal(gr.Data, out); err != nil {
			s.t.Fatalf("decode data %s: %v", gr.Data, err)
		}
	}
	return &gr
}

// noRedirect is an HTTP client that returns redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// consent posts the emulator's consent form as login and returns where the
// emulator redirects the browser.
func (s *stack) consent(authURL, login, answer string, extra url.Values) *url.URL {
	s.t.Helper()
	form := url.Values{"login": {login}, "consent": {answer}}
	for k, v := range extra {
		form[k] = v
	}
	res, err := noRedirect.PostForm(authURL, form)
	if err != nil {
		s.t.Fatalf("POST consent form: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		body, _ := io.ReadAll(res.Body)
		s.t.Fatalf("POST consent form: status %d, want a redirect; body %.300s", res.StatusCode, body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		s.t.Fatalf("consent redirect %q: %v", res.Header.Get("Location"), err)
	}
	return loc
}

// follow GETs u (the callback) and returns the redirect target.
func (s *stack) follow(u string) *url.URL {
	s.t.Helper()
	res, err := s.browser(false).Get(u)
	if err != nil {
		s.t.Fatalf("GET %s: %v", u, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		s.t.Fatalf("GET callback: status %d, want 302", res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	return loc
}

// connect runs the whole connect flow for the recruiter as the Microsoft user login.
func (s *stack) connect(token, login string) *url.URL {
	s.t.Helper()
	var data struct {
		ConnectTeams struct{ AuthorizationURL string } `json:"connectTeams"`
	}
	if r := s.graphql(token, `mutation { connectTeams(input: {returnTo: "/settings/communication"}) { authorizationUrl expiresAt } }`, nil, &data); len(r.Errors) > 0 {
		s.t.Fatalf("connectTeams: %+v", r.Errors)
	}
	loc := s.consent(data.ConnectTeams.AuthorizationURL, login, "accept", nil)
	return s.follow(loc.String())
}

// admin GETs an emulator admin route and decodes the JSON response.
func (s *stack) admin(path string, out any) {
	s.t.Helper()
	res, err := http.Get(s.emuURL + "/_admin/" + path)
	if err != nil {
		s.t.Fatalf("GET /_admin/%s: %v", path, err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		s.t.Fatalf("decode /_admin/%s: %v", path, err)
	}
}

var _ = slog.LevelInfo

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}
