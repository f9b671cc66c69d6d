package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// accessAll calls Access for recruiterID n times at once, spreading the
// calls over replicas, and returns the results in call order.
func accessAll(replicas []*Service, recruiterID string, n int) ([]*Access, []error) {
	got, errs := make([]*Access, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = replicas[i%len(replicas)].Access(context.Background(), recruiterID)
		}()
	}
	wg.Wait()
	return got, errs
}

// checkOneNewToken fails unless every call succeeded with the same token,
// different from old.
func checkOneNewToken(t *testing.T, got []*Access, errs []error, old string) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Access call %d = %v, want a token", i, err)
		}
	}
	for i, a := range got {
		if a.Token == old || a.Token != got[0].Token {
			t.Fatalf("Access call %d returned a different token than call 0, or the expired one", i)
		}
	}
}

func TestRefreshOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		replicas := []*Service{rig.replica(), rig.replica()}
		conn := rig.connect(replicas[0], "r1", msemulator.DemoRecruiterUPN)
		rig.expireAccessToken(conn.ID)
		before := rig.settledTokenCalls(1)

		got, errs := accessAll(replicas, "r1", 100)

		checkOneNewToken(t, got, errs, conn.Tokens.AccessToken)
		if calls := rig.settledTokenCalls(before+1) - before; calls != 1 {
			t.Errorf("token endpoint calls for 100 concurrent Access = %d, want 1", calls)
		}
		after := rig.connection(replicas[1], "r1")
		if after.Status != vault.StatusConnected || after.Tokens.RefreshToken == conn.Tokens.RefreshToken {
			t.Errorf("after refresh: status %s, refresh token rotated %v; want CONNECTED and rotated",
				after.Status, after.Tokens.RefreshToken != conn.Tokens.RefreshToken)
		}
		if after.LastRefreshedAt == nil || !after.LastRefreshedAt.Equal(rig.clock.Now().Truncate(time.Microsecond)) {
			t.Errorf("LastRefreshedAt = %v, want %v", after.LastRefreshedAt, rig.clock.Now())
		}
	})
}

// TestRefreshSlowTokenEndpoint slows the token endpoint well past a
// typical refresh: the row lock stays held for the whole call, so the
// callers of both replicas wait and none calls again.
func TestRefreshSlowTokenEndpoint(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		replicas := []*Service{rig.replica(), rig.replica()}
		conn := rig.connect(replicas[0], "r1", msemulator.DemoRecruiterUPN)
		rig.expireAccessToken(conn.ID)
		before := rig.settledTokenCalls(1)
		rig.emu.AddFault(msemulator.Fault{Method: "POST", PathPrefix: tokenPath, DelayMs: 2000, Count: 10})

		got, errs := accessAll(replicas, "r1", 40)

		checkOneNewToken(t, got, errs, conn.Tokens.AccessToken)
		if calls := rig.settledTokenCalls(before+1) - before; calls != 1 {
			t.Errorf("token endpoint calls with a 2 s token endpoint = %d, want 1", calls)
		}
	})
}

// TestRefreshHungIsCancelled hangs the token endpoint past TokenTimeout: the
// refresh fails as unavailable and leaves no lock and no in-flight entry,
// so the next attempt, in either replica, succeeds.
func TestRefreshHungIsCancelled(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		short := func(c *Config) { c.TokenTimeout = 300 * time.Millisecond }
		a, b := rig.replica(short), rig.replica(short)
		conn := rig.connect(a, "r1", msemulator.DemoRecruiterUPN)
		rig.expireAccessToken(conn.ID)
		before := rig.settledTokenCalls(1)
		// The emulator's handler sleeps on, because net/http notices a client
		// that went away only after the handler read the request body.
		rig.emu.AddFault(msemulator.Fault{Method: "POST", PathPrefix: tokenPath, DelayMs: 1500})

		if _, err := a.Access(context.Background(), "r1"); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Fatalf("Access with a hung token endpoint = %v, want ErrUpstreamUnavailable", err)
		}
		rig.clock.Add(maxRefreshBackoff)

		// The other replica goes first, so the new token comes from it.
		for _, replica := range []struct {
			name string
			s    *Service
		}{{"other replica", b}, {"same replica", a}} {
			got, err := replica.s.Access(context.Background(), "r1")
			if err != nil || got.Token == conn.Tokens.AccessToken {
				t.Fatalf("Access on the %s after the hung refresh = %v, want a new token", replica.name, err)
			}
		}
		if calls := rig.settledTokenCalls(before+2) - before; calls != 2 {
			t.Errorf("token endpoint calls = %d, want 2 (the hung one and the next)", calls)
		}
		if st := a.RefreshStats(); st.Transient != 1 || st.OK != 0 {
			t.Errorf("RefreshStats of the first replica = %+v, want 1 transient and no success", st)
		}
		if st := b.RefreshStats(); st.OK != 1 {
			t.Errorf("RefreshStats of the other replica = %+v, want 1 success", st)
		}
	})
}

