package main

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/db/dbtest"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/internal/testkit"
	"github.com/wintro/teams-messaging/msemulator"
	"github.com/wintro/teams-messaging/teams"
)

const sendMutation = `mutation($in: SendTeamsMessageInput!) { sendTeamsMessage(input: $in) {
	message { id chatId createdAt } recipient { id displayName email userPrincipalName } deduplicated } }`

type sendData struct {
	SendTeamsMessage struct {
		Message      struct{ ID, ChatID string }
		Recipient    struct{ ID, UserPrincipalName string }
		Deduplicated bool
	}
}

// connected starts a stack with the demo recruiter connected and returns it
// with the recruiter's caller token.
func connected(t *testing.T, dbURL string, tweak ...func(*Config)) (*stack, string) {
	t.Helper()
	s := startStack(t, dbURL, tweak...)
	tok := s.token("recruiter-1", msemulator.DemoRecruiterUPN)
	if back := s.connect(tok, msemulator.DemoRecruiterUPN); back.Query().Get("teams") != "connected" {
		t.Fatalf("connect redirect = %s, want teams=connected", back)
	}
	return s, tok
}

func TestSendTeamsMessageGraphRequests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s, tok := connected(t, dbURL)
		steps := []struct {
			name string
			in   map[string]any
			want int
		}{
			{"new recipient by mail", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "one"}, 3},
			{"known recipient", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "two", "idempotencyKey": "k2"}, 1},
			{"repeated idempotent request", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "two", "idempotencyKey": "k2"}, 0},
			{"new recipient by id", map[string]any{"recipientId": msemulator.DemoAlanID, "content": "three"}, 3},
			{"known recipient by id", map[string]any{"recipientId": msemulator.DemoAlanID, "content": "four"}, 1},
		}
		var first sendData
		for i, st := range steps {
			before := graphRequestCount(s)
			var got sendData
			if r := s.graphql(tok, sendMutation, map[string]any{"in": st.in}, &got); len(r.Errors) > 0 {
				t.Fatalf("%s: sendTeamsMessage: %+v", st.name, r.Errors)
			}
			if n := graphRequestCount(s) - before; n != st.want {
				t.Errorf("%s: Graph requests = %d, want %d", st.name, n, st.want)
			}
			switch i {
			case 1:
				first = got
			case 2:
				if !got.SendTeamsMessage.Deduplicated || got.SendTeamsMessage.Message != first.SendTeamsMessage.Message {
					t.Errorf("repeat = %+v, want %+v deduplicated", got.SendTeamsMessage, first.SendTeamsMessage)
				}
			}
		}
		var msgs []msemulator.Message
		s.admin("messages", &msgs)
		if len(msgs) != 4 {
			t.Errorf("emulator holds %d messages, want 4", len(msgs))
		}
	})
}

