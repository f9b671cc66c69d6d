package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/teams"
)

// Error codes in extensions.code.
const (
	CodeUnauthenticated       = "UNAUTHENTICATED"
	CodeForbidden             = "FORBIDDEN"
	CodeBadUserInput          = "BAD_USER_INPUT"
	CodeNotConnected          = "NOT_CONNECTED"
	CodeConnectionExpired     = "CONNECTION_EXPIRED"
	CodeAdminApprovalRequired = "ADMIN_APPROVAL_REQUIRED"
	CodeMissingPermission     = "MISSING_PERMISSION"
	CodeRecipientNotFound     = "RECIPIENT_NOT_FOUND"
	CodeRateLimited           = "RATE_LIMITED"
	CodeIdempotencyKeyReused  = "IDEMPOTENCY_KEY_REUSED"
	CodeMessageOutcomeUnknown = "MESSAGE_OUTCOME_UNKNOWN"
	CodeUpstreamUnavailable   = "UPSTREAM_UNAVAILABLE"
	CodeInternal              = "INTERNAL_SERVER_ERROR"
)

var errForbidden = errors.New("resolvers: caller lacks the teams.messaging permission")

// clientError is the presented form of an error: a code, a message for the person
// reading the SPA, and extra extensions.
type clientError struct {
	code    string
	message string
	ext     map[string]any
	// warn marks a known error an operator should see in the log, such as
	// Microsoft refusing a message or being unavailable.
	warn bool
}

// ErrorPresenter returns gqlgen's error presenter. A known error becomes its
// code and a message written for the SPA's reader. Every other error becomes
// INTERNAL_SERVER_ERROR with the request id, and is logged with its cause.
// Raw Go, SQL and Microsoft texts never reach the client. requestID reads
// the request id from the context and may be nil.
func ErrorPresenter(log *slog.Logger, requestID func(context.Context) string) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var original error
		if gqlErr.Err == nil {
			return transportError(gqlErr)
		}
		original = gqlErr.Err

		id := ""
		if requestID != nil {
			id = requestID(ctx)
		}
		// attrs are the log attributes of a failure: the error, where, and who.
		attrs := func(extra ...any) []any {
			a := append(extra, "error", original, "path", gqlErr.Path.String(), "request_id", id)
			if r, err := identity.FromContext(ctx); err == nil {
				a = append(a, "recruiter_id", r.ID)
			}
			return a
		}
		ce, known := classify(original)
		if !known {
			if !errors.Is(original, context.Canceled) {
				log.ErrorContext(ctx, "graphql operation failed", attrs()...)
			}
			ce = clientError{code: CodeInternal, message: "Something went wrong on Wintro's side. Try again; if it keeps failing, contact support with request id " + id + ".", ext: map[string]any{"requestId": id}}
		} else if ce.warn || ce.code == CodeUpstreamUnavailable || ce.code == CodeMessageOutcomeUnknown {
			log.WarnContext(ctx, "graphql operation failed upstream", attrs("error_code", ce.code)...)
		}

		gqlErr.Message = ce.message
		gqlErr.Err = nil
		gqlErr.Extensions = map[string]any{"code": ce.code}
		for k, v := range ce.ext {
			gqlErr.Extensions[k] = v
		}
		return gqlErr
	}
}

// transportError keeps gqlgen's parse and validation messages, which quote
// only the query, but replaces the ones that would echo the raw request body.
func transportError(e *gqlerror.Error) *gqlerror.Error {
	switch {
	case strings.HasPrefix(e.Message, "json request body could not be decoded"):
		e.Message = `The request body is not valid JSON. Send {"query": "...", "variables": {...}}.`
	case strings.HasPrefix(e.Message, "could not read request body"):
		e.Message = "The request body could not be read."
	default:
		return e
	}
	e.Extensions = map[string]any{"code": "BAD_REQUEST"}
	return e
}

// CodeOf returns the extensions.code the presenter gives err: nil is "OK",
// an unknown error INTERNAL_SERVER_ERROR.
func CodeOf(err error) string {
	if err == nil {
		return "OK"
	}
	if ce, ok := classify(err); ok {
		return ce.code
	}
	return CodeInternal
}

// classify maps a service error to its presented form.
func classify(err error) (clientError, bool) {
	if ce, ok := classifyIdentity(err); ok {
		return ce, true
	}
	if ce, ok := classifyOAuth(err); ok {
		return ce, true
	}
	return classifyTeams(err)
}

