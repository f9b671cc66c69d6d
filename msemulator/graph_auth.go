package msemulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// authenticated resolves the bearer access token of a Graph request and
// returns 401 when it is missing, unknown, expired or challenged.
func (e *Emulator) authenticated(next graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			e.writeUnauthorized(w, "", "Access token is empty.")
			return
		}
		c, problem, challenge := e.lookupAccessToken(strings.TrimSpace(token))
		if challenge {
			e.writeClaimsChallenge(w)
			return
		}
		if problem != "" {
			e.writeUnauthorized(w, "", problem)
			return
		}
		next(w, r, c)
	}
}

// lookupAccessToken returns the caller of token, or the 401 message, or
// whether a claims challenge is due.
func (e *Emulator) lookupAccessToken(token string) (*caller, string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	at := e.state.accessTokens[token]
	if at == nil {
		return nil, "Access token validation failure. Invalid audience.", false
	}
	if at.challenged || e.state.settings.ClaimsChallenge {
		return nil, "", true
	}
	if at.expired || !e.now().Before(at.expiresAt) {
		return nil, "Access token has expired or is not yet valid.", false
	}
	u := e.state.userByID(at.userID)
	if u == nil {
		return nil, "Access token validation failure. The user no longer exists.", false
	}
	return &caller{user: cloneUser(u), scopes: at.scopes}, "", false
}

func (e *Emulator) authorizationURI() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.base + "/common/oauth2/authorize"
}

func (e *Emulator) writeUnauthorized(w http.ResponseWriter, extra, message string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="%s", client_id="00000003-0000-0000-c000-000000000000"%s`, e.authorizationURI(), extra))
	e.writeGraphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", message)
}

// writeClaimsChallenge responds the way continuous access evaluation does
// after a revoked session: 401 with error="insufficient_claims" and the
// claims to request, base64 encoded, in WWW-Authenticate.
func (e *Emulator) writeClaimsChallenge(w http.ResponseWriter) {
	claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, e.clock().Unix())
	extra := fmt.Sprintf(`, error="insufficient_claims", claims="%s"`, base64.StdEncoding.EncodeToString([]byte(claims)))
	e.writeUnauthorized(w, extra, "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
}
