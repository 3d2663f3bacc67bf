// Package cmdx is the skeleton every Marquee binary shares: signals, configuration, the logger and the exit
// status, so that each main says only which part it runs.
package cmdx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"marquee/pkg/config"
	"marquee/pkg/logx"
)

// RunFunc is a whole program, given what main would read from the process.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments, environment and streams until SIGINT or SIGTERM cancels its
// context, and exits with status 1 and the error if it fails (0 after --help).
//
// `<binary> healthcheck URL` instead exits 0 if URL answers 2xx within three seconds, else 1: container images
// without a shell or wget use it for their health checks.
func Main(name string, run RunFunc) {
	if len(os.Args) == 3 && os.Args[1] == "healthcheck" {
		if err := Healthcheck(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "%s healthcheck: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
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

// Healthcheck asks url and reports an error unless it answers 2xx within three seconds.
func Healthcheck(url string) error {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
