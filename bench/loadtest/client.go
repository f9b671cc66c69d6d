package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"time"

	"github.com/wintro/teams-messaging/identity"
)

// client calls the service and the emulator over loopback HTTP.
type client struct {
	serverURL string
	emuURL    string
	jwtSecret []byte
	http      *http.Client // keeps connections alive
	noFollow  *http.Client // returns redirects instead of following them
}

func newClient(serverURL, emuURL, jwtSecret string, maxConns int) *client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConns = maxConns * 2
	t.MaxIdleConnsPerHost = maxConns
	t.IdleConnTimeout = 90 * time.Second
	// The jar carries the cookie connectTeams sets to the callback, as a
	// browser does. Cookies are named per connect request, so concurrent
	// connects do not collide.
	jar, _ := cookiejar.New(nil)
	return &client{
		serverURL: serverURL,
		emuURL:    emuURL,
		jwtSecret: []byte(jwtSecret),
		http:      &http.Client{Transport: t, Timeout: 60 * time.Second, Jar: jar},
		noFollow: &http.Client{Transport: t, Timeout: 60 * time.Second, Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// token mints a caller token with the Teams permission.
func (c *client) token(recruiterID, email string) (string, error) {
	return identity.SignHS256(c.jwtSecret, identity.Recruiter{
		ID: recruiterID, OrgID: "bench-org", Email: email, Name: "Bench Recruiter",
		Permissions: []string{identity.PermissionTeamsMessaging},
	}, "", "", 24*time.Hour, time.Now())
}

// gqlError is one GraphQL error.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// opError is a failed operation, with the code the report groups it under.
type opError struct {
	Code   string // GraphQL extensions.code, "HTTP_<status>" or "TRANSPORT"
	Detail string
}

func (e *opError) Error() string { return e.Code + ": " + e.Detail }

// graphql posts one GraphQL operation and decodes data into out.
func (c *client) graphql(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.serverURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return &opError{Code: "TRANSPORT", Detail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.http.Do(req)
	if err != nil {
		return &opError{Code: "TRANSPORT", Detail: err.Error()}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return &opError{Code: "TRANSPORT", Detail: err.Error()}
	}
	var gr struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &gr); err != nil {
		return &opError{Code: "HTTP_" + strconv.Itoa(res.StatusCode), Detail: fmt.Sprintf("%.200s", raw)}
	}
	if len(gr.Errors) > 0 {
		code, _ := gr.Errors[0].Extensions["code"].(string)
		if code == "" {
			code = "NO_CODE"
		}
		return &opError{Code: code, Detail: gr.Errors[0].Message}
	}
	if out != nil {
		if err := json.Unmarshal(gr.Data, out); err != nil {
			return &opError{Code: "BAD_DATA", Detail: err.Error()}
		}
	}
	return nil
}

// emulatorJSON sends a JSON request to the emulator and decodes the response into out.
func (c *client) emulatorJSON(ctx context.Context, method, path, bearer string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		raw, _ := json.Marshal(in)
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.emuURL+path, body)
	if err != nil {
		return &opError{Code: "TRANSPORT", Detail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return &opError{Code: "TRANSPORT", Detail: err.Error()}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return &opError{Code: "HTTP_" + strconv.Itoa(res.StatusCode), Detail: fmt.Sprintf("%s %s: %.200s", method, path, raw)}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return &opError{Code: "BAD_DATA", Detail: err.Error()}
		}
	}
	return nil
}

// connect runs the connect flow: connectTeams, the consent form as upn, and the callback.
func (c *client) connect(ctx context.Context, token, upn string) error {
	var data struct {
		ConnectTeams struct{ AuthorizationURL string } `json:"connectTeams"`
	}
	if err := c.graphql(ctx, token, `mutation { connectTeams { authorizationUrl } }`, nil, &data); err != nil {
		return fmt.Errorf("connectTeams: %w", err)
	}
	form := url.Values{"login": {upn}, "consent": {"accept"}}
	callback, err := c.redirect(ctx, http.MethodPost, data.ConnectTeams.AuthorizationURL, form)
	if err != nil {
		return fmt.Errorf("consent form: %w", err)
	}
	back, err := c.redirect(ctx, http.MethodGet, callback, nil)
	if err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	u, err := url.Parse(back)
	if err != nil || u.Query().Get("teams") != "connected" {
		return fmt.Errorf("callback redirected to %q, want teams=connected", back)
	}
	return nil
}

// redirect sends a request and returns the Location of its 302 or 303 response.
func (c *client) redirect(ctx context.Context, method, target string, form url.Values) (string, error) {
	var body io.Reader = http.NoBody
	if form != nil {
		body = bytes.NewBufferString(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.noFollow.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("%s: status %d, want a redirect: %.200s", method, res.StatusCode, raw)
	}
	return res.Header.Get("Location"), nil
}

// requestCounts returns the emulator's request counts by "METHOD /template STATUS".
func (c *client) requestCounts(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	err := c.emulatorJSON(ctx, http.MethodGet, "/_admin/requests", "", nil, &counts)
	return counts, err
}

// errorCode returns the report code of err.
func errorCode(err error) string {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "TRANSPORT"
	}
	return "OTHER"
}
