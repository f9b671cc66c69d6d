package teams

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/vault"
)

// messagesPath is the fault prefix of POST /chats/{id}/messages; it does not
// match POST /chats.
const messagesPath = "/v1.0/chats/"

// warm sends one message to Alan so that later sends to him cost one Graph
// request, and returns the Graph request count after it.
func (h *harness) warm() int {
	h.t.Helper()
	if _, err := h.send(SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "warm up"}); err != nil {
		h.t.Fatalf("warm-up Send = %v", err)
	}
	return h.graphRequests()
}

func TestSendRetryAfter(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	h.warm()
	h.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusTooManyRequests, RetryAfter: 2})

	res, err := h.send(SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "after the throttle"})
	if err != nil {
		t.Fatalf("Send after one 429 = %v, want success", err)
	}

	posts, waits := h.wire.recorded()
	if len(waits) != 1 || waits[0] < 2*time.Second {
		t.Errorf("waits = %v, want one wait of at least 2s (Retry-After: 2)", waits)
	}
	if len(posts) != 3 { // warm-up, the throttled attempt, the retry
		t.Fatalf("message POSTs = %d, want 3", len(posts))
	}
	if !bytes.Equal(posts[1], posts[2]) {
		t.Errorf("retry body = %s, want the first attempt's %s", posts[2], posts[1])
	}
	msgs := h.messages()
	if len(msgs) != 2 || msgs[1].Content != "after the throttle" || msgs[1].ID != res.MessageID {
		t.Errorf("emulator messages = %+v, want the warm-up and one %q with id %s", msgs, "after the throttle", res.MessageID)
	}
}

func TestSendThrottledExhausted(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{graph: func(o *msgraph.Options) { o.MaxRetries = 2 }})
	h.warm()
	h.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusTooManyRequests, RetryAfter: 3, Count: 3})
	in := SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "throttled", IdempotencyKey: "throttled-1"}

	_, err := h.send(in)
	var limited *RateLimitedError
	if !errors.As(err, &limited) || !limited.ByMicrosoft || limited.RetryAfter != 3*time.Second {
		t.Fatalf("Send under 429 = %v, want a RateLimitedError from Microsoft with RetryAfter 3s", err)
	}
	if got := len(h.messages()); got != 1 {
		t.Errorf("emulator holds %d messages, want only the warm-up", got)
	}

	// Nothing was posted, so the same key may be sent again once Graph recovers.
	if _, err := h.send(in); err != nil {
		t.Fatalf("repeat after the throttle = %v, want success", err)
	}
	if got := len(h.messages()); got != 2 {
		t.Errorf("emulator holds %d messages, want 2", got)
	}
}

func TestSendTimeoutAfterPost(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{graph: func(o *msgraph.Options) { o.RequestTimeout = 300 * time.Millisecond }})
		h.warm()
		// The emulator stores the message, then responds after the client gave up.
		h.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: messagesPath, DelayMs: 10_000, AfterHandler: true})
		in := SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "slow answer", IdempotencyKey: "timeout-1"}

		_, err := h.send(in)
		if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrUpstreamUnavailable) {
			t.Fatalf("Send with a timed-out POST = %v, want ErrOutcomeUnknown alone", err)
		}
		if got := len(h.messages()); got != 2 {
			t.Fatalf("emulator holds %d messages, want 2 (warm-up and the timed-out one)", got)
		}

		before := h.settledGraphRequests()
		_, err = h.send(in)
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("client retry with the same key = %v, want ErrOutcomeUnknown", err)
		}
		if got := h.graphRequests() - before; got != 0 {
			t.Errorf("client retry made %d Graph requests, want 0", got)
		}
		if got := len(h.messages()); got != 2 {
			t.Errorf("emulator holds %d messages after the retry, want 2", got)
		}
		if got := recordStatus(t, d, "timeout-1"); got != sendUnknown {
			t.Errorf("record status = %q, want %q", got, sendUnknown)
		}
	})
}

func TestSendServerErrorNotResent(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	h.warm()
	h.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusServiceUnavailable, Count: 5})

	_, err := h.send(SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "to a failing server"})
	if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrUpstreamUnavailable) {
		t.Fatalf("Send with a 503 = %v, want ErrOutcomeUnknown alone", err)
	}
	if posts, _ := h.wire.recorded(); len(posts) != 2 {
		t.Errorf("message POSTs = %d, want 2 (warm-up and one attempt, not resent)", len(posts))
	}
}

