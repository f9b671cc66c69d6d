package msemulator

import (
	"strings"
	"unicode"
)

// queryError is an OData query option the emulator rejects, with the Graph
// error code and message to return.
type queryError struct {
	code, message string
}

func (q *queryError) Error() string { return q.message }

// userPredicate is a compiled $filter or $search expression.
type userPredicate func(u *User) bool

// stringProperty returns the value of a single-valued string property of
// the user, and false when name is not one the emulator filters on.
func stringProperty(u *User, name string) (string, bool) {
	switch strings.ToLower(name) {
	case "id":
		return u.ID, true
	case "mail":
		return u.Mail, true
	case "userprincipalname":
		return u.UserPrincipalName, true
	case "displayname":
		return u.DisplayName, true
	case "givenname":
		return u.GivenName, true
	case "surname":
		return u.Surname, true
	case "jobtitle":
		return u.JobTitle, true
	case "usertype":
		return userType(u), true
	}
	return "", false
}

// collectionProperty returns the values of a multi-valued string property.
func collectionProperty(u *User, name string) ([]string, bool) {
	switch strings.ToLower(name) {
	case "othermails":
		return u.OtherMails, true
	case "proxyaddresses":
		return u.ProxyAddresses, true
	}
	return nil, false
}

func userType(u *User) string {
	if u.Guest {
		return "Guest"
	}
	return "Member"
}

// parseSearch compiles a /users $search expression such as
// "displayName:ada" OR "mail:ada". Clauses are quoted property:value pairs
// joined by AND and OR, AND binding tighter. A clause matches when every
// word of the value starts a word of the property (Graph's tokenized search).
func parseSearch(raw string) (userPredicate, error) {
	var groups [][]userPredicate
	current := []userPredicate{}
	rest := strings.TrimSpace(raw)
	for rest != "" {
		clause, after, err := cutQuoted(rest)
		if err != nil {
			return nil, err
		}
		prop, value, ok := strings.Cut(clause, ":")
		if _, known := stringProperty(&User{}, prop); !ok || !known {
			return nil, &queryError{"Request_UnsupportedQuery", "Unsupported or invalid search clause '" + clause + "': use \"property:value\" with displayName, mail, userPrincipalName, givenName or surname."}
		}
		current = append(current, searchClause(prop, value))

		op, remaining, _ := strings.Cut(strings.TrimSpace(after), " ")
		switch {
		case op == "":
			rest = ""
		case op == "OR":
			groups, current = append(groups, current), []userPredicate{}
			rest = strings.TrimSpace(remaining)
		case op == "AND":
			rest = strings.TrimSpace(remaining)
		default:
			return nil, &queryError{"BadRequest", "Syntax error: '" + op + "' is not AND or OR in $search."}
		}
	}
	if len(current) == 0 {
		return nil, &queryError{"BadRequest", "Syntax error: $search is empty or ends with an operator."}
	}
	groups = append(groups, current)
	return anyGroup(groups), nil
}

// cutQuoted reads a double-quoted clause at the start of s.
func cutQuoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", &queryError{"BadRequest", "Syntax error: $search clauses must be quoted, as in \"displayName:ada\"."}
	}
	end := strings.Index(s[1:], `"`)
	if end < 0 {
		return "", "", &queryError{"BadRequest", "Syntax error: unterminated quote in $search."}
	}
	return s[1 : end+1], s[end+2:], nil
}

func searchClause(prop, value string) userPredicate {
	terms := searchWords(value)
	return func(u *User) bool {
		v, _ := stringProperty(u, prop)
		words := searchWords(v)
		for _, w := range terms {
			if !hasWordPrefix(words, w) {
				return false
			}
		}
		return len(terms) > 0
	}
}

func hasWordPrefix(words []string, prefix string) bool {
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

func searchWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// anyGroup matches when every clause of some group matches.
func anyGroup(groups [][]userPredicate) userPredicate {
	return func(u *User) bool {
		for _, g := range groups {
			if allOf(g, u) {
				return true
			}
		}
		return false
	}
}

func allOf(preds []userPredicate, u *User) bool {
	for _, p := range preds {
		if !p(u) {
			return false
		}
	}
	return true
}
