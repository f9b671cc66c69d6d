package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
)

var (
	opsBinaryOnce sync.Once
	opsBinaryPath string
	opsBinaryErr  error
)

// TestMain removes the binary opsBinary built, once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if opsBinaryPath != "" {
		os.RemoveAll(filepath.Dir(opsBinaryPath))
	}
	os.Exit(code)
}

// opsBinary builds the service once per test run.
func opsBinary(t *testing.T) string {
	t.Helper()
	opsBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wintro-ops-bin")
		if err != nil {
			opsBinaryErr = err
			return
		}
		opsBinaryPath = filepath.Join(dir, "wintro-teams")
		out, err := exec.Command("go", "build", "-o", opsBinaryPath, ".").CombinedOutput()
		if err != nil {
			opsBinaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if opsBinaryErr != nil {
		t.Fatalf("build service: %v", opsBinaryErr)
	}
	return opsBinaryPath
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSIGTERMDuringSends sends SIGTERM to a server process while 50 sends
// wait on a slow Graph: each send must either complete and be recorded, or
// fail with a clear error, and none may stay half-recorded.
func TestSIGTERMDuringSends(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	forEachDialect(t, testSIGTERMDuringSends)
}

func testSIGTERMDuringSends(t *testing.T, dbURL string) {
	addr := freeLoopbackAddr(t)
	publicURL := "http://" + addr

	emu, emuServer := testkit.Emulator(t, "test-client-secret", publicURL+"/oauth/callback")

	cmd := exec.Command(opsBinary(t), "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+dbURL, "WINTRO_LISTEN_ADDR="+addr, "WINTRO_PUBLIC_URL="+publicURL, "WINTRO_APP_URL=http://app.wintro.test",
		"WINTRO_MS_CLIENT_ID="+msemulator.DevClientID, "WINTRO_MS_CLIENT_SECRET=test-client-secret",
		"WINTRO_MS_AUTHORITY="+emuServer.URL, "WINTRO_MS_GRAPH_URL="+emuServer.URL+"/v1.0",
		"WINTRO_VAULT_KEYS=k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "WINTRO_AUTH_JWT_SECRET="+testJWTSecret,
		"WINTRO_SEND_RATE=1000", "WINTRO_SEND_BURST=1000", "WINTRO_SHUTDOWN_TIMEOUT=20s")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	waitHealthy(t, publicURL, exited, logs)

	s := &stack{t: t, server: &httptest.Server{URL: publicURL}, emulator: emu, emuURL: emuServer.URL, logs: logs}
	tok := s.token("r-term", msemulator.DemoRecruiterUPN)
	s.connect(tok, msemulator.DemoRecruiterUPN)
	send := `mutation($k: String!) { sendTeamsMessage(input: {recipientEmail: "ada@contoso.test", content: "hello", idempotencyKey: $k}) { message { id } } }`
	if r := s.graphql(tok, send, map[string]any{"k": "warm-up"}, nil); len(r.Errors) > 0 {
		t.Fatalf("warm-up send: %+v", r.Errors)
	}
	emu.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: "/v1.0/chats/", DelayMs: 1500, Count: 50})

	type outcome struct {
		ok   bool
		code string
		err  error
	}
	results := make([]outcome, 50)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					results[i] = outcome{err: fmt.Errorf("%v", p)}
				}
			}()
			r := s.graphql(tok, send, map[string]any{"k": fmt.Sprintf("k-%d", i)}, nil)
			results[i] = outcome{ok: len(r.Errors) == 0, code: r.code()}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exit: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit within 30 s of SIGTERM")
	}

	d, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var pending, sent int
	d.Get(&pending, `SELECT COUNT(*) FROM sent_messages WHERE status = 'pending'`)
	d.Get(&sent, `SELECT COUNT(*) FROM sent_messages WHERE status = 'sent' AND idempotency_key LIKE 'k-%'`)
	succeeded := 0
	for i, r := range results {
		switch {
		case r.ok:
			succeeded++
		case r.code == "" && r.err == nil:
			t.Errorf("send %d failed without an error code", i)
		}
	}
	if pending != 0 {
		t.Errorf("%d sends left pending (half-recorded), want 0", pending)
	}
	if sent != succeeded {
		t.Errorf("sent records = %d, successful responses = %d; want equal", sent, succeeded)
	}
	if got := len(emu.Messages()) - 1; got != sent {
		t.Errorf("emulator holds %d messages from the burst, records say %d", got, sent)
	}
	if succeeded == 0 {
		t.Errorf("no in-flight send completed; graceful shutdown should let them finish")
	}
}

func waitHealthy(t *testing.T, base string, exited <-chan error, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("server exited at start: %v\n%s", err, logs.String())
		default:
		}
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not healthy after 30 s\n%s", logs.String())
}
