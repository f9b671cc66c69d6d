package msemulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const (
	testClientID     = DevClientID
	testClientSecret = "test-secret-value"
	testRedirectURI  = "http://127.0.0.1:9999/oauth/callback"
)

// serviceScopes are the scopes the messaging service requests.
var serviceScopes = []string{"openid", "profile", "email", "offline_access",
	"https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/User.ReadBasic.All",
	"https://graph.microsoft.com/ChatMessage.Send", "https://graph.microsoft.com/Chat.ReadWrite"}

// harness is a seeded emulator served on a loopback httptest server.
type harness struct {
	t      *testing.T
	emu    *Emulator
	srv    *httptest.Server
	base   string       // emulator base URL
	client *http.Client // does not follow redirects
}

// newHarness serves the emulator at the root of its own server.
func newHarness(t *testing.T) *harness {
	return newHarnessAt(t, "")
}

// newHarnessAt serves the emulator under prefix with http.StripPrefix, as
// dev mode does with "/_ms"; an empty prefix serves it at the root.
func newHarnessAt(t *testing.T, prefix string) *harness {
	t.Helper()
	emu, err := New(Config{ClientID: testClientID, ClientSecret: testClientSecret, RedirectURIs: []string{testRedirectURI}, Seed: true})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	var handler http.Handler = emu
	if prefix != "" {
		mux := http.NewServeMux()
		mux.Handle(prefix+"/", http.StripPrefix(prefix, emu))
		handler = mux
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	emu.SetBaseURL(srv.URL + prefix)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &harness{t: t, emu: emu, srv: srv, base: srv.URL + prefix, client: client}
}

func (h *harness) oauthConfig(tenant string, scopes []string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		RedirectURL:  testRedirectURI,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   h.base + "/" + tenant + "/oauth2/v2.0/authorize",
			TokenURL:  h.base + "/" + tenant + "/oauth2/v2.0/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

func (h *harness) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, h.srv.Client())
}

// authorizeURL returns an authorize URL with PKCE and the verifier.
func (h *harness) authorizeURL(tenant string, scopes []string) (string, string) {
	verifier := oauth2.GenerateVerifier()
	u := h.oauthConfig(tenant, scopes).AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier))
	return u, verifier
}

// submit posts the consent form to an authorize (or adminconsent) URL.
func (h *harness) submit(target string, form url.Values) *http.Response {
	h.t.Helper()
	resp, err := h.client.PostForm(target, form)
	if err != nil {
		h.t.Fatalf("POST %s: %v", target, err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// redirectQuery checks that resp redirects to the registered redirect URI
// and returns the query it carries.
func (h *harness) redirectQuery(resp *http.Response) url.Values {
	h.t.Helper()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("status = %d, want 302; body: %.300s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), testRedirectURI+"?") {
		h.t.Fatalf("Location = %q, want under %s", resp.Header.Get("Location"), testRedirectURI)
	}
	return loc.Query()
}

// code runs the scripted consent and returns the code and verifier.
func (h *harness) code(tenant, login string, scopes []string) (string, string) {
	h.t.Helper()
	target, verifier := h.authorizeURL(tenant, scopes)
	q := h.redirectQuery(h.submit(target, url.Values{"login": {login}, "consent": {"accept"}}))
	if q.Get("code") == "" || q.Get("state") != "state-123" {
		h.t.Fatalf("redirect query = %v, want code and state", q)
	}
	return q.Get("code"), verifier
}

// signIn runs the whole code flow with golang.org/x/oauth2.
func (h *harness) signIn(login string, scopes []string) *oauth2.Token {
	h.t.Helper()
	code, verifier := h.code("organizations", login, scopes)
	tok, err := h.oauthConfig("organizations", scopes).Exchange(h.ctx(), code,
		oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("scope", strings.Join(scopes, " ")))
	if err != nil {
		h.t.Fatalf("Exchange() error = %v", err)
	}
	return tok
}

// token posts a form to the token endpoint and decodes the JSON response.
func (h *harness) token(form url.Values) (int, map[string]any) {
	h.t.Helper()
	form.Set("client_id", testClientID)
	if !form.Has("client_secret") {
		form.Set("client_secret", testClientSecret)
	}
	resp := h.submit(h.base+"/organizations/oauth2/v2.0/token", form)
	return resp.StatusCode, decodeBody(h.t, resp)
}

// graph sends a Graph request with the access token and decodes the response.
func (h *harness) graph(method, path, accessToken string, body any, header http.Header) (*http.Response, map[string]any) {
	h.t.Helper()
	var reader io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		reader = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, h.base+path, reader)
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	return resp, decodeBody(h.t, resp)
}

func decodeBody(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		t.Fatalf("body is not a JSON object: %.300s", raw)
	}
	return out
}

// graphErrorCode returns error.code of a Graph error envelope.
func graphErrorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// userToken signs login in with every service scope and returns its
// access token.
func (h *harness) userToken(login string) string {
	h.t.Helper()
	return h.signIn(login, serviceScopes).AccessToken
}

// submitJSON sends an admin API request with a JSON body.
func (h *harness) submitJSON(method, path string, body any) *http.Response {
	h.t.Helper()
	var reader io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		reader = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, h.base+path, reader)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}
