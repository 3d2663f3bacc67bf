package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
)

// introspectPath is the catalog's internal API-key check; the gateway calls it and never routes it.
const introspectPath = "/v1/auth/introspect"

var errBadKey = apperr.Errorf(apperr.Unauthorized, "The API key is invalid or revoked.")

// keyChecker verifies API keys by asking the catalog, and remembers each answer for a short while, by key
// hash, so that a busy key costs the catalog one question per TTL. Inactive answers are remembered too, for
// less time, so that a revoked key stops working soon and a guessed one stays cheap.
type keyChecker struct {
	catalog          http.Handler
	ttl, inactiveTTL time.Duration
	now              func() time.Time
	flight           singleflight.Group
	mu               sync.Mutex
	cache            *expiringMap[[sha256.Size]byte, keyAnswer]
}

// keyAnswer is what the catalog said of a key.
type keyAnswer struct {
	active    bool
	principal authn.Principal
}

// maxCachedKeys bounds the cache; a guesser fills it with inactive answers that expire quickly.
const maxCachedKeys = 10_000

func newKeyChecker(catalog http.Handler, ttl, inactiveTTL time.Duration, now func() time.Time) *keyChecker {
	return &keyChecker{catalog: catalog, ttl: ttl, inactiveTTL: inactiveTTL, now: now, cache: newExpiringMap[[sha256.Size]byte, keyAnswer](maxCachedKeys)}
}

// check returns the principal of an active key. When the catalog must be asked, beforeAsk runs first and
// may refuse with its own error (the rate limiter does).
func (k *keyChecker) check(ctx context.Context, key string, beforeAsk func() error) (authn.Principal, error) {
	sum := sha256.Sum256([]byte(key))
	k.mu.Lock()
	a, ok := k.cache.get(sum, k.now())
	k.mu.Unlock()
	if !ok {
		if err := beforeAsk(); err != nil {
			return authn.Principal{}, err
		}
		v, err, _ := k.flight.Do(string(sum[:]), func() (any, error) {
			// A caller that missed the cache just before another's flight stored the answer starts a
			// flight of its own once that one is over: the cache has the answer by then.
			k.mu.Lock()
			a, ok := k.cache.get(sum, k.now())
			k.mu.Unlock()
			if ok {
				return a, nil
			}
			a, err := k.introspect(context.WithoutCancel(ctx), key)
			if err != nil {
				return keyAnswer{}, err
			}
			ttl := k.ttl
			if !a.active {
				ttl = k.inactiveTTL
			}
			now := k.now()
			k.mu.Lock()
			k.cache.put(sum, a, now.Add(ttl), now)
			k.mu.Unlock()
			return a, nil
		})
		if err != nil {
			return authn.Principal{}, err
		}
		a = v.(keyAnswer)
	}
	if !a.active {
		return authn.Principal{}, errBadKey
	}
	return a.principal, nil
}

// introspect asks the catalog about key. An answer it cannot use means the key cannot be checked now, which
// is not the caller's fault; an answer naming no valid subject and role is an inactive key.
func (k *keyChecker) introspect(ctx context.Context, key string) (keyAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unavailable := apperr.Errorf(apperr.Unavailable, "API keys cannot be checked right now; try again shortly.")
	body, _ := json.Marshal(map[string]string{"token": key})
	status, answer, err := call(ctx, k.catalog, http.MethodPost, introspectPath, body)
	if err != nil || status != http.StatusOK {
		return keyAnswer{}, fmt.Errorf("introspect (status %d, %v): %w", status, err, unavailable)
	}
	var got struct {
		Active  bool   `json:"active"`
		Subject string `json:"subject"`
		Role    string `json:"role"`
	}
	if err := json.Unmarshal(answer, &got); err != nil {
		return keyAnswer{}, fmt.Errorf("decode introspection: %v: %w", err, unavailable)
	}
	if !got.Active || got.Subject == "" || (got.Role != authn.RoleAdmin && got.Role != authn.RoleUser) {
		return keyAnswer{}, nil
	}
	return keyAnswer{active: true, principal: authn.Principal{Subject: got.Subject, Role: got.Role}}, nil
}
