package httpx

import (
	"crypto/subtle"
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
)

// InternalTokenHeader carries the secret the services of a split deployment share (internal_token): the
// gateway sets it on every request it forwards, after removing any a client sent, and the catalog's
// reconciler on its reads of the search index. The internal endpoints (search's index rebuild and
// versions, the catalog's API-key check) answer only requests that carry it, so that anything else on the
// network cannot call them.
const InternalTokenHeader = "Marquee-Internal-Token"

// MinInternalToken is the shortest internal token accepted.
const MinInternalToken = 32

// RequireInternal refuses, with 401, a request that does not carry token in InternalTokenHeader. An empty
// token requires nothing: the all-in-one's parts call each other in the process, and the split stack sets
// one.
func RequireInternal(token string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if token != "" && !InternalTokenValid(c.Request, token) {
			Error(c, apperr.Errorf(apperr.Unauthorized, "This endpoint is internal: it answers the services of the deployment only."))
			c.Abort()
			return
		}
		c.Next()
	}
}

// InternalTokenValid reports whether r carries token, compared in constant time.
func InternalTokenValid(r *http.Request, token string) bool {
	got := r.Header.Get(InternalTokenHeader)
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
