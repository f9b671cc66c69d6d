package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/vault"
)

func TestClassifyRefreshError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantKind   refreshFailure
		wantReason vault.ExpiredReason
	}{
		{"inactive 90 days", &TokenError{Code: "invalid_grant", SubError: "bad_token", ErrorCodes: []int{700082}}, failurePermanent, vault.ReasonInactivity},
		{"expired refresh token", &TokenError{Code: "invalid_grant", ErrorCodes: []int{70008}}, failurePermanent, vault.ReasonInactivity},
		{"code only in description", &TokenError{Code: "invalid_grant", Description: "AADSTS700082: The refresh token has expired"}, failurePermanent, vault.ReasonInactivity},
		{"grant revoked", &TokenError{Code: "invalid_grant", ErrorCodes: []int{50173}}, failurePermanent, vault.ReasonPasswordReset},
		{"consent withdrawn", &TokenError{Code: "invalid_grant", SubError: "consent_required", ErrorCodes: []int{65001}}, failurePermanent, vault.ReasonConsentWithdrawn},
		{"consent_required error", &TokenError{Code: "consent_required"}, failurePermanent, vault.ReasonConsentWithdrawn},
		{"mfa required", &TokenError{Code: "interaction_required", ErrorCodes: []int{50076}}, failurePermanent, vault.ReasonUnknown},
		{"bad refresh token", &TokenError{Code: "invalid_grant", ErrorCodes: []int{70000}}, failurePermanent, vault.ReasonUnknown},
		{"malformed grant", &TokenError{Code: "invalid_grant", ErrorCodes: []int{9002313}}, failurePermanent, vault.ReasonUnknown},
		{"invalid client secret", &TokenError{Status: 401, Code: "invalid_client", ErrorCodes: []int{7000215}}, failureConfig, ""},
		{"unknown client", &TokenError{Code: "unauthorized_client", ErrorCodes: []int{700016}}, failureConfig, ""},
		{"invalid request", &TokenError{Code: "invalid_request", ErrorCodes: []int{900144}}, failureConfig, ""},
		{"throttled", &TokenError{Status: 429, Code: "temporarily_unavailable", ErrorCodes: []int{90055}}, failureTransient, ""},
		{"server error", &TokenError{Status: 500, Code: "server_error"}, failureTransient, ""},
		{"unlisted code", &TokenError{Status: 400, Code: "something_new"}, failureTransient, ""},
		{"network error", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, failureTransient, ""},
		{"timeout", context.DeadlineExceeded, failureTransient, ""},
		{"wrapped", fmt.Errorf("refresh: %w", &TokenError{Code: "invalid_grant", ErrorCodes: []int{50173}}), failurePermanent, vault.ReasonPasswordReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, reason := classifyRefreshError(tt.err)
			if kind != tt.wantKind || reason != tt.wantReason {
				t.Errorf("classifyRefreshError(%v) = %d, %q; want %d, %q", tt.err, kind, reason, tt.wantKind, tt.wantReason)
			}
		})
	}
}

// tokenReply is one canned reply of a fake token endpoint, in Microsoft's
// documented error format.
type tokenReply struct {
	status     int
	retryAfter string
	body       string
	reset      bool // close the connection with a TCP reset instead of a response
}

// aadBody returns Microsoft's token error JSON for error, suberror and an
// AADSTS number.
func aadBody(code, suberror string, aadsts int) string {
	return fmt.Sprintf(`{"error":%q,"error_description":"AADSTS%d: Test reply.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z",`+
		`"error_codes":[%d],"timestamp":"2026-01-01 00:00:00Z","trace_id":"t","correlation_id":"c","suberror":%q}`, code, aadsts, aadsts, suberror)
}

