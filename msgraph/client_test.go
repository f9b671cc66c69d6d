package msgraph

import (
	"net/http"
	"testing"
	"time"
)

func TestNewBaseURL(t *testing.T) {
	tests := []struct {
		name, baseURL, want string
	}{
		{"default", "", DefaultBaseURL},
		{"trailing slash", "https://graph.microsoft.com/v1.0/", "https://graph.microsoft.com/v1.0"},
		{"emulator", "http://127.0.0.1:8080/_ms/v1.0", "http://127.0.0.1:8080/_ms/v1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{BaseURL: tt.baseURL})
			if err != nil {
				t.Fatalf("New(%q) = %v", tt.baseURL, err)
			}
			if got := c.BaseURL(); got != tt.want {
				t.Errorf("New(%q).BaseURL() = %q, want %q", tt.baseURL, got, tt.want)
			}
		})
	}
}

func TestNewRejectsBaseURL(t *testing.T) {
	for _, baseURL := range []string{
		"graph.microsoft.com/v1.0",
		"ftp://graph.microsoft.com/v1.0",
		"https:///v1.0",
		"https://graph.microsoft.com/v1.0?x=1",
		"https://graph.microsoft.com/v1.0#frag",
		"https://graph microsoft.com",
	} {
		if _, err := New(Options{BaseURL: baseURL}); err == nil {
			t.Errorf("New(%q) = nil error, want an invalid base URL error", baseURL)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}

	if c.requestTimeout != 15*time.Second || c.maxRetryWait != 10*time.Second || c.maxRetries != 3 {
		t.Errorf("New() timeout, bound, retries = %v, %v, %d, want 15s, 10s, 3", c.requestTimeout, c.maxRetryWait, c.maxRetries)
	}
	tr, ok := c.httpClient.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("New() transport = %T, want *http.Transport", c.httpClient.Transport)
	}
	if tr.MaxIdleConnsPerHost < 100 {
		t.Errorf("MaxIdleConnsPerHost = %d, want at least 100", tr.MaxIdleConnsPerHost)
	}
	if c.httpClient == http.DefaultClient || tr == http.DefaultTransport {
		t.Errorf("New() uses the shared default client or transport, want a dedicated one")
	}
}

func TestNewDisabledRetries(t *testing.T) {
	c, err := New(Options{MaxRetries: -1, MaxRetryWait: -1})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if c.maxRetries != 0 || c.maxRetryWait != 0 {
		t.Errorf("New(-1, -1) retries, bound = %d, %v, want 0, 0", c.maxRetries, c.maxRetryWait)
	}
}
