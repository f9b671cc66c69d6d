package msgraph

import (
	"fmt"
	"net/url"
	"strings"
)

// queryParam is one query parameter; a slice keeps the order stable.
type queryParam struct {
	name, value string
}

// resourceURL joins the base URL, an escaped path and the query. Values are
// percent-encoded with %20 for a space, because OData does not promise to
// read "+" as a space. Names such as "$filter" are sent unencoded.
func (c *Client) resourceURL(escapedPath string, query ...queryParam) string {
	var b strings.Builder
	b.WriteString(c.baseURL)
	b.WriteString(escapedPath)
	for i, p := range query {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(p.value), "+", "%20"))
	}
	return b.String()
}

// checkNextLink accepts an @odata.nextLink only under the base URL, so the
// access token is never sent to another host.
func (c *Client) checkNextLink(link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("invalid @odata.nextLink: %w", err)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host || !strings.HasPrefix(u.Path, c.base.Path) {
		return fmt.Errorf("@odata.nextLink %s://%s%s is outside base URL %s", u.Scheme, u.Host, u.Path, c.baseURL)
	}
	return nil
}

// odataString quotes s as an OData string literal: in single quotes, with
// every single quote doubled.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// searchTerm quotes "property:value" for $search, escaping backslash and
// double quote in the value with a backslash.
func searchTerm(property, value string) string {
	value = strings.ReplaceAll(value, `\`, `\\`)
	value = strings.ReplaceAll(value, `"`, `\"`)
	return `"` + property + ":" + value + `"`
}
