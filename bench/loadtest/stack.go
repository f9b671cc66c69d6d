package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wintro/teams-messaging/msemulator"
)

// benchClientSecret is the client secret registered in the run's emulator.
const benchClientSecret = "bench-client-secret"

// stack is the service, the emulator and the database of one run.
type stack struct {
	cfg       *Config
	workDir   string
	serverURL string
	emuURL    string
	jwtSecret string
	dbURL     string // the service's DATABASE_URL; empty when targeting a server
	serverPID int    // 0 when unknown
	server    *process
	emulator  *process
	database  *benchDatabase
	proxy     *roundTripProxy // counts PostgreSQL round trips; roundtrips scenario only
	serverEnv []string
}

// startStack starts the emulator, creates the database and starts the
// service, or describes the server given by cfg.Target. close undoes it.
func startStack(ctx context.Context, cfg *Config, logf func(string, ...any)) (*stack, error) {
	if cfg.Target != "" {
		return &stack{cfg: cfg, serverURL: cfg.Target, emuURL: cfg.Emulator, jwtSecret: cfg.JWTSecret, serverPID: cfg.ServerPID}, nil
	}
	s := &stack{cfg: cfg, workDir: cfg.WorkDir, jwtSecret: randomText(32)}
	if err := s.prepare(ctx, logf); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *stack) prepare(ctx context.Context, logf func(string, ...any)) error {
	if s.workDir == "" {
		dir, err := os.MkdirTemp("", "wintro-loadtest-")
		if err != nil {
			return fmt.Errorf("create work folder: %w", err)
		}
		s.workDir = dir
	} else if err := os.MkdirAll(s.workDir, 0o700); err != nil {
		return fmt.Errorf("create work folder: %w", err)
	}
	bin := s.cfg.ServerBin
	if bin == "" {
		logf("building the service in %s", s.cfg.ModuleRoot)
		var err error
		if bin, err = buildServer(ctx, s.cfg.ModuleRoot, s.workDir); err != nil {
			return err
		}
	}
	serverPort, err := freePort()
	if err != nil {
		return err
	}
	s.serverURL = "http://127.0.0.1:" + strconv.Itoa(serverPort)

	if err := s.startEmulator(ctx, bin); err != nil {
		return err
	}
	if err := s.openDatabase(ctx, logf); err != nil {
		return err
	}
	s.serverEnv = s.environment(serverPort)
	return s.startServer(ctx, bin)
}

func (s *stack) startEmulator(ctx context.Context, bin string) error {
	logPath := filepath.Join(s.workDir, "emulator.log")
	args := []string{"emulator", "--addr", "127.0.0.1:0", "--client-id", msemulator.DevClientID,
		"--client-secret", benchClientSecret, "--redirect-uri", s.serverURL + "/oauth/callback"}
	p, err := start("emulator", bin, args, os.Environ(), logPath)
	if err != nil {
		return err
	}
	s.emulator = p
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr, err := readEmulatorAddr(wctx, p, logPath)
	if err != nil {
		return err
	}
	s.emuURL = "http://" + addr
	return nil
}

func (s *stack) openDatabase(ctx context.Context, logf func(string, ...any)) error {
	if s.cfg.DB == "sqlite" {
		s.dbURL = "sqlite:" + filepath.Join(s.workDir, "bench.db")
		return nil
	}
	d, err := createDatabase(ctx, s.cfg.PostgresURL)
	if err != nil {
		return err
	}
	s.database = d
	s.dbURL = d.url
	if s.cfg.PostgresParams != "" {
		s.dbURL += "&" + s.cfg.PostgresParams
	}
	logf("created PostgreSQL database %s", d.name)
	if s.cfg.Scenario != "roundtrips" {
		return nil
	}

	// Route the service's connections through the counting proxy.
	u, err := url.Parse(s.dbURL)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	upstream := u.Host
	if u.Port() == "" {
		upstream = net.JoinHostPort(u.Hostname(), "5432")
	}
	if s.proxy, err = startRoundTripProxy(upstream); err != nil {
		return err
	}
	s.dbURL, err = s.proxy.rewrite(s.dbURL)
	return err
}

// environment is the service's configuration for the run.
func (s *stack) environment(port int) []string {
	env := map[string]string{
		"PATH":                    os.Getenv("PATH"),
		"DATABASE_URL":            s.dbURL,
		"WINTRO_LISTEN_ADDR":      "127.0.0.1:" + strconv.Itoa(port),
		"WINTRO_PUBLIC_URL":       s.serverURL,
		"WINTRO_APP_URL":          "http://app.wintro.test",
		"WINTRO_MS_CLIENT_ID":     msemulator.DevClientID,
		"WINTRO_MS_CLIENT_SECRET": benchClientSecret,
		"WINTRO_MS_AUTHORITY":     s.emuURL,
		"WINTRO_MS_GRAPH_URL":     s.emuURL + "/v1.0",
		"WINTRO_VAULT_KEYS":       "bench:" + base64.StdEncoding.EncodeToString(randomBytes(32)),
		"WINTRO_AUTH_JWT_SECRET":  s.jwtSecret,
		"WINTRO_SEND_RATE":        "1000000",
		"WINTRO_SEND_BURST":       "1000000",
		"WINTRO_LOG_LEVEL":        s.cfg.ServerLogLvl,
		"WINTRO_LOG_FORMAT":       "json",
	}
	if s.cfg.DBMaxConns > 0 {
		env["WINTRO_DB_MAX_CONNS"] = strconv.Itoa(s.cfg.DBMaxConns)
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startServer starts the service and waits until /readyz returns 200.
func (s *stack) startServer(ctx context.Context, bin string) error {
	p, err := start("server", bin, []string{"serve"}, s.serverEnv, filepath.Join(s.workDir, "server.log"))
	if err != nil {
		return err
	}
	s.server, s.serverPID = p, p.pid()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return waitReady(wctx, p, s.serverURL+"/readyz")
}

// close stops the processes and drops the database.
func (s *stack) close() {
	s.server.stop(30 * time.Second)
	s.emulator.stop(5 * time.Second)
	if s.proxy != nil {
		s.proxy.close()
	}
	if s.database != nil {
		s.database.drop()
	}
	if s.cfg.WorkDir == "" && s.workDir != "" {
		os.RemoveAll(s.workDir)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomText(n int) string {
	return hex.EncodeToString(randomBytes(n))[:n]
}
