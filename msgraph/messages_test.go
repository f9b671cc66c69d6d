package msgraph

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

const messageJSON = `{"id":"1741082400123","replyToId":null,"messageType":"message","createdDateTime":"2025-03-04T10:00:00.123Z","chatId":"` + chatID + `","webUrl":null,"from":{"application":null,"user":{"@odata.type":"#microsoft.graph.teamworkUserIdentity","id":"` + selfID + `","displayName":"Rita Recruiter"}},"body":{"contentType":"text","content":"Hello"}}`

func TestSendChatMessage(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, messageJSON)
	})
	c, _ := newTestClient(t, g, nil)

	m, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentHTML, `<p>Hi & "bye"</p>`)
	if err != nil {
		t.Fatalf("SendChatMessage() = %v", err)
	}

	want := ChatMessage{ID: "1741082400123", ChatID: chatID, CreatedDateTime: time.Date(2025, 3, 4, 10, 0, 0, 123e6, time.UTC), FromUserID: selfID}
	if *m != want {
		t.Errorf("SendChatMessage() = %+v, want %+v", *m, want)
	}
	r := checkRequestCount(t, g, 1)[0]
	checkCommonHeaders(t, r)
	if wantPath := "/v1.0/chats/" + chatID + "/messages"; r.Method != http.MethodPost || r.EscapedPath != wantPath {
		t.Errorf("request = %s %s, want POST %s", r.Method, r.EscapedPath, wantPath)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got, want := string(r.Body), `{"body":{"contentType":"html","content":"<p>Hi & \"bye\"</p>"}}`; got != want {
		t.Errorf("request body = %s, want %s", got, want)
	}
}

func TestSendChatMessagePath(t *testing.T) {
	tests := []struct{ name, chatID, wantPath string }{
		{"one on one", chatID, "/v1.0/chats/" + chatID + "/messages"},
		{"group", "19:meeting_abc@thread.v2", "/v1.0/chats/19:meeting_abc@thread.v2/messages"},
		{"hash and slash", "19:a#b/c@thread.v2", "/v1.0/chats/19:a%23b%2Fc@thread.v2/messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusCreated, `{"id":"1","createdDateTime":"2025-03-04T10:00:00Z"}`)
			})
			c, _ := newTestClient(t, g, nil)

			m, err := c.SendChatMessage(context.Background(), testToken, tt.chatID, ContentText, "hi")
			if err != nil {
				t.Fatalf("SendChatMessage(%q) = %v", tt.chatID, err)
			}

			if r := checkRequestCount(t, g, 1)[0]; r.EscapedPath != tt.wantPath {
				t.Errorf("SendChatMessage(%q) path = %q, want %q", tt.chatID, r.EscapedPath, tt.wantPath)
			}
			if m.ChatID != tt.chatID {
				t.Errorf("SendChatMessage(%q) ChatID = %q, want the requested id when Graph omits chatId", tt.chatID, m.ChatID)
			}
		})
	}
}

func TestSendChatMessageRetry429(t *testing.T) {
	tests := []struct {
		name        string
		retryAfters []string // one per 429; the reply after the last is 201
		wantWaits   []time.Duration
	}{
		{"seconds", []string{"2"}, []time.Duration{2 * time.Second}},
		{"http date", []string{testNow.Add(3 * time.Second).Format(http.TimeFormat)}, []time.Duration{3 * time.Second}},
		{"past date", []string{testNow.Add(-time.Minute).Format(http.TimeFormat)}, []time.Duration{0}},
		{"zero seconds", []string{"0"}, []time.Duration{0}},
		{"backoff", []string{"", "", ""}, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}},
		{"invalid header", []string{"soon"}, []time.Duration{500 * time.Millisecond}},
		{"mixed", []string{"", "3"}, []time.Duration{500 * time.Millisecond, 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n < len(tt.retryAfters) {
					if v := tt.retryAfters[n]; v != "" {
						w.Header().Set("Retry-After", v)
					}
					writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "Too many requests"))
					return
				}
				writeJSON(w, http.StatusCreated, messageJSON)
			})
			c, waits := newTestClient(t, g, nil)

			if _, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello"); err != nil {
				t.Fatalf("SendChatMessage() = %v", err)
			}

			if got := waits.recorded(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			seen := checkRequestCount(t, g, len(tt.retryAfters)+1)
			for i, r := range seen {
				checkCommonHeaders(t, r)
				if !bytes.Equal(r.Body, seen[0].Body) || len(r.Body) == 0 {
					t.Errorf("attempt %d body = %q, want the non-empty bytes of attempt 0 %q", i, r.Body, seen[0].Body)
				}
				if got, first := r.Header.Get("client-request-id"), seen[0].Header.Get("client-request-id"); got != first {
					t.Errorf("attempt %d client-request-id = %q, want %q as on attempt 0", i, got, first)
				}
			}
		})
	}
}