// fakeTokenEndpoint serves reply for every request after checking that it
// is a refresh_token grant for refreshToken with the client credentials in
// the body. It counts the requests it got.
func fakeTokenEndpoint(t *testing.T, refreshToken string, reply *atomic.Pointer[tokenReply], calls *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request: %v", err)
		}
		f := r.PostForm
		if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != refreshToken ||
			f.Get("client_id") != "client-1" || f.Get("client_secret") != "secret-1" {
			t.Errorf("token request grant_type=%q, refresh token sent %v, client_id=%q, secret sent %v; want the stored refresh token and client credentials in the body",
				f.Get("grant_type"), f.Get("refresh_token") == refreshToken, f.Get("client_id"), f.Get("client_secret") == "secret-1")
		}
		rp := reply.Load()
		if rp.reset {
			resetConnection(t, w)
			return
		}
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.status)
		fmt.Fprint(w, rp.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// resetConnection closes the request's connection with a TCP RST.
func resetConnection(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}

// replyCase is a token endpoint reply and what Access must make of it.
type replyCase struct {
	name        string
	reply       tokenReply
	wantErr     error               // matched with errors.Is, unless wantExpired is set
	wantExpired vault.ExpiredReason // the connection expires with this reason
	wantBackoff time.Duration       // at least this long before the next call; 0 for none
}

var replyCases = []replyCase{
	{name: "inactivity 700082", reply: tokenReply{status: 400, body: aadBody("invalid_grant", "bad_token", 700082)}, wantExpired: vault.ReasonInactivity},
	{name: "expired 70008", reply: tokenReply{status: 400, body: aadBody("invalid_grant", "", 70008)}, wantExpired: vault.ReasonInactivity},
	{name: "revoked 50173", reply: tokenReply{status: 400, body: aadBody("invalid_grant", "", 50173)}, wantExpired: vault.ReasonPasswordReset},
	{name: "consent 65001", reply: tokenReply{status: 400, body: aadBody("invalid_grant", "consent_required", 65001)}, wantExpired: vault.ReasonConsentWithdrawn},
	{name: "mfa 50076", reply: tokenReply{status: 400, body: aadBody("interaction_required", "basic_action", 50076)}, wantExpired: vault.ReasonUnknown},
	{name: "consent_required", reply: tokenReply{status: 400, body: aadBody("consent_required", "", 65004)}, wantExpired: vault.ReasonConsentWithdrawn},
	{name: "bad grant 70000", reply: tokenReply{status: 400, body: aadBody("invalid_grant", "", 70000)}, wantExpired: vault.ReasonUnknown},
	{name: "invalid_client 401", reply: tokenReply{status: 401, body: aadBody("invalid_client", "", 7000215)}, wantErr: ErrMisconfigured, wantBackoff: time.Second},
	{name: "throttled 429", reply: tokenReply{status: 429, retryAfter: "30", body: aadBody("temporarily_unavailable", "", 90055)}, wantErr: ErrUpstreamUnavailable, wantBackoff: 30 * time.Second},
	{name: "unavailable 503", reply: tokenReply{status: 503, body: aadBody("temporarily_unavailable", "", 90033)}, wantErr: ErrUpstreamUnavailable, wantBackoff: time.Second},
	{name: "html 502", reply: tokenReply{status: 502, body: "<html>Bad Gateway</html>"}, wantErr: ErrUpstreamUnavailable, wantBackoff: time.Second},
	{name: "connection reset", reply: tokenReply{reset: true}, wantErr: ErrUpstreamUnavailable, wantBackoff: time.Second},
}

// TestRefreshReplies checks each reply of the token endpoint against its
// outcome. A dead grant expires the connection with its reason and is never
// sent again. A configuration or transient failure keeps the connection and
// its tokens, and the next call waits for the backoff.
func TestRefreshReplies(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, tc := range replyCases {
			t.Run(tc.name, func(t *testing.T) { checkReply(t, d, tc) })
		}
	})
}