func TestRefreshTransientFailure(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		s := rig.replica()
		conn := rig.connect(s, "r1", msemulator.DemoRecruiterUPN)
		ctx := context.Background()
		fail503 := msemulator.Fault{Method: "POST", PathPrefix: tokenPath, Status: 503}

		// Inside the refresh margin but not expired: the stored token is still
		// used, during the failure and during the backoff after it.
		rig.clock.Add(time.Hour - time.Minute)
		rig.emu.AddFault(fail503)
		for _, when := range []string{"during a 503", "during the backoff"} {
			got, err := s.Access(ctx, "r1")
			if err != nil || got.Token != conn.Tokens.AccessToken {
				t.Fatalf("Access %s with 1 minute left = %v, want the stored token", when, err)
			}
		}

		// Expired: unavailable, and the backoff keeps the retry from Microsoft.
		rig.clock.Add(2 * time.Minute)
		rig.emu.AddFault(fail503)
		if _, err := s.Access(ctx, "r1"); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Fatalf("Access with an expired token during a 503 = %v, want ErrUpstreamUnavailable", err)
		}
		calls := rig.settledTokenCalls(3)
		if _, err := s.Access(ctx, "r1"); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Fatalf("Access with an expired token during the backoff = %v, want ErrUpstreamUnavailable", err)
		}
		if n := rig.tokenCalls() - calls; n != 0 {
			t.Errorf("token endpoint calls during the backoff = %d, want 0", n)
		}
		if st := s.RefreshStats(); st.Transient != 2 || st.BackedOff != 2 {
			t.Errorf("RefreshStats = %+v, want 2 transient and 2 backed off", st)
		}
		if c := rig.connection(s, "r1"); c.Status != vault.StatusConnected || c.Tokens.RefreshToken != conn.Tokens.RefreshToken {
			t.Errorf("connection after transient failures = %s, want CONNECTED with its refresh token", c.Status)
		}

		rig.clock.Add(maxRefreshBackoff)
		if got, err := s.Access(ctx, "r1"); err != nil || got.Token == conn.Tokens.AccessToken {
			t.Fatalf("Access after the backoff = %v, want a new token", err)
		}
	})
}

func TestForceRefresh(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		a, b := rig.replica(), rig.replica()
		conn := rig.connect(a, "r1", msemulator.DemoRecruiterUPN)
		rejected, err := a.Access(context.Background(), "r1")
		if err != nil {
			t.Fatalf("Access = %v", err)
		}
		before := rig.settledTokenCalls(1)

		// Many requests saw Graph reject the same token, in two replicas.
		got, errs := make([]*Access, 40), make([]error, 40)
		var wg sync.WaitGroup
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = []*Service{a, b}[i%2].ForceRefresh(context.Background(), rejected)
			}()
		}
		wg.Wait()
		checkOneNewToken(t, got, errs, conn.Tokens.AccessToken)
		if calls := rig.settledTokenCalls(before+1) - before; calls != 1 {
			t.Errorf("token endpoint calls for 40 forced refreshes of one token = %d, want 1", calls)
		}

		// A forced refresh that fails never hands back the rejected token.
		rig.emu.AddFault(msemulator.Fault{Method: "POST", PathPrefix: tokenPath, Status: 503})
		if a2, err := a.ForceRefresh(context.Background(), got[0]); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Errorf("ForceRefresh during a 503 = %v, %v; want ErrUpstreamUnavailable", a2, err)
		}
	})
}

// TestRefreshRacingDisconnect disconnects while a refresh waits for the
// token endpoint: whichever commits first, no connection and no token is
// left, and the recruiter is not connected.
func TestRefreshRacingDisconnect(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		s := rig.replica()
		for i := range 3 {
			recruiter := fmt.Sprintf("r%d", i)
			conn := rig.connect(s, recruiter, msemulator.DemoRecruiterUPN)
			rig.expireAccessToken(conn.ID)
			rig.emu.AddFault(msemulator.Fault{Method: "POST", PathPrefix: tokenPath, DelayMs: 300, AfterHandler: true})

			done := make(chan error, 1)
			go func() {
				_, err := s.Access(context.Background(), recruiter)
				done <- err
			}()
			if err := s.Disconnect(context.Background(), recruiter); err != nil {
				t.Fatalf("Disconnect = %v", err)
			}
			if err := <-done; err != nil && !errors.Is(err, ErrNotConnected) {
				t.Errorf("Access racing Disconnect = %v, want a token or ErrNotConnected", err)
			}

			var rows int
			if err := d.GetContext(context.Background(), &rows, d.Rebind(`SELECT COUNT(*) FROM connections WHERE recruiter_id = ?`), recruiter); err != nil {
				t.Fatalf("count connections: %v", err)
			}
			if rows != 0 {
				t.Errorf("connections of %s after Disconnect = %d, want 0", recruiter, rows)
			}
			if _, err := s.Access(context.Background(), recruiter); !errors.Is(err, ErrNotConnected) {
				t.Errorf("Access after Disconnect = %v, want ErrNotConnected", err)
			}
		}
	})
}

