package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	// jwksFetchTimeout bounds one JWKS request, also when the caller's
	// context has no deadline.
	jwksFetchTimeout = 10 * time.Second

	// jwksRefreshInterval is how often the key set is fetched in the
	// background, so removed keys stop verifying.
	jwksRefreshInterval = time.Hour

	// unknownKIDRefetchInterval is the minimum time between two fetches
	// triggered by a token whose kid is not cached. The first such token
	// triggers a fetch at once, so a rotated key is picked up on first use,
	// while tokens with made-up key ids cost the issuer one request a minute.
	unknownKIDRefetchInterval = time.Minute

	// maxJWKSBytes bounds the JWKS response body read into memory.
	maxJWKSBytes = 1 << 20
)

var (
	// errUnknownKeyID marks a kid found neither in the cache nor, when the
	// rate limit allowed a refetch, in a freshly fetched key set.
	errUnknownKeyID = errors.New("identity: unknown key id")

	// errNoKey marks a key lookup that failed for another reason, such as a
	// JWK whose alg or use does not fit the token.
	errNoKey = errors.New("identity: no usable verification key")
)

// jwksKeys provides verification keys from a JWKS URL: cached, refreshed
// every jwksRefreshInterval, and refetched on an unknown kid at most once per
// unknownKIDRefetchInterval.
type jwksKeys struct {
	keyfunc keyfunc.Keyfunc
	close   context.CancelFunc
}

// newJWKSKeys fetches the key set at rawURL once and starts the refresh
// goroutine, which runs until ctx ends or close is called.
func newJWKSKeys(ctx context.Context, rawURL string, client *http.Client) (*jwksKeys, error) {
	if err := validateJWKSURL(rawURL); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	cache, err := jwkset.NewStorageFromHTTP(rawURL, jwkset.HTTPClientStorageOptions{
		Client:          limitBody(client),
		Ctx:             ctx,
		HTTPTimeout:     jwksFetchTimeout,
		RefreshInterval: jwksRefreshInterval,
	})
	if err != nil {
		cancel() // The refresh goroutine starts before the first fetch.
		return nil, fmt.Errorf("identity: fetch JWKS: %w", err)
	}

	storage, err := newGatedStorage(rawURL, cache)
	if err != nil {
		cancel()
		return nil, err
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:          ctx,
		Storage:      storage,
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("identity: create JWKS keyfunc: %w", err)
	}
	return &jwksKeys{keyfunc: kf, close: cancel}, nil
}

// keyFunc returns a jwt.Keyfunc that looks keys up with ctx, so a refetch
// triggered by this token ends with the request.
func (k *jwksKeys) keyFunc(ctx context.Context) jwt.Keyfunc {
	lookup := k.keyfunc.KeyfuncCtx(ctx)
	return func(token *jwt.Token) (any, error) {
		key, err := lookup(token)
		switch {
		case errors.Is(err, jwkset.ErrKeyNotFound):
			return nil, fmt.Errorf("%w: %w", errUnknownKeyID, err)
		case err != nil && ctx.Err() != nil:
			return nil, err
		case err != nil:
			return nil, fmt.Errorf("%w: %w", errNoKey, err)
		}

		// A token without kid is checked against every cached key of the
		// token's alg, and there may be none.
		if set, ok := key.(jwt.VerificationKeySet); ok && len(set.Keys) == 0 {
			return nil, errNoKey
		}
		return key, nil
	}
}

// gatedStorage reads keys from the cache and, on a cache miss, refetches the
// key set only when limiter allows it. Without the gate, jwkset would make
// each lookup wait for its rate limiter, holding requests open.
type gatedStorage struct {
	jwkset.Storage // refetches on every unknown kid
	cache          jwkset.Storage
	limiter        *rate.Limiter
}

func newGatedStorage(rawURL string, cache jwkset.Storage) (gatedStorage, error) {
	refetching, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{rawURL: cache},
		RateLimitWaitMax:  jwksFetchTimeout, // also bounds the refetch itself
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		return gatedStorage{}, fmt.Errorf("identity: create JWKS client: %w", err)
	}
	return gatedStorage{
		Storage: refetching,
		cache:   cache,
		limiter: rate.NewLimiter(rate.Every(unknownKIDRefetchInterval), 1),
	}, nil
}

// KeyRead returns the key with keyID from the cache, refetching the key set
// first when keyID is unknown and the rate limit allows it.
func (g gatedStorage) KeyRead(ctx context.Context, keyID string) (jwkset.JWK, error) {
	jwk, err := g.cache.KeyRead(ctx, keyID)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return jwk, err
	}
	if err := ctx.Err(); err != nil {
		return jwkset.JWK{}, err // keep the refetch budget for live requests
	}
	if !g.limiter.Allow() {
		return jwkset.JWK{}, fmt.Errorf("%w: refetch rate limited", jwkset.ErrKeyNotFound)
	}
	return g.Storage.KeyRead(ctx, keyID)
}

// validateJWKSURL accepts absolute http and https URLs only.
func validateJWKSURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("identity: config: JWKSURL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("identity: config: JWKSURL %q is not an absolute http or https URL", rawURL)
	}
	return nil
}

// limitBody returns a copy of client, or of a client with a jwksFetchTimeout
// timeout when client is nil, whose response bodies end after maxJWKSBytes.
// jwkset decodes the whole body, and the limit keeps a broken or hostile
// endpoint from filling memory.
func limitBody(client *http.Client) *http.Client {
	limited := http.Client{Timeout: jwksFetchTimeout}
	if client != nil {
		limited = *client
	}
	base := limited.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	limited.Transport = bodyLimiter{base: base}
	return &limited
}

// bodyLimiter is an http.RoundTripper that truncates response bodies to
// maxJWKSBytes, which makes an oversized key set fail to decode.
type bodyLimiter struct {
	base http.RoundTripper
}

func (b bodyLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, maxJWKSBytes), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
