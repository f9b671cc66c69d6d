package identity

import "errors"

// ErrUnauthenticated is wrapped by every error that [Verifier.Verify] and
// [FromContext] return. The wrapping error's text adds a short reason such as
// "token expired" and never contains the token.
var ErrUnauthenticated = errors.New("identity: unauthenticated")

// Reasons shown after ErrUnauthenticated's text. They are fixed strings so no
// part of a token, header or key can reach an error message.
const (
	reasonNoCredentials   = "no credentials"
	reasonMissingHeader   = "missing authorization header"
	reasonMultipleHeaders = "more than one authorization header"
	reasonWrongScheme     = "authorization scheme is not bearer"
	reasonMissingToken    = "missing token"
	reasonTokenTooLarge   = "token too large"
	reasonMalformed       = "token malformed"
	reasonAlgorithm       = "signing algorithm not allowed"
	reasonSignature       = "signature invalid"
	reasonUnknownKeyID    = "unknown key id"
	reasonNoKey           = "no usable verification key"
	reasonExpired         = "token expired"
	reasonNotYetValid     = "token not yet valid"
	reasonMissingExp      = "missing exp"
	reasonMissingIss      = "missing iss"
	reasonMissingAud      = "missing aud"
	reasonIssuer          = "issuer mismatch"
	reasonAudience        = "audience mismatch"
	reasonMissingSub      = "missing sub"
	reasonPermissions     = "invalid permissions claim"
	reasonCanceled        = "verification canceled"
	reasonInvalidClaims   = "invalid claims"
	reasonUnverifiable    = "token unverifiable"
)

// authError is a verification failure. Its text is ErrUnauthenticated's text
// and the reason only: the cause is reachable through errors.Is and errors.As
// but left out of Error, because library errors may quote token content.
type authError struct {
	reason string
	cause  error
}

func (e *authError) Error() string {
	return ErrUnauthenticated.Error() + ": " + e.reason
}

func (e *authError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnauthenticated}
	}
	return []error{ErrUnauthenticated, e.cause}
}

// unauthenticated returns an error that wraps ErrUnauthenticated and cause
// and reads "identity: unauthenticated: reason".
func unauthenticated(reason string, cause error) error {
	return &authError{reason: reason, cause: cause}
}
