package oauth

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalizeScopes(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"short names", "User.Read ChatMessage.Send offline_access openid", []string{"ChatMessage.Send", "User.Read", "offline_access", "openid"}},
		{"full uris", "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Chat.ReadWrite profile", []string{"Chat.ReadWrite", "User.Read", "profile"}},
		{"mixed forms", "https://graph.microsoft.com/User.Read User.Read user.read", []string{"User.Read"}},
		{"prefix case", "HTTPS://GRAPH.MICROSOFT.COM/user.readbasic.all", []string{"User.ReadBasic.All"}},
		{"extra whitespace", "  User.Read\tChat.ReadWrite  ", []string{"Chat.ReadWrite", "User.Read"}},
		{"unknown scope kept", "https://graph.microsoft.com/Mail.Read", []string{"Mail.Read"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeScopes(tt.raw); !slices.Equal(got, tt.want) {
				t.Errorf("NormalizeScopes(%q) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestMissingScopes(t *testing.T) {
	all := RequiredScopes()
	tests := []struct {
		name    string
		granted []string
		want    []string
	}{
		{"all granted", all, nil},
		{"all granted with oidc", append(slices.Clone(all), "openid", "profile", "email"), nil},
		{"no send", NormalizeScopes("User.Read User.ReadBasic.All Chat.ReadWrite offline_access"), []string{ScopeChatMessageSend}},
		{"nothing", nil, all},
		{"order of permissions", []string{ScopeUserRead}, []string{ScopeUserReadBasicAll, ScopeChatMessageSend, ScopeChatReadWrite, ScopeOfflineAccess}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MissingScopes(tt.granted); !slices.Equal(got, tt.want) {
				t.Errorf("MissingScopes(%v) = %v, want %v", tt.granted, got, tt.want)
			}
		})
	}
}

// TestRequiredScopesExact pins least privilege: exactly five delegated
// permissions, each described, and nothing that reads mail, files or chats
// beyond what sending needs.
func TestRequiredScopesExact(t *testing.T) {
	want := []string{"User.Read", "User.ReadBasic.All", "ChatMessage.Send", "Chat.ReadWrite", "offline_access"}
	if got := RequiredScopes(); !slices.Equal(got, want) {
		t.Fatalf("RequiredScopes() = %v, want %v", got, want)
	}
	if got, wantReq := requestedScopes(), append(slices.Clone(want), "openid", "profile", "email"); !slices.Equal(got, wantReq) {
		t.Errorf("requestedScopes() = %v, want %v", got, wantReq)
	}
	for _, p := range Permissions {
		if p.Name == "" || p.Reason == "" {
			t.Errorf("Permissions[%s] = %+v, want a name and a reason", p.Scope, p)
		}
	}
	if len(NotAccessed) != 5 {
		t.Errorf("NotAccessed has %d entries, want 5 (messages, mail, calendar, files, profile changes)", len(NotAccessed))
	}
	for i, topic := range []string{"messages", "mail", "calendar", "files", "profile"} {
		if !strings.Contains(strings.ToLower(NotAccessed[i]), topic) {
			t.Errorf("NotAccessed[%d] = %q, want it to name %s", i, NotAccessed[i], topic)
		}
	}
}

func TestPermissionFor(t *testing.T) {
	p, ok := PermissionFor(ScopeChatMessageSend)
	if !ok || p.Name != "Send Teams messages" || p.Reason == "" {
		t.Errorf("PermissionFor(ChatMessage.Send) = %+v, %v, want the Send Teams messages permission", p, ok)
	}
	if _, ok := PermissionFor("Mail.Read"); ok {
		t.Error("PermissionFor(Mail.Read) found a permission, want none")
	}
}

func TestAdminConsentScopes(t *testing.T) {
	got := strings.Fields(adminConsentScopes())
	want := []string{
		"https://graph.microsoft.com/User.Read",
		"https://graph.microsoft.com/User.ReadBasic.All",
		"https://graph.microsoft.com/ChatMessage.Send",
		"https://graph.microsoft.com/Chat.ReadWrite",
		"offline_access", "openid", "profile", "email",
	}
	if !slices.Equal(got, want) {
		t.Errorf("adminConsentScopes() = %v, want %v", got, want)
	}
}
