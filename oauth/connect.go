package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/vault"
)

// maxReturnToLength bounds the returnTo path kept with a connect request.
const maxReturnToLength = 512

// ConnectStart is the outcome of StartConnect.
type ConnectStart struct {
	AuthorizationURL string
	ExpiresAt        time.Time
	// BrowserCookie must be set in the browser that called connectTeams.
	// The callback accepts the flow only from a browser that presents it,
	// so an authorization URL forwarded to someone else cannot connect
	// their account to this recruiter.
	BrowserCookie *http.Cookie
}

// StartConnect stores a connect request for the recruiter (hashed random
// state, sealed PKCE verifier, returnTo, 10-minute expiry) and returns the
// Microsoft authorization URL the browser must open. returnTo must be a
// path on the app URL; an empty one means "/". It records nothing on the
// recruiter's connection: the callback records the outcome. Every attempt
// requests all required scopes, so connecting again after a partial grant
// requests what is missing.
func (s *Service) StartConnect(ctx context.Context, r identity.Recruiter, returnTo string) (*ConnectStart, error) {
	path, err := s.cleanReturnTo(returnTo)
	if err != nil {
		return nil, err
	}

	state, err := randomToken()
	if err != nil {
		return nil, fmt.Errorf("generate state: %w", err)
	}
	nonce, err := randomToken()
	if err != nil {
		return nil, fmt.Errorf("generate browser nonce: %w", err)
	}
	verifier := oauth2.GenerateVerifier()
	now := s.cfg.Now()
	req := vault.ConnectRequest{
		BrowserHash: hashState(nonce),
		StateHash:   hashState(state),
		Kind:        vault.KindConnect,
		RecruiterID: r.ID,
		OrgID:       r.OrgID,
		Verifier:    verifier,
		ReturnTo:    path,
		ExpiresAt:   now.Add(s.cfg.ConnectRequestTTL),
		CreatedAt:   now,
	}
	if err := s.store.CreateConnectRequest(ctx, req); err != nil {
		return nil, fmt.Errorf("store connect request: %w", err)
	}

	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_mode", "query"),
	}
	if r.Email != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", r.Email))
	}
	return &ConnectStart{
		AuthorizationURL: s.oauth.AuthCodeURL(state, opts...),
		ExpiresAt:        req.ExpiresAt,
		BrowserCookie:    s.browserCookie(req.StateHash, nonce, s.cfg.ConnectRequestTTL),
	}, nil
}

// browserCookie is the cookie that binds one connect request to a browser.
// Its name carries part of the state hash, so several connect requests can
// be open at once. It is sent only to the callback path.
func (s *Service) browserCookie(stateHash, nonce string, ttl time.Duration) *http.Cookie {
	callback, _ := url.Parse(s.cfg.RedirectURL)
	return &http.Cookie{
		Name:     browserCookieName(stateHash),
		Value:    nonce,
		Path:     callback.Path,
		MaxAge:   int(ttl.Seconds()),
		HttpOnly: true,
		Secure:   callback.Scheme == "https",
		SameSite: http.SameSiteLaxMode,
	}
}

func browserCookieName(stateHash string) string {
	return "wintro_teams_connect_" + stateHash[:16]
}

// cleanReturnTo accepts only an absolute path on the app's origin: no scheme,
// no host, no scheme-relative "//", no backslash, no control characters, and
// no percent-encoded form of those either.
func (s *Service) cleanReturnTo(raw string) (string, error) {
	if raw == "" {
		return "/", nil
	}
	reject := func(why string) (string, error) {
		return "", &InputError{Field: "returnTo", Message: "must be a path in the Wintro app such as /settings/communication: " + why}
	}
	if len(raw) > maxReturnToLength {
		return reject(fmt.Sprintf("longer than %d characters", maxReturnToLength))
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return reject("invalid percent-encoding")
	}
	for _, candidate := range []string{raw, decoded} {
		if !strings.HasPrefix(candidate, "/") || strings.HasPrefix(candidate, "//") {
			return reject("it must start with a single /")
		}
		if strings.ContainsAny(candidate, "\\") || strings.IndexFunc(candidate, unicode.IsControl) >= 0 {
			return reject("it contains a backslash or a control character")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return reject("it names another site")
	}
	return raw, nil
}

// appRedirect builds the SPA URL the callback sends the browser to.
func (s *Service) appRedirect(returnTo string, params url.Values) string {
	u := *s.appURL
	ref, err := url.Parse(returnTo)
	if err != nil {
		ref = &url.URL{Path: "/"}
	}
	// returnTo is already escaped: join both the decoded and the escaped
	// forms, so an escape such as %2F is kept and not encoded twice.
	u.Path = strings.TrimRight(s.appURL.Path, "/") + ref.Path
	u.RawPath = strings.TrimRight(s.appURL.EscapedPath(), "/") + ref.EscapedPath()
	if u.RawPath == u.Path {
		u.RawPath = ""
	}
	q := ref.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String()
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashState returns what the database keeps of a state or a browser nonce:
// their SHA-256, so a leaked row cannot be replayed as a callback.
func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
