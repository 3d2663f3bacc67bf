// Package cmdx is the skeleton every Marquee binary shares: signals, configuration, the logger and the exit
// status, so that each main says only which part it runs.
package cmdx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"marquee/pkg/config"
	"marquee/pkg/logx"
)

// RunFunc is a whole program, given what main would read from the process.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments, environment and streams until SIGINT or SIGTERM cancels its
// context, and exits with status 1 and the error if it fails (0 after --help).
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Part is the run of a one-part binary: it parses cfg (a pointer to a config struct) from args and the
// environment, then calls Serve.
func Part(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer,
	cfg any, level *string, serve func(context.Context, *slog.Logger) error) error {
	if err := config.Parse(name, args, cfg, getenv, stderr); err != nil {
		return err
	}
	return Serve(ctx, name, cfg, *level, stderr, serve)
}

// Serve makes the logger at level on stderr, logs the effective configuration (secrets masked) and runs serve.
func Serve(ctx context.Context, name string, cfg any, level string, stderr io.Writer, serve func(context.Context, *slog.Logger) error) error {
	log, err := logx.New(stderr, level)
	if err != nil {
		return err
	}
	log.Info(name+" starting", "config", config.String(cfg))
	return serve(ctx, log)
}
