package msemulator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Fault makes the next Count requests that match Method and PathPrefix fail
// or slow down.
type Fault struct {
	// Method matches the HTTP method; empty matches every method.
	Method string `json:"method"`
	// PathPrefix matches the start of the path relative to the emulator base,
	// such as "/v1.0/chats" or "/organizations/oauth2/v2.0/token"; empty
	// matches every path. Admin API paths are never faulted.
	PathPrefix string `json:"pathPrefix"`
	// Status is the response status code. Zero only delays the response.
	Status int `json:"status"`
	// RetryAfter, when positive, is sent as the Retry-After header in seconds.
	RetryAfter int `json:"retryAfter"`
	// DelayMs delays the response by this many milliseconds.
	DelayMs int `json:"delayMs"`
	// Count is how many requests the fault applies to; 0 means 1.
	Count int `json:"count"`
	// AfterHandler runs the real handler first, so its effects happen, and
	// then delays or replaces its response.
	AfterHandler bool `json:"afterHandler"`
}

// AddFault adds a fault. Faults are matched in the order they were added.
func (e *Emulator) AddFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults = append(e.state.faults, &f)
}

// Faults returns the faults that still have requests left.
func (e *Emulator) Faults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Fault, len(e.state.faults))
	for i, f := range e.state.faults {
		out[i] = *f
	}
	return out
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults = nil
}

// takeFault returns the first fault matching the request and uses up one of
// its requests.
func (e *Emulator) takeFault(method, path string) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.state.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		matched := *f
		f.Count--
		if f.Count <= 0 {
			e.state.faults = append(e.state.faults[:i], e.state.faults[i+1:]...)
		}
		return matched, true
	}
	return Fault{}, false
}

func (e *Emulator) serveWithFaults(w http.ResponseWriter, r *http.Request, path string, rt route) {
	f, ok := e.takeFault(r.Method, path)
	if !ok {
		rt.handler(w, r)
		return
	}
	if f.AfterHandler {
		e.serveThenFault(w, r, rt, f)
		return
	}

	if !sleep(r.Context(), f.DelayMs) {
		return
	}
	if f.Status != 0 {
		e.writeFault(w, r, rt, f)
		return
	}
	rt.handler(w, r)
}

// serveThenFault runs the handler into a buffer, waits, and then sends either
// the fault or the buffered response.
func (e *Emulator) serveThenFault(w http.ResponseWriter, r *http.Request, rt route, f Fault) {
	buf := httptest.NewRecorder()
	rt.handler(buf, r)
	if !sleep(r.Context(), f.DelayMs) {
		return
	}
	if f.Status != 0 {
		e.writeFault(w, r, rt, f)
		return
	}
	for k, v := range buf.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.Code)
	_, _ = w.Write(buf.Body.Bytes())
}

func (e *Emulator) writeFault(w http.ResponseWriter, r *http.Request, rt route, f Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if rt.graph {
		e.writeGraphError(w, f.Status, faultGraphCode(f.Status), "Injected fault: "+http.StatusText(f.Status))
		return
	}
	e.writeTokenError(w, f.Status, aadFault(f.Status))
}

func faultGraphCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	case http.StatusInternalServerError:
		return "InternalServerError"
	case http.StatusBadGateway:
		return "BadGateway"
	}
	return "UnknownError"
}

// sleep waits ms milliseconds and reports false when ctx ends first.
func sleep(ctx context.Context, ms int) bool {
	if ms <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
