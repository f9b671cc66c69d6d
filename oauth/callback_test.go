package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/vault"
)

// Addresses of the service under test. The callback handler is called
// in-process, so nothing is served at them.
const (
	callbackURL = "https://api.wintro.test/oauth/callback"
	appURL      = "https://app.wintro.test"
)

// callbackHarness is the OAuth service over a migrated database, talking to
// the Microsoft emulator on a loopback HTTP server.
type callbackHarness struct {
	// cookies are the browser cookies StartConnect handed out, as a
	// browser keeps them.
	cookies []*http.Cookie
	t       *testing.T
	svc     *oauth.Service
	store   *vault.Store
	emu     *msemulator.Emulator
	emuURL  string
	clock   *testkit.Clock
	browser *http.Client // posts the emulator's forms without following redirects
}

func newCallbackHarness(t *testing.T, d *db.DB) *callbackHarness {
	t.Helper()
	emu, server := testkit.Emulator(t, "test-secret", callbackURL)

	keys := testkit.Keyring(t)
	clock := testkit.NewClock(time.Now().UTC())
	store := vault.NewStore(d, keys, clock.Now)
	svc, err := oauth.New(oauth.Config{
		ClientID: msemulator.DevClientID, ClientSecret: "test-secret",
		AuthorityURL: server.URL, RedirectURL: callbackURL, AppURL: appURL,
		HTTPClient: server.Client(), Now: clock.Now,
	}, store, keys)
	if err != nil {
		t.Fatalf("oauth.New = %v", err)
	}
	browser := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &callbackHarness{t: t, svc: svc, store: store, emu: emu, emuURL: server.URL, clock: clock, browser: browser}
}

// recruiterOf returns a recruiter of org-1 signing in as a seeded user.
func recruiterOf(id, email string) identity.Recruiter {
	return identity.Recruiter{ID: id, OrgID: "org-1", Email: email}
}

// start runs StartConnect and returns the authorization URL.
func (h *callbackHarness) start(r identity.Recruiter) string {
	h.t.Helper()
	cs, err := h.svc.StartConnect(context.Background(), r, "/settings/communication")
	if err != nil {
		h.t.Fatalf("StartConnect(%s) = %v", r.ID, err)
	}
	h.cookies = append(h.cookies, cs.BrowserCookie)
	return cs.AuthorizationURL
}

