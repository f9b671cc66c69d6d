package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/msemulator"
)

const integrationQuery = `{ teamsIntegration { status account { id email displayName tenantId } grantedScopes missingScopes applicationId
	requiredPermissions { scope name reason granted } } }`

type integrationData struct {
	TeamsIntegration struct {
		Status  string
		Account *struct {
			ID, Email, DisplayName, TenantID string
		}
		GrantedScopes       []string
		MissingScopes       []string
		ApplicationID       string
		RequiredPermissions []struct {
			Scope, Name, Reason string
			Granted             bool
		}
	}
}

func TestMainFlowEndToEnd(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		s := startStack(t, dbURL)
		tok := s.token("recruiter-1", msemulator.DemoRecruiterUPN)

		// Not connected yet.
		var in integrationData
		s.graphql(tok, integrationQuery, nil, &in)
		if got := in.TeamsIntegration.Status; got != "DISCONNECTED" {
			t.Fatalf("status before connect = %q, want DISCONNECTED", got)
		}
		if got := len(in.TeamsIntegration.RequiredPermissions); got != 5 {
			t.Errorf("requiredPermissions has %d entries, want 5", got)
		}

		// Connect through the consent page and the callback.
		back := s.connect(tok, msemulator.DemoRecruiterUPN)
		if back.Query().Get("teams") != "connected" || back.Host != "app.wintro.test" || back.Path != "/settings/communication" {
			t.Fatalf("callback redirect = %s, want http://app.wintro.test/settings/communication?teams=connected", back)
		}
		s.graphql(tok, integrationQuery, nil, &in)
		ti := in.TeamsIntegration
		if ti.Status != "CONNECTED" || ti.Account == nil || ti.Account.Email != msemulator.DemoRecruiterUPN {
			t.Fatalf("integration after connect = %+v, want CONNECTED as %s", ti, msemulator.DemoRecruiterUPN)
		}
		if ti.Account.ID != msemulator.DemoRecruiterID || ti.Account.TenantID != msemulator.DemoTenantID {
			t.Errorf("account = %+v, want id %s in tenant %s", ti.Account, msemulator.DemoRecruiterID, msemulator.DemoTenantID)
		}
		if len(ti.MissingScopes) != 0 {
			t.Errorf("missingScopes = %v, want none", ti.MissingScopes)
		}
		if ti.ApplicationID != msemulator.DevClientID {
			t.Errorf("applicationId = %q, want %q", ti.ApplicationID, msemulator.DevClientID)
		}

		// Search a seeded colleague.
		var found struct {
			SearchColleagues []struct{ ID, DisplayName, UserPrincipalName string }
		}
		if r := s.graphql(tok, `{ searchColleagues(query: "ada") { id displayName email userPrincipalName } }`, nil, &found); len(r.Errors) > 0 {
			t.Fatalf("searchColleagues: %+v", r.Errors)
		}
		if len(found.SearchColleagues) == 0 || found.SearchColleagues[0].ID != msemulator.DemoAdaID {
			t.Fatalf("searchColleagues(ada) = %+v, want %s first", found.SearchColleagues, msemulator.DemoAdaID)
		}

		// Send by email to the colleague whose mail differs from the UPN.
		send := `mutation($to: String!, $text: String!) { sendTeamsMessage(input: {recipientEmail: $to, content: $text}) {
			message { id chatId createdAt } recipient { id displayName email userPrincipalName } deduplicated } }`
		var sent struct {
			SendTeamsMessage struct {
				Message   struct{ ID, ChatID string }
				Recipient struct{ ID, UserPrincipalName string }
			}
		}
		if r := s.graphql(tok, send, map[string]any{"to": msemulator.DemoAdaMail, "text": "Hello Ada"}, &sent); len(r.Errors) > 0 {
			t.Fatalf("sendTeamsMessage: %+v", r.Errors)
		}
		if sent.SendTeamsMessage.Recipient.ID != msemulator.DemoAdaID {
			t.Fatalf("recipient = %+v, want %s", sent.SendTeamsMessage.Recipient, msemulator.DemoAdaID)
		}
		var msgs []msemulator.Message
		s.admin("messages", &msgs)
		if len(msgs) != 1 {
			t.Fatalf("emulator holds %d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if m.Content != "Hello Ada" || m.SenderID != msemulator.DemoRecruiterID || m.ChatID != sent.SendTeamsMessage.Message.ChatID {
			t.Errorf("message = %+v, want Hello Ada from %s in chat %s", m, msemulator.DemoRecruiterID, sent.SendTeamsMessage.Message.ChatID)
		}
		if len(m.MemberIDs) != 2 || !containsAll(m.MemberIDs, msemulator.DemoRecruiterID, msemulator.DemoAdaID) {
			t.Errorf("chat members = %v, want exactly the recruiter and Ada", m.MemberIDs)
		}

		// A second message to the same colleague costs exactly one Graph request.
		before := graphRequestCount(s)
		if r := s.graphql(tok, send, map[string]any{"to": msemulator.DemoAdaMail, "text": "Second"}, nil); len(r.Errors) > 0 {
			t.Fatalf("second sendTeamsMessage: %+v", r.Errors)
		}
		if got := graphRequestCount(s) - before; got != 1 {
			t.Errorf("Graph requests for a second message = %d, want 1", got)
		}

		// No token is stored in plaintext.
		assertNoTokenInDatabase(t, s)

		// Disconnect removes every token row.
		var dis struct {
			DisconnectTeams struct{ Integration struct{ Status string } }
		}
		if r := s.graphql(tok, `mutation { disconnectTeams { integration { status } } }`, nil, &dis); len(r.Errors) > 0 {
			t.Fatalf("disconnectTeams: %+v", r.Errors)
		}
		if got := dis.DisconnectTeams.Integration.Status; got != "DISCONNECTED" {
			t.Errorf("status after disconnect = %q, want DISCONNECTED", got)
		}
		if n := countRows(t, s, `SELECT COUNT(*) FROM connections WHERE recruiter_id = 'recruiter-1'`); n != 0 {
			t.Errorf("connections rows after disconnect = %d, want 0", n)
		}
		if n := countRows(t, s, `SELECT COUNT(*) FROM connections WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL`); n != 0 {
			t.Errorf("rows with tokens after disconnect = %d, want 0", n)
		}
		if r := s.graphql(tok, send, map[string]any{"to": msemulator.DemoAdaMail, "text": "Third"}, nil); r.code() != "NOT_CONNECTED" {
			t.Errorf("send after disconnect: code %q, want NOT_CONNECTED", r.code())
		}
	})
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

