package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// jwksServer is a JWKS endpoint on loopback that counts its requests.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu   sync.Mutex
	keys []jwkset.JWKMarshal
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, err := json.Marshal(jwkset.JWKSMarshal{Keys: s.keys})
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// publish adds the public part of key to the served key set.
func (s *jwksServer) publish(t *testing.T, kid string, alg jwkset.ALG, key any) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: alg, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		t.Fatalf("NewJWKFromKey(%s) = %v", kid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, jwk.Marshal())
}

// testKeys are the signing keys of the JWKS tests, generated once.
var testKeys = sync.OnceValue(func() struct {
	rsa, otherRSA *rsa.PrivateKey
	ec            *ecdsa.PrivateKey
} {
	k := struct {
		rsa, otherRSA *rsa.PrivateKey
		ec            *ecdsa.PrivateKey
	}{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// signWithKID signs the valid claims with method and key under kid; an
// empty kid leaves the header out.
func signWithKID(t *testing.T, method jwt.SigningMethod, key any, kid string, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := validClaims()
	if edit != nil {
		edit(c)
	}
	token := jwt.NewWithClaims(method, c)
	if kid != "" {
		token.Header["kid"] = kid
	}
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString(...) = %v", err)
	}
	return signed
}

// newJWKSFixture starts a JWKS server with the RSA key "rsa-1" and the EC
// key "ec-1" and returns it with a verifier that uses it.
func newJWKSFixture(t *testing.T) (*jwksServer, *Verifier) {
	t.Helper()
	keys := testKeys()
	server := newJWKSServer(t)
	server.publish(t, "rsa-1", jwkset.AlgRS256, &keys.rsa.PublicKey)
	server.publish(t, "ec-1", jwkset.AlgES256, &keys.ec.PublicKey)

	v, err := NewVerifier(t.Context(), Config{
		JWKSURL:    server.URL + "/jwks.json",
		Issuer:     testIssuer,
		Audience:   testAudience,
		HTTPClient: server.Client(),
		Now:        func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatalf("NewVerifier(...) = %v", err)
	}
	t.Cleanup(v.Close)
	return server, v
}

func TestVerifyJWKS(t *testing.T) {
	keys := testKeys()
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustMarshalPKIX(t, &keys.rsa.PublicKey)})

	tests := []struct {
		name   string
		token  func(t *testing.T) string
		reason string // empty for a valid token
	}{
		{"rs256", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodRS256, keys.rsa, "rsa-1", nil)
		}, ""},
		{"es256", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodES256, keys.ec, "ec-1", nil)
		}, ""},
		{"rs256 without kid", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodRS256, keys.rsa, "", nil)
		}, ""},
		{"expired", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodRS256, keys.rsa, "rsa-1", func(c jwt.MapClaims) {
				c["exp"] = testNow.Add(-time.Hour).Unix()
			})
		}, reasonExpired},
		{"hs256 keyed with rsa public key", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodHS256, publicPEM, "rsa-1", nil)
		}, reasonAlgorithm},
		{"hs256 keyed with rsa modulus", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodHS256, keys.rsa.PublicKey.N.Bytes(), "rsa-1", nil)
		}, reasonAlgorithm},
		{"alg none", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", nil)
		}, reasonAlgorithm},
		{"rs384", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodRS384, keys.rsa, "rsa-1", nil)
		}, reasonAlgorithm},
		{"signed by other key", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodRS256, keys.otherRSA, "rsa-1", nil)
		}, reasonSignature},
		{"alg differs from jwk alg", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodES256, keys.ec, "rsa-1", nil)
		}, reasonNoKey},
		{"missing sub", func(t *testing.T) string {
			return signWithKID(t, jwt.SigningMethodES256, keys.ec, "ec-1", func(c jwt.MapClaims) { delete(c, "sub") })
		}, reasonMissingSub},
	}

	_, v := newJWKSFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			got, err := v.Verify(t.Context(), token)
			if tt.reason != "" {
				checkFailure(t, err, tt.reason, token)
				return
			}
			if err != nil {
				t.Fatalf("Verify(...) = %v, want nil error", err)
			}
			if got.ID != "rec-1" || !got.Has(PermissionTeamsMessaging) {
				t.Errorf("Verify(...) = %+v, want ID rec-1 with %s", got, PermissionTeamsMessaging)
			}
		})
	}
}

