package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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

// UnavailableError is ErrUpstreamUnavailable while the connection's refresh
// backoff runs: no token endpoint call is made before RetryAfter has passed.
type UnavailableError struct {
	RetryAfter time.Duration
	Cause      error // the token endpoint's failure, or nil when the backoff had already begun
}

func (e *UnavailableError) Error() string {
	msg := fmt.Sprintf("%v: next attempt in %s", ErrUpstreamUnavailable, e.RetryAfter.Round(time.Millisecond))
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap matches ErrUpstreamUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrUpstreamUnavailable}
	}
	return []error{ErrUpstreamUnavailable, e.Cause}
}

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

// TokenError is an error response of Microsoft's token endpoint, carrying the
// fields Microsoft documents. It never carries a token or the request.
type TokenError struct {
	Status      int
	Code        string // "error": invalid_grant, invalid_client, ...
	SubError    string // "suberror": bad_token, consent_required, basic_action, ...
	Description string // "error_description", starting "AADSTSnnnn:"
	ErrorCodes  []int  // "error_codes"
	TraceID     string
	Correlation string
	// RetryAfter is the reply's Retry-After header; 0 when absent.
	RetryAfter time.Duration
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
		te.RetryAfter = parseRetryAfter(re.Response.Header)
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

// refreshFailure is the class of a failed refresh, which decides its handling.
type refreshFailure int

const (
	failureTransient refreshFailure = iota // retry after a backoff, keep the connection
	failurePermanent                       // the user must sign in again
	failureConfig                          // Microsoft rejected our client or request
)

// classifyRefreshError decides on Microsoft's "error" and "suberror", not on
// the AADSTS number alone, as Microsoft advises. The number only picks the
// expiry reason shown to the recruiter. Network errors, timeouts, unreadable
// replies and error codes not listed here are transient, because expiring a
// connection that may still work is worse than retrying it.
func classifyRefreshError(err error) (refreshFailure, vault.ExpiredReason) {
	var te *TokenError
	if !errors.As(err, &te) {
		return failureTransient, ""
	}
	switch te.Code {
	case "invalid_grant", "interaction_required", "consent_required":
		return failurePermanent, expiredReasonOf(te)
	case "invalid_client", "unauthorized_client", "invalid_request", "unsupported_grant_type", "invalid_scope":
		return failureConfig, ""
	}
	return failureTransient, ""
}

// expiredReasonOf maps the AADSTS number of a permanent failure to the
// reason shown to the recruiter. Microsoft sends AADSTS50173 both after an
// administrator's password reset and after a revocation of the user's
// sessions. Its text names the password, so it maps to PASSWORD_RESET,
// whose message covers both.
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

// retryAfterOf returns the Retry-After of a throttled or unavailable token
// endpoint reply, or 0.
func retryAfterOf(err error) time.Duration {
	var te *TokenError
	if errors.As(err, &te) {
		return te.RetryAfter
	}
	return 0
}

// parseRetryAfter reads a Retry-After header given in seconds (RFC 9110
// section 10.2.3); the HTTP-date form is ignored.
func parseRetryAfter(h http.Header) time.Duration {
	seconds, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || seconds <= 0 {
		return 0
	}
	return time.Duration(seconds) * time.Second
}
