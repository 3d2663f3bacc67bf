// Package authn is the token contract shared by the catalog, which issues tokens, and the gateway and the
// catalog, which verify them: EdDSA-signed JWTs with the algorithm pinned, issuer, audience and expiry
// required, and public keys published as a JWKS so that verifiers need no secret and no database.
package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"marquee/pkg/apperr"
)

// Roles a principal can hold. Anonymous callers hold none.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// Token claims every Marquee token carries.
const (
	Issuer   = "marquee"
	Audience = "marquee-api"
)

// Principal is who a request acts for.
type Principal struct {
	Subject  string    // the username
	Role     string    // RoleAdmin or RoleUser
	IssuedAt time.Time // of an access token; zero for other credentials
}

// IsAdmin reports whether p may change the catalog.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// Claims are the JWT claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
}

// Signer issues access tokens with one private key.
type Signer struct {
	kid string
	key ed25519.PrivateKey
	ttl time.Duration
	now func() time.Time
}

// NewSigner returns a signer whose tokens live for ttl and name kid as their key.
func NewSigner(kid string, key ed25519.PrivateKey, ttl time.Duration) *Signer {
	return &Signer{kid: kid, key: key, ttl: ttl, now: time.Now}
}

// Token times carry microseconds (RFC 7519 allows fractional seconds; golang-jwt writes whole seconds
// unless told otherwise, for every token of the process): the catalog revokes the tokens issued before a
// user's change of password or role, and whole seconds would let one issued earlier in that second through.
func init() { jwt.TimePrecision = time.Microsecond }

// TTL is how long an issued token is valid.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue returns a signed access token for p.
func (s *Signer) Issue(p Principal) (string, error) {
	now := s.now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   p.Subject,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
		},
		Role: p.Role,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// KeySource finds the public key a token names.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// StaticKeys is a fixed set of public keys by kid.
type StaticKeys map[string]ed25519.PublicKey

// PublicKey implements KeySource.
func (k StaticKeys) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if pub, ok := k[kid]; ok {
		return pub, nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

// Verifier checks access tokens.
type Verifier struct {
	keys KeySource
	now  func() time.Time
}

// NewVerifier returns a verifier that trusts the keys of ks.
func NewVerifier(ks KeySource) *Verifier { return &Verifier{keys: ks, now: time.Now} }

// errBadToken is what every rejected token gets: the caller learns nothing about why.
var errBadToken = apperr.Errorf(apperr.Unauthorized, "The access token is invalid or expired.")

// Verify returns the principal of a valid token, or an Unauthorized error.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	var claims Claims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(v.now),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no key")
		}
		return v.keys.PublicKey(ctx, kid)
	})
	if errors.Is(err, ErrKeysUnavailable) {
		return Principal{}, apperr.Errorf(apperr.Unavailable, "Access tokens cannot be checked right now; try again shortly.")
	}
	if err != nil {
		return Principal{}, errBadToken
	}
	if claims.Subject == "" || (claims.Role != RoleAdmin && claims.Role != RoleUser) {
		return Principal{}, errBadToken
	}
	p := Principal{Subject: claims.Subject, Role: claims.Role}
	if claims.IssuedAt != nil {
		p.IssuedAt = claims.IssuedAt.Time
	}
	return p, nil
}

// BearerToken returns the token of an "Authorization: Bearer …" header. ok is false when there is no
// Authorization header; a header of another form is an error.
func BearerToken(r *http.Request) (token string, ok bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, nil
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", true, apperr.Errorf(apperr.Unauthorized, "The Authorization header must be \"Bearer <token>\".")
	}
	return strings.TrimSpace(tok), true, nil
}
