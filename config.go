package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// setting is one environment variable the service reads.
type setting struct {
	name, def, help string
}

// settings lists every environment variable, for --help and for reading.
var settings = []setting{
	{"WINTRO_ENV", "development", "development or production; production adds fail-closed checks at start"},
	{"DATABASE_URL", "sqlite:./data/wintro-teams.db", "postgres://… (PostgreSQL via lib/pq) or sqlite:PATH (embedded SQLite)"},
	{"WINTRO_DB_MAX_CONNS", "20", "maximum open PostgreSQL connections per replica in the main pool; the pool that writes send outcomes adds 2"},
	{"WINTRO_LISTEN_ADDR", ":8080 (127.0.0.1:8080 in dev mode)", "address the HTTP server listens on; dev mode listens on loopback only because its pages carry a dev token"},
	{"WINTRO_PUBLIC_URL", "http://localhost:{port}", "external base URL of this service; the redirect URI is {WINTRO_PUBLIC_URL}/oauth/callback"},
	{"WINTRO_APP_URL", "WINTRO_PUBLIC_URL in dev mode", "the SPA's origin: CORS allowlist and where the callback sends the browser back"},
	{"WINTRO_DATA_DIR", "./data", "folder for dev-mode files (SQLite database, generated dev keys)"},
	{"WINTRO_MS_CLIENT_ID", "(dev mode: emulator app " + devClientIDNote + ")", "application (client) ID of the Microsoft Entra app registration; setting it turns dev mode off"},
	{"WINTRO_MS_CLIENT_SECRET", "", "client secret value (not its id) of the app registration"},
	{"WINTRO_MS_TENANT", "organizations", "authority tenant segment: organizations, a tenant GUID or a domain"},
	{"WINTRO_MS_AUTHORITY", "https://login.microsoftonline.com", "Microsoft identity platform base URL (or a standalone emulator)"},
	{"WINTRO_MS_GRAPH_URL", "https://graph.microsoft.com/v1.0", "Microsoft Graph base URL (or a standalone emulator's /v1.0)"},
	{"WINTRO_VAULT_KEYS", "(dev mode: generated key in the data folder)", "id:base64key,… 32-byte AES-256 keys; the first encrypts, all decrypt"},
	{"WINTRO_AUTH_JWT_SECRET", "(dev mode: generated secret in the data folder)", "HS256 secret (at least 32 bytes) verifying caller tokens"},
	{"WINTRO_AUTH_JWKS_URL", "", "JWKS URL for RS256/ES256 caller tokens, instead of WINTRO_AUTH_JWT_SECRET"},
	{"WINTRO_AUTH_ISSUER", "", "required iss of caller tokens, checked when set"},
	{"WINTRO_AUTH_AUDIENCE", "", "required aud of caller tokens, checked when set"},
	{"WINTRO_INTERNAL_TOKEN", "", "bearer token of internal routes (account deletion); the routes do not exist when unset"},
	{"WINTRO_METRICS_TOKEN", "", "bearer token that GET /metrics requires; when unset, /metrics needs no authentication"},
	{"WINTRO_PLAYGROUND", "on in dev mode, off in production", "serve GraphiQL at /playground (true/false)"},
	{"WINTRO_INTROSPECTION", "on in dev mode, off in production", "allow GraphQL introspection (true/false)"},
	{"WINTRO_SEND_RATE", "2", "messages per second per recruiter (sustained)"},
	{"WINTRO_SEND_BURST", "10", "messages per recruiter allowed in a burst"},
	{"WINTRO_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"WINTRO_LOG_FORMAT", "json (text in dev mode)", "json or text"},
	{"WINTRO_SHUTDOWN_TIMEOUT", "75s", "how long in-flight requests may run after SIGTERM; a send can take up to 70 s, so give the orchestrator a longer grace period"},
	{"WINTRO_KEEPALIVE_IDLE", "336h", "refresh a connection whose refresh token has not been used for this long (Microsoft expires it after 90 days unused)"},
	{"WINTRO_KEEPALIVE_INTERVAL", "1h", "mean time between two keep-alive sweeps of one replica; each wait varies by up to 20%"},
	{"WINTRO_KEEPALIVE_BATCH", "1000", "maximum connections one keep-alive sweep refreshes"},
}

const devClientIDNote = "d70347e7-f4d1-4323-93a4-760a6a6c1d91"

// Config is the service configuration, read once at start.
type Config struct {
	Production bool
	DevMode    bool // no WINTRO_MS_CLIENT_ID: in-process emulator and generated keys

	DatabaseURL string
	DBMaxConns  int
	ListenAddr  string
	PublicURL   string
	AppURL      string
	DataDir     string

	ClientID, ClientSecret, Tenant string
	Authority, GraphURL            string

	VaultKeys     string
	JWTSecret     string
	JWKSURL       string
	Issuer        string
	Audience      string
	InternalToken string
	MetricsToken  string

	Playground    bool
	Introspection bool

	SendRate  float64
	SendBurst int

	LogLevel        slog.Level
	LogJSON         bool
	ShutdownTimeout time.Duration

	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	KeepAliveBatch    int
}

// loadConfig reads the environment through getenv. It fills defaults but
// not the dev-mode secrets, which need the data folder.
func loadConfig(getenv func(string) string) (*Config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var problems []string
	c := &Config{
		Production:    strings.EqualFold(env("WINTRO_ENV", "development"), "production"),
		DatabaseURL:   env("DATABASE_URL", "sqlite:./data/wintro-teams.db"),
		ListenAddr:    env("WINTRO_LISTEN_ADDR", ""),
		PublicURL:     strings.TrimRight(env("WINTRO_PUBLIC_URL", ""), "/"),
		AppURL:        strings.TrimRight(env("WINTRO_APP_URL", ""), "/"),
		DataDir:       env("WINTRO_DATA_DIR", "./data"),
		ClientID:      env("WINTRO_MS_CLIENT_ID", ""),
		ClientSecret:  getenv("WINTRO_MS_CLIENT_SECRET"),
		Tenant:        env("WINTRO_MS_TENANT", "organizations"),
		Authority:     strings.TrimRight(env("WINTRO_MS_AUTHORITY", "https://login.microsoftonline.com"), "/"),
		GraphURL:      strings.TrimRight(env("WINTRO_MS_GRAPH_URL", "https://graph.microsoft.com/v1.0"), "/"),
		VaultKeys:     getenv("WINTRO_VAULT_KEYS"),
		JWTSecret:     getenv("WINTRO_AUTH_JWT_SECRET"),
		JWKSURL:       env("WINTRO_AUTH_JWKS_URL", ""),
		Issuer:        env("WINTRO_AUTH_ISSUER", ""),
		Audience:      env("WINTRO_AUTH_AUDIENCE", ""),
		InternalToken: getenv("WINTRO_INTERNAL_TOKEN"),
		MetricsToken:  getenv("WINTRO_METRICS_TOKEN"),
	}
	c.DevMode = c.ClientID == "" && !c.Production
	if c.ListenAddr == "" {
		c.ListenAddr = ":8080"
		if c.DevMode {
			c.ListenAddr = "127.0.0.1:8080"
		}
	}

	c.DBMaxConns = parseInt(env("WINTRO_DB_MAX_CONNS", "20"), "WINTRO_DB_MAX_CONNS", &problems)
	c.SendBurst = parseInt(env("WINTRO_SEND_BURST", "10"), "WINTRO_SEND_BURST", &problems)
	rate, err := strconv.ParseFloat(env("WINTRO_SEND_RATE", "2"), 64)
	if err != nil || rate <= 0 {
		problems = append(problems, "WINTRO_SEND_RATE must be a positive number of messages per second")
	}
	c.SendRate = rate
	c.ShutdownTimeout, err = time.ParseDuration(env("WINTRO_SHUTDOWN_TIMEOUT", "75s"))
	if err != nil || c.ShutdownTimeout <= 0 {
		problems = append(problems, "WINTRO_SHUTDOWN_TIMEOUT must be a positive duration such as 25s")
	}
	if err := c.LogLevel.UnmarshalText([]byte(env("WINTRO_LOG_LEVEL", "info"))); err != nil {
		problems = append(problems, "WINTRO_LOG_LEVEL must be debug, info, warn or error")
	}
	c.LogJSON = env("WINTRO_LOG_FORMAT", map[bool]string{true: "text", false: "json"}[c.DevMode]) == "json"
	c.Playground = parseBool(env("WINTRO_PLAYGROUND", ""), !c.Production, "WINTRO_PLAYGROUND", &problems)
	c.Introspection = parseBool(env("WINTRO_INTROSPECTION", ""), !c.Production, "WINTRO_INTROSPECTION", &problems)

	if c.PublicURL == "" {
		c.PublicURL = "http://localhost:" + portOf(c.ListenAddr)
	}
	if c.AppURL == "" && c.DevMode {
		c.AppURL = c.PublicURL
	}
	problems = append(problems, c.readKeepAlive(env)...)
	problems = append(problems, c.check()...)
	if len(problems) > 0 {
		return nil, errors.New("invalid configuration:\n  - " + strings.Join(problems, "\n  - "))
	}
	return c, nil
}

// check lists what is missing or weak; production adds fail-closed checks.
func (c *Config) check() []string {
	var problems []string
	if !c.DevMode {
		if c.ClientID == "" {
			problems = append(problems, "WINTRO_MS_CLIENT_ID is required outside dev mode")
		}
		if c.ClientSecret == "" {
			problems = append(problems, "WINTRO_MS_CLIENT_SECRET is required when WINTRO_MS_CLIENT_ID is set")
		}
		if c.VaultKeys == "" {
			problems = append(problems, "WINTRO_VAULT_KEYS is required outside dev mode (id:base64 of 32 random bytes)")
		}
		if c.JWTSecret == "" && c.JWKSURL == "" {
			problems = append(problems, "WINTRO_AUTH_JWT_SECRET or WINTRO_AUTH_JWKS_URL is required outside dev mode")
		}
		if c.AppURL == "" {
			problems = append(problems, "WINTRO_APP_URL is required outside dev mode")
		}
	}
	if c.JWTSecret != "" && c.JWKSURL != "" {
		problems = append(problems, "set only one of WINTRO_AUTH_JWT_SECRET and WINTRO_AUTH_JWKS_URL")
	}
	if c.Production {
		for name, raw := range map[string]string{"WINTRO_PUBLIC_URL": c.PublicURL, "WINTRO_APP_URL": c.AppURL} {
			if u, err := url.Parse(raw); raw != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
				problems = append(problems, name+" must be an https URL in production")
			}
		}
		if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
			problems = append(problems, "WINTRO_AUTH_JWT_SECRET must be at least 32 bytes in production")
		}
		if strings.HasPrefix(c.DatabaseURL, "sqlite:") {
			problems = append(problems, "DATABASE_URL must be a postgres:// URL in production (SQLite is for dev and tests)")
		}
	}
	return problems
}

func parseInt(raw, name string, problems *[]string) int {
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		*problems = append(*problems, name+" must be a positive integer")
	}
	return n
}

func parseBool(raw string, def bool, name string, problems *[]string) bool {
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		*problems = append(*problems, name+" must be true or false")
	}
	return b
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "8080"
	}
	return port
}

// printHelp writes every setting with its default and meaning.
func printHelp(w io.Writer) {
	fmt.Fprintln(w, "wintro-teams: GraphQL API that sends Microsoft Teams 1:1 messages as the recruiter.")
	fmt.Fprintln(w, "\nUsage: wintro-teams [serve | emulator | migrate | rotate-keys | version] [flags]")
	fmt.Fprintln(w, "With no WINTRO_MS_CLIENT_ID, serve runs dev mode: SQLite, the Microsoft emulator at /_ms/, generated keys.")
	fmt.Fprintln(w, "\nEnvironment:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n  \t  default: %s\n", s.name, s.help, def)
	}
	tw.Flush()
}