func TestSendChatMessageThrottled(t *testing.T) {
	tests := []struct {
		name          string
		retryAfter    string
		edit          func(*Options)
		wantRequests  int
		wantWaits     []time.Duration
		wantRetryWait time.Duration
	}{
		{"first wait over bound", "30", nil, 1, nil, 30 * time.Second},
		{"total wait over bound", "4", nil, 3, []time.Duration{4 * time.Second, 4 * time.Second}, 4 * time.Second},
		{"retries exhausted", "1", nil, 4, []time.Duration{time.Second, time.Second, time.Second}, time.Second},
		{"backoff exhausted", "", nil, 4, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}, 4 * time.Second},
		{"retries disabled", "1", func(o *Options) { o.MaxRetries = -1 }, 1, nil, time.Second},
		{"custom bound", "2", func(o *Options) { o.MaxRetryWait = 3 * time.Second }, 2, []time.Duration{2 * time.Second}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "Too many requests"))
			})
			c, waits := newTestClient(t, g, tt.edit)

			_, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

			if !IsThrottled(err) {
				t.Fatalf("SendChatMessage() = %v, want a throttled error", err)
			}
			if errors.Is(err, ErrOutcomeUnknown) {
				t.Errorf("SendChatMessage() = %v, want a 429 not to be an unknown outcome", err)
			}
			if e, _ := asError(err); e.RetryAfter != tt.wantRetryWait {
				t.Errorf("SendChatMessage() RetryAfter = %v, want %v", e.RetryAfter, tt.wantRetryWait)
			}
			checkRequestCount(t, g, tt.wantRequests)
			if got := waits.recorded(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestSendChatMessageOutcomeUnknown5xx(t *testing.T) {
	for _, status := range []int{408, 500, 501, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "1")
				writeJSON(w, status, graphError("ServiceUnavailable", "try later"))
			})
			c, waits := newTestClient(t, g, nil)

			_, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

			if !errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("SendChatMessage() = %v, want ErrOutcomeUnknown", err)
			}
			var ou *OutcomeUnknownError
			if !errors.As(err, &ou) || ou.Endpoint != "POST /chats/{id}/messages" {
				t.Errorf("SendChatMessage() = %#v, want an *OutcomeUnknownError for POST /chats/{id}/messages", err)
			}
			if e, ok := asError(err); !ok || e.Status != status || e.RequestID == "" {
				t.Errorf("SendChatMessage() cause = %v, want a *Error with status %d and a request-id", err, status)
			}
			r := checkRequestCount(t, g, 1)[0]
			if ou != nil && ou.ClientRequestID != r.Header.Get("client-request-id") {
				t.Errorf("ClientRequestID = %q, want the sent %q", ou.ClientRequestID, r.Header.Get("client-request-id"))
			}
			if got := waits.recorded(); len(got) != 0 {
				t.Errorf("waits = %v, want none", got)
			}
		})
	}
}

func TestSendChatMessageNotRetried4xx(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, status, graphError("Forbidden", "no"))
			})
			c, _ := newTestClient(t, g, nil)

			_, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

			if e, ok := asError(err); !ok || e.Status != status {
				t.Errorf("SendChatMessage() = %v, want a *Error with status %d", err, status)
			}
			if errors.Is(err, ErrOutcomeUnknown) {
				t.Errorf("SendChatMessage() = %v, want a %d not to be an unknown outcome", err, status)
			}
			checkRequestCount(t, g, 1)
		})
	}
}

func TestSendChatMessageTimeoutAfterReceived(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hold the POST until the client gives up
	})
	c, waits := newTestClient(t, g, func(o *Options) { o.RequestTimeout = 100 * time.Millisecond })

	_, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendChatMessage() = %v, want ErrOutcomeUnknown caused by the attempt deadline", err)
	}
	checkRequestCount(t, g, 1)
	if got := waits.recorded(); len(got) != 0 {
		t.Errorf("waits = %v, want none", got)
	}
}

func TestSendChatMessageCancelAfterReceived(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	c, _ := newTestClient(t, g, nil)

	_, err := c.SendChatMessage(ctx, testToken, chatID, ContentText, "Hello")

	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, context.Canceled) {
		t.Errorf("SendChatMessage() = %v, want ErrOutcomeUnknown caused by the cancelled context", err)
	}
	checkRequestCount(t, g, 1)
}

func TestSendChatMessageConnectionDropped(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close() // the body was read: drop the connection without a response
	})
	c, _ := newTestClient(t, g, nil)

	_, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("SendChatMessage() = %v, want ErrOutcomeUnknown", err)
	}
	checkRequestCount(t, g, 1)
}

func TestSendChatMessageUnreadableSuccess(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, `{"id":`)
	})
	c, _ := newTestClient(t, g, nil)

	_, err := c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("SendChatMessage() = %v, want ErrOutcomeUnknown for a 201 whose body cannot be decoded", err)
	}
	checkRequestCount(t, g, 1)
}

func TestSendChatMessageRefusedConnection(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	baseURL := closed.URL + "/v1.0"
	closed.Close()
	waits := &waitRecorder{}
	var infos []RequestInfo
	c, err := New(Options{
		BaseURL:   baseURL,
		Sleep:     waits.sleep,
		Jitter:    func(d time.Duration) time.Duration { return d },
		OnRequest: func(ri RequestInfo) { infos = append(infos, ri) },
	})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}

	_, err = c.SendChatMessage(context.Background(), testToken, chatID, ContentText, "Hello")

	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("SendChatMessage() = %v, want a network error that is not an unknown outcome", err)
	}
	if len(infos) != 4 {
		t.Errorf("attempts = %d, want 4: a refused connection never carried the message", len(infos))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}
	if got := waits.recorded(); !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestSendChatMessageValidation(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, messageJSON)
	})
	c, _ := newTestClient(t, g, nil)

	tests := []struct {
		name, chatID string
		ct           ContentType
	}{
		{"empty chat id", "", ContentText},
		{"empty content type", chatID, ""},
		{"markdown", chatID, "markdown"},
	}
	for _, tt := range tests {
		_, err := c.SendChatMessage(context.Background(), testToken, tt.chatID, tt.ct, "Hello")
		if err == nil || errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("%s: SendChatMessage(%q, %q) = %v, want an input error", tt.name, tt.chatID, tt.ct, err)
		}
	}
	checkRequestCount(t, g, 0)
}
