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

// Backoff after a failed refresh, per connection, kept in its row so that
// every replica observes it.
const (
	minRefreshBackoff = time.Second
	maxRefreshBackoff = 5 * time.Minute
	// refreshCommitGrace is the part of a shared refresh's deadline kept for
	// storing the outcome after the token endpoint replied.
	refreshCommitGrace = 5 * time.Second
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
	if c.RefreshRetryAt != nil {
		if wait := c.RefreshRetryAt.Sub(s.cfg.Now()); wait > 0 {
			return vault.RefreshOutcome{}, RefreshBackedOff, &UnavailableError{RetryAfter: wait}
		}
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
// or extends the connection's backoff, stored with it.
func (s *Service) refreshFailed(ctx context.Context, c *vault.Connection, err error) (vault.RefreshOutcome, RefreshResult, error) {
	kind, reason := classifyRefreshError(err)
	if kind == failurePermanent {
		s.log.WarnContext(ctx, "refresh token rejected; connection expired", "connection_id", c.ID,
			"recruiter_id", c.RecruiterID, "reason", reason, "error", err)
		return vault.RefreshOutcome{Expire: reason}, RefreshExpired, nil
	}

	failures := c.RefreshFailures + 1
	wait := refreshBackoff(failures, retryAfterOf(err))
	outcome := vault.RefreshOutcome{Failure: &vault.RefreshFailure{Failures: failures, RetryAt: s.cfg.Now().Add(wait)}}
	if kind == failureConfig {
		s.log.ErrorContext(ctx, "Microsoft rejected the service's token request; the connection is kept. "+
			"Check WINTRO_MS_CLIENT_ID, WINTRO_MS_CLIENT_SECRET (the secret's value, not its id) and WINTRO_MS_TENANT",
			"connection_id", c.ID, "recruiter_id", c.RecruiterID, "retry_in", wait, "failures", failures, "error", err)
		return outcome, RefreshMisconfigured, fmt.Errorf("%w: %w", ErrMisconfigured, err)
	}
	s.log.WarnContext(ctx, "token refresh failed; connection kept, retrying after a backoff",
		"connection_id", c.ID, "recruiter_id", c.RecruiterID, "retry_in", wait, "failures", failures, "error", err)
	return outcome, RefreshTransient, &UnavailableError{RetryAfter: wait, Cause: err}
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
	stats refreshCounters
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

// refreshBackoff returns how long to wait after the given number of failed
// calls in a row: 1 s, 2 s, 4 s and so on up to 5 minutes, with up to 20%
// jitter. When retryAfter (the reply's Retry-After) is longer, it wins.
func refreshBackoff(failures int, retryAfter time.Duration) time.Duration {
	wait := min(minRefreshBackoff<<min(max(failures, 1)-1, 20), maxRefreshBackoff)
	wait += time.Duration(rand.Int64N(int64(wait)/5 + 1))
	return max(wait, retryAfter)
}
