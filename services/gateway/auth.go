package gateway

import (
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

const (
	callerKey   = "marquee.caller"
	tokenKey    = "marquee.token"    // the raw access token, for confirm
	operatorKey = "marquee.operator" // set when the request carries the metrics token
)

// caller is an authenticated principal and how it proved who it is.
type caller struct {
	authn.Principal
	viaKey bool // an API key rather than an access token
}

// credentialKind is what an Authorization header carries.
type credentialKind int

const (
	noCredential credentialKind = iota
	accessToken                 // a JWT from POST /v1/auth/token
	apiKey                      // a long-lived key from POST /v1/keys, "mq_…"
)

// apiKeyPrefix starts every API key; any other bearer token is an access token.
const apiKeyPrefix = "mq_"

// maxTokenBytes bounds a bearer token; real ones are a few hundred bytes.
const maxTokenBytes = 8 << 10

// maxAPIKeyBytes bounds an API key: the catalog's are 39 bytes, so a longer one is refused without asking.
const maxAPIKeyBytes = 64

var errBadAuthorization = apperr.Errorf(apperr.Unauthorized, "The Authorization header must be \"Bearer <token>\".")

// parseAuthorization reads the value of an Authorization header. An empty value is no credential; anything
// but "Bearer <token68>" is an error.
func parseAuthorization(h string) (credentialKind, string, error) {
	if h == "" {
		return noCredential, "", nil
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return noCredential, "", errBadAuthorization
	}
	tok = strings.Trim(tok, " \t")
	if tok == "" || len(tok) > maxTokenBytes || !isToken68(tok) {
		return noCredential, "", errBadAuthorization
	}
	if strings.HasPrefix(tok, apiKeyPrefix) {
		if len(tok) > maxAPIKeyBytes {
			return noCredential, "", errBadKey
		}
		return apiKey, tok, nil
	}
	return accessToken, tok, nil
}

// isToken68 reports whether s has the syntax of RFC 9110's token68: the characters of base64 and base64url,
// dots and tildes, then optional padding.
func isToken68(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("-._~+/", b) >= 0) {
			return false
		}
	}
	return true
}

// authenticator checks both kinds of credential.
type authenticator struct {
	tokens *authn.Verifier
	keys   *keyChecker
}

// authenticate resolves the caller from a bearer token or API key. No credential means an anonymous caller;
// a credential that does not verify is refused outright rather than treated as anonymous, so a client learns
// its credential is bad. Refusals count against the client IP's anonymous rate limit, and so does every API
// key the catalog must be asked about, so that guessing costs the guesser and not the catalog.
//
// On GET /metrics, the metrics token (if one is set) is a credential too, compared in constant time.
func authenticate(a *authenticator, l *limiter, ips clientIPs, metricsToken string) gin.HandlerFunc {
	return func(c *gin.Context) {
		values := c.Request.Header.Values("Authorization")
		if len(values) > 1 {
			refuse(c, l, ips, errBadAuthorization)
			return
		}
		var h string
		if len(values) == 1 {
			h = values[0]
		}
		if metricsToken != "" && c.FullPath() == metricsPath {
			if tok, ok := strings.CutPrefix(h, "Bearer "); ok && subtle.ConstantTimeCompare([]byte(tok), []byte(metricsToken)) == 1 {
				c.Set(operatorKey, true)
				c.Next()
				return
			}
		}
		kind, tok, err := parseAuthorization(h)
		if err != nil {
			refuse(c, l, ips, err)
			return
		}
		var who caller
		switch kind {
		case noCredential:
			c.Next()
			return
		case accessToken:
			who.Principal, err = a.tokens.Verify(c.Request.Context(), tok)
			c.Set(tokenKey, tok)
		case apiKey:
			who.viaKey = true
			who.Principal, err = a.keys.check(c.Request.Context(), tok, func() error { return chargeIP(c, l, ips) })
		}
		if err != nil {
			refuse(c, l, ips, err)
			return
		}
		c.Set(callerKey, who)
		c.Next()
	}
}

// refuse answers a failed authentication; it answers 429 instead once the client IP has failed too often.
func refuse(c *gin.Context, l *limiter, ips clientIPs, err error) {
	if apperr.Is(err, apperr.Unauthorized) {
		if limited := chargeIP(c, l, ips); limited != nil {
			err = limited
		}
	}
	httpx.Error(c, err)
}

// chargeIP takes one request from the client IP's anonymous allowance and returns a RateLimited error,
// with its headers set, when there is none left.
func chargeIP(c *gin.Context, l *limiter, ips clientIPs) error {
	if l.off() {
		return nil
	}
	d := l.take(ipRateKey(ips.of(c.Request)), l.cfg.Anonymous)
	if d.allowed {
		return nil
	}
	d.setHeaders(c.Writer.Header())
	return d.err()
}

// callerOf returns the authenticated caller of c, if any.
func callerOf(c *gin.Context) (caller, bool) {
	v, ok := c.Get(callerKey)
	if !ok {
		return caller{}, false
	}
	who, ok := v.(caller)
	return who, ok
}

// confirm asks the catalog whether the caller's access token still stands (its user not deleted, demoted
// or given a new password since), for routes whose backend does not check credentials itself; the answer
// is cached like an API key's, by the token's hash. API keys were asked about already.
func confirm(a *authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		tok := c.GetString(tokenKey)
		if tok == "" {
			c.Next()
			return
		}
		if _, err := a.keys.check(c.Request.Context(), tok, func() error { return nil }); err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				err = apperr.Errorf(apperr.Unauthorized, "The access token has been revoked.")
			}
			httpx.Error(c, err)
			return
		}
		c.Next()
	}
}

// requireOperator lets admins and holders of the metrics token through: 401 for anonymous callers, 403
// for users.
func requireOperator() gin.HandlerFunc {
	admins := requireAdmin()
	return func(c *gin.Context) {
		if c.GetBool(operatorKey) {
			c.Next()
			return
		}
		admins(c)
	}
}

// requireAdmin lets only admins through: 401 for anonymous callers, 403 for users.
func requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		who, ok := callerOf(c)
		if !ok {
			httpx.Error(c, apperr.Errorf(apperr.Unauthorized, "This operation needs an admin's access token (POST /v1/auth/token) or API key."))
			return
		}
		if !who.IsAdmin() {
			httpx.Error(c, apperr.Errorf(apperr.Forbidden, "Only admins may do this."))
			return
		}
		c.Next()
	}
}
