package oauth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/wintro/teams-messaging/vault"
)

// Backoff after a failed refresh, per connection and per process.
const (
	minRefreshBackoff = time.Second
	maxRefreshBackoff = 5 * time.Minute
	// refreshCommitGrace is the part of a shared refresh's deadline kept for
	// storing the outcome after the token endpoint replied.
	refreshCommitGrace = 5 * time.Second
	// maxBackoffEntries bounds the backoff table before old entries are dropped.
	maxBackoffEntries = 4096
)

// refreshMode is the reason a refresh runs. It decides whether the stored
// tokens still need the refresh once the lock is held.
type refreshMode int

const (
	refreshDue    refreshMode = iota // the access token has less than the refresh margin left
	refreshForced                    // Graph rejected staleToken with 401 InvalidAuthenticationToken
	refreshIdle                      // keep-alive: the refresh token was last used before idleSince
)

// refreshRequest is one reason to refresh one connection.
type refreshRequest struct {
	connectionID string
	mode         refreshMode
	staleToken   string    // refreshForced only
	idleSince    time.Time // refreshIdle only
}

// key is the singleflight key. A forced refresh includes the rejected token,
// so it never joins a flight that could hand that token back.
func (r refreshRequest) key() string {
	switch r.mode {
	case refreshForced:
		return r.connectionID + "\x00forced\x00" + r.staleToken
	case refreshIdle:
		return r.connectionID + "\x00idle"
	}
	return r.connectionID + "\x00due"
}

// refreshResult is the outcome of one shared refresh.
type refreshResult struct {
	conn      *vault.Connection // the row as committed, tokens decrypted
	refreshed bool              // this flight stored new tokens
	expired   bool              // this flight expired the connection
	failure   error             // the token endpoint failed or is backing off
}

// refresh runs req once per key in this process (singleflight). Across
// processes the vault's row lock serializes refreshes of one connection. A
// caller that waited for the lock re-reads the row and uses the tokens the
// winner stored. The rotated refresh token is committed before the new
// access token is returned.
func (s *Service) refresh(ctx context.Context, req refreshRequest) (*refreshResult, error) {
	ch := s.refreshs.DoChan(req.key(), func() (any, error) {
		// The shared refresh must not end with the request that started it,
		// so it gets a deadline of its own instead of that request's.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.refreshTimeout())
		defer cancel()
		return s.refreshLocked(rctx, req)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*refreshResult), nil
	}
}

// refreshTimeout bounds one shared refresh: waiting for the row lock while
// another replica's token call runs, this flight's own call, and the commit.
// The lock is held for at most this long, always longer than one token call.
func (s *Service) refreshTimeout() time.Duration {
	return 2*s.cfg.TokenTimeout + refreshCommitGrace
}

func (s *Service) refreshLocked(ctx context.Context, req refreshRequest) (*refreshResult, error) {
	res := &refreshResult{}
	ev := RefreshEvent{ConnectionID: req.connectionID}
	start := time.Now()
	conn, err := s.store.Refresh(ctx, req.connectionID, func(ctx context.Context, c *vault.Connection) (vault.RefreshOutcome, error) {
		ev.LockWait = time.Since(start)
		outcome, result, failure := s.decide(ctx, req, c)
		res.refreshed, res.expired, res.failure = outcome.Tokens != nil, outcome.Expire != "", failure
		ev.Result, ev.Err = result, failure
		return outcome, nil
	})
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return nil, ErrNotConnected
	case errors.Is(err, context.DeadlineExceeded):
		s.record(RefreshEvent{ConnectionID: req.connectionID, Result: RefreshTimedOut, LockWait: time.Since(start), Err: err})
		s.log.WarnContext(ctx, "token refresh timed out waiting for the connection's refresh lock or the database",
			"connection_id", req.connectionID, "timeout", s.refreshTimeout(), "error", err)
		return nil, fmt.Errorf("%w: refresh timed out after %s: %w", ErrUpstreamUnavailable, s.refreshTimeout(), err)
	case err != nil:
		return nil, fmt.Errorf("refresh connection: %w", err)
	}
	if ev.Result != "" {
		s.record(ev)
	}
	res.conn = conn
	return res, nil
}

