package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Operation kinds of the mix.
const (
	opSendKnown   = "send_known"  // sendTeamsMessage to a colleague the recruiter already messaged
	opSendNew     = "send_new"    // sendTeamsMessage to a colleague the recruiter never messaged
	opIntegration = "integration" // teamsIntegration query
	opSearch      = "search"      // searchColleagues query
	opDirect      = "direct"      // POST /chats/{id}/messages straight to the emulator, no service in between
)

var opKinds = []string{opSendKnown, opSendNew, opIntegration, opSearch, opDirect}

// Config is one run of the harness.
type Config struct {
	// ServerBin is the wintro-teams binary; empty builds it from the module root.
	ServerBin string
	// ModuleRoot is the repository root that ServerBin is built from.
	ModuleRoot string
	// WorkDir keeps the binary, the SQLite file and the logs; empty means a temporary folder.
	WorkDir string

	// DB is "postgres" or "sqlite".
	DB string
	// PostgresURL is an existing database used only to create and drop the run's own database.
	PostgresURL string
	// PostgresParams are extra query parameters of the run's DATABASE_URL, such as binary_parameters=yes.
	PostgresParams string
	// DBMaxConns is WINTRO_DB_MAX_CONNS of the server; 0 keeps the server's default.
	DBMaxConns int
	// FillConnections inserts this many extra CONNECTED rows into connections before the run.
	FillConnections int
	// FillTokenBytes is the size of each filler token ciphertext.
	FillTokenBytes int

	Recruiters int // recruiters connected through the real connect flow
	Known      int // colleagues each recruiter messages during setup
	Colleagues int // colleagues added to the directory

	Mix          map[string]int // weight of each operation kind
	ByEmail      bool           // address sends by recipientEmail (else recipientId)
	Idempotency  bool           // give every send a fresh idempotency key
	Rate         float64        // operations per second; 0 runs closed-loop at maximum
	Concurrency  int            // workers at maximum rate, in-flight cap at a fixed rate
	Duration     time.Duration  // measured window
	Requests     int            // stop after this many measured operations; 0 means no count limit
	Warmup       time.Duration  // unmeasured load before the window
	LatencyMs    int            // added Graph latency in the emulator
	ServerLogLvl string         // WINTRO_LOG_LEVEL of the server

	// Scenario is "load" (the default), "refresh-storm", "roundtrips" or "sweep".
	Scenario   string
	StormSends int // concurrent sends of the refresh storm

	// Target, Emulator, JWTSecret and ServerPID describe a server already
	// running; with Target set the harness starts nothing.
	Target    string
	Emulator  string
	JWTSecret string
	ServerPID int

	// Quiet silences progress lines on stderr.
	Quiet bool
}

// defaultMix is mostly sends to known recipients, as in steady use.
const defaultMix = "send_known=85,send_new=5,integration=5,search=5"

// parseMix reads "kind=weight,…".
func parseMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("invalid mix entry %q: want kind=weight with a whole weight", part)
		}
		if !validKind(kind) {
			return nil, fmt.Errorf("invalid mix kind %q: want one of %s", kind, strings.Join(opKinds, ", "))
		}
		mix[kind] = n
	}
	total := 0
	for _, n := range mix {
		total += n
	}
	if total == 0 {
		return nil, errors.New("mix has no positive weight")
	}
	return mix, nil
}

func validKind(kind string) bool {
	for _, k := range opKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// mixString renders the mix in a stable order.
func mixString(mix map[string]int) string {
	kinds := make([]string, 0, len(mix))
	for k := range mix {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, k+"="+strconv.Itoa(mix[k]))
	}
	return strings.Join(parts, ",")
}

// validate checks the limits and that every address is on loopback.
func (c *Config) validate() error {
	var problems []string
	if c.DB != "postgres" && c.DB != "sqlite" {
		problems = append(problems, "--db must be postgres or sqlite")
	}
	switch c.Scenario {
	case "load", "refresh-storm", "roundtrips", "sweep":
	default:
		problems = append(problems, fmt.Sprintf("--scenario %q is unknown: use load, refresh-storm, roundtrips or sweep", c.Scenario))
	}
	if c.Recruiters < 1 || c.Known < 1 || c.Colleagues < c.Known {
		problems = append(problems, "--recruiters and --known must be positive, and --colleagues at least --known")
	}
	if c.Concurrency < 1 || c.Rate < 0 {
		problems = append(problems, "--concurrency must be positive and --rate not negative")
	}
	if c.Duration <= 0 && c.Requests <= 0 {
		problems = append(problems, "give --duration or --requests, so the run stops by itself")
	}
	if c.Duration > time.Hour {
		problems = append(problems, "--duration is at most 1h")
	}
	for name, raw := range map[string]string{"--pg-url": c.PostgresURL, "--target": c.Target, "--emulator": c.Emulator} {
		if raw != "" && !isLoopbackURL(raw) {
			problems = append(problems, name+" must point at a loopback address (127.0.0.0/8, ::1 or localhost)")
		}
	}
	if c.Target != "" && (c.Emulator == "" || c.JWTSecret == "") {
		problems = append(problems, "--target needs --emulator and --jwt-secret")
	}
	if len(problems) > 0 {
		return errors.New("invalid flags:\n  - " + strings.Join(problems, "\n  - "))
	}
	return nil
}

// isLoopbackURL reports whether raw names a loopback host.
func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
