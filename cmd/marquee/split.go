package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"marquee/pkg/cmdx"
	"marquee/pkg/config"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/gateway"
	"marquee/services/search/searchsvc"
)

// partCommand builds a command whose flags come from cfg (a pointer to a config struct with a log level at
// level); it loads the config and hands the logger to start.
func partCommand(use, short string, cfg any, level *string, getenv func(string) string, stderr io.Writer,
	start func(ctx context.Context, log *slog.Logger) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), cfg, getenv); err != nil {
				return err
			}
			return cmdx.Serve(cmd.Context(), use, cfg, *level, stderr, start)
		},
	}
	config.Flags(cmd.Flags(), cfg)
	return cmd
}

// The split-mode commands run the same code as each service's own binary.

func newCatalogCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cfg := catalogsvc.DefaultConfig()
	return partCommand("catalog", "Run the catalog service (writes, users, tokens; MySQL and the outbox relay to NATS)",
		&cfg, &cfg.LogLevel, getenv, stderr, func(ctx context.Context, log *slog.Logger) error {
			return catalogsvc.Serve(ctx, log, cfg, stdout)
		})
}

func newSearchCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	cfg := searchsvc.DefaultConfig()
	return partCommand("search", "Run the search service (a Bleve index kept from the NATS stream; the search API)",
		&cfg, &cfg.LogLevel, getenv, stderr, func(ctx context.Context, log *slog.Logger) error {
			return searchsvc.Serve(ctx, log, cfg)
		})
}

func newGatewayCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	cfg := gateway.DefaultConfig()
	return partCommand("gateway", "Run the public gateway in front of a catalog and a search service",
		&cfg, &cfg.LogLevel, getenv, stderr, func(ctx context.Context, log *slog.Logger) error {
			return gateway.Serve(ctx, log, cfg)
		})
}