func TestVerifyJWKSUnknownKID(t *testing.T) {
	keys := testKeys()
	server, v := newJWKSFixture(t)
	if got := server.hits.Load(); got != 1 {
		t.Fatalf("JWKS hits after NewVerifier = %d, want 1", got)
	}

	// The first unknown kid refetches the key set once, then fails.
	first := signWithKID(t, jwt.SigningMethodRS256, keys.otherRSA, "rsa-unknown-1", nil)
	_, err := v.Verify(t.Context(), first)
	checkFailure(t, err, reasonUnknownKeyID, first)
	if got := server.hits.Load(); got != 2 {
		t.Errorf("JWKS hits after first unknown kid = %d, want 2", got)
	}

	// Within the rate limit, more unknown kids fail without a request.
	for i, kid := range []string{"rsa-unknown-2", "rsa-unknown-3", "rsa-unknown-1"} {
		token := signWithKID(t, jwt.SigningMethodRS256, keys.otherRSA, kid, nil)
		_, err := v.Verify(t.Context(), token)
		checkFailure(t, err, reasonUnknownKeyID, token)
		if got := server.hits.Load(); got != 2 {
			t.Errorf("JWKS hits after unknown kid %d = %d, want 2", i+2, got)
		}
	}

	// Known keys still verify from the cache.
	known := signWithKID(t, jwt.SigningMethodRS256, keys.rsa, "rsa-1", nil)
	if _, err := v.Verify(t.Context(), known); err != nil {
		t.Errorf("Verify(known kid) = %v, want nil error", err)
	}
	if got := server.hits.Load(); got != 2 {
		t.Errorf("JWKS hits after known kid = %d, want 2", got)
	}
}

func TestVerifyJWKSRotatedKey(t *testing.T) {
	keys := testKeys()
	server, v := newJWKSFixture(t)
	server.publish(t, "rsa-2", jwkset.AlgRS256, &keys.otherRSA.PublicKey)

	token := signWithKID(t, jwt.SigningMethodRS256, keys.otherRSA, "rsa-2", nil)
	got, err := v.Verify(t.Context(), token)
	if err != nil {
		t.Fatalf("Verify(rotated kid) = %v, want nil error", err)
	}
	if got.ID != "rec-1" {
		t.Errorf("Verify(rotated kid).ID = %q, want %q", got.ID, "rec-1")
	}
	if hits := server.hits.Load(); hits != 2 {
		t.Errorf("JWKS hits = %d, want 2 (initial fetch and one refetch)", hits)
	}
}

func TestNewVerifierJWKSFailure(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}},
		{"not json", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>"))
		}},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[],"padding":"` + strings.Repeat("x", maxJWKSBytes) + `"}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := httptest.NewServer(tt.handler)
			defer server.Close()

			v, err := NewVerifier(t.Context(), Config{JWKSURL: server.URL, HTTPClient: server.Client()})
			if err == nil {
				v.Close()
				t.Fatalf("NewVerifier(%s) = nil error, want one", tt.name)
			}
		})
	}
}

func TestVerifyJWKSCanceled(t *testing.T) {
	keys := testKeys()
	server, v := newJWKSFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	token := signWithKID(t, jwt.SigningMethodRS256, keys.otherRSA, "rsa-unknown", nil)
	_, err := v.Verify(ctx, token)
	checkFailure(t, err, reasonCanceled, token)
	if got := server.hits.Load(); got != 1 {
		t.Errorf("JWKS hits = %d, want 1 (no refetch with a canceled context)", got)
	}
}

func mustMarshalPKIX(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey(...) = %v", err)
	}
	return der
}
