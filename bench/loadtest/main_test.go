package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db/dbtest"
)

// The smoke tests check that the harness drives every operation correctly
// and counts the requests the emulator receives. They assert counts, never timings: figures
// belong in BENCHMARKS.md.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// serverBinary builds the service once for all tests of the package.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wintro-loadtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		builtBin, buildErr = buildServer(ctx, filepath.Join("..", ".."), dir)
	})
	if buildErr != nil {
		t.Fatalf("buildServer() error = %v", buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// smokeConfig is a small run that stops after a count of operations.
func smokeConfig(t *testing.T, dialect string) *Config {
	t.Helper()
	cfg := &Config{
		ServerBin: serverBinary(t), DB: dialect, Recruiters: 4, Known: 3, Colleagues: 60,
		Idempotency: true, ByEmail: true, Concurrency: 8, Requests: 300, ServerLogLvl: "warn",
		Scenario: "load", StormSends: 50, FillTokenBytes: 200, Quiet: true,
	}
	if dialect == "postgres" {
		cfg.PostgresURL = postgresURL(t)
	}
	return cfg
}

// postgresURL returns TEST_DATABASE_URL or skips the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(dbtest.EnvURL)
	if u == "" {
		t.Skipf("%s is not set; skipping the PostgreSQL run of the harness", dbtest.EnvURL)
	}
	return u
}

func forEachDB(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

func TestLoadSmokeMixedOperations(t *testing.T) {
	forEachDB(t, func(t *testing.T, dialect string) {
		cfg := smokeConfig(t, dialect)
		cfg.Mix = map[string]int{opSendKnown: 5, opSendNew: 2, opIntegration: 1, opSearch: 1, opDirect: 1}
		cfg.FillConnections = 500

		r, err := runLoad(context.Background(), cfg, t.Logf)
		if err != nil {
			t.Fatalf("runLoad() error = %v", err)
		}
		if r.Total != cfg.Requests || r.TotalErrors != 0 {
			t.Fatalf("runLoad() = %d ok, %d errors (%v), want %d ok and no error", r.Total, r.TotalErrors, r.ErrorSamples, cfg.Requests)
		}
		for kind := range cfg.Mix {
			if r.Kinds[kind].OK == 0 {
				t.Errorf("operation %s ran 0 times, want some", kind)
			}
		}
		posts := r.Kinds[opSendKnown].OK + r.Kinds[opSendNew].OK + r.Kinds[opDirect].OK
		if got := r.GraphRequests["POST /v1.0/chats/{id}/messages 201"]; got != posts {
			t.Errorf("message POSTs seen by the emulator = %d, want %d (sends plus direct posts)", got, posts)
		}
		if got := r.GraphRequests["POST /v1.0/chats 201"]; got != r.Kinds[opSendNew].OK {
			t.Errorf("chats created = %d, want %d, one per send_new", got, r.Kinds[opSendNew].OK)
		}
		if r.ServerPeakRSS <= 0 {
			t.Errorf("ServerPeakRSS = %d, want a positive figure", r.ServerPeakRSS)
		}
	})
}

func TestLoadSmokeKnownRecipientsOneGraphRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, dialect string) {
		cfg := smokeConfig(t, dialect)
		cfg.Mix = map[string]int{opSendKnown: 1}
		cfg.Requests = 200

		r, err := runLoad(context.Background(), cfg, t.Logf)
		if err != nil {
			t.Fatalf("runLoad() error = %v", err)
		}
		if r.Total != cfg.Requests || r.TotalErrors != 0 {
			t.Fatalf("runLoad() = %d ok, %d errors (%v), want %d ok and no error", r.Total, r.TotalErrors, r.ErrorSamples, cfg.Requests)
		}
		if r.GraphPerSend != 1 {
			t.Errorf("GraphPerSend = %v (%v), want 1 for known recipients", r.GraphPerSend, r.GraphRequests)
		}
		if r.TokenCalls != 0 {
			t.Errorf("TokenCalls = %d, want 0 with fresh tokens", r.TokenCalls)
		}
	})
}