// decide runs under the row lock with the row as stored now. It skips the
// token endpoint when the row no longer needs a refresh, because another
// request or replica refreshed it while this one waited. The row was read
// under the lock, so its refresh token is the newest one: an invalid_grant
// for it cannot come from a race with a replica that rotated it.
func (s *Service) decide(ctx context.Context, req refreshRequest, c *vault.Connection) (vault.RefreshOutcome, RefreshResult, error) {
	if usable(c) != nil {
		return vault.RefreshOutcome{}, "", nil
	}
	if !s.needsRefresh(req, c) {
		return vault.RefreshOutcome{}, RefreshReused, nil
	}
	if wait := s.tokens.backoff.remaining(c.ID, s.cfg.Now()); wait > 0 {
		return vault.RefreshOutcome{}, RefreshBackedOff,
			fmt.Errorf("%w: token endpoint failed recently, next attempt in %s", ErrUpstreamUnavailable, wait.Round(time.Millisecond))
	}
	return s.redeem(ctx, c)
}

func (s *Service) needsRefresh(req refreshRequest, c *vault.Connection) bool {
	switch req.mode {
	case refreshForced:
		return c.Tokens.AccessToken == req.staleToken || !s.fresh(c.Tokens)
	case refreshIdle:
		return c.RefreshTokenUsedAt == nil || c.RefreshTokenUsedAt.Before(req.idleSince)
	}
	return !s.fresh(c.Tokens)
}

// redeem calls the token endpoint with the row's refresh token and turns
// the reply into the outcome the vault stores in the same transaction.
func (s *Service) redeem(ctx context.Context, c *vault.Connection) (vault.RefreshOutcome, RefreshResult, error) {
	if c.Tokens.RefreshToken == "" {
		// Nothing to redeem: the user must sign in again.
		return vault.RefreshOutcome{Expire: vault.ReasonUnknown}, RefreshExpired, nil
	}
	tok, err := s.redeemRefreshToken(ctx, c.Tokens.RefreshToken)
	if err != nil {
		return s.refreshFailed(ctx, c, err)
	}
	s.tokens.backoff.reset(c.ID)
	t := s.tokensOf(tok)
	if t.RefreshToken == "" {
		t.RefreshToken = c.Tokens.RefreshToken // Microsoft sent no new one: keep the one that worked
	}
	outcome := vault.RefreshOutcome{Tokens: &t}
	if raw, _ := tok.Extra("scope").(string); strings.TrimSpace(raw) != "" {
		outcome.Scopes = NormalizeScopes(raw) // the grant may have shrunk since the connect
	}
	return outcome, RefreshOK, nil
}

// refreshFailed classifies a token endpoint failure. A permanent one expires
// the connection and deletes its tokens, so that refresh token is never sent
// again. A configuration or transient one keeps the connection and starts
// or extends the connection's backoff.
func (s *Service) refreshFailed(ctx context.Context, c *vault.Connection, err error) (vault.RefreshOutcome, RefreshResult, error) {
	kind, reason := classifyRefreshError(err)
	if kind == failurePermanent {
		s.tokens.backoff.reset(c.ID)
		s.log.WarnContext(ctx, "refresh token rejected; connection expired", "connection_id", c.ID,
			"recruiter_id", c.RecruiterID, "reason", reason, "error", err)
		return vault.RefreshOutcome{Expire: reason}, RefreshExpired, nil
	}

	wait := s.tokens.backoff.fail(c.ID, s.cfg.Now(), retryAfterOf(err))
	if kind == failureConfig {
		s.log.ErrorContext(ctx, "Microsoft rejected the service's token request; the connection is kept. "+
			"Check WINTRO_MS_CLIENT_ID, WINTRO_MS_CLIENT_SECRET (the secret's value, not its id) and WINTRO_MS_TENANT",
			"connection_id", c.ID, "retry_in", wait, "error", err)
		return vault.RefreshOutcome{}, RefreshMisconfigured, fmt.Errorf("%w: %w", ErrMisconfigured, err)
	}
	s.log.WarnContext(ctx, "token refresh failed; connection kept, retrying after a backoff",
		"connection_id", c.ID, "retry_in", wait, "error", err)
	return vault.RefreshOutcome{}, RefreshTransient, fmt.Errorf("%w: %w", ErrUpstreamUnavailable, err)
}

