package identity

import (
	"context"
	"slices"
)

// PermissionTeamsMessaging is the permission a recruiter needs to use the
// Microsoft Teams integration.
const PermissionTeamsMessaging = "teams.messaging"

// Recruiter is the authenticated Wintro user, read from the caller token's
// claims: ID from sub, OrgID from org_id, Email from email, Name from name and
// Permissions from permissions.
type Recruiter struct {
	ID          string
	OrgID       string
	Email       string
	Name        string
	Permissions []string
}

// Has reports whether the recruiter holds permission. The comparison is exact
// and case-sensitive.
func (r Recruiter) Has(permission string) bool {
	return slices.Contains(r.Permissions, permission)
}

// contextKey is the key of the authentication result in a context.
type contextKey struct{}

// authResult is the outcome of authentication: a recruiter, or the error
// that explains why there is none.
type authResult struct {
	recruiter Recruiter
	err       error
}

// WithRecruiter returns a copy of ctx that carries r as the authenticated
// recruiter. It is meant for tests and internal calls that did not come
// through [Middleware], and it verifies nothing.
func WithRecruiter(ctx context.Context, r Recruiter) context.Context {
	return context.WithValue(ctx, contextKey{}, authResult{recruiter: r})
}

// withFailure returns a copy of ctx that records why authentication failed.
func withFailure(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, contextKey{}, authResult{err: err})
}

// FromContext returns the recruiter stored by [Middleware] or [WithRecruiter].
// When there is none, or the stored recruiter has an empty ID, or verification
// failed, the error wraps [ErrUnauthenticated] and carries the reason.
func FromContext(ctx context.Context) (Recruiter, error) {
	result, ok := ctx.Value(contextKey{}).(authResult)
	if !ok {
		return Recruiter{}, unauthenticated(reasonNoCredentials, nil)
	}
	if result.err != nil {
		return Recruiter{}, result.err
	}
	if result.recruiter.ID == "" {
		return Recruiter{}, unauthenticated(reasonMissingSub, nil)
	}
	return result.recruiter, nil
}
