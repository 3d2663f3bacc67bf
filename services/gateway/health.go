package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

// handleHealthz handles "GET /healthz": the gateway process is alive.
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
}

// handleReadyz handles "GET /readyz": ready when the gateway can serve reads, that is when search is ready.
//
// At start it also waits, once, for the catalog, asked first: once the catalog says its changes are all
// published, search's answer covers them (in the all-in-one, the seed is searchable when it says ready). A
// part that is not ready says why, and the answer passes that on: a rebuild's progress, an index catching up.
//
// After that the catalog's state no longer takes the gateway out of service: a database restart would
// otherwise pull every gateway at once, and the reads with them, while only writes need the catalog (they
// answer 503 meanwhile). The answer is then 200 with status "degraded" and why, as it is when a part says it
// is degraded (an index that lags, NATS away).
func handleReadyz(b Backends) gin.HandlerFunc {
	var started atomic.Bool // the catalog and search were both ready once
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		var degraded []string
		for _, part := range []struct {
			name    string
			backend http.Handler
			needed  bool
		}{{"catalog", b.Catalog, !started.Load()}, {"search", b.Search, true}} {
			status, body, err := call(ctx, part.backend, http.MethodGet, "/readyz", nil)
			var said struct {
				Status string `json:"status"`
				Detail string `json:"detail"`
			}
			if err == nil {
				_ = json.Unmarshal(body, &said)
			}
			switch {
			case err == nil && status == http.StatusOK && said.Status == "degraded" && said.Detail != "":
				degraded = append(degraded, fmt.Sprintf("The %s service is degraded: %s", part.name, said.Detail))
			case err == nil && status == http.StatusOK:
			case !part.needed && said.Detail != "":
				degraded = append(degraded, fmt.Sprintf("The %s service is not ready: %s", part.name, said.Detail))
			case !part.needed:
				degraded = append(degraded, fmt.Sprintf("The %s service is not ready.", part.name))
			case said.Detail != "":
				httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The %s service is not ready: %s", part.name, said.Detail))
				return
			default:
				httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The %s service is not ready.", part.name))
				return
			}
		}
		started.Store(true)
		if len(degraded) > 0 {
			c.JSON(http.StatusOK, gin.H{"status": "degraded", "detail": strings.Join(degraded, " ")})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}
