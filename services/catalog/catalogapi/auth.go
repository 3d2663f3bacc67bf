package catalogapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
	"marquee/services/catalog/password"
)

// dummyHash is verified for unknown users, so that a login takes as long whether the user exists or not.
// It is the hash of a random password nobody knows, at the cost of real hashes.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$w0HAL3+IFcHhGXEZbLs61w$sAZ35wPPNctbBPyXTZeWqu2U9oahZIv0HjfyxXxXIuA"

var (
	errBadLogin  = apperr.Errorf(apperr.Unauthorized, "The username or password is wrong.")
	errBadAPIKey = apperr.Errorf(apperr.Unauthorized, "The API key is invalid or revoked.")
)

// touchEvery is how stale an API key's last_used_at may get before a use records it again: one write a
// minute per key, not one per request.
const touchEvery = time.Minute

// authenticator finds the principal of a bearer token: an access token (JWT) or an API key ("mq_…").
type authenticator struct {
	log   *slog.Logger
	store interface {
		catalog.UserStore
		catalog.APIKeyStore
	}
	jwt *authn.Verifier
	now func() time.Time
}

// principal returns the principal of a token, or Unauthorized (Unavailable when it cannot be checked).
func (a *authenticator) principal(ctx context.Context, token string) (authn.Principal, error) {
	p, _, err := a.identify(ctx, token)
	return p, err
}

// identify returns the principal of a token and the actor that names it in histories: "user:<id>" for a
// user's access token, "key:<id>" for an API key or a token exchanged for one.
func (a *authenticator) identify(ctx context.Context, token string) (authn.Principal, string, error) {
	if strings.HasPrefix(token, catalog.APIKeyPrefix) {
		k, err := a.apiKey(ctx, token)
		if err != nil {
			return authn.Principal{}, "", err
		}
		return authn.Principal{Subject: k.Subject(), Role: k.Role}, k.Subject(), nil
	}
	p, err := a.jwt.Verify(ctx, token)
	if err != nil {
		return authn.Principal{}, "", err
	}
	actor, err := a.current(ctx, p)
	if err != nil {
		return authn.Principal{}, "", err
	}
	return p, actor, nil
}

var errRevokedToken = apperr.Errorf(apperr.Unauthorized, "The access token is invalid or expired.")

// current checks that an access token still speaks for its user, and returns the user's actor: the user
// exists, holds the token's role, and has not changed role or password since the token was issued (a
// deleted and re-created user is a change too). Token times and the store's carry microseconds.
func (a *authenticator) current(ctx context.Context, p authn.Principal) (string, error) {
	if id, ok := strings.CutPrefix(p.Subject, "key:"); ok { // a token for an API key: the key must be live
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return "", errRevokedToken
		}
		k, err := a.store.APIKeyByID(ctx, n)
		switch {
		case apperr.Is(err, apperr.NotFound):
			return "", errRevokedToken
		case err != nil:
			a.log.Error("look up token api key", "err", err)
			return "", apperr.Errorf(apperr.Unavailable, "Access tokens cannot be checked right now; try again shortly.")
		case k.RevokedAt != nil || k.Role != p.Role:
			return "", errRevokedToken
		}
		return k.Subject(), nil
	}
	u, err := a.store.UserByName(ctx, p.Subject)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return "", errRevokedToken
	case err != nil:
		a.log.Error("look up token user", "err", err)
		return "", apperr.Errorf(apperr.Unavailable, "Access tokens cannot be checked right now; try again shortly.")
	case u.Role != p.Role || p.IssuedAt.Before(u.UpdatedAt.Truncate(time.Microsecond)):
		return "", errRevokedToken
	}
	return u.Actor(), nil
}

// apiKey returns the live key of token, recording its use.
func (a *authenticator) apiKey(ctx context.Context, token string) (*catalog.APIKey, error) {
	if !catalog.IsAPIKey(token) {
		return nil, errBadAPIKey
	}
	k, err := a.store.APIKeyByHash(ctx, catalog.HashAPIKey(token))
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, errBadAPIKey
	case err != nil:
		a.log.Error("look up api key", "err", err)
		return nil, apperr.Errorf(apperr.Unavailable, "API keys cannot be checked right now; try again shortly.")
	case k.RevokedAt != nil || !catalog.ValidRole(k.Role):
		return nil, errBadAPIKey
	}
	if now := a.now(); k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > touchEvery {
		if err := a.store.TouchAPIKey(ctx, k.ID, now); err != nil {
			a.log.Warn("record api key use", "key", k.ID, "err", err)
		}
	}
	return k, nil
}

type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	APIKey   string `json:"api_key"`
	Session  bool   `json:"session"` // also start a browser session (a refresh cookie); username and password only
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleTokenCreate handles "POST /v1/auth/token": a username and password, or an API key, for an
// access token; a username and password with "session": true also start a browser session.
func handleTokenCreate(log *slog.Logger, store catalog.UserStore, passwords *password.Hasher, keys *keyring, auth *authenticator, guard *lockout, sess *sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req tokenRequest
		if err := httpx.DecodeJSON(c.Request, 4<<10, &req); err != nil {
			httpx.Error(c, err)
			return
		}
		ctx := c.Request.Context()
		var p authn.Principal
		switch {
		case req.APIKey != "" && (req.Username != "" || req.Password != ""):
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "Send either username and password, or api_key."))
			return
		case req.APIKey != "" && req.Session:
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "A session is for a username and password, not an API key."))
			return
		case req.APIKey != "":
			k, err := auth.apiKey(ctx, req.APIKey)
			if err != nil {
				httpx.Error(c, err)
				return
			}
			p = authn.Principal{Subject: k.Subject(), Role: k.Role}
		default:
			var err error
			if p, err = login(ctx, log, store, passwords, guard, clientOf(c.Request), req); err != nil {
				if wait, ok := retryAfter(err); ok {
					c.Header("Retry-After", strconv.Itoa(wait))
				}
				httpx.Error(c, err)
				return
			}
		}
		signer, err := keys.signer(ctx)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if req.Session {
			if err := sess.start(c, p); err != nil {
				httpx.Error(c, err)
				return
			}
		}
		writeToken(c, signer, p)
	}
}

