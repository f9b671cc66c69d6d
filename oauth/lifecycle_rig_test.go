package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/vault"
)

// lifecycleRedirect is the registered callback URL; the callback handler is
// called in-process, so nothing is served there.
const lifecycleRedirect = "https://api.wintro.test/oauth/callback"

// lifecycleRig is one database and one Microsoft emulator on loopback,
// shared by any number of service replicas, each with its own store and
// singleflight group, as separate processes would have.
type lifecycleRig struct {
	t      testing.TB
	db     *db.DB
	keys   *vault.Keyring
	clock  *testkit.Clock
	emu    *msemulator.Emulator
	emuURL string
}

func newLifecycleRig(t testing.TB, d *db.DB) *lifecycleRig {
	t.Helper()
	emu, server := testkit.Emulator(t, "test-secret", lifecycleRedirect)

	keys := testkit.Keyring(t)
	clock := testkit.NewClock(time.Now().UTC())
	return &lifecycleRig{t: t, db: d, keys: keys, clock: clock, emu: emu, emuURL: server.URL}
}

// replica returns a new service over the rig's database, clock and emulator.
func (r *lifecycleRig) replica(tweak ...func(*Config)) *Service {
	r.t.Helper()
	cfg := Config{
		ClientID: msemulator.DevClientID, ClientSecret: "test-secret",
		AuthorityURL: r.emuURL, RedirectURL: lifecycleRedirect, AppURL: "https://app.wintro.test",
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, Now: r.clock.Now,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(cfg, vault.NewStore(r.db, r.keys, r.clock.Now), r.keys)
	if err != nil {
		r.t.Fatalf("New = %v", err)
	}
	return s
}

// connect runs the connect flow for recruiterID signing in as login and
// returns the stored connection.
func (r *lifecycleRig) connect(s *Service, recruiterID, login string) *vault.Connection {
	r.t.Helper()
	ctx := context.Background()
	start, err := s.StartConnect(ctx, identity.Recruiter{ID: recruiterID, OrgID: "org-1", Email: login}, "/")
	if err != nil {
		r.t.Fatalf("StartConnect = %v", err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.PostForm(start.AuthorizationURL, url.Values{"login": {login}, "consent": {"accept"}})
	if err != nil {
		r.t.Fatalf("POST consent form: %v", err)
	}
	res.Body.Close()
	back := res.Header.Get("Location")
	if !strings.HasPrefix(back, lifecycleRedirect+"?") {
		r.t.Fatalf("consent redirect = %q, want %s?…", back, lifecycleRedirect)
	}

	rec := httptest.NewRecorder()
	callback := httptest.NewRequest(http.MethodGet, back, nil)
	callback.AddCookie(start.BrowserCookie)
	s.CallbackHandler().ServeHTTP(rec, callback)
	if loc := rec.Header().Get("Location"); !strings.Contains(loc, "teams=connected") {
		r.t.Fatalf("callback redirect = %q, want teams=connected", loc)
	}
	return r.connection(s, recruiterID)
}

// connection reads the recruiter's connection with its tokens.
func (r *lifecycleRig) connection(s *Service, recruiterID string) *vault.Connection {
	r.t.Helper()
	c, err := s.store.GetConnection(context.Background(), recruiterID, true)
	if err != nil {
		r.t.Fatalf("GetConnection(%s) = %v", recruiterID, err)
	}
	return c
}

// expireAccessToken moves the stored access token's expiry to one minute
// before the rig's clock, as if it had expired.
func (r *lifecycleRig) expireAccessToken(connectionID string) {
	r.t.Helper()
	_, err := r.db.ExecContext(context.Background(), r.db.Rebind(`UPDATE connections SET access_expires_at = ? WHERE id = ?`),
		r.clock.Now().Add(-time.Minute).UTC(), connectionID)
	if err != nil {
		r.t.Fatalf("expire access token: %v", err)
	}
}

// tokenCalls counts requests to the emulator's token endpoint, of any status.
func (r *lifecycleRig) tokenCalls() int {
	n := 0
	for k, v := range r.emu.RequestCounts() {
		if strings.Contains(k, "/oauth2/v2.0/token") {
			n += v
		}
	}
	return n
}

// settledTokenCalls returns the token endpoint count once it has reached at
// least want, or after five seconds. The emulator counts a request after
// its handler returns, which can be just after the client got the response.
func (r *lifecycleRig) settledTokenCalls(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for r.tokenCalls() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return r.tokenCalls()
}

// tokenPath is the token endpoint path under the emulator base, for faults.
const tokenPath = "/organizations/oauth2/v2.0/token"
