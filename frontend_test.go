package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

const frontendTestToken = "dev-token-for-frontend-tests"

// frontendMux mounts only the browser pages, for an app with cfg.
func frontendMux(t *testing.T, cfg Config, devToken string) *http.ServeMux {
	t.Helper()
	a := &app{cfg: &cfg, log: slog.New(slog.DiscardHandler), devToken: devToken}
	mux := http.NewServeMux()
	a.mountFrontend(mux)
	return mux
}

// get serves one GET request through h and returns the response and body.
func get(t *testing.T, h http.Handler, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestFrontendRoutes(t *testing.T) {
	tests := []struct {
		name                       string
		cfg                        Config
		demo, playground, assetURL int
	}{
		{"dev mode", Config{DevMode: true, Playground: true}, 200, 200, 200},
		{"dev mode without playground", Config{DevMode: true}, 200, 404, 200},
		{"playground enabled outside dev", Config{Playground: true}, 404, 200, 200},
		{"production defaults", Config{Production: true}, 404, 404, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := frontendMux(t, tt.cfg, "")
			for target, want := range map[string]int{"/": tt.demo, "/playground": tt.playground, "/assets/playground.js": tt.assetURL} {
				if res, _ := get(t, mux, target); res.StatusCode != want {
					t.Errorf("GET %s = %d, want %d", target, res.StatusCode, want)
				}
			}
		})
	}
}

func TestPagesSecurityHeaders(t *testing.T) {
	mux := frontendMux(t, Config{DevMode: true, Playground: true}, frontendTestToken)
	for _, target := range []string{"/playground", "/"} {
		t.Run(target, func(t *testing.T) {
			res, _ := get(t, mux, target)
			want := map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"X-Frame-Options":        "DENY",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
				"Cache-Control":          "no-store",
			}
			for name, value := range want {
				if got := res.Header.Get(name); got != value {
					t.Errorf("GET %s: %s = %q, want %q", target, name, got, value)
				}
			}
			checkCSP(t, res.Header.Get("Content-Security-Policy"))
		})
	}
}

// checkCSP fails unless csp sets default-src and script-src to 'self' alone
// and every source of every directive is this origin, 'none', a data: URL
// (fonts and images) or a nonce (styles): no third-party origin, no
// 'unsafe-inline', no 'unsafe-eval'.
func checkCSP(t *testing.T, csp string) {
	t.Helper()
	directives := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		fields := strings.Fields(d)
		if len(fields) > 0 {
			directives[fields[0]] = fields[1:]
		}
	}
	for _, name := range []string{"default-src", "script-src"} {
		if got := strings.Join(directives[name], " "); got != "'self'" {
			t.Errorf("CSP %s = %q, want 'self'", name, got)
		}
	}
	for _, name := range []string{"frame-ancestors", "base-uri", "object-src"} {
		if got := strings.Join(directives[name], " "); got != "'none'" {
			t.Errorf("CSP %s = %q, want 'none'", name, got)
		}
	}
	for name, sources := range directives {
		for _, s := range sources {
			allowed := s == "'self'" || s == "'none'" || strings.HasPrefix(s, "'nonce-") ||
				(s == "data:" && (name == "img-src" || name == "font-src"))
			if !allowed {
				t.Errorf("CSP %s allows %q; want only 'self', 'none', a nonce, or data: for images and fonts", name, s)
			}
		}
	}
}

// urlAttribute matches the attributes through which HTML loads or links a URL.
var urlAttribute = regexp.MustCompile(`(?i)\b(src|href|action|formaction|poster|srcset)\s*=\s*["']?([^"'\s>]*)`)

