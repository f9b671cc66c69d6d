// Package identity verifies the caller's bearer JWT issued by Wintro and
// carries the authenticated recruiter through the request context.
//
// A [Verifier] pins the signing algorithm by configuration: HS256 with a
// shared secret, or RS256 and ES256 with keys from a JWKS URL. It requires
// exp and sub, honours nbf, and compares iss and aud when configured. [Middleware] runs the Verifier on each
// request and stores either the [Recruiter] or the failure in the context,
// where [FromContext] reads it back. Every verification failure wraps
// [ErrUnauthenticated] and its text never contains the token.
package identity
