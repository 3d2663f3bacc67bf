package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"marquee/pkg/apperr"
)

func mustKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestIssueAndVerify(t *testing.T) {
	pub, priv := mustKey(t)
	signer := NewSigner("k1", priv, 15*time.Minute)
	tok, err := signer.Issue(Principal{Subject: "ada", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(StaticKeys{"k1": pub})
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "ada" || !p.IsAdmin() {
		t.Fatalf("principal = %+v", p)
	}
}

func TestVerifyRejects(t *testing.T) {
	pub, priv := mustKey(t)
	_, otherPriv := mustKey(t)
	keys := StaticKeys{"k1": pub}
	good := func(mutate func(*Claims)) string {
		now := time.Now()
		c := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "bob", Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}, Role: RoleUser}
		mutate(&c)
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signedBy := func(key ed25519.PrivateKey) string {
		s, _ := NewSigner("k1", key, time.Minute).Issue(Principal{Subject: "bob", Role: RoleUser})
		return s
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Role: RoleAdmin})
	hs.Header["kid"] = "k1"
	hsTok, _ := hs.SignedString([]byte(pub)) // key confusion: the public key used as an HMAC secret
	valid := good(func(*Claims) {})
	for name, tok := range map[string]string{
		"expired":        good(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)) }),
		"no expiry":      good(func(c *Claims) { c.ExpiresAt = nil }),
		"wrong audience": good(func(c *Claims) { c.Audience = jwt.ClaimStrings{"someone-else"} }),
		"wrong issuer":   good(func(c *Claims) { c.Issuer = "evil" }),
		"unknown role":   good(func(c *Claims) { c.Role = "root" }),
		"no subject":     good(func(c *Claims) { c.Subject = "" }),
		"other key":      signedBy(otherPriv),
		"hs256":          hsTok,
		"tampered":       valid[:len(valid)-4] + strings.Repeat("A", 4),
		"garbage":        "not.a.token",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewVerifier(keys).Verify(context.Background(), tok)
			if !apperr.Is(err, apperr.Unauthorized) {
				t.Fatalf("Verify = %v, want Unauthorized", err)
			}
		})
	}
}

func TestRemoteKeysRefetchOnRotation(t *testing.T) {
	pub1, priv1 := mustKey(t)
	pub2, priv2 := mustKey(t)
	set := JWKS{Keys: []JWK{PublicJWK("k1", pub1)}}
	fetches := 0
	rk := NewRemoteKeys(func(context.Context) (JWKS, error) { fetches++; return set, nil }, 0)
	v := NewVerifier(rk)
	tok1, _ := NewSigner("k1", priv1, time.Minute).Issue(Principal{Subject: "a", Role: RoleUser})
	if _, err := v.Verify(context.Background(), tok1); err != nil {
		t.Fatal(err)
	}
	set = JWKS{Keys: []JWK{PublicJWK("k1", pub1), PublicJWK("k2", pub2)}}
	tok2, _ := NewSigner("k2", priv2, time.Minute).Issue(Principal{Subject: "a", Role: RoleUser})
	if _, err := v.Verify(context.Background(), tok2); err != nil {
		t.Fatalf("token of a rotated-in key: %v", err)
	}
	if _, err := v.Verify(context.Background(), tok1); err != nil {
		t.Fatal(err)
	}
	if fetches != 2 {
		t.Fatalf("fetches = %d, want 2 (first use, then the unknown kid)", fetches)
	}
}

// A key rotated in just after the last fetch is fetched for the first token that names it, which waits
// for the fetch rather than being refused; forged kids cost one fetch per wave, not one each.
func TestRemoteKeysRotationRightAfterAFetch(t *testing.T) {
	pub1, priv1 := mustKey(t)
	pub2, priv2 := mustKey(t)
	var mu sync.Mutex
	set := JWKS{Keys: []JWK{PublicJWK("k1", pub1)}}
	fetches := 0
	rk := NewRemoteKeys(func(context.Context) (JWKS, error) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		return set, nil
	}, 100*time.Millisecond)
	v := NewVerifier(rk)
	tok1, _ := NewSigner("k1", priv1, time.Minute).Issue(Principal{Subject: "a", Role: RoleUser})
	if _, err := v.Verify(context.Background(), tok1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	set = JWKS{Keys: []JWK{PublicJWK("k1", pub1), PublicJWK("k2", pub2)}}
	mu.Unlock()
	tok2, _ := NewSigner("k2", priv2, time.Minute).Issue(Principal{Subject: "a", Role: RoleUser})
	if _, err := v.Verify(context.Background(), tok2); err != nil {
		t.Fatalf("token of a key rotated in right after a fetch: %v", err)
	}

	_, forgedKey := mustKey(t)
	forged, _ := NewSigner("nope", forgedKey, time.Minute).Issue(Principal{Subject: "a", Role: RoleAdmin})
	before := fetches
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), forged); !apperr.Is(err, apperr.Unauthorized) {
				t.Errorf("forged kid: %v, want Unauthorized", err)
			}
		})
	}
	wg.Wait()
	if got := fetches - before; got > 2 {
		t.Fatalf("20 forged kids at once made %d fetches, want at most 2", got)
	}
}

func TestJWKSRejectsOtherKeyTypes(t *testing.T) {
	if _, err := (JWKS{Keys: []JWK{{Kty: "RSA", Kid: "r"}}}).StaticKeys(); err == nil {
		t.Fatal("an RSA key was accepted")
	}
}

func TestVerifyWithoutKeysIsUnavailable(t *testing.T) {
	_, priv := mustKey(t)
	tok, _ := NewSigner("k1", priv, time.Minute).Issue(Principal{Subject: "a", Role: RoleUser})
	rk := NewRemoteKeys(func(context.Context) (JWKS, error) { return JWKS{}, errors.New("catalog down") }, 0)
	if _, err := NewVerifier(rk).Verify(context.Background(), tok); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("Verify = %v, want Unavailable", err)
	}
}
