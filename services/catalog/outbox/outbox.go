// Package outbox is the relay that publishes the catalog's committed change events to JetStream. It scans
// the unpublished outbox rows in id order (never a high-water cursor, since ids are assigned at insert and
// rows commit out of id order), publishes a batch of them asynchronously, each with its deterministic
// message id, waits for every acknowledgement of the batch, then marks the acknowledged rows published in one
// statement. A row is never skipped and never marked without an acknowledgement, with one exception: of a
// movie's rows in one batch only the last is sent, and the earlier ones are marked with it (the stream keeps
// only a movie's last event, each event carries the whole movie, and an earlier one sent again could replace
// a later one; see latestPerMovie). On an error the relay publishes the failed rows again, one at a time and
// in order, and backs off; a row published twice is dropped by the server's duplicate window. A published row
// is deleted at once, unless it is kept for a retention period (Options.Retention, for audits) or for the
// stream's unsynced interval: a relay whose stream server syncs to disk on an interval rather than on every
// write publishes the rows of that last interval again when it starts (Options.Republish), since a crash of
// the machine may have taken them from the stream after it acknowledged them. Kept rows are deleted in small
// batches once their time is up. The movie's history, not the outbox, is the record of its changes.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
)

// Relay tunables.
const (
	DefaultBatchSize = 1000
	PollInterval     = 200 * time.Millisecond
	PublishTimeout   = 10 * time.Second
	maxBackoff       = 5 * time.Second
	pruneBatch       = 500
	backlogEvery     = time.Second
)

// Options tune a relay; zero fields take the defaults.
type Options struct {
	BatchSize  int           // rows read, published and marked at a time; 0 means DefaultBatchSize
	Retention  time.Duration // how long published rows are kept at least; 0: deleted at once (but see Republish)
	PerMessage bool          // publish one message at a time, waiting for each ack (the old path; benchmarks)
	// Republish is how far back from its last publication, when it starts, the relay publishes again what it
	// had published: at least what the stream's server may acknowledge without having it on disk (its sync
	// interval), and less than its duplicate window, which drops the events it kept. 0: nothing (a server
	// that syncs every write). Published rows are kept at least this long, for it.
	Republish time.Duration
	Metrics   *Metrics // nil: not measured
}

// Metrics are the relay's Prometheus metrics.
type Metrics struct {
	backlog   prometheus.Gauge
	published prometheus.Counter
	errors    prometheus.Counter
	pruned    prometheus.Counter
	batch     prometheus.Histogram
}

// NewMetrics registers the relay's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		backlog: httpx.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "marquee_outbox_backlog", Help: "Committed change events not yet acknowledged by the stream."})),
		published: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_outbox_published_total", Help: "Change events settled: acknowledged by the stream, or superseded by a later event of the movie in the same batch."})),
		errors: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_outbox_relay_errors_total", Help: "Relay passes that failed and were retried."})),
		pruned: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_outbox_pruned_total", Help: "Published outbox rows deleted after the retention period."})),
		batch: httpx.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marquee_outbox_publish_batch_seconds", Help: "Time to publish and mark one batch of events.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)})),
	}
}

// Relay publishes outbox rows to a stream.
type Relay struct {
	log    *slog.Logger
	store  catalog.OutboxStore
	js     jetstream.JetStream
	stream events.Stream
	opts   Options

	kick      chan struct{}
	drained   atomic.Bool
	published atomic.Int64
	backlog   atomic.Int64
	backlogAt time.Time
	prunedAt  time.Time
}

// New returns a relay from store to the stream via js with the default options.
func New(log *slog.Logger, store catalog.OutboxStore, js jetstream.JetStream, stream events.Stream) *Relay {
	return NewWith(log, store, js, stream, Options{})
}

// NewWith returns a relay from store to the stream via js.
func NewWith(log *slog.Logger, store catalog.OutboxStore, js jetstream.JetStream, stream events.Stream, opts Options) *Relay {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	opts.Retention = max(opts.Retention, opts.Republish, 0)
	return &Relay{log: log, store: store, js: js, stream: stream, opts: opts, kick: make(chan struct{}, 1)}
}

// Kick wakes the relay after a commit, without waiting; a kick while one is pending is merged with it.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Drained reports whether the relay has, since it started, found no unpublished row left behind: the
// backlog that existed at start has reached the stream.
func (r *Relay) Drained() bool { return r.drained.Load() }

// Published is how many events this relay has had acknowledged since it started.
func (r *Relay) Published() int64 { return r.published.Load() }

// Backlog counts the unpublished events.
func (r *Relay) Backlog(ctx context.Context) (int64, error) { return r.store.Backlog(ctx) }

