package indexer_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/testenv"
	"marquee/services/search/indexer"
	"marquee/services/search/searchindex"
)

// TestIndexer runs the indexer against an embedded NATS server.
func TestIndexer(t *testing.T) {
	testIndexer(t, testenv.JetStream(t))
}

// TestIndexerExternal runs the same test against the nats-server at $MARQUEE_TEST_NATS_URL (in CI, the
// distribution's nats-server 2.9), to keep the client's settings within what an older server understands.
func TestIndexerExternal(t *testing.T) {
	url := testenv.NATSURL(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	testIndexer(t, js)
}

func testIndexer(t *testing.T, js jetstream.JetStream) {
	ctx := context.Background()
	stream := testenv.Stream(t, js)

	// Phase 1: three movies, indexed by a running indexer.
	for _, e := range []*events.MovieChanged{upserted(1, 1, "One"), upserted(2, 1, "Two"), upserted(3, 1, "Three")} {
		MustPublish(t, js, stream, e, true)
	}
	path := filepath.Join(t.TempDir(), "idx")
	idx := MustOpen(t, path)
	ix := indexer.New(testLog(t), js, stream, idx)
	if ready, _, err := ix.CaughtUp(ctx); err != nil || ready {
		t.Fatalf("CaughtUp before Run = %v, %v; want false", ready, err)
	}
	stop := testenv.Run(t, ix.Run)
	MustCatchUp(t, ix)
	want := map[int64]state{1: {1, false, "One"}, 2: {1, false, "Two"}, 3: {1, false, "Three"}}
	MustHave(t, idx, want)

	// Phase 2, one new message per subject (the stream keeps only the last one of each): an update, a
	// delete, duplicates (one dropped by the server's message id window, one delivered) and a malformed
	// event that must not block the rest.
	MustPublish(t, js, stream, upserted(1, 2, "One, again"), true)
	MustPublish(t, js, stream, deleted(2, 2), true)
	MustPublish(t, js, stream, upserted(3, 1, "Three"), true)  // dropped by the server
	MustPublish(t, js, stream, upserted(3, 1, "Three"), false) // delivered: the index must ignore it
	if _, err := js.Publish(ctx, stream.Subject(99), []byte(`{"schema":1,"type":"movie.upserted","id":`)); err != nil {
		t.Fatal(err)
	}
	MustPublish(t, js, stream, upserted(4, 1, "Four"), true)
	want[1], want[2], want[4], want[99] = state{2, false, "One, again"}, state{2, true, ""}, state{1, false, "Four"}, state{}
	// Readiness latches, so wait until every received event is accounted for, not just for CaughtUp.
	testenv.Eventually(t, "every received event accounted for", func() bool { s := ix.Stats(); return s.Received == 8 && s.Applied+s.Stale+s.Bad == 8 })
	MustHave(t, idx, want)
	if got, want := ix.Stats(), (indexer.Stats{Received: 8, Applied: 6, Stale: 1, Bad: 1}); got.Received != want.Received || got.Applied != want.Applied || got.Stale != want.Stale || got.Bad != want.Bad {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	stop()

	// A restart on the same index resumes after the checkpoint: nothing is read twice, and new events apply.
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	idx = MustOpen(t, path)
	ix = indexer.New(testLog(t), js, stream, idx)
	stop = testenv.Run(t, ix.Run)
	MustCatchUp(t, ix)
	MustPublish(t, js, stream, upserted(1, 3, "One, third"), true)
	MustPublish(t, js, stream, upserted(5, 1, "Five"), true)
	want[1], want[5] = state{3, false, "One, third"}, state{1, false, "Five"}
	testenv.Eventually(t, "two changes applied", func() bool { return ix.Stats().Applied == 2 })
	MustHave(t, idx, want)
	if st := ix.Stats(); st.Received != 2 || st.Bad != 0 {
		t.Errorf("after restart: stats %+v, want Received 2 (nothing reapplied), Bad 0", st)
	}
	stop()

	// A fresh index rebuilds everything from the stream.
	fresh := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	ix = indexer.New(testLog(t), js, stream, fresh)
	stop = testenv.Run(t, ix.Run)
	MustCatchUp(t, ix)
	MustHave(t, fresh, want)
	stop()
}

func TestCaughtUpLatches(t *testing.T) {
	ctx := context.Background()
	js := testenv.JetStream(t)
	stream := testenv.Stream(t, js)
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	ix := indexer.New(testLog(t), js, stream, idx)
	// An empty stream and an empty index: caught up at once.
	if ready, lag, err := ix.CaughtUp(ctx); err != nil || !ready || lag != 0 {
		t.Fatalf("CaughtUp = %v, %d, %v; want true, 0, nil", ready, lag, err)
	}
	// New events behind the (not running) indexer: still ready, with a lag once the cache expires.
	MustPublish(t, js, stream, upserted(1, 1, "One"), true)
	testenv.Eventually(t, "a lag of one", func() bool {
		ready, lag, err := ix.CaughtUp(ctx)
		return err == nil && ready && lag == 1
	})
}

// state is what an index holds for one movie.
type state struct {
	version int64
	deleted bool
	title   string
}

func MustHave(tb testing.TB, idx *searchindex.Index, want map[int64]state) {
	tb.Helper()
	for id, w := range want {
		v, d, err := idx.Version(id)
		if err != nil {
			tb.Fatal(err)
		}
		got := state{version: v, deleted: d}
		m, err := idx.Movie(context.Background(), id)
		switch {
		case apperr.Is(err, apperr.NotFound):
		case err != nil:
			tb.Fatal(err)
		default:
			got.title = m.Title
		}
		if got != w {
			tb.Errorf("movie %d: %+v, want %+v", id, got, w)
		}
	}
}

func upserted(id, version int64, title string) *events.MovieChanged {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &events.MovieChanged{
		Schema: events.SchemaVersion, Type: events.MovieUpserted, ID: id, Version: version, OccurredAt: at,
		Movie: &events.Movie{ID: id, Version: version, Title: title, Genres: []string{"Drama"}, CreatedAt: at, UpdatedAt: at},
	}
}

func deleted(id, version int64) *events.MovieChanged {
	return &events.MovieChanged{Schema: events.SchemaVersion, Type: events.MovieDeleted, ID: id, Version: version, OccurredAt: time.Now().UTC()}
}

// MustPublish publishes e on its movie's subject, with the contract's message id if withID.
func MustPublish(tb testing.TB, js jetstream.JetStream, s events.Stream, e *events.MovieChanged, withID bool) {
	tb.Helper()
	b, err := e.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	var opts []jetstream.PublishOpt
	if withID {
		opts = append(opts, jetstream.WithMsgID(events.MsgID(e.ID, e.Version)))
	}
	if _, err := js.Publish(context.Background(), s.Subject(e.ID), b, opts...); err != nil {
		tb.Fatalf("publish: %v", err)
	}
}

// MustOpen opens the index at path and closes it at the end of the test if the test did not.
func MustOpen(tb testing.TB, path string) *searchindex.Index {
	tb.Helper()
	idx, err := searchindex.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = idx.Close() })
	return idx
}

