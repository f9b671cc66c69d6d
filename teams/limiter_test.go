package teams

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
)

func TestLimitersReserve(t *testing.T) {
	start := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	l := newLimiters(2, 3)
	steps := []struct {
		name      string
		recruiter string
		at        time.Duration
		wantWait  time.Duration
	}{
		{"burst 1", "a", 0, 0},
		{"burst 2", "a", 0, 0},
		{"burst 3", "a", 0, 0},
		{"over burst", "a", 0, 500 * time.Millisecond},
		{"other recruiter", "b", 0, 0},
		{"refilled one", "a", 500 * time.Millisecond, 0},
		{"empty again", "a", 500 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, st := range steps {
		wait, r := l.reserve(st.recruiter, start.Add(st.at))
		if wait != st.wantWait || (r == nil) != (st.wantWait > 0) {
			t.Errorf("%s: reserve(%s, +%s) = %s, %v, want %s", st.name, st.recruiter, st.at, wait, r != nil, st.wantWait)
		}
	}
}

func TestLimitersBounded(t *testing.T) {
	start := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	l := newLimiters(2, 10)
	// 100,000 recruiters, each sending once, 10 ms apart: a bucket refills
	// its one token in 0.5 s, so at most about 50 are not full at any time.
	for i := range 100_000 {
		now := start.Add(time.Duration(i) * 10 * time.Millisecond)
		if wait, _ := l.reserve(fmt.Sprintf("recruiter-%d", i), now); wait != 0 {
			t.Fatalf("reserve for a new recruiter = %s, want no wait", wait)
		}
	}
	if got := l.size(); got > 2*minSweepSize {
		t.Errorf("limiters hold %d buckets, want at most %d", got, 2*minSweepSize)
	}
}

func TestUsedMarks(t *testing.T) {
	start := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	u := newUsedMarks(time.Minute)
	steps := []struct {
		name string
		conn string
		at   time.Duration
		want bool
	}{
		{"first", "c1", 0, true},
		{"within interval", "c1", 59 * time.Second, false},
		{"other connection", "c2", 59 * time.Second, true},
		{"after interval", "c1", time.Minute, true},
	}
	for _, st := range steps {
		if got := u.due(st.conn, start.Add(st.at)); got != st.want {
			t.Errorf("%s: due(%s, +%s) = %v, want %v", st.name, st.conn, st.at, got, st.want)
		}
	}

	for i := range 50_000 {
		u.due(fmt.Sprintf("conn-%d", i), start.Add(time.Duration(i)*10*time.Millisecond))
	}
	if got := len(u.marked); got > 2*max(minSweepSize, 6000) {
		t.Errorf("used marks hold %d entries, want them swept", got)
	}
}

func TestSendRateLimited(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	h := newHarness(t, sqliteDB(t), harnessOptions{service: func(c *Config) {
		c.Now, c.RateLimit, c.RateBurst = clk.Now, 1, 2
	}})
	in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "one", IdempotencyKey: "rate-1"}
	if _, err := h.send(in); err != nil {
		t.Fatalf("first Send = %v", err)
	}
	if _, err := h.send(SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "two"}); err != nil {
		t.Fatalf("second Send = %v", err)
	}

	_, err := h.send(SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "three"})
	var limited *RateLimitedError
	if !errors.As(err, &limited) || limited.ByMicrosoft || limited.RetryAfter != time.Second {
		t.Fatalf("third Send = %v, want a RateLimitedError from Wintro with RetryAfter 1s", err)
	}
	if got := len(h.messages()); got != 2 {
		t.Errorf("emulator holds %d messages, want 2", got)
	}

	// A repeated idempotent request gives its token back.
	clk.Add(time.Second)
	if res, err := h.send(in); err != nil || !res.Deduplicated {
		t.Fatalf("repeat = %+v, %v, want the recorded result", res, err)
	}
	if _, err := h.send(SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "four"}); err != nil {
		t.Errorf("Send after the repeat = %v, want the token the repeat gave back", err)
	}
}
