package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
)

func TestOpenRejectsURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"empty", ""},
		{"mysql", "mysql://user:hunter2@127.0.0.1/app"},
		{"sqlite3 scheme", "sqlite3:./x.db"},
		{"sqlite no path", "sqlite:"},
		{"sqlite query", "sqlite:./x.db?_pragma=foo"},
		{"file", "file:./x.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := db.Open(context.Background(), tt.url)
			if err == nil {
				d.Close()
				t.Fatalf("Open(%q) = nil error, want ErrUnsupportedURL", tt.url)
			}
			if !errors.Is(err, db.ErrUnsupportedURL) {
				t.Errorf("Open(%q) = %v, want ErrUnsupportedURL", tt.url, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open(%q) error %q contains the password", tt.url, err)
			}
		})
	}
}

func TestOpenSQLiteCreatesFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "app.db")
	d, err := db.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("Open = %v, want nil", err)
	}
	defer d.Close()
	if d.Dialect != db.SQLite {
		t.Errorf("Dialect = %q, want %q", d.Dialect, db.SQLite)
	}
	if got := d.Rebind("SELECT ?"); got != "SELECT ?" {
		t.Errorf("Rebind = %q, want %q", got, "SELECT ?")
	}
}

// TestSQLitePragmasEveryConn holds several pooled connections at once and
// checks each of them, because a pragma run once applies to one connection.
func TestSQLitePragmasEveryConn(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)

	want := map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "10000",
		"foreign_keys": "1",
		"synchronous":  "1", // NORMAL
	}
	var conns []*sqlx.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 4; i++ {
		c, err := d.Connx(ctx)
		if err != nil {
			t.Fatalf("Connx = %v", err)
		}
		conns = append(conns, c)
		for pragma, value := range want {
			var got string
			if err := c.GetContext(ctx, &got, "PRAGMA "+pragma); err != nil {
				t.Fatalf("PRAGMA %s = %v", pragma, err)
			}
			if got != value {
				t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, pragma, got, value)
			}
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		times := map[string]time.Time{
			"micro":  time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC),
			"whole":  time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
			"offset": time.Date(2025, 3, 4, 5, 6, 7, 5000, time.FixedZone("X", 3*3600)),
		}
		for name, in := range times {
			q := d.Rebind(`INSERT INTO tenant_approvals (tenant_id, approved_at) VALUES (?, ?)`)
			if _, err := d.ExecContext(ctx, q, name, in.UTC()); err != nil {
				t.Fatalf("insert %s: %v", name, err)
			}
			var got time.Time
			q = d.Rebind(`SELECT approved_at FROM tenant_approvals WHERE tenant_id = ?`)
			if err := d.GetContext(ctx, &got, q, name); err != nil {
				t.Fatalf("select %s: %v", name, err)
			}
			if !got.Equal(in) {
				t.Errorf("%s: approved_at = %v, want %v", name, got, in)
			}
			if got.UTC() != got {
				t.Errorf("%s: approved_at location = %v, want UTC", name, got.Location())
			}
		}
	})
}

// TestTimeOrder checks that comparisons in SQL follow time order, which on
// SQLite is text order of the stored values.
func TestTimeOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		base := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
		ins := []time.Duration{0, 500 * time.Millisecond, 450 * time.Millisecond, time.Microsecond, time.Second}
		for i, off := range ins {
			q := d.Rebind(`INSERT INTO tenant_approvals (tenant_id, approved_at) VALUES (?, ?)`)
			if _, err := d.ExecContext(ctx, q, string(rune('a'+i)), base.Add(off)); err != nil {
				t.Fatalf("insert: %v", err)
			}
		}
		var got []string
		q := d.Rebind(`SELECT tenant_id FROM tenant_approvals WHERE approved_at < ? ORDER BY approved_at`)
		if err := d.SelectContext(ctx, &got, q, base.Add(500*time.Millisecond)); err != nil {
			t.Fatalf("select: %v", err)
		}
		if want := "a,d,c"; strings.Join(got, ",") != want {
			t.Errorf("ordered ids = %v, want %s", got, want)
		}
	})
}

func TestMigrateIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate = %v, want nil", err)
		}
		n, err := d.Pending(ctx)
		if err != nil || n != 0 {
			t.Errorf("Pending = %d, %v, want 0, nil", n, err)
		}
	})
}

func TestPendingFresh(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer d.Close()
	n, err := d.Pending(ctx)
	if err != nil || n == 0 {
		t.Fatalf("Pending = %d, %v, want > 0, nil", n, err)
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	if n, err := d.Pending(ctx); err != nil || n != 0 {
		t.Errorf("Pending after Migrate = %d, %v, want 0, nil", n, err)
	}
}

// TestMigrateConcurrentPostgres runs Migrate from separate pools at once, as
// replicas starting together would.
func TestMigrateConcurrentPostgres(t *testing.T) {
	url := dbtest.URL(t)
	ctx := context.Background()

	const n = 3
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		d, err := db.Open(ctx, url)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		defer d.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d = %v, want nil", i, err)
		}
	}

	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer d.Close()
	if p, err := d.Pending(ctx); err != nil || p != 0 {
		t.Errorf("Pending = %d, %v, want 0, nil", p, err)
	}
}

func TestOpenPostgresPing(t *testing.T) {
	url := dbtest.URL(t)
	d, err := db.OpenWith(context.Background(), url, db.Options{MaxOpenConns: 3})
	if err != nil {
		t.Fatalf("OpenWith = %v", err)
	}
	defer d.Close()
	if got := d.Stats().MaxOpenConnections; got != 3 {
		t.Errorf("MaxOpenConnections = %d, want 3", got)
	}
	if got := d.Rebind("SELECT ?"); got != "SELECT $1" {
		t.Errorf("Rebind = %q, want %q", got, "SELECT $1")
	}
}

// TestPostgresSessionUTC gives the database another default time zone and
// checks that new sessions still use UTC.
func TestPostgresSessionUTC(t *testing.T) {
	ctx := context.Background()
	url := dbtest.URL(t)
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer d.Close()
	alter := `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Asia/Tokyo'); END $$`
	if _, err := d.ExecContext(ctx, alter); err != nil {
		t.Fatalf("alter database: %v", err)
	}

	d2, err := db.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer d2.Close()
	var tz string
	if err := d2.GetContext(ctx, &tz, "SHOW timezone"); err != nil {
		t.Fatalf("SHOW timezone: %v", err)
	}
	if tz != "UTC" {
		t.Errorf("SHOW timezone = %q, want UTC", tz)
	}
	var now time.Time
	if err := d2.GetContext(ctx, &now, "SELECT now()"); err != nil {
		t.Fatalf("SELECT now(): %v", err)
	}
	if now.Location() != time.UTC {
		t.Errorf("now() location = %v, want UTC", now.Location())
	}
}

func TestPreparedCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const query = `SELECT ? || '!'`
		first, err := d.Prepared(ctx, query)
		if err != nil {
			t.Fatalf("Prepared(%q) = %v", query, err)
		}
		again, err := d.Prepared(ctx, query)
		if err != nil || again != first {
			t.Errorf("second Prepared(%q) = %p, %v; want the cached %p", query, again, err, first)
		}
		var got string
		if err := again.GetContext(ctx, &got, "hi"); err != nil || got != "hi!" {
			t.Errorf("run prepared statement = %q, %v; want \"hi!\"", got, err)
		}

		const bad = `SELECT FROM WHERE`
		for range 2 {
			if _, err := d.Prepared(ctx, bad); err == nil {
				t.Errorf("Prepared(%q) = nil error, want the syntax error every time", bad)
			}
		}
	})
}
