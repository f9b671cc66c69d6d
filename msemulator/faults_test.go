package msemulator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultRetryAfter(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	resp := h.submitJSON(http.MethodPost, "/_admin/faults", Fault{Method: "GET", PathPrefix: "/v1.0/me", Status: 429, RetryAfter: 7, Count: 2})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /_admin/faults = %d, want 204", resp.StatusCode)
	}

	for i := range 2 {
		resp, body := h.graph(http.MethodGet, "/v1.0/me", token, nil, nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" || graphErrorCode(body) != "TooManyRequests" {
			t.Errorf("GET /me #%d = %d Retry-After %q %s, want 429 with Retry-After 7", i+1, resp.StatusCode, resp.Header.Get("Retry-After"), graphErrorCode(body))
		}
	}
	if resp, _ := h.graph(http.MethodGet, "/v1.0/me", token, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /me after the fault = %d, want 200", resp.StatusCode)
	}
	counts := h.emu.RequestCounts()
	if counts["GET /v1.0/me 429"] != 2 || counts["GET /v1.0/me 200"] != 1 {
		t.Errorf("RequestCounts() = %v, want 2×429 and 1×200 for GET /v1.0/me", counts)
	}
}

func TestFaultOnTokenEndpoint(t *testing.T) {
	h := newHarness(t)
	rt := h.signIn(DemoRecruiterUPN, serviceScopes).RefreshToken
	h.emu.AddFault(Fault{PathPrefix: "/organizations/oauth2/v2.0/token", Status: 503})
	status, body := h.token(refreshForm(rt))
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("token during fault = %d %v, want 503 temporarily_unavailable", status, body["error"])
	}
}

// TestFaultAfterHandler checks that the message is stored although the
// client gives up before the delayed response arrives.
func TestFaultAfterHandler(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	chatID := h.openChat(token, DemoRecruiterID, DemoAdaID)
	h.emu.AddFault(Fault{Method: "POST", PathPrefix: "/v1.0/chats/", DelayMs: 60_000, AfterHandler: true})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.base+messagePath(chatID),
		strings.NewReader(`{"body":{"contentType":"text","content":"lost reply"}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	done := make(chan error, 1)
	go func() {
		resp, err := h.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()

	// Wait until the handler has stored the message, then give up as a
	// timed-out client would.
	for len(h.emu.Messages()) == 0 {
		select {
		case err := <-done:
			t.Fatalf("client returned before the message was stored: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v, want context.Canceled", err)
	}
	if got := h.emu.Messages(); len(got) != 1 || got[0].Content != "lost reply" {
		t.Errorf("Messages() = %+v, want the message stored", got)
	}
}

func TestFaultAfterHandlerStatus(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	chatID := h.openChat(token, DemoRecruiterID, DemoAdaID)
	h.emu.AddFault(Fault{Method: "POST", PathPrefix: "/v1.0/chats/", Status: 504, AfterHandler: true})

	resp, _ := h.graph(http.MethodPost, messagePath(chatID), token, map[string]any{"body": map[string]string{"content": "hi"}}, nil)
	if resp.StatusCode != http.StatusGatewayTimeout || len(h.emu.Messages()) != 1 {
		t.Errorf("POST messages = %d with %d stored, want 504 with the message stored", resp.StatusCode, len(h.emu.Messages()))
	}
}
