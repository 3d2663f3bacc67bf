// Package searchapi is the HTTP API of the search service, on gin: movie search with filters, sorts, facets and cursors, autocompletion, single-movie
// reads, and the health and readiness probes. Callers see only an http.Handler.
package searchapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search"
)

// StatusFunc reports how far the index is behind the stream. Its Version is the index's checkpoint now (0:
// unknown): an answer computed at an older one, from the result cache, is that much further behind.
type StatusFunc func(ctx context.Context) search.IndexStatus

// NewHandler returns the search API over idx. ready reports whether the index has caught up with the stream;
// until it returns nil, GET /readyz answers 503. status (nil: the index counts as current) fills the lag of
// every search answer.
func NewHandler(log *slog.Logger, idx search.Searcher, ready func(ctx context.Context) error, status StatusFunc) http.Handler {
	return NewHandlerWith(log, idx, Deps{Ready: ready, Status: status})
}

// NewHandlerWith returns the search API over idx with the collaborators in d.
func NewHandlerWith(log *slog.Logger, idx search.Searcher, d Deps) http.Handler {
	if d.Ready == nil {
		d.Ready = func(context.Context) error { return nil }
	}
	if d.MaxWait <= 0 {
		d.MaxWait = 2 * time.Second
	}
	d.cursors = newCursorSigner(d.CursorKey)
	var mw []gin.HandlerFunc
	if d.HTTPMetrics != nil {
		mw = append(mw, d.HTTPMetrics.Middleware("search"))
	}
	e := httpx.NewEngine(log, mw...)
	addRoutes(e, log, idx, &d)
	head := httpx.ServeHEAD(e)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && r.URL.Path == snapshotRoute { // would copy the whole index for nothing
			w.Header().Set("Allow", http.MethodGet)
			httpx.WriteError(w, r, apperr.Errorf(apperr.MethodNotAllowed, "A snapshot is only sent to GET."))
			return
		}
		head.ServeHTTP(w, r)
	})
}
