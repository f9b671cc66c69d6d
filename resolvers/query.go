package resolvers

import (
	"context"

	"github.com/wintro/teams-messaging/graph"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/teams"
	"github.com/wintro/teams-messaging/vault"
)

// TeamsIntegration returns the caller's integration.
func (r *queryResolver) TeamsIntegration(ctx context.Context) (*graph.TeamsIntegration, error) {
	rec, err := recruiter(ctx)
	if err != nil {
		return nil, err
	}
	in, err := r.OAuth.Integration(ctx, rec)
	if err != nil {
		return nil, err
	}
	return integrationOf(in), nil
}

// SearchColleagues searches the connected account's organization.
func (r *queryResolver) SearchColleagues(ctx context.Context, query string, first *int) ([]graph.Colleague, error) {
	rec, err := recruiter(ctx)
	if err != nil {
		return nil, err
	}
	n := 10
	if first != nil {
		n = *first
	}
	found, err := r.Teams.SearchColleagues(ctx, rec, query, n)
	if err != nil {
		return nil, err
	}
	out := make([]graph.Colleague, len(found))
	for i, c := range found {
		out[i] = colleagueOf(c)
	}
	return out, nil
}

func colleagueOf(c teams.Colleague) graph.Colleague {
	out := graph.Colleague{ID: c.ID, DisplayName: c.DisplayName, UserPrincipalName: c.UserPrincipalName}
	if c.Mail != "" {
		out.Email = &c.Mail
	}
	return out
}

func integrationOf(in *oauth.Integration) *graph.TeamsIntegration {
	out := &graph.TeamsIntegration{
		Status:        graph.TeamsIntegrationStatus(in.Status),
		ApplicationID: in.ApplicationID,
		GrantedScopes: []string{},
		MissingScopes: []string{},
		NotAccessed:   oauth.NotAccessed,
	}
	if in.AdminConsentURL != "" {
		out.AdminConsentURL = &in.AdminConsentURL
	}
	if c := in.Connection; c != nil {
		fillConnection(out, c)
	}
	if in.MissingScopes != nil {
		out.MissingScopes = in.MissingScopes
	}
	for _, p := range oauth.Permissions {
		granted := false
		for _, s := range out.GrantedScopes {
			granted = granted || s == p.Scope
		}
		out.RequiredPermissions = append(out.RequiredPermissions, graph.TeamsPermission{Scope: p.Scope, Name: p.Name, Reason: p.Reason, Granted: granted})
	}
	return out
}

func fillConnection(out *graph.TeamsIntegration, c *vault.Connection) {
	if c.Status == vault.StatusConnected || c.Status == vault.StatusExpired {
		if c.AccountID != "" {
			out.Account = &graph.MicrosoftAccount{ID: c.AccountID, Email: c.Email, DisplayName: c.DisplayName, TenantID: c.TenantID}
		}
	}
	if c.Status == vault.StatusConnected && c.GrantedScopes != nil {
		out.GrantedScopes = c.GrantedScopes
	}
	out.ConnectedAt, out.LastUsedAt, out.LastRefreshedAt = c.ConnectedAt, c.LastUsedAt, c.LastRefreshedAt
	if c.Status == vault.StatusExpired {
		reason := graph.ExpiredReason(c.ExpiredReason)
		if !reason.IsValid() {
			reason = graph.ExpiredReasonUnknown
		}
		msg := oauth.ExpiredMessage(vault.ExpiredReason(reason))
		out.ExpiredReason, out.ExpiredMessage = &reason, &msg
	}
	if c.LastConnectErrorCode != "" {
		out.LastConnectError = &graph.ConnectError{Code: c.LastConnectErrorCode, Message: c.LastConnectErrorMessage}
	}
}
