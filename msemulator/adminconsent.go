package msemulator

import (
	"net/http"
	"net/url"
	"strings"
)

// adminConsentHandler serves GET (the admin consent page) and POST (the
// submitted page) of /{tenant}/v2.0/adminconsent. Approval grants the
// requested Graph permissions to the app for the whole tenant, which lifts
// the admin_approval and blocked walls for those permissions.
func (e *Emulator) adminConsentHandler(segment string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		req, ok := e.parseAdminConsent(w, r, segment)
		if !ok {
			return
		}
		if r.Method == http.MethodGet {
			e.renderAdminConsent(w, req, "")
			return
		}
		e.handleAdminConsent(w, r, req)
	}
}

// parseAdminConsent validates the query; it writes the error page or
// redirect itself and reports false on failure.
func (e *Emulator) parseAdminConsent(w http.ResponseWriter, r *http.Request, segment string) (*authorizeRequest, bool) {
	if strings.EqualFold(segment, "common") || strings.EqualFold(segment, "consumers") {
		e.renderErrorPage(w, aadError{"invalid_request", 90130, "Admin consent is not supported over the /common or /consumers endpoints. Use a tenant ID, a tenant domain or /organizations.", ""})
		return nil, false
	}
	q := r.URL.Query()
	req, pageErr := e.parseAuthorize(segment, q)
	if pageErr != nil {
		e.renderErrorPage(w, *pageErr)
		return nil, false
	}
	if strings.TrimSpace(q.Get("scope")) == "" {
		e.redirectError(w, r, req, errMissingParam("scope"), "")
		return nil, false
	}
	scopes, err := parseScopes(q.Get("scope"), e.cfg.DefaultScopes)
	if err != nil {
		e.redirectError(w, r, req, aadError{"invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid: " + err.Error() + ".", ""}, "")
		return nil, false
	}
	req.scopes = scopes
	return req, true
}

func (e *Emulator) renderAdminConsent(w http.ResponseWriter, req *authorizeRequest, problem string) {
	p := page{Mode: "adminconsent", Title: "Permissions requested for your organization", Login: req.loginHint, Error: problem}
	if req.tenant != nil {
		p.Tenant = req.tenant.Domain
	}
	e.renderPage(w, http.StatusOK, p, graphScopes(req.scopes), req.redirectURI)
}

func (e *Emulator) handleAdminConsent(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	if err := r.ParseForm(); err != nil {
		e.renderAdminConsent(w, req, "The form could not be read.")
		return
	}
	u, tenant, problem := e.signIn(req, r.PostFormValue("login"))
	if problem == "" && !u.Admin {
		problem = "AADSTS90099: The user " + u.UserPrincipalName + " is not an administrator of " + tenant.Domain + " and cannot grant consent for the organization."
	}
	if problem != "" {
		e.renderAdminConsent(w, req, problem)
		return
	}

	switch r.PostFormValue("consent") {
	case "accept":
		e.approveApp(tenant.ID, graphScopes(req.scopes))
		params := url.Values{"admin_consent": {"True"}, "tenant": {tenant.ID}}
		params.Set("scope", formatScopes(graphScopes(req.scopes), "uri"))
		if req.state != "" {
			params.Set("state", req.state)
		}
		redirect(w, r, req.redirectURI, params)
	case "decline":
		e.redirectAdminDecline(w, r, req)
	default:
		e.renderAdminConsent(w, req, "Choose accept or decline.")
	}
}

// approveApp records tenant-wide admin consent for scopes.
func (e *Emulator) approveApp(tenantID string, scopes []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.approvals[tenantID] = appendUnique(e.state.approvals[tenantID], scopes...)
}

// redirectAdminDecline reports a declined admin consent. Microsoft may send
// admin_consent=True without a tenant alongside the error, so the emulator
// does too.
func (e *Emulator) redirectAdminDecline(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	params := url.Values{"error": {"access_denied"}, "admin_consent": {"True"}}
	params.Set("error_description", describe(errDeclined(), e.clock(), newGUID(), newGUID()))
	if req.state != "" {
		params.Set("state", req.state)
	}
	redirect(w, r, req.redirectURI, params)
}