// LastBacklog is the backlog as the relay last counted it (at most a second ago while it runs).
func (r *Relay) LastBacklog() int64 { return r.backlog.Load() }

// Run relays until ctx is done, then returns nil. Errors are logged and retried with backoff, never
// returned: the outbox keeps every event until the stream has it.
func (r *Relay) Run(ctx context.Context) error {
	var backoff time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	republished := r.opts.Republish <= 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-r.kick:
		}
		var full bool
		err := r.republish(ctx, &republished)
		if err == nil {
			full, err = r.relayBatch(ctx)
		}
		r.housekeeping(ctx, republished)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if r.opts.Metrics != nil {
				r.opts.Metrics.errors.Inc()
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), maxBackoff)
			r.log.Warn("outbox relay failed; retrying", "err", err, "retry_in", backoff)
			resetTimer(timer, backoff)
			continue
		}
		backoff = 0
		if full {
			resetTimer(timer, 0) // more rows wait: go on at once
			continue
		}
		if !r.drained.Swap(true) {
			r.log.Info("outbox drained", "published", r.published.Load())
		}
		resetTimer(timer, PollInterval)
	}
}

// republish marks each movie's last row of the last Republish interval of publications unpublished, once,
// before the relay publishes anything: they go out again first, in id order, before any newer row of the
// same movie. The interval ends at the last publication, not at this start: a machine that crashed comes
// back minutes later, and the stream's unsynced second is the one before the crash.
func (r *Relay) republish(ctx context.Context, done *bool) error {
	if *done {
		return nil
	}
	last, err := r.store.LastPublished(ctx)
	if err != nil {
		return err
	}
	if last.IsZero() {
		*done = true
		return nil
	}
	since := last.Add(-r.opts.Republish)
	n, err := r.store.UnmarkPublished(ctx, since)
	if err != nil {
		return err
	}
	*done = true
	if n > 0 {
		r.log.Info("publishing again the events of the stream's unsynced interval", "events", n, "since", since.UTC())
	}
	return nil
}

// housekeeping counts the backlog (every second) and prunes expired published rows: twice a retention period,
// at least every second and at most every minute; once a minute when none are kept, for the rows a relay
// that kept them left behind. It prunes nothing until the rows to publish again are marked (republished): a
// start minutes after a crash finds every kept row expired, the ones the stream may have lost among them.
func (r *Relay) housekeeping(ctx context.Context, republished bool) {
	now := time.Now()
	if now.Sub(r.backlogAt) >= backlogEvery {
		r.backlogAt = now
		if n, err := r.store.Backlog(ctx); err == nil {
			r.backlog.Store(n)
			if r.opts.Metrics != nil {
				r.opts.Metrics.backlog.Set(float64(n))
			}
		}
	}
	every := time.Minute
	if r.opts.Retention > 0 {
		every = min(max(r.opts.Retention/2, time.Second), time.Minute)
	}
	if republished && now.Sub(r.prunedAt) >= every {
		r.prunedAt = now
		if n, err := r.Prune(ctx, now.Add(-r.opts.Retention)); err != nil && ctx.Err() == nil {
			r.log.Warn("prune published outbox rows", "err", err)
		} else if n > 0 {
			r.log.Info("pruned published outbox rows", "rows", n, "retention", r.opts.Retention)
		}
	}
}

// Prune deletes the rows published before before, in small batches so that no statement holds many locks.
func (r *Relay) Prune(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := r.store.PrunePublished(ctx, before, pruneBatch)
		total += n
		if r.opts.Metrics != nil {
			r.opts.Metrics.pruned.Add(float64(n))
		}
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select { // drop a stale tick (harmless since Go 1.23 timers, kept for clarity)
	case <-t.C:
	default:
	}
	t.Reset(d)
}

// relayBatch publishes one batch of pending rows and marks the acknowledged ones. full reports that the
// batch was full, so more rows may wait.
func (r *Relay) relayBatch(ctx context.Context) (full bool, err error) {
	start := time.Now()
	rows, err := r.store.PendingEvents(ctx, r.opts.BatchSize)
	if err != nil {
		return false, err
	}
	if len(rows) == 0 {
		return false, nil
	}
	rows, acked := latestPerMovie(rows)
	var sent []int64
	var pubErr error
	if r.opts.PerMessage {
		sent, pubErr = r.publishInOrder(ctx, rows)
	} else {
		sent, pubErr = r.publishAsync(ctx, rows)
	}
	acked = append(acked, sent...)
	if len(acked) > 0 {
		// Mark even after a context cancel, so that a shutdown does not republish what was acknowledged.
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), PublishTimeout)
		defer cancel()
		if err := r.settle(markCtx, acked); err != nil {
			return false, err
		}
		r.published.Add(int64(len(acked)))
		if m := r.opts.Metrics; m != nil {
			m.published.Add(float64(len(acked)))
			m.batch.Observe(time.Since(start).Seconds())
		}
	}
	if pubErr != nil {
		return false, pubErr
	}
	return len(rows) == r.opts.BatchSize, nil
}