func TestSendTeamsMessageErrors(t *testing.T) {
	s, tok := connected(t, "sqlite:"+t.TempDir()+"/test.db")
	if r := s.graphql(tok, sendMutation, map[string]any{"in": map[string]any{
		"recipientEmail": msemulator.DemoAdaMail, "content": "first", "idempotencyKey": "used",
	}}, nil); len(r.Errors) > 0 {
		t.Fatalf("first send: %+v", r.Errors)
	}
	tests := []struct {
		name      string
		in        map[string]any
		wantCode  string
		wantField string
	}{
		{"empty", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": " \n "}, "BAD_USER_INPUT", "content"},
		{"28 KB plus one", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": strings.Repeat("x", teams.MaxContentBytes+1)}, "BAD_USER_INPUT", "content"},
		{"script only", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "<script>alert(1)</script>", "format": "HTML"}, "BAD_USER_INPUT", "content"},
		{"no recipient", map[string]any{"content": "x"}, "BAD_USER_INPUT", "recipientEmail"},
		{"both recipients", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "recipientId": msemulator.DemoAdaID, "content": "x"}, "BAD_USER_INPUT", "recipientId"},
		{"invalid email", map[string]any{"recipientEmail": "ada@@contoso.test", "content": "x"}, "BAD_USER_INPUT", "recipientEmail"},
		{"invalid id", map[string]any{"recipientId": "ada", "content": "x"}, "BAD_USER_INPUT", "recipientId"},
		{"oneself", map[string]any{"recipientEmail": msemulator.DemoRecruiterUPN, "content": "x"}, "BAD_USER_INPUT", "recipientEmail"},
		{"guest", map[string]any{"recipientEmail": msemulator.DemoGuestMail, "content": "x"}, "RECIPIENT_NOT_FOUND", ""},
		{"other tenant", map[string]any{"recipientEmail": msemulator.FabrikamUserUPN, "content": "x"}, "RECIPIENT_NOT_FOUND", ""},
		{"unknown", map[string]any{"recipientEmail": "nobody@contoso.test", "content": "x"}, "RECIPIENT_NOT_FOUND", ""},
		{"blocked by policy", map[string]any{"recipientEmail": msemulator.DemoForbiddenUPN, "content": "x"}, "FORBIDDEN", ""},
		{"key reused", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "other", "idempotencyKey": "used"}, "IDEMPOTENCY_KEY_REUSED", ""},
		{"rtl and emoji", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "שלום 👋🏽 مرحبا"}, "", ""},
		{"email with quote", map[string]any{"recipientEmail": msemulator.DemoQuoteMail, "content": "x"}, "", ""},
		{"upn with dollar", map[string]any{"recipientEmail": msemulator.DemoDollarUPN, "content": "x"}, "", ""},
		{"img onerror", map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": `<img src=x onerror=alert(1)>hi`, "format": "HTML"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.graphql(tok, sendMutation, map[string]any{"in": tt.in}, nil)
			if got := r.code(); got != tt.wantCode {
				t.Fatalf("sendTeamsMessage code = %q (%+v), want %q", got, r.Errors, tt.wantCode)
			}
			if tt.wantField != "" && r.Errors[0].Extensions["field"] != tt.wantField {
				t.Errorf("extensions.field = %v, want %s", r.Errors[0].Extensions["field"], tt.wantField)
			}
		})
	}
}

func TestSendTeamsMessageOutcomes(t *testing.T) {
	s, tok := connected(t, "sqlite:"+t.TempDir()+"/test.db", func(c *Config) { c.SendRate, c.SendBurst = 0.001, 2 })
	send := func(content, key string) *gqlResponse {
		return s.graphql(tok, sendMutation, map[string]any{"in": map[string]any{
			"recipientEmail": msemulator.DemoAdaMail, "content": content, "idempotencyKey": key,
		}}, nil)
	}
	if r := send("first", "o-1"); len(r.Errors) > 0 {
		t.Fatalf("first send: %+v", r.Errors)
	}

	s.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: "/v1.0/chats/", Status: http.StatusServiceUnavailable})
	if got := send("server error", "o-2").code(); got != "MESSAGE_OUTCOME_UNKNOWN" {
		t.Errorf("send with a 503 on the message POST: code %q, want MESSAGE_OUTCOME_UNKNOWN", got)
	}
	// The operator sees the failure with the recruiter and the request.
	logged := false
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, "graphql operation failed upstream") {
			logged = strings.Contains(line, `"recruiter_id":"recruiter-1"`) && strings.Contains(line, `"request_id":"`)
			break
		}
	}
	if !logged {
		t.Errorf("log has no failure line with recruiter_id and request_id:\n%s", s.logs.String())
	}

	r := send("over the limit", "o-3")
	if r.code() != "RATE_LIMITED" || r.Errors[0].Extensions["retryAfterSeconds"] == nil {
		t.Errorf("send over the per-recruiter limit = %+v, want RATE_LIMITED with retryAfterSeconds", r.Errors)
	}
}

// benchStack is the service and the emulator on loopback for benchmarks,
// with the service's database calls counted.
type benchStack struct {
	serverURL string
	emulator  *msemulator.Emulator
	emuURL    string
	token     string
	dbCalls   *atomic.Int64
	client    *http.Client
}

