// Package db opens the service's SQL database from a DATABASE_URL and applies
// the embedded migrations of its dialect (PostgreSQL through lib/pq, SQLite
// through the pure-Go modernc.org/sqlite driver). Both are used through sqlx.
package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names the SQL flavour of an open database.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrUnsupportedURL means a database URL has a scheme Open does not accept.
var ErrUnsupportedURL = errors.New("db: unsupported database url")

// DefaultMaxOpenConns is the PostgreSQL pool size when Options.MaxOpenConns is 0.
const DefaultMaxOpenConns = 20

// sqliteMaxOpenConns bounds the SQLite pool. SQLite allows one writer at a
// time, and WAL lets readers run beside it, so a few connections let reads
// go on while a write transaction is open. Writers queue in LockWrites or,
// across processes, on busy_timeout. Every transaction starts with BEGIN
// IMMEDIATE, so none fails on a read-to-write lock upgrade.
const sqliteMaxOpenConns = 8

// sqlitePragmas run on every new pooled SQLite connection, through the DSN.
var sqlitePragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
}

func init() {
	// sqlx maps "sqlite3" to ? placeholders but not modernc's driver name "sqlite".
	sqlx.BindDriver(string(SQLite), sqlx.QUESTION)
}

// DB is an open database and its dialect. It is safe for concurrent use.
type DB struct {
	*sqlx.DB
	Dialect Dialect

	logger *slog.Logger
	// writer is SQLite's in-process write queue (see LockWrites); nil on PostgreSQL.
	writer chan struct{}
	stmts  sync.Map // query → *sqlx.Stmt, see Prepared
}

// Options tune Open. The zero value is valid.
type Options struct {
	// MaxOpenConns bounds the PostgreSQL pool; 0 means DefaultMaxOpenConns.
	// SQLite always uses a small fixed pool.
	MaxOpenConns int
	// Logger receives goose's migration progress; nil keeps Migrate quiet.
	Logger *slog.Logger
}

// Open connects to url: "postgres://…" or "postgresql://…" use lib/pq,
// "sqlite:PATH" uses the embedded SQLite (the folder of PATH is created).
// It pings the database before returning. It does not migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options. Errors never contain the URL's password.
func OpenWith(ctx context.Context, rawURL string, o Options) (*DB, error) {
	d, err := openPool(rawURL, o)
	if err != nil {
		return nil, err
	}
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("ping %s database: %w", d.Dialect, err)
	}
	return d, nil
}

func openPool(rawURL string, o Options) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		// url.Error and lib/pq quote the whole URL, password included, so a
		// URL that does not parse is reported without it.
		if _, err := url.Parse(rawURL); err != nil {
			return nil, fmt.Errorf("%w: the postgres URL does not parse; percent-encode special characters in the user and password", ErrUnsupportedURL)
		}
		return openPostgres(rawURL, o)
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(strings.TrimPrefix(rawURL, "sqlite:"), o)
	default:
		return nil, fmt.Errorf("%w: scheme of %q is not accepted; use postgres://…, postgresql://… or sqlite:PATH",
			ErrUnsupportedURL, redact(rawURL))
	}
}

func openPostgres(rawURL string, o Options) (*DB, error) {
	conn, err := sqlx.Open(string(Postgres), postgresDSN(rawURL))
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	maxOpen := o.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenConns
	}
	conn.SetMaxOpenConns(maxOpen)
	conn.SetMaxIdleConns(maxOpen)
	conn.SetConnMaxLifetime(30 * time.Minute)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{DB: conn, Dialect: Postgres, logger: o.Logger}, nil
}

func openSQLite(path string, o Options) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite: needs a file path, as in sqlite:./data/app.db", ErrUnsupportedURL)
	}
	file, query, _ := strings.Cut(path, "?")
	if query != "" {
		return nil, fmt.Errorf("%w: sqlite:PATH takes no query parameters", ErrUnsupportedURL)
	}
	if dir := filepath.Dir(file); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create sqlite folder: %w", err)
		}
	}

	conn, err := sqlx.Open(string(SQLite), sqliteDSN(file))
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	conn.SetMaxOpenConns(sqliteMaxOpenConns)
	conn.SetMaxIdleConns(sqliteMaxOpenConns)
	conn.SetConnMaxIdleTime(0)
	return &DB{DB: conn, Dialect: SQLite, logger: o.Logger, writer: make(chan struct{}, 1)}, nil
}

// Prepared returns query, written with ? placeholders, prepared on the pool
// and kept until the pool closes. database/sql prepares it again on each
// pooled connection that runs it, so the server parses it once per
// connection instead of once per call, and lib/pq runs it in one round trip.
// It is meant for a fixed set of hot-path queries: the cache never shrinks,
// so a query built from input must not go through it. A failed prepare is
// not kept.
func (d *DB) Prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := d.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := d.PreparexContext(ctx, d.Rebind(query))
	if err != nil {
		return nil, fmt.Errorf("prepare statement: %w", err)
	}
	if prev, loaded := d.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close() // another caller prepared it first
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// LockWrites waits, within ctx, for this process's turn to write, and
// returns the function that ends the turn. On SQLite, which has one writer
// at a time, writers that take it queue in Go in arrival order and honour
// their context. Otherwise they poll in SQLite's busy handler (up to
// busy_timeout), where a steady stream of transactions can starve a
// writer. Other processes still wait in the busy handler. On PostgreSQL it
// returns at once. It is not reentrant: a holder must not call it again
// before release.
func (d *DB) LockWrites(ctx context.Context) (release func(), err error) {
	if d.writer == nil {
		return func() {}, nil
	}
	select {
	case d.writer <- struct{}{}:
		return func() { <-d.writer }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for database write turn: %w", ctx.Err())
	}
}

// sqliteDSN builds modernc's DSN: the pragmas, BEGIN IMMEDIATE for every
// transaction, and the time format that round-trips time.Time through
// TIMESTAMP columns. _timezone=UTC converts times to UTC before writing and
// after reading, so stored times sort as text in time order.
func sqliteDSN(file string) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	q.Set("_timezone", "UTC")
	return "file:" + file + "?" + q.Encode()
}

// postgresDSN sets the session time zone to UTC unless the URL names one,
// so TIMESTAMPTZ values scan as UTC times whatever the server's default is,
// and turns on lib/pq's binary_parameters unless the URL sets it.
func postgresDSN(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL // not reached: openPool rejects a URL that does not parse
	}
	q := u.Query()
	if q.Get("timezone") == "" {
		q.Set("timezone", "UTC")
	}
	// binary_parameters makes lib/pq send a statement with arguments in one
	// exchange instead of two (parse, then bind and execute). It sends []byte
	// arguments in binary, which suits this schema: every []byte goes to a
	// BYTEA column.
	if q.Get("binary_parameters") == "" {
		q.Set("binary_parameters", "yes")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redact hides the password of a URL for error messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable url)"
		}
		return rawURL
	}
	return u.Redacted()
}
