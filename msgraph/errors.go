package msgraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrNotFound matches, through errors.Is, every error of this package that
// means the requested user or object does not exist: a *Error with status 404
// and the error UserByMail returns when no filter finds the address.
var ErrNotFound = errors.New("msgraph: not found")

// ErrOutcomeUnknown is the sentinel inside every *OutcomeUnknownError: Graph
// may or may not have posted the message, so the caller must not resend it
// blindly.
var ErrOutcomeUnknown = errors.New("msgraph: message outcome unknown")

// errMissingToken is returned before any request when the token is empty.
var errMissingToken = errors.New("msgraph: missing access token")

// Error is a failed Graph response: a non-2xx status with Graph's error
// envelope {"error":{"code","message","innerError":{...}}} when the body has
// one. Callers branch on Status, then Code, and never on Message, which is
// Microsoft's free text: it appears in Error() for logs and must not be shown
// to end users. Error never contains the access token.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is Graph's error.code, such as "Request_ResourceNotFound",
	// "InvalidAuthenticationToken" or "Forbidden". It may be empty.
	Code string
	// Message is Graph's error.message.
	Message string
	// RequestID is the request-id response header, or innerError's
	// request-id when the header is missing.
	RequestID string
	// ClientRequestID is the client-request-id this client sent.
	ClientRequestID string
	// RetryAfter is the wait Graph requested in Retry-After, or, for a 429
	// returned after the retry budget ran out, the wait this client would have
	// used next. Zero when unknown.
	RetryAfter time.Duration
	// ClaimsChallenge reports a 401 whose WWW-Authenticate header carries
	// error="insufficient_claims": the session was revoked and the user must
	// sign in again.
	ClaimsChallenge bool
	// Endpoint is the endpoint template, such as "GET /users/{id}".
	Endpoint string
}

// Error formats the status, code, Graph's message and the request ids.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "msgraph: %s: status %d", e.Endpoint, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.ClaimsChallenge {
		b.WriteString(" (claims challenge)")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	fmt.Fprintf(&b, " (request-id %q, client-request-id %q)", e.RequestID, e.ClientRequestID)
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// OutcomeUnknownError is returned by SendChatMessage when the message POST
// may have been posted: the request was written and then the attempt timed
// out or the connection failed, or Graph returned a 5xx, or a 2xx body
// could not be read. The client never retries such a POST.
type OutcomeUnknownError struct {
	// Endpoint is the endpoint template, "POST /chats/{id}/messages".
	Endpoint string
	// ClientRequestID is the client-request-id sent with the POST.
	ClientRequestID string
	// Err is the cause: a network or context error, or a *Error for a 5xx.
	Err error
}

// Error names the endpoint, the client-request-id and the cause.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("msgraph: %s: outcome unknown (client-request-id %q): %v",
		e.Endpoint, e.ClientRequestID, e.Err)
}

// Unwrap returns ErrOutcomeUnknown and the cause. Because the cause of a 5xx
// is a *Error, callers check ErrOutcomeUnknown before mapping a *Error.
func (e *OutcomeUnknownError) Unwrap() []error {
	return []error{ErrOutcomeUnknown, e.Err}
}

// IsNotFound reports whether err means the user or object does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound)
}

// IsUnauthorized reports a 401 that is not a claims challenge, usually code
// InvalidAuthenticationToken: the access token expired or is not yet valid,
// so the caller may refresh it once and retry once.
func IsUnauthorized(err error) bool {
	e, ok := asError(err)
	return ok && e.Status == http.StatusUnauthorized && !e.ClaimsChallenge
}

// IsClaimsChallenge reports a 401 with WWW-Authenticate error="insufficient_claims":
// a refresh does not help and the user must sign in again.
func IsClaimsChallenge(err error) bool {
	e, ok := asError(err)
	return ok && e.Status == http.StatusUnauthorized && e.ClaimsChallenge
}

// IsForbidden reports a 403. On a send with the right scopes this can come
// from a licence, a policy or the recipient, so it does not mean that the
// token is invalid.
func IsForbidden(err error) bool {
	e, ok := asError(err)
	return ok && e.Status == http.StatusForbidden
}

// IsThrottled reports a 429 returned after the retry budget ran out.
// The *Error's RetryAfter contains the suggested wait.
func IsThrottled(err error) bool {
	e, ok := asError(err)
	return ok && e.Status == http.StatusTooManyRequests
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// errorEnvelope is Graph's error body.
type errorEnvelope struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// newError builds an *Error from a non-2xx response. A body that is not
// Graph's envelope leaves Code and Message empty. Its text is not kept,
// because it may be an HTML page from a proxy.
func newError(endpoint, clientRequestID string, status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{
		Status:          status,
		RequestID:       header.Get("request-id"),
		ClientRequestID: clientRequestID,
		Endpoint:        endpoint,
	}
	e.RetryAfter, _ = parseRetryAfter(header.Get("Retry-After"), now)

	var env errorEnvelope
	if json.Unmarshal(body, &env) == nil {
		e.Code = env.Error.Code
		e.Message = env.Error.Message
		if e.RequestID == "" {
			e.RequestID = env.Error.InnerError.RequestID
		}
	}

	if status == http.StatusUnauthorized {
		e.ClaimsChallenge = isClaimsChallenge(header.Values("WWW-Authenticate"))
	}
	return e
}

// isClaimsChallenge looks for error="insufficient_claims" in the
// WWW-Authenticate challenges, as sent under continuous access evaluation.
func isClaimsChallenge(values []string) bool {
	for _, v := range values {
		v = strings.ToLower(strings.ReplaceAll(v, " ", ""))
		if strings.Contains(v, `error="insufficient_claims"`) || strings.Contains(v, "error=insufficient_claims") {
			return true
		}
	}
	return false
}
