// Command wintro-teams is the Wintro Teams messaging service: a GraphQL API
// that lets a recruiter connect their Microsoft 365 account and send
// Microsoft Teams 1:1 chat messages as themselves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/teams"
	"github.com/wintro/teams-messaging/vault"
)

// Build information, set with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

// buildCommit returns the commit set with -ldflags, or else the one the Go
// toolchain recorded when it built from a git checkout.
func buildCommit() string {
	if commit != "unknown" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return commit
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return commit
	}
	if dirty {
		rev += "+modified"
	}
	return rev
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv))
}

// run dispatches the subcommand and returns the exit code.
func run(args []string, getenv func(string) string) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	// serve and version take no arguments: anything else is a mistake, not
	// something to ignore. emulator and rotate-keys parse their own flags,
	// and their --help lists them.
	if cmd == "serve" || cmd == "help" || cmd == "version" {
		for _, a := range args {
			if a == "-h" || a == "--help" || a == "-help" {
				printHelp(os.Stdout)
				return 0
			}
		}
		if len(args) > 0 && cmd != "help" {
			fmt.Fprintf(os.Stderr, "%s takes no arguments (got %q); configure it with environment variables, listed by --help\n", cmd, args)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, getenv)
	case "emulator":
		err = runEmulator(ctx, args)
	case "migrate":
		err = migrate(ctx, getenv)
	case "rotate-keys":
		err = rotateKeys(ctx, getenv, args)
	case "version":
		fmt.Printf("wintro-teams %s (commit %s)\n", version, buildCommit())
	case "help":
		printHelp(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q; run with --help to list commands and settings\n", cmd)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wintro-teams:", err)
		return 1
	}
	return 0
}

// app is the wired service: everything serve needs, built once.
type app struct {
	cfg     *Config
	log     *slog.Logger
	metrics *metrics
	db      *db.DB
	// outcomeDB writes send outcomes with synchronous_commit off (PostgreSQL only).
	outcomeDB *db.DB
	keys      *vault.Keyring
	store     *vault.Store
	verifier  *identity.Verifier
	oauth     *oauth.Service
	teams     *teams.Service
	emulator  *msemulator.Emulator // dev mode only
	devToken  string               // dev mode only
}

// newApp opens the database, migrates it and builds the services.
func newApp(ctx context.Context, cfg *Config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, metrics: newMetrics()}
	if cfg.DevMode {
		if err := a.prepareDevMode(); err != nil {
			return nil, fmt.Errorf("dev mode: %w", err)
		}
	}

	keys, err := vault.ParseKeyring(cfg.VaultKeys)
	if err != nil {
		return nil, fmt.Errorf("WINTRO_VAULT_KEYS: %w", err)
	}
	a.keys = keys
	if err := a.openDatabase(ctx); err != nil {
		return nil, err
	}
	a.store = vault.NewStore(a.db, keys, time.Now)
	a.store.OnDecryptFailure = func(connectionID string, err error) {
		log.Error("stored token failed to decrypt; connection marked expired (KEY_UNAVAILABLE)", "connection_id", connectionID, "error", err)
		a.metrics.vaultDecryptFailures.Inc()
	}
	a.metrics.registry.MustRegister(newConnectionsCollector(a.store))

	if err := a.buildServices(ctx); err != nil {
		a.db.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) openDatabase(ctx context.Context) error {
	d, err := db.OpenWith(ctx, a.cfg.DatabaseURL, db.Options{MaxOpenConns: a.cfg.DBMaxConns})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return fmt.Errorf("migrate database: %w", err)
	}
	a.db = d
	if d.Dialect == db.Postgres {
		// Send outcomes are written without waiting for the WAL flush: see
		// teams.Config.OutcomeDB for why losing one in a crash is safe.
		// One goroutine writes the outcomes, in batches, so at most one
		// statement runs on this pool at a time: two connections are plenty.
		outcome, err := db.OpenWith(ctx, withQueryParam(a.cfg.DatabaseURL, "synchronous_commit", "off"), db.Options{MaxOpenConns: 2})
		if err != nil {
			d.Close()
			return fmt.Errorf("open database for send outcomes: %w", err)
		}
		a.outcomeDB = outcome
	}
	return nil
}

// withQueryParam returns rawURL with the query parameter key set to value.
func withQueryParam(rawURL, key, value string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func (a *app) buildServices(ctx context.Context) error {
	cfg := a.cfg
	verifier, err := identity.NewVerifier(ctx, identity.Config{
		HS256Secret: []byte(cfg.JWTSecret), JWKSURL: cfg.JWKSURL, Issuer: cfg.Issuer, Audience: cfg.Audience,
	})
	if err != nil {
		return fmt.Errorf("caller token verification: %w", err)
	}
	a.verifier = verifier

	// No client-wide timeout: msgraph bounds each attempt, and oauth each
	// token call, with their own deadlines.
	httpClient := &http.Client{Transport: newTransport()}
	graphClient, err := msgraph.New(msgraph.Options{BaseURL: cfg.GraphURL, HTTPClient: httpClient, OnRequest: a.metrics.observeGraph})
	if err != nil {
		return fmt.Errorf("graph client: %w", err)
	}
	a.oauth, err = oauth.New(oauth.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Tenant: cfg.Tenant, AuthorityURL: cfg.Authority,
		RedirectURL: cfg.PublicURL + "/oauth/callback", AppURL: cfg.AppURL, HTTPClient: httpClient, Logger: a.log,
		OnRefresh: a.metrics.observeRefresh,
	}, a.store, a.keys)
	if err != nil {
		return err
	}
	a.teams, err = teams.New(teams.Config{
		Graph: graphClient, Tokens: a.oauth, DB: a.db, OutcomeDB: a.outcomeDB, RateLimit: cfg.SendRate, RateBurst: cfg.SendBurst,
		OnError: func(op string, err error) { a.log.Error("messaging: "+op+" failed", "error", err) },
	})
	return err
}

func (a *app) close() {
	if a.verifier != nil {
		a.verifier.Close()
	}
	if a.outcomeDB != nil {
		a.outcomeDB.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

// serve runs the HTTP server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	defer a.startKeepAlive(ctx)()
	defer a.startMaintenance(ctx)()

	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Above a send's bound (teams.DefaultSendTimeout plus the outcome
		// write), so a slow send's response is still delivered.
		WriteTimeout:   90 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	a.announce()

	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func (a *app) announce() {
	a.log.Info("wintro-teams listening", "addr", a.cfg.ListenAddr, "public_url", a.cfg.PublicURL,
		"database", a.db.Dialect, "version", version, "commit", buildCommit(), "dev_mode", a.cfg.DevMode)
	if a.cfg.DevMode {
		a.announceDevMode()
	}
	if a.cfg.Production && a.cfg.MetricsToken == "" {
		a.log.Warn("GET /metrics needs no authentication; set WINTRO_METRICS_TOKEN, or keep /metrics off the public load balancer")
	}
}

func migrate(ctx context.Context, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	d, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxOpenConns: 2})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	if err := d.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Println("migrations applied")
	return nil
}

// newTransport returns the HTTP transport for Microsoft: kept-alive
// connections, enough idle ones per host for a busy replica.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return t
}
