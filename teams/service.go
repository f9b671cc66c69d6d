// Package teams sends Microsoft Teams 1:1 chat messages as the recruiter:
// it resolves the recipient, finds or creates the 1:1 chat, posts the
// message once (idempotency keys, no blind resends) and searches colleagues.
package teams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/identity"
	"github.com/wintro/teams-messaging/msgraph"
	"github.com/wintro/teams-messaging/oauth"
	"github.com/wintro/teams-messaging/vault"
)

// Defaults of Config.
const (
	DefaultRecipientCacheTTL = 24 * time.Hour
	DefaultIdempotencyTTL    = 48 * time.Hour
	// DefaultRateLimit is per recruiter, well under Teams' 20 messages per
	// second per app and tenant.
	DefaultRateLimit = 2.0
	DefaultRateBurst = 10
	maxSearchResults = 50
)

// Tokens hands out access tokens; *oauth.Service implements it.
type Tokens interface {
	Access(ctx context.Context, recruiterID string) (*oauth.Access, error)
	ForceRefresh(ctx context.Context, a *oauth.Access) (*oauth.Access, error)
	ExpireConnection(ctx context.Context, a *oauth.Access, reason vault.ExpiredReason) error
	MarkUsed(ctx context.Context, a *oauth.Access) error
}

var _ Tokens = (*oauth.Service)(nil)

// Config holds the service's dependencies and limits.
type Config struct {
	Graph  *msgraph.Client
	Tokens Tokens
	DB     *db.DB
	Now    func() time.Time

	RecipientCacheTTL time.Duration
	IdempotencyTTL    time.Duration
	// RateLimit is the sustained messages per second per recruiter, RateBurst the burst.
	RateLimit float64
	RateBurst int
}

// Service is the messaging service. It is safe for concurrent use.
type Service struct {
	cfg      Config
	store    *store
	limiters sync.Map // recruiter id → *rate.Limiter
}

// New returns a messaging service.
func New(cfg Config) (*Service, error) {
	if cfg.Graph == nil || cfg.Tokens == nil || cfg.DB == nil {
		return nil, errors.New("teams: Graph, Tokens and DB are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecipientCacheTTL == 0 {
		cfg.RecipientCacheTTL = DefaultRecipientCacheTTL
	}
	if cfg.IdempotencyTTL == 0 {
		cfg.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	return &Service{cfg: cfg, store: &store{db: cfg.DB, now: cfg.Now}}, nil
}

// Colleague is a user of the recruiter's organization.
type Colleague struct {
	ID                string
	DisplayName       string
	Mail              string // may be empty
	UserPrincipalName string
}

func colleagueOf(u *msgraph.User) Colleague {
	return Colleague{ID: u.ID, DisplayName: u.DisplayName, Mail: u.Mail, UserPrincipalName: u.UserPrincipalName}
}

// SearchColleagues returns up to first colleagues whose name or email
// starts with query, excluding the recruiter.
func (s *Service) SearchColleagues(ctx context.Context, r identity.Recruiter, query string, first int) ([]Colleague, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil, &InputError{Field: "query", Message: "is empty; type part of a name or email"}
	}
	if len(query) > 100 {
		return nil, &InputError{Field: "query", Message: "is longer than 100 characters"}
	}
	if first < 1 || first > maxSearchResults {
		return nil, &InputError{Field: "first", Message: fmt.Sprintf("must be between 1 and %d", maxSearchResults)}
	}

	var users []msgraph.User
	err := s.withAccess(ctx, r.ID, oauth.ScopeUserReadBasicAll, func(a *oauth.Access) error {
		var err error
		users, err = s.cfg.Graph.SearchUsers(ctx, a.Token, query, first+1)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Colleague, 0, len(users))
	for i := range users {
		if len(out) < first {
			out = append(out, colleagueOf(&users[i]))
		}
	}
	return out, nil
}

// withAccess runs call with a fresh access token that has scope. A 401
// InvalidAuthenticationToken forces one refresh and one retry; a claims
// challenge expires the connection.
func (s *Service) withAccess(ctx context.Context, recruiterID, scope string, call func(a *oauth.Access) error) error {
	a, err := s.cfg.Tokens.Access(ctx, recruiterID)
	if err != nil {
		return err
	}
	if err := a.RequireScope(scope); err != nil {
		return err
	}
	_, err = s.callGraph(ctx, a, call)
	return err
}

// callGraph runs call and handles an authentication failure once; it
// returns the access token last used.
func (s *Service) callGraph(ctx context.Context, a *oauth.Access, call func(a *oauth.Access) error) (*oauth.Access, error) {
	err := call(a)
	if msgraph.IsUnauthorized(err) {
		fresh, rerr := s.cfg.Tokens.ForceRefresh(ctx, a)
		if rerr != nil {
			return a, rerr
		}
		a = fresh
		err = call(a)
	}
	if msgraph.IsClaimsChallenge(err) || msgraph.IsUnauthorized(err) {
		if xerr := s.cfg.Tokens.ExpireConnection(ctx, a, vault.ReasonAccessRevoked); xerr != nil {
			return a, errors.Join(err, xerr)
		}
		return a, &oauth.ExpiredError{Reason: vault.ReasonAccessRevoked}
	}
	return a, mapGraphError(err)
}

// mapGraphError turns Graph failures other than authentication into the
// service's errors; the original stays in the chain for the log.
func mapGraphError(err error) error {
	var ge *msgraph.Error
	switch {
	case err == nil:
		return nil
	case msgraph.IsThrottled(err) && errors.As(err, &ge):
		return errors.Join(&RateLimitedError{RetryAfter: ge.RetryAfter, ByMicrosoft: true}, err)
	case errors.As(err, &ge) && ge.Status >= 500:
		return errors.Join(ErrUpstreamUnavailable, err)
	}
	return err
}

func (s *Service) limiter(recruiterID string) *rate.Limiter {
	if l, ok := s.limiters.Load(recruiterID); ok {
		return l.(*rate.Limiter)
	}
	l, _ := s.limiters.LoadOrStore(recruiterID, rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst))
	return l.(*rate.Limiter)
}