func TestPagesLoadNoExternalURL(t *testing.T) {
	mux := frontendMux(t, Config{DevMode: true, Playground: true}, frontendTestToken)
	for _, target := range []string{"/playground", "/"} {
		t.Run(target, func(t *testing.T) {
			_, body := get(t, mux, target)
			for _, scheme := range []string{"http:", "https:", "//"} {
				if i := strings.Index(body, scheme); i >= 0 {
					t.Errorf("GET %s: page contains %q at %q", target, scheme, body[max(0, i-40):min(len(body), i+40)])
				}
			}
			matches := urlAttribute.FindAllStringSubmatch(body, -1)
			if len(matches) == 0 {
				t.Fatalf("GET %s: no src or href attribute found; the pattern no longer matches the page", target)
			}
			for _, m := range matches {
				checkPageURL(t, mux, target, m[1], m[2])
			}
		})
	}
}

// checkPageURL fails unless the URL of a page's attribute stays on this
// server and, for a script or stylesheet, is served.
func checkPageURL(t *testing.T, mux http.Handler, page, attribute, url string) {
	t.Helper()
	switch {
	case url == "data:," || url == "#":
		return
	case !strings.HasPrefix(url, "/") || strings.HasPrefix(url, "//"):
		t.Errorf("GET %s: %s=%q is not a path on this server", page, attribute, url)
		return
	}
	if res, _ := get(t, mux, url); res.StatusCode != http.StatusOK {
		t.Errorf("GET %s (from %s on %s) = %d, want 200", url, attribute, page, res.StatusCode)
	}
}

// metaContent returns the decoded JSON in the content attribute of the
// page's meta tag called name.
func metaContent(t *testing.T, body, name string, out any) {
	t.Helper()
	m := regexp.MustCompile(`<meta name="` + name + `" content="([^"]*)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no <meta name=%q content=…>", name)
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), out); err != nil {
		t.Fatalf("meta %s content %q: %v", name, m[1], err)
	}
}

func TestPlaygroundPrefillsToken(t *testing.T) {
	tests := []struct {
		name, devToken, want string
	}{
		{"dev mode", frontendTestToken, "Bearer " + frontendTestToken},
		{"no dev token", "", tokenPlaceholder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, frontendMux(t, Config{Playground: true}, tt.devToken), "/playground")
			var config playgroundConfig
			metaContent(t, body, "wintro-playground", &config)
			var headers map[string]string
			if err := json.Unmarshal([]byte(config.Headers), &headers); err != nil {
				t.Fatalf("headers editor text %q is not a JSON object: %v", config.Headers, err)
			}
			if got := headers["Authorization"]; got != tt.want {
				t.Errorf("pre-filled Authorization = %q, want %q", got, tt.want)
			}
			if config.Endpoint != "/graphql" {
				t.Errorf("endpoint = %q, want /graphql", config.Endpoint)
			}
		})
	}
}

func TestPlaygroundStyleNonce(t *testing.T) {
	mux := frontendMux(t, Config{Playground: true}, "")
	nonceAttribute := regexp.MustCompile(`<meta name="csp-nonce" nonce="([^"]+)">`)
	seen := map[string]bool{}
	for range 2 {
		res, body := get(t, mux, "/playground")
		m := nonceAttribute.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("playground page has no csp-nonce meta tag")
		}
		nonce := html.UnescapeString(m[1])
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self' 'nonce-"+nonce+"';") {
			t.Errorf("CSP %q does not allow the page's style nonce %q", csp, nonce)
		}
		if seen[nonce] {
			t.Errorf("style nonce %q repeated across responses", nonce)
		}
		seen[nonce] = true
	}
}

func TestDemoPageConfig(t *testing.T) {
	_, body := get(t, frontendMux(t, Config{DevMode: true}, frontendTestToken), "/")
	var config demoConfig
	metaContent(t, body, "wintro-demo", &config)
	want := demoConfig{Endpoint: "/graphql", Token: frontendTestToken, ReturnTo: "/"}
	if config != want {
		t.Errorf("demo config = %+v, want %+v", config, want)
	}
}

