package teams

import (
	"context"
	"errors"
	"net/http"
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

// resolveTarget finds the recipient and the chat, starting from what the
// caches know (k). A recipient already messaged costs no Graph call: the
// chat cache holds the chat and the recipient's profile, and the recipient
// cache maps an email to the user id. A new recipient costs a lookup and
// POST /chats.
func (s *Service) resolveTarget(ctx context.Context, a *oauth.Access, in SendInput, k known) (*target, *oauth.Access, error) {
	if isSelf(a, in.RecipientID) || in.RecipientEmail != "" && strings.EqualFold(in.RecipientEmail, a.Email) {
		return nil, a, selfError(in)
	}

	t := &target{colleague: Colleague{ID: k.RecipientID, DisplayName: k.DisplayName, Mail: k.Mail, UserPrincipalName: k.UPN}}
	if k.RecipientID == "" {
		c, a2, err := s.lookupRecipient(ctx, a, in)
		if err != nil {
			return nil, a2, err
		}
		a, t.colleague = a2, *c
	}
	if isSelf(a, t.colleague.ID) {
		return nil, a, selfError(in)
	}

	switch {
	case k.ChatID != "":
		t.chatID, t.fromCache = k.ChatID, true
		return t, a, nil
	case k.RecipientID == "" && in.RecipientEmail != "":
		// The recipient cache missed, but the chat cache may know the user.
		chatID, err := s.store.chat(ctx, a.ConnectionID, t.colleague.ID)
		if err != nil {
			return nil, a, err
		}
		if chatID != "" {
			t.chatID, t.fromCache = chatID, true
			return t, a, nil
		}
	}
	a, err := s.createChat(ctx, a, t)
	return t, a, err
}

// lookupRecipient requests the recipient from Graph, by id or by email, and
// caches email → user. A guest counts as not found: guests belong to
// another organization.
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
			u, err = s.findByEmail(ctx, a.Token, in.RecipientEmail)
		}
		return err
	})
	if msgraph.IsNotFound(err) || err == nil && isGuest(u) {
		return nil, a, errors.Join(ErrRecipientNotFound, err)
	}
	if err != nil {
		return nil, a, err
	}

	c := colleagueOf(u)
	if in.RecipientEmail != "" {
		if err := s.store.putRecipient(ctx, a.TenantID, in.RecipientEmail, c, s.cfg.RecipientCacheTTL); err != nil {
			return nil, a, err
		}
	}
	return &c, a, nil
}

// findByEmail resolves an address with one request for its user principal
// name or primary mail, then, when no user has it, searches the secondary
// addresses (otherMails, proxyAddresses). For a tenant that rejects the
// combined filter with 400 it takes the long way: GET /users/{upn}, then
// $filter on mail, then the secondary addresses.
func (s *Service) findByEmail(ctx context.Context, token, email string) (*msgraph.User, error) {
	u, err := s.cfg.Graph.UserByPrincipalNameOrMail(ctx, token, email)
	var ge *msgraph.Error
	switch {
	case err == nil:
		return u, nil
	case errors.As(err, &ge) && ge.Status == http.StatusBadRequest:
		return s.cfg.Graph.FindUserByEmail(ctx, token, email)
	case !msgraph.IsNotFound(err):
		return nil, err
	}
	return s.cfg.Graph.UserByAlternateAddress(ctx, token, email)
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
	return a, s.store.putChat(ctx, a.ConnectionID, a.RecruiterID, chat.ID, t.colleague)
}

// isGuest recognizes a guest account by its UPN, the one marker readable with
// User.ReadBasic.All: guests are invited from another organization and
// receive a "#EXT#" UPN.
func isGuest(u *msgraph.User) bool {
	return strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")
}

func isSelf(a *oauth.Access, userID string) bool {
	return userID != "" && strings.EqualFold(userID, a.AccountID)
}

func selfError(in SendInput) error {
	field := "recipientEmail"
	if in.RecipientID != "" {
		field = "recipientId"
	}
	return &InputError{Field: field, Message: "is your own account; choose a colleague to message"}
}
