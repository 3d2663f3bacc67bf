// Package password hashes and verifies passwords with argon2id at the OWASP minimum cost (m=19 MiB, t=2,
// p=1), stored in the PHC string format. A semaphore caps concurrent hashes so that a burst of logins cannot
// exhaust the memory or the cores of a small machine.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The cost of new hashes.
const (
	memoryKiB = 19 * 1024
	timeCost  = 2
	threads   = 1
	saltLen   = 16
	keyLen    = 32
)

// DefaultConcurrency is how many hashes may run at once.
const DefaultConcurrency = 2

// Hasher hashes and verifies passwords, at most a fixed number at a time.
type Hasher struct {
	sem chan struct{}
}

// NewHasher returns a hasher that runs at most concurrency hashes at once (DefaultConcurrency if ≤ 0).
func NewHasher(concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	return &Hasher{sem: make(chan struct{}, concurrency)}
}

// Hash returns the PHC string of a new argon2id hash of pw with a random salt.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	p := params{memory: memoryKiB, time: timeCost, threads: threads}
	key, err := h.derive(ctx, pw, salt, p, keyLen)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string encoded, comparing in constant time. A malformed
// encoded string is an error.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	p, salt, want, err := parse(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, pw, salt, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

type params struct {
	memory  uint32
	time    uint32
	threads uint8
}

func (h *Hasher) derive(ctx context.Context, pw string, salt []byte, p params, n uint32) ([]byte, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, n), nil
}

var errMalformed = errors.New("malformed argon2id hash")

// parse reads "$argon2id$v=19$m=…,t=…,p=…$salt$hash", refusing costs far outside what this package
// writes, so that a tampered row cannot make one login allocate gigabytes.
func parse(encoded string) (params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return params{}, nil, nil, errMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return params{}, nil, nil, errMalformed
	}
	var p params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return params{}, nil, nil, errMalformed
	}
	if p.memory < 8 || p.memory > 256*1024 || p.time < 1 || p.time > 10 || p.threads < 1 || p.threads > 8 {
		return params{}, nil, nil, errMalformed
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return params{}, nil, nil, errMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return params{}, nil, nil, errMalformed
	}
	return p, salt, key, nil
}