func TestAssetsServed(t *testing.T) {
	mux := frontendMux(t, Config{DevMode: true, Playground: true}, "")
	tests := []struct {
		target      string
		status      int
		contentType string
	}{
		{"/assets/playground.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/demo.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/demo.css", 200, "text/css; charset=utf-8"},
		{"/assets/vendor/graphiql.min.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/vendor/graphiql.min.css", 200, "text/css; charset=utf-8"},
		{"/assets/vendor/react.production.min.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/vendor/react-dom.production.min.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/vendor/SHA256SUMS", 404, ""},
		{"/assets/vendor/", 404, ""},
		{"/assets/", 404, ""},
		{"/assets/vendor/graphiql.min.js.map", 404, ""},
		{"/assets/vendor/graphiql.LICENSE", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, _ := get(t, mux, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.target, res.StatusCode, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("GET %s: Content-Type = %q, want %q", tt.target, got, tt.contentType)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s: X-Content-Type-Options = %q, want nosniff", tt.target, got)
			}
			etag := res.Header.Get("ETag")
			if again, _ := get(t, mux, tt.target, "If-None-Match", etag); etag == "" || again.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match %q = %d, want 304", tt.target, etag, again.StatusCode)
			}
		})
	}
}

// TestVendoredAssetsMatchChecksums checks the embedded GraphiQL and React
// builds against web/vendor/SHA256SUMS, which web/update-assets.sh writes
// after checking the npm tarballs against web/package-lock.json.
func TestVendoredAssetsMatchChecksums(t *testing.T) {
	sums, err := webFiles.ReadFile("web/vendor/SHA256SUMS")
	if err != nil {
		t.Fatalf("read SHA256SUMS: %v", err)
	}
	listed := map[string]bool{}
	scanner := bufio.NewScanner(bytes.NewReader(sums))
	for scanner.Scan() {
		want, name, ok := strings.Cut(scanner.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum's format", scanner.Text())
		}
		listed[name] = true
		content, err := webFiles.ReadFile("web/vendor/" + name)
		if err != nil {
			t.Errorf("SHA256SUMS lists %s: %v", name, err)
			continue
		}
		if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != want {
			t.Errorf("sha256(web/vendor/%s) = %x, want %s; run web/update-assets.sh", name, sum, want)
		}
	}

	entries, err := fs.ReadDir(webFiles, "web/vendor")
	if err != nil {
		t.Fatalf("read web/vendor: %v", err)
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !listed[e.Name()] {
			t.Errorf("web/vendor/%s is not in SHA256SUMS; run web/update-assets.sh", e.Name())
		}
	}
	if len(listed) < 4 {
		t.Errorf("SHA256SUMS lists %d files, want GraphiQL's script and stylesheet, React and ReactDOM", len(listed))
	}
}

func TestOwnScriptsLoadNoExternalURL(t *testing.T) {
	err := fs.WalkDir(webFiles, "web/static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := fs.ReadFile(webFiles, name)
		if err != nil {
			return err
		}
		for _, scheme := range []string{"http://", "https://", "url("} {
			if strings.Contains(string(content), scheme) {
				t.Errorf("%s contains %q; pages must load only from this server", path.Base(name), scheme)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk web/static: %v", err)
	}
}

func TestGraphQLAcceptHeaders(t *testing.T) {
	s := startStack(t, "sqlite:"+t.TempDir()+"/test.db")
	tests := []struct {
		name, accept, contentType string
	}{
		{"apollo client 3", "*/*", "application/json"},
		{"apollo client 4", "application/graphql-response+json,application/json;q=0.9", "application/graphql-response+json"},
		{"graphql response", "application/graphql-response+json", "application/graphql-response+json"},
		{"json", "application/json", "application/json"},
		{"none", "", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.server.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST /graphql: %v", err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("POST /graphql with Accept %q = %d %q, want 200 %q", tt.accept, res.StatusCode, res.Header.Get("Content-Type"), tt.contentType)
			}
			if want := `{"data":{"__typename":"Query"}}`; string(body) != want {
				t.Errorf("POST /graphql with Accept %q: body = %s, want %s", tt.accept, body, want)
			}
		})
	}
}
