package msgraph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

const (
	// maxResponseBody bounds a response body. A page of 999 users is far smaller.
	maxResponseBody = 4 << 20
	// backoffBase is the first computed wait when Graph sends no Retry-After.
	backoffBase = 500 * time.Millisecond
	// backoffMax caps a computed wait before jitter.
	backoffMax = 8 * time.Second
)

// retryPolicy selects which failures of a call are retried.
type retryPolicy int

const (
	// retryRead is for GET lookups: 429, 503, 504 and network errors.
	retryRead retryPolicy = iota
	// retryIdempotentPost is for POST /chats of a 1:1 chat, which returns the
	// existing chat on a repeat: 429, every 5xx and network errors.
	retryIdempotentPost
	// retryMessagePost is for a message POST: only 429, and network errors
	// before any byte of the request was written. A 5xx, or a failure after
	// the request was written, is an *OutcomeUnknownError.
	retryMessagePost
)

// request is one logical Graph call. body is built once, so every attempt
// sends the same bytes.
type request struct {
	method   string
	endpoint string // template for errors and metrics, such as "GET /users/{id}"
	url      string // absolute URL
	body     []byte // nil for a GET
	header   map[string]string
	policy   retryPolicy
}

// attemptResult is the outcome of one attempt: a response or an error.
type attemptResult struct {
	status      int
	header      http.Header
	body        []byte
	err         error
	mayHaveSent bool // meaningful when err != nil
}

// do sends r until it succeeds, fails for good, or the retry budget runs out,
// and decodes a 2xx JSON body into out when out is not nil.
func (c *Client) do(ctx context.Context, token string, r *request, out any) error {
	if token == "" {
		return errMissingToken
	}
	clientRequestID := uuid.NewString()

	var waited time.Duration
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("msgraph: %s: %w", r.endpoint, err)
		}
		res := c.attempt(ctx, token, r, clientRequestID, attempt)
		if res.err == nil && res.status >= 200 && res.status < 300 {
			return decodeBody(r, clientRequestID, res.body, out)
		}

		failure, wait, retry := c.classify(ctx, r, clientRequestID, res, attempt)
		if !retry {
			return failure
		}
		if attempt > c.maxRetries || waited+wait > c.maxRetryWait {
			return exhausted(failure, wait)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("msgraph: %s: wait before retry: %w", r.endpoint, errors.Join(err, failure))
		}
		waited += wait
	}
}

// classify turns a failed attempt into the error to return, and decides
// whether to retry it and after which wait.
func (c *Client) classify(ctx context.Context, r *request, clientRequestID string, res attemptResult, attempt int) (error, time.Duration, bool) {
	if res.err != nil {
		if r.policy == retryMessagePost && res.mayHaveSent {
			return &OutcomeUnknownError{Endpoint: r.endpoint, ClientRequestID: clientRequestID, Err: res.err}, 0, false
		}
		failure := fmt.Errorf("msgraph: %s: %w", r.endpoint, res.err)
		if ctx.Err() != nil {
			return failure, 0, false
		}
		return failure, c.backoff(attempt), true
	}

	e := newError(r.endpoint, clientRequestID, res.status, res.header, res.body, c.now())
	// A 5xx or a 408 may come after Graph acted on the POST.
	if r.policy == retryMessagePost && (res.status >= 500 || res.status == http.StatusRequestTimeout) {
		return &OutcomeUnknownError{Endpoint: r.endpoint, ClientRequestID: clientRequestID, Err: e}, 0, false
	}
	if !retryableStatus(r.policy, res.status) {
		return e, 0, false
	}
	if wait, ok := parseRetryAfter(res.header.Get("Retry-After"), c.now()); ok {
		return e, wait, true
	}
	return e, c.backoff(attempt), true
}

func retryableStatus(p retryPolicy, status int) bool {
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case p == retryRead:
		return status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	case p == retryIdempotentPost:
		return status >= 500
	default:
		return false
	}
}

