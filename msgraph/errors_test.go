package msgraph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorEnvelope(t *testing.T) {
	tests := []struct {
		name          string
		header        map[string]string
		body          string
		wantCode      string
		wantMessage   string
		wantRequestID string
	}{
		{"header request id", map[string]string{"request-id": "hdr-req"}, graphError("Request_ResourceNotFound", "Resource does not exist."), "Request_ResourceNotFound", "Resource does not exist.", "hdr-req"},
		{"inner request id", nil, graphError("NotFound", "Chat not found"), "NotFound", "Chat not found", "inner-req"},
		{"html body", map[string]string{"request-id": "hdr-req"}, "<html>Bad Gateway</html>", "", "", "hdr-req"},
		{"empty body", nil, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(tt.body))
			})
			c, _ := newTestClient(t, g, nil)

			_, err := c.Me(context.Background(), testToken)

			e, ok := asError(err)
			if !ok {
				t.Fatalf("Me() = %v, want a *Error", err)
			}
			if e.Status != 404 || e.Code != tt.wantCode || e.Message != tt.wantMessage || e.RequestID != tt.wantRequestID {
				t.Errorf("Me() error = %+v, want status 404, code %q, message %q, request-id %q", e, tt.wantCode, tt.wantMessage, tt.wantRequestID)
			}
			if sent := checkRequestCount(t, g, 1)[0].Header.Get("client-request-id"); e.ClientRequestID != sent {
				t.Errorf("ClientRequestID = %q, want the sent %q", e.ClientRequestID, sent)
			}
			if e.Endpoint != "GET /me" {
				t.Errorf("Endpoint = %q, want GET /me", e.Endpoint)
			}
		})
	}
}

func TestUnauthorizedKinds(t *testing.T) {
	tests := []struct {
		name            string
		wwwAuthenticate string
		wantClaims      bool
	}{
		{"expired token", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`, false},
		{"no header", "", false},
		{"claims challenge", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="`, true},
		{"claims challenge spaced", `Bearer error = "insufficient_claims", claims="e30="`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if tt.wwwAuthenticate != "" {
					w.Header().Set("WWW-Authenticate", tt.wwwAuthenticate)
				}
				writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", "Access token has expired or is not yet valid."))
			})
			c, waits := newTestClient(t, g, nil)

			_, err := c.Me(context.Background(), testToken)

			if got := IsClaimsChallenge(err); got != tt.wantClaims {
				t.Errorf("IsClaimsChallenge(%v) = %v, want %v", err, got, tt.wantClaims)
			}
			if got := IsUnauthorized(err); got != !tt.wantClaims {
				t.Errorf("IsUnauthorized(%v) = %v, want %v", err, got, !tt.wantClaims)
			}
			checkRequestCount(t, g, 1)
			if got := waits.recorded(); len(got) != 0 {
				t.Errorf("waits = %v, want none", got)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	notFound := &Error{Status: 404}
	unauthorized := &Error{Status: 401, Code: "InvalidAuthenticationToken"}
	claims := &Error{Status: 401, ClaimsChallenge: true}
	forbidden := &Error{Status: 403}
	throttled := &Error{Status: 429, RetryAfter: time.Second}
	unknown := &OutcomeUnknownError{Err: &Error{Status: 503}}
	wrapped := func(err error) error { return errors.Join(errors.New("send"), err) }

	tests := []struct {
		name string
		is   func(error) bool
		yes  []error
		no   []error
	}{
		{"IsNotFound", IsNotFound, []error{notFound, wrapped(notFound), ErrNotFound}, []error{forbidden, unknown, nil}},
		{"IsUnauthorized", IsUnauthorized, []error{unauthorized, wrapped(unauthorized)}, []error{claims, forbidden, nil}},
		{"IsClaimsChallenge", IsClaimsChallenge, []error{claims, wrapped(claims)}, []error{unauthorized, nil}},
		{"IsForbidden", IsForbidden, []error{forbidden, wrapped(forbidden)}, []error{unauthorized, notFound, nil}},
		{"IsThrottled", IsThrottled, []error{throttled, wrapped(throttled)}, []error{unknown, notFound, nil}},
	}
	for _, tt := range tests {
		for _, err := range tt.yes {
			if !tt.is(err) {
				t.Errorf("%s(%v) = false, want true", tt.name, err)
			}
		}
		for _, err := range tt.no {
			if tt.is(err) {
				t.Errorf("%s(%v) = true, want false", tt.name, err)
			}
		}
	}
	if !errors.Is(unknown, ErrOutcomeUnknown) {
		t.Errorf("errors.Is(%v, ErrOutcomeUnknown) = false, want true", unknown)
	}
}

func TestErrorTextOmitsToken(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", "Access token has expired."))
		case 1:
			writeJSON(w, http.StatusServiceUnavailable, graphError("ServiceUnavailable", "down"))
		default:
			dropConnection(t, w)
		}
	})
	c, _ := newTestClient(t, g, nil)
	ctx := context.Background()

	_, errMe := c.Me(ctx, testToken)
	_, errSend := c.SendChatMessage(ctx, testToken, chatID, ContentText, "Hello")
	_, errDrop := c.SendChatMessage(ctx, testToken, chatID, ContentText, "Hello")

	for _, err := range []error{errMe, errSend, errDrop} {
		if err == nil {
			t.Fatalf("error = nil, want a failure")
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error %q contains the access token", err)
		}
		if strings.Contains(err.Error(), "Bearer") {
			t.Errorf("error %q contains the Authorization header", err)
		}
	}
	if !strings.Contains(errMe.Error(), "InvalidAuthenticationToken") || !strings.Contains(errMe.Error(), "req-401") {
		t.Errorf("Me() error = %q, want the code and request-id in the text", errMe)
	}
}
