// Package auth checks API keys on every RPC and carries the caller's
// principal in the request context.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/server/internal/domain"
)

// KeyPrefix starts every key Baton issues, so leaked keys are easy to find
// with secret scanners.
const KeyPrefix = "bk_"

// NewKey returns a new API key: "bk_" and 32 random bytes in base64url.
func NewKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Authenticator resolves a presented key to a principal.
type Authenticator interface {
	// Authenticate returns domain.ErrUnauthenticated for an unknown or
	// revoked key.
	Authenticate(ctx context.Context, key string) (domain.Principal, error)
	// TouchAPIKey records that the key was used.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p domain.Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the caller. ok is false outside an authenticated RPC.
func FromContext(ctx context.Context) (p domain.Principal, ok bool) {
	p, ok = ctx.Value(ctxKey{}).(domain.Principal)
	return p, ok
}

// BearerKey extracts the key from an Authorization header value.
func BearerKey(header string) (string, error) {
	if header == "" {
		return "", errors.New(`missing API key: send "Authorization: Bearer <key>"`)
	}
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", errors.New(`malformed Authorization header: want "Bearer <key>"`)
	}
	key = strings.TrimSpace(key)
	if len(key) > 256 {
		return "", errors.New("API key too long")
	}
	return key, nil
}

// Interceptor authenticates every RPC it wraps. Mount it only on Baton's
// services: health and reflection stay open.
type Interceptor struct {
	auth Authenticator
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time
	cache   map[string]cachedKey
	// gen counts Forget calls: a key read from the database before the
	// last Forget is not cached, since it may be the revoked one.
	gen uint64
}

// cacheTTL is how long a checked key is trusted without asking the
// database again: the backstop. A revocation applies at once in the
// process that revoked it and, by the announcement every node listens for,
// within milliseconds in the others (Forget).
const cacheTTL = 10 * time.Second

type cachedKey struct {
	p       domain.Principal
	expires time.Time
}

// Forget drops every cached key, so a revocation applies at once.
func (i *Interceptor) Forget() {
	i.mu.Lock()
	i.cache = map[string]cachedKey{}
	i.gen++
	i.mu.Unlock()
}

// NewInterceptor returns an interceptor using a.
func NewInterceptor(a Authenticator, log *slog.Logger) *Interceptor {
	return &Interceptor{auth: a, log: log, now: time.Now, touched: map[string]time.Time{}, cache: map[string]cachedKey{}}
}

// WithClock makes now the interceptor's time (its cache and last-used
// stamps); nil keeps time.Now. It returns i.
func (i *Interceptor) WithClock(now func() time.Time) *Interceptor {
	if now != nil {
		i.now = now
	}
	return i
}

func (i *Interceptor) authenticate(ctx context.Context, header string) (context.Context, error) {
	key, err := BearerKey(header)
	if err != nil {
		return ctx, connect.NewError(connect.CodeUnauthenticated, err)
	}
	now := i.now()
	i.mu.Lock()
	c, ok := i.cache[key]
	gen := i.gen
	i.mu.Unlock()
	if ok && now.Before(c.expires) {
		i.touch(ctx, c.p.KeyID)
		return WithPrincipal(ctx, c.p), nil
	}
	p, err := i.auth.Authenticate(ctx, key)
	switch {
	case errors.Is(err, domain.ErrUnauthenticated):
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("unknown or revoked API key"))
	case errors.Is(err, domain.ErrUnavailable):
		i.log.WarnContext(ctx, "cannot check API key: database unavailable", "error", err)
		return ctx, connect.NewError(connect.CodeUnavailable, errors.New("temporarily unavailable, retry shortly"))
	case err != nil:
		i.log.ErrorContext(ctx, "cannot check API key", "error", err)
		return ctx, connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	i.mu.Lock()
	if len(i.cache) > 10_000 {
		i.cache = map[string]cachedKey{}
	}
	if i.gen == gen { // else forgotten while it was read: maybe stale
		i.cache[key] = cachedKey{p: p, expires: now.Add(cacheTTL)}
	}
	i.mu.Unlock()
	i.touch(ctx, p.KeyID)
	return WithPrincipal(ctx, p), nil
}

// touch records key use at most once a minute per key.
func (i *Interceptor) touch(ctx context.Context, id string) {
	now := i.now()
	i.mu.Lock()
	last, seen := i.touched[id]
	if seen && now.Sub(last) < time.Minute {
		i.mu.Unlock()
		return
	}
	i.touched[id] = now
	i.mu.Unlock()
	if err := i.auth.TouchAPIKey(ctx, id, now); err != nil {
		i.log.DebugContext(ctx, "cannot record API key use", "key_id", id, "error", err)
	}
}

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.authenticate(ctx, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authenticate(ctx, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
