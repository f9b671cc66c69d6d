// Package teams sends Microsoft Teams 1:1 chat messages as the recruiter:
// it resolves the recipient, finds or creates the 1:1 chat, posts the
// message once (idempotency keys, no blind resends) and searches colleagues.
package teams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	// DefaultSendTimeout bounds one send, Graph retries included.
	DefaultSendTimeout = 60 * time.Second
	// DefaultPendingWait bounds how long a repeated idempotency key waits for
	// the request that is still sending it.
	DefaultPendingWait = 20 * time.Second
	// DefaultMarkUsedInterval is how often, at most, a connection's last use
	// is written.
	DefaultMarkUsedInterval = time.Minute

	// minIdempotencyTTL is the shortest IdempotencyTTL New accepts: a client
	// may repeat a request for a day.
	minIdempotencyTTL = 24 * time.Hour
	// recordTimeout bounds writing the outcome of a send.
	recordTimeout    = 10 * time.Second
	maxSearchResults = 50
)

// Tokens hands out access tokens; *oauth.Service implements it.
type Tokens interface {
	Access(ctx context.Context, recruiterID string) (*oauth.Access, error)
	AccessWith(ctx context.Context, recruiterID string, comp *vault.Companion) (*oauth.Access, error)
	ForceRefresh(ctx context.Context, a *oauth.Access) (*oauth.Access, error)
	ExpireConnection(ctx context.Context, a *oauth.Access, reason vault.ExpiredReason) error
	MarkUsed(ctx context.Context, a *oauth.Access) error
}

var _ Tokens = (*oauth.Service)(nil)

// Config holds the service's dependencies and limits. Zero limits take the
// defaults above.
type Config struct {
	Graph  *msgraph.Client
	Tokens Tokens
	DB     *db.DB
	// OutcomeDB, when set, writes the outcome of idempotent sends. Package
	// main sets it on PostgreSQL to a pool with synchronous_commit off: a
	// database crash can lose such a write, which leaves the record pending
	// and reads as "outcome unknown" later, never as a reason to resend.
	// The claim before the Graph POST always goes through DB.
	OutcomeDB *db.DB
	Now       func() time.Time

	RecipientCacheTTL time.Duration
	// IdempotencyTTL is the time during which repeats of an idempotency key
	// return the first send's outcome, at least 24 hours. PurgeExpired
	// deletes older records.
	IdempotencyTTL time.Duration
	// RateLimit is the sustained messages per second per recruiter, RateBurst
	// the burst. The limit is kept in each process's memory.
	RateLimit float64
	RateBurst int
	// SendTimeout bounds one send from the first database read to Graph's
	// response. Writing the outcome then gets up to 10 s more. A cancelled
	// caller does not cut a send short.
	SendTimeout time.Duration
	// PendingWait bounds how long a request waits for another request that
	// holds the same idempotency key.
	PendingWait time.Duration
	// PendingTimeout is the age after which a send still recorded as pending
	// counts as lost by a crashed process and reports an unknown outcome.
	// It must exceed SendTimeout; zero means SendTimeout plus one minute.
	PendingTimeout time.Duration
	// MarkUsedInterval is the minimum time between two writes of a
	// connection's last use by this process.
	MarkUsedInterval time.Duration
	// OnError, when set, receives the errors the service handles without
	// returning them: a failed outcome record or last-use write. op names the
	// step. It must not block.
	OnError func(op string, err error)
}

// Service is the messaging service. It is safe for concurrent use.
type Service struct {
	cfg      Config
	store    *store
	limiters *limiters
	used     *usedMarks
}

