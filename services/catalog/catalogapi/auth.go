package catalogapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
	"marquee/services/catalog/password"
)

// dummyHash is verified for unknown users, so that a login takes as long whether the user exists or not.
// It is the hash of a random password nobody knows, at the cost of real hashes.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$w0HAL3+IFcHhGXEZbLs61w$sAZ35wPPNctbBPyXTZeWqu2U9oahZIv0HjfyxXxXIuA"

var errBadLogin = apperr.Errorf(apperr.Unauthorized, "The username or password is wrong.")

type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleTokenCreate handles "POST /v1/auth/token".
func handleTokenCreate(log *slog.Logger, store Store, passwords *password.Hasher, signer *authn.Signer) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req tokenRequest
		if err := httpx.DecodeJSON(c.Request, 4<<10, &req); err != nil {
			httpx.Error(c, err)
			return
		}
		if req.Username == "" || req.Password == "" {
			httpx.Error(c, errBadLogin)
			return
		}
		ctx := c.Request.Context()
		hash, role := dummyHash, ""
		user, err := store.UserByName(ctx, strings.ToLower(req.Username))
		switch {
		case err == nil:
			hash, role = user.PasswordHash, user.Role
		case !apperr.Is(err, apperr.NotFound):
			httpx.Error(c, err)
			return
		}
		ok, err := passwords.Verify(ctx, req.Password, hash)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("verify password", "user", req.Username, "err", err)
			}
			httpx.Error(c, errBadLogin)
			return
		}
		if !ok || user == nil {
			httpx.Error(c, errBadLogin)
			return
		}
		tok, err := signer.Issue(authn.Principal{Subject: user.Username, Role: role})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		httpx.WriteJSON(c.Writer, http.StatusOK, tokenResponse{
			AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(signer.TTL().Seconds()),
		})
	}
}

// handleJWKS handles "GET /v1/auth/jwks.json".
func handleJWKS(set authn.JWKS) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		httpx.WriteJSON(c.Writer, http.StatusOK, set)
	}
}

const principalKey = "marquee.principal"

// authenticate records the principal of a valid bearer token. A request without a token goes on as
// anonymous; one with a bad token is refused, even on routes open to anonymous callers, so that a client
// learns its token is bad instead of silently losing its rights.
func authenticate(v *authn.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, ok, err := authn.BearerToken(c.Request)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if ok {
			p, err := v.Verify(c.Request.Context(), tok)
			if err != nil {
				httpx.Error(c, err)
				return
			}
			c.Set(principalKey, p)
		}
		c.Next()
	}
}

// requireAdmin lets only admins through: anonymous callers get 401, others 403. The gateway checks roles
// too; this is defence in depth for callers that reach the catalog directly.
func requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, ok := c.Get(principalKey)
		if !ok {
			httpx.Error(c, apperr.Errorf(apperr.Unauthorized, "This request needs an access token."))
			return
		}
		if p, _ := v.(authn.Principal); !p.IsAdmin() {
			httpx.Error(c, apperr.Errorf(apperr.Forbidden, "Only admins may change the catalog."))
			return
		}
		c.Next()
	}
}
