package msgraph

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "test-access-token-7f3a"

// testNow is the injected clock; HTTP-date Retry-After values are relative to it.
var testNow = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// seenRequest is what the fake Graph server received.
type seenRequest struct {
	Method      string
	EscapedPath string
	RawQuery    string
	Header      http.Header
	Body        []byte
}

// query returns the decoded value of one query parameter.
func (r seenRequest) query(t *testing.T, name string) string {
	t.Helper()
	for _, pair := range strings.Split(r.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if k == name {
			dec, err := url.QueryUnescape(v)
			if err != nil {
				t.Fatalf("query %s=%q: %v", name, v, err)
			}
			return dec
		}
	}
	return ""
}

// fakeGraph is a loopback Graph server. reply writes the response to the
// n-th request (counting from 0); every request is recorded.
type fakeGraph struct {
	t     *testing.T
	srv   *httptest.Server
	reply func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	requests []seenRequest
}

func newFakeGraph(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *fakeGraph {
	t.Helper()
	g := &fakeGraph{t: t, reply: reply}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		g.t.Errorf("read request body: %v", err)
	}
	g.mu.Lock()
	n := len(g.requests)
	g.requests = append(g.requests, seenRequest{
		Method:      r.Method,
		EscapedPath: r.URL.EscapedPath(),
		RawQuery:    r.URL.RawQuery,
		Header:      r.Header.Clone(),
		Body:        body,
	})
	g.mu.Unlock()
	g.reply(n, w, r)
}

func (g *fakeGraph) baseURL() string { return g.srv.URL + "/v1.0" }

func (g *fakeGraph) seen() []seenRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seenRequest(nil), g.requests...)
}

// waitRecorder is an injected Sleep that records waits and never sleeps.
type waitRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitRecorder) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waitRecorder) recorded() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.waits...)
}

// newTestClient returns a client for g with a fixed clock, no jitter and
// recorded waits. edit may change the options first.
func newTestClient(t *testing.T, g *fakeGraph, edit func(*Options)) (*Client, *waitRecorder) {
	t.Helper()
	waits := &waitRecorder{}
	o := Options{
		BaseURL:    g.baseURL(),
		HTTPClient: g.srv.Client(),
		Now:        func() time.Time { return testNow },
		Sleep:      waits.sleep,
		Jitter:     func(d time.Duration) time.Duration { return d },
	}
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c, waits
}

// writeJSON writes a JSON response with Graph's request-id header.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req-"+fmt.Sprint(status))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// graphError returns Graph's error envelope.
func graphError(code, message string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":%q,"innerError":{"date":"2025-03-04T10:00:00","request-id":"inner-req","client-request-id":"inner-client"}}}`, code, message)
}

const userAdaJSON = `{"id":"6e7b768e-07e2-4810-8459-485f84f8f204","displayName":"Ada Lovelace","givenName":"Ada","surname":"Lovelace","mail":"ada@contoso.com","userPrincipalName":"ada@contoso.com"}`

// checkCommonHeaders asserts the headers every request carries.
func checkCommonHeaders(t *testing.T, r seenRequest) {
	t.Helper()
	if got, want := r.Header.Get("Authorization"), "Bearer "+testToken; got != want {
		t.Errorf("%s %s: Authorization = %q, want %q", r.Method, r.EscapedPath, got, want)
	}
	if got, want := r.Header.Get("Accept"), "application/json"; got != want {
		t.Errorf("%s %s: Accept = %q, want %q", r.Method, r.EscapedPath, got, want)
	}
	if got := r.Header.Get("client-request-id"); !uuidPattern.MatchString(got) {
		t.Errorf("%s %s: client-request-id = %q, want a random UUID", r.Method, r.EscapedPath, got)
	}
}

// checkRequestCount asserts how many requests g received.
func checkRequestCount(t *testing.T, g *fakeGraph, want int) []seenRequest {
	t.Helper()
	seen := g.seen()
	if len(seen) != want {
		t.Fatalf("server received %d requests, want %d", len(seen), want)
	}
	return seen
}