func TestSendTooLargeForTeams(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	h.warm()
	h.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusRequestEntityTooLarge})

	_, err := h.send(SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "Teams found this too large", IdempotencyKey: "large-1"})
	var input *InputError
	if !errors.As(err, &input) || input.Field != "content" {
		t.Fatalf("Send rejected with 413 = %v, want an InputError on content", err)
	}
	if got := recordStatus(t, h.db, "large-1"); got != sendFailed {
		t.Errorf("record status = %q, want %q: nothing was posted", got, sendFailed)
	}
}

func TestCreateChatRetriedOnServerError(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	h.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: "/v1.0/chats", Status: http.StatusBadGateway})

	if _, err := h.send(SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "first"}); err != nil {
		t.Fatalf("Send with one 502 on POST /chats = %v, want success", err)
	}
	counts := h.emulator.RequestCounts()
	if counts["POST /v1.0/chats 502"] != 1 || counts["POST /v1.0/chats 201"] != 1 {
		t.Errorf("chat creations = %v, want one 502 then one 201", counts)
	}
	if got := len(h.messages()); got != 1 {
		t.Errorf("emulator holds %d messages, want 1", got)
	}
}

func TestSendForbiddenKeepsConnection(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})

	_, err := h.send(SendInput{RecipientEmail: msemulator.DemoForbiddenUPN, Content: "blocked"})
	var blocked *BlockedError
	if !errors.As(err, &blocked) || blocked.RequestID == "" {
		t.Fatalf("Send to a blocked recipient = %v, want a BlockedError with Graph's request-id", err)
	}
	in, err := h.oauth.Integration(context.Background(), h.recruiter)
	if err != nil || in.Status != vault.StatusConnected {
		t.Errorf("integration after a 403 = %+v, %v, want status CONNECTED", in, err)
	}
	if _, err := h.send(SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "still works"}); err != nil {
		t.Errorf("Send to another colleague after a 403 = %v, want success", err)
	}
}

func TestCachedChatGoneIsRecreated(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		first, err := h.send(SendInput{RecipientID: msemulator.DemoAlanID, Content: "first"})
		if err != nil {
			t.Fatalf("first Send = %v", err)
		}
		const goneChatID = "19:gone@unq.gbl.spaces"
		if _, err := d.Exec(d.Rebind(`UPDATE chat_cache SET chat_id = ?`), goneChatID); err != nil {
			t.Fatalf("replace cached chat: %v", err)
		}

		before := h.graphRequests()
		res, err := h.send(SendInput{RecipientID: msemulator.DemoAlanID, Content: "second"})
		if err != nil {
			t.Fatalf("Send with a stale cached chat = %v, want success", err)
		}
		if got := h.graphRequests() - before; got != 3 {
			t.Errorf("Graph requests = %d, want 3 (404, POST /chats, POST message)", got)
		}
		if res.ChatID != first.ChatID {
			t.Errorf("chat = %q, want the real chat %q", res.ChatID, first.ChatID)
		}
		var cached string
		if err := d.Get(&cached, `SELECT chat_id FROM chat_cache`); err != nil || cached != first.ChatID {
			t.Errorf("cached chat = %q, %v, want %q", cached, err, first.ChatID)
		}
	})
}

func TestCancelledCallerCompletesSend(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	h.warm()
	h.emulator.SetSettings(msemulator.Settings{GraphLatencyMs: 200})

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res, err := h.svc.Send(ctx, h.recruiter, SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "cancelled caller", IdempotencyKey: "cancel-1"})
	if err != nil {
		t.Fatalf("Send with a cancelled caller = %v, want the send to complete", err)
	}
	if got := recordStatus(t, h.db, "cancel-1"); got != sendSent {
		t.Errorf("record status = %q, want %q", got, sendSent)
	}
	if msgs := h.messages(); msgs[len(msgs)-1].ID != res.MessageID {
		t.Errorf("last emulator message = %+v, want id %s", msgs[len(msgs)-1], res.MessageID)
	}
}

// recordStatus returns the status of the harness recruiter's record of key.
func recordStatus(t *testing.T, d *db.DB, key string) string {
	t.Helper()
	var status string
	err := d.Get(&status, d.Rebind(`SELECT status FROM sent_messages WHERE recruiter_id = ? AND idempotency_key = ?`), testRecruiterID, key)
	if err != nil {
		t.Fatalf("read record %s: %v", key, err)
	}
	return status
}
