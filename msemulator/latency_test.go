package msemulator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGraphLatencySetting checks that GraphLatencyMs holds back Graph
// requests before their handler runs, and leaves the identity platform and
// the admin API alone. The latency is far longer than the client waits, so
// the outcome does not depend on the machine's speed.
func TestGraphLatencySetting(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	chatID := h.openChat(token, DemoRecruiterID, DemoAdaID)

	if resp := h.submitJSON(http.MethodPost, "/_admin/settings", map[string]any{"graphLatencyMs": 600_000}); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_admin/settings graphLatencyMs = %d, want 200", resp.StatusCode)
	}
	if got := h.emu.CurrentSettings().GraphLatencyMs; got != 600_000 {
		t.Fatalf("CurrentSettings().GraphLatencyMs = %d, want 600000", got)
	}

	// The token endpoint responds at once, else signing in again would hang.
	if again := h.userToken(DemoRecruiterUPN); again == "" {
		t.Fatal("userToken() with Graph latency set = empty, want a token")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.base+messagePath(chatID),
		strings.NewReader(`{"body":{"contentType":"text","content":"held back"}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("POST message with latency 600 s: error = %v, want context.DeadlineExceeded", err)
	}
	if got := h.emu.Messages(); len(got) != 0 {
		t.Errorf("Messages() = %d messages, want none: the latency comes before the handler", len(got))
	}
}
