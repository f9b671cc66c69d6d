package teams

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/vault"
)

const (
	testClientSecret = "test-client-secret"
	testRedirectURL  = "http://wintro.test/oauth/callback"
	testRecruiterID  = "recruiter-1"
)

// harness is the messaging service wired to real components: the emulator
// on a loopback server, a migrated database, the vault, the OAuth service
// and a Graph client whose waits are recorded instead of slept.
type harness struct {
	t         testing.TB
	db        *db.DB
	emulator  *msemulator.Emulator
	emuServer *httptest.Server
	oauth     *oauth.Service
	graph     *msgraph.Client
	svc       *Service
	wire      *wireRecorder
	recruiter identity.Recruiter
}

// harnessOptions adjust the Graph client and the service before they are built.
type harnessOptions struct {
	graph   func(*msgraph.Options)
	service func(*Config)
}

// newHarness builds the stack on d and connects testRecruiterID as the
// emulator's demo recruiter.
func newHarness(t testing.TB, d *db.DB, opts harnessOptions) *harness {
	t.Helper()
	emu, srv := testkit.Emulator(t, testClientSecret, testRedirectURL)

	h := &harness{t: t, db: d, emulator: emu, emuServer: srv, wire: &wireRecorder{next: srv.Client().Transport}}
	h.oauth = newOAuth(t, d, srv)
	h.graph = h.newGraph(opts.graph)
	cfg := Config{Graph: h.graph, Tokens: h.oauth, DB: d, RateLimit: 1e6, RateBurst: 1e6}
	if opts.service != nil {
		opts.service(&cfg)
	}
	var err error
	if h.svc, err = New(cfg); err != nil {
		t.Fatalf("teams.New: %v", err)
	}

	h.recruiter = identity.Recruiter{ID: testRecruiterID, OrgID: "org-1", Email: msemulator.DemoRecruiterUPN, Name: "Rita"}
	h.connect(h.recruiter, msemulator.DemoRecruiterUPN)
	return h
}

func newOAuth(t testing.TB, d *db.DB, srv *httptest.Server) *oauth.Service {
	t.Helper()
	keys, err := vault.ParseKeyring("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatalf("vault.ParseKeyring: %v", err)
	}
	svc, err := oauth.New(oauth.Config{
		ClientID: msemulator.DevClientID, ClientSecret: testClientSecret, Tenant: "organizations",
		AuthorityURL: srv.URL, RedirectURL: testRedirectURL, AppURL: "http://app.wintro.test", HTTPClient: srv.Client(),
	}, vault.NewStore(d, keys, time.Now), keys)
	if err != nil {
		t.Fatalf("oauth.New: %v", err)
	}
	return svc
}

func (h *harness) newGraph(tweak func(*msgraph.Options)) *msgraph.Client {
	h.t.Helper()
	o := msgraph.Options{
		BaseURL:    h.emuServer.URL + "/v1.0",
		HTTPClient: &http.Client{Transport: h.wire},
		Sleep:      h.wire.sleep,
	}
	if tweak != nil {
		tweak(&o)
	}
	c, err := msgraph.New(o)
	if err != nil {
		h.t.Fatalf("msgraph.New: %v", err)
	}
	return c
}

// connect runs the OAuth flow for r as the emulator user login.
func (h *harness) connect(r identity.Recruiter, login string) {
	h.t.Helper()
	ctx := context.Background()
	start, err := h.oauth.StartConnect(ctx, r, "/settings")
	if err != nil {
		h.t.Fatalf("StartConnect: %v", err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.PostForm(start.AuthorizationURL, url.Values{"login": {login}, "consent": {"accept"}})
	if err != nil {
		h.t.Fatalf("POST consent form: %v", err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, testRedirectURL) {
		h.t.Fatalf("consent redirect = %q (status %d), want %s?code=…", loc, res.StatusCode, testRedirectURL)
	}

	rec := httptest.NewRecorder()
	callback := httptest.NewRequest(http.MethodGet, loc, nil)
	callback.AddCookie(start.BrowserCookie)
	h.oauth.CallbackHandler().ServeHTTP(rec, callback)
	if back := rec.Header().Get("Location"); !strings.Contains(back, "teams=connected") {
		h.t.Fatalf("callback redirect = %q, want teams=connected", back)
	}
}

// send calls Send as the harness recruiter.
func (h *harness) send(in SendInput) (*SendResult, error) {
	return h.svc.Send(context.Background(), h.recruiter, in)
}

// graphRequests returns the number of Graph requests the emulator served.
func (h *harness) graphRequests() int {
	n := 0
	for k, v := range h.emulator.RequestCounts() {
		if strings.Contains(k, " /v1.0/") {
			n += v
		}
	}
	return n
}

// settledGraphRequests returns graphRequests once it stops changing. The
// emulator counts a request when its handler returns, which for a request
// the client abandoned comes a moment after the client gave up.
func (h *harness) settledGraphRequests() int {
	h.t.Helper()
	last := h.graphRequests()
	for range 50 {
		time.Sleep(50 * time.Millisecond)
		n := h.graphRequests()
		if n == last {
			return n
		}
		last = n
	}
	h.t.Fatalf("emulator request count still changing after 2.5 s")
	return last
}

// messages returns the messages the emulator holds.
func (h *harness) messages() []msemulator.Message {
	return h.emulator.Messages()
}

// wireRecorder is the Graph client's transport and sleep: it forwards
// requests to the emulator unchanged and records the message POST bodies
// and the waits between attempts, which return at once.
type wireRecorder struct {
	next http.RoundTripper

	mu    sync.Mutex
	posts [][]byte
	waits []time.Duration
}

func (w *wireRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && r.GetBody != nil {
		body, err := r.GetBody()
		if err == nil {
			b, _ := io.ReadAll(body)
			w.mu.Lock()
			w.posts = append(w.posts, b)
			w.mu.Unlock()
		}
	}
	return w.next.RoundTrip(r)
}

func (w *wireRecorder) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err()
}

// recorded returns the message POST bodies and the waits so far.
func (w *wireRecorder) recorded() ([][]byte, []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.posts...), append([]time.Duration(nil), w.waits...)
}

// eachDB runs fn on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL.
func eachDB(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	dbtest.Each(t, fn)
}

// sqliteDB returns a migrated SQLite database for tests that need one dialect only.
func sqliteDB(t *testing.T) *db.DB {
	t.Helper()
	return dbtest.SQLite(t)
}
