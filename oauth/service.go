// Package oauth connects a recruiter's Microsoft 365 account: it builds the
// authorization URL (state + PKCE S256), handles Microsoft's redirect to the
// callback, exchanges the code, stores the connection through the vault and
// keeps its access token fresh.
package oauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/wintro/teams-messaging/vault"
)

// Default durations of the OAuth flow.
const (
	DefaultConnectRequestTTL = 10 * time.Minute
	// DefaultRefreshMargin is how long before expiry an access token is refreshed.
	DefaultRefreshMargin = 5 * time.Minute
	// DefaultTokenTimeout bounds one call to the token endpoint.
	DefaultTokenTimeout = 15 * time.Second
	// missingExpiresIn is the lifetime assumed when a token response carries no
	// expires_in: short, so the token is refreshed early rather than trusted forever.
	missingExpiresIn = 10 * time.Minute
)

// Config holds the app registration and the URLs of the flow.
type Config struct {
	ClientID     string
	ClientSecret string
	// Tenant is the authority's tenant segment: organizations, a GUID or a domain.
	Tenant string
	// AuthorityURL is the identity platform's base, such as
	// https://login.microsoftonline.com, or the emulator's base URL.
	AuthorityURL string
	// RedirectURL is {public URL}/oauth/callback, registered with Microsoft.
	RedirectURL string
	// AppURL is the SPA's origin; the callback sends the browser back to it.
	AppURL string

	HTTPClient        *http.Client
	Now               func() time.Time
	ConnectRequestTTL time.Duration
	RefreshMargin     time.Duration
	TokenTimeout      time.Duration
	// Logger receives the callback handler's log lines; nil discards them.
	Logger *slog.Logger
	// OnRefresh, when set, is called after each refresh that got the
	// connection's refresh lock. It must not block.
	OnRefresh func(RefreshEvent)
}

// Service runs the OAuth flow and hands out fresh access tokens. It is safe
// for concurrent use.
type Service struct {
	cfg      Config
	appURL   *url.URL
	store    *vault.Store
	keys     *vault.Keyring
	oauth    oauth2.Config
	log      *slog.Logger
	refreshs singleflight.Group
	tokens   tokenState // refresh counters
}

// New validates cfg and returns a service storing connections in store and
// sealing admin-consent state with keys.
func New(cfg Config, store *vault.Store, keys *vault.Keyring) (*Service, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	appURL, _ := url.Parse(cfg.AppURL)
	authority := strings.TrimRight(cfg.AuthorityURL, "/") + "/" + url.PathEscape(cfg.Tenant)
	s := &Service{
		cfg:    cfg,
		appURL: appURL,
		store:  store,
		keys:   keys,
		log:    cfg.Logger,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Scopes:       requestedScopes(),
			Endpoint: oauth2.Endpoint{
				AuthURL:   authority + "/oauth2/v2.0/authorize",
				TokenURL:  authority + "/oauth2/v2.0/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
	}
	return s, nil
}

// ApplicationID returns the client id that IT administrators approve.
func (s *Service) ApplicationID() string { return s.cfg.ClientID }

func (c *Config) fill() error {
	var problems []string
	if c.ClientID == "" {
		problems = append(problems, "client id is empty")
	}
	for name, raw := range map[string]string{"authority URL": c.AuthorityURL, "redirect URL": c.RedirectURL, "app URL": c.AppURL} {
		if u, err := url.Parse(raw); err != nil || u.Scheme == "" || u.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q is not an absolute URL", name, raw))
		}
	}
	if len(problems) > 0 {
		return errors.New("oauth: invalid config: " + strings.Join(problems, "; "))
	}
	if c.Tenant == "" {
		c.Tenant = "organizations"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ConnectRequestTTL == 0 {
		c.ConnectRequestTTL = DefaultConnectRequestTTL
	}
	if c.RefreshMargin == 0 {
		c.RefreshMargin = DefaultRefreshMargin
	}
	if c.TokenTimeout == 0 {
		c.TokenTimeout = DefaultTokenTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
