package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestMe(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, userAdaJSON)
	})
	c, _ := newTestClient(t, g, nil)

	u, err := c.Me(context.Background(), testToken)
	if err != nil {
		t.Fatalf("Me() = %v", err)
	}

	want := User{ID: "6e7b768e-07e2-4810-8459-485f84f8f204", DisplayName: "Ada Lovelace", GivenName: "Ada", Surname: "Lovelace", Mail: "ada@contoso.com", UserPrincipalName: "ada@contoso.com"}
	if *u != want {
		t.Errorf("Me() = %+v, want %+v", *u, want)
	}
	r := checkRequestCount(t, g, 1)[0]
	checkCommonHeaders(t, r)
	if r.Method != http.MethodGet || r.EscapedPath != "/v1.0/me" {
		t.Errorf("request = %s %s, want GET /v1.0/me", r.Method, r.EscapedPath)
	}
	if got := r.query(t, "$select"); got != userSelect {
		t.Errorf("$select = %q, want %q", got, userSelect)
	}
}

func TestUserPath(t *testing.T) {
	tests := []struct {
		name, idOrUPN, wantPath string
	}{
		{"object id", "6e7b768e-07e2-4810-8459-485f84f8f204", "/v1.0/users/6e7b768e-07e2-4810-8459-485f84f8f204"},
		{"upn", "ada@contoso.com", "/v1.0/users/ada@contoso.com"},
		{"dollar upn", "$ada@contoso.com", "/v1.0/users('$ada@contoso.com')"},
		{"hash upn", "ada#ext#@contoso.onmicrosoft.com", "/v1.0/users/ada%23ext%23@contoso.onmicrosoft.com"},
		{"dollar and hash", "$ada#1@contoso.com", "/v1.0/users('$ada%231@contoso.com')"},
		{"dollar and quote", "$o'neil@contoso.com", "/v1.0/users('$o%27%27neil@contoso.com')"},
		{"slash", "a/b@contoso.com", "/v1.0/users/a%2Fb@contoso.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, userAdaJSON)
			})
			c, _ := newTestClient(t, g, nil)

			if _, err := c.User(context.Background(), testToken, tt.idOrUPN); err != nil {
				t.Fatalf("User(%q) = %v", tt.idOrUPN, err)
			}

			r := checkRequestCount(t, g, 1)[0]
			checkCommonHeaders(t, r)
			if r.EscapedPath != tt.wantPath {
				t.Errorf("User(%q) path = %q, want %q", tt.idOrUPN, r.EscapedPath, tt.wantPath)
			}
			if got := r.query(t, "$select"); got != userSelect {
				t.Errorf("User(%q) $select = %q, want %q", tt.idOrUPN, got, userSelect)
			}
		})
	}
}

func TestUserNotFound(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, graphError("Request_ResourceNotFound", "Resource 'nobody@contoso.com' does not exist."))
	})
	c, waits := newTestClient(t, g, nil)

	_, err := c.User(context.Background(), testToken, "nobody@contoso.com")

	if !IsNotFound(err) {
		t.Fatalf("User() = %v, want a not-found error", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("User() = %T, want *Error", err)
	}
	r := checkRequestCount(t, g, 1)[0]
	if e.Status != 404 || e.Code != "Request_ResourceNotFound" || e.RequestID != "req-404" || e.Endpoint != "GET /users/{id}" {
		t.Errorf("User() error = %+v, want status 404, code Request_ResourceNotFound, request-id req-404, endpoint GET /users/{id}", e)
	}
	if sent := r.Header.Get("client-request-id"); e.ClientRequestID != sent {
		t.Errorf("User() error ClientRequestID = %q, want the sent %q", e.ClientRequestID, sent)
	}
	if got := waits.recorded(); len(got) != 0 {
		t.Errorf("waits = %v, want none", got)
	}
}

