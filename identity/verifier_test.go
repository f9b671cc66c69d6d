package identity

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

const (
	testIssuer   = "https://auth.wintro.test"
	testAudience = "teams-messaging"
)

// newHS256Verifier returns a verifier with testSecret, testIssuer,
// testAudience and a clock fixed at testNow.
func newHS256Verifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{
		HS256Secret: testSecret,
		Issuer:      testIssuer,
		Audience:    testAudience,
		Now:         func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatalf("NewVerifier(...) = %v, want nil error", err)
	}
	return v
}

// validClaims returns the claims of a valid token, which tests then edit.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":         "rec-1",
		"org_id":      "org-1",
		"email":       "ada@example.test",
		"name":        "Ada Lovelace",
		"permissions": []string{PermissionTeamsMessaging, "candidates.read"},
		"iss":         testIssuer,
		"aud":         testAudience,
		"iat":         testNow.Unix(),
		"nbf":         testNow.Unix(),
		"exp":         testNow.Add(time.Hour).Unix(),
	}
}

// signClaims signs c with method and key, after edit changes it.
func signClaims(t *testing.T, method jwt.SigningMethod, key any, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := validClaims()
	if edit != nil {
		edit(c)
	}
	token, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("SignedString(...) = %v", err)
	}
	return token
}

// checkFailure asserts that err is an ErrUnauthenticated with reason and
// that its text contains no part of token.
func checkFailure(t *testing.T, err error, reason, token string) {
	t.Helper()
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("error = %v, want one wrapping ErrUnauthenticated", err)
	}
	if want := "identity: unauthenticated: " + reason; err.Error() != want {
		t.Errorf("error text = %q, want %q", err.Error(), want)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(err.Error(), part) {
			t.Errorf("error text %q contains part of the token", err.Error())
		}
	}
}

func TestVerifyHS256(t *testing.T) {
	tests := []struct {
		name   string
		token  func(t *testing.T) string
		reason string // empty for a valid token
	}{
		{"valid", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, nil)
		}, ""},
		{"expired", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["exp"] = testNow.Add(-61 * time.Second).Unix()
			})
		}, reasonExpired},
		{"expired within leeway", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["exp"] = testNow.Add(-59 * time.Second).Unix()
			})
		}, ""},
		{"not yet valid", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["nbf"] = testNow.Add(61 * time.Second).Unix()
			})
		}, reasonNotYetValid},
		{"nbf within leeway", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["nbf"] = testNow.Add(59 * time.Second).Unix()
			})
		}, ""},
		{"missing exp", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { delete(c, "exp") })
		}, reasonMissingExp},
		{"wrong issuer", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })
		}, reasonIssuer},
		{"missing issuer", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { delete(c, "iss") })
		}, reasonMissingIss},
		{"missing audience", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { delete(c, "aud") })
		}, reasonMissingAud},
		{"expired and wrong issuer", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["exp"] = testNow.Add(-time.Hour).Unix()
				c["iss"] = "https://evil.test"
			})
		}, reasonExpired},
		{"wrong audience", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { c["aud"] = "other-service" })
		}, reasonAudience},
		{"audience in list", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["aud"] = []string{"other-service", testAudience}
			})
		}, ""},
		{"alg none", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)
		}, reasonAlgorithm},
		{"alg HS384", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS384, testSecret, nil)
		}, reasonAlgorithm},
		{"unknown alg", func(t *testing.T) string {
			// Header {"alg":"XY99","typ":"JWT"} with the valid payload.
			parts := strings.Split(signClaims(t, jwt.SigningMethodHS256, testSecret, nil), ".")
			return "eyJhbGciOiJYWTk5IiwidHlwIjoiSldUIn0." + parts[1] + "." + parts[2]
		}, reasonAlgorithm},
		{"wrong secret", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, []byte("ffffffffffffffffffffffffffffffff"), nil)
		}, reasonSignature},
		{"missing sub", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { delete(c, "sub") })
		}, reasonMissingSub},
		{"empty sub", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { c["sub"] = "" })
		}, reasonMissingSub},
		{"numeric permissions", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) { c["permissions"] = 7 })
		}, reasonPermissions},
		{"garbage", func(*testing.T) string { return "not-a-jwt-at-all" }, reasonMalformed},
		{"bad base64", func(*testing.T) string { return "eyJ!!!.eyJ!!!.sig" }, reasonMalformed},
		{"empty", func(*testing.T) string { return "" }, reasonMissingToken},
		{"too large", func(t *testing.T) string {
			return signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				c["name"] = strings.Repeat("a", maxTokenLength)
			})
		}, reasonTokenTooLarge},
	}

	v := newHS256Verifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			got, err := v.Verify(context.Background(), token)
			if tt.reason != "" {
				checkFailure(t, err, tt.reason, token)
				return
			}
			if err != nil {
				t.Fatalf("Verify(...) = %v, want nil error", err)
			}
			if got.ID != "rec-1" {
				t.Errorf("Verify(...).ID = %q, want %q", got.ID, "rec-1")
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	tests := []struct {
		name        string
		permissions any
		want        []string
	}{
		{"array", []string{"teams.messaging", "jobs.read"}, []string{"teams.messaging", "jobs.read"}},
		{"space separated", " teams.messaging  jobs.read ", []string{"teams.messaging", "jobs.read"}},
		{"empty string", "", []string{}},
		{"absent", nil, nil},
	}

	v := newHS256Verifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
				if tt.permissions == nil {
					delete(c, "permissions")
				} else {
					c["permissions"] = tt.permissions
				}
			})
			got, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify(...) = %v, want nil error", err)
			}
			want := Recruiter{ID: "rec-1", OrgID: "org-1", Email: "ada@example.test", Name: "Ada Lovelace", Permissions: tt.want}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Verify(...) = %+v, want %+v", got, want)
			}
		})
	}
}

