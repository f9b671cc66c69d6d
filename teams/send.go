package teams

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/oauth"
)

const maxIdempotencyKeyLength = 200

// SendInput is one message to send. Exactly one of RecipientEmail and
// RecipientID is set.
type SendInput struct {
	RecipientEmail string
	RecipientID    string
	Content        string
	Format         Format
	IdempotencyKey string
}

// SendResult is a posted message.
type SendResult struct {
	MessageID    string
	ChatID       string
	CreatedAt    time.Time
	WebURL       string
	Recipient    Colleague
	Deduplicated bool // the result of an earlier request with the same idempotency key
}

// Send posts a 1:1 chat message from the recruiter to a colleague.
//
// The input is validated before any database or Graph call. Once it is
// valid, the send runs to its end within SendTimeout even when ctx is
// cancelled, so a caller that goes away never leaves it half done.
//
// With an idempotency key, the first request records its outcome and every
// repeat within IdempotencyTTL returns it without calling Graph, on any
// replica: the result (Deduplicated set), ErrOutcomeUnknown, or, for a key
// first used for another recipient or content, ErrIdempotencyKeyReused. A
// repeat that arrives while the first request is still sending waits up to
// PendingWait for its outcome, then fails with ErrSendInProgress. A failed
// send (nothing was posted) may be repeated with the same key.
//
// A message POST whose outcome is unknown (timeout, 5xx) is never resent: it
// fails with ErrOutcomeUnknown.
func (s *Service) Send(ctx context.Context, r identity.Recruiter, in SendInput) (*SendResult, error) {
	body, err := validateSend(&in)
	if err != nil {
		return nil, err
	}
	wait, reservation := s.limiters.reserve(r.ID, s.cfg.Now())
	if reservation == nil {
		return nil, &RateLimitedError{RetryAfter: wait}
	}

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.SendTimeout)
	defer cancel()
	if in.IdempotencyKey == "" {
		a, err := s.cfg.Tokens.Access(ctx, r.ID)
		if err == nil {
			err = a.RequireScope(oauth.ScopeChatMessageSend)
		}
		if err != nil {
			return nil, err
		}
		k, err := s.store.lookup(ctx, a.ConnectionID, a.TenantID, in)
		if err != nil {
			return nil, err
		}
		return s.deliver(ctx, a, in, body, k)
	}

	// The key is claimed in the round trip that reads the connection, so a
	// send to a known recipient costs that read and the outcome's write.
	c := s.newClaim(r.ID, in)
	var first claimed
	a, err := s.cfg.Tokens.AccessWith(ctx, r.ID, s.store.claimOnRead(c, &first))
	if err == nil {
		err = a.RequireScope(oauth.ScopeChatMessageSend)
	}
	if err != nil {
		if first.owned() {
			s.recordOutcome(ctx, r.ID, c, nil, err) // nothing was posted: the key may be used again
		}
		return nil, err
	}
	res, err := s.sendOnce(ctx, a, in, body, c, first)
	if res != nil && res.Deduplicated {
		// A repeat posts nothing, so it gives its token back.
		reservation.CancelAt(s.cfg.Now())
	}
	return res, err
}

// deliver resolves the recipient, finds or creates the chat and posts.
func (s *Service) deliver(ctx context.Context, a *oauth.Access, in SendInput, body string, k known) (*SendResult, error) {
	t, a, err := s.resolveTarget(ctx, a, in, k)
	if err != nil {
		return nil, err
	}
	msg, a, err := s.post(ctx, a, t, in.Format, body)
	if err != nil {
		return nil, err
	}

	s.markUsed(ctx, a)
	return &SendResult{MessageID: msg.ID, ChatID: msg.ChatID, CreatedAt: msg.CreatedDateTime, WebURL: msg.WebURL, Recipient: t.colleague}, nil
}

// markUsed records the connection's last use, at most once per
// MarkUsedInterval per connection and process. A failure does not fail the
// send, which is already posted.
func (s *Service) markUsed(ctx context.Context, a *oauth.Access) {
	if s.used.due(a.ConnectionID, s.cfg.Now()) {
		s.reportError("mark connection used", s.cfg.Tokens.MarkUsed(ctx, a))
	}
}

