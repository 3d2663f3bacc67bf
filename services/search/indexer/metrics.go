package indexer

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"marquee/pkg/httpx"
)

// counts are what one indexer has done. They are counted once: Stats reads them, and so does a scrape of
// the Metrics the indexer was given.
type counts struct {
	received, applied, stale, bad, parked, batches, retries atomic.Uint64
}

func (c *counts) stats() Stats {
	return Stats{
		Received: c.received.Load(), Applied: c.applied.Load(), Stale: c.stale.Load(),
		Bad: c.bad.Load(), Parked: c.parked.Load(), Batches: c.batches.Load(), Retries: c.retries.Load(),
	}
}

// Metrics are the indexer's Prometheus metrics. The event counters are the sums of the counts of every
// indexer measured, so that they keep growing when a rebuild swaps in a new indexer.
type Metrics struct {
	applied, stale, bad, parked *prometheus.Desc
	batchSize, batchSeconds     prometheus.Histogram

	mu      sync.Mutex
	indexed []*counts
}

// NewMetrics registers the indexer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return httpx.Register(reg, &Metrics{
		applied: counter("marquee_indexer_events_applied_total", "Movie changes that changed the index."),
		stale:   counter("marquee_indexer_events_stale_total", "Movie changes not applied: the index held that version or a newer one."),
		bad:     counter("marquee_indexer_events_bad_total", "Messages that were not valid movie events (terminated)."),
		parked:  counter("marquee_indexer_events_deadlettered_total", "Bad messages parked on the dead-letter subject."),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marquee_indexer_batch_size", Help: "Messages per index batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marquee_indexer_batch_seconds", Help: "Time to decode, apply durably and acknowledge one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
	})
}

// measure adds an indexer's counts to the sums.
func (m *Metrics) measure(c *counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.indexed = append(m.indexed, c)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.applied
	ch <- m.stale
	ch <- m.bad
	ch <- m.parked
	m.batchSize.Describe(ch)
	m.batchSeconds.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	var sum Stats
	m.mu.Lock()
	for _, c := range m.indexed {
		s := c.stats()
		sum.Applied += s.Applied
		sum.Stale += s.Stale
		sum.Bad += s.Bad
		sum.Parked += s.Parked
	}
	m.mu.Unlock()
	for _, c := range []struct {
		desc *prometheus.Desc
		n    uint64
	}{{m.applied, sum.Applied}, {m.stale, sum.Stale}, {m.bad, sum.Bad}, {m.parked, sum.Parked}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.n))
	}
	m.batchSize.Collect(ch)
	m.batchSeconds.Collect(ch)
}
