package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wintro/teams-messaging/vault"
)

// Reasons the callback reports to the SPA in teams=error&reason=…, and the
// codes of the last connect error recorded on the integration.
const (
	ReasonInvalidState          = "invalid_state"
	ReasonExpiredState          = "expired_state"
	ReasonCancelled             = "cancelled"
	ReasonConsentDeclined       = "consent_declined"
	ReasonAdminApprovalRequired = "admin_approval_required"
	ReasonSignInInterrupted     = "sign_in_interrupted"
	ReasonMicrosoftUnavailable  = "microsoft_unavailable"
	ReasonRequestRejected       = "request_rejected"
	ReasonExchangeFailed        = "exchange_failed"
	ReasonAccountUnreadable     = "account_unreadable"
	ReasonAdminConsentDenied    = "admin_consent_denied"
	ReasonAdminConsentFailed    = "admin_consent_failed"
	ReasonInternal              = "internal_error"
	ReasonOtherBrowser          = "other_browser"
)

// Messages of callback failures that are not authorize errors.
const (
	msgExpiredState   = "The Microsoft sign-in took too long to finish. Click Connect to start again."
	msgNoCode         = "Microsoft sent no authorization code. Try connecting again."
	msgOtherBrowser   = "The Microsoft sign-in finished in a different browser than the one that started it. Click Connect in Wintro, in the browser where you want to sign in."
	msgNoRefreshToken = "Microsoft did not grant Wintro lasting access (the \"Stay connected\" permission). Connect again and accept every permission."
	msgNoAccount      = "Microsoft did not say which account signed in. Try connecting again."
	msgNotAccepted    = "Microsoft did not accept the sign-in. Try connecting again."
	msgInternal       = "Connecting failed because of an error on Wintro's side. Try again in a moment."
	msgClientRejected = "Microsoft rejected Wintro's app credentials. This is a problem on Wintro's side: try again later, " +
		"and contact Wintro support if it keeps failing."
)

// callbackError is a failed callback: the reason shown to the SPA, the
// message recorded on the integration, and the cause for the log.
type callbackError struct {
	reason  string
	message string
	pending bool // the organization must approve the app
	cause   error
}

func (e *callbackError) Error() string {
	if e.cause == nil {
		return e.reason
	}
	return e.reason + ": " + e.cause.Error()
}

// CallbackHandler returns the handler of GET /oauth/callback. It consumes the
// state before anything else, so an unknown, replayed or expired state never
// reaches Microsoft's token endpoint, and always ends with a 302 to the app.
// A state with the admin consent prefix is handled as an admin consent
// redirect instead.
func (s *Service) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// Once Microsoft has redeemed the code, the connection must be stored
		// even if the browser goes away, so the request's cancellation is
		// not passed on.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*s.cfg.TokenTimeout)
		defer cancel()
		target := s.handleCallback(ctx, r.URL.Query(), r.Cookies())
		s.clearBrowserCookie(w, r.URL.Query().Get("state"))
		http.Redirect(w, r, target, http.StatusFound)
	})
}

// handleCallback runs the callback and returns the app URL to redirect to.
func (s *Service) handleCallback(ctx context.Context, q url.Values, cookies []*http.Cookie) string {
	if strings.HasPrefix(q.Get("state"), adminStatePrefix) {
		return s.handleAdminConsent(ctx, q)
	}
	req, cbErr := s.consumeState(ctx, q.Get("state"))
	if req == nil {
		s.log.WarnContext(ctx, "oauth callback rejected", "reason", cbErr.reason, "error", cbErr.cause)
		return s.appRedirect("/", url.Values{"teams": {"error"}, "reason": {cbErr.reason}})
	}

	var err error = cbErr
	if cbErr == nil {
		err = checkBrowser(req, cookies)
	}
	if err == nil {
		err = s.completeConnect(ctx, req, q)
	}
	if err == nil {
		s.log.InfoContext(ctx, "teams connected", "recruiter_id", req.RecruiterID)
		return s.appRedirect(req.ReturnTo, url.Values{"teams": {"connected"}})
	}

	var ce *callbackError
	if !errors.As(err, &ce) {
		ce = &callbackError{reason: ReasonInternal, message: msgInternal, cause: err}
	}
	s.log.WarnContext(ctx, "teams connect failed", "recruiter_id", req.RecruiterID, "reason", ce.reason, "error", ce.cause)
	s.recordFailure(ctx, req, ce)
	return s.appRedirect(req.ReturnTo, url.Values{"teams": {"error"}, "reason": {ce.reason}})
}