// startBenchStack starts the stack of startStack for a benchmark, wraps the
// database in a counting driver, and connects the demo recruiter.
func startBenchStack(b *testing.B, dbURL string) *benchStack {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	publicURL := "http://" + ln.Addr().String()
	emu, emuServer := testkit.Emulator(b, "test-client-secret", publicURL+"/oauth/callback")

	cfg, err := loadConfig(func(name string) string {
		return map[string]string{
			"DATABASE_URL": dbURL, "WINTRO_PUBLIC_URL": publicURL, "WINTRO_APP_URL": "http://app.wintro.test",
			"WINTRO_MS_CLIENT_ID": msemulator.DevClientID, "WINTRO_MS_CLIENT_SECRET": "test-client-secret",
			"WINTRO_MS_AUTHORITY": emuServer.URL, "WINTRO_MS_GRAPH_URL": emuServer.URL + "/v1.0",
			"WINTRO_VAULT_KEYS": "k1:" + strings.Repeat("A", 43) + "=", "WINTRO_AUTH_JWT_SECRET": testJWTSecret,
			"WINTRO_INTERNAL_TOKEN": "internal-test-token", "WINTRO_SEND_RATE": "1000000", "WINTRO_SEND_BURST": "1000000",
			"WINTRO_LOG_LEVEL": "info",
		}[name]
	})
	if err != nil {
		b.Fatalf("loadConfig: %v", err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		b.Fatalf("newApp: %v", err)
	}
	b.Cleanup(a.close)
	calls := &atomic.Int64{}
	countDatabaseCalls(b, a.db, dbURL, calls)
	if a.outcomeDB != nil {
		countDatabaseCalls(b, a.outcomeDB, withQueryParam(dbURL, "synchronous_commit", "off"), calls)
	}
	calls.Store(0)

	srv := httptest.NewUnstartedServer(a.routes())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	b.Cleanup(srv.Close)

	tok, err := identity.SignHS256([]byte(testJWTSecret), identity.Recruiter{
		ID: "recruiter-1", OrgID: "org-1", Email: msemulator.DemoRecruiterUPN, Name: "Bench Recruiter",
		Permissions: []string{identity.PermissionTeamsMessaging},
	}, "", "", time.Hour, time.Now())
	if err != nil {
		b.Fatalf("SignHS256: %v", err)
	}
	bs := &benchStack{serverURL: srv.URL, emulator: emu, emuURL: emuServer.URL, token: tok, dbCalls: calls, client: &http.Client{Jar: newJar()}}
	bs.connect(b)
	return bs
}

// connect runs the connect flow for the demo recruiter over HTTP.
func (bs *benchStack) connect(b *testing.B) {
	b.Helper()
	var data struct {
		ConnectTeams struct{ AuthorizationURL string } `json:"connectTeams"`
	}
	bs.graphql(b, `mutation { connectTeams { authorizationUrl } }`, nil, &data)
	res, err := noRedirect.PostForm(data.ConnectTeams.AuthorizationURL, url.Values{"login": {msemulator.DemoRecruiterUPN}, "consent": {"accept"}})
	if err != nil {
		b.Fatalf("POST consent form: %v", err)
	}
	res.Body.Close()
	browser := &http.Client{Jar: bs.client.Jar, CheckRedirect: noRedirect.CheckRedirect}
	res, err = browser.Get(res.Header.Get("Location"))
	if err != nil {
		b.Fatalf("GET callback: %v", err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); !strings.Contains(loc, "teams=connected") {
		b.Fatalf("callback redirect = %q, want teams=connected", loc)
	}
}

// graphql posts a GraphQL request as the demo recruiter and decodes data into out.
func (bs *benchStack) graphql(b *testing.B, query string, vars map[string]any, out any) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, bs.serverURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bs.token)
	res, err := bs.client.Do(req)
	if err != nil {
		b.Fatalf("POST /graphql: %v", err)
	}
	defer res.Body.Close()
	var gr gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&gr); err != nil || len(gr.Errors) > 0 {
		b.Fatalf("POST /graphql: %v %+v", err, gr.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(gr.Data, out); err != nil {
			b.Fatalf("decode data: %v", err)
		}
	}
}

func (bs *benchStack) graphRequests() int {
	n := 0
	for k, v := range bs.emulator.RequestCounts() {
		if strings.Contains(k, " /v1.0/") {
			n += v
		}
	}
	return n
}

