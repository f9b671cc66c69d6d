package msemulator

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// authorizeRequest is a validated request to the authorize endpoint.
type authorizeRequest struct {
	tenantSegment string
	tenant        *Tenant // nil for common and organizations
	clientID      string
	redirectURI   string
	state         string
	challenge     string
	nonce         string
	loginHint     string
	scopes        []string // canonical, in request order
}

// errPageOnly marks an authorize error that cannot be redirected because
// the client or the redirect URI is not trusted.
var errPageOnly = errors.New("msemulator: error shown on the page")

// resolveTenant maps the {tenant} path segment to a tenant: nil for common
// and organizations. The caller holds e.mu.
func (e *Emulator) resolveTenant(segment string) (*Tenant, *aadError) {
	switch strings.ToLower(segment) {
	case "common", "organizations":
		return nil, nil
	case "consumers":
		err := aadError{"invalid_request", 50020, "The emulator has no Microsoft personal accounts: use organizations, common or a tenant.", ""}
		return nil, &err
	}
	if t := e.state.tenantByID(segment); t != nil {
		return t, nil
	}
	if t := e.state.tenantByDomain(segment); t != nil {
		return t, nil
	}
	err := errTenantNotFound(segment)
	return nil, &err
}

// parseAuthorize checks what must be right before the emulator may redirect
// to the client: the tenant, client_id and the exact redirect_uri. Errors
// returned here are shown as an HTML page.
func (e *Emulator) parseAuthorize(segment string, q url.Values) (*authorizeRequest, *aadError) {
	e.mu.Lock()
	tenant, tenantErr := e.resolveTenant(segment)
	e.mu.Unlock()
	if tenantErr != nil {
		return nil, tenantErr
	}

	req := &authorizeRequest{
		tenantSegment: segment,
		tenant:        tenant,
		clientID:      q.Get("client_id"),
		redirectURI:   q.Get("redirect_uri"),
		state:         q.Get("state"),
		challenge:     q.Get("code_challenge"),
		nonce:         q.Get("nonce"),
		loginHint:     q.Get("login_hint"),
	}
	switch {
	case req.clientID == "":
		err := errMissingParam("client_id")
		return nil, &err
	case req.clientID != e.cfg.ClientID:
		err := errUnknownClient(req.clientID)
		return nil, &err
	case req.redirectURI == "":
		err := errMissingParam("redirect_uri")
		return nil, &err
	case !e.isRedirectRegistered(req.redirectURI):
		err := aadError{"invalid_request", 50011, "The redirect URI '" + req.redirectURI + "' specified in the request does not match the redirect URIs configured for the application '" + req.clientID + "'.", ""}
		return nil, &err
	}
	return req, nil
}

// validateAuthorize checks the parameters whose errors are redirected to the
// client, in the order Microsoft reports them.
func (e *Emulator) validateAuthorize(req *authorizeRequest, q url.Values) *aadError {
	fail := func(err, text string, code int) *aadError { return &aadError{err, code, text, ""} }
	if rt := q.Get("response_type"); rt != "code" {
		return fail("unsupported_response_type", "The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'.", 900125)
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return fail("invalid_request", "The emulator only supports response_mode=query.", 900125)
	}
	if strings.TrimSpace(q.Get("scope")) == "" {
		missing := errMissingParam("scope")
		return &missing
	}
	scopes, err := parseScopes(q.Get("scope"), e.cfg.DefaultScopes)
	if err != nil {
		return fail("invalid_scope", "The provided value for the input parameter 'scope' is not valid: "+err.Error()+".", 70011)
	}
	req.scopes = scopes

	// NOTE: Microsoft accepts a missing code_challenge for confidential
	// clients. The emulator requires S256 so a client without PKCE fails here.
	switch {
	case req.challenge == "":
		return fail("invalid_request", "Proof Key for Code Exchange is required: send code_challenge and code_challenge_method=S256.", 9002325)
	case q.Get("code_challenge_method") != "S256":
		return fail("invalid_request", "The code_challenge_method must be 'S256'; 'plain' and other methods are rejected by the emulator.", 5000312)
	case len(req.challenge) != 43:
		return fail("invalid_request", "The code_challenge must be the 43-character base64url encoding of a SHA-256 hash.", 5000312)
	}
	if q.Get("prompt") == "none" {
		return fail("login_required", "The emulator keeps no sign-in session, so prompt=none always needs interaction.", 50058)
	}
	return nil
}

// authorizeHandler serves GET (the sign-in and consent page) and POST (the
// submitted page) of /{tenant}/oauth2/v2.0/authorize.
func (e *Emulator) authorizeHandler(segment string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		req, pageErr := e.parseAuthorize(segment, q)
		if pageErr != nil {
			e.renderErrorPage(w, *pageErr)
			return
		}
		if forced := e.CurrentSettings().AuthorizeError; forced != nil {
			e.redirectForcedError(w, r, req, *forced)
			return
		}
		if err := e.validateAuthorize(req, q); err != nil {
			e.redirectError(w, r, req, *err, "")
			return
		}

		if r.Method == http.MethodGet {
			e.renderSignIn(w, req, e.tenantWall(req.tenant, req.scopes), "")
			return
		}
		e.handleConsent(w, r, req)
	}
}

// redirect sends a 302 to the client's redirect URI with params added to its
// query.
func redirect(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "invalid redirect uri", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// redirectError redirects an error with a full AADSTS description; subcode
// is sent as error_subcode when not empty.
func (e *Emulator) redirectError(w http.ResponseWriter, r *http.Request, req *authorizeRequest, err aadError, subcode string) {
	params := url.Values{"error": {err.err}}
	params.Set("error_description", describe(err, e.clock(), newGUID(), newGUID()))
	if subcode != "" {
		params.Set("error_subcode", subcode)
	}
	if req.state != "" {
		params.Set("state", req.state)
	}
	redirect(w, r, req.redirectURI, params)
}

// redirectForcedError redirects exactly the error of the authorizeError
// setting.
func (e *Emulator) redirectForcedError(w http.ResponseWriter, r *http.Request, req *authorizeRequest, forced AuthorizeError) {
	params := url.Values{}
	for k, v := range map[string]string{"error": forced.Error, "error_description": forced.ErrorDescription, "error_subcode": forced.ErrorSubcode, "state": req.state} {
		if v != "" {
			params.Set(k, v)
		}
	}
	redirect(w, r, req.redirectURI, params)
}
