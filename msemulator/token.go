package msemulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// refreshInactivityLimit is how long an unused refresh token stays valid.
// Every refresh returns a new refresh token, so the limit slides with use.
const refreshInactivityLimit = 90 * 24 * time.Hour

// tokenHandler serves POST /{tenant}/oauth2/v2.0/token.
func (e *Emulator) tokenHandler(segment string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			e.writeTokenError(w, http.StatusBadRequest, aadError{"invalid_request", 900561, "The endpoint only accepts POST requests. Received a " + r.Method + " request.", ""})
			return
		}
		if err := r.ParseForm(); err != nil {
			e.writeTokenError(w, http.StatusBadRequest, aadError{"invalid_request", 9002313, "Invalid request. Request is malformed or invalid.", ""})
			return
		}
		e.mu.Lock()
		tenant, tenantErr := e.resolveTenant(segment)
		e.mu.Unlock()
		if tenantErr != nil {
			e.writeTokenError(w, http.StatusBadRequest, *tenantErr)
			return
		}
		clientID, status, clientErr := e.authenticateClient(r)
		if clientErr != nil {
			e.writeTokenError(w, status, *clientErr)
			return
		}
		e.serveGrant(w, r, tenant, clientID)
	}
}

func (e *Emulator) serveGrant(w http.ResponseWriter, r *http.Request, tenant *Tenant, clientID string) {
	var resp map[string]any
	var err *aadError
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "authorization_code":
		resp, err = e.redeemCode(r.PostForm, tenant, clientID)
	case "refresh_token":
		resp, err = e.redeemRefreshToken(r.PostForm, tenant, clientID)
	case "":
		missing := errMissingParam("grant_type")
		err = &missing
	default:
		unsupported := errUnsupportedGrant(grant)
		err = &unsupported
	}
	if err != nil {
		e.writeTokenError(w, http.StatusBadRequest, *err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// authenticateClient checks client_id and the client secret, sent in the
// body or with HTTP Basic authentication (RFC 6749 section 2.3.1, with
// form-encoded user name and password).
func (e *Emulator) authenticateClient(r *http.Request) (string, int, *aadError) {
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		clientID, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
	}
	fail := func(status int, err aadError) (string, int, *aadError) { return "", status, &err }

	switch {
	case clientID == "":
		return fail(http.StatusBadRequest, errMissingParam("client_id"))
	case clientID != e.cfg.ClientID:
		return fail(http.StatusBadRequest, errUnknownClient(clientID))
	case e.cfg.ClientSecret == "":
		return clientID, 0, nil
	case secret == "":
		return fail(http.StatusUnauthorized, errMissingClientSecret())
	case subtle.ConstantTimeCompare([]byte(secret), []byte(e.cfg.ClientSecret)) != 1:
		return fail(http.StatusUnauthorized, errInvalidClientSecret(clientID))
	}
	return clientID, 0, nil
}

// redeemCode runs the authorization_code grant.
func (e *Emulator) redeemCode(form url.Values, tenant *Tenant, clientID string) (map[string]any, *aadError) {
	if form.Get("code") == "" {
		err := errMissingParam("code")
		return nil, &err
	}
	if strings.TrimSpace(form.Get("scope")) == "" {
		err := errEmptyScope()
		return nil, &err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	code, u, err := e.checkCode(form, tenant, clientID)
	if err != nil {
		return nil, err
	}
	code.redeemed = true
	return e.issueTokens(u, clientID, code.scopes, code.scopes, code.nonce), nil
}

// checkCode validates a code redemption. The caller holds e.mu.
func (e *Emulator) checkCode(form url.Values, tenant *Tenant, clientID string) (*authCode, *User, *aadError) {
	fail := func(err aadError) (*authCode, *User, *aadError) { return nil, nil, &err }
	code := e.state.codes[form.Get("code")]
	if code == nil || code.clientID != clientID {
		return fail(errBadGrant("code"))
	}
	u := e.state.userByID(code.userID)
	switch {
	case code.redeemed:
		return fail(errCodeRedeemed())
	case code.revoked || u == nil:
		return fail(errGrantRevoked())
	case !e.now().Before(code.expiresAt):
		return fail(errCodeExpired())
	case tenant != nil && !strings.EqualFold(tenant.ID, u.TenantID):
		return fail(errBadGrant("code"))
	case form.Get("redirect_uri") != code.redirectURI:
		return fail(errRedirectMismatch())
	case !verifierMatches(form.Get("code_verifier"), code.challenge):
		return fail(errVerifierMismatch())
	}
	return code, u, nil
}

// verifierMatches checks a PKCE verifier against its S256 challenge
// (RFC 7636 section 4.6).
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	computed := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) == 1
}

