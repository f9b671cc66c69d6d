package teams

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/oauth"
)

// target is a resolved recipient and the 1:1 chat with them.
type target struct {
	colleague Colleague
	chatID    string
	fromCache bool // chatID came from the chat cache, not from POST /chats
}

// resolveTarget finds the recipient and the chat. A recipient already
// messaged costs no Graph call: the chat cache holds the chat and the
// recipient's profile, and the recipient cache maps an email to the user id.
func (s *Service) resolveTarget(ctx context.Context, a *oauth.Access, in SendInput) (*target, *oauth.Access, error) {
	recipientID := in.RecipientID
	var known *Colleague
	if recipientID == "" {
		c, err := s.recipientByEmail(ctx, a, in.RecipientEmail)
		if err != nil {
			return nil, a, err
		}
		if c != nil {
			recipientID, known = c.ID, c
		}
	}

	if recipientID != "" {
		if recipientID == a.AccountID {
			return nil, a, selfError(in)
		}
		cached, err := s.store.chat(ctx, a.ConnectionID, recipientID)
		if err != nil {
			return nil, a, err
		}
		if cached != nil {
			c := Colleague{ID: cached.RecipientID, DisplayName: cached.DisplayName, Mail: cached.Mail, UserPrincipalName: cached.UPN}
			return &target{colleague: c, chatID: cached.ChatID, fromCache: true}, a, nil
		}
	}

	if known == nil {
		c, a2, err := s.lookupRecipient(ctx, a, in)
		if err != nil {
			return nil, a2, err
		}
		known, a = c, a2
	}
	if known.ID == a.AccountID {
		return nil, a, selfError(in)
	}
	t := &target{colleague: *known}
	a, err := s.createChat(ctx, a, t)
	return t, a, err
}

// recipientByEmail answers from the recipient cache, or nil on a miss.
func (s *Service) recipientByEmail(ctx context.Context, a *oauth.Access, email string) (*Colleague, error) {
	r, err := s.store.recipient(ctx, a.TenantID, email)
	if err != nil || r == nil {
		return nil, err
	}
	return &Colleague{ID: r.UserID, DisplayName: r.DisplayName, Mail: r.Mail.String, UserPrincipalName: r.UPN}, nil
}

// lookupRecipient asks Graph for the recipient: by id, or by email (the UPN
// path first, then the mail property), and caches email → user.
func (s *Service) lookupRecipient(ctx context.Context, a *oauth.Access, in SendInput) (*Colleague, *oauth.Access, error) {
	if err := a.RequireScope(oauth.ScopeUserReadBasicAll); err != nil {
		return nil, a, err
	}
	var u *msgraph.User
	a, err := s.callGraph(ctx, a, func(a *oauth.Access) error {
		var err error
		if in.RecipientID != "" {
			u, err = s.cfg.Graph.User(ctx, a.Token, in.RecipientID)
		} else {
			u, err = s.cfg.Graph.FindUserByEmail(ctx, a.Token, in.RecipientEmail)
		}
		return err
	})
	if msgraph.IsNotFound(err) || errors.Is(err, msgraph.ErrNotFound) || (err == nil && isGuest(u)) {
		return nil, a, errors.Join(ErrRecipientNotFound, err)
	}
	if err != nil {
		return nil, a, err
	}

	c := colleagueOf(u)
	if in.RecipientEmail != "" {
		rec := cachedRecipient{UserID: u.ID, DisplayName: u.DisplayName, UPN: u.UserPrincipalName, Mail: sql.NullString{String: u.Mail, Valid: u.Mail != ""}}
		if err := s.store.putRecipient(ctx, a.TenantID, in.RecipientEmail, rec, s.cfg.RecipientCacheTTL); err != nil {
			return nil, a, err
		}
	}
	return &c, a, nil
}

// createChat creates (or gets back) the 1:1 chat with the target and caches it.
func (s *Service) createChat(ctx context.Context, a *oauth.Access, t *target) (*oauth.Access, error) {
	if err := a.RequireScope(oauth.ScopeChatReadWrite); err != nil {
		return a, err
	}
	var chat *msgraph.Chat
	a, err := s.callGraph(ctx, a, func(a *oauth.Access) error {
		var err error
		chat, err = s.cfg.Graph.CreateOneOnOneChat(ctx, a.Token, a.AccountID, t.colleague.ID)
		return err
	})
	if err != nil {
		if msgraph.IsNotFound(err) {
			return a, errors.Join(ErrRecipientNotFound, err)
		}
		return a, err
	}
	t.chatID, t.fromCache = chat.ID, false
	c := cachedChat{ChatID: chat.ID, RecipientID: t.colleague.ID, DisplayName: t.colleague.DisplayName, Mail: t.colleague.Mail, UPN: t.colleague.UserPrincipalName}
	return a, s.store.putChat(ctx, a.ConnectionID, a.RecruiterID, c)
}

// isGuest recognizes a guest account by its UPN, the one marker readable with
// User.ReadBasic.All: guests are invited from another organization and
// receive a "#EXT#" UPN.
func isGuest(u *msgraph.User) bool {
	return strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")
}

func selfError(in SendInput) error {
	field := "recipientEmail"
	if in.RecipientID != "" {
		field = "recipientId"
	}
	return &InputError{Field: field, Message: "is your own account; choose a colleague to message"}
}
