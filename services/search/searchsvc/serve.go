package searchsvc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"marquee/pkg/httpx"
	"marquee/pkg/natsx"
)

// Serve runs a standalone search service (split mode) until ctx is done: it connects to NATS, keeps its
// index from the stream and serves the search API. On shutdown HTTP stops taking requests first, then the
// indexer stops, the index is closed and NATS drained.
func Serve(ctx context.Context, log *slog.Logger, cfg Config) error {
	nc, err := natsx.Connect(log, cfg.NATSURL, "marquee-search")
	if err != nil {
		return err
	}
	defer natsx.Drain(log, nc, 5*time.Second)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	svc, err := New(ctx, cfg, Deps{Log: log, JS: js})
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Close(); err != nil {
			log.Error("close index", "err", err)
		}
	}()

	indexerCtx, stopIndexer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIndexer()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopIndexer()
		return httpx.ListenAndServe(gctx, log, cfg.Addr, svc.Handler())
	})
	g.Go(func() error {
		if err := svc.Run(indexerCtx); err != nil {
			return fmt.Errorf("indexer: %w", err)
		}
		return nil
	})
	return g.Wait()
}
