package msgraph

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is Microsoft Graph v1.0, used when Options.BaseURL is empty.
const DefaultBaseURL = "https://graph.microsoft.com/v1.0"

// Defaults for the zero values of Options.
const (
	DefaultRequestTimeout = 15 * time.Second
	DefaultMaxRetryWait   = 10 * time.Second
	DefaultMaxRetries     = 3
)

// Options configures a Client. Every field is optional.
type Options struct {
	// BaseURL is the Graph root, such as "https://graph.microsoft.com/v1.0"
	// or an emulator's "{base}/v1.0". A trailing slash is removed.
	BaseURL string
	// HTTPClient sends the requests. Nil means a dedicated client whose
	// Transport keeps up to 128 idle connections per host. Its Timeout should
	// be zero: RequestTimeout bounds each attempt through the context.
	HTTPClient *http.Client
	// Now is the clock used to read HTTP-date Retry-After values. Nil means time.Now.
	Now func() time.Time
	// Sleep waits between attempts and returns early with ctx's error.
	// Nil means a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// RequestTimeout bounds each attempt, response body included.
	// Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRetryWait bounds the total time spent waiting between attempts of
	// one call. Zero means DefaultMaxRetryWait; a negative value disables
	// every retry that needs a wait.
	MaxRetryWait time.Duration
	// MaxRetries is the number of retries after the first attempt.
	// Zero means DefaultMaxRetries; a negative value disables retries.
	MaxRetries int
	// Jitter spreads a computed backoff. It is not applied to a Retry-After
	// wait. Nil means a random duration between d/2 and 3d/2.
	Jitter func(d time.Duration) time.Duration
	// OnRequest, when set, observes every attempt, for metrics. It runs on
	// the calling goroutine and must not block.
	OnRequest func(RequestInfo)
}

// RequestInfo describes one attempt of one Graph call.
type RequestInfo struct {
	// Endpoint is the endpoint template, such as "GET /users/{id}"; it never
	// contains ids, addresses or search terms.
	Endpoint string
	// Status is the HTTP status code, or 0 when no response arrived.
	Status int
	// Duration is the time from sending the request to reading the body.
	Duration time.Duration
	// Attempt counts from 1.
	Attempt int
	// Retried reports that this attempt is a retry (Attempt > 1).
	Retried bool
	// Throttled reports a 429 response.
	Throttled bool
	// Err is the network or context error of the attempt, if any.
	Err error
}

// Client calls Microsoft Graph with an access token given per call. It keeps
// no token and no state between calls and is safe for concurrent use.
type Client struct {
	baseURL        string
	base           *url.URL
	httpClient     *http.Client
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
	requestTimeout time.Duration
	maxRetryWait   time.Duration
	maxRetries     int
	jitter         func(d time.Duration) time.Duration
	onRequest      func(RequestInfo)
}

// New validates o, fills in the defaults and returns a Client.
func New(o Options) (*Client, error) {
	baseURL := strings.TrimRight(o.BaseURL, "/")
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("msgraph: invalid base URL %q: %w", o.BaseURL, err)
	}
	if (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("msgraph: invalid base URL %q: want an absolute http or https URL without query or fragment", o.BaseURL)
	}

	c := &Client{
		baseURL:        baseURL,
		base:           base,
		httpClient:     o.HTTPClient,
		now:            o.Now,
		sleep:          o.Sleep,
		requestTimeout: o.RequestTimeout,
		maxRetryWait:   o.MaxRetryWait,
		maxRetries:     o.MaxRetries,
		jitter:         o.Jitter,
		onRequest:      o.OnRequest,
	}
	c.fillDefaults()
	return c, nil
}

func (c *Client) fillDefaults() {
	if c.httpClient == nil {
		c.httpClient = &http.Client{Transport: newTransport()}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}
	if c.requestTimeout <= 0 {
		c.requestTimeout = DefaultRequestTimeout
	}
	switch {
	case c.maxRetryWait == 0:
		c.maxRetryWait = DefaultMaxRetryWait
	case c.maxRetryWait < 0:
		c.maxRetryWait = 0
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.jitter == nil {
		c.jitter = defaultJitter
	}
}

// BaseURL returns the Graph root the client sends to, without a trailing slash.
func (c *Client) BaseURL() string {
	return c.baseURL
}

// newTransport clones http.DefaultTransport, proxy settings from the
// environment included, and keeps more idle connections per host so that
// concurrent sends reuse TLS connections to Graph.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ForceAttemptHTTP2 = true
	return t
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func defaultJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d/2 + rand.N(d)
}
