package oauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

const day = 24 * time.Hour

// sweepAll runs SweepIdle on every replica at once and returns the reports.
func sweepAll(t *testing.T, replicas []*Service, cfg KeepAliveConfig) []KeepAliveReport {
	t.Helper()
	reports := make([]KeepAliveReport, len(replicas))
	var wg sync.WaitGroup
	for i, s := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if reports[i], err = s.SweepIdle(context.Background(), cfg); err != nil {
				t.Errorf("SweepIdle on replica %d = %v", i, err)
			}
		}()
	}
	wg.Wait()
	return reports
}

func sumRefreshed(reports []KeepAliveReport) int {
	n := 0
	for _, r := range reports {
		n += r.Refreshed
	}
	return n
}

// TestKeepAliveRefreshesIdleOnce has three replicas sweep at once after 15
// idle days: the idle connection is refreshed once in all, a connection
// used recently is left alone, and the next sweeps find nothing to do.
func TestKeepAliveRefreshesIdleOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		replicas := []*Service{rig.replica(), rig.replica(), rig.replica()}
		idle := rig.connect(replicas[0], "idle", msemulator.DemoRecruiterUPN)
		rig.clock.Add(15 * day)
		busy := rig.connect(replicas[0], "busy", msemulator.DemoAdaUPN)
		before := rig.settledTokenCalls(2)

		reports := sweepAll(t, replicas, KeepAliveConfig{})

		if n := sumRefreshed(reports); n != 1 {
			t.Errorf("connections refreshed by three sweeps = %d, want 1 (reports %+v)", n, reports)
		}
		if calls := rig.settledTokenCalls(before+1) - before; calls != 1 {
			t.Errorf("token endpoint calls = %d, want 1", calls)
		}
		after := rig.connection(replicas[1], "idle")
		if after.Tokens.RefreshToken == idle.Tokens.RefreshToken || !after.RefreshTokenUsedAt.Equal(rig.clock.Now().Truncate(time.Microsecond)) {
			t.Errorf("idle connection after the sweep: refresh token rotated %v, used at %v; want rotated now",
				after.Tokens.RefreshToken != idle.Tokens.RefreshToken, after.RefreshTokenUsedAt)
		}
		if got := rig.connection(replicas[1], "busy"); got.Tokens.RefreshToken != busy.Tokens.RefreshToken {
			t.Error("the busy connection was refreshed, want it left alone")
		}

		rig.clock.Add(time.Hour)
		if n := sumRefreshed(sweepAll(t, replicas, KeepAliveConfig{})); n != 0 {
			t.Errorf("connections refreshed by the next sweeps = %d, want 0", n)
		}
	})
}

// TestKeepAliveBeatsInactivity moves both clocks 100 days in two steps: a
// sweep after 15 days keeps the refresh token inside Microsoft's 90-day
// window, where without it the emulator returns AADSTS700082.
func TestKeepAliveBeatsInactivity(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rig := newLifecycleRig(t, d)
		s := rig.replica()
		rig.connect(s, "kept", msemulator.DemoRecruiterUPN)
		rig.connect(s, "left", msemulator.DemoAdaUPN)
		advance := func(total time.Duration) {
			rig.clock.Add(total - time.Duration(rig.emu.CurrentSettings().ClockOffsetSeconds)*time.Second)
			rig.emu.SetSettings(msemulator.Settings{ClockOffsetSeconds: int64(total / time.Second)})
		}

		advance(15 * day)
		report, err := s.SweepIdle(context.Background(), KeepAliveConfig{BatchSize: 1})
		if err != nil || report.Refreshed != 1 {
			t.Fatalf("SweepIdle(BatchSize 1) = %+v, %v; want 1 refreshed", report, err)
		}
		refreshed := "kept"
		if rig.connection(s, "left").RefreshTokenUsedAt.After(rig.connection(s, "kept").RefreshTokenUsedAt.Add(time.Hour)) {
			refreshed = "left"
		}
		stale := map[string]string{"kept": "left", "left": "kept"}[refreshed]

		advance(100 * day)
		if _, err := s.Access(context.Background(), refreshed); err != nil {
			t.Errorf("Access of the swept connection after 100 days = %v, want a token", err)
		}
		var expired *ExpiredError
		if _, err := s.Access(context.Background(), stale); !errors.As(err, &expired) || expired.Reason != vault.ReasonInactivity {
			t.Errorf("Access of the unswept connection after 100 days = %v, want ExpiredError INACTIVITY", err)
		}
	})
}

func TestKeepAliveRunStops(t *testing.T) {
	t.Parallel()
	rig := newLifecycleRig(t, dbtest.SQLite(t))
	s := rig.replica()
	rig.connect(s, "r1", msemulator.DemoRecruiterUPN)
	rig.clock.Add(15 * day)

	sweeps := make(chan KeepAliveReport, 100)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.RunKeepAlive(ctx, KeepAliveConfig{Interval: 10 * time.Millisecond, OnSweep: func(r KeepAliveReport, err error) {
			if err != nil {
				t.Errorf("sweep = %v", err)
			}
			sweeps <- r
		}})
	}()

	first := <-sweeps
	<-sweeps
	cancel()
	<-stopped
	if first.Refreshed != 1 {
		t.Errorf("first sweep = %+v, want 1 refreshed", first)
	}
}

func TestJittered(t *testing.T) {
	for range 1000 {
		if got := jittered(time.Hour); got < 48*time.Minute || got > 72*time.Minute {
			t.Fatalf("jittered(1h) = %s, want within 20%% of 1h", got)
		}
	}
}