// submit posts the emulator's consent form and returns where it redirects.
func (h *callbackHarness) submit(pageURL string, form url.Values) url.Values {
	h.t.Helper()
	res, err := h.browser.PostForm(pageURL, form)
	if err != nil {
		h.t.Fatalf("POST %s: %v", pageURL, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		h.t.Fatalf("POST consent form = status %d, want 302", res.StatusCode)
	}
	return h.redirectQuery(res)
}

// open GETs an emulator page that redirects at once (a forced authorize
// error) and returns where it redirects.
func (h *callbackHarness) open(pageURL string) url.Values {
	h.t.Helper()
	res, err := h.browser.Get(pageURL)
	if err != nil {
		h.t.Fatalf("GET %s: %v", pageURL, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		h.t.Fatalf("GET authorize = status %d, want 302", res.StatusCode)
	}
	return h.redirectQuery(res)
}

func (h *callbackHarness) redirectQuery(res *http.Response) url.Values {
	h.t.Helper()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		h.t.Fatalf("redirect %q: %v", res.Header.Get("Location"), err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callbackURL {
		h.t.Fatalf("emulator redirected to %s, want %s", got, callbackURL)
	}
	return loc.Query()
}

// callback calls the callback handler with q and returns the app redirect.
func (h *callbackHarness) callback(q url.Values) *url.URL {
	h.t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, callbackURL+"?"+q.Encode(), nil)
	for _, c := range h.cookies {
		req.AddCookie(c)
	}
	h.svc.CallbackHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusFound {
		h.t.Fatalf("callback = status %d, want 302", rec.Code)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host != appURL {
		h.t.Fatalf("callback redirect = %q, want a URL on %s", rec.Header().Get("Location"), appURL)
	}
	return loc
}

// connect runs the whole flow as login, submitting the consent choice and extra form fields.
func (h *callbackHarness) connect(r identity.Recruiter, login, answer string, extra url.Values) *url.URL {
	h.t.Helper()
	form := url.Values{"login": {login}, "consent": {answer}}
	for k, v := range extra {
		form[k] = v
	}
	return h.callback(h.submit(h.start(r), form))
}

func (h *callbackHarness) integration(r identity.Recruiter) *oauth.Integration {
	h.t.Helper()
	in, err := h.svc.Integration(context.Background(), r)
	if err != nil {
		h.t.Fatalf("Integration(%s) = %v", r.ID, err)
	}
	return in
}

func (h *callbackHarness) tokenCalls() int {
	n := 0
	for k, v := range h.emu.RequestCounts() {
		if strings.Contains(k, "/oauth2/v2.0/token") {
			n += v
		}
	}
	return n
}

// lastError returns the recorded last connect error code of r, or "" when
// there is none or no connection at all.
func lastError(in *oauth.Integration) string {
	if in.Connection == nil {
		return ""
	}
	return in.Connection.LastConnectErrorCode
}

func wantRedirect(t *testing.T, got *url.URL, path, teams, reason string) {
	t.Helper()
	q := got.Query()
	if got.Path != path || q.Get("teams") != teams || q.Get("reason") != reason {
		t.Errorf("callback redirect = %s, want path %s with teams=%s reason=%q", got, path, teams, reason)
	}
}

func TestCallbackConnects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newCallbackHarness(t, d)
		rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)

		back := h.connect(rita, msemulator.DemoRecruiterUPN, "accept", nil)

		wantRedirect(t, back, "/settings/communication", "connected", "")
		in := h.integration(rita)
		if in.Status != vault.StatusConnected {
			t.Fatalf("Integration().Status = %s, want CONNECTED", in.Status)
		}
		c := in.Connection
		if c.AccountID != msemulator.DemoRecruiterID || c.TenantID != msemulator.DemoTenantID || c.Email != msemulator.DemoRecruiterUPN {
			t.Errorf("Integration().Connection = %s in %s as %s, want %s in %s as %s",
				c.AccountID, c.TenantID, c.Email, msemulator.DemoRecruiterID, msemulator.DemoTenantID, msemulator.DemoRecruiterUPN)
		}
		if len(in.MissingScopes) != 0 {
			t.Errorf("Integration().MissingScopes = %v, want none", in.MissingScopes)
		}
		if in.AdminConsentURL != "" {
			t.Errorf("Integration().AdminConsentURL = %q, want none for a connected recruiter", in.AdminConsentURL)
		}
		if in.ApplicationID != msemulator.DevClientID {
			t.Errorf("Integration().ApplicationID = %q, want %q", in.ApplicationID, msemulator.DevClientID)
		}
	})
}

// TestCallbackScopeForms connects with the token response's scopes as full
// URIs (the emulator's default) and as short names.
func TestCallbackScopeForms(t *testing.T) {
	for _, format := range []string{"uri", "short"} {
		t.Run(format, func(t *testing.T) {
			h := newCallbackHarness(t, dbtest.SQLite(t))
			h.emu.SetSettings(msemulator.Settings{ScopeFormat: format})
			rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)

			h.connect(rita, msemulator.DemoRecruiterUPN, "accept", nil)

			in := h.integration(rita)
			want := []string{"Chat.ReadWrite", "ChatMessage.Send", "User.Read", "User.ReadBasic.All", "email", "offline_access", "openid", "profile"}
			if !slices.Equal(in.Connection.GrantedScopes, want) {
				t.Errorf("GrantedScopes = %v, want %v", in.Connection.GrantedScopes, want)
			}
			if len(in.MissingScopes) != 0 {
				t.Errorf("MissingScopes = %v, want none", in.MissingScopes)
			}
		})
	}
}