func TestUserByMail(t *testing.T) {
	empty := `{"value":[]}`
	found := `{"value":[` + userAdaJSON + `]}`
	badRequest := graphError("Request_UnsupportedQuery", "Unsupported Query.")
	forbidden := graphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	type reply struct {
		status int
		body   string
	}
	tests := []struct {
		name         string
		replies      []reply
		wantFound    bool
		wantNotFound bool
		wantStatus   int // of a *Error, when neither found nor not found
	}{
		{"mail", []reply{{200, found}}, true, false, 0},
		{"other mails", []reply{{200, empty}, {200, found}}, true, false, 0},
		{"proxy addresses", []reply{{200, empty}, {200, empty}, {200, found}}, true, false, 0},
		{"fallbacks unsupported", []reply{{200, empty}, {400, badRequest}, {400, badRequest}}, false, true, 0},
		{"fallback forbidden", []reply{{200, empty}, {403, forbidden}, {200, found}}, true, false, 0},
		{"none", []reply{{200, empty}, {200, empty}, {200, empty}}, false, true, 0},
		{"mail filter rejected", []reply{{400, badRequest}}, false, false, 400},
		{"mail filter forbidden", []reply{{403, forbidden}}, false, false, 403},
	}
	wantFilters := []string{
		"mail eq 'ada@contoso.com'",
		"otherMails/any(x:x eq 'ada@contoso.com')",
		"proxyAddresses/any(p:p eq 'SMTP:ada@contoso.com')",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.replies[n].status, tt.replies[n].body)
			})
			c, _ := newTestClient(t, g, nil)

			u, err := c.UserByMail(context.Background(), testToken, "ada@contoso.com")

			switch {
			case tt.wantFound && (err != nil || u.Mail != "ada@contoso.com"):
				t.Errorf("UserByMail() = %+v, %v, want Ada", u, err)
			case tt.wantNotFound && !errors.Is(err, ErrNotFound):
				t.Errorf("UserByMail() = %+v, %v, want ErrNotFound", u, err)
			case tt.wantStatus != 0:
				e, ok := asError(err)
				if !ok || e.Status != tt.wantStatus {
					t.Errorf("UserByMail() = %v, want a *Error with status %d", err, tt.wantStatus)
				}
			}
			seen := checkRequestCount(t, g, len(tt.replies))
			for i, r := range seen {
				checkCommonHeaders(t, r)
				if r.Method != http.MethodGet || r.EscapedPath != "/v1.0/users" {
					t.Errorf("request %d = %s %s, want GET /v1.0/users", i, r.Method, r.EscapedPath)
				}
				if got := r.query(t, "$filter"); got != wantFilters[i] {
					t.Errorf("request %d $filter = %q, want %q", i, got, wantFilters[i])
				}
				if got := r.query(t, "$select"); got != userSelect {
					t.Errorf("request %d $select = %q, want %q", i, got, userSelect)
				}
			}
		})
	}
}

func TestUserByMailQuoting(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"value":[`+userAdaJSON+`]}`)
	})
	c, _ := newTestClient(t, g, nil)
	email := "o'neil+x&y=z@contoso.com"

	if _, err := c.UserByMail(context.Background(), testToken, email); err != nil {
		t.Fatalf("UserByMail(%q) = %v", email, err)
	}

	r := checkRequestCount(t, g, 1)[0]
	if got, want := r.query(t, "$filter"), "mail eq 'o''neil+x&y=z@contoso.com'"; got != want {
		t.Errorf("$filter = %q, want %q", got, want)
	}
	if strings.Contains(r.RawQuery, "+") || strings.Contains(r.RawQuery, "'") {
		t.Errorf("raw query %q contains a raw + or ', want them percent-encoded", r.RawQuery)
	}
	if !strings.Contains(r.RawQuery, "$filter=mail%20eq%20%27o%27%27neil%2Bx%26y%3Dz%40contoso.com%27") {
		t.Errorf("raw query %q, want $filter encoded with %%20 for spaces and doubled quotes", r.RawQuery)
	}
}

func TestFindUserByEmail(t *testing.T) {
	tests := []struct {
		name         string
		upnStatus    int
		wantRequests int
		wantErr      bool
	}{
		{"upn match", 200, 1, false},
		{"mail match", 404, 2, false},
		{"upn forbidden", 403, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				switch {
				case n > 0:
					writeJSON(w, http.StatusOK, `{"value":[`+userAdaJSON+`]}`)
				case tt.upnStatus == 200:
					writeJSON(w, http.StatusOK, userAdaJSON)
				default:
					writeJSON(w, tt.upnStatus, graphError("Request_ResourceNotFound", "gone"))
				}
			})
			c, _ := newTestClient(t, g, nil)

			u, err := c.FindUserByEmail(context.Background(), testToken, "ada@contoso.com")

			if tt.wantErr != (err != nil) {
				t.Fatalf("FindUserByEmail() = %+v, %v, want error %v", u, err, tt.wantErr)
			}
			seen := checkRequestCount(t, g, tt.wantRequests)
			if seen[0].EscapedPath != "/v1.0/users/ada@contoso.com" {
				t.Errorf("first path = %q, want /v1.0/users/ada@contoso.com", seen[0].EscapedPath)
			}
			if len(seen) > 1 && seen[1].query(t, "$filter") != "mail eq 'ada@contoso.com'" {
				t.Errorf("second $filter = %q, want mail eq 'ada@contoso.com'", seen[1].query(t, "$filter"))
			}
		})
	}
}

func TestSearchUsersPaging(t *testing.T) {
	var g *fakeGraph
	g = newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		user := func(i int) string {
			return fmt.Sprintf(`{"id":"id-%d","displayName":"Ada %d","mail":null,"userPrincipalName":"ada%d@contoso.com"}`, i, i, i)
		}
		switch n {
		case 0:
			next := g.baseURL() + "/users?$search=%22displayName:ada%22&$skiptoken=page2"
			writeJSON(w, http.StatusOK, `{"@odata.context":"x","value":[`+user(1)+`,`+user(2)+`],"@odata.nextLink":"`+next+`"}`)
		case 1:
			next := g.baseURL() + "/users?$skiptoken=page3"
			writeJSON(w, http.StatusOK, `{"value":[`+user(3)+`,`+user(4)+`],"@odata.nextLink":"`+next+`"}`)
		default:
			t.Errorf("unexpected request %d after top was reached", n)
			writeJSON(w, http.StatusOK, `{"value":[]}`)
		}
	})
	c, _ := newTestClient(t, g, nil)

	users, err := c.SearchUsers(context.Background(), testToken, "ada", 3)
	if err != nil {
		t.Fatalf("SearchUsers() = %v", err)
	}

	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if got, want := strings.Join(ids, ","), "id-1,id-2,id-3"; got != want {
		t.Errorf("SearchUsers() ids = %s, want %s", got, want)
	}
	seen := checkRequestCount(t, g, 2)
	for i, r := range seen {
		checkCommonHeaders(t, r)
		if got := r.Header.Get("ConsistencyLevel"); got != "eventual" {
			t.Errorf("page %d ConsistencyLevel = %q, want eventual", i, got)
		}
		if r.EscapedPath != "/v1.0/users" {
			t.Errorf("page %d path = %q, want /v1.0/users", i, r.EscapedPath)
		}
	}
	if got, want := seen[0].query(t, "$search"), `"displayName:ada" OR "mail:ada"`; got != want {
		t.Errorf("$search = %q, want %q", got, want)
	}
	if got := seen[0].query(t, "$top"); got != "3" {
		t.Errorf("$top = %q, want 3", got)
	}
	if got := seen[0].query(t, "$select"); got != userSelect {
		t.Errorf("$select = %q, want %q", got, userSelect)
	}
	if got := seen[1].query(t, "$skiptoken"); got != "page2" {
		t.Errorf("second page $skiptoken = %q, want page2 from @odata.nextLink", got)
	}
}

func TestSearchUsersQuery(t *testing.T) {
	tests := []struct {
		name, query, wantSearch string
		top                     int
		wantTop                 string
	}{
		{"plain", "ada", `"displayName:ada" OR "mail:ada"`, 5, "5"},
		{"double quote", `ada "the" count`, `"displayName:ada \"the\" count" OR "mail:ada \"the\" count"`, 5, "5"},
		{"backslash", `a\b`, `"displayName:a\\b" OR "mail:a\\b"`, 5, "5"},
		{"default top", "ada", `"displayName:ada" OR "mail:ada"`, 0, "10"},
		{"top above page size", "ada", `"displayName:ada" OR "mail:ada"`, 5000, "999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"value":[`+userAdaJSON+`]}`)
			})
			c, _ := newTestClient(t, g, nil)

			if _, err := c.SearchUsers(context.Background(), testToken, tt.query, tt.top); err != nil {
				t.Fatalf("SearchUsers(%q) = %v", tt.query, err)
			}

			r := checkRequestCount(t, g, 1)[0]
			if got := r.query(t, "$search"); got != tt.wantSearch {
				t.Errorf("SearchUsers(%q) $search = %q, want %q", tt.query, got, tt.wantSearch)
			}
			if got := r.query(t, "$top"); got != tt.wantTop {
				t.Errorf("SearchUsers(%q, %d) $top = %q, want %q", tt.query, tt.top, got, tt.wantTop)
			}
		})
	}
}

