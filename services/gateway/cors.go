package gateway

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

// CORS header values. No answer allows credentials: they travel in the Authorization header, and the one
// cookie, a browser session's, is for the gateway's own page (SameSite=Strict, and a cross-origin call
// with it fails its preflight for want of Access-Control-Allow-Credentials).
const (
	corsAllowHeaders  = "Authorization, Content-Type, Content-Encoding, If-Match, If-None-Match, Idempotency-Key"
	corsExposeHeaders = "ETag, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed"
	corsMaxAge        = "600"
)

// cors lets browsers on any origin GET the public reads, and lets only the configured origins call the
// other routes. It answers preflight requests itself.
func cors(origins []string) gin.HandlerFunc {
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Add("Vary", "Origin") // answers differ by Origin, so caches must keep them apart
		origin := c.Request.Header.Get("Origin")
		if origin == "" {
			c.Next()
			return
		}
		method := c.Request.Method
		preflight := method == http.MethodOptions && c.Request.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			method = c.Request.Header.Get("Access-Control-Request-Method")
		}
		r, routed := matchRoute(method, c.Request.URL.Path)
		switch {
		case routed && r.read && method == http.MethodGet:
			h.Set("Access-Control-Allow-Origin", "*")
		case routed && allowed[origin]:
			h.Set("Access-Control-Allow-Origin", origin)
		case preflight && routed:
			httpx.Error(c, apperr.Errorf(apperr.Forbidden, "Browsers on %s may not call %s %s.", origin, method, c.Request.URL.Path))
			return
		default:
			c.Next() // a same-origin call, or one the browser will refuse to show for lack of the headers
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if preflight {
			h.Set("Access-Control-Allow-Methods", method)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// matchRoute finds the route for method and path as the router would (":name" matches one segment,
// "*name" the rest).
func matchRoute(method, path string) (route, bool) {
	for _, r := range routes {
		if r.method == method && pathMatches(r.path, path) {
			return r, true
		}
	}
	return route{}, false
}

func pathMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			return i <= len(xs)
		}
		if i >= len(xs) {
			return false
		}
		if strings.HasPrefix(p, ":") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if p != xs[i] {
			return false
		}
	}
	return len(ps) == len(xs)
}
