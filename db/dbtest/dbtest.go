// Package dbtest opens migrated databases for tests: SQLite in the test's
// temporary folder always, and PostgreSQL when TEST_DATABASE_URL names a
// server. Each PostgreSQL test gets a database of its own, created with a
// unique name and dropped when the test ends, so tests can run in parallel
// and a failed run leaves nothing that breaks the next.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
)

// EnvURL names the variable holding the PostgreSQL server URL for tests, for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The
// database it names is used only to create and drop the per-test databases.
const EnvURL = "TEST_DATABASE_URL"

// setupTimeout bounds creating, migrating and dropping one test database.
const setupTimeout = 2 * time.Minute

// SQLite returns a migrated SQLite database in t.TempDir(), closed when t ends.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	return openMigrated(t, "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
}

// Postgres returns a migrated PostgreSQL database of the test's own, dropped
// when t ends. It skips the test when TEST_DATABASE_URL is unset.
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	return openMigrated(t, URL(t))
}

// URL creates an empty PostgreSQL database of the test's own and returns its
// URL, for tests that open it themselves (a second process, or Migrate run
// concurrently). The database is dropped when t ends. It skips the test when
// TEST_DATABASE_URL is unset.
func URL(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	name := uniqueName(t)

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	server, err := db.Open(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", EnvURL, err)
	}
	defer server.Close()
	if _, err := server.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })

	return withDatabase(t, admin, name)
}

// Each runs fn as a subtest named "sqlite" and one named "postgres", each with
// a migrated database of its own. The postgres subtest skips when
// TEST_DATABASE_URL is unset.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run(string(db.SQLite), func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run(string(db.Postgres), func(t *testing.T) { fn(t, Postgres(t)) })
}

func openMigrated(t testing.TB, rawURL string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	d, err := db.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	return d
}

func adminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		t.Skipf("dbtest: %s is unset, so the PostgreSQL variant is skipped; set it to a server URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", EnvURL)
	}
	return admin
}

// uniqueName returns a database name that starts with the test's name, for
// finding leftovers, and ends with random hex, for uniqueness.
func uniqueName(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("dbtest: random name: %v", err)
	}

	prefix := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return '_'
	}, t.Name())
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	return "t_" + prefix + "_" + hex.EncodeToString(b[:])
}

func withDatabase(t testing.TB, admin, name string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("dbtest: parse %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// dropDatabase drops name, ending any session a test left open on it.
func dropDatabase(t testing.TB, admin, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	server, err := db.Open(ctx, admin)
	if err != nil {
		t.Errorf("dbtest: open %s to drop %s: %v", EnvURL, name, err)
		return
	}
	defer server.Close()
	if _, err := server.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		t.Errorf("dbtest: drop database %s: %v", name, err)
	}
}
