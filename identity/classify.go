package identity

import (
	"context"
	"errors"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// claimReasons maps jwt and key lookup errors to reasons, most important
// first, because the jwt package reports every failed claim at once.
var claimReasons = []struct {
	target error
	reason string
}{
	{errPermissionsClaim, reasonPermissions},
	{jwt.ErrTokenMalformed, reasonMalformed},
	{errUnknownKeyID, reasonUnknownKeyID},
	{errNoKey, reasonNoKey},
	{jwt.ErrTokenSignatureInvalid, reasonSignature},
	{jwt.ErrTokenExpired, reasonExpired},
	{jwt.ErrTokenNotValidYet, reasonNotYetValid},
	{jwt.ErrTokenInvalidIssuer, reasonIssuer},
	{jwt.ErrTokenInvalidAudience, reasonAudience},
	{jwt.ErrTokenInvalidClaims, reasonInvalidClaims},
}

// classify turns a jwt parse error into an ErrUnauthenticated error with a
// fixed reason. c holds whatever claims the parser decoded.
func (v *Verifier) classify(ctx context.Context, token *jwt.Token, c *claims, err error) error {
	if ctx.Err() != nil && errors.Is(err, jwt.ErrTokenUnverifiable) {
		return unauthenticated(reasonCanceled, err)
	}

	// The parser reports an alg outside the pinned set, none included, as an
	// invalid signature, and an alg it does not implement as unverifiable.
	unverified := errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable)
	if unverified && !v.algorithmAllowed(token) {
		return unauthenticated(reasonAlgorithm, err)
	}

	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		return unauthenticated(missingClaimReason(c), err)
	}
	for _, r := range claimReasons {
		if errors.Is(err, r.target) {
			return unauthenticated(r.reason, err)
		}
	}
	return unauthenticated(reasonUnverifiable, err)
}

// algorithmAllowed reports whether the alg header of token is one v accepts.
func (v *Verifier) algorithmAllowed(token *jwt.Token) bool {
	if token == nil {
		return false
	}
	alg, _ := token.Header["alg"].(string)
	return slices.Contains(v.methods, alg)
}

// missingClaimReason names the required claim that c lacks. The parser
// requires exp always, and iss and aud when the Verifier checks them.
func missingClaimReason(c *claims) string {
	switch {
	case c.ExpiresAt == nil:
		return reasonMissingExp
	case c.Issuer == "":
		return reasonMissingIss
	case len(c.Audience) == 0:
		return reasonMissingAud
	}
	return reasonInvalidClaims
}
