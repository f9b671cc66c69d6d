package oauth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of KeepAliveConfig. Microsoft expires a refresh token after 90
// days without use (AADSTS700082); refreshing after 14 idle days leaves
// more than 70 days for retries.
const (
	DefaultKeepAliveIdle     = 14 * 24 * time.Hour
	DefaultKeepAliveInterval = time.Hour
	DefaultKeepAliveBatch    = 1000
	// DefaultKeepAliveClaim is how long a replica keeps the connections it
	// claimed for one sweep before another replica may take them.
	DefaultKeepAliveClaim = 30 * time.Minute
	// keepAliveJitter is the fraction of the interval by which each wait
	// varies, so that replicas started together do not sweep together.
	keepAliveJitter = 0.2
)

// KeepAliveConfig tunes the keep-alive sweep. Zero fields take the defaults.
type KeepAliveConfig struct {
	// IdleAfter is how long a refresh token may stay unused before the sweep
	// refreshes it.
	IdleAfter time.Duration
	// Interval is the mean time between two sweeps of one replica; each wait
	// varies by up to 20%.
	Interval time.Duration
	// BatchSize bounds the connections one sweep refreshes.
	BatchSize int
	// ClaimFor is how long claimed connections stay reserved for this sweep.
	ClaimFor time.Duration
	// OnSweep, when set, is called after each sweep of RunKeepAlive.
	OnSweep func(KeepAliveReport, error)
}

func (c *KeepAliveConfig) fill() {
	if c.IdleAfter <= 0 {
		c.IdleAfter = DefaultKeepAliveIdle
	}
	if c.Interval <= 0 {
		c.Interval = DefaultKeepAliveInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultKeepAliveBatch
	}
	if c.ClaimFor <= 0 {
		c.ClaimFor = DefaultKeepAliveClaim
	}
}

// KeepAliveReport counts what one sweep did with the connections it claimed.
type KeepAliveReport struct {
	Claimed   int // connections claimed in the database
	Refreshed int // refresh token redeemed, new tokens stored
	Skipped   int // refreshed meanwhile by a request or another replica, or no longer connected
	Expired   int // Microsoft rejected the refresh token: the connection expired
	Failed    int // transient or configuration failure: the connection is kept and claimed again later
}

// SweepIdle refreshes up to cfg.BatchSize connections whose refresh token
// has not been used for cfg.IdleAfter. Replicas coordinate through the
// database: a connection is claimed by one sweep at a time (vault
// ClaimIdle), and the idle check is repeated under the refresh lock, so a
// connection is refreshed once even when claims overlap. Connections are
// refreshed one after another. The error reports a failed claim or ctx
// ending; failures of single connections are only counted in the report.
func (s *Service) SweepIdle(ctx context.Context, cfg KeepAliveConfig) (KeepAliveReport, error) {
	cfg.fill()
	idleSince := s.cfg.Now().Add(-cfg.IdleAfter)
	ids, err := s.store.ClaimIdle(ctx, idleSince, cfg.ClaimFor, cfg.BatchSize)
	if err != nil {
		return KeepAliveReport{}, fmt.Errorf("keep-alive: %w", err)
	}

	report := KeepAliveReport{Claimed: len(ids)}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		res, err := s.refresh(ctx, refreshRequest{connectionID: id, mode: refreshIdle, idleSince: idleSince})
		report.count(res, err)
	}
	return report, nil
}

func (r *KeepAliveReport) count(res *refreshResult, err error) {
	switch {
	case errors.Is(err, ErrNotConnected):
		r.Skipped++ // disconnected after the claim
	case err != nil:
		r.Failed++
	case res.refreshed:
		r.Refreshed++
	case res.expired:
		r.Expired++
	case res.failure != nil:
		r.Failed++
	default:
		r.Skipped++
	}
}

// RunKeepAlive sweeps (SweepIdle) until ctx ends. The first sweep starts
// after a random wait of up to one Interval, and each later one after
// Interval varied by up to 20%. It returns when ctx ends, after the sweep
// in progress stops at its next connection.
func (s *Service) RunKeepAlive(ctx context.Context, cfg KeepAliveConfig) {
	cfg.fill()
	wait := time.Duration(rand.Int64N(int64(cfg.Interval)))
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		report, err := s.SweepIdle(ctx, cfg)
		if cfg.OnSweep != nil && ctx.Err() == nil {
			cfg.OnSweep(report, err)
		}
		wait = jittered(cfg.Interval)
	}
}

// jittered returns d varied uniformly by up to keepAliveJitter of d.
func jittered(d time.Duration) time.Duration {
	spread := int64(float64(d) * keepAliveJitter)
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(rand.Int64N(2*spread+1))
}
