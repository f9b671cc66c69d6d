package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/lib/pq" // registers the "postgres" driver

	"github.com/wintro/teams-messaging/db"
)

// benchDatabase is a PostgreSQL database created for one run.
type benchDatabase struct {
	admin *sql.DB // connected to the database the run was given
	name  string
	url   string // URL of the created database
}

// createDatabase creates a database named wintro_bench_<random> next to the
// one adminURL names.
func createDatabase(ctx context.Context, adminURL string) (*benchDatabase, error) {
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redactURL(adminURL), err)
	}
	name := "wintro_bench_" + strings.ToLower(randomText(12))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("parse PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	if u.RawQuery == "" {
		u.RawQuery = "sslmode=disable"
	}
	return &benchDatabase{admin: admin, name: name, url: u.String()}, nil
}

// drop removes the database, closing the connections still open to it.
func (d *benchDatabase) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = d.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)")
	d.admin.Close()
}

// backendCPU returns the CPU time used so far by each server process
// (backend) connected to the database, by process id.
func (d *benchDatabase) backendCPU(ctx context.Context) (map[int]time.Duration, error) {
	rows, err := d.admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, d.name)
	if err != nil {
		return nil, fmt.Errorf("list backends: %w", err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, fmt.Errorf("list backends: %w", err)
		}
		if cpu, err := cpuTime(pid); err == nil {
			out[pid] = cpu
		}
	}
	return out, rows.Err()
}

// cpuSince adds up the CPU time each backend used since before; a backend
// that started meanwhile counts from zero.
func cpuSince(before, after map[int]time.Duration) time.Duration {
	var total time.Duration
	for pid, cpu := range after {
		total += cpu - before[pid]
	}
	return total
}

// fillConnections inserts n CONNECTED rows with ciphertext-shaped random
// tokens of tokenBytes each and refresh times spread over 90 days.
func fillConnections(ctx context.Context, dbURL string, n, tokenBytes int) error {
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	const batch = 100_000
	for from := 1; from <= n; from += batch {
		to := min(from+batch-1, n)
		if _, err := d.ExecContext(ctx, fillQuery(d.Dialect, from, to, tokenBytes)); err != nil {
			return fmt.Errorf("insert filler connections %d-%d: %w", from, to, err)
		}
	}
	// Vacuum and checkpoint now, so that the background work the inserts
	// leave behind does not run during the measured window.
	maintenance := []string{"VACUUM (ANALYZE) connections", "CHECKPOINT"}
	if d.Dialect == db.SQLite {
		maintenance = []string{"ANALYZE connections", "PRAGMA wal_checkpoint(TRUNCATE)"}
	}
	for _, stmt := range maintenance {
		if _, err := d.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// fillQuery builds the INSERT of filler rows from..to for the dialect.
func fillQuery(dialect db.Dialect, from, to, tokenBytes int) string {
	if dialect == db.Postgres {
		token := fmt.Sprintf(`substring(decode(repeat(md5(i::text || '%%s'), %d), 'hex') from 1 for %d)`, tokenBytes/16+1, tokenBytes)
		return fmt.Sprintf(`INSERT INTO connections (id, recruiter_id, org_id, status, account_id, tenant_id, email,
			display_name, granted_scopes, access_token, refresh_token, access_expires_at, connected_at,
			last_refreshed_at, refresh_token_used_at, created_at, updated_at)
			SELECT 'filler-' || i, 'filler-recruiter-' || i, 'filler-org', 'CONNECTED', md5(i::text), md5('t' || i::text),
				'filler' || i || '@filler.test', 'Filler ' || i, 'Chat.ReadWrite ChatMessage.Send User.Read User.ReadBasic.All offline_access',
				%s, %s, now() + interval '1 hour', now() - interval '30 days',
				now() - (i %% 90) * interval '1 day', now() - (i %% 90) * interval '1 day', now(), now()
			FROM generate_series(%d, %d) AS i`,
			fmt.Sprintf(token, "a"), fmt.Sprintf(token, "r"), from, to)
	}
	return fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM s WHERE i < %d)
		INSERT INTO connections (id, recruiter_id, org_id, status, account_id, tenant_id, email,
			display_name, granted_scopes, access_token, refresh_token, access_expires_at, connected_at,
			last_refreshed_at, refresh_token_used_at, created_at, updated_at)
		SELECT 'filler-' || i, 'filler-recruiter-' || i, 'filler-org', 'CONNECTED', hex(randomblob(16)), hex(randomblob(16)),
			'filler' || i || '@filler.test', 'Filler ' || i, 'Chat.ReadWrite ChatMessage.Send User.Read User.ReadBasic.All offline_access',
			randomblob(%d), randomblob(%d), datetime('now', '+1 hour'), datetime('now', '-30 days'),
			datetime('now', '-' || (i %% 90) || ' days'), datetime('now', '-' || (i %% 90) || ' days'), datetime('now'), datetime('now')
		FROM s`, from, to, tokenBytes, tokenBytes)
}

// redactURL hides the password of a database URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
