package msemulator

import "strings"

// parsePrimary parses a parenthesized expression, startswith(…), a
// comparison or a lambda any(…).
func (p *filterParser) parsePrimary() (userPredicate, error) {
	if p.peekWord("(") {
		p.pos++
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		return inner, p.expect(")")
	}
	if p.peekWord("startswith") {
		p.pos++
		return p.parseStartsWith()
	}
	name, err := p.word()
	if err != nil {
		return nil, err
	}
	if coll, ok := strings.CutSuffix(name, "/any"); ok {
		return p.parseAny(coll)
	}
	return p.parseComparison(name)
}

func (p *filterParser) parseComparison(prop string) (userPredicate, error) {
	if _, ok := stringProperty(&User{}, prop); !ok {
		return nil, unsupportedFilter(prop)
	}
	op, err := p.word()
	if err != nil || (!strings.EqualFold(op, "eq") && !strings.EqualFold(op, "ne")) {
		return nil, invalidFilter("expected eq or ne after '" + prop + "'")
	}
	value, err := p.literal()
	if err != nil {
		return nil, err
	}
	negate := strings.EqualFold(op, "ne")
	return func(u *User) bool {
		v, _ := stringProperty(u, prop)
		return strings.EqualFold(v, value) != negate
	}, nil
}

func (p *filterParser) parseStartsWith() (userPredicate, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	prop, err := p.word()
	if err != nil {
		return nil, err
	}
	if _, ok := stringProperty(&User{}, prop); !ok {
		return nil, unsupportedFilter(prop)
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	prefix, err := p.literal()
	if err != nil {
		return nil, err
	}
	return func(u *User) bool {
		v, _ := stringProperty(u, prop)
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(prefix))
	}, p.expect(")")
}

// parseAny parses "(x:x eq 'value')" after "coll/any".
func (p *filterParser) parseAny(coll string) (userPredicate, error) {
	if _, ok := collectionProperty(&User{}, coll); !ok {
		return nil, unsupportedFilter(coll)
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	variable, err := p.word()
	if err != nil {
		return nil, err
	}
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	if err := p.expect(variable); err != nil {
		return nil, err
	}
	if err := p.expect("eq"); err != nil {
		return nil, err
	}
	value, err := p.literal()
	if err != nil {
		return nil, err
	}
	return func(u *User) bool {
		values, _ := collectionProperty(u, coll)
		for _, v := range values {
			if strings.EqualFold(v, value) {
				return true
			}
		}
		return false
	}, p.expect(")")
}
