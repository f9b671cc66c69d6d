package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// userSelect lists the properties readable with User.ReadBasic.All. Without
// $select Graph returns more properties, and those are null under that scope.
const userSelect = "id,displayName,givenName,surname,mail,userPrincipalName"

const (
	// DefaultSearchTop is the result count SearchUsers uses when top <= 0.
	DefaultSearchTop = 10
	// maxPageSize is the largest $top Graph accepts on /users.
	maxPageSize = 999
)

// User is a Graph user with the basic profile properties.
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	GivenName         string `json:"givenName"`
	Surname           string `json:"surname"`
	Mail              string `json:"mail"` // empty for users without a mailbox
	UserPrincipalName string `json:"userPrincipalName"`
}

// userPage is one page of a /users collection.
type userPage struct {
	Value    []User `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// Me returns the signed-in user (GET /me, scope User.Read).
func (c *Client) Me(ctx context.Context, token string) (*User, error) {
	var u User
	r := c.getRequest("GET /me", c.resourceURL("/me", queryParam{"$select", userSelect}))
	if err := c.do(ctx, token, r, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// User returns the user with the given object id or user principal name
// (GET /users/{id | userPrincipalName}). It matches the UPN only, never the
// mail address: see UserByMail and FindUserByEmail. A missing user is an
// error for which IsNotFound is true.
func (c *Client) User(ctx context.Context, token, idOrUPN string) (*User, error) {
	if idOrUPN == "" {
		return nil, errors.New("msgraph: user id or user principal name is empty")
	}

	var u User
	r := c.getRequest("GET /users/{id}", c.resourceURL(userPath(idOrUPN), queryParam{"$select", userSelect}))
	if err := c.do(ctx, token, r, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UserByMail finds a user by email address with $filter: first on mail, then
// on otherMails, then on proxyAddresses as "SMTP:{email}". A 400 or 403 on the
// otherMails and proxyAddresses filters means the tenant or the scope does not
// support that filter, and the next one is tried. When no filter matches,
// the error matches ErrNotFound. The first user of a match is returned.
func (c *Client) UserByMail(ctx context.Context, token, email string) (*User, error) {
	if strings.TrimSpace(email) == "" {
		return nil, errors.New("msgraph: email address is empty")
	}
	filters := append([]userFilter{{"GET /users?$filter=mail", "mail eq " + odataString(email), false}}, alternateFilters(email)...)
	u, err := c.firstMatch(ctx, token, filters)
	if err != nil || u != nil {
		return u, err
	}
	return nil, fmt.Errorf("msgraph: no user with mail, other mail or proxy address %q: %w", email, ErrNotFound)
}

// UserByPrincipalNameOrMail finds the user whose user principal name or mail
// is email with one request: $filter=userPrincipalName eq '{email}' or mail
// eq '{email}'. When one user has it as UPN and another as mail, the UPN
// match wins, as with GET /users/{upn}. The literal is quoted, so a UPN that
// starts with "$" or contains "#" needs no special path form. When no user
// matches, the error matches ErrNotFound.
func (c *Client) UserByPrincipalNameOrMail(ctx context.Context, token, email string) (*User, error) {
	if strings.TrimSpace(email) == "" {
		return nil, errors.New("msgraph: email address is empty")
	}

	literal := odataString(email)
	var page userPage
	r := c.getRequest("GET /users?$filter=userPrincipalName or mail", c.resourceURL("/users",
		queryParam{"$filter", "userPrincipalName eq " + literal + " or mail eq " + literal},
		queryParam{"$select", userSelect},
		queryParam{"$top", "2"},
	))
	if err := c.do(ctx, token, r, &page); err != nil {
		return nil, err
	}
	for i := range page.Value {
		if strings.EqualFold(page.Value[i].UserPrincipalName, email) {
			return &page.Value[i], nil
		}
	}
	if len(page.Value) > 0 {
		return &page.Value[0], nil
	}
	return nil, fmt.Errorf("msgraph: no user with user principal name or mail %q: %w", email, ErrNotFound)
}

// UserByAlternateAddress finds a user by a secondary address: first in
// otherMails, then in proxyAddresses as "SMTP:{email}". A 400 or 403 on a
// filter means the tenant or the scope does not support it, and the next
// one is tried. When no filter matches, the error matches ErrNotFound.
func (c *Client) UserByAlternateAddress(ctx context.Context, token, email string) (*User, error) {
	if strings.TrimSpace(email) == "" {
		return nil, errors.New("msgraph: email address is empty")
	}
	u, err := c.firstMatch(ctx, token, alternateFilters(email))
	if err != nil || u != nil {
		return u, err
	}
	return nil, fmt.Errorf("msgraph: no user with other mail or proxy address %q: %w", email, ErrNotFound)
}

// userFilter is one $filter lookup of UserByMail and UserByAlternateAddress.
type userFilter struct {
	endpoint, filter string
	optional         bool // a 400 or 403 skips to the next filter
}

func alternateFilters(email string) []userFilter {
	return []userFilter{
		{"GET /users?$filter=otherMails", "otherMails/any(x:x eq " + odataString(email) + ")", true},
		{"GET /users?$filter=proxyAddresses", "proxyAddresses/any(p:p eq " + odataString("SMTP:"+email) + ")", true},
	}
}

// firstMatch runs the filters in order and returns the first user found, or
// nil when none matches.
func (c *Client) firstMatch(ctx context.Context, token string, filters []userFilter) (*User, error) {
	for _, f := range filters {
		u, err := c.firstUser(ctx, token, f.endpoint, f.filter)
		switch {
		case err == nil && u != nil:
			return u, nil
		case err == nil:
			continue
		case f.optional && isUnsupportedFilter(err):
			continue
		default:
			return nil, err
		}
	}
	return nil, nil
}

// FindUserByEmail resolves an email address to a user: first as a user
// principal name with User, then, on a 404, with UserByMail.
func (c *Client) FindUserByEmail(ctx context.Context, token, email string) (*User, error) {
	u, err := c.User(ctx, token, email)
	if err == nil {
		return u, nil
	}
	if !IsNotFound(err) {
		return nil, err
	}
	return c.UserByMail(ctx, token, email)
}

// SearchUsers searches users by display name or mail with
// $search="displayName:{query}" OR "mail:{query}" and returns at most top
// users (DefaultSearchTop when top <= 0). It sends ConsistencyLevel: eventual,
// which $search requires, on every page, because Graph does not carry it
// into @odata.nextLink.
func (c *Client) SearchUsers(ctx context.Context, token, query string, top int) ([]User, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil, errors.New("msgraph: search query is empty")
	}
	if top <= 0 {
		top = DefaultSearchTop
	}

	const endpoint = "GET /users?$search"
	link := c.resourceURL("/users",
		queryParam{"$search", searchTerm("displayName", query) + " OR " + searchTerm("mail", query)},
		queryParam{"$select", userSelect},
		queryParam{"$top", strconv.Itoa(min(top, maxPageSize))},
	)
	users := []User{}
	for link != "" && len(users) < top {
		var page userPage
		r := c.getRequest(endpoint, link)
		r.header = map[string]string{"ConsistencyLevel": "eventual"}
		if err := c.do(ctx, token, r, &page); err != nil {
			return nil, err
		}
		if len(page.Value) == 0 {
			break
		}
		users = append(users, page.Value...)

		link = page.NextLink
		if link == "" {
			break
		}
		if err := c.checkNextLink(link); err != nil {
			return nil, fmt.Errorf("msgraph: %s: %w", endpoint, err)
		}
	}
	return users[:min(len(users), top)], nil
}

// firstUser returns the first user matching filter, or nil when none does.
func (c *Client) firstUser(ctx context.Context, token, endpoint, filter string) (*User, error) {
	var page userPage
	r := c.getRequest(endpoint, c.resourceURL("/users",
		queryParam{"$filter", filter},
		queryParam{"$select", userSelect},
		queryParam{"$top", "1"},
	))
	if err := c.do(ctx, token, r, &page); err != nil {
		return nil, err
	}
	if len(page.Value) == 0 {
		return nil, nil
	}
	return &page.Value[0], nil
}

func (c *Client) getRequest(endpoint, link string) *request {
	return &request{method: http.MethodGet, endpoint: endpoint, url: link, policy: retryRead}
}

// userPath escapes an id or UPN into a /users path. A UPN starting with "$"
// would read as an OData segment such as $count, so Graph requires the key
// form /users('{upn}'), with single quotes doubled. Path escaping turns "#"
// into %23.
func userPath(idOrUPN string) string {
	if strings.HasPrefix(idOrUPN, "$") {
		return "/users('" + url.PathEscape(strings.ReplaceAll(idOrUPN, "'", "''")) + "')"
	}
	return "/users/" + url.PathEscape(idOrUPN)
}

// isUnsupportedFilter reports a 400 or 403 to a fallback filter.
func isUnsupportedFilter(err error) bool {
	e, ok := asError(err)
	return ok && (e.Status == http.StatusBadRequest || e.Status == http.StatusForbidden)
}
