// Package searchapi is the HTTP API of the search service, on gin: movie search with filters, sorts, facets and cursors, autocompletion, single-movie
// reads, and the health and readiness probes. Callers see only an http.Handler.
package searchapi

import (
	"context"
	"log/slog"
	"net/http"

	"marquee/pkg/httpx"
	"marquee/services/search"
)

// StatusFunc reports how far the index is behind the stream; its Version is ignored (the index that
// answered a search knows its own).
type StatusFunc func(ctx context.Context) search.IndexStatus

// NewHandler returns the search API over idx. ready reports whether the index has caught up with the stream;
// until it returns nil, GET /readyz answers 503. status (nil: the index counts as current) fills the lag of
// every search answer.
func NewHandler(log *slog.Logger, idx search.Searcher, ready func(ctx context.Context) error, status StatusFunc) http.Handler {
	e := httpx.NewEngine(log)
	addRoutes(e, log, idx, ready, status)
	return e
}
