package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"marquee/pkg/events"
	"marquee/pkg/testenv"
	"marquee/services/catalog/outbox"
)

func TestRelayPrunesOnlyExpiredPublishedRows(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, true).keeping(time.Hour).run(t)
	for range 3 {
		mustCreate(t, f, "M")
	}
	f.waitDrained(t)
	mustCreate(t, f, "kept: published later")
	f.waitDrained(t)
	// The first three were published an hour ago; one row waits unpublished.
	if _, err := f.db.Exec(`UPDATE outbox SET published_at = ? WHERE id <= 3`, time.Now().UTC().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`INSERT INTO outbox (event_id, movie_id, version, payload, created_at) VALUES ('x', 99, 1, '{}', ?)`, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	n, err := f.relay.Prune(ctx, time.Now().Add(-30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d rows, want the 3 published before the cut-off", n)
	}
	var left, pending int
	if err := f.db.QueryRow(`SELECT COUNT(*), COUNT(*) - COUNT(published_at) FROM outbox`).Scan(&left, &pending); err != nil {
		t.Fatal(err)
	}
	if left != 2 || pending != 1 {
		t.Errorf("left %d rows (%d pending), want 2 (1 pending): unpublished and recent rows stay", left, pending)
	}
}

// By default a row the stream has acknowledged is deleted at once: the outbox holds what waits, not what was
// sent (which the movie's history records), so an import does not leave a copy of every movie behind.
func TestRelayKeepsNoPublishedRows(t *testing.T) {
	f := newFixture(t, true).run(t)
	a := mustCreate(t, f, "A")
	mustCreate(t, f, "B")
	f.waitDrained(t)
	var rows int
	if err := f.db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d outbox rows left after publishing, want none", rows)
	}
	if got := f.lastMsg(t, a.ID).Header.Get(jetstream.MsgIDHeader); got != events.MsgID(a.ID, 1) {
		t.Errorf("movie A's message %q, want its first version", got)
	}
}

// Rows that a relay keeping them marked published (an earlier version kept them a day) go too.
func TestRelayPrunesRowsKeptBefore(t *testing.T) {
	f := newFixture(t, false)
	if _, err := f.db.Exec(`INSERT INTO outbox (event_id, movie_id, version, payload, created_at, published_at) VALUES ('kept', 7, 1, '{}', ?, ?)`,
		time.Now().UTC().Add(-time.Hour), time.Now().UTC().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	testenv.Eventually(t, "the kept row to go", func() bool {
		var rows int
		return f.db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&rows) == nil && rows == 0
	})
}

func TestRelayMetricsMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, true)
	f.relay = outbox.NewWith(slog.New(slog.NewTextHandler(io.Discard, nil)), f.store, f.js, testStream, outbox.Options{Metrics: outbox.NewMetrics(reg)})
	f.run(t)
	for range 5 {
		mustCreate(t, f, "M")
	}
	f.waitDrained(t)
	testenv.Eventually(t, "5 published in the metrics", func() bool {
		return testutil.ToFloat64(findCounter(t, reg, "marquee_outbox_published_total")) == 5
	})
	// The backlog is counted once a second: it reaches 0 shortly after the drain.
	testenv.Eventually(t, "a backlog of 0 in the metrics", func() bool {
		return testutil.GatherAndCompare(reg, strings.NewReader("# HELP marquee_outbox_backlog Committed change events not yet acknowledged by the stream.\n# TYPE marquee_outbox_backlog gauge\nmarquee_outbox_backlog 0\n"), "marquee_outbox_backlog") == nil
	})
}

// findCounter returns the collector registered under name as a prometheus.Collector for testutil.
func findCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return gathered{reg: reg, name: name}
}

type gathered struct {
	reg  *prometheus.Registry
	name string
}

func (g gathered) Describe(chan<- *prometheus.Desc) {}

func (g gathered) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := g.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == g.name && len(mf.GetMetric()) > 0 {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.name, "", nil, nil), prometheus.UntypedValue, mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
}
