// Command search runs Marquee's search service on its own: it connects to NATS, builds and keeps its index
// from the catalog's stream, and serves the search API.
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
	"marquee/services/search/searchsvc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "search:", err)
		os.Exit(1)
	}
}

// run is the whole program; ctx is done on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg := searchsvc.DefaultConfig()
	if err := config.Parse("search", args, &cfg, getenv, stderr); err != nil {
		return err
	}
	log, err := logx.New(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	log.Info("search starting", "config", config.String(&cfg))
	return searchsvc.Serve(ctx, log, cfg)
}