// benchDatabases returns the database URLs the benchmarks run on.
func benchDatabases(b *testing.B) map[string]func() string {
	return map[string]func() string{
		"sqlite": func() string { return "sqlite:" + b.TempDir() + "/bench.db" },
		"postgres": func() string {
			if os.Getenv(dbtest.EnvURL) == "" {
				b.Skipf("%s is unset, so the PostgreSQL benchmark is skipped", dbtest.EnvURL)
			}
			return dbtest.URL(b)
		},
	}
}

// BenchmarkSendTeamsMessage measures one sendTeamsMessage mutation to a
// colleague already messaged, with a fresh idempotency key each time,
// through the whole service: HTTP, caller token, GraphQL, database, Graph
// client and the emulator on loopback without added latency.
func BenchmarkSendTeamsMessage(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			bs := startBenchStack(b, benchDatabases(b)[dialect]())
			vars := func(i int) map[string]any {
				return map[string]any{"in": map[string]any{"recipientEmail": msemulator.DemoAdaMail,
					"content": fmt.Sprintf("benchmark message %d", i), "idempotencyKey": fmt.Sprintf("bench-%d", i)}}
			}
			bs.graphql(b, sendMutation, vars(-1), nil) // creates the chat

			graphBefore, dbBefore := bs.graphRequests(), bs.dbCalls.Load()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				bs.graphql(b, sendMutation, vars(i), nil)
				i++
			}
			b.ReportMetric(float64(bs.graphRequests()-graphBefore)/float64(i), "graph-requests/op")
			b.ReportMetric(float64(bs.dbCalls.Load()-dbBefore)/float64(i), "db-calls/op")
		})
	}
}

// BenchmarkDirectGraphPost makes the Graph request a known-recipient send
// costs, POST /chats/{id}/messages, directly with net/http against the same
// emulator, so BenchmarkSendTeamsMessage divided by it is the service's
// overhead.
func BenchmarkDirectGraphPost(b *testing.B) {
	bs := startBenchStack(b, "sqlite:"+b.TempDir()+"/bench.db")
	var sent sendData
	bs.graphql(b, sendMutation, map[string]any{"in": map[string]any{"recipientEmail": msemulator.DemoAdaMail, "content": "setup"}}, &sent)
	token := lastAccessToken(b, bs)
	endpoint := bs.emuURL + "/v1.0/chats/" + url.PathEscape(sent.SendTeamsMessage.Message.ChatID) + "/messages"
	client := &http.Client{}

	i := 0
	b.ReportAllocs()
	for b.Loop() {
		body := fmt.Sprintf(`{"body":{"contentType":"text","content":"benchmark message %d"}}`, i)
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatalf("POST message: %v", err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("POST message: status %d, want 201", res.StatusCode)
		}
		i++
	}
}

// lastAccessToken returns the last access token the emulator issued.
func lastAccessToken(b *testing.B, bs *benchStack) string {
	b.Helper()
	var issued []msemulator.IssuedToken
	res, err := http.Get(bs.emuURL + "/_admin/tokens")
	if err != nil {
		b.Fatalf("GET /_admin/tokens: %v", err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&issued); err != nil {
		b.Fatalf("decode /_admin/tokens: %v", err)
	}
	for i := len(issued) - 1; i >= 0; i-- {
		if issued[i].Kind == "access" {
			return issued[i].Token
		}
	}
	b.Fatal("the emulator issued no access token")
	return ""
}

// countDatabaseCalls replaces d's connection pool with one whose driver
// adds every statement, transaction start, commit and rollback sent to the
// database to calls. It rebuilds the DSN the way db.Open does: the pragmas
// and time settings for SQLite, the UTC session time zone and binary
// parameters for PostgreSQL.
func countDatabaseCalls(b *testing.B, d *db.DB, dbURL string, calls *atomic.Int64) {
	b.Helper()
	connector := &countingConnector{driver: d.DB.Driver(), dsn: benchDSN(dbURL), calls: calls}
	counted := sqlx.NewDb(sql.OpenDB(connector), string(d.Dialect))
	counted.SetMaxOpenConns(20)
	counted.SetMaxIdleConns(20)
	if err := counted.Ping(); err != nil {
		b.Fatalf("open counting pool: %v", err)
	}
	old := d.DB
	d.DB = counted
	old.Close()
}

func benchDSN(dbURL string) string {
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		q.Set("_time_format", "sqlite")
		q.Set("_timezone", "UTC")
		return "file:" + path + "?" + q.Encode()
	}
	u, _ := url.Parse(dbURL)
	q := u.Query()
	q.Set("timezone", "UTC")
	q.Set("binary_parameters", "yes") // as db.Open sets it
	u.RawQuery = q.Encode()
	return u.String()
}

