// Command gateway runs Marquee's public gateway in front of a catalog and a search service.
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
	"marquee/services/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg := gateway.DefaultConfig()
	if err := config.Parse("gateway", args, &cfg, getenv, stderr); err != nil {
		return err
	}
	log, err := logx.New(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	log.Info("gateway starting", "config", config.String(&cfg))
	return gateway.Serve(ctx, log, cfg)
}