func TestCallbackPartialGrant(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newCallbackHarness(t, d)
		rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
		partial := url.Values{"scopes": {"User.Read User.ReadBasic.All Chat.ReadWrite"}}

		back := h.connect(rita, msemulator.DemoRecruiterUPN, "accept", partial)

		wantRedirect(t, back, "/settings/communication", "connected", "")
		in := h.integration(rita)
		if in.Status != vault.StatusConnected {
			t.Fatalf("Integration().Status = %s, want CONNECTED", in.Status)
		}
		if want := []string{oauth.ScopeChatMessageSend}; !slices.Equal(in.MissingScopes, want) {
			t.Errorf("Integration().MissingScopes = %v, want %v", in.MissingScopes, want)
		}
		a, err := h.svc.Access(context.Background(), rita.ID)
		if err != nil {
			t.Fatalf("Access = %v", err)
		}
		var missing *oauth.MissingScopeError
		if err := a.RequireScope(oauth.ScopeChatMessageSend); !errors.As(err, &missing) || missing.Permission.Reason == "" {
			t.Errorf("RequireScope(ChatMessage.Send) = %v, want a MissingScopeError with the reason", err)
		}
		if err := a.RequireScope(oauth.ScopeUserReadBasicAll); err != nil {
			t.Errorf("RequireScope(User.ReadBasic.All) = %v, want nil", err)
		}

		// Connecting again requests every required scope, the missing one included.
		scope := strings.Fields(mustQuery(t, h.start(rita)).Get("scope"))
		for _, s := range oauth.RequiredScopes() {
			if !slices.Contains(scope, s) {
				t.Errorf("reconnect authorization URL scope = %v, want it to contain %s", scope, s)
			}
		}
		h.connect(rita, msemulator.DemoRecruiterUPN, "accept", nil)
		if in := h.integration(rita); len(in.MissingScopes) != 0 {
			t.Errorf("MissingScopes after a full grant = %v, want none", in.MissingScopes)
		}
	})
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u.Query()
}

// TestCallbackErrorVariants drives every authorize error variant through the
// emulator's authorizeError setting.
func TestCallbackErrorVariants(t *testing.T) {
	tests := []struct {
		name       string
		forced     msemulator.AuthorizeError
		wantReason string
		wantStatus vault.Status
		wantLink   bool
	}{
		{"bare cancel", msemulator.AuthorizeError{Error: "access_denied", ErrorSubcode: "cancel"}, oauth.ReasonCancelled, vault.StatusDisconnected, true},
		{"declined", msemulator.AuthorizeError{Error: "access_denied", ErrorDescription: "AADSTS65004: User declined to consent to access the app."}, oauth.ReasonConsentDeclined, vault.StatusDisconnected, true},
		{"approval 90094", msemulator.AuthorizeError{Error: "access_denied", ErrorDescription: "AADSTS90094: The grant requires admin permission."}, oauth.ReasonAdminApprovalRequired, vault.StatusPendingAdminApproval, true},
		{"requested 90095", msemulator.AuthorizeError{Error: "access_denied", ErrorSubcode: "cancel", ErrorDescription: "AADSTS90095: Admin consent is required."}, oauth.ReasonAdminApprovalRequired, vault.StatusPendingAdminApproval, true},
		{"no consent 65001", msemulator.AuthorizeError{Error: "invalid_request", ErrorDescription: "AADSTS65001: The user or administrator has not consented."}, oauth.ReasonAdminApprovalRequired, vault.StatusPendingAdminApproval, true},
		{"consent_required", msemulator.AuthorizeError{Error: "consent_required"}, oauth.ReasonAdminApprovalRequired, vault.StatusPendingAdminApproval, true},
		{"interaction_required", msemulator.AuthorizeError{Error: "interaction_required"}, oauth.ReasonSignInInterrupted, vault.StatusDisconnected, false},
		{"login_required", msemulator.AuthorizeError{Error: "login_required"}, oauth.ReasonSignInInterrupted, vault.StatusDisconnected, false},
		{"temporarily_unavailable", msemulator.AuthorizeError{Error: "temporarily_unavailable"}, oauth.ReasonMicrosoftUnavailable, vault.StatusDisconnected, false},
		{"server_error", msemulator.AuthorizeError{Error: "server_error"}, oauth.ReasonMicrosoftUnavailable, vault.StatusDisconnected, false},
		{"unauthorized_client", msemulator.AuthorizeError{Error: "unauthorized_client"}, oauth.ReasonRequestRejected, vault.StatusDisconnected, false},
	}
	h := newCallbackHarness(t, dbtest.SQLite(t))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recruiterOf("r-"+string(rune('a'+i)), msemulator.DemoRecruiterUPN)
			h.emu.SetSettings(msemulator.Settings{AuthorizeError: &tt.forced})
			defer h.emu.SetSettings(msemulator.Settings{})
			calls := h.tokenCalls()

			back := h.callback(h.open(h.start(r)))

			wantRedirect(t, back, "/settings/communication", "error", tt.wantReason)
			in := h.integration(r)
			if in.Status != tt.wantStatus || lastError(in) != tt.wantReason {
				t.Errorf("Integration() = %s with last error %q, want %s with %q", in.Status, lastError(in), tt.wantStatus, tt.wantReason)
			}
			if in.Connection != nil && (in.Connection.LastConnectErrorMessage == "" || in.Connection.HasTokens) {
				t.Errorf("Connection = message %q, has tokens %v, want a message and no tokens", in.Connection.LastConnectErrorMessage, in.Connection.HasTokens)
			}
			if got := in.AdminConsentURL != ""; got != tt.wantLink {
				t.Errorf("Integration().AdminConsentURL = %q, want a link: %v", in.AdminConsentURL, tt.wantLink)
			}
			if got := h.tokenCalls() - calls; got != 0 {
				t.Errorf("token endpoint calls = %d, want 0", got)
			}
		})
	}
}

