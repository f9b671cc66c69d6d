package msemulator

import (
	"strings"
)

// parseFilter compiles the subset of OData $filter that the emulator
// supports on users: "prop eq 'literal'", "prop ne 'literal'",
// startswith(prop,'literal'), "coll/any(x:x eq 'literal')", joined by and
// and or, with parentheses. String comparisons ignore case, as the directory
// does. A quote inside a literal is written twice ('O”Brien').
func parseFilter(raw string) (userPredicate, error) {
	tokens, err := tokenizeFilter(raw)
	if err != nil {
		return nil, err
	}
	p := &filterParser{tokens: tokens}
	pred, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.tokens) {
		return nil, invalidFilter("unexpected '" + p.tokens[p.pos].text + "'")
	}
	return pred, nil
}

func invalidFilter(detail string) error {
	return &queryError{"BadRequest", "Invalid filter clause: " + detail + "."}
}

func unsupportedFilter(prop string) error {
	return &queryError{"Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '" + prop + "' of resource 'User'."}
}

type filterToken struct {
	text    string
	literal bool // a quoted string literal, text unescaped
}

// tokenizeFilter splits a filter into words, punctuation and string literals.
func tokenizeFilter(s string) ([]filterToken, error) {
	var out []filterToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("(),:", c) >= 0:
			out = append(out, filterToken{text: string(c)})
			i++
		case c == '\'':
			lit, next, err := readLiteral(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, filterToken{text: lit, literal: true})
			i = next
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t(),:'", s[j]) < 0 {
				j++
			}
			out = append(out, filterToken{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

// readLiteral reads the quoted literal starting at s[start], where ” is an
// escaped quote, and returns it with the index after its closing quote.
func readLiteral(s string, start int) (string, int, error) {
	var b strings.Builder
	for i := start + 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, nil
	}
	return "", 0, invalidFilter("unterminated string literal")
}

type filterParser struct {
	tokens []filterToken
	pos    int
}

func (p *filterParser) peekWord(word string) bool {
	return p.pos < len(p.tokens) && !p.tokens[p.pos].literal && strings.EqualFold(p.tokens[p.pos].text, word)
}

func (p *filterParser) expect(text string) error {
	if !p.peekWord(text) {
		return invalidFilter("expected '" + text + "'")
	}
	p.pos++
	return nil
}

func (p *filterParser) literal() (string, error) {
	if p.pos >= len(p.tokens) || !p.tokens[p.pos].literal {
		return "", invalidFilter("expected a quoted string literal")
	}
	p.pos++
	return p.tokens[p.pos-1].text, nil
}

func (p *filterParser) word() (string, error) {
	if p.pos >= len(p.tokens) || p.tokens[p.pos].literal {
		return "", invalidFilter("expected a property name")
	}
	p.pos++
	return p.tokens[p.pos-1].text, nil
}

func (p *filterParser) parseOr() (userPredicate, error) {
	return p.parseJoined("or", p.parseAnd, func(a, b userPredicate) userPredicate {
		return func(u *User) bool { return a(u) || b(u) }
	})
}

func (p *filterParser) parseAnd() (userPredicate, error) {
	return p.parseJoined("and", p.parsePrimary, func(a, b userPredicate) userPredicate {
		return func(u *User) bool { return a(u) && b(u) }
	})
}

// parseJoined parses operands separated by the keyword op.
func (p *filterParser) parseJoined(op string, operand func() (userPredicate, error), join func(a, b userPredicate) userPredicate) (userPredicate, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.peekWord(op) {
		p.pos++
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = join(left, right)
	}
	return left, nil
}
