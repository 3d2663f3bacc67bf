package searchapi

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"marquee/pkg/httpx"
	"marquee/pkg/shardwire"
	"marquee/services/search"
)

// snapshotRoute sends a snapshot of the index to a new replica.
const snapshotRoute = "/v1/index/snapshot"

// addRoutes is the whole URL space of the search API.
func addRoutes(e *gin.Engine, log *slog.Logger, idx search.Searcher, d *Deps) {
	e.GET("/healthz", handleHealth())
	e.GET("/readyz", handleReady(log, d.Ready, d.Degraded, d.Status))
	e.GET("/v1/movies", handleMovieSearch(idx, d))
	e.GET("/v1/suggest", handleSuggest(idx, d))
	e.GET("/v1/movies/:id", handleMovieGet(idx, d))
	if d.Metrics != nil {
		e.GET("/metrics", gin.WrapH(d.Metrics))
	}
	internal := httpx.RequireInternal(d.InternalToken)
	if d.Versions != nil {
		e.GET("/v1/index/versions", internal, handleIndexVersions(d))
	}
	if d.Rebuild != nil && d.RebuildStatus != nil {
		e.POST("/v1/index/rebuild", internal, handleRebuildStart(d))
		e.GET("/v1/index/rebuild", internal, handleRebuildStatus(d))
	}
	if d.Snapshot != nil {
		e.GET(snapshotRoute, internal, handleSnapshot(log, d))
	}
	if d.Answer != nil {
		shared := newPeerAnswers(idx)
		e.POST(PeerRoute, internal, handlePeer(shared, d.Answer))
		e.POST(PeerEachRoute, internal, handlePeerEach(shared, d.Answer))
		e.POST(shardwire.SearchRoute, internal, handleMergedSearch(idx, d))
	}
}
