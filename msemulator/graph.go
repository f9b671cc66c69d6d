package msemulator

import (
	"net/http"
	"strings"
	"time"
)

// caller is the user behind a Graph request's access token.
type caller struct {
	user   User
	scopes []string // granted Graph scopes
}

// graphHandler serves an authenticated Graph request.
type graphHandler func(w http.ResponseWriter, r *http.Request, c *caller)

// Graph scopes that allow each kind of call, least privileged first.
var (
	scopesMe        = []string{"User.Read", "User.ReadWrite", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}
	scopesUsers     = []string{"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}
	scopesUsersFull = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}
	scopesChat      = []string{"Chat.Create", "Chat.ReadWrite"}
	scopesSend      = []string{"ChatMessage.Send", "Chat.ReadWrite"}
)

// matchGraph finds the Graph route for sub, the path after /v1.0.
func (e *Emulator) matchGraph(method, sub string) route {
	graph := func(template, allowed string, h graphHandler) route {
		return route{template: "/v1.0" + template, graph: true, handler: e.graphMethod(allowed, e.authenticated(h))}
	}
	switch {
	case sub == "/me":
		return graph("/me", http.MethodGet, e.getMe)
	case sub == "/me/chats":
		return route{template: "/v1.0/me/chats", graph: true, handler: e.serveMeChats}
	case sub == "/users":
		return graph("/users", http.MethodGet, e.listUsers)
	case strings.HasPrefix(sub, "/users/") || strings.HasPrefix(sub, "/users("):
		return graph("/users/{id}", http.MethodGet, e.getUser)
	case sub == "/chats":
		return graph("/chats", http.MethodPost, e.createChat)
	case strings.HasPrefix(sub, "/chats/") && strings.HasSuffix(sub, "/messages"):
		return graph("/chats/{id}/messages", http.MethodPost, e.sendMessage)
	case sub == "/$batch":
		return route{template: "/v1.0/$batch", graph: true, handler: e.graphMethod(http.MethodPost, e.serveBatch)}
	}
	return route{template: "/other", graph: true, handler: func(w http.ResponseWriter, r *http.Request) {
		e.writeGraphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+firstSegment(sub)+"'.")
	}}
}

func firstSegment(sub string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(sub, "/"), "/")
	return seg
}

// graphMethod returns 405 for any method but allowed.
func (e *Emulator) graphMethod(allowed string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != allowed {
			w.Header().Set("Allow", allowed)
			e.writeGraphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The requested resource does not support http method '"+r.Method+"'.")
			return
		}
		next(w, r)
	}
}

// serveMeChats rejects chat creation under /me/chats, as Graph does.
func (e *Emulator) serveMeChats(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		w.Header().Set("Allow", http.MethodGet)
		e.writeGraphError(w, http.StatusMethodNotAllowed, "UnknownError", "The requested resource does not support http method 'POST'. Create chats with POST /chats.")
		return
	}
	// NOTE: listing the caller's chats is not emulated; the service never reads chats.
	e.writeGraphError(w, http.StatusBadRequest, "BadRequest", "The emulator does not support "+r.Method+" /me/chats.")
}

// setGraphRequestIDs sets the request-id and client-request-id headers that
// Graph sends on every response.
func setGraphRequestIDs(w http.ResponseWriter, r *http.Request) {
	requestID := newGUID()
	clientRequestID := r.Header.Get("client-request-id")
	if clientRequestID == "" {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
}

// writeGraphError writes Graph's error envelope.
func (e *Emulator) writeGraphError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]string{
			"date":              e.clock().Format(time.RFC3339),
			"request-id":        w.Header().Get("request-id"),
			"client-request-id": w.Header().Get("client-request-id"),
		},
	}})
}

// requireScopes writes a 403 and reports false unless the caller has one of
// scopes. directory selects the directory error code over the Teams one.
func (e *Emulator) requireScopes(w http.ResponseWriter, c *caller, directory bool, scopes ...string) bool {
	if hasAny(c.scopes, scopes...) {
		return true
	}
	if directory {
		e.writeGraphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return false
	}
	e.writeGraphError(w, http.StatusForbidden, "Forbidden", "Missing scope permissions on the request. API requires one of '"+
		strings.Join(scopes, ", ")+"'. Scopes on the request '"+strings.Join(c.scopes, ", ")+"'")
	return false
}
