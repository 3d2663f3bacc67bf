package indexer

import (
	"github.com/prometheus/client_golang/prometheus"

	"marquee/pkg/httpx"
)

// Metrics are the indexer's Prometheus metrics.
type Metrics struct {
	applied, stale, bad, parked prometheus.Counter
	batchSize, batchSeconds     prometheus.Histogram
}

// NewMetrics registers the indexer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		applied: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_indexer_events_applied_total", Help: "Movie changes that changed the index."})),
		stale: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_indexer_events_stale_total", Help: "Movie changes not applied: the index held that version or a newer one."})),
		bad: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_indexer_events_bad_total", Help: "Messages that were not valid movie events (terminated)."})),
		parked: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_indexer_events_deadlettered_total", Help: "Bad messages parked on the dead-letter subject."})),
		batchSize: httpx.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marquee_indexer_batch_size", Help: "Messages per index batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}})),
		batchSeconds: httpx.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marquee_indexer_batch_seconds", Help: "Time to decode, apply durably and acknowledge one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)})),
	}
}