func classifyIdentity(err error) (clientError, bool) {
	switch {
	case errors.Is(err, identity.ErrUnauthenticated):
		return clientError{code: CodeUnauthenticated, message: "Sign in to Wintro again: the request carried no valid session token."}, true
	case errors.Is(err, errForbidden):
		return clientError{code: CodeForbidden, message: "Your Wintro account is not allowed to use the Microsoft Teams integration. Ask your Wintro administrator for the Teams messaging permission."}, true
	}
	return clientError{}, false
}

func classifyOAuth(err error) (clientError, bool) {
	var input *oauth.InputError
	var expired *oauth.ExpiredError
	var missing *oauth.MissingScopeError
	switch {
	case errors.As(err, &input):
		return clientError{code: CodeBadUserInput, message: "The value of " + input.Field + " " + input.Message + ".", ext: map[string]any{"field": input.Field}}, true
	case errors.As(err, &expired):
		return clientError{code: CodeConnectionExpired, message: oauth.ExpiredMessage(expired.Reason), ext: map[string]any{"reason": string(expired.Reason)}}, true
	case errors.As(err, &missing):
		p := missing.Permission
		return clientError{code: CodeMissingPermission, message: "Wintro needs the Microsoft permission \"" + p.Name + "\" (" + p.Scope + ") to do this: " + p.Reason + " Connect again and accept it, or ask your IT administrator to grant it.", ext: map[string]any{"scope": p.Scope}}, true
	case errors.Is(err, oauth.ErrNotConnected):
		return clientError{code: CodeNotConnected, message: "Microsoft Teams is not connected. Connect it under Settings → Communication → Microsoft Teams."}, true
	case errors.Is(err, oauth.ErrAdminApprovalRequired):
		return clientError{code: CodeAdminApprovalRequired, message: "Your organization must approve Wintro before you can use Microsoft Teams. Send your IT administrator the admin consent link shown in the Teams settings."}, true
	case errors.Is(err, oauth.ErrUpstreamUnavailable):
		var unavailable *oauth.UnavailableError
		if errors.As(err, &unavailable) {
			secs := retrySeconds(unavailable.RetryAfter)
			return clientError{code: CodeUpstreamUnavailable, ext: map[string]any{"retryAfterSeconds": secs},
				message: fmt.Sprintf("Microsoft's sign-in service is unavailable right now. Try again in %d seconds.", secs)}, true
		}
		return clientError{code: CodeUpstreamUnavailable, message: "Microsoft's sign-in service is unavailable right now. Try again in a minute."}, true
	}
	return clientError{}, false
}

func classifyTeams(err error) (clientError, bool) {
	var input *teams.InputError
	var limited *teams.RateLimitedError
	var blocked *teams.BlockedError
	switch {
	case errors.As(err, &input):
		return clientError{code: CodeBadUserInput, message: "The value of " + input.Field + " " + input.Message + ".", ext: map[string]any{"field": input.Field}}, true
	case errors.As(err, &limited):
		secs := retrySeconds(limited.RetryAfter)
		return clientError{code: CodeRateLimited, message: "Too many messages in a short time. Wait a moment and send again.", ext: map[string]any{"retryAfterSeconds": secs}}, true
	case errors.As(err, &blocked):
		return clientError{code: CodeForbidden, warn: true, message: "Microsoft refused the request: your organization's policy, your Teams licence or the recipient's settings block it. Ask your IT administrator (Microsoft request id " + blocked.RequestID + ")."}, true
	case errors.Is(err, teams.ErrRecipientNotFound):
		return clientError{code: CodeRecipientNotFound, message: "No colleague with that email or id was found in your Microsoft organization. Check the address; guests and people outside your organization cannot be messaged."}, true
	case errors.Is(err, teams.ErrIdempotencyKeyReused):
		return clientError{code: CodeIdempotencyKeyReused, message: "This idempotency key was already used for a different message or recipient. Use a new key for a new message."}, true
	case errors.Is(err, teams.ErrOutcomeUnknown):
		return clientError{code: CodeMessageOutcomeUnknown, message: "Microsoft Teams did not confirm the message. It may or may not have been sent; check the chat in Teams before sending it again."}, true
	case errors.Is(err, teams.ErrSendInProgress):
		return clientError{code: CodeMessageOutcomeUnknown, message: "The same message is still being sent by an earlier request. Wait a moment and check the chat before sending again.", ext: map[string]any{"inProgress": true}}, true
	case errors.Is(err, teams.ErrUpstreamUnavailable):
		return clientError{code: CodeUpstreamUnavailable, message: "Microsoft Teams is unavailable right now. Try again in a minute."}, true
	}
	return clientError{}, false
}

// retrySeconds is d in whole seconds, rounded up, and at least 1.
func retrySeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}