func TestRefreshStormSmoke(t *testing.T) {
	forEachDB(t, func(t *testing.T, dialect string) {
		cfg := smokeConfig(t, dialect)
		cfg.Scenario = "refresh-storm"

		r, err := runStorm(context.Background(), cfg, t.Logf)
		if err != nil {
			t.Fatalf("runStorm() error = %v", err)
		}
		if len(r.Phases) != 2 {
			t.Fatalf("runStorm() returned %d phases, want 2", len(r.Phases))
		}
		for _, p := range r.Phases {
			if p.OK != cfg.StormSends || len(p.Errors) != 0 {
				t.Errorf("%s: %d ok, errors %v, want %d ok and none", p.Name, p.OK, p.Errors, cfg.StormSends)
			}
			if p.TokenCalls != 1 {
				t.Errorf("%s: token endpoint calls = %d, want 1", p.Name, p.TokenCalls)
			}
		}
	})
}

// TestRoundTripsKnownSend counts the PostgreSQL round trips of sends to
// known recipients. With an idempotency key they are the connection read,
// which claims the key, and the outcome write. Without one, they are the
// connection read and the cache read. Recording a connection's last use
// may add one round trip per recruiter.
func TestRoundTripsKnownSend(t *testing.T) {
	cfg := smokeConfig(t, "postgres")
	cfg.Scenario = "roundtrips"
	cfg.Requests = 40

	r, err := runRoundTrips(context.Background(), cfg, t.Logf)
	if err != nil {
		t.Fatalf("runRoundTrips() error = %v", err)
	}
	seen := 0
	for _, row := range r.Rows {
		if row.Errors != 0 || row.Operations != cfg.Requests {
			t.Errorf("%s: %d ok, %d errors, want %d ok and none", row.Case, row.Operations, row.Errors, cfg.Requests)
		}
		if !strings.HasPrefix(row.Case, opSendKnown+",") {
			continue
		}
		seen++
		limit := float64(2*cfg.Requests+cfg.Recruiters) / float64(cfg.Requests)
		if row.DBRoundTrips > limit {
			t.Errorf("%s: %.3f database round trips per send, want at most 2 (%.3f with the last-use writes)",
				row.Case, row.DBRoundTrips, limit)
		}
		if row.GraphRequests != 1 {
			t.Errorf("%s: %.3f Graph requests per send, want 1", row.Case, row.GraphRequests)
		}
	}
	if seen != 4 {
		t.Errorf("the report has %d send_known cases, want 4", seen)
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]int
		wantErr  bool
	}{
		{"default", defaultMix, map[string]int{opSendKnown: 85, opSendNew: 5, opIntegration: 5, opSearch: 5}, false},
		{"spaces", " send_known=1 , direct=2 ", map[string]int{opSendKnown: 1, opDirect: 2}, false},
		{"unknown kind", "send=1", nil, true},
		{"negative", "send_known=-1", nil, true},
		{"all zero", "send_known=0", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMix(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMix(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && mixString(got) != mixString(tt.want) {
				t.Errorf("parseMix(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.3.2.1", true},
		{"http://[::1]:5432", true},
		{"postgres://postgres@localhost:5432/test", true},
		{"http://192.168.1.10:8080", false},
		{"http://example.test", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		if got := isLoopbackURL(tt.url); got != tt.want {
			t.Errorf("isLoopbackURL(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestHelpAndBadFlags(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"--help"}, io.Discard, &out); code != 0 {
		t.Errorf("run(--help) = %d, want 0", code)
	}
	if !strings.Contains(out.String(), "refresh-storm") || !strings.Contains(out.String(), "-pg-url") {
		t.Errorf("--help output lacks the scenarios or the flags:\n%s", out.String())
	}

	out.Reset()
	if code := run([]string{"--scenario", "bogus"}, io.Discard, &out); code != 2 {
		t.Errorf("run(--scenario bogus) = %d, want 2", code)
	}
	if !strings.Contains(out.String(), `--scenario "bogus" is unknown`) {
		t.Errorf("run(--scenario bogus) printed %q, want the unknown scenario named", out.String())
	}
}
