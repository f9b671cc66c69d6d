package oauth

import (
	"slices"
	"strings"
)

// graphResourcePrefix is the resource URI Microsoft may put in front of Graph
// scopes in a token response ("https://graph.microsoft.com/User.Read").
const graphResourcePrefix = "https://graph.microsoft.com/"

// Delegated Graph permissions the service needs, and nothing else.
const (
	ScopeUserRead         = "User.Read"
	ScopeUserReadBasicAll = "User.ReadBasic.All"
	ScopeChatMessageSend  = "ChatMessage.Send"
	ScopeChatReadWrite    = "Chat.ReadWrite"
	ScopeOfflineAccess    = "offline_access"
	scopeOpenID           = "openid"
	scopeProfile          = "profile"
	scopeEmail            = "email"
)

// Permission describes one required delegated permission for recruiters and IT.
type Permission struct {
	Scope  string
	Name   string
	Reason string
}

// Permissions lists the required delegated permissions in the order they are shown.
var Permissions = []Permission{
	{ScopeUserRead, "Read your profile", "Show who is connected, and confirm the sender's identity."},
	{ScopeUserReadBasicAll, "Find users by email", "Find the colleague to message; basic profile fields only (name, email)."},
	{ScopeChatMessageSend, "Send Teams messages", "Post the message in the chat, as the recruiter."},
	{ScopeChatReadWrite, "Create and manage chats", "Start the 1:1 chat before its first message."},
	{ScopeOfflineAccess, "Stay connected", "Refresh access without signing in again each time."},
}

// NotAccessed lists what the service never reads or changes.
var NotAccessed = []string{
	"Your Teams messages and chat history: Wintro only posts the messages you send from Wintro",
	"Your mail",
	"Your calendar",
	"Your files",
	"Changes to your profile",
}

// RequiredScopes returns the delegated scopes the service needs.
func RequiredScopes() []string {
	scopes := make([]string, len(Permissions))
	for i, p := range Permissions {
		scopes[i] = p.Scope
	}
	return scopes
}

// requestedScopes returns the scopes of an authorization request: the
// required ones plus the OpenID Connect scopes that yield the ID token.
func requestedScopes() []string {
	return append(RequiredScopes(), scopeOpenID, scopeProfile, scopeEmail)
}

// isOpenIDScope reports whether scope is an OpenID Connect scope rather
// than a Microsoft Graph permission.
func isOpenIDScope(scope string) bool {
	switch scope {
	case scopeOpenID, scopeProfile, scopeEmail, ScopeOfflineAccess:
		return true
	}
	return false
}

// NormalizeScopes turns a token response's space-separated scope string into
// sorted, de-duplicated short names, accepting both short names and full Graph
// resource URIs. Scopes are matched case-insensitively and written with the
// casing of the required scope when they match one.
func NormalizeScopes(raw string) []string {
	var out []string
	for _, s := range strings.Fields(raw) {
		if len(s) > len(graphResourcePrefix) && strings.EqualFold(s[:len(graphResourcePrefix)], graphResourcePrefix) {
			s = s[len(graphResourcePrefix):]
		}
		s = canonicalScope(s)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func canonicalScope(s string) string {
	for _, known := range requestedScopes() {
		if strings.EqualFold(s, known) {
			return known
		}
	}
	return s
}

// MissingScopes returns the required scopes absent from granted, in the
// order of Permissions.
func MissingScopes(granted []string) []string {
	var missing []string
	for _, p := range Permissions {
		if !slices.Contains(granted, p.Scope) {
			missing = append(missing, p.Scope)
		}
	}
	return missing
}

// PermissionFor returns the description of a required scope.
func PermissionFor(scope string) (Permission, bool) {
	for _, p := range Permissions {
		if p.Scope == scope {
			return p, true
		}
	}
	return Permission{}, false
}
