package msemulator

import (
	"maps"
	"slices"
)

// Messages returns every chat message posted, oldest first.
func (e *Emulator) Messages() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Message, len(e.state.messages))
	for i, m := range e.state.messages {
		m.MemberIDs = slices.Clone(m.MemberIDs)
		out[i] = m
	}
	return out
}

// RequestCounts returns the number of requests served per key
// "METHOD /path-template STATUS", for example "POST /v1.0/chats 201". The
// package documentation lists the templates. Admin API calls are not counted.
func (e *Emulator) RequestCounts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.state.counts)
}

// IssuedTokens returns every access and refresh token issued so far, in
// plaintext, oldest first.
func (e *Emulator) IssuedTokens() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, len(e.state.issued))
	for i, t := range e.state.issued {
		out[i] = t.Token
	}
	return out
}

// ConsentRequests returns the admin approval requests made so far.
func (e *Emulator) ConsentRequests() []ConsentRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.state.consentRequests)
}

// RevokeUser revokes the user's refresh tokens and unredeemed codes, as an
// administrator's password reset or session revocation does. Access tokens
// keep working until they expire.
func (e *Emulator) RevokeUser(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.state.userByID(id)
	if u == nil {
		return ErrNotFound
	}
	for _, rt := range e.state.refreshTokens {
		if rt.userID == u.ID {
			rt.revoked = true
		}
	}
	for _, c := range e.state.codes {
		if c.userID == u.ID {
			c.revoked = true
		}
	}
	return nil
}

// ExpireAccessTokens makes the user's current access tokens return 401
// InvalidAuthenticationToken, as if they had expired.
func (e *Emulator) ExpireAccessTokens(id string) error {
	return e.markAccessTokens(id, func(at *accessToken) { at.expired = true })
}

// ChallengeAccessTokens makes the user's current access tokens return 401
// with a claims challenge (error="insufficient_claims"), as continuous access
// evaluation does after a revoked session.
func (e *Emulator) ChallengeAccessTokens(id string) error {
	return e.markAccessTokens(id, func(at *accessToken) { at.challenged = true })
}

func (e *Emulator) markAccessTokens(userID string, mark func(*accessToken)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.state.userByID(userID)
	if u == nil {
		return ErrNotFound
	}
	for _, at := range e.state.accessTokens {
		if at.userID == u.ID {
			mark(at)
		}
	}
	return nil
}
