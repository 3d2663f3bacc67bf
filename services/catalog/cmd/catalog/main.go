// Command catalog runs the Marquee catalog service in split mode: MySQL/MariaDB as the source of truth,
// an external NATS JetStream for the change stream, and the HTTP API on --addr.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"marquee/pkg/config"
	"marquee/pkg/logx"
	"marquee/services/catalog/catalogsvc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

// run is the whole program; ctx is done on SIGINT or SIGTERM. A generated admin password goes to stdout,
// logs to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := catalogsvc.DefaultConfig()
	if err := config.Parse("catalog", args, &cfg, getenv, stderr); err != nil {
		return err
	}
	log, err := logx.New(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	log.Info("catalog starting", "config", config.String(&cfg))
	return catalogsvc.Serve(ctx, log, cfg, stdout)
}
