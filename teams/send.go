package teams

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

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
	Deduplicated bool
}

// Send posts a 1:1 chat message from the recruiter to a colleague. With an
// idempotency key, a repeat returns the first result and posts nothing.
// A message POST whose outcome is unknown (timeout, 5xx) is never resent:
// it fails with ErrOutcomeUnknown and so does every repeat of its key.
func (s *Service) Send(ctx context.Context, r identity.Recruiter, in SendInput) (*SendResult, error) {
	body, err := validateSend(&in)
	if err != nil {
		return nil, err
	}
	if res := s.limiter(r.ID).Reserve(); res.Delay() > 0 {
		res.Cancel()
		return nil, &RateLimitedError{RetryAfter: res.Delay()}
	}

	if in.IdempotencyKey == "" {
		return s.deliver(ctx, r, in, body)
	}
	hash := requestHash(in)
	prior, err := s.store.claimSend(ctx, r.ID, in.IdempotencyKey, hash)
	if err != nil {
		return nil, err
	}
	if prior != nil {
		return replay(prior, hash)
	}

	res, err := s.deliver(ctx, r, in, body)
	s.recordOutcome(ctx, r.ID, in.IdempotencyKey, res, err)
	return res, err
}

// deliver resolves the recipient, finds or creates the chat and posts.
func (s *Service) deliver(ctx context.Context, r identity.Recruiter, in SendInput, body string) (*SendResult, error) {
	a, err := s.cfg.Tokens.Access(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if err := a.RequireScope(oauth.ScopeChatMessageSend); err != nil {
		return nil, err
	}

	target, a, err := s.resolveTarget(ctx, a, in)
	if err != nil {
		return nil, err
	}
	msg, a, err := s.post(ctx, a, target, in.Format, body)
	if err != nil {
		return nil, err
	}

	// The message is posted: the rest must not be cut by a cancelled request.
	ctx = context.WithoutCancel(ctx)
	_ = s.cfg.Tokens.MarkUsed(ctx, a)
	return &SendResult{MessageID: msg.ID, ChatID: msg.ChatID, CreatedAt: msg.CreatedDateTime, WebURL: msg.WebURL, Recipient: target.colleague}, nil
}

// post sends the message in the target's chat. A cached chat that Graph no
// longer knows (404) is dropped and created again, once.
func (s *Service) post(ctx context.Context, a *oauth.Access, t *target, format Format, body string) (*msgraph.ChatMessage, *oauth.Access, error) {
	ct := msgraph.ContentType("text")
	if format == FormatHTML {
		ct = msgraph.ContentType("html")
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
		return nil, a, sendError(err)
	}
	return msg, a, nil
}

// sendError maps a failed message POST.
func sendError(err error) error {
	var ge *msgraph.Error
	switch {
	case errors.Is(err, msgraph.ErrOutcomeUnknown):
		return errors.Join(ErrOutcomeUnknown, err)
	case msgraph.IsForbidden(err) && errors.As(err, &ge):
		return errors.Join(&BlockedError{RequestID: ge.RequestID}, err)
	case msgraph.IsNotFound(err):
		return errors.Join(ErrRecipientNotFound, err)
	}
	return err
}

// recordOutcome stores the result of an owned idempotent send. It runs even
// when the request was cancelled, so a send is never left half-recorded.
func (s *Service) recordOutcome(ctx context.Context, recruiterID, key string, res *SendResult, sendErr error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rec := sentRecord{Status: sendFailed}
	switch {
	case sendErr == nil:
		rec = sentRecord{
			Status: sendSent, RecipientID: res.Recipient.ID, RecipientName: res.Recipient.DisplayName,
			RecipientEmail: res.Recipient.Mail, RecipientUPN: res.Recipient.UserPrincipalName,
			ChatID: res.ChatID, MessageID: res.MessageID,
			MessageCreatedAt: sql.NullTime{Time: res.CreatedAt, Valid: !res.CreatedAt.IsZero()},
			WebURL:           sql.NullString{String: res.WebURL, Valid: res.WebURL != ""},
		}
	case errors.Is(sendErr, ErrOutcomeUnknown):
		rec.Status = sendUnknown
	}
	// NOTE: if this write fails the record stays pending, and repeats of the
	// key answer "in progress" rather than risk a second message.
	_ = s.store.finishSend(ctx, recruiterID, key, rec)
}

// replay answers a repeated idempotency key from its record.
func replay(rec *sentRecord, hash string) (*SendResult, error) {
	if rec.RequestHash != hash {
		return nil, ErrIdempotencyKeyReused
	}
	switch rec.Status {
	case sendSent:
		return &SendResult{
			MessageID: rec.MessageID, ChatID: rec.ChatID, CreatedAt: rec.MessageCreatedAt.Time, WebURL: rec.WebURL.String,
			Recipient:    Colleague{ID: rec.RecipientID, DisplayName: rec.RecipientName, Mail: rec.RecipientEmail, UserPrincipalName: rec.RecipientUPN},
			Deduplicated: true,
		}, nil
	case sendUnknown:
		return nil, ErrOutcomeUnknown
	}
	return nil, ErrSendInProgress
}

// requestHash identifies what a key was first used for.
func requestHash(in SendInput) string {
	h := sha256.New()
	for _, part := range []string{in.RecipientEmail, in.RecipientID, string(in.Format), in.Content} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// validateSend checks the input and returns the body to post.
func validateSend(in *SendInput) (string, error) {
	in.RecipientID = strings.TrimSpace(in.RecipientID)
	switch {
	case in.RecipientEmail == "" && in.RecipientID == "":
		return "", &InputError{Field: "recipientEmail", Message: "is missing; give the colleague's email or id"}
	case strings.TrimSpace(in.RecipientEmail) != "" && in.RecipientID != "":
		return "", &InputError{Field: "recipientId", Message: "cannot be combined with recipientEmail; give only one"}
	}
	if in.RecipientID == "" {
		email, err := normalizeEmail(in.RecipientEmail)
		if err != nil {
			return "", err
		}
		in.RecipientEmail = email
	} else if len(in.RecipientID) > 128 || strings.ContainsAny(in.RecipientID, "/?#'\"\\ ") {
		return "", &InputError{Field: "recipientId", Message: "is not a Microsoft user id"}
	}
	if in.Format == "" {
		in.Format = FormatText
	}
	if len(in.IdempotencyKey) > maxIdempotencyKeyLength {
		return "", &InputError{Field: "idempotencyKey", Message: fmt.Sprintf("is longer than %d characters", maxIdempotencyKeyLength)}
	}
	return prepareContent(in.Content, in.Format)
}