// lockedError is the RateLimited error of a locked username, with the seconds to wait.
type lockedError struct {
	err  *apperr.Error
	wait int
}

func (e lockedError) Error() string { return e.err.Error() }
func (e lockedError) Unwrap() error { return e.err }

func retryAfter(err error) (int, bool) {
	if e, ok := err.(lockedError); ok {
		return e.wait, true
	}
	return 0, false
}

// login checks a username and password from client. Unknown users cost a hash too and get the same
// answer, and the throttling applies to every username, known or not, so that nothing tells which users
// exist.
func login(ctx context.Context, log *slog.Logger, store catalog.UserStore, passwords *password.Hasher, guard *lockout, client string, req tokenRequest) (authn.Principal, error) {
	name := strings.ToLower(strings.TrimSpace(req.Username))
	if wait := guard.wait(name, client); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		return authn.Principal{}, lockedError{err: apperr.Errorf(apperr.RateLimited,
			"Too many failed logins from this client; retry in %d seconds.", secs), wait: secs}
	}
	if name == "" || req.Password == "" || len(req.Password) > catalog.MaxPasswordLen {
		guard.fail(name, client)
		return authn.Principal{}, errBadLogin
	}
	hash := dummyHash
	user, err := store.UserByName(ctx, name)
	switch {
	case err == nil:
		hash = user.PasswordHash
	case !apperr.Is(err, apperr.NotFound):
		return authn.Principal{}, err
	}
	ok, err := passwords.Verify(ctx, req.Password, hash)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("verify password", "user", name, "err", err)
		}
		return authn.Principal{}, errBadLogin
	}
	if !ok || user == nil {
		guard.fail(name, client)
		return authn.Principal{}, errBadLogin
	}
	guard.succeed(name, client)
	return authn.Principal{Subject: user.Username, Role: user.Role}, nil
}

// handleJWKS handles "GET /v1/auth/jwks.json".
func handleJWKS(keys *keyring) gin.HandlerFunc {
	return func(c *gin.Context) {
		set, err := keys.jwks(c.Request.Context())
		if err != nil {
			httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The signing keys cannot be read right now."))
			return
		}
		c.Header("Cache-Control", "public, max-age=60")
		httpx.WriteJSON(c.Writer, http.StatusOK, set)
	}
}

type rotateResponse struct {
	Kid       string    `json:"kid"`
	CreatedAt time.Time `json:"created_at"`
}

// handleKeyRotate handles "POST /v1/auth/rotate".
func handleKeyRotate(keys *keyring) gin.HandlerFunc {
	return func(c *gin.Context) {
		k, err := keys.rotate(c.Request.Context())
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusCreated, rotateResponse{Kid: k.Kid, CreatedAt: k.CreatedAt.UTC()})
	}
}

type introspectRequest struct {
	Token string `json:"token"`
}

type introspectResponse struct {
	Active  bool   `json:"active"`
	Subject string `json:"subject,omitempty"`
	Role    string `json:"role,omitempty"`
}

// handleIntrospect handles "POST /v1/auth/introspect": whether a token (an API key, or an access token)
// is active, and for whom. Keys are looked up by their SHA-256, so the time taken says nothing about how
// close a guess was.
func handleIntrospect(auth *authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req introspectRequest
		if err := httpx.DecodeJSON(c.Request, 16<<10, &req); err != nil { // room for any bearer the gateway passes
			httpx.Error(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		p, err := auth.principal(c.Request.Context(), strings.TrimSpace(req.Token))
		switch {
		case apperr.Is(err, apperr.Unavailable):
			httpx.Error(c, err)
		case err != nil:
			httpx.WriteJSON(c.Writer, http.StatusOK, introspectResponse{Active: false})
		default:
			httpx.WriteJSON(c.Writer, http.StatusOK, introspectResponse{Active: true, Subject: p.Subject, Role: p.Role})
		}
	}
}

const (
	principalKey = "marquee.principal"
	actorKey     = "marquee.actor" // the principal's stable name in histories
)

// authenticate records the principal of a valid bearer token (access token or API key). A request
// without a token goes on as anonymous; one with a bad token is refused, even on routes open to anonymous
// callers, so that a client learns its token is bad instead of silently losing its rights.
func authenticate(auth *authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, ok, err := authn.BearerToken(c.Request)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if ok {
			p, actor, err := auth.identify(c.Request.Context(), tok)
			if err != nil {
				httpx.Error(c, err)
				return
			}
			c.Set(principalKey, p)
			c.Set(actorKey, actor)
		}
		c.Next()
	}
}

// principalOf returns the request's principal; the zero Principal for anonymous callers.
func principalOf(c *gin.Context) authn.Principal {
	v, _ := c.Get(principalKey)
	p, _ := v.(authn.Principal)
	return p
}

// requireAdmin lets only admins through: anonymous callers get 401, others 403. The gateway checks roles
// too; this is defence in depth for callers that reach the catalog directly.
func requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := c.Get(principalKey); !ok {
			httpx.Error(c, apperr.Errorf(apperr.Unauthorized, "This request needs an access token or API key."))
			return
		}
		if !principalOf(c).IsAdmin() {
			httpx.Error(c, apperr.Errorf(apperr.Forbidden, "This request needs the admin role."))
			return
		}
		c.Next()
	}
}