// TestExpiredConnectionMakesNoCalls revokes the user's grant: the next
// refresh expires the connection, and no later Access, forced refresh or
// keep-alive sweep, in any replica, sends the dead refresh token again.
func TestExpiredConnectionMakesNoCalls(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		a := rig.replica()
		conn := rig.connect(a, "r1", msemulator.DemoRecruiterUPN)
		access := accessOf(conn)
		if err := rig.emu.RevokeUser(msemulator.DemoRecruiterID); err != nil {
			t.Fatalf("RevokeUser = %v", err)
		}
		rig.expireAccessToken(conn.ID)

		var expired *ExpiredError
		if _, err := a.Access(context.Background(), "r1"); !errors.As(err, &expired) || expired.Reason != vault.ReasonPasswordReset {
			t.Fatalf("Access after revocation = %v, want ExpiredError PASSWORD_RESET", err)
		}
		calls := rig.settledTokenCalls(2)

		b := rig.replica() // a restarted replica: no memory of the failure
		for _, s := range []*Service{a, b} {
			if _, err := s.Access(context.Background(), "r1"); !errors.As(err, &expired) {
				t.Errorf("Access of an expired connection = %v, want ExpiredError", err)
			}
			if _, err := s.ForceRefresh(context.Background(), access); !errors.As(err, &expired) {
				t.Errorf("ForceRefresh of an expired connection = %v, want ExpiredError", err)
			}
			if _, err := s.SweepIdle(context.Background(), KeepAliveConfig{IdleAfter: time.Nanosecond}); err != nil {
				t.Errorf("SweepIdle = %v", err)
			}
		}
		if n := rig.tokenCalls() - calls; n != 0 {
			t.Errorf("token endpoint calls after the connection expired = %d, want 0", n)
		}
		c := rig.connection(b, "r1")
		if c.Status != vault.StatusExpired || c.ExpiredReason != vault.ReasonPasswordReset || c.HasTokens {
			t.Errorf("connection = %s/%s with tokens %v, want EXPIRED/PASSWORD_RESET without tokens", c.Status, c.ExpiredReason, c.HasTokens)
		}
	})
}

// TestRefreshInactivity lets the refresh token sit unused for 91 days on
// the emulator's clock: Microsoft's AADSTS700082 expires the connection
// with INACTIVITY.
func TestRefreshInactivity(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		s := rig.replica()
		rig.connect(s, "r1", msemulator.DemoRecruiterUPN)
		rig.emu.SetSettings(msemulator.Settings{ClockOffsetSeconds: int64(91 * 24 * time.Hour / time.Second)})
		rig.clock.Add(91 * 24 * time.Hour)

		var expired *ExpiredError
		if _, err := s.Access(context.Background(), "r1"); !errors.As(err, &expired) || expired.Reason != vault.ReasonInactivity {
			t.Fatalf("Access after 91 idle days = %v, want ExpiredError INACTIVITY", err)
		}
	})
}

// TestRefreshWithWrongSecret has Microsoft reject the client secret: the
// connection stays connected with its tokens, and Access returns
// ErrMisconfigured.
func TestRefreshWithWrongSecret(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		conn := rig.connect(rig.replica(), "r1", msemulator.DemoRecruiterUPN)
		rig.expireAccessToken(conn.ID)
		var events []RefreshEvent
		wrong := rig.replica(func(c *Config) {
			c.ClientSecret = "not-the-secret"
			c.OnRefresh = func(ev RefreshEvent) { events = append(events, ev) }
		})

		if _, err := wrong.Access(context.Background(), "r1"); !errors.Is(err, ErrMisconfigured) {
			t.Fatalf("Access with a wrong client secret = %v, want ErrMisconfigured", err)
		}
		if len(events) != 1 || events[0].Result != RefreshMisconfigured {
			t.Errorf("OnRefresh events = %+v, want one misconfigured", events)
		}
		if c := rig.connection(wrong, "r1"); c.Status != vault.StatusConnected || c.Tokens.RefreshToken != conn.Tokens.RefreshToken {
			t.Errorf("connection after invalid_client = %s, want CONNECTED with its tokens", c.Status)
		}
	})
}
