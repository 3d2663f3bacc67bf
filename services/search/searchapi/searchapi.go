// Package searchapi is the HTTP API of the search service, on gin: movie search with facets, single-movie
// reads, and the health and readiness probes. Callers see only an http.Handler.
package searchapi

import (
	"context"
	"log/slog"
	"net/http"

	"marquee/pkg/httpx"
	"marquee/services/search"
)

// NewHandler returns the search API over idx. ready reports whether the index has caught up with the stream;
// until it returns nil, GET /readyz answers 503.
func NewHandler(log *slog.Logger, idx search.Searcher, ready func(ctx context.Context) error) http.Handler {
	e := httpx.NewEngine(log)
	addRoutes(e, log, idx, ready)
	return e
}
