package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db/dbtest"
)

// tcpProxy forwards loopback connections to a target and can be stopped and
// started again on the same address, to play a database going away.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go p.accept(ln)
}

func (p *tcpProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// stop closes the listener and cuts every open connection.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restart() { p.listen(p.addr) }

func TestReadyzFollowsDatabase(t *testing.T) {
	dbURL := dbtest.URL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr
	s := startStack(t, u.String())

	ready := func() int {
		res, err := http.Get(s.server.URL + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz with the database up = %d, want 200", got)
	}

	proxy.stop()
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database gone = %d, want 503", got)
	}
	res, err := http.Get(s.server.URL + "/readyz")
	if err == nil {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), `"failing":"database"`) || strings.Contains(string(body), proxy.addr) {
			t.Errorf("readyz body %s, want the failing check named and no address", body)
		}
	}

	proxy.restart()
	deadline := time.Now().Add(10 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("readyz did not return to 200 after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var in integrationData
	if r := s.graphql(s.token("r-1", ""), integrationQuery, nil, &in); len(r.Errors) > 0 {
		t.Errorf("query after the database came back: %+v", r.Errors)
	}
}

func TestHealthzAndHelp(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	res, err := http.Get(s.server.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "ok") {
		t.Errorf("healthz = %d %s, want 200 ok", res.StatusCode, body)
	}

	var help bytes.Buffer
	printHelp(&help)
	for _, st := range settings {
		if !strings.Contains(help.String(), st.name) {
			t.Errorf("--help does not list %s", st.name)
		}
	}
	for _, name := range []string{"DATABASE_URL", "WINTRO_VAULT_KEYS", "WINTRO_MS_CLIENT_ID", "WINTRO_INTERNAL_TOKEN"} {
		if !strings.Contains(help.String(), name) {
			t.Errorf("--help does not list %s", name)
		}
	}
}

func TestCommandLineArguments(t *testing.T) {
	env := func(string) string { return "" }
	if code := run([]string{"serve", "--bogus"}, env); code != 2 {
		t.Errorf("serve --bogus = exit %d, want 2", code)
	}
	if code := run([]string{"frobnicate"}, env); code != 2 {
		t.Errorf("unknown command = exit %d, want 2", code)
	}
	if code := run([]string{"emulator", "--help"}, env); code != 0 {
		t.Errorf("emulator --help = exit %d, want 0", code)
	}
	if code := run([]string{"version"}, env); code != 0 {
		t.Errorf("version = exit %d, want 0", code)
	}
}

func TestDevModeListensOnLoopback(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DevMode || cfg.ListenAddr != "127.0.0.1:8080" {
		t.Errorf("dev mode %t listens on %q, want 127.0.0.1:8080", cfg.DevMode, cfg.ListenAddr)
	}
	cfg, err = loadConfig(func(k string) string {
		return map[string]string{"WINTRO_MS_CLIENT_ID": "x", "WINTRO_MS_CLIENT_SECRET": "y", "WINTRO_VAULT_KEYS": "k:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "WINTRO_AUTH_JWT_SECRET": testJWTSecret, "WINTRO_APP_URL": "http://app.test"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != ":8080" {
		t.Errorf("configured mode listens on %q, want :8080", cfg.ListenAddr)
	}
}

func TestOutcomePoolCommitsAsynchronously(t *testing.T) {
	s := startStack(t, dbtest.URL(t))
	var main, outcome string
	if err := s.app.db.Get(&main, "SHOW synchronous_commit"); err != nil {
		t.Fatal(err)
	}
	if s.app.outcomeDB == nil {
		t.Fatal("no outcome pool on PostgreSQL")
	}
	if err := s.app.outcomeDB.Get(&outcome, "SHOW synchronous_commit"); err != nil {
		t.Fatal(err)
	}
	if main != "on" || outcome != "off" {
		t.Errorf("synchronous_commit: main pool %q, outcome pool %q; want on and off", main, outcome)
	}
}
