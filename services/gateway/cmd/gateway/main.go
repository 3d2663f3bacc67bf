// Command gateway runs Marquee's public gateway in front of a catalog and a search service.
package main

import (
	"context"
	"io"
	"log/slog"

	"marquee/pkg/cmdx"
	"marquee/services/gateway"
)

func main() { cmdx.Main("gateway", run) }

func run(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	cfg := gateway.DefaultConfig()
	return cmdx.Part(ctx, "gateway", args, getenv, stderr, &cfg, &cfg.LogLevel, func(ctx context.Context, log *slog.Logger) error {
		return gateway.Serve(ctx, log, cfg)
	})
}
