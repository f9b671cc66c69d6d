package msemulator

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors returned by AddTenant and AddUser.
var (
	ErrDuplicate     = errors.New("msemulator: already exists")
	ErrInvalidEntity = errors.New("msemulator: invalid tenant or user")
	ErrNotFound      = errors.New("msemulator: not found")
)

// AddTenant adds a tenant. An empty ID gets a random GUID; an empty
// UserConsent means allowed. It returns ErrDuplicate when the id or domain is
// taken and ErrInvalidEntity when the domain or policy is invalid.
func (e *Emulator) AddTenant(t Tenant) error {
	if t.ID == "" {
		t.ID = newGUID()
	}
	if t.UserConsent == "" {
		t.UserConsent = UserConsentAllowed
	}
	if t.Domain == "" || !isGUID(t.ID) {
		return fmt.Errorf("%w: tenant needs a GUID id and a domain", ErrInvalidEntity)
	}
	switch t.UserConsent {
	case UserConsentAllowed, UserConsentAdminApproval, UserConsentBlocked:
	default:
		return fmt.Errorf("%w: userConsent %q is not allowed, admin_approval or blocked", ErrInvalidEntity, t.UserConsent)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state.tenantByID(t.ID) != nil || e.state.tenantByDomain(t.Domain) != nil {
		return fmt.Errorf("%w: tenant %s (%s)", ErrDuplicate, t.ID, t.Domain)
	}
	e.state.tenants = append(e.state.tenants, &t)
	return nil
}

// AddUser adds a user to an existing tenant and returns its object id. An
// empty ID gets a random GUID. The UPN must be unique across tenants.
func (e *Emulator) AddUser(u User) (string, error) {
	if u.ID == "" {
		u.ID = newGUID()
	}
	if u.UserPrincipalName == "" || !strings.Contains(u.UserPrincipalName, "@") || !isGUID(u.ID) {
		return "", fmt.Errorf("%w: user needs a GUID id and a userPrincipalName with @", ErrInvalidEntity)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state.tenantByID(u.TenantID) == nil {
		return "", fmt.Errorf("%w: tenant %q", ErrNotFound, u.TenantID)
	}
	if e.state.userByID(u.ID) != nil || e.state.userByUPN(u.UserPrincipalName) != nil {
		return "", fmt.Errorf("%w: user %s", ErrDuplicate, u.UserPrincipalName)
	}
	e.state.users = append(e.state.users, &u)
	return u.ID, nil
}

// Tenants returns a copy of every tenant.
func (e *Emulator) Tenants() []Tenant {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Tenant, 0, len(e.state.tenants))
	for _, t := range e.state.tenants {
		out = append(out, *t)
	}
	return out
}

// Users returns a copy of every user.
func (e *Emulator) Users() []User {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]User, 0, len(e.state.users))
	for _, u := range e.state.users {
		out = append(out, cloneUser(u))
	}
	return out
}

func cloneUser(u *User) User {
	c := *u
	c.OtherMails = slices.Clone(u.OtherMails)
	c.ProxyAddresses = slices.Clone(u.ProxyAddresses)
	return c
}

func (s *state) tenantByID(id string) *Tenant {
	for _, t := range s.tenants {
		if strings.EqualFold(t.ID, id) {
			return t
		}
	}
	return nil
}

func (s *state) tenantByDomain(domain string) *Tenant {
	for _, t := range s.tenants {
		if strings.EqualFold(t.Domain, domain) {
			return t
		}
	}
	return nil
}

func (s *state) userByID(id string) *User {
	for _, u := range s.users {
		if strings.EqualFold(u.ID, id) {
			return u
		}
	}
	return nil
}

func (s *state) userByUPN(upn string) *User {
	for _, u := range s.users {
		if strings.EqualFold(u.UserPrincipalName, upn) {
			return u
		}
	}
	return nil
}

// userByKey finds a user by object id or UPN, like Graph's /users/{key}.
func (s *state) userByKey(key string) *User {
	if u := s.userByID(key); u != nil {
		return u
	}
	return s.userByUPN(key)
}

func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // since Go 1.24, rand.Read crashes the program instead of returning an error
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", c):
			return false
		}
	}
	return true
}

// newSecret returns n random bytes, base64url encoded without padding.
func newSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // since Go 1.24, rand.Read crashes the program instead of returning an error
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
