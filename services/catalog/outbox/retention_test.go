package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"marquee/services/catalog/outbox"
)

func TestRelayPrunesOnlyExpiredPublishedRows(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, true).run(t)
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
	if _, err := f.db.Exec(`INSERT INTO outbox (event_id, movie_id, version, subject, payload, created_at) VALUES ('x', 99, 1, 's', '{}', ?)`, time.Now().UTC()); err != nil {
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

func TestRelayMetricsMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, true)
	f.relay = outbox.NewWith(slog.New(slog.NewTextHandler(io.Discard, nil)), f.store, f.js, testStream, outbox.Options{Metrics: outbox.NewMetrics(reg)})
	f.run(t)
	for range 5 {
		mustCreate(t, f, "M")
	}
	f.waitDrained(t)
	waitFor(t, "5 published in the metrics", func() bool {
		return testutil.ToFloat64(findCounter(t, reg, "marquee_outbox_published_total")) == 5
	})
	// The backlog is counted once a second: it reaches 0 shortly after the drain.
	waitFor(t, "a backlog of 0 in the metrics", func() bool {
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
