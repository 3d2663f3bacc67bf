package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

const principalKey = "marquee.principal"

// authenticate resolves the caller from a bearer token. No token means an anonymous caller; a token that
// does not verify is refused outright rather than treated as anonymous, so a client learns its token is bad.
func authenticate(v *authn.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, present, err := authn.BearerToken(c.Request)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if !present {
			c.Next()
			return
		}
		p, err := v.Verify(c.Request.Context(), tok)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// requireAdmin lets only admins through: 401 for anonymous callers, 403 for users.
func requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := c.Get(principalKey)
		if !ok {
			httpx.Error(c, apperr.Errorf(apperr.Unauthorized, "This operation needs an admin's access token (POST /v1/auth/token)."))
			return
		}
		if !p.(authn.Principal).IsAdmin() {
			httpx.Error(c, apperr.Errorf(apperr.Forbidden, "Only admins may change the catalog."))
			return
		}
		c.Next()
	}
}

// limitBody caps request bodies; a handler reading past the limit gets an error it answers with 413.
func limitBody(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			httpx.Error(c, apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", limit))
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}
