package gateway

import (
	"context"
	"log/slog"
	"net/url"

	"marquee/pkg/httpx"
)

// Serve runs a split-mode gateway in front of the services named in cfg until ctx is done.
func Serve(ctx context.Context, log *slog.Logger, cfg Config) error {
	catalogURL, _ := url.Parse(cfg.CatalogURL) // checked by Validate
	searchURL, _ := url.Parse(cfg.SearchURL)
	reg := httpx.NewRegistry()
	opts := cfg.Options()
	opts.HTTPMetrics, opts.Metrics = httpx.NewMetrics(reg), httpx.MetricsHandler(reg)
	h := NewHandler(log, Backends{
		Catalog: NewProxy(log, "catalog", catalogURL, CatalogTimeout, cfg.InternalToken),
		Search:  NewProxy(log, "search", searchURL, SearchTimeout, cfg.InternalToken),
	}, opts)
	return httpx.ListenAndServe(ctx, log, cfg.Addr, h)
}