// post sends the message in the target's chat. A cached chat that Graph
// reports as not found (404) is dropped and created again, once.
func (s *Service) post(ctx context.Context, a *oauth.Access, t *target, format Format, body string) (*msgraph.ChatMessage, *oauth.Access, error) {
	ct := msgraph.ContentText
	if format == FormatHTML {
		ct = msgraph.ContentHTML
	}
	var msg *msgraph.ChatMessage
	send := func(a *oauth.Access) error {
		var err error
		msg, err = s.cfg.Graph.SendChatMessage(ctx, a.Token, t.chatID, ct, body)
		return err
	}
	a, err := s.callGraph(ctx, a, send)
	if err != nil && t.fromCache && msgraph.IsNotFound(err) {
		if err := s.store.dropChat(ctx, a.ConnectionID, t.colleague.ID); err != nil {
			return nil, a, err
		}
		if a, err = s.createChat(ctx, a, t); err != nil {
			return nil, a, err
		}
		a, err = s.callGraph(ctx, a, send)
	}
	if err != nil {
		return nil, a, postError(err)
	}
	return msg, a, nil
}

// postError maps a failed message POST: a 404 means the recipient's chat or
// account is gone, and a 413 that Teams found the content too large.
func postError(err error) error {
	var ge *msgraph.Error
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		return err
	case msgraph.IsNotFound(err):
		return errors.Join(ErrRecipientNotFound, err)
	case errors.As(err, &ge) && ge.Status == http.StatusRequestEntityTooLarge:
		return errors.Join(&InputError{Field: "content", Message: "is longer than Teams accepts; shorten the message"}, err)
	}
	return err
}

// validateSend checks and normalizes the input and returns the body to post.
func validateSend(in *SendInput) (string, error) {
	email, id := strings.TrimSpace(in.RecipientEmail), strings.TrimSpace(in.RecipientID)
	switch {
	case email == "" && id == "":
		return "", &InputError{Field: "recipientEmail", Message: "is missing; give the colleague's email or id"}
	case email != "" && id != "":
		return "", &InputError{Field: "recipientId", Message: "cannot be combined with recipientEmail; give only one"}
	}
	var err error
	if id != "" {
		in.RecipientID, err = normalizeUserID(id)
	} else {
		in.RecipientEmail, err = normalizeEmail(email)
	}
	if err != nil {
		return "", err
	}

	switch in.Format {
	case "":
		in.Format = FormatText
	case FormatText, FormatHTML:
	default:
		return "", &InputError{Field: "format", Message: "must be TEXT or HTML"}
	}
	if len(in.IdempotencyKey) > maxIdempotencyKeyLength {
		return "", &InputError{Field: "idempotencyKey", Message: fmt.Sprintf("is longer than %d characters", maxIdempotencyKeyLength)}
	}
	if !utf8.ValidString(in.IdempotencyKey) {
		return "", &InputError{Field: "idempotencyKey", Message: "is not valid UTF-8 text"}
	}
	return prepareContent(in.Content, in.Format)
}

// resultOf turns a recorded successful send into its result.
func resultOf(rec *sentRecord) *SendResult {
	return &SendResult{
		MessageID: rec.MessageID, ChatID: rec.ChatID, CreatedAt: rec.MessageCreatedAt.Time, WebURL: rec.WebURL.String,
		Recipient:    Colleague{ID: rec.RecipientID, DisplayName: rec.RecipientName, Mail: rec.RecipientEmail, UserPrincipalName: rec.RecipientUPN},
		Deduplicated: true,
	}
}

// recordOf turns the outcome of an owned send into its record.
func recordOf(res *SendResult, err error) sentRecord {
	switch {
	case err == nil:
		return sentRecord{
			Status: sendSent, RecipientID: res.Recipient.ID, RecipientName: res.Recipient.DisplayName,
			RecipientEmail: res.Recipient.Mail, RecipientUPN: res.Recipient.UserPrincipalName,
			ChatID: res.ChatID, MessageID: res.MessageID,
			MessageCreatedAt: sql.NullTime{Time: res.CreatedAt, Valid: !res.CreatedAt.IsZero()},
			WebURL:           sql.NullString{String: res.WebURL, Valid: res.WebURL != ""},
		}
	case errors.Is(err, ErrOutcomeUnknown):
		return sentRecord{Status: sendUnknown}
	}
	return sentRecord{Status: sendFailed}
}
