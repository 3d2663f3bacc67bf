package searchapi

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"

	"marquee/services/search"
)

// addRoutes is the whole URL space of the search API.
func addRoutes(e *gin.Engine, log *slog.Logger, idx search.Searcher, ready func(ctx context.Context) error, status StatusFunc) {
	e.GET("/healthz", handleHealth())
	e.GET("/readyz", handleReady(log, ready))
	e.GET("/v1/movies", handleMovieSearch(idx, status))
	e.GET("/v1/suggest", handleSuggest(idx))
	e.GET("/v1/movies/:id", handleMovieGet(idx))
}
