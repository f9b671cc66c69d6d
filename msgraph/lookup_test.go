package msgraph

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

const userAdaMailJSON = `{"id":"ada-id","displayName":"Ada","mail":"ada@contoso.com","userPrincipalName":"ada.lovelace@contoso.com"}`

func TestUserByPrincipalNameOrMail(t *testing.T) {
	upnMatch := `{"id":"upn-id","displayName":"Other","mail":"other@contoso.com","userPrincipalName":"ada@contoso.com"}`
	tests := []struct {
		name         string
		status       int
		body         string
		wantID       string
		wantNotFound bool
		wantStatus   int
	}{
		{"mail match", 200, `{"value":[` + userAdaMailJSON + `]}`, "ada-id", false, 0},
		{"upn match wins", 200, `{"value":[` + userAdaMailJSON + `,` + upnMatch + `]}`, "upn-id", false, 0},
		{"none", 200, `{"value":[]}`, "", true, 0},
		{"filter rejected", 400, graphError("Request_UnsupportedQuery", "Unsupported Query."), "", false, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			})
			c, _ := newTestClient(t, g, nil)

			u, err := c.UserByPrincipalNameOrMail(context.Background(), testToken, "ada@contoso.com")

			var ge *Error
			switch {
			case tt.wantID != "" && (err != nil || u.ID != tt.wantID):
				t.Errorf("UserByPrincipalNameOrMail() = %+v, %v, want user %s", u, err, tt.wantID)
			case tt.wantNotFound && !errors.Is(err, ErrNotFound):
				t.Errorf("UserByPrincipalNameOrMail() = %+v, %v, want ErrNotFound", u, err)
			case tt.wantStatus != 0 && (!errors.As(err, &ge) || ge.Status != tt.wantStatus):
				t.Errorf("UserByPrincipalNameOrMail() = %v, want a *Error with status %d", err, tt.wantStatus)
			}
			r := checkRequestCount(t, g, 1)[0]
			checkCommonHeaders(t, r)
			if got, want := r.query(t, "$filter"), "userPrincipalName eq 'ada@contoso.com' or mail eq 'ada@contoso.com'"; got != want {
				t.Errorf("$filter = %q, want %q", got, want)
			}
		})
	}
}

func TestUserByPrincipalNameOrMailQuoting(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"value":[]}`)
	})
	c, _ := newTestClient(t, g, nil)

	_, _ = c.UserByPrincipalNameOrMail(context.Background(), testToken, "$o'neil#1@contoso.com")

	r := checkRequestCount(t, g, 1)[0]
	want := "userPrincipalName eq '$o''neil#1@contoso.com' or mail eq '$o''neil#1@contoso.com'"
	if got := r.query(t, "$filter"); got != want {
		t.Errorf("$filter = %q, want %q", got, want)
	}
	if r.EscapedPath != "/v1.0/users" {
		t.Errorf("path = %q, want /v1.0/users", r.EscapedPath)
	}
}

func TestUserByAlternateAddress(t *testing.T) {
	empty := `{"value":[]}`
	found := `{"value":[` + userAdaJSON + `]}`
	badRequest := graphError("Request_UnsupportedQuery", "Unsupported Query.")
	tests := []struct {
		name      string
		replies   []string
		statuses  []int
		wantFound bool
	}{
		{"other mails", []string{found}, []int{200}, true},
		{"proxy addresses", []string{empty, found}, []int{200, 200}, true},
		{"other mails unsupported", []string{badRequest, found}, []int{400, 200}, true},
		{"none", []string{empty, empty}, []int{200, 200}, false},
	}
	wantFilters := []string{"otherMails/any(x:x eq 'ada@contoso.com')", "proxyAddresses/any(p:p eq 'SMTP:ada@contoso.com')"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.statuses[n], tt.replies[n])
			})
			c, _ := newTestClient(t, g, nil)

			u, err := c.UserByAlternateAddress(context.Background(), testToken, "ada@contoso.com")

			if tt.wantFound && (err != nil || u == nil) {
				t.Errorf("UserByAlternateAddress() = %+v, %v, want a user", u, err)
			}
			if !tt.wantFound && !errors.Is(err, ErrNotFound) {
				t.Errorf("UserByAlternateAddress() = %+v, %v, want ErrNotFound", u, err)
			}
			for i, r := range checkRequestCount(t, g, len(tt.replies)) {
				if got := r.query(t, "$filter"); got != wantFilters[i] {
					t.Errorf("request %d $filter = %q, want %q", i, got, wantFilters[i])
				}
			}
		})
	}
}
