package msemulator

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Consent walls a tenant policy can put in front of the app.
const (
	wallNone          = ""
	wallAdminApproval = "admin_approval" // "Approval required" page with a request form
	wallBlocked       = "blocked"        // "Need admin approval" page without a workflow
)

const codeLifetime = 10 * time.Minute

// tenantWall returns the consent wall that tenant t shows for scopes. A nil
// tenant (common, organizations before sign-in) shows none.
func (e *Emulator) tenantWall(t *Tenant, scopes []string) string {
	if t == nil {
		return wallNone
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	requested := graphScopes(scopes)
	if approved, ok := e.state.approvals[t.ID]; ok && isSubset(requested, approved) {
		return wallNone
	}
	switch t.UserConsent {
	case UserConsentAdminApproval:
		return wallAdminApproval
	case UserConsentBlocked:
		return wallBlocked
	}
	for _, s := range requested {
		if p, _ := findPermission(s); p.adminOnly {
			return wallBlocked
		}
	}
	return wallNone
}

// handleConsent processes the submitted sign-in and consent form.
func (e *Emulator) handleConsent(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	if err := r.ParseForm(); err != nil {
		e.renderSignIn(w, req, e.tenantWall(req.tenant, req.scopes), "The form could not be read.")
		return
	}
	if r.PostFormValue("consent") == "cancel" && r.PostFormValue("login") == "" {
		e.cancel(w, r, req, e.tenantWall(req.tenant, req.scopes))
		return
	}
	user, tenant, problem := e.signIn(req, r.PostFormValue("login"))
	if problem != "" {
		e.renderSignIn(w, req, e.tenantWall(req.tenant, req.scopes), problem)
		return
	}
	wall := e.tenantWall(tenant, req.scopes)

	switch consent := r.PostFormValue("consent"); consent {
	case "accept":
		e.accept(w, r, req, user, wall)
	case "decline":
		e.redirectError(w, r, req, errDeclined(), "")
	case "request_approval":
		e.requestApproval(w, r, req, user, wall)
	case "cancel":
		e.cancel(w, r, req, wall)
	default:
		e.renderSignIn(w, req, wall, "Choose accept or decline.")
	}
}

// signIn finds the user for login and checks that the user belongs to the
// tenant of the path. problem is the text to show on the page otherwise.
func (e *Emulator) signIn(req *authorizeRequest, login string) (*User, *Tenant, string) {
	login = strings.TrimSpace(login)
	if login == "" {
		return nil, nil, "Enter your account's user principal name."
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.state.userByUPN(login)
	if u == nil {
		return nil, nil, "AADSTS50034: The user account " + login + " does not exist in the directory. To sign into this application, the account must be added to the directory."
	}
	if req.tenant != nil && !strings.EqualFold(u.TenantID, req.tenant.ID) {
		return nil, nil, "AADSTS50020: User account '" + login + "' from identity provider does not exist in tenant '" + req.tenant.Domain + "' and cannot access the application in that tenant."
	}
	copied := cloneUser(u)
	tenant := *e.state.tenantByID(u.TenantID)
	return &copied, &tenant, ""
}

func (e *Emulator) accept(w http.ResponseWriter, r *http.Request, req *authorizeRequest, u *User, wall string) {
	if wall != wallNone {
		e.renderSignIn(w, req, wall, "AADSTS90094: The grant requires admin permission. An administrator of your organization must approve this app before you can use it.")
		return
	}
	granted, problem := grantedScopes(req.scopes, r.PostForm, e.cfg.DefaultScopes)
	if problem != "" {
		e.renderSignIn(w, req, wall, problem)
		return
	}

	code := e.issueCode(req, u, granted)
	params := url.Values{"code": {code}, "session_state": {newGUID()}}
	if req.state != "" {
		params.Set("state", req.state)
	}
	redirect(w, r, req.redirectURI, params)
}

// grantedScopes applies the optional "scopes" form field (partial consent):
// it restricts the Graph permissions granted to those it lists. OpenID scopes
// requested are always granted.
func grantedScopes(requested []string, form url.Values, defaults []string) ([]string, string) {
	if _, ok := form["scopes"]; !ok {
		return requested, ""
	}
	chosen, err := parseScopes(form.Get("scopes"), defaults)
	if err != nil {
		return nil, "The scopes field is invalid: " + err.Error() + "."
	}
	var granted []string
	for _, s := range requested {
		if isOIDCScope(s) || isSubset([]string{s}, chosen) {
			granted = append(granted, s)
		}
	}
	return granted, ""
}

func (e *Emulator) issueCode(req *authorizeRequest, u *User, scopes []string) string {
	code := "1.emu." + newSecret(48)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.codes[code] = &authCode{
		clientID:    req.clientID,
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		nonce:       req.nonce,
		userID:      u.ID,
		scopes:      scopes,
		expiresAt:   e.now().Add(codeLifetime),
	}
	return code
}

// requestApproval records an admin approval request and leaves to the
// application the way Microsoft's "return to the application" link does.
func (e *Emulator) requestApproval(w http.ResponseWriter, r *http.Request, req *authorizeRequest, u *User, wall string) {
	switch wall {
	case wallNone:
		e.renderSignIn(w, req, wall, "This app does not need an administrator's approval: accept or decline.")
		return
	case wallBlocked:
		e.renderSignIn(w, req, wall, "Your organization has no admin consent workflow. Ask an administrator to grant consent for this app.")
		return
	}

	e.mu.Lock()
	e.state.consentRequests = append(e.state.consentRequests, ConsentRequest{
		ID:            newGUID(),
		TenantID:      u.TenantID,
		UserID:        u.ID,
		ClientID:      req.clientID,
		Scopes:        graphScopes(req.scopes),
		Justification: r.PostFormValue("justification"),
		CreatedAt:     e.now(),
	})
	e.mu.Unlock()

	e.redirectCancel(w, r, req, aadError{"access_denied", 90095, "Admin consent is required for the permissions requested by this application. An admin consent request was sent to the admin.", ""})
}

// cancel leaves the page without consenting ("Return to the application").
func (e *Emulator) cancel(w http.ResponseWriter, r *http.Request, req *authorizeRequest, wall string) {
	if wall == wallNone {
		e.redirectCancel(w, r, req, aadError{"access_denied", 65004, "User declined to consent to access the app.", ""})
		return
	}
	e.redirectCancel(w, r, req, aadError{"access_denied", 90094, "The grant requires admin permission.", ""})
}

// redirectCancel redirects error=access_denied&error_subcode=cancel, with the
// AADSTS description unless the bareCancel setting is on.
func (e *Emulator) redirectCancel(w http.ResponseWriter, r *http.Request, req *authorizeRequest, err aadError) {
	if e.CurrentSettings().BareCancel {
		params := url.Values{"error": {"access_denied"}, "error_subcode": {"cancel"}}
		if req.state != "" {
			params.Set("state", req.state)
		}
		redirect(w, r, req.redirectURI, params)
		return
	}
	e.redirectError(w, r, req, err, "cancel")
}