// consumeState looks the state up and deletes it in one step, so it works
// once. It returns no request for an unknown, used or foreign state, and the
// request with an error for an expired one: the request's recruiter and
// returnTo are known, but nothing may be sent to Microsoft.
func (s *Service) consumeState(ctx context.Context, state string) (*vault.ConnectRequest, *callbackError) {
	if state == "" {
		return nil, &callbackError{reason: ReasonInvalidState, cause: errors.New("no state parameter")}
	}
	req, err := s.store.ConsumeConnectRequest(ctx, hashState(state))
	if errors.Is(err, vault.ErrNotFound) {
		return nil, &callbackError{reason: ReasonInvalidState, cause: errors.New("unknown or already used state")}
	}
	if err != nil {
		return nil, &callbackError{reason: ReasonInternal, cause: fmt.Errorf("consume state: %w", err)}
	}
	if req.Kind != vault.KindConnect {
		return nil, &callbackError{reason: ReasonInvalidState, cause: fmt.Errorf("state belongs to a %q request", req.Kind)}
	}
	if !s.cfg.Now().Before(req.ExpiresAt) {
		return req, &callbackError{reason: ReasonExpiredState, message: msgExpiredState, cause: errors.New("state expired")}
	}
	return req, nil
}

// recordFailure records a failed connect attempt on the recruiter of req
// only. A recruiter waiting for admin approval stays
// PENDING_ADMIN_APPROVAL unless the new outcome shows that Microsoft let the
// user consent, because a cancel, an interruption or an outage proves nothing about
// the approval.
func (s *Service) recordFailure(ctx context.Context, req *vault.ConnectRequest, ce *callbackError) {
	pending := ce.pending
	if !pending && ce.reason != ReasonConsentDeclined {
		conn, err := s.store.GetConnection(ctx, req.RecruiterID, false)
		if err != nil && !errors.Is(err, vault.ErrNotFound) {
			s.log.ErrorContext(ctx, "read connection before recording connect error", "recruiter_id", req.RecruiterID, "error", err)
		}
		pending = conn != nil && conn.Status == vault.StatusPendingAdminApproval
	}
	if err := s.store.RecordConnectError(ctx, req.RecruiterID, req.OrgID, ce.reason, ce.message, pending); err != nil {
		s.log.ErrorContext(ctx, "record connect error", "recruiter_id", req.RecruiterID, "error", err)
	}
}

// completeConnect handles an error redirect, or exchanges the code and
// stores the connection. The granted scopes are stored as Microsoft reports
// them: a partial grant still connects, and Integration lists what is missing.
func (s *Service) completeConnect(ctx context.Context, req *vault.ConnectRequest, q url.Values) error {
	if q.Get("error") != "" {
		return classifyAuthorizeError(q.Get("error"), q.Get("error_subcode"), q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		return &callbackError{reason: ReasonExchangeFailed, message: msgNoCode, cause: errors.New("callback without code or error")}
	}

	tok, err := s.exchange(ctx, code, req.Verifier)
	if err != nil {
		return err
	}
	if tok.RefreshToken == "" {
		// Without offline_access there is no refresh token, and the
		// connection would die with its first access token.
		return &callbackError{reason: ReasonExchangeFailed, message: msgNoRefreshToken, cause: errors.New("token response has no refresh_token")}
	}
	account, err := s.accountFromIDToken(tok)
	if err != nil {
		return &callbackError{reason: ReasonAccountUnreadable, message: msgNoAccount, cause: err}
	}

	conn := &vault.Connection{
		RecruiterID:   req.RecruiterID,
		OrgID:         req.OrgID,
		AccountID:     account.ID,
		TenantID:      account.TenantID,
		Email:         account.Email,
		DisplayName:   account.DisplayName,
		GrantedScopes: grantedScopes(tok),
	}
	if err := s.store.SaveConnected(ctx, conn, s.tokensOf(tok)); err != nil {
		return fmt.Errorf("save connection: %w", err)
	}
	return nil
}

// exchange redeems the authorization code with the request's own PKCE
// verifier. The scope is sent because Microsoft rejects an empty one (AADSTS28003).
func (s *Service) exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TokenTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)

	tok, err := s.oauth.Exchange(ctx, code,
		oauth2.VerifierOption(verifier),
		oauth2.SetAuthURLParam("scope", strings.Join(requestedScopes(), " ")))
	if err != nil {
		return nil, exchangeError(tokenErrorFrom(err))
	}
	return tok, nil
}

