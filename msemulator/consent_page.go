package msemulator

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
)

// page is the data of every HTML page the emulator renders.
type page struct {
	Mode        string // consent, approval, blocked, adminconsent or error
	Title       string
	AppName     string
	ClientID    string
	Tenant      string
	Login       string
	Error       string
	Permissions []pagePermission
	Nonce       string
}

type pagePermission struct{ Scope, Description string }

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;color:#1b1b1b}
.error{color:#a4262c;border-left:4px solid #a4262c;padding-left:.5em}
.banner{font-size:.8em;color:#605e5c}
label,textarea,input{display:block;width:100%;margin:.3em 0}
button{margin:.5em .5em 0 0;padding:.4em 1.2em}
</style></head><body>
<p class="banner">Microsoft identity platform emulator. No real account is used.</p>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if ne .Mode "error"}}
<p><strong>{{.AppName}}</strong> (application ID <code>{{.ClientID}}</code>){{if .Tenant}} in {{.Tenant}}{{end}}
{{if eq .Mode "consent"}}wants to:{{else if eq .Mode "adminconsent"}}wants these permissions for everyone in your organization:{{else}}needs permission to access resources in your organization that only an admin can grant:{{end}}</p>
<ul>{{range .Permissions}}<li><strong>{{.Description}}</strong> <code>{{.Scope}}</code></li>{{end}}</ul>
<form method="post">
<label for="login">Account (user principal name)</label>
<input id="login" name="login" type="text" autocomplete="username" value="{{.Login}}">
{{if eq .Mode "consent"}}
<button name="consent" value="accept">Accept</button><button name="consent" value="decline">Cancel</button>
{{else if eq .Mode "adminconsent"}}
<button name="consent" value="accept">Accept for your organization</button><button name="consent" value="decline">Cancel</button>
{{else if eq .Mode "approval"}}
<label for="justification">Justification for requesting this app</label>
<textarea id="justification" name="justification" rows="3"></textarea>
<button name="consent" value="request_approval">Request approval</button><button name="consent" value="cancel">Return to the application without granting consent</button>
{{else}}
<p>Ask an administrator of your organization to grant consent for this app.</p>
<button name="consent" value="cancel">Return to the application without granting consent</button>
{{end}}
</form>
{{end}}
</body></html>
`))

// renderSignIn renders the sign-in page of the authorize endpoint for the
// given consent wall, with problem shown as an error when not empty.
func (e *Emulator) renderSignIn(w http.ResponseWriter, req *authorizeRequest, wall, problem string) {
	p := page{Mode: "consent", Title: "Permissions requested", Login: req.loginHint, Error: problem}
	switch wall {
	case wallAdminApproval:
		p.Mode, p.Title = "approval", "Approval required"
	case wallBlocked:
		p.Mode, p.Title = "blocked", "Need admin approval"
	}
	if req.tenant != nil {
		p.Tenant = req.tenant.Domain
	}
	e.renderPage(w, http.StatusOK, p, req.scopes, req.redirectURI)
}

// renderErrorPage shows an error that must not be redirected, such as an
// unregistered redirect URI.
func (e *Emulator) renderErrorPage(w http.ResponseWriter, err aadError) {
	p := page{Mode: "error", Title: "Sorry, but we're having trouble signing you in."}
	p.Error = describe(err, e.clock(), newGUID(), newGUID())
	e.renderPage(w, http.StatusBadRequest, p, nil, "")
}

func (e *Emulator) renderPage(w http.ResponseWriter, status int, p page, scopes []string, redirectURI string) {
	p.AppName, p.ClientID, p.Nonce = e.cfg.AppName, e.cfg.ClientID, newSecret(16)
	for _, s := range scopes {
		perm, _ := findPermission(s)
		p.Permissions = append(p.Permissions, pagePermission{Scope: s, Description: perm.description})
	}

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy(p.Nonce, redirectURI))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, p)
}

// contentSecurityPolicy allows only the page's own nonce-tagged style and
// form posts to the emulator itself, which then redirect to the registered
// redirect URI's origin (browsers apply form-action to that redirect too).
func contentSecurityPolicy(nonce, redirectURI string) string {
	formAction := "'self'"
	if u, err := url.Parse(redirectURI); err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	return fmt.Sprintf("default-src 'none'; style-src 'nonce-%s'; form-action %s; frame-ancestors 'none'; base-uri 'none'", nonce, formAction)
}
