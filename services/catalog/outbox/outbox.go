// Package outbox is the relay that publishes the catalog's committed change events to JetStream. It scans
// the unpublished outbox rows in id order (never a high-water cursor, since ids are assigned at insert and
// rows commit out of id order), publishes each with its deterministic message id and waits for the stream's
// acknowledgement, then marks the acknowledged rows published. A row is never skipped: on an error the
// relay backs off and retries it; a row published twice is dropped by the server's duplicate window.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/services/catalog"
)

// Store is what the relay needs of the catalog store.
type Store interface {
	PendingEvents(ctx context.Context, limit int) ([]catalog.OutboxEvent, error)
	MarkPublished(ctx context.Context, ids []int64) error
	Backlog(ctx context.Context) (int64, error)
}

// Relay tunables.
const (
	BatchSize      = 256
	PollInterval   = 200 * time.Millisecond
	PublishTimeout = 10 * time.Second
	maxBackoff     = 5 * time.Second
)

// Relay publishes outbox rows to a stream.
type Relay struct {
	log    *slog.Logger
	store  Store
	js     jetstream.JetStream
	stream events.Stream

	kick      chan struct{}
	drained   atomic.Bool
	published atomic.Int64
}

// New returns a relay from store to the stream via js.
func New(log *slog.Logger, store Store, js jetstream.JetStream, stream events.Stream) *Relay {
	return &Relay{log: log, store: store, js: js, stream: stream, kick: make(chan struct{}, 1)}
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

// Run relays until ctx is done, then returns nil. Errors are logged and retried with backoff, never
// returned: the outbox keeps every event until the stream has it.
func (r *Relay) Run(ctx context.Context) error {
	var backoff time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-r.kick:
		}
		full, err := r.relayBatch(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
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

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select { // drop a stale tick (harmless since Go 1.23 timers, kept for clarity)
	case <-t.C:
	default:
	}
	t.Reset(d)
}

// relayBatch publishes one batch of pending rows in order and marks the acknowledged ones. full reports
// that the batch was full, so more rows may wait.
func (r *Relay) relayBatch(ctx context.Context) (full bool, err error) {
	rows, err := r.store.PendingEvents(ctx, BatchSize)
	if err != nil {
		return false, err
	}
	acked := make([]int64, 0, len(rows))
	var pubErr error
	for _, row := range rows {
		if pubErr = r.publish(ctx, row); pubErr != nil {
			break // stop at the first failure: later rows of the same movie must not overtake it
		}
		acked = append(acked, row.ID)
	}
	if len(acked) > 0 {
		// Mark even after a context cancel, so that a shutdown does not republish what was acknowledged.
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), PublishTimeout)
		defer cancel()
		if err := r.store.MarkPublished(markCtx, acked); err != nil {
			return false, err
		}
		r.published.Add(int64(len(acked)))
	}
	if pubErr != nil {
		return false, pubErr
	}
	return len(rows) == BatchSize, nil
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