func checkReply(t *testing.T, d *db.DB, tc replyCase) {
	var reply atomic.Pointer[tokenReply]
	var calls atomic.Int64
	reply.Store(&tc.reply)
	srv := fakeTokenEndpoint(t, "rt-"+tc.name, &reply, &calls)
	s, clock := fakeEndpointService(t, d, srv.URL)
	recruiter := "r-" + tc.name
	seedConnection(t, s, recruiter, "rt-"+tc.name, clock.Now().Add(-time.Minute))
	ctx := context.Background()

	_, err := s.Access(ctx, recruiter)
	c, _ := s.store.GetConnection(ctx, recruiter, true)
	var expired *ExpiredError
	if tc.wantExpired != "" {
		if !errors.As(err, &expired) || expired.Reason != tc.wantExpired {
			t.Fatalf("Access = %v, want ExpiredError %s", err, tc.wantExpired)
		}
		if c.Status != vault.StatusExpired || c.ExpiredReason != tc.wantExpired || c.HasTokens {
			t.Errorf("connection = %s/%s with tokens %v, want EXPIRED/%s without tokens", c.Status, c.ExpiredReason, c.HasTokens, tc.wantExpired)
		}
		clock.Add(maxRefreshBackoff)
		if _, err := s.Access(ctx, recruiter); !errors.As(err, &expired) {
			t.Errorf("second Access = %v, want ExpiredError", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("token endpoint calls = %d, want 1: a dead refresh token is never sent again", n)
		}
		return
	}

	if !errors.Is(err, tc.wantErr) {
		t.Fatalf("Access = %v, want %v", err, tc.wantErr)
	}
	if c.Status != vault.StatusConnected || c.Tokens == nil || c.Tokens.RefreshToken != "rt-"+tc.name {
		t.Errorf("connection = %s, want CONNECTED with its refresh token", c.Status)
	}
	clock.Add(tc.wantBackoff - time.Millisecond)
	if _, err := s.Access(ctx, recruiter); !errors.Is(err, ErrUpstreamUnavailable) || calls.Load() != 1 {
		t.Errorf("Access within the backoff = %v after %d calls, want ErrUpstreamUnavailable after 1", err, calls.Load())
	}
	reply.Store(&tokenReply{status: 200, body: `{"token_type":"Bearer","access_token":"at-new","refresh_token":"rt-new","expires_in":3600}`})
	clock.Add(maxRefreshBackoff)
	if a, err := s.Access(ctx, recruiter); err != nil || a.Token != "at-new" {
		t.Errorf("Access after the backoff = %v, want the new token", err)
	}
}

// fakeEndpointService returns a service whose token endpoint is url, with
// a settable clock.
func fakeEndpointService(t *testing.T, d *db.DB, url string) (*Service, *testkit.Clock) {
	t.Helper()
	keys := testkit.Keyring(t)
	clock := testkit.NewClock(time.Now().UTC())
	s, err := New(Config{
		ClientID: "client-1", ClientSecret: "secret-1", AuthorityURL: url,
		RedirectURL: lifecycleRedirect, AppURL: "https://app.wintro.test", Now: clock.Now,
	}, vault.NewStore(d, keys, clock.Now), keys)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s, clock
}

// seedConnection stores a CONNECTED connection with the given refresh token
// and access token expiry.
func seedConnection(t *testing.T, s *Service, recruiterID, refreshToken string, accessExpiresAt time.Time) *vault.Connection {
	t.Helper()
	c := &vault.Connection{
		RecruiterID: recruiterID, OrgID: "org-1", AccountID: "account-" + recruiterID, TenantID: "tenant-1",
		Email: recruiterID + "@contoso.test", DisplayName: recruiterID, GrantedScopes: RequiredScopes(),
	}
	tokens := vault.Tokens{AccessToken: "at-" + recruiterID, RefreshToken: refreshToken, AccessExpiresAt: accessExpiresAt}
	if err := s.store.SaveConnected(context.Background(), c, tokens); err != nil {
		t.Fatalf("SaveConnected = %v", err)
	}
	return c
}

// TestRefreshReplyFormats checks how a successful reply is stored:
// expires_in as a number or a string, a missing expires_in as a short
// lifetime, and a missing refresh_token as the old one kept.
func TestRefreshReplyFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantLife    time.Duration
		wantRefresh string
	}{
		{"number", `{"token_type":"Bearer","access_token":"at-2","refresh_token":"rt-2","expires_in":4000}`, 4000 * time.Second, "rt-2"},
		{"string", `{"token_type":"Bearer","access_token":"at-2","refresh_token":"rt-2","expires_in":"4000"}`, 4000 * time.Second, "rt-2"},
		{"missing expires_in", `{"token_type":"Bearer","access_token":"at-2","refresh_token":"rt-2"}`, missingExpiresIn, "rt-2"},
		{"no new refresh token", `{"token_type":"Bearer","access_token":"at-2","expires_in":3600}`, time.Hour, "rt-1"},
	}
	d := dbtest.SQLite(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reply atomic.Pointer[tokenReply]
			var calls atomic.Int64
			reply.Store(&tokenReply{status: 200, body: tt.body})
			srv := fakeTokenEndpoint(t, "rt-1", &reply, &calls)
			s, clock := fakeEndpointService(t, d, srv.URL)
			seedConnection(t, s, tt.name, "rt-1", clock.Now().Add(-time.Minute))

			a, err := s.Access(context.Background(), tt.name)
			if err != nil || a.Token != "at-2" {
				t.Fatalf("Access = %v, want at-2", err)
			}
			c, _ := s.store.GetConnection(context.Background(), tt.name, true)
			if got := c.Tokens.AccessExpiresAt.Sub(clock.Now()); got.Round(time.Second) != tt.wantLife {
				t.Errorf("stored lifetime = %s, want %s", got, tt.wantLife)
			}
			if c.Tokens.RefreshToken != tt.wantRefresh {
				t.Errorf("stored refresh token = %q, want %q", c.Tokens.RefreshToken, tt.wantRefresh)
			}
		})
	}
}

