package searchsvc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
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
	TuneGC()
	nc, err := natsx.Connect(log, cfg.NATSURL, "marquee-search", cfg.NATSUser, cfg.NATSPassword)
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

// gcPercent is the garbage collector's target in a process that indexes. Building Bleve's segments
// allocates heavily: at Go's default of 100 the collector took 15 % of a bulk import's CPU and its assists
// slowed the allocations. At 200 the heap may grow to three times the live data rather than twice: a
// 400k-movie import ran 1.23× as fast, and the anonymous memory grew by three quarters (docs/performance.md,
// row 17).
const gcPercent = 200

// TuneGC sets the garbage collector's target to gcPercent, unless the GOGC environment variable sets it.
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
