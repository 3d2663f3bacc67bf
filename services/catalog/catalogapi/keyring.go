package catalogapi

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"marquee/pkg/authn"
	"marquee/services/catalog"
)

// Signing key rotation. The newest key in the store signs. Every replica rereads the keys at least every
// keyRefresh, so a rotation reaches all signers within that time; a verifier meeting an unknown kid
// rereads them at once (at most every keyMissInterval, so forged kids cannot flood the database). A key
// stays published, and trusted, for keyRetention(ttl) after a newer key replaced it: longer than any token
// it signed can live.
const (
	keyRefresh      = 30 * time.Second
	keyMissInterval = time.Second
	keyMargin       = 5 * time.Minute
)

func keyRetention(ttl time.Duration) time.Duration { return 2*ttl + keyMargin }

// keyring is the set of signing keys, shared by every replica through the store. It implements
// authn.KeySource.
type keyring struct {
	log   *slog.Logger
	store catalog.SigningKeyStore
	ttl   time.Duration
	now   func() time.Time

	mu       sync.Mutex
	keys     []catalog.SigningKey // oldest first
	loadedAt time.Time
	missAt   time.Time
}

func newKeyring(log *slog.Logger, store catalog.SigningKeyStore, ttl time.Duration, now func() time.Time) *keyring {
	return &keyring{log: log, store: store, ttl: ttl, now: now}
}

// loadLocked rereads the keys; k.mu is held.
func (k *keyring) loadLocked(ctx context.Context) error {
	keys, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("no signing key in the store")
	}
	k.keys, k.loadedAt = keys, k.now()
	return nil
}

// freshLocked rereads the keys if they are older than keyRefresh; a failure keeps the keys it has.
func (k *keyring) freshLocked(ctx context.Context) error {
	if len(k.keys) > 0 && k.now().Sub(k.loadedAt) < keyRefresh {
		return nil
	}
	err := k.loadLocked(ctx)
	if err != nil && len(k.keys) > 0 {
		k.log.Warn("reread signing keys; keeping the known ones", "err", err)
		return nil
	}
	return err
}

// publishedLocked returns the newest key and every key replaced less than keyRetention ago.
func (k *keyring) publishedLocked() []catalog.SigningKey {
	var out []catalog.SigningKey
	now := k.now()
	for i, key := range k.keys {
		if i == len(k.keys)-1 || now.Sub(k.keys[i+1].CreatedAt) < keyRetention(k.ttl) {
			out = append(out, key)
		}
	}
	return out
}

// signer returns a signer with the newest key.
func (k *keyring) signer(ctx context.Context) (*authn.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.freshLocked(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	newest := k.keys[len(k.keys)-1]
	return authn.NewSigner(newest.Kid, newest.Private, k.ttl), nil
}

// jwks returns the published public keys.
func (k *keyring) jwks(ctx context.Context) (authn.JWKS, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.freshLocked(ctx); err != nil {
		return authn.JWKS{}, fmt.Errorf("signing keys: %w", err)
	}
	set := authn.JWKS{Keys: []authn.JWK{}}
	for _, key := range k.publishedLocked() {
		set.Keys = append(set.Keys, authn.PublicJWK(key.Kid, key.Private.Public().(ed25519.PublicKey)))
	}
	return set, nil
}

// PublicKey implements authn.KeySource: the public half of a published key.
func (k *keyring) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.freshLocked(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", authn.ErrKeysUnavailable, err)
	}
	find := func() ed25519.PublicKey {
		for _, key := range k.publishedLocked() {
			if key.Kid == kid {
				return key.Private.Public().(ed25519.PublicKey)
			}
		}
		return nil
	}
	if pub := find(); pub != nil {
		return pub, nil
	}
	if k.now().Sub(k.missAt) < keyMissInterval {
		return nil, fmt.Errorf("unknown key %q", kid)
	}
	k.missAt = k.now()
	if err := k.loadLocked(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", authn.ErrKeysUnavailable, err)
	}
	if pub := find(); pub != nil {
		return pub, nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

// rotate adds a new key, which signs from now on.
func (k *keyring) rotate(ctx context.Context) (catalog.SigningKey, error) {
	key, err := catalog.NewSigningKey(k.now())
	if err != nil {
		return catalog.SigningKey{}, err
	}
	if err := k.store.AddSigningKey(ctx, key); err != nil {
		return catalog.SigningKey{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadLocked(ctx); err != nil {
		return catalog.SigningKey{}, err
	}
	for _, stored := range k.keys {
		if stored.Kid == key.Kid {
			return stored, nil
		}
	}
	return key, nil
}
