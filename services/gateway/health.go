package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

// handleHealthz handles "GET /healthz": the gateway process is alive.
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
}

// handleReadyz handles "GET /readyz": ready when the catalog and search both are. The catalog is asked first,
// so that once it says its changes are all published, search's answer covers them (in the all-in-one, this
// means the seed is searchable). A part that is not ready says why, and the answer passes that on: a
// rebuild's progress, a search index catching up.
func handleReadyz(b Backends) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		for _, part := range []struct {
			name    string
			backend http.Handler
		}{{"catalog", b.Catalog}, {"search", b.Search}} {
			status, body, err := call(ctx, part.backend, http.MethodGet, "/readyz", nil)
			if err != nil || status != http.StatusOK {
				var problem struct {
					Detail string `json:"detail"`
				}
				if err == nil && json.Unmarshal(body, &problem) == nil && problem.Detail != "" {
					httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The %s service is not ready: %s", part.name, problem.Detail))
					return
				}
				httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The %s service is not ready.", part.name))
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}
