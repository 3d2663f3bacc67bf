package catalogsvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"marquee/pkg/config"
	"marquee/pkg/httpx"
	"marquee/pkg/natsx"
	"marquee/services/catalog/catalogsql"
)

// Serve runs a standalone catalog (split mode) until ctx is done: MySQL/MariaDB as the source of truth (a
// DSN or a mysql:// URL; or SQLite with a "sqlite:<path>" DSN), the relay to NATS JetStream, and the HTTP API on cfg.Addr. On shutdown
// HTTP stops taking requests first, then the relay stops, NATS is drained and the database closed.
func Serve(ctx context.Context, log *slog.Logger, cfg Config, stdout io.Writer) error {
	if cfg.MySQLDSN == "" {
		return fmt.Errorf("mysql_dsn is required (--mysql-dsn or %s)", config.EnvName("mysql_dsn"))
	}
	src, err := catalogsql.ParseSource(cfg.MySQLDSN)
	if err != nil {
		return fmt.Errorf("mysql_dsn: %w", err)
	}
	dialect := src.Dialect
	db, err := catalogsql.Open(ctx, dialect, src.DSN, cfg.MySQLMaxConns)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Warn("close database", "err", err)
		}
	}()
	nc, err := natsx.Connect(log, cfg.NATSURL, "marquee-catalog", cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer natsx.Drain(log, nc, 5*time.Second)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	svc, err := New(ctx, cfg, Deps{Log: log, DB: db, Dialect: dialect, JS: js, Stdout: stdout})
	if err != nil {
		return err
	}
	defer svc.Close()

	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopRelay()
		return httpx.ListenAndServe(gctx, log, cfg.Addr, svc.Handler())
	})
	g.Go(func() error { return svc.Run(relayCtx) })
	return g.Wait()
}
