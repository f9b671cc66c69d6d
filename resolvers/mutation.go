package resolvers

import (
	"context"

	"github.com/wintro/teams-messaging/graph"
	"github.com/wintro/teams-messaging/teams"
)

// ConnectTeams starts the OAuth flow and returns Microsoft's sign-in URL.
func (r *mutationResolver) ConnectTeams(ctx context.Context, input *graph.ConnectTeamsInput) (*graph.ConnectTeamsPayload, error) {
	rec, err := recruiter(ctx)
	if err != nil {
		return nil, err
	}
	returnTo := ""
	if input != nil && input.ReturnTo != nil {
		returnTo = *input.ReturnTo
	}
	start, err := r.OAuth.StartConnect(ctx, rec, returnTo)
	if err != nil {
		return nil, err
	}
	setCookie(ctx, start.BrowserCookie)
	return &graph.ConnectTeamsPayload{AuthorizationURL: start.AuthorizationURL, ExpiresAt: start.ExpiresAt}, nil
}

// DisconnectTeams deletes the caller's connection and tokens.
func (r *mutationResolver) DisconnectTeams(ctx context.Context) (*graph.DisconnectTeamsPayload, error) {
	rec, err := recruiter(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.OAuth.Disconnect(ctx, rec.ID); err != nil {
		return nil, err
	}
	in, err := r.OAuth.Integration(ctx, rec)
	if err != nil {
		return nil, err
	}
	return &graph.DisconnectTeamsPayload{Integration: integrationOf(in)}, nil
}

// SendTeamsMessage sends a 1:1 chat message as the caller.
func (r *mutationResolver) SendTeamsMessage(ctx context.Context, input graph.SendTeamsMessageInput) (*graph.SendTeamsMessagePayload, error) {
	rec, err := recruiter(ctx)
	if err != nil {
		return nil, err
	}
	in := teams.SendInput{Content: input.Content, Format: teams.FormatText}
	if input.RecipientEmail != nil {
		in.RecipientEmail = *input.RecipientEmail
	}
	if input.RecipientID != nil {
		in.RecipientID = *input.RecipientID
	}
	if input.Format != nil {
		in.Format = teams.Format(*input.Format)
	}
	if input.IdempotencyKey != nil {
		in.IdempotencyKey = *input.IdempotencyKey
	}

	res, err := r.Teams.Send(ctx, rec, in)
	if r.OnSend != nil {
		r.OnSend(res, err)
	}
	if err != nil {
		return nil, err
	}
	msg := &graph.TeamsMessage{ID: res.MessageID, ChatID: res.ChatID, CreatedAt: res.CreatedAt}
	if res.WebURL != "" {
		msg.WebURL = &res.WebURL
	}
	recipient := colleagueOf(res.Recipient)
	return &graph.SendTeamsMessagePayload{Message: msg, Recipient: &recipient, Deduplicated: res.Deduplicated}, nil
}
