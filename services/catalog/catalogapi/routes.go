package catalogapi

import (
	"log/slog"

	"github.com/gin-gonic/gin"
)

func addRoutes(e *gin.Engine, log *slog.Logger, d Deps) {
	e.GET("/healthz", handleHealthz())
	e.GET("/readyz", handleReadyz(d.Ready))

	e.POST("/v1/auth/token", handleTokenCreate(log, d.Store, d.Passwords, d.Signer))
	e.GET("/v1/auth/jwks.json", handleJWKS(d.JWKS))

	movies := e.Group("/v1/movies", authenticate(d.Verifier))
	movies.GET("/:id", handleMovieGet(d.Store))
	movies.POST("", requireAdmin(), handleMovieCreate(d.Store, d.Changed))
	movies.PUT("/:id", requireAdmin(), handleMovieUpdate(d.Store, d.Changed))
	movies.DELETE("/:id", requireAdmin(), handleMovieDelete(d.Store, d.Changed))
}
