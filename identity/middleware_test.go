package identity

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMiddleware(t *testing.T) {
	valid := signClaims(t, jwt.SigningMethodHS256, testSecret, nil)
	expired := signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
		c["exp"] = testNow.Add(-time.Hour).Unix()
	})
	noPermission := signClaims(t, jwt.SigningMethodHS256, testSecret, func(c jwt.MapClaims) {
		c["permissions"] = []string{"jobs.read"}
	})

	tests := []struct {
		name          string
		headers       []string // Authorization header values
		reason        string   // empty when the recruiter is authenticated
		hasPermission bool
	}{
		{"valid", []string{"Bearer " + valid}, "", true},
		{"lower-case scheme", []string{"bearer " + valid}, "", true},
		{"extra spaces", []string{"Bearer   " + valid + " "}, "", true},
		{"missing permission", []string{"Bearer " + noPermission}, "", false},
		{"no header", nil, reasonMissingHeader, false},
		{"empty header", []string{""}, reasonMissingHeader, false},
		{"bearer with nothing", []string{"Bearer "}, reasonMissingToken, false},
		{"bearer alone", []string{"Bearer"}, reasonMissingToken, false},
		{"wrong scheme", []string{"Basic " + valid}, reasonWrongScheme, false},
		{"token without scheme", []string{valid}, reasonWrongScheme, false},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, reasonMultipleHeaders, false},
		{"garbage", []string{"Bearer garbage.garbage.garbage"}, reasonMalformed, false},
		{"expired", []string{"Bearer " + expired}, reasonExpired, false},
	}

	handler := Middleware(newHS256Verifier(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				called bool
				got    Recruiter
				err    error
			)
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				got, err = FromContext(r.Context())
				w.WriteHeader(http.StatusTeapot)
			})
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()

			handler(next).ServeHTTP(rec, req)

			if !called {
				t.Fatal("Middleware did not call the next handler")
			}
			if rec.Code != http.StatusTeapot {
				t.Errorf("status = %d, want %d from the next handler", rec.Code, http.StatusTeapot)
			}
			if tt.reason != "" {
				checkFailure(t, err, tt.reason, strings.Join(tt.headers, "."))
				return
			}
			if err != nil {
				t.Fatalf("FromContext(...) = %v, want nil error", err)
			}
			if got.ID != "rec-1" {
				t.Errorf("FromContext(...).ID = %q, want %q", got.ID, "rec-1")
			}
			if has := got.Has(PermissionTeamsMessaging); has != tt.hasPermission {
				t.Errorf("Has(%q) = %v, want %v", PermissionTeamsMessaging, has, tt.hasPermission)
			}
		})
	}
}

func TestMiddlewareNilVerifier(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil) did not panic")
		}
	}()
	Middleware(nil)
}