// New validates cfg, fills in the defaults and returns a messaging service.
func New(cfg Config) (*Service, error) {
	if cfg.Graph == nil || cfg.Tokens == nil || cfg.DB == nil {
		return nil, errors.New("teams: Graph, Tokens and DB are required")
	}
	fillDefaults(&cfg)
	switch {
	case cfg.IdempotencyTTL < minIdempotencyTTL:
		return nil, fmt.Errorf("teams: IdempotencyTTL %s is shorter than %s", cfg.IdempotencyTTL, minIdempotencyTTL)
	case cfg.PendingTimeout <= cfg.SendTimeout:
		return nil, fmt.Errorf("teams: PendingTimeout %s must exceed SendTimeout %s", cfg.PendingTimeout, cfg.SendTimeout)
	case cfg.RateLimit < 0 || cfg.RateBurst < 0:
		return nil, errors.New("teams: RateLimit and RateBurst must not be negative")
	}
	return &Service{
		cfg:      cfg,
		store:    newStore(cfg.DB, cfg.OutcomeDB, cfg.Now),
		limiters: newLimiters(cfg.RateLimit, cfg.RateBurst),
		used:     newUsedMarks(cfg.MarkUsedInterval),
	}, nil
}

func fillDefaults(cfg *Config) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	defaultDuration(&cfg.RecipientCacheTTL, DefaultRecipientCacheTTL)
	defaultDuration(&cfg.IdempotencyTTL, DefaultIdempotencyTTL)
	defaultDuration(&cfg.SendTimeout, DefaultSendTimeout)
	defaultDuration(&cfg.PendingWait, DefaultPendingWait)
	defaultDuration(&cfg.PendingTimeout, cfg.SendTimeout+time.Minute)
	defaultDuration(&cfg.MarkUsedInterval, DefaultMarkUsedInterval)
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = DefaultRateBurst
	}
}

func defaultDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// PurgeExpired deletes idempotency records older than IdempotencyTTL and
// expired recipient cache entries, and returns how many rows it deleted.
// Call it periodically, from any one replica or from all of them.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	sent, err := s.store.deleteSentBefore(ctx, now.Add(-s.cfg.IdempotencyTTL))
	if err != nil {
		return 0, err
	}
	recipients, err := s.store.deleteRecipientsExpired(ctx, now)
	return sent + recipients, err
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
	var self string
	err := s.withAccess(ctx, r.ID, oauth.ScopeUserReadBasicAll, func(a *oauth.Access) error {
		var err error
		self = a.AccountID
		users, err = s.cfg.Graph.SearchUsers(ctx, a.Token, query, first+1)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Colleague, 0, min(len(users), first))
	for i := range users {
		if len(out) < first && !strings.EqualFold(users[i].ID, self) {
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
	if msgraph.IsClaimsChallenge(err) {
		if xerr := s.cfg.Tokens.ExpireConnection(ctx, a, vault.ReasonAccessRevoked); xerr != nil {
			return a, errors.Join(err, xerr)
		}
		return a, &oauth.ExpiredError{Reason: vault.ReasonAccessRevoked}
	}
	if msgraph.IsUnauthorized(err) {
		// A token refreshed a moment ago was rejected too. That is not proof
		// the grant is dead, so the connection is kept and the request fails.
		return a, errors.Join(ErrUpstreamUnavailable, err)
	}
	return a, mapGraphError(err)
}

// mapGraphError turns Graph failures other than authentication into the
// service's errors; the original stays in the chain for the log. An unknown
// message outcome is checked first, because msgraph's OutcomeUnknownError
// also unwraps to the *msgraph.Error of a 5xx.
func mapGraphError(err error) error {
	var ge *msgraph.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, msgraph.ErrOutcomeUnknown):
		return errors.Join(ErrOutcomeUnknown, err)
	case msgraph.IsThrottled(err) && errors.As(err, &ge):
		return errors.Join(&RateLimitedError{RetryAfter: ge.RetryAfter, ByMicrosoft: true}, err)
	case msgraph.IsForbidden(err) && errors.As(err, &ge):
		return errors.Join(&BlockedError{RequestID: ge.RequestID}, err)
	case errors.As(err, &ge) && ge.Status >= 500:
		return errors.Join(ErrUpstreamUnavailable, err)
	case isTimeout(err):
		return errors.Join(ErrUpstreamUnavailable, err)
	}
	return err
}

// isTimeout reports a Graph call cut by its deadline: Microsoft did not
// respond in time.
func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded)
}

// reportError passes an error the service does not return to OnError.
func (s *Service) reportError(op string, err error) {
	if err != nil && s.cfg.OnError != nil {
		s.cfg.OnError(op, err)
	}
}
