// Package catalogapi is the catalog's HTTP API (gin): access tokens, the JWKS of their public keys, and the
// movie writes, which require an admin token. Movies are served exactly as events.Movie, the shape search
// also answers with.
package catalogapi

import (
	"context"
	"log/slog"
	"net/http"

	"marquee/pkg/authn"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
	"marquee/services/catalog/password"
)

// Store is what the API needs of the catalog store (see catalog.Store for the error codes).
type Store interface {
	CreateMovie(ctx context.Context, in catalog.MovieInput) (*catalog.Movie, error)
	UpdateMovie(ctx context.Context, id, ifVersion int64, in catalog.MovieInput) (*catalog.Movie, error)
	DeleteMovie(ctx context.Context, id, ifVersion int64) (int64, error)
	Movie(ctx context.Context, id int64) (*catalog.Movie, error)
	UserByName(ctx context.Context, username string) (*catalog.User, error)
}

// Deps are the API's collaborators.
type Deps struct {
	Store     Store
	Passwords *password.Hasher
	Signer    *authn.Signer   // issues access tokens
	Verifier  *authn.Verifier // checks them
	JWKS      authn.JWKS      // the public keys, served to the gateway
	// Ready reports whether the service can take traffic; nil means always.
	Ready func(ctx context.Context) error
	// Changed is called after each committed write (to wake the outbox relay); nil means nothing.
	Changed func()
}

// NewHandler returns the API as an http.Handler.
func NewHandler(log *slog.Logger, d Deps) http.Handler {
	if d.Ready == nil {
		d.Ready = func(context.Context) error { return nil }
	}
	if d.Changed == nil {
		d.Changed = func() {}
	}
	e := httpx.NewEngine(log)
	addRoutes(e, log, d)
	return e
}