// redeemRefreshToken runs the refresh_token grant. The refresh token used
// stays valid, as it does at Microsoft: rotation is the client's job.
func (e *Emulator) redeemRefreshToken(form url.Values, tenant *Tenant, clientID string) (map[string]any, *aadError) {
	if form.Get("refresh_token") == "" {
		err := errMissingParam("refresh_token")
		return nil, &err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rt, u, err := e.checkRefreshToken(form.Get("refresh_token"), tenant, clientID)
	if err != nil {
		return nil, err
	}

	scopes := rt.scopes
	if raw := strings.TrimSpace(form.Get("scope")); raw != "" {
		requested, parseErr := parseScopes(raw, e.cfg.DefaultScopes)
		if parseErr != nil || !isSubset(graphScopes(requested), rt.scopes) {
			consent := errConsentRequired(raw)
			return nil, &consent
		}
		scopes = appendUnique(requested, "offline_access")
	}
	return e.issueTokens(u, clientID, scopes, rt.scopes, ""), nil
}

// checkRefreshToken validates a refresh token. The caller holds e.mu.
func (e *Emulator) checkRefreshToken(token string, tenant *Tenant, clientID string) (*refreshToken, *User, *aadError) {
	fail := func(err aadError) (*refreshToken, *User, *aadError) { return nil, nil, &err }
	rt := e.state.refreshTokens[token]
	if rt == nil {
		return fail(aadError{"invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.", ""})
	}
	u := e.state.userByID(rt.userID)
	switch {
	case rt.clientID != clientID:
		return fail(errBadGrant("refresh_token"))
	case rt.revoked || u == nil:
		return fail(errGrantRevoked())
	case e.now().Sub(rt.issuedAt) > refreshInactivityLimit:
		return fail(errRefreshInactive(rt.issuedAt))
	case tenant != nil && !strings.EqualFold(tenant.ID, u.TenantID):
		return fail(errBadGrant("refresh_token"))
	}
	return rt, u, nil
}

// issueTokens creates the token response. scopes are those of this
// response and its access token; grant is everything the user granted, which
// a new refresh token carries. The caller holds e.mu.
func (e *Emulator) issueTokens(u *User, clientID string, scopes, grant []string, nonce string) map[string]any {
	now, settings := e.now(), e.state.settings
	lifetime := settings.AccessTokenLifetimeSeconds

	access := "emu-at." + newSecret(48)
	e.state.accessTokens[access] = &accessToken{
		userID: u.ID, tenantID: u.TenantID, scopes: graphScopes(scopes),
		expiresAt: now.Add(time.Duration(lifetime) * time.Second),
	}
	e.state.issued = append(e.state.issued, IssuedToken{Kind: "access", Token: access, UserID: u.ID, IssuedAt: now})

	resp := map[string]any{
		"token_type":     "Bearer",
		"scope":          formatScopes(scopes, settings.ScopeFormat),
		"expires_in":     lifetime,
		"ext_expires_in": lifetime,
		"access_token":   access,
	}
	if settings.ExpiresInAsString {
		resp["expires_in"], resp["ext_expires_in"] = strconv.Itoa(lifetime), strconv.Itoa(lifetime)
	}
	if slices.Contains(grant, "offline_access") {
		refresh := "emu-rt." + newSecret(64)
		e.state.refreshTokens[refresh] = &refreshToken{clientID: clientID, userID: u.ID, scopes: grant, issuedAt: now}
		e.state.issued = append(e.state.issued, IssuedToken{Kind: "refresh", Token: refresh, UserID: u.ID, IssuedAt: now})
		resp["refresh_token"] = refresh
	}
	if slices.Contains(scopes, "openid") {
		resp["id_token"] = e.signIDToken(u, clientID, scopes, nonce, now)
	}
	return resp
}
