package reconcile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
	"marquee/services/catalog/outbox"
	"marquee/services/catalog/reconcile"
)

// BenchmarkReconcile measures one reconciliation of a catalog of MARQUEE_RECONCILE_MOVIES movies (20,000 by
// default) that the stream holds as the database does: the movies compared a second, which set how long a
// pass takes at the planned catalog (docs/scaling.md). The stream is on an embedded server, or with
// MARQUEE_RECONCILE_NATS=external on MARQUEE_TEST_NATS_URL's, over TCP.
func BenchmarkReconcile(b *testing.B) {
	n := 20000
	if s := os.Getenv("MARQUEE_RECONCILE_MOVIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	db := catalogtest.MustOpenSQLite(b)
	store := catalogtest.MustStore(b, db, catalogsql.SQLite)
	js := testenv.JetStream(b)
	if os.Getenv("MARQUEE_RECONCILE_NATS") == "external" {
		nc, err := nats.Connect(testenv.NATSURL(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		if js, err = jetstream.New(nc); err != nil {
			b.Fatal(err)
		}
	}
	stream := testenv.Stream(b, js)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay := outbox.New(log, store, js, stream)
	testenv.Run(b, relay.Run)
	for i := 0; i < n; i += 1000 {
		in := make([]catalog.MovieInput, 0, 1000)
		for j := i; j < min(n, i+1000); j++ {
			in = append(in, catalog.MovieInput{Title: fmt.Sprintf("Movie %d", j)})
		}
		if _, err := store.ImportMovies(ctx, "bench", in); err != nil {
			b.Fatal(err)
		}
	}
	relay.Kick()
	testenv.Eventually(b, "an empty backlog", func() bool { k, err := store.Backlog(ctx); return err == nil && k == 0 })
	r := reconcile.New(log, store, js, stream, nil, nil, relay.Kick)
	b.ResetTimer()
	for range b.N {
		rep, err := r.Reconcile(ctx)
		if err != nil || rep.Checked != n || rep.Repaired != 0 {
			b.Fatalf("%+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "movies/s")
}
