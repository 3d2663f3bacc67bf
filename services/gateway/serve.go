package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"marquee/pkg/httpx"
	"marquee/services/gateway/shards"
)

// Serve runs a split-mode gateway in front of the services named in cfg until ctx is done.
func Serve(ctx context.Context, log *slog.Logger, cfg Config) error {
	catalogURL, _ := url.Parse(cfg.CatalogURL) // checked by Validate
	searchURL, _ := url.Parse(cfg.SearchURL)
	reg := httpx.NewRegistry()
	opts := cfg.Options()
	opts.HTTPMetrics, opts.Metrics = httpx.NewMetrics(reg), httpx.MetricsHandler(reg)
	search := NewProxy(log, "search", searchURL, SearchTimeout, cfg.InternalToken)
	if len(cfg.SearchShards) > 0 {
		proxies := make([]http.Handler, len(cfg.SearchShards))
		for i, raw := range cfg.SearchShards {
			u, _ := url.Parse(raw) // checked by Validate
			proxies[i] = NewProxy(log, fmt.Sprintf("search (partition %d)", i), u, SearchTimeout, cfg.InternalToken)
		}
		search = shards.New(log, proxies, cfg.InternalToken)
	}
	h := NewHandler(log, Backends{
		Catalog: NewProxy(log, "catalog", catalogURL, CatalogTimeout, cfg.InternalToken),
		Search:  search,
	}, opts)
	return httpx.ListenAndServe(ctx, log, cfg.Addr, h)
}