// settle marks the acknowledged rows published, or deletes them if none are kept.
func (r *Relay) settle(ctx context.Context, ids []int64) error {
	if r.opts.Retention > 0 {
		return r.store.MarkPublished(ctx, ids)
	}
	return r.store.DeletePublished(ctx, ids)
}

// publishAsync publishes rows without waiting between them, then waits for every acknowledgement. The
// server handles one connection's messages in order, so per-movie order is kept. Rows whose publication
// failed are published again one at a time, in order (publishInOrder). It returns the ids to mark.
func (r *Relay) publishAsync(ctx context.Context, rows []catalog.OutboxEvent) ([]int64, error) {
	futures := make([]jetstream.PubAckFuture, len(rows))
	for i, row := range rows {
		f, err := r.js.PublishAsync(r.stream.Subject(row.MovieID), row.Payload, jetstream.WithMsgID(row.EventID),
			jetstream.WithExpectStream(r.stream.Name))
		if err != nil {
			break // the rest stay nil: failed, published again below
		}
		futures[i] = f
	}
	timeout := time.NewTimer(PublishTimeout)
	defer timeout.Stop()
	ok := make([]bool, len(rows))
	var firstErr error
wait:
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			ok[i] = true
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("publish %s: %w", rows[i].EventID, err)
			}
		case <-timeout.C:
			firstErr = errors.New("publish: timed out waiting for acknowledgements")
			break wait // the rest count as failed; a late ack only makes the republish a duplicate
		case <-ctx.Done():
			break wait
		}
	}
	acked := make([]int64, 0, len(rows))
	var failed []catalog.OutboxEvent
	for i, row := range rows {
		if ok[i] {
			acked = append(acked, row.ID)
		} else {
			failed = append(failed, row)
		}
	}
	if len(failed) == 0 {
		return acked, nil
	}
	if ctx.Err() != nil {
		return acked, ctx.Err()
	}
	r.log.Warn("async publish failed for part of a batch; publishing those rows one by one", "failed", len(failed), "of", len(rows), "err", firstErr)
	more, err := r.publishInOrder(ctx, failed)
	return append(acked, more...), err
}

// latestPerMovie splits a batch into the rows to send, each movie's last, and the ids of the earlier rows of
// the same movies, to be marked published without being sent. The stream keeps only a movie's last event
// and every event carries the movie's whole state, so the last one is all it needs. Sending an earlier one
// can do harm: when a later event of the movie is stored but its acknowledgement lost (a stream leader
// that fails over mid-batch), the earlier one, sent again, replaces it, and the later one, sent again, is
// dropped as a duplicate, leaving the stream on a stale state.
func latestPerMovie(rows []catalog.OutboxEvent) (send []catalog.OutboxEvent, superseded []int64) {
	last := make(map[int64]int64, len(rows)) // movie → its last row's outbox id
	for _, row := range rows {
		last[row.MovieID] = max(last[row.MovieID], row.ID)
	}
	send = make([]catalog.OutboxEvent, 0, len(last))
	for _, row := range rows {
		if row.ID == last[row.MovieID] {
			send = append(send, row)
		} else {
			superseded = append(superseded, row.ID)
		}
	}
	return send, superseded
}

// publishInOrder publishes rows one at a time, each waiting for its acknowledgement, and stops at the first
// failure, so that the rows after it are sent again in order.
func (r *Relay) publishInOrder(ctx context.Context, rows []catalog.OutboxEvent) ([]int64, error) {
	acked := make([]int64, 0, len(rows))
	for _, row := range rows {
		if err := r.publish(ctx, row); err != nil {
			return acked, err
		}
		acked = append(acked, row.ID)
	}
	return acked, nil
}

func (r *Relay) publish(ctx context.Context, row catalog.OutboxEvent) error {
	pubCtx, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	// The stream decides the subject, so that rows written under another prefix still land in it.
	_, err := r.js.Publish(pubCtx, r.stream.Subject(row.MovieID), row.Payload, jetstream.WithMsgID(row.EventID),
		jetstream.WithExpectStream(r.stream.Name))
	if err != nil {
		return fmt.Errorf("publish %s: %w", row.EventID, err)
	}
	return nil
}
