package msgraph

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestGetRetries(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int // 0 drops the connection; the reply after the last is 200
		wantWaits    []time.Duration
		wantRequests int
		wantStatus   int // 0 means success
	}{
		{"503 then ok", []int{503}, []time.Duration{500 * time.Millisecond}, 2, 0},
		{"504 then ok", []int{504}, []time.Duration{500 * time.Millisecond}, 2, 0},
		{"429 then ok", []int{429}, []time.Duration{500 * time.Millisecond}, 2, 0},
		{"dropped then ok", []int{0}, []time.Duration{500 * time.Millisecond}, 2, 0},
		{"500 not retried", []int{500}, nil, 1, 500},
		{"502 not retried", []int{502}, nil, 1, 502},
		{"400 not retried", []int{400}, nil, 1, 400},
		{"401 not retried", []int{401}, nil, 1, 401},
		{"403 not retried", []int{403}, nil, 1, 403},
		{"404 not retried", []int{404}, nil, 1, 404},
		{"503 exhausted", []int{503, 503, 503, 503}, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}, 4, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				switch {
				case n >= len(tt.statuses):
					writeJSON(w, http.StatusOK, userAdaJSON)
				case tt.statuses[n] == 0:
					dropConnection(t, w)
				default:
					writeJSON(w, tt.statuses[n], graphError("Some_Code", "failed"))
				}
			})
			c, waits := newTestClient(t, g, nil)

			_, err := c.User(context.Background(), testToken, "ada@contoso.com")

			if tt.wantStatus == 0 && err != nil {
				t.Errorf("User() = %v, want success", err)
			}
			if e, ok := asError(err); tt.wantStatus != 0 && (!ok || e.Status != tt.wantStatus) {
				t.Errorf("User() = %v, want a *Error with status %d", err, tt.wantStatus)
			}
			checkRequestCount(t, g, tt.wantRequests)
			if got := waits.recorded(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func dropConnection(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func TestRetryAfterOn503(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "7")
			writeJSON(w, http.StatusServiceUnavailable, graphError("ServiceUnavailable", "later"))
			return
		}
		writeJSON(w, http.StatusOK, userAdaJSON)
	})
	c, waits := newTestClient(t, g, nil)

	if _, err := c.Me(context.Background(), testToken); err != nil {
		t.Fatalf("Me() = %v", err)
	}

	if got, want := waits.recorded(), []time.Duration{7 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestRetrySleepCancelled(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "slow down"))
	})
	c, _ := newTestClient(t, g, func(o *Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error { return context.Canceled }
	})

	_, err := c.Me(context.Background(), testToken)

	if !errors.Is(err, context.Canceled) || !IsThrottled(err) {
		t.Errorf("Me() = %v, want the cancellation joined with the 429", err)
	}
	checkRequestCount(t, g, 1)
}

func TestDefaultSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepContext(cancelled, 1h) = %v, want context.Canceled", err)
	}
	if err := sleepContext(context.Background(), 0); err != nil {
		t.Errorf("sleepContext(0) = %v, want nil", err)
	}
}

func TestOnRequest(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "slow down"))
			return
		}
		writeJSON(w, http.StatusOK, userAdaJSON)
	})
	var mu sync.Mutex
	var infos []RequestInfo
	c, _ := newTestClient(t, g, func(o *Options) {
		o.OnRequest = func(ri RequestInfo) {
			mu.Lock()
			defer mu.Unlock()
			infos = append(infos, ri)
		}
	})

	if _, err := c.User(context.Background(), testToken, "ada@contoso.com"); err != nil {
		t.Fatalf("User() = %v", err)
	}

	if len(infos) != 2 {
		t.Fatalf("OnRequest calls = %d, want 2", len(infos))
	}
	want := []RequestInfo{
		{Endpoint: "GET /users/{id}", Status: 429, Attempt: 1, Throttled: true},
		{Endpoint: "GET /users/{id}", Status: 200, Attempt: 2, Retried: true},
	}
	for i := range infos {
		got := infos[i]
		if got.Duration <= 0 {
			t.Errorf("OnRequest[%d].Duration = %v, want > 0", i, got.Duration)
		}
		got.Duration = 0
		if got != want[i] {
			t.Errorf("OnRequest[%d] = %+v, want %+v", i, got, want[i])
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
		wantOK      bool
	}{
		{"empty", "", 0, false},
		{"seconds", "120", 2 * time.Minute, true},
		{"spaces", " 5 ", 5 * time.Second, true},
		{"zero", "0", 0, true},
		{"negative", "-1", 0, false},
		{"over a day", "90000", 0, false},
		{"http date", testNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"rfc 850 date", testNow.Add(time.Minute).Format(time.RFC850), time.Minute, true},
		{"past date", testNow.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"garbage", "later", 0, false},
		{"fraction", "1.5", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.value, testNow)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v, want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	c, err := New(Options{Jitter: func(d time.Duration) time.Duration { return d }})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := c.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := c.backoff(200); got != backoffMax {
		t.Errorf("backoff(200) = %v, want %v", got, backoffMax)
	}
}

func TestDefaultJitter(t *testing.T) {
	d := time.Second
	for range 1000 {
		if got := defaultJitter(d); got < d/2 || got >= d*3/2 {
			t.Fatalf("defaultJitter(%v) = %v, want within [%v, %v)", d, got, d/2, d*3/2)
		}
	}
	if got := defaultJitter(0); got != 0 {
		t.Errorf("defaultJitter(0) = %v, want 0", got)
	}
}
