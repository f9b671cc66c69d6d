package teams

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
)

// Format of a message body.
type Format string

const (
	FormatText Format = "TEXT"
	FormatHTML Format = "HTML"
)

// MaxContentBytes is the largest message body sent to Teams, measured after
// sanitizing and JSON encoding. Microsoft documents about 28 KB per message
// and answers 413 above it.
const MaxContentBytes = 28 * 1024

const maxEmailLength = 320

// htmlPolicy keeps the formatting Teams renders in a chat message and drops
// scripts, event handlers, styles and non-http(s)/mailto links.
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

// prepareContent validates content and returns the body to post.
func prepareContent(content string, format Format) (string, error) {
	if !utf8.ValidString(content) {
		return "", &InputError{Field: "content", Message: "is not valid UTF-8 text"}
	}
	if strings.TrimSpace(content) == "" {
		return "", &InputError{Field: "content", Message: "is empty; write the message to send"}
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

// encodedLength is the length of s as a JSON string, the form Graph receives.
func encodedLength(s string) int {
	n := 2
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029:
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// normalizeEmail trims and validates a recipient address.
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