// TestCallbackRecordsOnlyItsRecruiter checks that a failed attempt is
// recorded on the recruiter whose state came back, and that starting a
// connect records nothing.
func TestCallbackRecordsOnlyItsRecruiter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newCallbackHarness(t, d)
		ann := recruiterOf("r-ann", msemulator.DemoRecruiterUPN)
		ben := recruiterOf("r-ben", msemulator.DemoAlanUPN)
		annURL := h.start(ann)
		benURL := h.start(ben)
		if _, err := h.store.GetConnection(context.Background(), ben.ID, false); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("GetConnection(ben) after StartConnect = %v, want ErrNotFound", err)
		}

		h.callback(h.submit(annURL, url.Values{"login": {msemulator.DemoRecruiterUPN}, "consent": {"decline"}}))

		if got := lastError(h.integration(ann)); got != oauth.ReasonConsentDeclined {
			t.Errorf("ann's last error = %q, want %q", got, oauth.ReasonConsentDeclined)
		}
		if _, err := h.store.GetConnection(context.Background(), ben.ID, false); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("GetConnection(ben) after ann's failure = %v, want ErrNotFound", err)
		}

		// Ben's own attempt is still open and succeeds.
		wantRedirect(t, h.callback(h.submit(benURL, url.Values{"login": {msemulator.DemoAlanUPN}, "consent": {"accept"}})), "/settings/communication", "connected", "")
	})
}

func TestCallbackSuccessClearsError(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newCallbackHarness(t, d)
		rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
		h.connect(rita, msemulator.DemoRecruiterUPN, "decline", nil)
		if got := lastError(h.integration(rita)); got != oauth.ReasonConsentDeclined {
			t.Fatalf("last error after decline = %q, want %q", got, oauth.ReasonConsentDeclined)
		}

		h.connect(rita, msemulator.DemoRecruiterUPN, "accept", nil)

		in := h.integration(rita)
		if in.Status != vault.StatusConnected || lastError(in) != "" || in.Connection.LastConnectErrorMessage != "" {
			t.Errorf("Integration() = %s with last error %q %q, want CONNECTED with none", in.Status, lastError(in), in.Connection.LastConnectErrorMessage)
		}
		if in.AdminConsentURL != "" {
			t.Errorf("AdminConsentURL = %q, want none", in.AdminConsentURL)
		}
	})
}

