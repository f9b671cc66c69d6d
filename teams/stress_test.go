package teams

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/msgraph"
)

// stressOutcome is what the client finally learned about one send.
type stressOutcome struct {
	status    string // sendSent, sendUnknown or sendFailed
	messageID string
	err       error
}

// stressFaults are the faults injected before client attempts: throttling,
// server errors, and timeouts before and after the emulator stores the message.
var stressFaults = []msemulator.Fault{
	{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusTooManyRequests, RetryAfter: 1},
	{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusTooManyRequests},
	{Method: http.MethodPost, PathPrefix: messagesPath, Status: http.StatusServiceUnavailable},
	{Method: http.MethodPost, PathPrefix: "/v1.0/chats", Status: http.StatusInternalServerError},
	{Method: http.MethodGet, PathPrefix: "/v1.0/users", Status: http.StatusServiceUnavailable},
	{Method: http.MethodPost, PathPrefix: messagesPath, DelayMs: 5_000},
	{Method: http.MethodPost, PathPrefix: messagesPath, DelayMs: 5_000, AfterHandler: true},
}

var stressRecipients = []SendInput{
	{RecipientEmail: msemulator.DemoAlanUPN},
	{RecipientEmail: msemulator.DemoAdaMail},
	{RecipientID: msemulator.DemoGraceID},
	{RecipientEmail: msemulator.DemoQuoteMail},
	{RecipientEmail: msemulator.DemoDollarUPN},
}

func TestSendStress(t *testing.T) {
	sends := 1000
	if testing.Short() {
		sends = 200
	}
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{
			graph:   func(o *msgraph.Options) { o.RequestTimeout, o.MaxRetries = 250*time.Millisecond, 2 },
			service: func(c *Config) { c.PendingWait = 2 * time.Second },
		})
		outcomes := runStress(t, h, sends)
		h.emulator.ClearFaults()
		checkStress(t, h, d, outcomes)
	})
}

// runStress sends n messages from 8 workers. Before each attempt a fault is
// injected with probability 0.15; a client repeats an attempt that may
// succeed later, sometimes repeats a success, and sometimes sends the same
// request twice at once.
func runStress(t *testing.T, h *harness, n int) []stressOutcome {
	t.Helper()
	outcomes := make([]stressOutcome, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := range 8 {
		rng := rand.New(rand.NewPCG(uint64(w), 42))
		wg.Go(func() {
			for i := range jobs {
				outcomes[i] = stressSend(t, h, rng, i)
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return outcomes
}

func stressSend(t *testing.T, h *harness, rng *rand.Rand, i int) stressOutcome {
	in := stressRecipients[i%len(stressRecipients)]
	in.Content = fmt.Sprintf("stress message %d", i)
	in.IdempotencyKey = fmt.Sprintf("stress-%d", i)

	var out stressOutcome
	for attempt := 0; attempt < 8; attempt++ {
		if rng.Float64() < 0.15 {
			h.emulator.AddFault(stressFaults[rng.IntN(len(stressFaults))])
		}
		res, err := stressAttempt(h, in, rng.Float64() < 0.05)
		out = classifyStress(res, err)
		if out.status == sendSent && rng.Float64() < 0.1 {
			again, err := h.send(in)
			if err != nil || again.MessageID != out.messageID {
				t.Errorf("send %d: repeat of a success = %+v, %v, want message %s", i, again, err, out.messageID)
			}
		}
		if out.status != "" {
			return out
		}
	}
	return stressOutcome{status: sendFailed, err: out.err}
}

// stressAttempt sends in once, or twice at the same moment when twice is
// set, and returns the first request's outcome after checking they agree.
func stressAttempt(h *harness, in SendInput, twice bool) (*SendResult, error) {
	if !twice {
		return h.send(in)
	}
	var res [2]*SendResult
	var errs [2]error
	var wg sync.WaitGroup
	for j := range 2 {
		wg.Go(func() { res[j], errs[j] = h.send(in) })
	}
	wg.Wait()
	if errs[0] == nil && errs[1] == nil && res[0].MessageID != res[1].MessageID {
		h.t.Errorf("concurrent duplicates of %s got messages %s and %s, want one", in.IdempotencyKey, res[0].MessageID, res[1].MessageID)
	}
	return res[0], errs[0]
}

// classifyStress maps a result to an outcome; a status of "" means the
// client should try again.
func classifyStress(res *SendResult, err error) stressOutcome {
	var limited *RateLimitedError
	switch {
	case err == nil:
		return stressOutcome{status: sendSent, messageID: res.MessageID}
	case errors.Is(err, ErrOutcomeUnknown):
		return stressOutcome{status: sendUnknown, err: err}
	case errors.As(err, &limited), errors.Is(err, ErrUpstreamUnavailable), errors.Is(err, ErrSendInProgress):
		return stressOutcome{err: err}
	}
	return stressOutcome{status: sendFailed, err: err}
}

// checkStress accounts for every send: a success is in the emulator exactly
// once with its id, a failure not at all, an unknown outcome at most once,
// and every emulator message belongs to a send. The records agree.
func checkStress(t *testing.T, h *harness, d *db.DB, outcomes []stressOutcome) {
	t.Helper()
	posted := map[string][]string{} // content → message ids
	for _, m := range h.messages() {
		if !strings.HasPrefix(m.Content, "stress message ") {
			t.Errorf("emulator holds a message no send made: %q", m.Content)
		}
		posted[m.Content] = append(posted[m.Content], m.ID)
	}

	tally := map[string]int{}
	for i, o := range outcomes {
		tally[o.status]++
		ids := posted[fmt.Sprintf("stress message %d", i)]
		switch {
		case len(ids) > 1:
			t.Errorf("send %d: posted %d times (%v), want at most once", i, len(ids), ids)
		case o.status == sendSent && (len(ids) != 1 || ids[0] != o.messageID):
			t.Errorf("send %d: succeeded with message %s, emulator holds %v", i, o.messageID, ids)
		case o.status == sendFailed && len(ids) != 0:
			t.Errorf("send %d: failed (%v), but the emulator holds %v", i, o.err, ids)
		}
		if got := recordStatus(t, d, fmt.Sprintf("stress-%d", i)); got != o.status {
			t.Errorf("send %d: record status %q, want %q (%v)", i, got, o.status, o.err)
		}
	}
	t.Logf("%d sends: %d sent, %d outcome unknown, %d failed; %d messages posted",
		len(outcomes), tally[sendSent], tally[sendUnknown], tally[sendFailed], len(h.messages()))
	if tally[sendSent]+tally[sendUnknown]+tally[sendFailed] != len(outcomes) {
		t.Errorf("outcomes %v do not add up to %d sends", tally, len(outcomes))
	}
	if tally[sendSent] < len(outcomes)/2 {
		t.Errorf("only %d of %d sends succeeded, want most: the faults are too dense to test anything", tally[sendSent], len(outcomes))
	}
}