// RefreshResult names what a refresh did, for RefreshEvent and metrics.
type RefreshResult string

// Results of a refresh.
const (
	RefreshOK            RefreshResult = "ok"            // the token endpoint issued new tokens, now stored
	RefreshReused        RefreshResult = "reused"        // another request or replica had refreshed: no call
	RefreshExpired       RefreshResult = "expired"       // the grant is dead: the connection expired
	RefreshTransient     RefreshResult = "transient"     // 429, 5xx, network error or timeout: connection kept
	RefreshMisconfigured RefreshResult = "misconfigured" // Microsoft rejected the client or the request: connection kept
	RefreshBackedOff     RefreshResult = "backed_off"    // no call: the connection's backoff had not ended
	RefreshTimedOut      RefreshResult = "timed_out"     // the refresh lock was not free before the refresh's deadline
)

// RefreshEvent describes one refresh of one connection.
type RefreshEvent struct {
	ConnectionID string
	Result       RefreshResult
	// LockWait is how long the refresh waited for the connection's lock.
	LockWait time.Duration
	// Err is the failure for transient, misconfigured, backed_off and
	// timed_out results; it contains no token.
	Err error
}

// record counts ev and passes it to Config.OnRefresh.
func (s *Service) record(ev RefreshEvent) {
	s.tokens.stats.add(ev.Result)
	if s.cfg.OnRefresh != nil {
		s.cfg.OnRefresh(ev)
	}
}

// tokenState is the refresh bookkeeping of one Service.
type tokenState struct {
	backoff refreshBackoff
	stats   refreshCounters
}

// RefreshStats counts refresh results since the service was created.
type RefreshStats struct {
	OK, Reused, Expired, Transient, Misconfigured, BackedOff, TimedOut uint64
}

type refreshCounters struct {
	mu     sync.Mutex
	counts map[RefreshResult]uint64
}

func (c *refreshCounters) add(r RefreshResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[RefreshResult]uint64)
	}
	c.counts[r]++
}

// RefreshStats returns the refresh counters of this process.
func (s *Service) RefreshStats() RefreshStats {
	c := &s.tokens.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	return RefreshStats{
		OK: c.counts[RefreshOK], Reused: c.counts[RefreshReused], Expired: c.counts[RefreshExpired],
		Transient: c.counts[RefreshTransient], Misconfigured: c.counts[RefreshMisconfigured],
		BackedOff: c.counts[RefreshBackedOff], TimedOut: c.counts[RefreshTimedOut],
	}
}

// refreshBackoff delays the next token endpoint call for a connection after
// a failure: 1 s, 2 s, 4 s and so on up to 5 minutes, with up to 20%
// jitter, or the reply's Retry-After when that is longer.
//
// NOTE: The table lives in memory, so each replica backs off on its own: a
// failing token endpoint gets at most one call per replica per backoff step.
type refreshBackoff struct {
	mu      sync.Mutex
	entries map[string]backoffEntry // by connection id
}

type backoffEntry struct {
	failures int
	until    time.Time
}

// remaining returns how long the connection's backoff still runs at now.
func (b *refreshBackoff) remaining(id string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.entries[id].until.Sub(now), 0)
}

// fail records a failure at now and returns the backoff it starts.
func (b *refreshBackoff) fail(id string, now time.Time, retryAfter time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		b.entries = make(map[string]backoffEntry)
	}
	if len(b.entries) >= maxBackoffEntries {
		b.dropEnded(now)
	}

	e := b.entries[id]
	e.failures++
	wait := min(minRefreshBackoff<<min(e.failures-1, 20), maxRefreshBackoff)
	wait += time.Duration(rand.Int64N(int64(wait)/5 + 1))
	wait = max(wait, retryAfter)
	e.until = now.Add(wait)
	b.entries[id] = e
	return wait
}

// reset ends the connection's backoff after a success or an expiry.
func (b *refreshBackoff) reset(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, id)
}

// dropEnded removes entries whose backoff ended more than the longest
// backoff ago; the caller holds b.mu.
func (b *refreshBackoff) dropEnded(now time.Time) {
	for id, e := range b.entries {
		if now.Sub(e.until) > maxRefreshBackoff {
			delete(b.entries, id)
		}
	}
}
