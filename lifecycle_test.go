package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/oauth"
)

// lifecycleServeEnv makes the test binary run the service instead of tests,
// so the multi-process tests need no separate build.
const lifecycleServeEnv = "WINTRO_LIFECYCLE_TEST_SERVE"

// TestLifecycleServerProcess is the entry point of a server process started
// by startServerProcess; run on its own it does nothing.
func TestLifecycleServerProcess(t *testing.T) {
	if os.Getenv(lifecycleServeEnv) != "1" {
		t.Skip("runs only as a server process started by the lifecycle tests")
	}
	os.Exit(run([]string{"serve"}, os.Getenv))
}

const lifecycleSend = `mutation($c: String!) { sendTeamsMessage(input: {recipientEmail: "ada@contoso.test", content: $c}) { message { id } } }`

// burstClient sends many GraphQL requests at once over kept-alive connections.
var burstClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// postGraphQL posts a GraphQL request and decodes the response, returning
// transport failures instead of failing the test, so goroutines may call it.
func postGraphQL(baseURL, token, query string, vars map[string]any) (*gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := burstClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var gr gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&gr); err != nil {
		return nil, fmt.Errorf("status %d: %w", res.StatusCode, err)
	}
	return &gr, nil
}

// sendBurst sends n messages at once, spread over the servers, and returns
// the failures.
func sendBurst(servers []string, token string, n int, label string) []string {
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := postGraphQL(servers[i%len(servers)], token, lifecycleSend, map[string]any{"c": fmt.Sprintf("%s %d", label, i)})
			if err == nil && len(r.Errors) == 0 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				failures = append(failures, fmt.Sprintf("%s: %s", r.code(), r.Errors[0].Message))
			}
		}()
	}
	wg.Wait()
	return failures
}

// emulatorTokenCalls counts requests to the emulator's token endpoint.
func emulatorTokenCalls(emu *msemulator.Emulator) int {
	n := 0
	for k, v := range emu.RequestCounts() {
		if strings.Contains(k, "/oauth2/v2.0/token") {
			n += v
		}
	}
	return n
}

// settledEmulatorTokenCalls waits up to five seconds for the count to reach
// want: the emulator counts a request after its handler returns, which can
// be just after the client got the response.
func settledEmulatorTokenCalls(emu *msemulator.Emulator, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for emulatorTokenCalls(emu) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return emulatorTokenCalls(emu)
}

// expireStoredAccessTokens makes every stored access token look expired to
// the service, which then must refresh before its next Graph call.
func expireStoredAccessTokens(t *testing.T, dbURL string) {
	t.Helper()
	d, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	defer d.Close()
	if _, err := d.ExecContext(context.Background(), d.Rebind(`UPDATE connections SET access_expires_at = ?`), time.Now().Add(-time.Minute).UTC()); err != nil {
		t.Fatalf("expire access tokens: %v", err)
	}
}

// startServerProcess runs the service as a child process on addr and waits
// until it is healthy; it is stopped with SIGTERM when the test ends.
func startServerProcess(t *testing.T, addr, dbURL, emuURL string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLifecycleServerProcess$")
	cmd.Env = append(os.Environ(), lifecycleServeEnv+"=1",
		"DATABASE_URL="+dbURL, "WINTRO_LISTEN_ADDR="+addr, "WINTRO_PUBLIC_URL=http://"+addr, "WINTRO_APP_URL=http://app.wintro.test",
		"WINTRO_MS_CLIENT_ID="+msemulator.DevClientID, "WINTRO_MS_CLIENT_SECRET=test-client-secret",
		"WINTRO_MS_AUTHORITY="+emuURL, "WINTRO_MS_GRAPH_URL="+emuURL+"/v1.0",
		"WINTRO_VAULT_KEYS=k1:"+strings.Repeat("A", 43)+"=", "WINTRO_AUTH_JWT_SECRET="+testJWTSecret,
		"WINTRO_SEND_RATE=10000", "WINTRO_SEND_BURST=10000", "WINTRO_LOG_LEVEL=warn")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server process: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("server process on %s did not stop within 30 s of SIGTERM", addr)
		}
		if t.Failed() {
			t.Logf("server process on %s logged:\n%s", addr, logs.String())
		}
	})
	waitHealthy(t, "http://"+addr, exited, logs)
}

