// Package catalogapi is the catalog's HTTP API (gin): access tokens and the JWKS of their rotating public
// keys, browser sessions that renew access tokens (a rotating refresh cookie), API keys and their
// introspection for the gateway, users, and the movie writes (create, replace, merge-patch, delete, bulk
// import, history), which require the admin role. Movies are served exactly as events.Movie, the shape
// search also answers with. Every error is problem+json.
package catalogapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"marquee/pkg/httpx"
	"marquee/services/catalog"
	"marquee/services/catalog/password"
	"marquee/services/catalog/reconcile"
)

// Store is what the API needs of the catalog store (see catalog.Store for the error codes). Each handler
// takes only the part it uses.
type Store interface {
	catalog.MovieStore
	catalog.IdempotencyStore
	catalog.UserStore
	catalog.SigningKeyStore
	catalog.APIKeyStore
	catalog.RefreshTokenStore
}

// Deps are the API's collaborators.
type Deps struct {
	Store     Store
	Passwords *password.Hasher
	// TokenTTL is the lifetime of access tokens. The signing keys live in the Store: the newest signs, and a
	// replaced key stays published for 2×TokenTTL+5m.
	TokenTTL time.Duration
	// RefreshTTL is how long a browser session lasts unused: each refresh sets a new cookie for as long.
	RefreshTTL time.Duration
	// Ready reports whether the service can take traffic; nil means always.
	Ready func(ctx context.Context) error
	// InternalToken, if set, must be in the httpx.InternalTokenHeader of requests to the API-key check
	// (POST /v1/auth/introspect), which only the gateway calls.
	InternalToken string
	// Degraded says what a ready service lacks (NATS, while changes wait in the outbox), which GET /readyz
	// reports without leaving service; "" or nil: nothing.
	Degraded func(ctx context.Context) string
	// Changed is called after each committed write (to wake the outbox relay); nil means nothing.
	Changed func()
	// Reconcile runs a reconciliation now and returns its report (POST /v1/admin/reconcile); nil: 404.
	Reconcile func(ctx context.Context) (reconcile.Report, error)
	// HTTPMetrics observes every request; nil: not measured.
	HTTPMetrics *httpx.Metrics
	// Metrics serves GET /metrics; nil: no such route.
	Metrics http.Handler
}

// NewHandler returns the API as an http.Handler.
func NewHandler(log *slog.Logger, d Deps) http.Handler {
	if d.Ready == nil {
		d.Ready = func(context.Context) error { return nil }
	}
	if d.Changed == nil {
		d.Changed = func() {}
	}
	e := newEngine(log, d)
	return httpx.ServeHEAD(e)
}