func TestVerifyDefaultClock(t *testing.T) {
	v, err := NewVerifier(context.Background(), Config{HS256Secret: testSecret})
	if err != nil {
		t.Fatalf("NewVerifier(...) = %v", err)
	}
	token, err := SignHS256(testSecret, Recruiter{ID: "rec-1"}, "", "", time.Minute, time.Now())
	if err != nil {
		t.Fatalf("SignHS256(...) = %v", err)
	}

	got, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify(...) = %v, want nil error", err)
	}
	if got.ID != "rec-1" {
		t.Errorf("Verify(...).ID = %q, want %q", got.ID, "rec-1")
	}
}

func TestNewVerifierConfig(t *testing.T) {
	tests := []struct {
		name   string
		config Config
	}{
		{"neither", Config{}},
		{"both", Config{HS256Secret: testSecret, JWKSURL: "http://127.0.0.1:1/jwks"}},
		{"short secret", Config{HS256Secret: testSecret[:31]}},
		{"negative leeway", Config{HS256Secret: testSecret, Leeway: -time.Second}},
		{"relative jwks url", Config{JWKSURL: "/jwks.json"}},
		{"jwks url scheme", Config{JWKSURL: "file:///etc/jwks.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), tt.config)
			if err == nil {
				v.Close()
				t.Fatalf("NewVerifier(%s) = nil error, want one", tt.name)
			}
			if strings.Contains(err.Error(), string(testSecret[:16])) {
				t.Errorf("NewVerifier(%s) error %q contains the secret", tt.name, err)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	v, err := NewVerifier(context.Background(), Config{
		HS256Secret: testSecret,
		Now:         func() time.Time { return testNow },
		Leeway:      5 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewVerifier(...) = %v", err)
	}
	token := signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
		c["exp"] = testNow.Add(-10 * time.Second).Unix()
	})

	_, err = v.Verify(context.Background(), token)
	checkFailure(t, err, reasonExpired, token)
}

func TestSignHS256(t *testing.T) {
	want := Recruiter{ID: "rec-9", OrgID: "org-2", Email: "b@example.test", Name: "B", Permissions: []string{PermissionTeamsMessaging}}
	token, err := SignHS256(testSecret, want, testIssuer, testAudience, time.Hour, testNow)
	if err != nil {
		t.Fatalf("SignHS256(...) = %v", err)
	}

	got, err := newHS256Verifier(t).Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify(SignHS256(...)) = %v, want nil error", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Verify(SignHS256(...)) = %+v, want %+v", got, want)
	}
}

func TestSignHS256Rejects(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		ttl    time.Duration
	}{
		{"short secret", testSecret[:31], time.Hour},
		{"zero ttl", testSecret, 0},
		{"negative ttl", testSecret, -time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := SignHS256(tt.secret, Recruiter{ID: "rec-1"}, "", "", tt.ttl, testNow)
			if err == nil {
				t.Errorf("SignHS256(%s) = %q, nil error, want an error", tt.name, token)
			}
		})
	}
}

func TestRecruiterHas(t *testing.T) {
	r := Recruiter{ID: "rec-1", Permissions: []string{"jobs.read", PermissionTeamsMessaging}}
	tests := []struct {
		name       string
		recruiter  Recruiter
		permission string
		want       bool
	}{
		{"held", r, PermissionTeamsMessaging, true},
		{"missing", r, "jobs.write", false},
		{"case differs", r, "Teams.Messaging", false},
		{"no permissions", Recruiter{ID: "rec-2"}, PermissionTeamsMessaging, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.recruiter.Has(tt.permission); got != tt.want {
				t.Errorf("Has(%q) = %v, want %v", tt.permission, got, tt.want)
			}
		})
	}
}

func TestFromContext(t *testing.T) {
	r := Recruiter{ID: "rec-1", Email: "ada@example.test"}
	tests := []struct {
		name   string
		ctx    context.Context
		reason string
	}{
		{"with recruiter", WithRecruiter(context.Background(), r), ""},
		{"absent", context.Background(), reasonNoCredentials},
		{"empty id", WithRecruiter(context.Background(), Recruiter{Email: "x@example.test"}), reasonMissingSub},
		{"stored failure", withFailure(context.Background(), unauthenticated(reasonExpired, nil)), reasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromContext(tt.ctx)
			if tt.reason != "" {
				checkFailure(t, err, tt.reason, "")
				return
			}
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Errorf("FromContext(...) = %+v, %v, want %+v, nil", got, err, r)
			}
		})
	}
}
