package gateway

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPI is the API's OpenAPI 3.1 document; TestOpenAPIMatchesRoutes keeps it in step with the routes.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI handles "GET /openapi.json".
func handleOpenAPI() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/json", openAPI)
	}
}
