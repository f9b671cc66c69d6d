package teams

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/vault"
)

func TestIdempotentReplay(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "Hello Ada", IdempotencyKey: "replay-1"}
		first, err := h.send(in)
		if err != nil {
			t.Fatalf("first Send = %v", err)
		}

		// Another replica: a second service on the same database.
		replica, err := New(h.svc.cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		before := h.graphRequests()
		again, err := replica.Send(t.Context(), h.recruiter, in)
		if err != nil {
			t.Fatalf("repeat Send = %v", err)
		}
		if got := h.graphRequests() - before; got != 0 {
			t.Errorf("repeat made %d Graph requests, want 0", got)
		}
		if !again.Deduplicated || again.MessageID != first.MessageID || again.ChatID != first.ChatID ||
			again.Recipient != first.Recipient || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("repeat = %+v, want %+v with Deduplicated", again, first)
		}
		if got := len(h.messages()); got != 1 {
			t.Errorf("emulator holds %d messages, want 1", got)
		}
	})
}

func TestIdempotencyKeyReused(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	base := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "Hello", IdempotencyKey: "reused-1"}
	if _, err := h.send(base); err != nil {
		t.Fatalf("first Send = %v", err)
	}
	tests := []struct {
		name   string
		change func(*SendInput)
	}{
		{"content", func(in *SendInput) { in.Content = "Hello!" }},
		{"recipient", func(in *SendInput) { in.RecipientEmail = msemulator.DemoAlanUPN }},
		{"recipient form", func(in *SendInput) { in.RecipientEmail, in.RecipientID = "", msemulator.DemoAdaID }},
		{"format", func(in *SendInput) { in.Format = FormatHTML }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.change(&in)
			if _, err := h.send(in); !errors.Is(err, ErrIdempotencyKeyReused) {
				t.Errorf("Send(%+v) = %v, want ErrIdempotencyKeyReused", in, err)
			}
		})
	}
	if got := len(h.messages()); got != 1 {
		t.Errorf("emulator holds %d messages, want 1", got)
	}
}

func TestIdempotentConcurrentRequests(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		h.emulator.SetSettings(msemulator.Settings{GraphLatencyMs: 100})
		in := SendInput{RecipientEmail: msemulator.DemoGraceUPN, Content: "only once", IdempotencyKey: "concurrent-1"}

		const n = 8
		results := make([]*SendResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = h.send(in) })
		}
		wg.Wait()

		for i := range n {
			if errs[i] != nil {
				t.Fatalf("request %d: Send = %v, want the shared result", i, errs[i])
			}
			if results[i].MessageID != results[0].MessageID {
				t.Errorf("request %d: message %s, want %s", i, results[i].MessageID, results[0].MessageID)
			}
		}
		if got := len(h.messages()); got != 1 {
			t.Errorf("emulator holds %d messages, want 1", got)
		}
	})
}

func TestPendingSend(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		clk := testkit.NewClock(time.Now())
		h := newHarness(t, d, harnessOptions{service: func(c *Config) {
			c.Now, c.PendingWait = clk.Now, 50*time.Millisecond
		}})
		in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "lost", Format: FormatText, IdempotencyKey: "pending-1"}
		// A request that claimed the key and stopped before recording anything.
		if _, owned, err := h.svc.store.claimSend(t.Context(), claim{
			RecruiterID: testRecruiterID, Key: in.IdempotencyKey, Hash: requestHash(testRecruiterID, in), AttemptID: "crashed",
			ExpiredBefore: clk.Now().Add(-time.Hour),
		}); err != nil || !owned {
			t.Fatalf("claimSend = %v, %v, want the key claimed", owned, err)
		}

		if _, err := h.send(in); !errors.Is(err, ErrSendInProgress) {
			t.Errorf("Send while another request holds the key = %v, want ErrSendInProgress", err)
		}

		clk.Add(h.svc.cfg.PendingTimeout + time.Second)
		if _, err := h.send(in); !errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("Send after the owner was lost = %v, want ErrOutcomeUnknown", err)
		}
		if got := recordStatus(t, d, in.IdempotencyKey); got != sendUnknown {
			t.Errorf("record status = %q, want %q", got, sendUnknown)
		}
		if got := len(h.messages()); got != 0 {
			t.Errorf("emulator holds %d messages, want 0", got)
		}
	})
}

func TestIdempotencyTTL(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		clk := testkit.NewClock(time.Now())
		h := newHarness(t, d, harnessOptions{service: func(c *Config) { c.Now = clk.Now }})
		in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "day one", IdempotencyKey: "ttl-1"}
		if _, err := h.send(in); err != nil {
			t.Fatalf("first Send = %v", err)
		}

		clk.Add(DefaultIdempotencyTTL - time.Minute)
		if res, err := h.send(in); err != nil || !res.Deduplicated {
			t.Errorf("repeat within the TTL = %+v, %v, want the recorded result", res, err)
		}

		clk.Add(2 * time.Minute)
		n, err := h.svc.PurgeExpired(t.Context())
		if err != nil || n < 2 {
			t.Errorf("PurgeExpired = %d, %v, want the record and the recipient cache entry deleted", n, err)
		}
		if rows := countTable(t, d, "sent_messages"); rows != 0 {
			t.Errorf("sent_messages holds %d rows after the purge, want 0", rows)
		}
		in.Content = "day three"
		if res, err := h.send(in); err != nil || res.Deduplicated {
			t.Errorf("Send with the key after the TTL = %+v, %v, want a new message", res, err)
		}
		if got := len(h.messages()); got != 2 {
			t.Errorf("emulator holds %d messages, want 2", got)
		}
	})
}