// TestCallbackReconnectCancelled checks that a connected recruiter who
// cancels a second attempt keeps the working connection.
func TestCallbackReconnectCancelled(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
	h.connect(rita, msemulator.DemoRecruiterUPN, "accept", nil)

	h.connect(rita, msemulator.DemoRecruiterUPN, "decline", nil)

	in := h.integration(rita)
	if in.Status != vault.StatusConnected || lastError(in) != oauth.ReasonConsentDeclined {
		t.Errorf("Integration() = %s with last error %q, want CONNECTED with %q", in.Status, lastError(in), oauth.ReasonConsentDeclined)
	}
	if _, err := h.svc.Access(context.Background(), rita.ID); err != nil {
		t.Errorf("Access after a cancelled reconnect = %v, want the old connection", err)
	}
}

func TestCallbackRejectsState(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
	used := h.submit(h.start(rita), url.Values{"login": {msemulator.DemoRecruiterUPN}, "consent": {"accept"}})
	h.callback(used)

	foreign := url.Values{"code": {"1.emu.code"}, "state": {"foreign-state"}}
	err := h.store.CreateConnectRequest(context.Background(), vault.ConnectRequest{
		StateHash: oauth.HashStateForTest("foreign-state"), Kind: vault.KindAdminConsent, RecruiterID: "r-other",
		ExpiresAt: h.clock.Now().Add(time.Minute),
	})
	if err != nil {
		t.Fatalf("CreateConnectRequest = %v", err)
	}

	tests := []struct {
		name string
		q    url.Values
	}{
		{"missing", url.Values{"code": {"1.emu.code"}}},
		{"unknown", url.Values{"code": {"1.emu.code"}, "state": {"not-a-state"}}},
		{"replayed", used},
		{"other flow", foreign},
		{"forged admin", url.Values{"admin_consent": {"True"}, "tenant": {msemulator.DemoTenantID}, "state": {"ac.bm90LXNlYWxlZA"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := h.tokenCalls()
			wantRedirect(t, h.callback(tt.q), "/", "error", oauth.ReasonInvalidState)
			if got := h.tokenCalls() - calls; got != 0 {
				t.Errorf("token endpoint calls = %d, want 0", got)
			}
		})
	}
	if _, err := h.store.GetConnection(context.Background(), "r-other", false); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("GetConnection(r-other) = %v, want ErrNotFound: a rejected state records nothing", err)
	}
}

func TestCallbackExpiredState(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
	q := h.submit(h.start(rita), url.Values{"login": {msemulator.DemoRecruiterUPN}, "consent": {"accept"}})
	h.clock.Add(oauth.DefaultConnectRequestTTL + time.Second)
	calls := h.tokenCalls()

	back := h.callback(q)

	wantRedirect(t, back, "/settings/communication", "error", oauth.ReasonExpiredState)
	if got := h.tokenCalls() - calls; got != 0 {
		t.Errorf("token endpoint calls = %d, want 0", got)
	}
	if got := lastError(h.integration(rita)); got != oauth.ReasonExpiredState {
		t.Errorf("last error = %q, want %q", got, oauth.ReasonExpiredState)
	}
}

// TestCallbackKeepsPending checks that an outage or a cancel leaves a
// pending recruiter pending, and a decline does not.
func TestCallbackKeepsPending(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	fiona := recruiterOf("r-fiona", msemulator.FabrikamUserUPN)
	h.connect(fiona, msemulator.FabrikamUserUPN, "request_approval", url.Values{"justification": {"Recruiting"}})
	if in := h.integration(fiona); in.Status != vault.StatusPendingAdminApproval {
		t.Fatalf("status after request_approval = %s, want PENDING_ADMIN_APPROVAL", in.Status)
	}

	steps := []struct {
		forced     msemulator.AuthorizeError
		wantReason string
		wantStatus vault.Status
	}{
		{msemulator.AuthorizeError{Error: "temporarily_unavailable"}, oauth.ReasonMicrosoftUnavailable, vault.StatusPendingAdminApproval},
		{msemulator.AuthorizeError{Error: "access_denied", ErrorSubcode: "cancel"}, oauth.ReasonCancelled, vault.StatusPendingAdminApproval},
		{msemulator.AuthorizeError{Error: "access_denied", ErrorDescription: "AADSTS65004: User declined to consent to access the app."}, oauth.ReasonConsentDeclined, vault.StatusDisconnected},
	}
	for _, step := range steps {
		h.emu.SetSettings(msemulator.Settings{AuthorizeError: &step.forced})
		h.callback(h.open(h.start(fiona)))
		in := h.integration(fiona)
		if in.Status != step.wantStatus || lastError(in) != step.wantReason {
			t.Errorf("after %s: Integration() = %s with %q, want %s with %q", step.forced.Error, in.Status, lastError(in), step.wantStatus, step.wantReason)
		}
	}
}

