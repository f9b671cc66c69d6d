package msemulator

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// usersQuery is a validated GET /users request.
type usersQuery struct {
	match  userPredicate // nil matches everyone
	fields []string
	top    int
	offset int
	count  bool
}

// listUsers serves GET /users with $filter, $search, $select, $top, $count
// and $skiptoken paging.
func (e *Emulator) listUsers(w http.ResponseWriter, r *http.Request, c *caller) {
	if c.user.Guest {
		e.writeGraphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	if !e.requireScopes(w, c, true, scopesUsers...) {
		return
	}
	q, err := parseUsersQuery(r)
	if err != nil {
		e.writeQueryError(w, err)
		return
	}

	matches := e.matchingUsers(c.user.TenantID, q.match)
	end := min(q.offset+q.top, len(matches))
	full := hasAny(c.scopes, scopesUsersFull...)
	values := []map[string]any{}
	for _, u := range matches[min(q.offset, end):end] {
		values = append(values, renderUser(&u, q.fields, full))
	}

	body := map[string]any{"@odata.context": e.graphBase() + "/$metadata#users", "value": values}
	if q.count {
		body["@odata.count"] = len(matches)
	}
	if end < len(matches) {
		body["@odata.nextLink"] = e.nextLink(r, end)
	}
	writeJSON(w, http.StatusOK, body)
}

// parseUsersQuery validates the query options of GET /users.
func parseUsersQuery(r *http.Request) (*usersQuery, error) {
	params := r.URL.Query()
	eventual := strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual")
	q := &usersQuery{top: defaultPageSize}
	var err error
	if q.fields, err = parseSelect(params.Get("$select")); err != nil {
		return nil, err
	}
	if params.Has("$skip") {
		return nil, &queryError{"Request_BadRequest", "'$skip' is not supported by the service."}
	}
	if raw := params.Get("$top"); raw != "" {
		if q.top, err = strconv.Atoi(raw); err != nil || q.top < 1 || q.top > maxPageSize {
			return nil, &queryError{"Request_BadRequest", "Invalid page size specified: '" + raw + "'. Must be between 1 and 999 inclusive."}
		}
	}
	if q.offset, err = parseSkipToken(params.Get("$skiptoken")); err != nil {
		return nil, err
	}
	if q.count = params.Get("$count") == "true"; q.count && !eventual {
		return nil, &queryError{"Request_BadRequest", "$count is not currently supported."}
	}
	q.match, err = buildUserMatch(params, eventual)
	return q, err
}

// buildUserMatch compiles $filter and $search; $search needs the
// ConsistencyLevel: eventual header.
func buildUserMatch(params url.Values, eventual bool) (userPredicate, error) {
	var preds []userPredicate
	if raw := params.Get("$filter"); raw != "" {
		f, err := parseFilter(raw)
		if err != nil {
			return nil, err
		}
		preds = append(preds, f)
	}
	if raw := params.Get("$search"); raw != "" {
		if !eventual {
			return nil, &queryError{"Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"}
		}
		s, err := parseSearch(raw)
		if err != nil {
			return nil, err
		}
		preds = append(preds, s)
	}
	if len(preds) == 0 {
		return nil, nil
	}
	return func(u *User) bool { return allOf(preds, u) }, nil
}

// matchingUsers returns copies of the tenant's users that match, ordered by
// user principal name so that paging is stable.
func (e *Emulator) matchingUsers(tenantID string, match userPredicate) []User {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []User
	for _, u := range e.state.users {
		if strings.EqualFold(u.TenantID, tenantID) && (match == nil || match(u)) {
			out = append(out, cloneUser(u))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.ToLower(out[i].UserPrincipalName) < strings.ToLower(out[j].UserPrincipalName)
	})
	return out
}

// nextLink returns the request URL with $skiptoken set to offset, under
// the emulator's Graph base URL.
func (e *Emulator) nextLink(r *http.Request, offset int) string {
	params := r.URL.Query()
	params.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("emu-offset:"+strconv.Itoa(offset))))
	return e.graphBase() + "/users?" + params.Encode()
}

func parseSkipToken(raw string) (int, error) {
	if raw == "" {
		return 0, nil
	}
	invalid := &queryError{"Request_BadRequest", "Invalid $skiptoken value."}
	decoded, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return 0, invalid
	}
	n, ok := strings.CutPrefix(string(decoded), "emu-offset:")
	offset, err := strconv.Atoi(n)
	if !ok || err != nil || offset < 0 {
		return 0, invalid
	}
	return offset, nil
}