// MustCatchUp waits until the indexer has applied everything in the stream.
func MustCatchUp(tb testing.TB, ix *indexer.Indexer) {
	tb.Helper()
	testenv.Eventually(tb, "the indexer to catch up", func() bool {
		ready, lag, err := ix.CaughtUp(context.Background())
		return err == nil && ready && lag == 0
	})
}

func testLog(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestApplyFailureRetries breaks the index under a running indexer: the batch is retried, never acknowledged
// or skipped, and a new indexer on the repaired index picks it up.
func TestApplyFailureRetries(t *testing.T) {
	js := testenv.JetStream(t)
	stream := testenv.Stream(t, js)
	path := filepath.Join(t.TempDir(), "idx")
	idx := MustOpen(t, path)
	ix := indexer.New(testLog(t), js, stream, idx)
	stop := testenv.Run(t, ix.Run)
	MustPublish(t, js, stream, upserted(1, 1, "One"), true)
	testenv.Eventually(t, "one change applied", func() bool { return ix.Stats().Applied == 1 })

	if err := idx.Close(); err != nil { // every Apply fails from now on
		t.Fatal(err)
	}
	MustPublish(t, js, stream, upserted(2, 1, "Two"), true)
	testenv.Eventually(t, "two retries", func() bool { return ix.Stats().Retries >= 2 })
	stop()
	if st := ix.Stats(); st.Applied != 1 || st.Batches != 1 {
		t.Errorf("stats %+v, want Applied 1, Batches 1", st)
	}

	idx = MustOpen(t, path)
	if cp, err := idx.Checkpoint(); err != nil || cp != 1 {
		t.Fatalf("Checkpoint = %d, %v; want 1: the failed batch must not move it", cp, err)
	}
	ix = indexer.New(testLog(t), js, stream, idx)
	testenv.Run(t, ix.Run)
	MustCatchUp(t, ix)
	MustHave(t, idx, map[int64]state{1: {1, false, "One"}, 2: {1, false, "Two"}})
}

// TestMetricsCountEveryIndexer reads the counters a scrape reports: they are the indexers' own counts,
// summed over every indexer given the metrics, so that they keep growing when a rebuild swaps one in.
func TestMetricsCountEveryIndexer(t *testing.T) {
	js := testenv.JetStream(t)
	stream := testenv.Stream(t, js)
	reg := prometheus.NewRegistry()
	metrics := indexer.NewMetrics(reg)

	MustPublish(t, js, stream, upserted(1, 1, "One"), true)
	MustPublish(t, js, stream, upserted(2, 1, "Two"), true)
	if _, err := js.Publish(context.Background(), stream.Subject(99), []byte(`not an event`)); err != nil {
		t.Fatal(err)
	}
	first := indexer.NewWith(testLog(t), js, stream, MustOpen(t, filepath.Join(t.TempDir(), "a")), indexer.Options{Metrics: metrics})
	testenv.Run(t, first.Run)
	testenv.Eventually(t, "the first indexer to take the stream", func() bool { s := first.Stats(); return s.Applied == 2 && s.Bad == 1 })
	wantCounters(t, reg, map[string]float64{"applied": 2, "stale": 0, "bad": 1})

	// A second indexer replays the same stream into a new index (a rebuild): its counts add to the first's.
	second := indexer.NewWith(testLog(t), js, stream, MustOpen(t, filepath.Join(t.TempDir(), "b")), indexer.Options{Metrics: metrics})
	testenv.Run(t, second.Run)
	testenv.Eventually(t, "the second indexer to take the stream", func() bool { s := second.Stats(); return s.Applied == 2 && s.Bad == 1 })
	wantCounters(t, reg, map[string]float64{"applied": 4, "stale": 0, "bad": 2})
	if s := first.Stats(); s.Applied != 2 {
		t.Errorf("first indexer's Applied = %d after the second ran, want its own 2", s.Applied)
	}
}

// wantCounters checks marquee_indexer_events_<name>_total in what reg gathers.
func wantCounters(tb testing.TB, reg *prometheus.Registry, want map[string]float64) {
	tb.Helper()
	fams, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for name := range want {
			if f.GetName() == "marquee_indexer_events_"+name+"_total" {
				got[name] = f.GetMetric()[0].GetCounter().GetValue()
			}
		}
	}
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			tb.Errorf("marquee_indexer_events_%s_total = %v (reported: %v), want %v", name, v, ok, w)
		}
	}
}
