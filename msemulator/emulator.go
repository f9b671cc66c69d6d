package msemulator

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DevClientID is the application (client) ID registered in dev mode. It is
// the application ID that Wintro publishes to IT administrators.
const DevClientID = "d70347e7-f4d1-4323-93a4-760a6a6c1d91"

// ErrInvalidConfig is returned by New when the configuration cannot
// register an application.
var ErrInvalidConfig = errors.New("msemulator: invalid config")

// Config describes the application registered in the emulator.
type Config struct {
	// ClientID is the application (client) ID. Required.
	ClientID string
	// ClientSecret is the client secret. An empty secret registers a public
	// client, and the token endpoint then skips client authentication.
	ClientSecret string
	// RedirectURIs are the registered redirect URIs, compared exactly. At
	// least one is required.
	RedirectURIs []string
	// AppName is the application name shown on consent pages; default "Wintro".
	AppName string
	// DefaultScopes are the Graph permissions configured on the registration,
	// which https://graph.microsoft.com/.default stands for. Default:
	// User.Read, User.ReadBasic.All, ChatMessage.Send and Chat.ReadWrite.
	DefaultScopes []string
	// Now is the clock; nil means time.Now. The clockOffsetSeconds setting is
	// added to it.
	Now func() time.Time
	// Seed adds the demo tenants and users of seed.go at start and on Reset.
	Seed bool
}

// Emulator emulates the Microsoft identity platform and Microsoft Graph for
// one registered application. It is safe for concurrent use.
type Emulator struct {
	cfg Config

	mu    sync.Mutex
	base  string // externally visible base URL, without trailing slash
	state *state
}

var _ http.Handler = (*Emulator)(nil)

// New returns an emulator with the application of cfg registered and, when
// cfg.Seed is set, the demo tenants seeded.
func New(cfg Config) (*Emulator, error) {
	if cfg.ClientID == "" {
		return nil, errors.Join(ErrInvalidConfig, errors.New("client id is empty"))
	}
	if len(cfg.RedirectURIs) == 0 {
		return nil, errors.Join(ErrInvalidConfig, errors.New("no redirect uri registered"))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AppName == "" {
		cfg.AppName = "Wintro"
	}
	if len(cfg.DefaultScopes) == 0 {
		cfg.DefaultScopes = []string{"User.Read", "User.ReadBasic.All", "ChatMessage.Send", "Chat.ReadWrite"}
	}
	e := &Emulator{cfg: cfg}
	e.Reset()
	return e, nil
}

// SetBaseURL sets the externally visible base URL of the emulator, such as
// "http://127.0.0.1:8080/_ms". It is used for the ID token issuer
// ({base}/{tid}/v2.0), for @odata.nextLink URLs and to accept user@odata.bind
// URLs under {base}/v1.0/. Call it before serving. Without it the emulator
// takes scheme://host of the first request it serves, which is wrong when it
// is mounted under a prefix.
func (e *Emulator) SetBaseURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.base = strings.TrimRight(u, "/")
}

// Reset discards every tenant, user, grant, token, chat, message, fault,
// setting and request count, then seeds the demo tenants again when
// Config.Seed is set.
func (e *Emulator) Reset() {
	s := newState()
	if e.cfg.Seed {
		seed(s)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state = s
}

// now returns the emulator clock: Config.Now plus the clockOffsetSeconds
// setting. The caller holds e.mu.
func (e *Emulator) now() time.Time {
	offset := time.Duration(e.state.settings.ClockOffsetSeconds) * time.Second
	return e.cfg.Now().Add(offset).UTC()
}

// learnBaseURL sets the base URL from r when SetBaseURL was not called.
func (e *Emulator) learnBaseURL(r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base != "" {
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	e.base = scheme + "://" + r.Host
}

// isRedirectRegistered reports whether uri exactly matches a registered
// redirect URI.
func (e *Emulator) isRedirectRegistered(uri string) bool {
	for _, registered := range e.cfg.RedirectURIs {
		if registered == uri {
			return true
		}
	}
	return false
}
