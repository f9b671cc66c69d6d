package msemulator

import (
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Graph user properties: those returned without $select, and those
// User.ReadBasic.All may read (others come back null).
var (
	defaultUserSelect = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
		"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}
	basicUserProperties = []string{"id", "displayName", "givenName", "surname", "mail", "userPrincipalName"}
	knownUserProperties = append(slices.Clone(defaultUserSelect), "otherMails", "proxyAddresses", "userType", "accountEnabled")
)

// getMe serves GET /me.
func (e *Emulator) getMe(w http.ResponseWriter, r *http.Request, c *caller) {
	if !e.requireScopes(w, c, true, scopesMe...) {
		return
	}
	e.writeUser(w, r, &c.user, true)
}

// getUser serves GET /users/{id | userPrincipalName} and /users('…').
func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request, c *caller) {
	key, ok := userKey(strings.TrimPrefix(r.URL.Path, "/v1.0/users"))
	if !ok {
		e.writeGraphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment 'users'.")
		return
	}
	self := strings.EqualFold(key, c.user.ID) || strings.EqualFold(key, c.user.UserPrincipalName)
	if !self && !e.requireScopes(w, c, true, scopesUsers...) {
		return
	}
	if self && !e.requireScopes(w, c, true, append(slices.Clone(scopesMe), scopesUsers...)...) {
		return
	}

	e.mu.Lock()
	found := e.state.userByKey(key)
	var u User
	if found != nil {
		u = cloneUser(found)
	}
	e.mu.Unlock()
	if found == nil || !strings.EqualFold(u.TenantID, c.user.TenantID) {
		e.writeGraphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+key+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	e.writeUser(w, r, &u, self || hasAny(c.scopes, scopesUsersFull...))
}

// userKey extracts the id or UPN from "/{key}" or "('{key}')", where a
// quote inside the parentheses form is doubled. r.URL.Path is already
// decoded, so %23 arrives as #.
func userKey(rest string) (string, bool) {
	if inner, ok := strings.CutPrefix(rest, "('"); ok {
		inner, ok = strings.CutSuffix(inner, "')")
		return strings.ReplaceAll(inner, "''", "'"), ok && inner != ""
	}
	key := strings.TrimPrefix(rest, "/")
	return key, key != "" && !strings.Contains(key, "/")
}

func (e *Emulator) writeUser(w http.ResponseWriter, r *http.Request, u *User, full bool) {
	fields, err := parseSelect(r.URL.Query().Get("$select"))
	if err != nil {
		e.writeQueryError(w, err)
		return
	}
	body := renderUser(u, fields, full)
	body["@odata.context"] = e.graphBase() + "/$metadata#users/$entity"
	writeJSON(w, http.StatusOK, body)
}

// parseSelect validates $select; empty means Graph's default properties.
func parseSelect(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return defaultUserSelect, nil
	}
	var fields []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		i := slices.IndexFunc(knownUserProperties, func(k string) bool { return strings.EqualFold(k, f) })
		if i < 0 {
			return nil, &queryError{"Request_BadRequest", "Could not find a property named '" + f + "' on type 'microsoft.graph.user'."}
		}
		fields = appendUnique(fields, knownUserProperties[i])
	}
	return fields, nil
}

// renderUser returns the selected properties of u. Without full access only
// the basic properties carry values and the others are null.
func renderUser(u *User, fields []string, full bool) map[string]any {
	values := map[string]any{
		"id": u.ID, "displayName": nullable(u.DisplayName), "givenName": nullable(u.GivenName),
		"surname": nullable(u.Surname), "mail": nullable(u.Mail), "userPrincipalName": u.UserPrincipalName,
		"jobTitle": nullable(u.JobTitle), "businessPhones": []string{}, "mobilePhone": nil,
		"officeLocation": nil, "preferredLanguage": nil, "otherMails": nonNil(u.OtherMails),
		"proxyAddresses": nonNil(u.ProxyAddresses), "userType": userType(u), "accountEnabled": true,
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if full || slices.Contains(basicUserProperties, f) {
			out[f] = values[f]
		} else {
			out[f] = nil
		}
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (e *Emulator) writeQueryError(w http.ResponseWriter, err error) {
	var qe *queryError
	if errors.As(err, &qe) {
		e.writeGraphError(w, http.StatusBadRequest, qe.code, qe.message)
		return
	}
	e.writeGraphError(w, http.StatusBadRequest, "BadRequest", err.Error())
}

// graphBase returns {base}/v1.0.
func (e *Emulator) graphBase() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.base + "/v1.0"
}
