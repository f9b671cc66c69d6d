package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/wintro/teams-messaging/vault"
)

// Errors returned to callers of the service. The resolvers map them to
// GraphQL error codes.
var (
	// ErrNotConnected means the recruiter has no usable connection.
	ErrNotConnected = errors.New("oauth: not connected")
	// ErrAdminApprovalRequired means the organization must approve the app first.
	ErrAdminApprovalRequired = errors.New("oauth: admin approval required")
	// ErrUpstreamUnavailable means Microsoft's token endpoint failed transiently.
	ErrUpstreamUnavailable = errors.New("oauth: microsoft identity platform unavailable")
	// ErrMisconfigured means Microsoft rejected the client credentials.
	ErrMisconfigured = errors.New("oauth: client credentials rejected")
)

// ExpiredError means the connection expired and the recruiter must connect again.
type ExpiredError struct {
	Reason vault.ExpiredReason
}

func (e *ExpiredError) Error() string {
	return "oauth: connection expired: " + string(e.Reason)
}

// InputError reports an invalid argument, naming the GraphQL input field.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("oauth: invalid %s: %s", e.Field, e.Message)
}

// MissingScopeError means the recruiter did not grant a scope an operation needs.
type MissingScopeError struct {
	Permission Permission
}

func (e *MissingScopeError) Error() string {
	return "oauth: missing permission " + e.Permission.Scope
}

// TokenError is an error answer of Microsoft's token endpoint, carrying the
// fields Microsoft documents. It never carries a token or the request.
type TokenError struct {
	Status      int
	Code        string // "error": invalid_grant, invalid_client, ...
	SubError    string // "suberror": bad_token, consent_required, basic_action, ...
	Description string // "error_description", starting "AADSTSnnnn:"
	ErrorCodes  []int  // "error_codes"
	TraceID     string
	Correlation string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("token endpoint: HTTP %d %s (suberror %q, AADSTS %v, trace %s)", e.Status, e.Code, e.SubError, e.ErrorCodes, e.TraceID)
}

// HasCode reports whether Microsoft listed the AADSTS number n.
func (e *TokenError) HasCode(n int) bool {
	return slices.Contains(e.ErrorCodes, n) || strings.HasPrefix(e.Description, fmt.Sprintf("AADSTS%d:", n))
}

// tokenErrorFrom converts golang.org/x/oauth2's RetrieveError into a
// TokenError; other errors are returned as they are.
func tokenErrorFrom(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	te := &TokenError{Code: re.ErrorCode, Description: re.ErrorDescription}
	if re.Response != nil {
		te.Status = re.Response.StatusCode
	}
	var body struct {
		Error       string `json:"error"`
		SubError    string `json:"suberror"`
		ErrorCodes  []int  `json:"error_codes"`
		TraceID     string `json:"trace_id"`
		Correlation string `json:"correlation_id"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		if te.Code == "" {
			te.Code = body.Error
		}
		te.SubError, te.ErrorCodes, te.TraceID, te.Correlation = body.SubError, body.ErrorCodes, body.TraceID, body.Correlation
	}
	return te
}

// refreshFailure is how a failed refresh is handled.
type refreshFailure int

const (
	failureTransient refreshFailure = iota // retry later, keep the connection
	failurePermanent                       // the user must sign in again
	failureConfig                          // our client credentials are wrong
)

// classifyRefreshError decides on Microsoft's "error" and "suberror", not on
// the AADSTS number alone, as Microsoft advises; the number only picks the
// expiry reason shown to the recruiter.
func classifyRefreshError(err error) (refreshFailure, vault.ExpiredReason) {
	var te *TokenError
	if !errors.As(err, &te) {
		return failureTransient, ""
	}
	switch te.Code {
	case "invalid_grant", "interaction_required", "consent_required":
		return failurePermanent, expiredReasonOf(te)
	case "invalid_client", "unauthorized_client":
		return failureConfig, ""
	}
	return failureTransient, ""
}

func expiredReasonOf(te *TokenError) vault.ExpiredReason {
	switch {
	case te.HasCode(700082) || te.HasCode(70008):
		return vault.ReasonInactivity
	case te.HasCode(50173):
		return vault.ReasonPasswordReset
	case te.HasCode(65001) || te.Code == "consent_required" || te.SubError == "consent_required":
		return vault.ReasonConsentWithdrawn
	}
	return vault.ReasonUnknown
}
