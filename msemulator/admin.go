package msemulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// serveAdmin serves the admin API under /_admin. path is the rest after
// /_admin. Lists are JSON arrays; errors are {"error": "..."}.
func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request, path string) {
	switch {
	case path == "/tenants":
		e.adminTenants(w, r)
	case path == "/users":
		e.adminUsers(w, r)
	case strings.HasPrefix(path, "/users/"):
		e.adminUserAction(w, r, strings.TrimPrefix(path, "/users/"))
	case path == "/messages" && allowMethod(w, r, http.MethodGet):
		writeJSON(w, http.StatusOK, e.Messages())
	case path == "/requests" && allowMethod(w, r, http.MethodGet):
		writeJSON(w, http.StatusOK, e.RequestCounts())
	case path == "/tokens" && allowMethod(w, r, http.MethodGet):
		writeJSON(w, http.StatusOK, e.issuedTokenRecords())
	case path == "/faults":
		e.adminFaults(w, r)
	case path == "/settings":
		e.adminSettings(w, r)
	case path == "/consent-requests" && allowMethod(w, r, http.MethodGet):
		writeJSON(w, http.StatusOK, e.ConsentRequests())
	case path == "/reset" && allowMethod(w, r, http.MethodPost):
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	case path == "/messages" || path == "/requests" || path == "/tokens" || path == "/consent-requests" || path == "/reset":
		// allowMethod has written the 405 response.
	default:
		writeAdminError(w, http.StatusNotFound, "unknown admin route "+path)
	}
}

// allowMethod writes a 405 response and reports false when r's method is not method.
func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeAdminError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed, use "+method)
	return false
}

func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// decodeAdmin decodes a JSON body into v, rejecting unknown fields.
func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func writeEntityError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrDuplicate):
		status = http.StatusConflict
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	}
	writeAdminError(w, status, err.Error())
}

func (e *Emulator) adminTenants(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, e.Tenants())
	case http.MethodPost:
		var t Tenant
		if !decodeAdmin(w, r, &t) {
			return
		}
		if t.ID == "" {
			t.ID = newGUID()
		}
		if err := e.AddTenant(t); err != nil {
			writeEntityError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": t.ID})
	default:
		allowMethod(w, r, "GET, POST")
	}
}

func (e *Emulator) adminUsers(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, e.Users())
	case http.MethodPost:
		var u User
		if !decodeAdmin(w, r, &u) {
			return
		}
		id, err := e.AddUser(u)
		if err != nil {
			writeEntityError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	default:
		allowMethod(w, r, "GET, POST")
	}
}

// adminUserAction serves POST /_admin/users/{id}/{action}.
func (e *Emulator) adminUserAction(w http.ResponseWriter, r *http.Request, rest string) {
	id, action, _ := strings.Cut(rest, "/")
	actions := map[string]func(string) error{
		"revoke":               e.RevokeUser,
		"expire-access-tokens": e.ExpireAccessTokens,
		"claims-challenge":     e.ChallengeAccessTokens,
	}
	act, ok := actions[action]
	if !ok {
		writeAdminError(w, http.StatusNotFound, "unknown user action '"+action+"': use revoke, expire-access-tokens or claims-challenge")
		return
	}
	if !allowMethod(w, r, http.MethodPost) {
		return
	}
	if err := act(id); err != nil {
		writeAdminError(w, http.StatusNotFound, "user "+id+" not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, e.Faults())
	case http.MethodPost:
		var f Fault
		if !decodeAdmin(w, r, &f) {
			return
		}
		if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
			writeAdminError(w, http.StatusBadRequest, "status must be 0 (delay only) or an HTTP status code")
			return
		}
		e.AddFault(f)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	default:
		allowMethod(w, r, "GET, POST, DELETE")
	}
}

// adminSettings serves GET and POST /_admin/settings. POST changes only the
// fields present in the body.
func (e *Emulator) adminSettings(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, e.CurrentSettings())
	case http.MethodPost:
		s := e.CurrentSettings()
		if !decodeAdmin(w, r, &s) {
			return
		}
		if s.ScopeFormat != "uri" && s.ScopeFormat != "short" {
			writeAdminError(w, http.StatusBadRequest, "scopeFormat must be \"uri\" or \"short\"")
			return
		}
		e.SetSettings(s)
		writeJSON(w, http.StatusOK, e.CurrentSettings())
	default:
		allowMethod(w, r, "GET, POST")
	}
}

func (e *Emulator) issuedTokenRecords() []IssuedToken {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]IssuedToken{}, e.state.issued...)
}
