package catalogapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/httpx"
	"marquee/services/catalog/reconcile"
)

// handleReconcile handles "POST /v1/admin/reconcile": compare the database with the stream (and a search
// index, where configured), republish what differs, and answer with the report once the repairs are
// published (or after a bounded wait, which the report says).
func handleReconcile(run func(ctx context.Context) (reconcile.Report, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		rep, err := run(c.Request.Context())
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, rep)
	}
}
