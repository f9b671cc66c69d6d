package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// minSecretLength is the shortest HS256 secret accepted: 256 bits, the
	// hash output size, as RFC 7518 section 3.2 requires.
	minSecretLength = 32

	// maxTokenLength bounds the work done on a token before any check runs.
	// Wintro tokens carry a handful of claims and are far shorter.
	maxTokenLength = 8 << 10

	// defaultLeeway allows for clock skew between Wintro and this service
	// when exp and nbf are checked.
	defaultLeeway = 60 * time.Second
)

// Config selects how caller tokens are verified. Exactly one of HS256Secret
// and JWKSURL is set.
type Config struct {
	// HS256Secret is the shared secret of HS256 tokens, at least 32 bytes.
	// With it, HS256 is the only accepted algorithm.
	HS256Secret []byte

	// JWKSURL is the URL of the issuer's JSON Web Key Set. With it, RS256 and
	// ES256 are the only accepted algorithms.
	JWKSURL string

	// Issuer and Audience are compared with the iss and aud claims when
	// non-empty. An empty value skips the check.
	Issuer   string
	Audience string

	// HTTPClient fetches the JWKS. Nil means a client with a 10 s timeout.
	HTTPClient *http.Client

	// Now returns the current time for exp and nbf. Nil means time.Now.
	Now func() time.Time

	// Leeway is the clock skew allowed on exp and nbf. Zero means 60 s;
	// negative values are rejected.
	Leeway time.Duration
}

// Verifier verifies caller tokens. It is safe for concurrent use. A Verifier
// built with a JWKS URL refreshes its keys in a goroutine that ends when the
// context given to [NewVerifier] ends or [Verifier.Close] is called.
type Verifier struct {
	methods []string
	parser  *jwt.Parser
	keyFunc func(ctx context.Context) jwt.Keyfunc
	close   context.CancelFunc
}

// NewVerifier validates c and returns a Verifier. With a JWKS URL it fetches
// the key set before returning and fails when that fetch fails. ctx bounds
// that fetch and the background refresh goroutine.
func NewVerifier(ctx context.Context, c Config) (*Verifier, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}

	methods := c.methods()
	v := &Verifier{
		methods: methods,
		parser:  jwt.NewParser(c.parserOptions(methods)...),
		close:   func() {},
	}
	if c.JWKSURL == "" {
		secret := append([]byte(nil), c.HS256Secret...)
		v.keyFunc = func(context.Context) jwt.Keyfunc {
			return func(*jwt.Token) (any, error) { return secret, nil }
		}
		return v, nil
	}

	keys, err := newJWKSKeys(ctx, c.JWKSURL, c.HTTPClient)
	if err != nil {
		return nil, err
	}
	v.keyFunc = keys.keyFunc
	v.close = keys.close
	return v, nil
}

// Close stops the background JWKS refresh, if any. Verify keeps working with
// the keys already fetched. Close is safe to call more than once.
func (v *Verifier) Close() {
	v.close()
}

// Verify checks token and returns the recruiter it names. Every error wraps
// [ErrUnauthenticated] with a short reason. ctx bounds a JWKS refetch that an
// unknown key id may trigger.
func (v *Verifier) Verify(ctx context.Context, token string) (Recruiter, error) {
	if token == "" {
		return Recruiter{}, unauthenticated(reasonMissingToken, nil)
	}
	if len(token) > maxTokenLength {
		return Recruiter{}, unauthenticated(reasonTokenTooLarge, nil)
	}

	var c claims
	parsed, err := v.parser.ParseWithClaims(token, &c, v.keyFunc(ctx))
	if err != nil {
		return Recruiter{}, v.classify(ctx, parsed, &c, err)
	}

	if c.Subject == "" {
		return Recruiter{}, unauthenticated(reasonMissingSub, nil)
	}
	return c.recruiter(), nil
}

// validate rejects a Config that cannot verify tokens safely.
func (c Config) validate() error {
	switch {
	case len(c.HS256Secret) > 0 && c.JWKSURL != "":
		return errors.New("identity: config: set either HS256Secret or JWKSURL, not both")
	case len(c.HS256Secret) == 0 && c.JWKSURL == "":
		return errors.New("identity: config: set HS256Secret or JWKSURL")
	case c.JWKSURL == "" && len(c.HS256Secret) < minSecretLength:
		return fmt.Errorf("identity: config: HS256Secret is %d bytes, want at least %d", len(c.HS256Secret), minSecretLength)
	case c.Leeway < 0:
		return fmt.Errorf("identity: config: Leeway %v is negative", c.Leeway)
	}
	return nil
}

// methods returns the signing algorithms accepted: HS256 with a shared
// secret, RS256 and ES256 with a JWKS. Pinning them keeps a token from
// choosing how it is checked, for example an HS256 token keyed with an RSA
// public key.
func (c Config) methods() []string {
	if c.JWKSURL != "" {
		return []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
	}
	return []string{jwt.SigningMethodHS256.Alg()}
}

// parserOptions pins methods and sets the claim checks.
func (c Config) parserOptions(methods []string) []jwt.ParserOption {
	leeway := c.Leeway
	if leeway == 0 {
		leeway = defaultLeeway
	}

	options := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
	if c.Now != nil {
		options = append(options, jwt.WithTimeFunc(c.Now))
	}
	if c.Issuer != "" {
		options = append(options, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		options = append(options, jwt.WithAudience(c.Audience))
	}
	return options
}