// countingConnector opens connections of driver whose database calls add
// to calls.
type countingConnector struct {
	driver driver.Driver
	dsn    string
	calls  *atomic.Int64
}

func (c *countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, calls: c.calls}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.driver }

// countingConn counts the calls that reach the database: Exec, Query,
// statement executions, Begin, Commit and Rollback. It offers the optional
// interfaces database/sql uses and falls back with driver.ErrSkip where
// the wrapped connection lacks one.
type countingConn struct {
	driver.Conn
	calls *atomic.Int64
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.calls.Add(1)
	}
	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.calls.Add(1)
	}
	return rows, err
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, calls: c.calls}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.calls.Add(1)
	var tx driver.Tx
	var err error
	if bt, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = bt.BeginTx(ctx, opts)
	} else {
		tx, err = c.Conn.Begin() //nolint:staticcheck // the fallback database/sql itself uses
	}
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, calls: c.calls}, nil
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingStmt struct {
	driver.Stmt
	calls *atomic.Int64
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.calls.Add(1)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, fmt.Errorf("statement of %T does not implement StmtExecContext", s.Stmt)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.calls.Add(1)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, fmt.Errorf("statement of %T does not implement StmtQueryContext", s.Stmt)
}

type countingTx struct {
	driver.Tx
	calls *atomic.Int64
}

func (t *countingTx) Commit() error   { t.calls.Add(1); return t.Tx.Commit() }
func (t *countingTx) Rollback() error { t.calls.Add(1); return t.Tx.Rollback() }

// TestUpstreamUnavailableRetryAfter makes the token endpoint fail while the
// stored access token has expired: the send fails with UPSTREAM_UNAVAILABLE
// and the seconds the refresh backoff runs, and a repeat at once makes no
// token call.
func TestUpstreamUnavailableRetryAfter(t *testing.T) {
	s, tok := connected(t, "sqlite:"+t.TempDir()+"/test.db")
	if _, err := s.app.db.Exec(`UPDATE connections SET access_expires_at = ?`, time.Now().Add(-time.Minute).UTC()); err != nil {
		t.Fatalf("expire the stored access token: %v", err)
	}
	s.emulator.AddFault(msemulator.Fault{Method: http.MethodPost, PathPrefix: "/organizations/oauth2/v2.0/token",
		Status: http.StatusServiceUnavailable, RetryAfter: 30})
	before := emulatorTokenCalls(s.emulator)
	send := func(key string) *gqlResponse {
		return s.graphql(tok, sendMutation, map[string]any{"in": map[string]any{
			"recipientEmail": msemulator.DemoAdaMail, "content": "hello", "idempotencyKey": key,
		}}, nil)
	}

	for i, key := range []string{"u-1", "u-2"} {
		r := send(key)
		if r.code() != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("send %d: code %q, want UPSTREAM_UNAVAILABLE", i+1, r.code())
		}
		secs, _ := r.Errors[0].Extensions["retryAfterSeconds"].(float64)
		if secs < 25 || secs > 30 {
			t.Errorf("send %d: retryAfterSeconds = %v, want the token endpoint's Retry-After of 30 s, less the time passed", i+1, r.Errors[0].Extensions["retryAfterSeconds"])
		}
	}
	if got := emulatorTokenCalls(s.emulator) - before; got != 1 {
		t.Errorf("token endpoint calls = %d, want 1: the second send waits for the backoff", got)
	}
	body := scrape(t, s.server.URL+"/metrics")
	for series, want := range map[string]string{
		`wintro_token_refreshes_total{outcome="transient"}`:     "1",
		`wintro_token_refresh_skips_total{reason="backed_off"}`: "1",
	} {
		if got := seriesValue(body, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
}