// TestTwoProcessesRefreshOnce runs two server processes on one database.
// Bursts of sends with an expired access token, split over both, cause
// exactly one token endpoint call each, also when the token endpoint is
// slowed to two seconds, every message is delivered, and the connection
// stays CONNECTED.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two server processes")
	}
	forEachDialect(t, func(t *testing.T, dbURL string) {
		addrs := []string{freeLoopbackAddr(t), freeLoopbackAddr(t)}
		emu, emuServer := testkit.Emulator(t, "test-client-secret", "http://"+addrs[0]+"/oauth/callback", "http://"+addrs[1]+"/oauth/callback")
		servers := make([]string, len(addrs))
		for i, addr := range addrs {
			startServerProcess(t, addr, dbURL, emuServer.URL)
			servers[i] = "http://" + addr
		}

		s := &stack{t: t, server: &httptest.Server{URL: servers[0]}, emulator: emu, emuURL: emuServer.URL}
		tok := s.token("r-two", msemulator.DemoRecruiterUPN)
		s.connect(tok, msemulator.DemoRecruiterUPN)
		if failures := sendBurst(servers, tok, 1, "warm-up"); len(failures) > 0 {
			t.Fatalf("warm-up send failed: %v", failures)
		}

		phases := []struct {
			name  string
			n     int
			fault *msemulator.Fault
		}{
			{"expired token", 200, nil},
			{"slow token endpoint", 100, &msemulator.Fault{Method: http.MethodPost, PathPrefix: "/organizations/oauth2/v2.0/token", DelayMs: 2000, Count: 10}},
		}
		for _, ph := range phases {
			expireStoredAccessTokens(t, dbURL)
			if ph.fault != nil {
				emu.AddFault(*ph.fault)
			}
			calls, messages := emulatorTokenCalls(emu), len(emu.Messages())

			if failures := sendBurst(servers, tok, ph.n, ph.name); len(failures) > 0 {
				t.Errorf("%s: %d of %d sends failed, first: %s", ph.name, len(failures), ph.n, failures[0])
			}
			if got := settledEmulatorTokenCalls(emu, calls+1) - calls; got != 1 {
				t.Errorf("%s: token endpoint calls for %d sends over two processes = %d, want 1", ph.name, ph.n, got)
			}
			if got := len(emu.Messages()) - messages; got != ph.n {
				t.Errorf("%s: messages delivered = %d, want %d", ph.name, got, ph.n)
			}
			for _, server := range servers {
				r, err := postGraphQL(server, tok, `{ teamsIntegration { status expiredReason } }`, nil)
				if err != nil || !strings.Contains(string(r.Data), `"status":"CONNECTED"`) {
					t.Errorf("%s: teamsIntegration on %s = %v, %v; want CONNECTED", ph.name, server, r, err)
				}
			}
		}
	})
}

// restartApp builds a new app over the same configuration and database, as
// a restarted process would, and serves it on a new loopback server.
func restartApp(t *testing.T, s *stack) *stack {
	t.Helper()
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), s.app.cfg, newLogger(s.app.cfg, logs))
	if err != nil {
		t.Fatalf("newApp after restart: %v", err)
	}
	t.Cleanup(a.close)
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return &stack{t: t, app: a, server: srv, emulator: s.emulator, emuURL: s.emuURL, logs: logs, dbURL: s.dbURL}
}

