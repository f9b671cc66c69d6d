package msemulator

import (
	"fmt"
	"slices"
	"strings"
)

// graphResource is the resource URI prefix of Microsoft Graph scopes.
const graphResource = "https://graph.microsoft.com/"

// permission is a delegated permission the emulator accepts, with the
// description the consent page shows.
type permission struct {
	name        string
	description string
	adminOnly   bool // needs admin consent even where user consent is allowed
}

// permissions lists the OpenID Connect scopes and the Graph delegated
// permissions the emulator accepts. Descriptions follow the consent texts of
// the Microsoft Graph permissions reference.
var permissions = []permission{
	{"openid", "Sign you in", false},
	{"profile", "View your basic profile", false},
	{"email", "View your email address", false},
	{"offline_access", "Maintain access to data you have given it access to", false},
	{"User.Read", "Sign you in and read your profile", false},
	{"User.ReadBasic.All", "Read all users' basic profiles", false},
	{"User.Read.All", "Read all users' full profiles", true},
	{"ChatMessage.Send", "Send chat messages", false},
	{"Chat.Create", "Create chats", false},
	{"Chat.Read", "Read your chat messages", false},
	{"Chat.ReadWrite", "Read and write your chat messages", false},
	{"Mail.Read", "Read your mail", false},
	{"Directory.Read.All", "Read directory data", true},
}

func findPermission(name string) (permission, bool) {
	for _, p := range permissions {
		if strings.EqualFold(p.name, name) {
			return p, true
		}
	}
	return permission{}, false
}

// isOIDCScope reports whether s is one of the OpenID Connect scopes, which are
// not Graph permissions.
func isOIDCScope(s string) bool {
	switch s {
	case "openid", "profile", "email", "offline_access":
		return true
	}
	return false
}

// parseScopes splits a space separated scope parameter into canonical short
// names, in request order without duplicates. Graph scopes may be short names
// or full https://graph.microsoft.com/ URIs; .default stands for defaults.
func parseScopes(raw string, defaults []string) ([]string, error) {
	var out []string
	for _, field := range strings.Fields(raw) {
		name := field
		if len(name) > len(graphResource) && strings.EqualFold(name[:len(graphResource)], graphResource) {
			name = name[len(graphResource):]
		}
		if name == ".default" {
			out = appendUnique(out, defaults...)
			continue
		}
		p, ok := findPermission(name)
		if !ok {
			return nil, fmt.Errorf("scope %q is not a known permission", field)
		}
		out = appendUnique(out, p.name)
	}
	return out, nil
}

func appendUnique(list []string, items ...string) []string {
	for _, s := range items {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// graphScopes returns the Graph permissions among scopes.
func graphScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if !isOIDCScope(s) {
			out = append(out, s)
		}
	}
	return out
}

// formatScopes renders scopes for a token response: Graph scopes first, as
// full URIs unless format is "short", then the OpenID scopes.
func formatScopes(scopes []string, format string) string {
	var parts []string
	for _, s := range graphScopes(scopes) {
		if format != "short" {
			s = graphResource + s
		}
		parts = append(parts, s)
	}
	for _, s := range scopes {
		if isOIDCScope(s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// hasAny reports whether granted contains one of the accepted scopes.
func hasAny(granted []string, accepted ...string) bool {
	for _, w := range accepted {
		if slices.Contains(granted, w) {
			return true
		}
	}
	return false
}

// isSubset reports whether every element of sub is in set.
func isSubset(sub, set []string) bool {
	for _, s := range sub {
		if !slices.Contains(set, s) {
			return false
		}
	}
	return true
}
