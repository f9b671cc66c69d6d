package msemulator

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// route is the handler for one path template.
type route struct {
	template string
	graph    bool // Graph endpoint: request-id headers and Graph error envelope
	handler  http.HandlerFunc
}

// ServeHTTP serves the identity platform, Graph and admin endpoints listed in
// the package documentation.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	e.learnBaseURL(r)
	if path == "/_admin" || strings.HasPrefix(path, "/_admin/") {
		e.serveAdmin(w, r, strings.TrimPrefix(path, "/_admin"))
		return
	}

	rt := e.match(r.Method, path)
	rec := &statusRecorder{ResponseWriter: w}
	if rt.graph {
		setGraphRequestIDs(w, r)
		if !e.addGraphLatency(r) {
			e.countRequest(r, rt.template, rec.status)
			return
		}
	}
	e.serveWithFaults(rec, r, path, rt)
	e.countRequest(r, rt.template, rec.status)
}

// addGraphLatency waits GraphLatencyMs and reports false when the client
// went away first. It reads the request body into memory before waiting,
// because net/http notices a closed connection only once the body is read.
func (e *Emulator) addGraphLatency(r *http.Request) bool {
	e.mu.Lock()
	ms := e.state.settings.GraphLatencyMs
	e.mu.Unlock()
	if ms <= 0 {
		return true
	}
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return sleep(r.Context(), ms)
}

// match finds the route for path, relative to the emulator base.
func (e *Emulator) match(method, path string) route {
	if path == "/v1.0" || strings.HasPrefix(path, "/v1.0/") {
		return e.matchGraph(method, strings.TrimPrefix(path, "/v1.0"))
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) < 3 {
		return route{template: "/other", handler: notFound}
	}
	tenant, rest := seg[0], strings.Join(seg[1:], "/")
	switch rest {
	case "oauth2/v2.0/authorize":
		return route{template: "/{tenant}/oauth2/v2.0/authorize", handler: e.authorizeHandler(tenant)}
	case "oauth2/v2.0/token":
		return route{template: "/{tenant}/oauth2/v2.0/token", handler: e.tokenHandler(tenant)}
	case "v2.0/adminconsent":
		return route{template: "/{tenant}/v2.0/adminconsent", handler: e.adminConsentHandler(tenant)}
	case "v2.0/.well-known/openid-configuration":
		return route{template: "/{tenant}/v2.0/.well-known/openid-configuration", handler: e.discoveryHandler(tenant)}
	case "discovery/v2.0/keys":
		return route{template: "/{tenant}/discovery/v2.0/keys", handler: e.serveJWKS}
	}
	return route{template: "/other", handler: notFound}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "404 page not found", http.StatusNotFound)
}

func (e *Emulator) countRequest(r *http.Request, template string, status int) {
	if status == 0 {
		status = http.StatusOK
		if r.Context().Err() != nil {
			status = statusClientClosed
		}
	}
	key := r.Method + " " + template + " " + strconv.Itoa(status)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.counts[key]++
}

// statusClientClosed is counted for a request whose client went away before
// any response was written (nginx's convention).
const statusClientClosed = 499

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
