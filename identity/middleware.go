package identity

import (
	"net/http"
	"strings"
)

// Middleware returns HTTP middleware that verifies the bearer token of each
// request with v and stores the outcome in the request context for
// [FromContext]: the recruiter on success, the reason otherwise. It always
// calls the next handler and never writes a response or logs, because the
// GraphQL layer reports UNAUTHENTICATED in the response body. It panics when
// v is nil.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	if v == nil {
		panic("identity: Middleware called with a nil Verifier")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			recruiter, err := authenticate(v, r)
			if err != nil {
				ctx = withFailure(ctx, err)
			} else {
				ctx = WithRecruiter(ctx, recruiter)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// authenticate reads the bearer token of r, as RFC 6750 section 2.1 sends it,
// and verifies it. The scheme name is case-insensitive (RFC 9110 section 11.1).
func authenticate(v *Verifier, r *http.Request) (Recruiter, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 || values[0] == "" {
		return Recruiter{}, unauthenticated(reasonMissingHeader, nil)
	}
	if len(values) > 1 {
		return Recruiter{}, unauthenticated(reasonMultipleHeaders, nil)
	}

	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return Recruiter{}, unauthenticated(reasonWrongScheme, nil)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return Recruiter{}, unauthenticated(reasonMissingToken, nil)
	}
	return v.Verify(r.Context(), token)
}