// exhausted returns the last failure once no retry is left. A 429 carries
// the wait that the next retry would have used.
func exhausted(failure error, nextWait time.Duration) error {
	var e *Error
	if errors.As(failure, &e) && e.Status == http.StatusTooManyRequests {
		e.RetryAfter = nextWait
	}
	return failure
}

// backoff is the computed wait before retry number attempt: backoffBase
// doubled per attempt, capped at backoffMax, then spread by the jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := backoffBase
	for i := 1; i < attempt && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	return max(c.jitter(d), 0)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date
// (RFC 9110, section 10.2.3). A date in the past means no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > int64(24*time.Hour/time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// attempt sends r once under the per-attempt timeout and reads the body.
func (c *Client) attempt(ctx context.Context, token string, r *request, clientRequestID string, attempt int) attemptResult {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	trace := &sendTrace{}
	ctx = httptrace.WithClientTrace(ctx, trace.clientTrace())

	req, err := c.newHTTPRequest(ctx, token, r, clientRequestID)
	if err != nil {
		return attemptResult{err: err}
	}
	start := time.Now()
	res := c.send(req, trace)
	c.observe(r, res, attempt, time.Since(start))
	return res
}

func (c *Client) send(req *http.Request, trace *sendTrace) attemptResult {
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return attemptResult{err: unwrapURLError(err), mayHaveSent: trace.mayHaveSent()}
	}
	defer resp.Body.Close()

	body, err := readBody(resp.Body)
	success := resp.StatusCode >= 200 && resp.StatusCode < 300
	if err != nil && success {
		// Graph acted on the request but the result is lost.
		return attemptResult{status: resp.StatusCode, err: fmt.Errorf("read response: %w", err), mayHaveSent: true}
	}
	return attemptResult{status: resp.StatusCode, header: resp.Header, body: body}
}

func (c *Client) newHTTPRequest(ctx context.Context, token string, r *request, clientRequestID string) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		// A fresh reader per attempt; NewRequest also sets GetBody and ContentLength.
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, fmt.Errorf("msgraph: %s: build request: %w", r.endpoint, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", clientRequestID)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	return req, nil
}

func (c *Client) observe(r *request, res attemptResult, attempt int, d time.Duration) {
	if c.onRequest == nil {
		return
	}
	c.onRequest(RequestInfo{
		Endpoint:  r.endpoint,
		Status:    res.status,
		Duration:  d,
		Attempt:   attempt,
		Retried:   attempt > 1,
		Throttled: res.status == http.StatusTooManyRequests,
		Err:       res.err,
	})
}

// decodeBody decodes a 2xx body. For a message POST a body that cannot be
// decoded means the message was posted but its id is lost, so the outcome
// is reported as unknown.
func decodeBody(r *request, clientRequestID string, body []byte, out any) error {
	if out == nil {
		return nil
	}
	err := json.Unmarshal(body, out)
	if err == nil {
		return nil
	}
	if r.policy == retryMessagePost {
		return &OutcomeUnknownError{Endpoint: r.endpoint, ClientRequestID: clientRequestID, Err: fmt.Errorf("decode response: %w", err)}
	}
	return fmt.Errorf("msgraph: %s: decode response: %w", r.endpoint, err)
}

func readBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxResponseBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxResponseBody {
		return nil, fmt.Errorf("response body exceeds %d bytes", maxResponseBody)
	}
	return body, nil
}

// unwrapURLError drops the *url.Error layer, whose text repeats the full URL
// with ids and addresses; the endpoint template replaces it.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sendTrace records whether a request may have reached the server.
type sendTrace struct {
	getConn      atomic.Bool
	wroteHeaders atomic.Bool
}

func (t *sendTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:      func(string) { t.getConn.Store(true) },
		WroteHeaders: func() { t.wroteHeaders.Store(true) },
	}
}

// mayHaveSent reports whether a failed request may have reached the server.
// It is false only when the transport traced the request and never started
// writing it. A transport that does not call the trace hooks counts as sent.
func (t *sendTrace) mayHaveSent() bool {
	return t.wroteHeaders.Load() || !t.getConn.Load()
}