func TestSearchUsersForeignNextLink(t *testing.T) {
	other := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"value":[]}`)
	})
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"value":[`+userAdaJSON+`],"@odata.nextLink":"`+other.baseURL()+`/users?$skiptoken=x"}`)
	})
	c, _ := newTestClient(t, g, nil)

	_, err := c.SearchUsers(context.Background(), testToken, "ada", 10)

	if err == nil || !strings.Contains(err.Error(), "outside base URL") {
		t.Errorf("SearchUsers() = %v, want an error for a next link outside the base URL", err)
	}
	checkRequestCount(t, g, 1)
	checkRequestCount(t, other, 0)
}

func TestSearchUsersRetriesPageWithHeader(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "slow down"))
			return
		}
		writeJSON(w, http.StatusOK, `{"value":[`+userAdaJSON+`]}`)
	})
	c, _ := newTestClient(t, g, nil)

	if _, err := c.SearchUsers(context.Background(), testToken, "ada", 10); err != nil {
		t.Fatalf("SearchUsers() = %v", err)
	}

	for i, r := range checkRequestCount(t, g, 2) {
		if got := r.Header.Get("ConsistencyLevel"); got != "eventual" {
			t.Errorf("attempt %d ConsistencyLevel = %q, want eventual", i, got)
		}
	}
}

func TestUserInputValidation(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, userAdaJSON)
	})
	c, _ := newTestClient(t, g, nil)
	ctx := context.Background()

	calls := map[string]func() error{
		"empty token": func() error { _, err := c.Me(ctx, ""); return err },
		"empty upn":   func() error { _, err := c.User(ctx, testToken, ""); return err },
		"empty mail":  func() error { _, err := c.UserByMail(ctx, testToken, " "); return err },
		"empty query": func() error { _, err := c.SearchUsers(ctx, testToken, "", 5); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s: error = nil, want an input error", name)
		}
	}
	checkRequestCount(t, g, 0)
}
