package teams

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the messaging service. The resolvers map them to GraphQL codes.
var (
	// ErrRecipientNotFound means no colleague in the organization matches.
	ErrRecipientNotFound = errors.New("teams: recipient not found")
	// ErrIdempotencyKeyReused means the key was first used for another message.
	ErrIdempotencyKeyReused = errors.New("teams: idempotency key reused with different content or recipient")
	// ErrOutcomeUnknown means Graph may or may not have posted the message.
	ErrOutcomeUnknown = errors.New("teams: message outcome unknown")
	// ErrSendInProgress means an identical request with the same key was still
	// sending when the wait for its outcome (Config.PendingWait) ran out.
	ErrSendInProgress = errors.New("teams: a send with this idempotency key is in progress")
	// ErrUpstreamUnavailable means Microsoft Graph failed or timed out.
	ErrUpstreamUnavailable = errors.New("teams: microsoft graph unavailable")
)

// InputError reports an invalid argument, naming the GraphQL input field.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("teams: invalid %s: %s", e.Field, e.Message)
}

// RateLimitedError means the send must wait RetryAfter before trying again.
type RateLimitedError struct {
	RetryAfter time.Duration
	// ByMicrosoft is true when Graph throttled, false for Wintro's own limit.
	ByMicrosoft bool
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("teams: rate limited (microsoft %t), retry after %s", e.ByMicrosoft, e.RetryAfter)
}

// BlockedError means Microsoft refused a call with 403 although the scopes
// are granted: a tenant policy, a missing licence or the recipient's
// settings block the send, or the recruiter is a guest, who may not look up
// users. The connection stays usable.
type BlockedError struct {
	// RequestID is Graph's request-id of the refused call, for the log and
	// for the recruiter's IT administrator.
	RequestID string
}

func (e *BlockedError) Error() string {
	return "teams: microsoft refused the request with 403 (request-id " + e.RequestID + ")"
}