func TestExpiredRecordTakenOverWithoutPurge(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	h := newHarness(t, sqliteDB(t), harnessOptions{service: func(c *Config) { c.Now = clk.Now }})
	in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "old", IdempotencyKey: "old-1"}
	if _, err := h.send(in); err != nil {
		t.Fatalf("first Send = %v", err)
	}

	clk.Add(DefaultIdempotencyTTL + time.Minute)
	in.Content = "new"
	if res, err := h.send(in); err != nil || res.Deduplicated {
		t.Errorf("Send with an expired key = %+v, %v, want a new message", res, err)
	}
}

func TestFailedSendRetried(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	in := SendInput{RecipientEmail: "nobody@contoso.test", Content: "hello", IdempotencyKey: "failed-1"}
	if _, err := h.send(in); !errors.Is(err, ErrRecipientNotFound) {
		t.Fatalf("Send to an unknown address = %v, want ErrRecipientNotFound", err)
	}
	if got := recordStatus(t, h.db, in.IdempotencyKey); got != sendFailed {
		t.Errorf("record status = %q, want %q", got, sendFailed)
	}
	if _, err := h.send(in); !errors.Is(err, ErrRecipientNotFound) {
		t.Errorf("repeat = %v, want the send tried again and ErrRecipientNotFound", err)
	}
}

func TestRecordHoldsNoContent(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	const secret = "the salary offer is 123456"
	if _, err := h.send(SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: secret, IdempotencyKey: "private-1"}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	rows, err := h.db.Queryx(`SELECT * FROM sent_messages`)
	if err != nil {
		t.Fatalf("read sent_messages: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		values, err := rows.SliceScan()
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, v := range values {
			if s := fmt.Sprint(v); strings.Contains(s, "salary") {
				t.Errorf("sent_messages holds %q, want no content", s)
			}
		}
	}
}

func countTable(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.Get(&n, `SELECT COUNT(*) FROM `+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestKeyFreedWhenConnectionUnusable covers a key claimed in the connection
// read whose tokens then fail to open: the record is marked failed, so the
// same request succeeds once the recruiter has connected again.
func TestKeyFreedWhenConnectionUnusable(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		if _, err := d.Exec(d.Rebind(`UPDATE connections SET access_token = ? WHERE recruiter_id = ?`),
			[]byte("not a sealed token"), testRecruiterID); err != nil {
			t.Fatalf("damage the stored token: %v", err)
		}
		in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "hello", IdempotencyKey: "unusable-1"}

		var expired *oauth.ExpiredError
		if _, err := h.send(in); !errors.As(err, &expired) || expired.Reason != vault.ReasonKeyUnavailable {
			t.Fatalf("Send with an unreadable token = %v, want an ExpiredError with KEY_UNAVAILABLE", err)
		}
		if got := recordStatus(t, d, in.IdempotencyKey); got != sendFailed {
			t.Errorf("record status = %q, want %q", got, sendFailed)
		}

		h.connect(h.recruiter, msemulator.DemoRecruiterUPN)
		res, err := h.send(in)
		if err != nil || res.Deduplicated {
			t.Fatalf("Send after connecting again = %+v, %v, want a new message", res, err)
		}
		if got := len(h.messages()); got != 1 {
			t.Errorf("emulator holds %d messages, want 1", got)
		}
	})
}

// TestKeyNotClaimedWithoutConnection shows that a send with a key by a
// recruiter who never connected leaves no record behind.
func TestKeyNotClaimedWithoutConnection(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		stranger := identity.Recruiter{ID: "recruiter-2", OrgID: "org-1", Email: "someone@contoso.test"}
		in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "hello", IdempotencyKey: "stranger-1"}
		if _, err := h.svc.Send(t.Context(), stranger, in); !errors.Is(err, oauth.ErrNotConnected) {
			t.Fatalf("Send without a connection = %v, want ErrNotConnected", err)
		}
		if rows := countTable(t, d, "sent_messages"); rows != 0 {
			t.Errorf("sent_messages holds %d rows, want 0", rows)
		}
	})
}

// TestKeyOutlivesDisconnect repeats a send after the recruiter disconnected
// and connected again: the repeat returns the first message and posts
// nothing.
func TestKeyOutlivesDisconnect(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		in := SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "before the reconnect", IdempotencyKey: "reconnect-1"}
		first, err := h.send(in)
		if err != nil {
			t.Fatalf("first Send = %v", err)
		}

		if err := h.oauth.Disconnect(t.Context(), testRecruiterID); err != nil {
			t.Fatalf("Disconnect = %v", err)
		}
		h.connect(h.recruiter, msemulator.DemoRecruiterUPN)
		again, err := h.send(in)
		if err != nil || !again.Deduplicated || again.MessageID != first.MessageID {
			t.Errorf("repeat after reconnecting = %+v, %v; want message %s, deduplicated", again, err, first.MessageID)
		}
		if got := len(h.messages()); got != 1 {
			t.Errorf("emulator holds %d messages, want 1", got)
		}
	})
}
