package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/wintro/teams-messaging/msemulator"
)

// webFiles contains the HTML templates, the pages' own scripts and styles
// (web/static/), and the GraphiQL and React builds vendored from the npm
// registry by web/update-assets.sh (web/vendor/).
//
//go:embed web/templates web/static web/vendor
var webFiles embed.FS

// pageCSP returns the Content-Security-Policy of an HTML page: scripts,
// styles, fetches and form posts may come from or go to this origin only, so
// no inline script runs and no third-party origin is reached. Fonts and
// images may also be data: URLs, which GraphiQL's stylesheet embeds. A
// non-empty styleNonce also allows <style> elements carrying that nonce,
// which GraphiQL's dialogs insert at run time.
func pageCSP(styleNonce string) string {
	styleSrc := "'self'"
	if styleNonce != "" {
		styleSrc += " 'nonce-" + styleNonce + "'"
	}
	return "default-src 'self'; script-src 'self'; style-src " + styleSrc + "; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
		"base-uri 'none'; object-src 'none'"
}

// newNonce returns 128 random bits, base64-encoded, for one response's CSP.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error since Go 1.24
	return base64.StdEncoding.EncodeToString(b)
}

// assetsPrefix is the URL path under which web/static/ and web/vendor/ are served.
const assetsPrefix = "/assets/"

// pageTemplates are the HTML pages. Their json function encodes a value for
// a meta tag's content attribute, which html/template then escapes.
var pageTemplates = template.Must(template.New("pages").Funcs(template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}).ParseFS(webFiles, "web/templates/*.html"))

// mountFrontend adds the browser pages: GraphiQL at /playground when the
// playground is enabled, the demo page at / in dev mode only, and the
// scripts and styles they load under /assets/.
func (a *app) mountFrontend(mux *http.ServeMux) {
	if !a.cfg.Playground && !a.cfg.DevMode {
		return
	}
	assets, err := newAssetHandler(webFiles)
	if err != nil {
		// The files are embedded at build time, so this is a programming error.
		panic(err)
	}
	mux.Handle("GET "+assetsPrefix, assets)
	if a.cfg.Playground {
		mux.Handle("GET /playground", a.playgroundHandler())
	}
	if a.cfg.DevMode {
		mux.HandleFunc("GET /{$}", a.serveDemoPage)
	}
}

// demoConfig is the demo page's configuration, which demo.js reads from the
// page's wintro-demo meta tag.
type demoConfig struct {
	Endpoint string `json:"endpoint"`
	Token    string `json:"token"`
	ReturnTo string `json:"returnTo"`
}

// demoPage is the data of the demo page template.
type demoPage struct {
	Config         demoConfig
	RecruiterLogin string
	ApprovalLogin  string
}

// serveDemoPage renders the Settings → Communication → Microsoft Teams card
// of the SPA, driven by the dev recruiter's token. It exists in dev mode
// only, where the token is not a secret worth keeping from the browser.
// NOTE: Connect returns here only while WINTRO_APP_URL is the public URL
// (the dev-mode default), because the callback redirects to WINTRO_APP_URL.
func (a *app) serveDemoPage(w http.ResponseWriter, r *http.Request) {
	a.writePage(w, r, "demo.html", "", demoPage{
		Config:         demoConfig{Endpoint: "/graphql", Token: a.devToken, ReturnTo: "/"},
		RecruiterLogin: msemulator.DemoRecruiterUPN,
		ApprovalLogin:  msemulator.FabrikamUserUPN,
	})
}

// writePage renders the named template with the security headers of every
// HTML page: the CSP of pageCSP(styleNonce), no framing, no MIME sniffing,
// no referrer, and no caching, because the pages may carry the dev token.
func (a *app) writePage(w http.ResponseWriter, r *http.Request, name, styleNonce string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		a.log.ErrorContext(r.Context(), "render page failed", "template", name, "error", err, "request_id", requestIDFrom(r.Context()))
		http.Error(w, "the page could not be rendered; see the server log", http.StatusInternalServerError)
		return
	}

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP(styleNonce))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// asset is one embedded file served under /assets/.
type asset struct {
	name        string
	content     []byte
	contentType string
	etag        string
}

// assetTypes maps the extensions served under /assets/ to their media type.
// A fixed table, unlike mime.TypeByExtension, does not depend on the
// machine's /etc/mime.types.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// newAssetHandler serves fsys's web/static/ at /assets/ and web/vendor/ at
// /assets/vendor/. Only .js and .css files are served. Each carries a strong
// ETag (a SHA-256 prefix of its content) and "Cache-Control: no-cache", so
// browsers revalidate and get 304 until the binary changes.
func newAssetHandler(fsys fs.FS) (http.Handler, error) {
	assets := map[string]asset{}
	for root, prefix := range map[string]string{"web/static": assetsPrefix, "web/vendor": assetsPrefix + "vendor/"} {
		if err := loadAssets(fsys, root, prefix, assets); err != nil {
			return nil, err
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.content))
	}), nil
}

// loadAssets adds every servable file under root to assets, keyed by its URL
// path: prefix followed by the file's path relative to root.
func loadAssets(fsys fs.FS, root, prefix string, assets map[string]asset) error {
	err := fs.WalkDir(fsys, root, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || assetTypes[path.Ext(name)] == "" {
			return err
		}
		content, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		assets[prefix+strings.TrimPrefix(name, root+"/")] = asset{
			name:        path.Base(name),
			content:     content,
			contentType: assetTypes[path.Ext(name)],
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read embedded assets in %s: %w", root, err)
	}
	return nil
}
