package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// errPermissionsClaim reports a permissions claim that is neither an array
// of strings nor a space-separated string.
var errPermissionsClaim = errors.New("identity: permissions claim must be an array of strings or a space-separated string")

// claims is the payload of a Wintro caller token.
type claims struct {
	jwt.RegisteredClaims
	OrgID       string      `json:"org_id,omitempty"`
	Email       string      `json:"email,omitempty"`
	Name        string      `json:"name,omitempty"`
	Permissions permissions `json:"permissions,omitempty"`
}

// recruiter returns the recruiter that c describes.
func (c *claims) recruiter() Recruiter {
	return Recruiter{
		ID:          c.Subject,
		OrgID:       c.OrgID,
		Email:       c.Email,
		Name:        c.Name,
		Permissions: []string(c.Permissions),
	}
}

// permissions is the permissions claim. It decodes from a JSON array of
// strings or, as the OAuth scope claim is written, from one space-separated
// string. It always encodes as an array.
type permissions []string

func (p *permissions) UnmarshalJSON(data []byte) error {
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		*p = list
		return nil
	}

	var joined string
	if err := json.Unmarshal(data, &joined); err != nil {
		return errPermissionsClaim
	}
	*p = strings.Fields(joined)
	return nil
}

// SignHS256 mints an HS256 caller token for r, valid from now for ttl, with
// iss and aud set when issuer and audience are non-empty. It is a helper for
// dev mode and tests: production tokens are issued by Wintro. The secret must
// be at least 32 bytes, as [NewVerifier] requires. An empty r.ID leaves sub
// out, which lets tests mint a token that Verify rejects.
func SignHS256(secret []byte, r Recruiter, issuer, audience string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < minSecretLength {
		return "", fmt.Errorf("identity: sign token: secret is %d bytes, want at least %d", len(secret), minSecretLength)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("identity: sign token: ttl %v is not positive", ttl)
	}

	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   r.ID,
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		OrgID:       r.OrgID,
		Email:       r.Email,
		Name:        r.Name,
		Permissions: permissions(r.Permissions),
	}
	if audience != "" {
		c.Audience = jwt.ClaimStrings{audience}
	}

	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("identity: sign token: %w", err)
	}
	return signed, nil
}
