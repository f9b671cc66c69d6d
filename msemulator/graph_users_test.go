package msemulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

var eventual = http.Header{"Consistencylevel": {"eventual"}}

func TestGetUser(t *testing.T) {
	tests := []struct {
		name, path string
		wantStatus int
		wantID     string
		wantCode   string
	}{
		{"by upn", "/v1.0/users/" + DemoAlanUPN, 200, DemoAlanID, ""},
		{"by id", "/v1.0/users/" + DemoAdaID, 200, DemoAdaID, ""},
		{"dollar upn", "/v1.0/users('" + url.PathEscape(DemoDollarUPN) + "')", 200, DemoDollarID, ""},
		{"guest upn", "/v1.0/users/" + strings.ReplaceAll(DemoGuestUPN, "#", "%23"), 200, DemoGuestID, ""},
		{"mail is not upn", "/v1.0/users/" + DemoAdaMail, 404, "", "Request_ResourceNotFound"},
		{"other tenant", "/v1.0/users/" + FabrikamUserUPN, 404, "", "Request_ResourceNotFound"},
		{"other tenant id", "/v1.0/users/" + FabrikamUserID, 404, "", "Request_ResourceNotFound"},
		{"unknown property", "/v1.0/users/" + DemoAlanUPN + "?$select=salary", 400, "", "Request_BadRequest"},
	}
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.graph(http.MethodGet, tt.path, token, nil, nil)
			if resp.StatusCode != tt.wantStatus || (tt.wantID != "" && body["id"] != tt.wantID) || graphErrorCode(body) != tt.wantCode {
				t.Errorf("GET %s = %d %v, want %d id %q code %q", tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantID, tt.wantCode)
			}
		})
	}
}

func TestBasicScopeNullsOtherProperties(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoAlanUPN)
	_, body := h.graph(http.MethodGet, "/v1.0/users/"+DemoRecruiterUPN+"?$select=displayName,jobTitle,mail", token, nil, nil)
	if body["displayName"] != "Rita Recruiter" || body["mail"] != DemoRecruiterUPN {
		t.Errorf("basic properties = %v, want name and mail", body)
	}
	if v, ok := body["jobTitle"]; !ok || v != nil {
		t.Errorf("jobTitle = %v (present %t), want null with User.ReadBasic.All", v, ok)
	}
	if _, ok := body["surname"]; ok {
		t.Errorf("surname present, want only the $select properties")
	}
}

func TestFilterUsers(t *testing.T) {
	tests := []struct {
		name, filter string
		wantIDs      []string
	}{
		{"mail", "mail eq '" + DemoAdaMail + "'", []string{DemoAdaID}},
		{"mail ignores case", "mail eq 'ADA@Contoso.test'", []string{DemoAdaID}},
		{"quote in literal", "mail eq 'connor.o''brien@contoso.test'", []string{DemoQuoteID}},
		{"other mails", "otherMails/any(x:x eq '" + DemoGraceOtherMail + "')", []string{DemoGraceID}},
		{"proxy address", "proxyAddresses/any(p:p eq 'smtp:" + DemoGraceAlias + "')", []string{DemoGraceID}},
		{"or", "mail eq '" + DemoAdaMail + "' or userPrincipalName eq '" + DemoAlanUPN + "'", []string{DemoAdaID, DemoAlanID}},
		{"startswith", "startswith(displayName,'Gra')", []string{DemoGraceID}},
		{"other tenant", "mail eq '" + FabrikamUserUPN + "'", nil},
	}
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/v1.0/users?$filter=" + url.QueryEscape(tt.filter)
			resp, body := h.graph(http.MethodGet, path, token, nil, nil)
			if got := ids(body); resp.StatusCode != http.StatusOK || strings.Join(got, ",") != strings.Join(sortedIDs(h, tt.wantIDs), ",") {
				t.Errorf("GET users $filter=%s = %d %v, want %v", tt.filter, resp.StatusCode, got, tt.wantIDs)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct{ name, filter, wantCode string }{
		{"unterminated", "mail eq 'ada", "BadRequest"},
		{"unknown property", "salary eq '1'", "Request_UnsupportedQuery"},
		{"missing operator", "mail 'x'", "BadRequest"},
	}
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.graph(http.MethodGet, "/v1.0/users?$filter="+url.QueryEscape(tt.filter), token, nil, nil)
			if resp.StatusCode != http.StatusBadRequest || graphErrorCode(body) != tt.wantCode {
				t.Errorf("GET users $filter=%s = %d %s, want 400 %s", tt.filter, resp.StatusCode, graphErrorCode(body), tt.wantCode)
			}
		})
	}
}

func TestSearchNeedsConsistencyLevel(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	path := "/v1.0/users?$search=" + url.QueryEscape(`"displayName:ada" OR "mail:ada"`)

	resp, body := h.graph(http.MethodGet, path, token, nil, nil)
	if resp.StatusCode != http.StatusBadRequest || graphErrorCode(body) != "Request_UnsupportedQuery" {
		t.Errorf("search without ConsistencyLevel = %d %s, want 400 Request_UnsupportedQuery", resp.StatusCode, graphErrorCode(body))
	}
	resp, body = h.graph(http.MethodGet, path, token, nil, eventual)
	if got := ids(body); resp.StatusCode != http.StatusOK || len(got) != 1 || got[0] != DemoAdaID {
		t.Errorf("search with ConsistencyLevel = %d %v, want Ada", resp.StatusCode, got)
	}
}

func TestSearchPaging(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	path := "/v1.0/users?$top=2&$count=true&$select=id,displayName&$search=" + url.QueryEscape(`"mail:contoso"`)

	var seen []string
	for page := 0; path != "" && page < 20; page++ {
		resp, body := h.graph(http.MethodGet, path, token, nil, eventual)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d = %d %v, want 200", page, resp.StatusCode, body)
		}
		got := ids(body)
		if len(got) > 2 {
			t.Fatalf("page %d has %d users, want at most $top=2", page, len(got))
		}
		seen = append(seen, got...)
		next, _ := body["@odata.nextLink"].(string)
		path = strings.TrimPrefix(next, h.base)
	}
	if len(seen) != 8 {
		t.Errorf("users over all pages = %d, want the 8 contoso.test mail holders", len(seen))
	}
}

func TestGuestCannotListUsers(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoGuestUPN)
	resp, body := h.graph(http.MethodGet, "/v1.0/users?$filter="+url.QueryEscape("mail eq 'ada@contoso.test'"), token, nil, nil)
	if resp.StatusCode != http.StatusForbidden || graphErrorCode(body) != "Authorization_RequestDenied" {
		t.Errorf("guest GET /users = %d %s, want 403 Authorization_RequestDenied", resp.StatusCode, graphErrorCode(body))
	}
}

func ids(body map[string]any) []string {
	var out []string
	values, _ := body["value"].([]any)
	for _, v := range values {
		m, _ := v.(map[string]any)
		id, _ := m["id"].(string)
		out = append(out, id)
	}
	return out
}

// sortedIDs orders user ids the way GET /users does: by UPN.
func sortedIDs(h *harness, want []string) []string {
	var out []string
	for _, u := range h.emu.matchingUsers(DemoTenantID, func(u *User) bool {
		for _, id := range want {
			if u.ID == id {
				return true
			}
		}
		return false
	}) {
		out = append(out, u.ID)
	}
	return out
}
