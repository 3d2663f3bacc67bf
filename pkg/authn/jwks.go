package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"
)

// JWKS is a JSON Web Key Set (RFC 7517) of Ed25519 public keys.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public key (RFC 8037 OKP form).
type JWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // base64url public key
	Kid string `json:"kid"`
	Alg string `json:"alg"` // "EdDSA"
	Use string `json:"use"` // "sig"
}

// PublicJWK describes an Ed25519 public key.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Alg: "EdDSA", Use: "sig"}
}

// StaticKeys returns the set's keys, skipping none: a key of another type is an error, so that a verifier
// can never be tricked into using a key with another algorithm.
func (s JWKS) StaticKeys() (StaticKeys, error) {
	out := StaticKeys{}
	for _, k := range s.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") {
			return nil, fmt.Errorf("key %q is not an Ed25519 signing key", k.Kid)
		}
		raw, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %q has a malformed x", k.Kid)
		}
		out[k.Kid] = ed25519.PublicKey(raw)
	}
	return out, nil
}

// ErrKeysUnavailable means the signing keys could not be fetched: a token cannot be checked right now,
// which is not the caller's fault.
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// RemoteKeys is a KeySource that fetches a JWKS and fetches it again when a token names a key it does not
// know (a rotated key). Fetches are at least minRefresh apart so that forged kids cannot turn it into a
// flood: a token naming an unknown key waits for the next fetch instead of being refused, and one fetch
// that starts after a request arrived answers every request waiting with it.
type RemoteKeys struct {
	fetch      func(context.Context) (JWKS, error)
	minRefresh time.Duration

	fetchMu sync.Mutex // held by the one caller fetching

	mu      sync.Mutex
	keys    StaticKeys
	started time.Time // when the last fetch began
}

// NewRemoteKeys returns a key source backed by fetch.
func NewRemoteKeys(fetch func(context.Context) (JWKS, error), minRefresh time.Duration) *RemoteKeys {
	return &RemoteKeys{fetch: fetch, minRefresh: minRefresh}
}

func (r *RemoteKeys) lookup(kid string) (ed25519.PublicKey, time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pub, ok := r.keys[kid]
	return pub, r.started, ok
}

// PublicKey implements KeySource.
func (r *RemoteKeys) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	arrived := time.Now()
	if pub, _, ok := r.lookup(kid); ok {
		return pub, nil
	}
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	pub, started, ok := r.lookup(kid)
	switch {
	case ok:
		return pub, nil
	case started.After(arrived): // fetched since this token arrived: its key is not published
		return nil, fmt.Errorf("unknown key %q", kid)
	}
	if wait := r.minRefresh - time.Since(started); !started.IsZero() && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("unknown key %q: %w", kid, ctx.Err())
		}
	}
	r.mu.Lock()
	r.started = time.Now()
	r.mu.Unlock()
	set, err := r.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	keys, err := set.StaticKeys()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	if pub, ok := keys[kid]; ok {
		return pub, nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}