// TestExpiredConnectionStaysQuiet revokes the user's grant at Microsoft: the
// next send expires the connection with PASSWORD_RESET, and after three
// restarts, a keep-alive sweep and two more sends, the dead refresh token
// has not been sent again.
func TestExpiredConnectionStaysQuiet(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("r-quiet", msemulator.DemoRecruiterUPN)
		s.connect(tok, msemulator.DemoRecruiterUPN)
		if err := s.emulator.RevokeUser(msemulator.DemoRecruiterID); err != nil {
			t.Fatalf("RevokeUser = %v", err)
		}
		expireStoredAccessTokens(t, dbURL)

		r := s.graphql(tok, lifecycleSend, map[string]any{"c": "after revocation"}, nil)
		if r.code() != "CONNECTION_EXPIRED" || r.Errors[0].Extensions["reason"] != "PASSWORD_RESET" {
			t.Fatalf("send after revocation = %+v, want CONNECTION_EXPIRED with reason PASSWORD_RESET", r.Errors)
		}
		calls := settledEmulatorTokenCalls(s.emulator, 2)

		for range 3 {
			s = restartApp(t, s)
		}
		if _, err := s.app.oauth.SweepIdle(context.Background(), oauth.KeepAliveConfig{IdleAfter: time.Nanosecond}); err != nil {
			t.Fatalf("SweepIdle = %v", err)
		}
		for i := range 2 {
			if r := s.graphql(tok, lifecycleSend, map[string]any{"c": "again"}, nil); r.code() != "CONNECTION_EXPIRED" {
				t.Errorf("send %d after restarts = %+v, want CONNECTION_EXPIRED", i, r.Errors)
			}
		}
		if n := emulatorTokenCalls(s.emulator) - calls; n != 0 {
			t.Errorf("token endpoint calls after the connection expired = %d, want 0", n)
		}

		var in struct {
			TeamsIntegration struct{ Status, ExpiredReason string }
		}
		s.graphql(tok, `{ teamsIntegration { status expiredReason } }`, nil, &in)
		if in.TeamsIntegration.Status != "EXPIRED" || in.TeamsIntegration.ExpiredReason != "PASSWORD_RESET" {
			t.Errorf("teamsIntegration = %+v, want EXPIRED with PASSWORD_RESET", in.TeamsIntegration)
		}
		if n := countRows(t, s, `SELECT COUNT(*) FROM connections WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL`); n != 0 {
			t.Errorf("rows with tokens after expiry = %d, want 0", n)
		}
	})
}

// TestStartKeepAlive runs the keep-alive wiring with an idle limit of one
// nanosecond, so every sweep refreshes the connection, and stops it.
func TestStartKeepAlive(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db", func(c *Config) {
		c.KeepAliveIdle = time.Nanosecond
		c.KeepAliveInterval = 20 * time.Millisecond
	})
	tok := s.token("r-keep", msemulator.DemoRecruiterUPN)
	s.connect(tok, msemulator.DemoRecruiterUPN)
	calls := settledEmulatorTokenCalls(s.emulator, 1)

	stop := s.app.startKeepAlive(context.Background())
	if got := settledEmulatorTokenCalls(s.emulator, calls+2); got < calls+2 {
		t.Errorf("token endpoint calls while the keep-alive ran = %d, want at least 2 sweeps' worth", got-calls)
	}
	stop()
	stop() // a second stop returns at once

	for _, line := range []string{"keep-alive started", "keep-alive sweep finished", "keep-alive stopped"} {
		if !strings.Contains(s.logs.String(), line) {
			t.Errorf("logs lack %q", line)
		}
	}
	var in struct{ TeamsIntegration struct{ Status string } }
	s.graphql(tok, `{ teamsIntegration { status } }`, nil, &in)
	if in.TeamsIntegration.Status != "CONNECTED" {
		t.Errorf("status after keep-alive refreshes = %q, want CONNECTED", in.TeamsIntegration.Status)
	}
}

