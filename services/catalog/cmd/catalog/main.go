// Command catalog runs the Marquee catalog service in split mode: MySQL/MariaDB as the source of truth,
// an external NATS JetStream for the change stream, and the HTTP API on --addr.
package main

import (
	"context"
	"io"
	"log/slog"

	"marquee/pkg/cmdx"
	"marquee/services/catalog/catalogsvc"
)

func main() { cmdx.Main("catalog", run) }

// run is the whole program. A generated admin password goes to stdout, logs to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := catalogsvc.DefaultConfig()
	return cmdx.Part(ctx, "catalog", args, getenv, stderr, &cfg, &cfg.LogLevel, func(ctx context.Context, log *slog.Logger) error {
		return catalogsvc.Serve(ctx, log, cfg, stdout)
	})
}
