package indexer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
	"marquee/pkg/natsx/natsembed"
	"marquee/services/search/indexer"
	"marquee/services/search/searchindex"
)

// BenchmarkIndexer measures, in the same run, how fast a new index takes in an imported catalog (15,410
// movie events) with the old batches (up to 256 messages per Bleve batch) and the new ones (up to 1000),
// on the durable index type the service uses. It reports both rates and their ratio. With
// MARQUEE_TEST_NATS_URL set it reads from that nats-server over TCP.
func BenchmarkIndexer(b *testing.B) {
	const n = 15410
	ctx := context.Background()
	js := benchJetStream(b)
	stream := events.Stream{Name: fmt.Sprintf("IXBENCH%d", time.Now().UnixNano()), Prefix: fmt.Sprintf("ixbench%d", time.Now().UnixNano())}
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream.Name) })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	futures := make([]jetstream.PubAckFuture, 0, n)
	for id := int64(1); id <= n; id++ {
		year := 1950 + int(id%70)
		e := &events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: id, Version: 1, OccurredAt: at,
			Movie: &events.Movie{ID: id, Version: 1, Title: fmt.Sprintf("The Movie Number %d", id), Year: &year,
				Directors: []string{"Ada Director"}, Cast: []string{"Bo Actor", "Cy Actress"}, Genres: []string{"Drama"},
				Overview: "A story told in a few words about people and places.", Keywords: []string{}, Tags: []string{},
				CreatedAt: at, UpdatedAt: at}}
		data, _ := e.Marshal()
		f, err := js.PublishAsync(stream.Subject(id), data, jetstream.WithMsgID(events.MsgID(id, 1)))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
		if id%1000 == 0 { // stay under the client's limit of outstanding async publishes
			<-js.PublishAsyncComplete()
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	sizes := []int{256, indexer.BatchSize}
	rates := make([]float64, len(sizes))
	for b.Loop() {
		for i, size := range sizes {
			rates[i] = indexRate(b, js, stream, n, size)
		}
	}
	b.ReportMetric(rates[0], "batch256-events/s")
	b.ReportMetric(rates[1], "batch1000-events/s")
	b.ReportMetric(rates[1]/rates[0], "speedup-x")
}

func indexRate(b *testing.B, js jetstream.JetStream, stream events.Stream, n, size int) float64 {
	b.Helper()
	idx, err := searchindex.Open(filepath.Join(b.TempDir(), "idx"))
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	ix := indexer.NewWith(slog.New(slog.NewTextHandler(io.Discard, nil)), js, stream, idx, indexer.Options{BatchSize: size})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- ix.Run(ctx) }()
	for {
		ck, err := idx.Checkpoint()
		if err != nil {
			b.Fatal(err)
		}
		if ck >= uint64(n) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	<-done
	return float64(n) / took.Seconds()
}

func benchJetStream(b *testing.B) jetstream.JetStream {
	b.Helper()
	var nc *nats.Conn
	var err error
	if url := os.Getenv("MARQUEE_TEST_NATS_URL"); url != "" {
		nc, err = nats.Connect(url)
	} else {
		var ns *natsembed.Server
		if ns, err = natsembed.Run(natsembed.Options{StoreDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(ns.Shutdown)
		nc, err = ns.Connect()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return js
}
