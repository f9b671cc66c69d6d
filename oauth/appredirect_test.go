package oauth

import (
	"net/url"
	"testing"
)

func TestAppRedirectKeepsEscapes(t *testing.T) {
	for _, base := range []string{"https://app.wintro.test", "https://app.wintro.test/"} {
		appURL, _ := url.Parse(base)
		s := &Service{appURL: appURL}
		for returnTo, want := range map[string]string{
			"/settings":                 "https://app.wintro.test/settings?teams=connected",
			"/candidates/a%2Fb":         "https://app.wintro.test/candidates/a%2Fb?teams=connected",
			"/p%20q?tab=teams":          "https://app.wintro.test/p%20q?tab=teams&teams=connected",
			"/?teams=old":               "https://app.wintro.test/?teams=connected",
			"/settings/communication#x": "https://app.wintro.test/settings/communication?teams=connected",
		} {
			if got := s.appRedirect(returnTo, url.Values{"teams": {"connected"}}); got != want {
				t.Errorf("appRedirect(%q) on %s = %s, want %s", returnTo, base, got, want)
			}
		}
	}
}