// exchangeError maps a failed code redemption to the outcome shown to the
// recruiter. It decides on Microsoft's error and suberror first, as
// Microsoft advises, and on the AADSTS number only to tell an admin consent
// requirement (65001) and a multi-factor prompt (50076, 50079, 50078) apart.
func exchangeError(err error) *callbackError {
	fail := func(reason, message string) *callbackError {
		return &callbackError{reason: reason, message: message, pending: reason == ReasonAdminApprovalRequired, cause: err}
	}
	var te *TokenError
	if !errors.As(err, &te) {
		return fail(ReasonMicrosoftUnavailable, msgUnavailable) // network error or timeout
	}
	switch {
	case te.Code == "consent_required" || te.SubError == "consent_required" || te.HasCode(65001):
		return fail(ReasonAdminApprovalRequired, msgAdminApproval)
	case te.Code == "interaction_required" || te.SubError == "basic_action" ||
		te.HasCode(50076) || te.HasCode(50079) || te.HasCode(50078):
		return fail(ReasonSignInInterrupted, msgInterrupted)
	case te.Code == "invalid_client" || te.Code == "unauthorized_client":
		return fail(ReasonRequestRejected, msgClientRejected)
	case te.Code == "temporarily_unavailable" || te.Code == "server_error" || te.Status == 429 || te.Status >= 500:
		return fail(ReasonMicrosoftUnavailable, msgUnavailable)
	}
	return fail(ReasonExchangeFailed, msgNotAccepted)
}

// grantedScopes returns the normalized scopes of a token response. A
// response without scope grants exactly what was requested (RFC 6749,
// section 5.1).
func grantedScopes(tok *oauth2.Token) []string {
	raw, _ := tok.Extra("scope").(string)
	if strings.TrimSpace(raw) == "" {
		raw = strings.Join(requestedScopes(), " ")
	}
	return NormalizeScopes(raw)
}

// tokensOf converts a token response with the injected clock (oauth2's own
// Expiry uses the wall clock), assuming a short lifetime when
// Microsoft gave no expires_in instead of treating the token as eternal.
func (s *Service) tokensOf(tok *oauth2.Token) vault.Tokens {
	lifetime, ok := expiresIn(tok.Extra("expires_in"))
	if !ok {
		lifetime = missingExpiresIn
	}
	expiry := s.cfg.Now().Add(lifetime).UTC()
	return vault.Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, AccessExpiresAt: expiry}
}

// expiresIn reads expires_in, which Microsoft sends as a number and some
// servers as a string of digits.
func expiresIn(v any) (time.Duration, bool) {
	var seconds float64
	switch x := v.(type) {
	case float64:
		seconds = x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		seconds = f
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
		seconds = f
	default:
		return 0, false
	}
	if seconds <= 0 {
		return 0, false
	}
	return time.Duration(seconds * float64(time.Second)), true
}

// checkBrowser rejects a callback from a browser without the cookie
// connectTeams set, before anything is sent to Microsoft. A request stored
// without a browser hash is not bound to a browser.
func checkBrowser(req *vault.ConnectRequest, cookies []*http.Cookie) error {
	if req.BrowserHash == "" {
		return nil
	}
	name := browserCookieName(req.StateHash)
	for _, c := range cookies {
		if c.Name == name && subtle.ConstantTimeCompare([]byte(hashState(c.Value)), []byte(req.BrowserHash)) == 1 {
			return nil
		}
	}
	return &callbackError{reason: ReasonOtherBrowser, message: msgOtherBrowser, cause: errors.New("callback without the browser cookie of its connect request")}
}

// clearBrowserCookie expires the cookie of the connect request that state
// names: it works for one callback at most. Cookies of other open connect
// requests stay.
func (s *Service) clearBrowserCookie(w http.ResponseWriter, state string) {
	if state == "" || strings.HasPrefix(state, adminStatePrefix) {
		return
	}
	c := s.browserCookie(hashState(state), "", 0)
	c.MaxAge = -1
	http.SetCookie(w, c)
}