func TestKeepAliveSettings(t *testing.T) {
	base := map[string]string{"WINTRO_MS_CLIENT_ID": "", "DATABASE_URL": "sqlite:/tmp/x.db"}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"custom", map[string]string{"WINTRO_KEEPALIVE_IDLE": "240h", "WINTRO_KEEPALIVE_INTERVAL": "10m", "WINTRO_KEEPALIVE_BATCH": "5"}, ""},
		{"zero interval", map[string]string{"WINTRO_KEEPALIVE_INTERVAL": "0s"}, "WINTRO_KEEPALIVE_INTERVAL must be a positive duration"},
		{"bad idle", map[string]string{"WINTRO_KEEPALIVE_IDLE": "two weeks"}, "WINTRO_KEEPALIVE_IDLE must be a positive duration"},
		{"bad batch", map[string]string{"WINTRO_KEEPALIVE_BATCH": "-1"}, "WINTRO_KEEPALIVE_BATCH must be a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(func(name string) string {
				if v, ok := tt.env[name]; ok {
					return v
				}
				return base[name]
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("loadConfig = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig = %v", err)
			}
			if tt.env == nil && (cfg.KeepAliveIdle != 14*24*time.Hour || cfg.KeepAliveInterval != time.Hour || cfg.KeepAliveBatch != 1000) {
				t.Errorf("defaults = %s, %s, %d; want 336h, 1h, 1000", cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveBatch)
			}
			if tt.env != nil && (cfg.KeepAliveIdle != 240*time.Hour || cfg.KeepAliveInterval != 10*time.Minute || cfg.KeepAliveBatch != 5) {
				t.Errorf("custom = %s, %s, %d; want 240h, 10m, 5", cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveBatch)
			}
		})
	}
}

// TestGraphRejectsAccessToken has Graph reject a token the service still
// holds as valid. A plain 401 InvalidAuthenticationToken costs concurrent
// sends one forced refresh in all, and each send is retried once. A claims
// challenge expires the connection without a refresh or a retry.
func TestGraphRejectsAccessToken(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("r-401", msemulator.DemoRecruiterUPN)
		s.connect(tok, msemulator.DemoRecruiterUPN)
		if r := s.graphql(tok, lifecycleSend, map[string]any{"c": "warm-up"}, nil); len(r.Errors) > 0 {
			t.Fatalf("warm-up send: %+v", r.Errors)
		}

		if err := s.emulator.ExpireAccessTokens(msemulator.DemoRecruiterID); err != nil {
			t.Fatalf("ExpireAccessTokens = %v", err)
		}
		calls, graphCalls := settledEmulatorTokenCalls(s.emulator, 1), graphRequestCount(s)
		if failures := sendBurst([]string{s.server.URL}, tok, 20, "after 401"); len(failures) > 0 {
			t.Fatalf("%d of 20 sends after a 401 failed, first: %s", len(failures), failures[0])
		}
		if got := settledEmulatorTokenCalls(s.emulator, calls+1) - calls; got != 1 {
			t.Errorf("token endpoint calls for 20 sends rejected with 401 = %d, want 1", got)
		}
		if got := settledGraphRequests(s, graphCalls+20) - graphCalls; got > 40 {
			t.Errorf("Graph requests for 20 sends = %d, want at most 40 (one retry each)", got)
		}

		if err := s.emulator.ChallengeAccessTokens(msemulator.DemoRecruiterID); err != nil {
			t.Fatalf("ChallengeAccessTokens = %v", err)
		}
		calls, graphCalls = emulatorTokenCalls(s.emulator), graphRequestCount(s)
		r := s.graphql(tok, lifecycleSend, map[string]any{"c": "after claims challenge"}, nil)
		if r.code() != "CONNECTION_EXPIRED" || r.Errors[0].Extensions["reason"] != "ACCESS_REVOKED" {
			t.Errorf("send after a claims challenge = %+v, want CONNECTION_EXPIRED with reason ACCESS_REVOKED", r.Errors)
		}
		if got := emulatorTokenCalls(s.emulator) - calls; got != 0 {
			t.Errorf("token endpoint calls after a claims challenge = %d, want 0", got)
		}
		if got := settledGraphRequests(s, graphCalls+1) - graphCalls; got != 1 {
			t.Errorf("Graph requests for a send after a claims challenge = %d, want 1", got)
		}
	})
}

// settledGraphRequests waits up to five seconds for the emulator's Graph
// request count to reach want, for the same reason as
// settledEmulatorTokenCalls, and returns it.
func settledGraphRequests(s *stack, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for graphRequestCount(s) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return graphRequestCount(s)
}