func TestAdminConsentURL(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
	tests := []struct {
		name, tenant, wantPath string
	}{
		{"unknown tenant", "", "/organizations/v2.0/adminconsent"},
		{"known tenant", msemulator.DemoTenantID, "/" + msemulator.DemoTenantID + "/v2.0/adminconsent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := h.svc.AdminConsentURL(rita, tt.tenant)
			if err != nil {
				t.Fatalf("AdminConsentURL = %v", err)
			}
			u, _ := url.Parse(raw)
			if got := u.Scheme + "://" + u.Host + u.Path; got != h.emuURL+tt.wantPath {
				t.Errorf("AdminConsentURL(%q) = %s, want %s%s", tt.tenant, got, h.emuURL, tt.wantPath)
			}
			q := u.Query()
			if q.Get("client_id") != msemulator.DevClientID || q.Get("redirect_uri") != callbackURL {
				t.Errorf("AdminConsentURL query = %v, want client_id %s and redirect_uri %s", q, msemulator.DevClientID, callbackURL)
			}
			scope := strings.Fields(q.Get("scope"))
			for _, s := range []string{"https://graph.microsoft.com/ChatMessage.Send", "https://graph.microsoft.com/User.ReadBasic.All", "offline_access"} {
				if !slices.Contains(scope, s) {
					t.Errorf("AdminConsentURL scope = %v, want %s", scope, s)
				}
			}
			if st := q.Get("state"); !strings.HasPrefix(st, "ac.") || strings.Contains(st, rita.OrgID) || strings.Contains(st, rita.ID) {
				t.Errorf("AdminConsentURL state = %q, want a sealed state with the ac. prefix", st)
			}
		})
	}
}

// approve submits the admin consent page of link as login with the consent choice.
func (h *callbackHarness) approve(link, login, answer string) url.Values {
	h.t.Helper()
	return h.submit(link, url.Values{"login": {login}, "consent": {answer}})
}

func TestAdminConsentReleasesPending(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newCallbackHarness(t, d)
		fiona := recruiterOf("r-fiona", msemulator.FabrikamUserUPN)
		colleague := recruiterOf("r-colleague", msemulator.FabrikamUserUPN)
		outsider := identity.Recruiter{ID: "r-outsider", OrgID: "org-2", Email: msemulator.FabrikamUserUPN}
		for _, r := range []identity.Recruiter{fiona, colleague, outsider} {
			h.connect(r, msemulator.FabrikamUserUPN, "request_approval", nil)
		}
		in := h.integration(fiona)
		if in.Status != vault.StatusPendingAdminApproval || in.AdminConsentURL == "" {
			t.Fatalf("Integration() = %s with link %q, want PENDING_ADMIN_APPROVAL with a link", in.Status, in.AdminConsentURL)
		}
		if !strings.Contains(in.AdminConsentURL, "/organizations/v2.0/adminconsent") {
			t.Errorf("AdminConsentURL = %s, want the organizations endpoint for an unknown tenant", in.AdminConsentURL)
		}

		back := h.callback(h.approve(in.AdminConsentURL, msemulator.FabrikamAdminUPN, "accept"))

		wantRedirect(t, back, "/", "admin_approved", "")
		for _, r := range []identity.Recruiter{fiona, colleague} {
			got := h.integration(r)
			if got.Status != vault.StatusDisconnected || lastError(got) != "ADMIN_APPROVED" || got.AdminConsentURL != "" {
				t.Errorf("Integration(%s) = %s with %q and link %q, want DISCONNECTED with ADMIN_APPROVED and no link", r.ID, got.Status, lastError(got), got.AdminConsentURL)
			}
		}
		if got := h.integration(outsider); got.Status != vault.StatusPendingAdminApproval {
			t.Errorf("Integration(outsider of org-2) = %s, want PENDING_ADMIN_APPROVAL", got.Status)
		}
		if ok, err := h.store.TenantApproved(context.Background(), msemulator.FabrikamTenantID); err != nil || !ok {
			t.Errorf("TenantApproved(fabrikam) = %v, %v, want true, nil", ok, err)
		}

		// Microsoft no longer shows the approval wall: the recruiter connects.
		wantRedirect(t, h.connect(fiona, msemulator.FabrikamUserUPN, "accept", nil), "/settings/communication", "connected", "")
		if got := h.integration(fiona); got.Status != vault.StatusConnected || len(got.MissingScopes) != 0 {
			t.Errorf("Integration(fiona) after approval = %s missing %v, want CONNECTED with nothing missing", got.Status, got.MissingScopes)
		}
	})
}

