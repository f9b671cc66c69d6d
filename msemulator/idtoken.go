package msemulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is the RS256 key of ID tokens, generated once per process so
// that tests creating many emulators pay for one key.
type signingKey struct {
	key *rsa.PrivateKey
	kid string
}

var processSigningKey = sync.OnceValue(func() signingKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // GenerateKey fails only for invalid key sizes
	}
	der := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	sum := sha256.Sum256(der)
	return signingKey{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}
})

// signIDToken returns an RS256 ID token with the claims of the Microsoft
// identity platform v2.0. The caller holds e.mu.
func (e *Emulator) signIDToken(u *User, clientID string, scopes []string, nonce string, now time.Time) string {
	claims := jwt.MapClaims{
		"ver":                "2.0",
		"iss":                e.base + "/" + u.TenantID + "/v2.0",
		"aud":                clientID,
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"oid":                u.ID,
		"tid":                u.TenantID,
		"sub":                pairwiseSubject(u.ID, clientID),
		"preferred_username": u.UserPrincipalName,
		"name":               u.DisplayName,
		"uti":                newSecret(16),
	}
	if slices.Contains(scopes, "email") && u.Mail != "" {
		claims["email"] = u.Mail
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	k := processSigningKey()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	token.Header["kid"] = k.kid
	signed, err := token.SignedString(k.key)
	if err != nil {
		panic(err) // signing with a valid RSA key does not fail
	}
	return signed
}

// pairwiseSubject derives the app-specific "sub" claim from the user and
// the application, as Microsoft's pairwise subject identifiers are.
func pairwiseSubject(oid, clientID string) string {
	sum := sha256.Sum256([]byte(oid + "|" + clientID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// serveJWKS serves the public key of ID tokens as a JSON Web Key Set.
func (e *Emulator) serveJWKS(w http.ResponseWriter, r *http.Request) {
	k := processSigningKey()
	pub := k.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// discoveryHandler serves the OpenID Connect discovery document of a tenant.
func (e *Emulator) discoveryHandler(segment string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		base := e.base
		tenant, tenantErr := e.resolveTenant(segment)
		e.mu.Unlock()
		if tenantErr != nil {
			e.writeTokenError(w, http.StatusBadRequest, *tenantErr)
			return
		}
		issuerTenant := "{tenantid}"
		if tenant != nil {
			issuerTenant = tenant.ID
		}
		prefix := base + "/" + segment
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                strings.Join([]string{base, issuerTenant, "v2.0"}, "/"),
			"authorization_endpoint":                prefix + "/oauth2/v2.0/authorize",
			"token_endpoint":                        prefix + "/oauth2/v2.0/token",
			"jwks_uri":                              prefix + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code"},
			"code_challenge_methods_supported":      []string{"S256"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		})
	}
}