// graphRequestCount sums the emulator's Graph request counts.
func graphRequestCount(s *stack) int {
	var counts map[string]int
	s.admin("requests", &counts)
	n := 0
	for k, v := range counts {
		if strings.Contains(k, "/v1.0/") {
			n += v
		}
	}
	return n
}

// tokenEndpointCount counts calls to the emulator's token endpoint.
func tokenEndpointCount(s *stack) int {
	var counts map[string]int
	s.admin("requests", &counts)
	n := 0
	for k, v := range counts {
		if strings.Contains(k, "/oauth2/v2.0/token") {
			n += v
		}
	}
	return n
}

func countRows(t *testing.T, s *stack, query string) int {
	t.Helper()
	var n int
	if err := s.app.db.GetContext(context.Background(), &n, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// assertNoTokenInDatabase searches every text and binary column of every
// table for the tokens the emulator issued.
func assertNoTokenInDatabase(t *testing.T, s *stack) {
	t.Helper()
	var issued []struct{ Token string }
	s.admin("tokens", &issued)
	if len(issued) == 0 {
		t.Fatal("emulator issued no tokens; the check would prove nothing")
	}
	dump := dumpDatabase(t, s.app.db)
	for _, it := range issued {
		if strings.Contains(dump, it.Token) {
			t.Errorf("database holds an issued token in plaintext (%.6s…)", it.Token)
		}
	}
}

// dumpDatabase returns every row of every table as text.
func dumpDatabase(t *testing.T, d *db.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"connections", "connect_requests", "chat_cache", "recipient_cache", "sent_messages", "tenant_approvals"} {
		rows, err := d.QueryxContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					b.Write(x)
				case string:
					b.WriteString(x)
				}
				b.WriteByte('\n')
			}
		}
		rows.Close()
	}
	return b.String()
}

var _ = http.StatusOK