func TestAdminConsentFailures(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	fiona := recruiterOf("r-fiona", msemulator.FabrikamUserUPN)
	h.connect(fiona, msemulator.FabrikamUserUPN, "request_approval", nil)
	link := h.integration(fiona).AdminConsentURL
	state := mustQuery(t, link).Get("state")

	tests := []struct {
		name       string
		q          func() url.Values
		wantReason string
	}{
		{"declined", func() url.Values { return h.approve(link, msemulator.FabrikamAdminUPN, "decline") }, oauth.ReasonAdminConsentDenied},
		{"consent_required", func() url.Values {
			return url.Values{"error": {"consent_required"}, "state": {state}}
		}, oauth.ReasonAdminConsentDenied},
		{"unavailable", func() url.Values {
			return url.Values{"error": {"temporarily_unavailable"}, "state": {state}}
		}, oauth.ReasonAdminConsentFailed},
		{"no tenant", func() url.Values { return url.Values{"admin_consent": {"True"}, "state": {state}} }, oauth.ReasonAdminConsentFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := h.callback(tt.q())

			wantRedirect(t, back, "/", "error", tt.wantReason)
			in := h.integration(fiona)
			if in.Status != vault.StatusPendingAdminApproval || lastError(in) != tt.wantReason || in.AdminConsentURL == "" {
				t.Errorf("Integration() = %s with %q and link %q, want PENDING_ADMIN_APPROVAL with %q and a link", in.Status, lastError(in), in.AdminConsentURL, tt.wantReason)
			}
		})
	}
	if ok, _ := h.store.TenantApproved(context.Background(), msemulator.FabrikamTenantID); ok {
		t.Error("TenantApproved(fabrikam) = true after failures only, want false")
	}
}

func TestAdminConsentWrongTenant(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
	link, err := h.svc.AdminConsentURL(rita, msemulator.DemoTenantID)
	if err != nil {
		t.Fatalf("AdminConsentURL = %v", err)
	}
	q := url.Values{"admin_consent": {"True"}, "tenant": {msemulator.FabrikamTenantID}, "state": {mustQuery(t, link).Get("state")}}

	back := h.callback(q)

	wantRedirect(t, back, "/", "error", oauth.ReasonAdminConsentFailed)
	if ok, _ := h.store.TenantApproved(context.Background(), msemulator.FabrikamTenantID); ok {
		t.Error("TenantApproved(fabrikam) = true, want false for a link made for contoso")
	}
}

func TestAdminConsentStateExpires(t *testing.T) {
	h := newCallbackHarness(t, dbtest.SQLite(t))
	rita := recruiterOf("r-rita", msemulator.DemoRecruiterUPN)
	link, err := h.svc.AdminConsentURL(rita, "")
	if err != nil {
		t.Fatalf("AdminConsentURL = %v", err)
	}
	q := url.Values{"admin_consent": {"True"}, "tenant": {msemulator.DemoTenantID}, "state": {mustQuery(t, link).Get("state")}}
	h.clock.Add(7*24*time.Hour + time.Second)

	wantRedirect(t, h.callback(q), "/", "error", oauth.ReasonInvalidState)
	if ok, _ := h.store.TenantApproved(context.Background(), msemulator.DemoTenantID); ok {
		t.Error("TenantApproved(contoso) = true, want false for an expired link")
	}
}
