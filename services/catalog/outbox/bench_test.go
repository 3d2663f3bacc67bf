package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
	"marquee/services/catalog/outbox"
)

// BenchmarkRelay measures, in the same run, how long the relay takes to publish an import-sized backlog
// with the old path (one message at a time, each waiting for its ack, 256 per batch) and with the async
// path (PublishAsync, all acks of a 1000-row batch awaited together, one UPDATE per batch). It reports both
// rates and their ratio. The backlog is 15,410 rows, the imported catalog; with MARQUEE_TEST_MYSQL_DSN and
// MARQUEE_TEST_NATS_URL set it runs on MySQL and a nats-server over TCP, as split mode does.
func BenchmarkRelay(b *testing.B) {
	const rows = 15410
	paths := []struct {
		name string
		opts outbox.Options
	}{
		{"per-message", outbox.Options{PerMessage: true, BatchSize: 256}},
		{"async", outbox.Options{}},
	}
	var rates [2]float64
	for b.Loop() {
		for i, p := range paths {
			rates[i] = relayRate(b, rows, p.opts)
		}
	}
	b.ReportMetric(rates[0], "per-message-events/s")
	b.ReportMetric(rates[1], "async-events/s")
	b.ReportMetric(rates[1]/rates[0], "speedup-x")
}

// relayRate fills a fresh outbox with n committed creates and returns how many events a second the relay
// publishes and marks until the backlog is empty.
func relayRate(b *testing.B, n int, opts outbox.Options) float64 {
	b.Helper()
	ctx := context.Background()
	stream := events.Stream{Name: fmt.Sprintf("BENCH%d", time.Now().UnixNano()), Prefix: fmt.Sprintf("bench%d", time.Now().UnixNano())}
	db, dialect := catalogtest.MustOpenSQLite(b), catalogsql.SQLite
	if os.Getenv("MARQUEE_TEST_MYSQL_DSN") != "" { // the split deployment's database
		db, dialect = catalogtest.MustOpenMySQL(b), catalogsql.MySQL
	}
	store := catalogtest.MustStore(b, db, dialect)
	js := testenv.JetStream(b)
	if url := os.Getenv("MARQUEE_TEST_NATS_URL"); url != "" { // a nats-server over TCP, as in split mode
		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		if js, err = jetstream.New(nc); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		b.Fatal(err)
	}
	inputs := make([]catalog.MovieInput, n)
	for i := range inputs {
		inputs[i] = catalog.MovieInput{Title: fmt.Sprintf("Movie %d", i), Overview: "An imported movie with an overview of a few words."}
	}
	if _, err := store.Seed(ctx, inputs, "bench"); err != nil {
		b.Fatal(err)
	}
	relay := outbox.NewWith(slog.New(slog.NewTextHandler(io.Discard, nil)), store, js, stream, opts)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- relay.Run(rctx) }()
	for relay.Published() < int64(n) {
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	<-done
	_ = js.DeleteStream(ctx, stream.Name)
	return float64(n) / took.Seconds()
}
