package main

import (
	"context"
	"sync"
	"time"

	"github.com/wintro/teams-messaging/oauth"
)

// readKeepAlive parses the keep-alive settings into c and returns
// the problems found. env returns a setting or its default.
func (c *Config) readKeepAlive(env func(name, def string) string) []string {
	var problems []string
	duration := func(name, def string) time.Duration {
		d, err := time.ParseDuration(env(name, def))
		if err != nil || d <= 0 {
			problems = append(problems, name+" must be a positive duration such as "+def)
		}
		return d
	}
	c.KeepAliveInterval = duration("WINTRO_KEEPALIVE_INTERVAL", "1h")
	c.KeepAliveIdle = duration("WINTRO_KEEPALIVE_IDLE", "336h")
	c.KeepAliveBatch = parseInt(env("WINTRO_KEEPALIVE_BATCH", "1000"), "WINTRO_KEEPALIVE_BATCH", &problems)
	return problems
}

// startKeepAlive starts this replica's keep-alive sweep, which refreshes
// connections whose refresh token has been idle for KeepAliveIdle. Every
// replica runs one; they share the work through the database. The sweep
// ends when ctx ends or stop is called. stop waits until it has ended and
// may be called more than once.
func (a *app) startKeepAlive(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	cfg := oauth.KeepAliveConfig{
		IdleAfter: a.cfg.KeepAliveIdle,
		Interval:  a.cfg.KeepAliveInterval,
		BatchSize: a.cfg.KeepAliveBatch,
		OnSweep:   a.logSweep,
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		a.oauth.RunKeepAlive(ctx, cfg)
	}()
	a.log.Info("keep-alive started", "interval", cfg.Interval, "idle_after", cfg.IdleAfter, "batch", cfg.BatchSize)

	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			a.log.Info("keep-alive stopped")
		})
	}
}

// logSweep logs and counts one keep-alive sweep.
func (a *app) logSweep(r oauth.KeepAliveReport, err error) {
	for outcome, n := range map[string]int{"refreshed": r.Refreshed, "skipped": r.Skipped, "expired": r.Expired, "failed": r.Failed} {
		a.metrics.keepAlive.WithLabelValues(outcome).Add(float64(n))
	}
	if err != nil {
		a.log.Error("keep-alive sweep failed", "error", err, "claimed", r.Claimed, "refreshed", r.Refreshed)
		return
	}
	level := a.log.Debug
	if r.Claimed > 0 {
		level = a.log.Info
	}
	level("keep-alive sweep finished", "claimed", r.Claimed, "refreshed", r.Refreshed,
		"skipped", r.Skipped, "expired", r.Expired, "failed", r.Failed)
}

// observeRefresh counts one refresh: token endpoint calls by result, and the
// wait for the refresh lock. Set it as oauth.Config.OnRefresh.
func (m *metrics) observeRefresh(ev oauth.RefreshEvent) {
	m.refreshLockWait.Observe(ev.LockWait.Seconds())
	switch ev.Result {
	case oauth.RefreshOK, oauth.RefreshExpired, oauth.RefreshTransient, oauth.RefreshMisconfigured:
		m.tokenRefreshes.WithLabelValues(string(ev.Result)).Inc()
	case oauth.RefreshBackedOff, oauth.RefreshTimedOut:
		m.refreshSkips.WithLabelValues(string(ev.Result)).Inc()
	}
}
