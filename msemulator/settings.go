package msemulator

// Settings changes how the emulator responds. The zero value of each field
// keeps Microsoft's default behaviour, except AccessTokenLifetimeSeconds,
// where zero means the default of 3600.
type Settings struct {
	// AccessTokenLifetimeSeconds is the access token lifetime sent as
	// expires_in; default 3600.
	AccessTokenLifetimeSeconds int `json:"accessTokenLifetimeSeconds"`
	// ScopeFormat is the form of Graph scopes in the token response: "uri"
	// (https://graph.microsoft.com/User.Read, the default) or "short"
	// (User.Read). OpenID scopes are always short names.
	ScopeFormat string `json:"scopeFormat"`
	// ExpiresInAsString sends expires_in and ext_expires_in as JSON strings.
	ExpiresInAsString bool `json:"expiresInAsString"`
	// BareCancel makes the admin approval redirect carry
	// error=access_denied&error_subcode=cancel without error_description.
	BareCancel bool `json:"bareCancel"`
	// AuthorizeError, when set, makes the authorize endpoint redirect every
	// valid request with exactly this error.
	AuthorizeError *AuthorizeError `json:"authorizeError"`
	// ClockOffsetSeconds moves the emulator clock forward.
	ClockOffsetSeconds int64 `json:"clockOffsetSeconds"`
	// ClaimsChallenge makes every Graph call return 401 with a claims
	// challenge (WWW-Authenticate error="insufficient_claims").
	ClaimsChallenge bool `json:"claimsChallenge"`
	// GraphLatencyMs delays every Graph response by this many milliseconds,
	// before the handler runs, to stand for the network and processing time
	// of graph.microsoft.com in load tests. Identity and admin endpoints are
	// not delayed. Zero adds no delay; a negative value is treated as zero.
	GraphLatencyMs int `json:"graphLatencyMs"`
}

// AuthorizeError is an error redirect of the authorize endpoint. Empty fields
// are left out of the redirect.
type AuthorizeError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorSubcode     string `json:"error_subcode"`
}

func defaultSettings() Settings {
	return Settings{AccessTokenLifetimeSeconds: defaultAccessTokenLifetime, ScopeFormat: "uri"}
}

const defaultAccessTokenLifetime = 3600

// SetSettings replaces every setting.
func (e *Emulator) SetSettings(s Settings) {
	if s.AccessTokenLifetimeSeconds <= 0 {
		s.AccessTokenLifetimeSeconds = defaultAccessTokenLifetime
	}
	if s.ScopeFormat == "" {
		s.ScopeFormat = "uri"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.settings = s
}

// CurrentSettings returns the settings in effect.
func (e *Emulator) CurrentSettings() Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state.settings
}
