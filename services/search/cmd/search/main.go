// Command search runs Marquee's search service on its own: it connects to NATS, builds and keeps its index
// from the catalog's stream, and serves the search API.
package main

import (
	"context"
	"io"
	"log/slog"

	"marquee/pkg/cmdx"
	"marquee/services/search/searchsvc"
)

func main() { cmdx.Main("search", run) }

func run(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	cfg := searchsvc.DefaultConfig()
	return cmdx.Part(ctx, "search", args, getenv, stderr, &cfg, &cfg.LogLevel, func(ctx context.Context, log *slog.Logger) error {
		return searchsvc.Serve(ctx, log, cfg)
	})
}
