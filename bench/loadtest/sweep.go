package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/vault"
)

// sweepCalls is how many claims the sweep scenario times.
const sweepCalls = 20

// SweepReport is the cost of the keep-alive claim on a filled table.
type SweepReport struct {
	DB      string  `json:"db"`
	Rows    int     `json:"rows"`
	Limit   int     `json:"limit"`
	Calls   int     `json:"calls"`
	Claimed int     `json:"claimed"`
	P50Ms   float64 `json:"p50Ms"`
	P99Ms   float64 `json:"p99Ms"`
	MaxMs   float64 `json:"maxMs"`
	FillSec float64 `json:"fillSeconds"`
}

// runSweep fills connections with cfg.FillConnections rows (their refresh
// tokens last used 0 to 89 days ago) and times vault.Store.ClaimIdle, the
// keep-alive sweep's query, with the sweep's default idle time and batch.
// Claimed rows stay claimed, so later calls skip over earlier claims.
func runSweep(ctx context.Context, cfg *Config, logf func(string, ...any)) (*SweepReport, error) {
	d, cleanup, err := openSweepDatabase(ctx, cfg, logf)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	rows := max(cfg.FillConnections, 1)
	logf("inserting %d filler connections", rows)
	t0 := time.Now()
	if err := fillConnections(ctx, d.url, rows, cfg.FillTokenBytes); err != nil {
		return nil, err
	}
	out := &SweepReport{DB: cfg.DB, Rows: rows, Limit: oauth.DefaultKeepAliveBatch, Calls: sweepCalls, FillSec: time.Since(t0).Seconds()}

	keys, err := vault.ParseKeyring("bench:" + base64.StdEncoding.EncodeToString(randomBytes(32)))
	if err != nil {
		return nil, err
	}
	store := vault.NewStore(d.db, keys, time.Now)
	var took []time.Duration
	for range sweepCalls {
		start := time.Now()
		ids, err := store.ClaimIdle(ctx, time.Now().Add(-oauth.DefaultKeepAliveIdle), oauth.DefaultKeepAliveClaim, out.Limit)
		if err != nil {
			return nil, err
		}
		took = append(took, time.Since(start))
		out.Claimed += len(ids)
	}
	slices.Sort(took)
	out.P50Ms, out.P99Ms, out.MaxMs = ms(percentile(took, 50)), ms(percentile(took, 99)), ms(took[len(took)-1])
	return out, nil
}

// sweepDatabase is a migrated database of the sweep scenario.
type sweepDatabase struct {
	db  *db.DB
	url string
}

func openSweepDatabase(ctx context.Context, cfg *Config, logf func(string, ...any)) (*sweepDatabase, func(), error) {
	var (
		dbURL   string
		cleanup = func() {}
	)
	if cfg.DB == "postgres" {
		bd, err := createDatabase(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, nil, err
		}
		logf("created PostgreSQL database %s", bd.name)
		dbURL, cleanup = bd.url, bd.drop
	} else {
		dir, err := os.MkdirTemp("", "wintro-sweep-")
		if err != nil {
			return nil, nil, err
		}
		dbURL, cleanup = "sqlite:"+filepath.Join(dir, "sweep.db"), func() { os.RemoveAll(dir) }
	}
	d, err := db.Open(ctx, dbURL)
	if err == nil {
		err = d.Migrate(ctx)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("prepare sweep database: %w", err)
	}
	return &sweepDatabase{db: d, url: dbURL}, func() { d.Close(); cleanup() }, nil
}

func (r *SweepReport) print(w io.Writer) {
	fmt.Fprintf(w, "keep-alive claim (vault.Store.ClaimIdle, limit %d) on %s with %d connections (filled in %.0f s):\n", r.Limit, r.DB, r.Rows, r.FillSec)
	fmt.Fprintf(w, "  %d calls, %d rows claimed, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.Calls, r.Claimed, r.P50Ms, r.P99Ms, r.MaxMs)
}
