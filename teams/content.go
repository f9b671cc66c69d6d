package teams

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/microcosm-cc/bluemonday"
)

// Format of a message body.
type Format string

const (
	FormatText Format = "TEXT"
	FormatHTML Format = "HTML"
)

// MaxContentBytes is the largest message content sent to Teams, in bytes of
// the content as a JSON string (without the quotes), measured after
// sanitizing. Microsoft does not document the limit. Users report about
// 28 KB, above which Graph responds with 413.
const MaxContentBytes = 28 * 1024

const maxEmailLength = 320

// htmlPolicy keeps the formatting Teams renders in a chat message and drops
// everything else. It removes scripts and styles with their content, event
// handler and style attributes, and links other than http, https and mailto.
// It removes images too, because Teams shows only images uploaded as hosted
// content.
var htmlPolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "b", "strong", "i", "em", "u", "s", "strike", "del", "sub", "sup",
		"ul", "ol", "li", "blockquote", "pre", "code", "h1", "h2", "h3", "hr", "span", "div",
		"table", "thead", "tbody", "tr", "th", "td")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(false)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}()

// prepareContent validates content and returns the body to post: the text
// as given for TEXT, newlines included, or the sanitized markup for HTML.
func prepareContent(content string, format Format) (string, error) {
	if !utf8.ValidString(content) {
		return "", &InputError{Field: "content", Message: "is not valid UTF-8 text"}
	}
	if strings.TrimSpace(content) == "" {
		return "", &InputError{Field: "content", Message: "is empty; write the message to send"}
	}
	if hasControlCharacter(content) {
		return "", &InputError{Field: "content", Message: "contains control characters; remove them and send again"}
	}

	body := content
	if format == FormatHTML {
		body = htmlPolicy.Sanitize(content)
		if strings.TrimSpace(body) == "" {
			return "", &InputError{Field: "content", Message: "contains no text Teams can show after removing unsupported HTML"}
		}
	}
	if encodedLength(body) > MaxContentBytes {
		return "", &InputError{Field: "content", Message: "is longer than Teams accepts (about 28 KB); shorten the message"}
	}
	return body, nil
}

// hasControlCharacter reports a C0 control character other than tab,
// newline and carriage return. A chat message has no use for them, so they
// are rejected rather than sent to Graph.
func hasControlCharacter(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 && r != '\t' && r != '\n' && r != '\r'
	})
}

// encodedLength is the length of s as a JSON string without its quotes,
// as msgraph encodes it (encoding/json without HTML escaping). s is valid
// UTF-8 without control characters other than tab, newline and carriage
// return.
func encodedLength(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r == 0x2028 || r == 0x2029:
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// normalizeEmail trims and validates a recipient address and returns it in
// lower case, the form the recipient cache is keyed by. Microsoft Entra
// compares addresses without regard to case.
func normalizeEmail(raw string) (string, error) {
	email := strings.TrimSpace(raw)
	bad := &InputError{Field: "recipientEmail", Message: "is not a valid email address such as ada@example.com"}
	if email == "" || len(email) > maxEmailLength {
		return "", bad
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", bad
	}
	return strings.ToLower(email), nil
}

// normalizeUserID validates a Microsoft Entra object id, a GUID in its
// 36-character form, and returns it in lower case as Graph writes it.
func normalizeUserID(raw string) (string, error) {
	id := strings.TrimSpace(raw)
	if len(id) != 36 {
		return "", errNotUserID
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", errNotUserID
	}
	return strings.ToLower(id), nil
}

var errNotUserID = &InputError{Field: "recipientId", Message: "is not a Microsoft user id (a GUID such as 22222222-2222-4222-8222-222222222222); use recipientEmail for an address"}
