// Command loadtest measures the Wintro Teams service under load. It starts
// the Microsoft emulator and the service as separate processes on loopback,
// or targets a running server with --target. It creates a PostgreSQL
// database of its own (or a SQLite file) and connects recruiters through
// the real connect flow. Then it drives a mix of sendTeamsMessage,
// teamsIntegration and searchColleagues at a fixed rate or at maximum, for
// a fixed duration or a fixed count of operations.
// It reports throughput, latency percentiles, errors by code, Graph requests
// per message, token endpoint calls and the server's peak RSS, then stops
// what it started and drops its database.
//
// Scenarios: load (the default), refresh-storm (concurrent sends on an
// expired access token), roundtrips (PostgreSQL network round trips per
// operation) and sweep (cost of the keep-alive claim query).
//
// Run it from the repository root:
//
//	go run ./bench/loadtest --db postgres --rate 1000 --duration 30s
//	go run ./bench/loadtest --help
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the scenario and prints the report; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, jsonOut, err := parseFlags(args, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	// The whole run, setup and teardown included, ends by itself.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+cfg.Warmup+30*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	logf := func(format string, a ...any) {
		if !cfg.Quiet {
			fmt.Fprintf(stderr, "loadtest: "+format+"\n", a...)
		}
	}
	out, err := runScenario(ctx, cfg, logf)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		out.print(stdout)
	}
	return 0
}

// printer is a scenario's result.
type printer interface{ print(w io.Writer) }

func runScenario(ctx context.Context, cfg *Config, logf func(string, ...any)) (printer, error) {
	switch cfg.Scenario {
	case "load":
		return runLoad(ctx, cfg, logf)
	case "refresh-storm":
		return runStorm(ctx, cfg, logf)
	case "roundtrips":
		return runRoundTrips(ctx, cfg, logf)
	case "sweep":
		return runSweep(ctx, cfg, logf)
	}
	// validate has rejected every other name.
	return nil, fmt.Errorf("unknown scenario %q", cfg.Scenario)
}

// helpText is printed before the flags by --help.
const helpText = `Usage: go run ./bench/loadtest [flags]

Measures the Wintro Teams service under load, on loopback only, and stops by itself.

Scenarios (--scenario):
  load           drives --mix at --rate (or at maximum with --concurrency workers) for
                 --duration after --warmup, or for --requests operations
  refresh-storm  sends --storm-sends messages at once on an expired access token, then on
                 a token Graph rejects, and counts the token endpoint calls
  roundtrips     sends each kind of operation one at a time, --requests per case (default
                 200), through a proxy that counts PostgreSQL round trips (--db postgres only)
  sweep          times the keep-alive claim query on a table filled with --fill-connections

Operations of --mix (load only), as kind=weight pairs; weights are relative:
  send_known     sendTeamsMessage to a colleague the recruiter messaged during setup
  send_new       sendTeamsMessage to a colleague never messaged (creates the chat)
  integration    the teamsIntegration query
  search         the searchColleagues query
  direct         the message POST sent by the harness straight to the emulator, for comparison
--rate, --concurrency, --duration and --warmup apply to load; --requests to load and roundtrips.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (*Config, bool, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, helpText)
		fs.PrintDefaults()
	}
	cfg := &Config{}
	addStackFlags(fs, cfg)
	addLoadFlags(fs, cfg)
	mix := fs.String("mix", defaultMix, fmt.Sprintf("operation weights as kind=weight,…; kinds: %s", strings.Join(opKinds, ", ")))
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}

	m, err := parseMix(*mix)
	if err != nil {
		return nil, false, err
	}
	cfg.Mix = m
	return cfg, *jsonOut, cfg.validate()
}

// addStackFlags defines the flags of the processes and the database.
func addStackFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Scenario, "scenario", "load", "load, refresh-storm, roundtrips or sweep")
	fs.StringVar(&cfg.DB, "db", "postgres", "database of the service: postgres or sqlite (with --target: only the report's label)")
	fs.StringVar(&cfg.PostgresURL, "pg-url", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL URL used to create and drop the run's own database (loopback only); defaults to TEST_DATABASE_URL when set")
	fs.StringVar(&cfg.PostgresParams, "pg-params", "", "extra query parameters of the service's DATABASE_URL, such as binary_parameters=yes")
	fs.IntVar(&cfg.DBMaxConns, "db-max-conns", 0, "WINTRO_DB_MAX_CONNS of the service; 0 keeps its default")
	fs.IntVar(&cfg.FillConnections, "fill-connections", 0, "extra CONNECTED rows inserted into connections before the run")
	fs.IntVar(&cfg.FillTokenBytes, "fill-token-bytes", 1500, "size in bytes of each filler token ciphertext")
	fs.IntVar(&cfg.LatencyMs, "latency", 0, "milliseconds the emulator adds to every Graph request")
	fs.StringVar(&cfg.ServerLogLvl, "server-log-level", "info", "WINTRO_LOG_LEVEL of the service")
	fs.StringVar(&cfg.ServerBin, "server-bin", "", "wintro-teams binary; empty builds it from --module-root")
	fs.StringVar(&cfg.ModuleRoot, "module-root", ".", "repository root to build the service from")
	fs.StringVar(&cfg.WorkDir, "workdir", "", "folder kept for the binary, logs and SQLite file; empty uses a temporary one")
	fs.StringVar(&cfg.Target, "target", "", "URL of a running service to load instead of starting one (loopback only)")
	fs.StringVar(&cfg.Emulator, "emulator", "", "with --target: base URL of the emulator that service uses")
	fs.StringVar(&cfg.JWTSecret, "jwt-secret", "", "with --target: the service's WINTRO_AUTH_JWT_SECRET")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "with --target: process id of the service, for RSS and CPU")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no progress lines")
}

// addLoadFlags defines the flags of the population and the load.
func addLoadFlags(fs *flag.FlagSet, cfg *Config) {
	fs.IntVar(&cfg.Recruiters, "recruiters", 50, "recruiters connected through the connect flow")
	fs.IntVar(&cfg.Known, "known", 4, "colleagues each recruiter messages during setup (known recipients)")
	fs.IntVar(&cfg.Colleagues, "colleagues", 200, "colleagues in the emulator's directory")
	fs.BoolVar(&cfg.ByEmail, "by-email", true, "address sends by recipientEmail (false: by recipientId)")
	fs.BoolVar(&cfg.Idempotency, "idempotency", true, "give every send a fresh idempotency key")
	fs.Float64Var(&cfg.Rate, "rate", 0, "operations per second; 0 runs at maximum with --concurrency workers")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "workers at maximum rate; in-flight cap at a fixed rate")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measured window")
	fs.IntVar(&cfg.Requests, "requests", 0, "load: stop after this many measured operations (0: no limit); roundtrips: operations per case (0: 200)")
	fs.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "unmeasured load before the window")
	fs.IntVar(&cfg.StormSends, "storm-sends", 1000, "concurrent sends of the refresh storm")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
