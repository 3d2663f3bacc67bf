// Package gateway is Marquee's public face: it authenticates callers, lets anonymous and user callers read
// and only admins write, routes reads to search and writes to the catalog, and serves the OpenAPI document
// and the docs page. It holds no state and no secret: tokens are checked against the catalog's public keys.
//
// The backends are plain http.Handlers, so the all-in-one binary mounts the services in process and split
// mode puts reverse proxies in their place (see NewProxy).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"marquee/pkg/authn"
)

// Config configures the gateway of split mode.
type Config struct {
	Addr         string `key:"addr" usage:"address to listen on"`
	CatalogURL   string `key:"catalog_url" usage:"base URL of the catalog service"`
	SearchURL    string `key:"search_url" usage:"base URL of the search service"`
	MaxBodyBytes int64  `key:"max_body_bytes" usage:"largest request body accepted, in bytes"`
	LogLevel     string `key:"log_level" usage:"log level: debug, info, warn or error"`
}

// DefaultConfig returns the configuration of a gateway in front of local services.
func DefaultConfig() Config {
	return Config{
		Addr:         "127.0.0.1:8080",
		CatalogURL:   "http://127.0.0.1:8081",
		SearchURL:    "http://127.0.0.1:8082",
		MaxBodyBytes: 1 << 20,
		LogLevel:     "info",
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	for name, raw := range map[string]string{"catalog_url": c.CatalogURL, "search_url": c.SearchURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q must be an http(s) URL", name, raw)
		}
	}
	if c.MaxBodyBytes <= 0 {
		return errors.New("max_body_bytes must be positive")
	}
	return nil
}

// Backends are the services behind the gateway.
type Backends struct {
	Catalog http.Handler // owns writes, users and tokens
	Search  http.Handler // owns reads
}

// Options tune a gateway handler.
type Options struct {
	MaxBodyBytes int64 // request body limit; 0 means 1 MiB
}

// NewHandler returns the gateway's HTTP handler over b.
func NewHandler(log *slog.Logger, b Backends, o Options) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	keys := authn.NewRemoteKeys(func(ctx context.Context) (authn.JWKS, error) { return fetchJWKS(ctx, b.Catalog) }, 10*time.Second)
	return newRouter(log, b, authn.NewVerifier(keys), o)
}
