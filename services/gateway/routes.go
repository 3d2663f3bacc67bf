package gateway

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

func newRouter(log *slog.Logger, b Backends, v *authn.Verifier, o Options) *gin.Engine {
	e := httpx.NewEngine(log)
	e.Use(limitBody(o.MaxBodyBytes), authenticate(v))

	e.GET("/healthz", handleHealthz())
	e.GET("/readyz", handleReadyz(b))
	e.GET("/openapi.json", handleOpenAPI())

	e.POST("/v1/auth/token", forward(b.Catalog))

	e.GET("/v1/movies", forwardRead(b.Search))
	e.GET("/v1/movies/:id", forwardRead(b.Search))
	e.POST("/v1/movies", requireAdmin(), forward(b.Catalog))
	e.PUT("/v1/movies/:id", requireAdmin(), forward(b.Catalog))
	e.DELETE("/v1/movies/:id", requireAdmin(), forward(b.Catalog))
	return e
}

// forward hands the request to a backend as it is, credentials included: the catalog checks them again.
func forward(backend http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) { backend.ServeHTTP(plainWriter{c.Writer}, c.Request) }
}

// forwardRead hands a read to a backend without the caller's credentials, which reads do not need.
func forwardRead(backend http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Header.Del("Authorization")
		backend.ServeHTTP(plainWriter{c.Writer}, c.Request)
	}
}

// plainWriter hides gin's CloseNotify, which panics when the server's writer lacks it, from
// httputil.ReverseProxy; Unwrap keeps flushing and deadlines reachable through http.ResponseController.
type plainWriter struct{ http.ResponseWriter }

func (w plainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