// TestBackoffSharedByReplicas shows that the backoff after a failed refresh
// holds for every replica: one that never saw the failure does not call the
// token endpoint before it ends, and a success clears it for all.
func TestBackoffSharedByReplicas(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var reply atomic.Pointer[tokenReply]
		var calls atomic.Int64
		reply.Store(&tokenReply{status: 503, body: aadBody("temporarily_unavailable", "", 90033)})
		srv := fakeTokenEndpoint(t, "rt-shared", &reply, &calls)
		first, clock := fakeEndpointService(t, d, srv.URL)
		second, err := New(first.cfg, vault.NewStore(d, first.keys, clock.Now), first.keys)
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		seedConnection(t, first, "r-shared", "rt-shared", clock.Now().Add(-time.Minute))
		ctx := context.Background()

		if _, err := first.Access(ctx, "r-shared"); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Fatalf("first replica's Access = %v, want ErrUpstreamUnavailable", err)
		}
		if _, err := second.Access(ctx, "r-shared"); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Errorf("second replica's Access within the backoff = %v, want ErrUpstreamUnavailable", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("token endpoint calls = %d, want 1: the second replica must wait for the shared backoff", n)
		}

		// The second failure doubles the backoff, whichever replica meets it.
		clock.Add(2 * time.Second)
		if _, err := second.Access(ctx, "r-shared"); !errors.Is(err, ErrUpstreamUnavailable) {
			t.Errorf("second replica's Access after the backoff = %v, want ErrUpstreamUnavailable", err)
		}
		c, err := first.store.GetConnection(ctx, "r-shared", false)
		if err != nil || c.RefreshFailures != 2 || c.RefreshRetryAt == nil || c.RefreshRetryAt.Sub(clock.Now()) < 2*time.Second {
			t.Fatalf("connection after two failures = %+v, %v; want 2 failures and a retry at least 2 s away", c, err)
		}

		reply.Store(&tokenReply{status: 200, body: `{"token_type":"Bearer","access_token":"at-new","refresh_token":"rt-new","expires_in":3600}`})
		clock.Add(maxRefreshBackoff)
		if a, err := first.Access(ctx, "r-shared"); err != nil || a.Token != "at-new" {
			t.Fatalf("Access after the backoff = %v, want the new token", err)
		}
		if c, _ := first.store.GetConnection(ctx, "r-shared", false); c.RefreshFailures != 0 || c.RefreshRetryAt != nil {
			t.Errorf("connection after a success = %d failures, retry at %v; want 0 and none", c.RefreshFailures, c.RefreshRetryAt)
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("token endpoint calls = %d, want 3", n)
		}
	})
}
