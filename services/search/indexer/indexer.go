// Package indexer keeps the search index current: it reads the movie change stream from the sequence after
// the index's checkpoint, applies each batch of changes to the index in one write (searchable at once), and
// acknowledges the batch only once the index has it on disk, while it applies the next ones. The checkpoint
// lives in the index itself, so the indexer needs no durable consumer:
// after a restart, a crash or the loss of its consumer it starts a new one where the index stands.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// Tuning of the consumer and the batches.
const (
	BatchSize         = 1000                   // the most messages applied in one index batch
	maxAckPending     = 4096                   // messages in flight between the server and the indexer
	ackWait           = 30 * time.Second       // above any batch's apply time, or the server redelivers
	inactiveThreshold = 5 * time.Minute        // the server removes a consumer left behind by a dead process
	drainWait         = 100 * time.Microsecond // for one more message once none is buffered: a trickle of writes waits it out each time
	pullMaxBytes      = 8 << 20                // messages buffered ahead of the indexer, in bytes
	infoMaxAge        = 200 * time.Millisecond // how long CaughtUp trusts what the server said is left
	infoTimeout       = time.Second            // the longest a lookup of it waits (a search waits for it)
	minBackoff        = 100 * time.Millisecond
	maxBackoff        = 5 * time.Second
)

// Stats count what the indexer has done since it was created.
type Stats struct {
	Received uint64 // messages read from the stream, including redeliveries and bad ones
	Applied  uint64 // changes that changed the index
	Stale    uint64 // changes not applied: older than or equal to what the index holds, or superseded in their batch
	Bad      uint64 // messages that could not be decoded; dead-lettered and terminated, never retried
	Parked   uint64 // bad messages the dead-letter stream acknowledged
	Batches  uint64 // index batches written
	Retries  uint64 // failed applies that were retried
}

// Indexer consumes one stream into one index.
type Indexer struct {
	log    *slog.Logger
	js     jetstream.JetStream
	stream events.Stream
	idx    *searchindex.Index

	counts    *counts // apart from the indexer, so that the metrics keep only them once a rebuild retires it
	metrics   *Metrics
	batchSize int
	partition int // of a partitioned stream, the one consumed, or events.AllPartitions

	mu       sync.Mutex         // guards the fields below
	cons     jetstream.Consumer // the running consumer; nil between consumers
	unacked  atomic.Int64       // messages of the running consumer applied to the index, not acknowledged yet
	left     remainder          // what the server said is left to index, as of infoAt
	infoAt   time.Time
	caughtUp bool // latched: once caught up, the index stays ready
}

// New returns an indexer of stream into idx. It does nothing until Run.
func New(log *slog.Logger, js jetstream.JetStream, stream events.Stream, idx *searchindex.Index) *Indexer {
	return NewWith(log, js, stream, idx, Options{Partition: events.AllPartitions})
}

// Options tune an indexer; zero fields take the defaults.
type Options struct {
	BatchSize int      // the most messages applied in one index batch; 0 means BatchSize
	Metrics   *Metrics // nil: not measured
	// Partition is, of a partitioned stream, the partition whose movies the index holds (a shard), or
	// events.AllPartitions; a stream that is not partitioned has one, and this is not read.
	Partition int
}

// NewWith returns an indexer of stream into idx.
func NewWith(log *slog.Logger, js jetstream.JetStream, stream events.Stream, idx *searchindex.Index, opts Options) *Indexer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = BatchSize
	}
	if !stream.Partitioned() {
		opts.Partition = events.AllPartitions
	}
	ix := &Indexer{log: log.With("component", "indexer", "stream", stream.Name), js: js, stream: stream, idx: idx,
		counts: &counts{}, metrics: opts.Metrics, batchSize: opts.BatchSize, partition: opts.Partition}
	if opts.Partition != events.AllPartitions {
		ix.log = ix.log.With("partition", opts.Partition)
	}
	if ix.metrics != nil {
		ix.metrics.measure(ix.counts)
	}
	return ix
}

// Index is the index the indexer feeds.
func (ix *Indexer) Index() *searchindex.Index { return ix.idx }

// Stats returns the counters.
func (ix *Indexer) Stats() Stats { return ix.counts.stats() }

// Run consumes the stream until ctx is done, then returns nil. A failure of NATS (the consumer is lost, the
// server restarts) or of the index is logged and retried with backoff, never skipped: the indexer always
// resumes from the index's checkpoint.
func (ix *Indexer) Run(ctx context.Context) error {
	backoff := minBackoff
	for {
		start := time.Now()
		err := ix.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = minBackoff // the last consumer worked for a while: this is a new failure
		}
		ix.log.Warn("stream consumer stopped; starting a new one", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// consume runs one consumer from the checkpoint until ctx is done or the consumer fails.
func (ix *Indexer) consume(ctx context.Context) error {
	checkpoint, err := ix.idx.Checkpoint()
	if err != nil {
		return err
	}
	st, err := ix.js.Stream(ctx, ix.stream.Name)
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", ix.stream.Name, err)
	}
	// A stream deleted and created partitioned otherwise since the service started holds its movies where
	// this consumer would not look: it would take nothing and say it had caught up.
	if err := natsx.CheckPartitions(ix.stream, st.CachedInfo()); err != nil {
		return fmt.Errorf("stream %s: %w", ix.stream.Name, err)
	}
	cfg := jetstream.ConsumerConfig{
		Description:       "marquee search indexer",
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           ackWait,
		MaxAckPending:     maxAckPending,
		FilterSubject:     ix.stream.PartitionSubjects(ix.partition),
		InactiveThreshold: inactiveThreshold,
	}
	if last := st.CachedInfo().State.LastSeq; checkpoint > last {
		// The stream is younger than the index (it was recreated): its sequences mean something else now.
		// Replaying it all is safe, the versions decide what applies.
		ix.log.Warn("index checkpoint is ahead of the stream; replaying the whole stream", "checkpoint", checkpoint, "stream_last_seq", last)
	} else if checkpoint > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = checkpoint + 1
	}
	// An ephemeral consumer: the checkpoint in the index, not the server, remembers where we are.
	cons, err := st.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("create consumer on %s: %w", ix.stream.Name, err)
	}
	name := cons.CachedInfo().Name
	ix.mu.Lock()
	ix.cons, ix.infoAt = cons, time.Time{} // a new consumer: what the last one said is left is no more
	ix.unacked.Store(0)                    // the last one's unacknowledged messages went with it
	ix.mu.Unlock()
	defer func() {
		ix.mu.Lock()
		ix.cons = nil
		ix.mu.Unlock()
		// Remove it now rather than after the inactive threshold; the context may already be done.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := st.DeleteConsumer(dctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			ix.log.Debug("delete consumer", "consumer", name, "err", err)
		}
	}()
	// One batch buffered ahead. A run of large events may still pass what the server sends a slow reader (it
	// then cuts the connection, losing what was in flight): inOrder notices, and the consumer starts again.
	it, err := cons.Messages(jetstream.PullMaxMessages(ix.batchSize), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("read consumer %s: %w", name, err)
	}
	defer it.Stop() // buffered, unacknowledged messages are dropped: a new consumer redelivers them
	// Applied batches wait here until the index has them on disk; the indexer meanwhile applies the next.
	// Under a trickle of writes a batch is one message, so the queue holds as many batches as the server
	// lets messages go unacknowledged: sized in batches of batchSize, it filled within five writes whenever
	// a persist took long (merges of a large index), and the applying, so what is searchable, waited for
	// the disk.
	queue := make(chan applied, maxAckPending)
	actx, cancel := context.WithCancel(ctx)
	acked := make(chan struct{})
	go func() { defer close(acked); ix.acknowledge(actx, queue) }()
	defer func() { cancel(); <-acked }()
	ix.log.Info("consuming", "consumer", name, "from_seq", cfg.OptStartSeq, "checkpoint", checkpoint)

	batch := make([]jetstream.Msg, 0, ix.batchSize)
	var delivered uint64 // the consumer sequence of the last message received
	for {
		batch = batch[:0]
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("next message: %w", err)
		}
		if err := inOrder(msg, &delivered); err != nil {
			return err
		}
		batch = append(batch, msg)
		for len(batch) < ix.batchSize { // take what is already buffered, without waiting for more
			msg, err := it.Next(jetstream.NextMaxWait(drainWait))
			if errors.Is(err, nats.ErrTimeout) {
				break
			}
			if err != nil {
				return fmt.Errorf("next message: %w", err)
			}
			if err := inOrder(msg, &delivered); err != nil {
				return err // the batch is not applied: the next consumer starts from the checkpoint
			}
			batch = append(batch, msg)
		}
		if err := ix.handle(ctx, batch, queue); err != nil {
			return err
		}
	}
}

// inOrder checks that msg is the consumer's next delivery. The server numbers every delivery of a consumer
// (redeliveries included) 1, 2, 3…; a jump means deliveries were lost in flight (a dropped connection) and
// would be redelivered only after the ack wait, out of order. The checkpoint must never pass them, so the
// indexer gives up this consumer, unapplied batch and all, and the next one starts from the checkpoint.
func inOrder(msg jetstream.Msg, delivered *uint64) error {
	meta, err := msg.Metadata()
	if err != nil {
		return nil // handle terminates it as bad
	}
	if got := meta.Sequence.Consumer; got != *delivered+1 {
		return fmt.Errorf("delivery %d after %d: deliveries were lost in flight; restarting from the checkpoint", got, *delivered)
	}
	*delivered = meta.Sequence.Consumer
	return nil
}

// applied is a batch applied to the index, to acknowledge once the index has it on disk.
type applied struct {
	msgs    []jetstream.Msg
	bad     []error // per message: why it could not be decoded, nil if it was
	written uint64  // the index's mark of the batches written up to this one
}

// acknowledge acknowledges each applied batch once the index has it (and every batch before) on disk, in
// order, until ctx is done. What it leaves unacknowledged is harmless: the next consumer starts from the index's
// checkpoint anyway.
func (ix *Indexer) acknowledge(ctx context.Context, queue <-chan applied) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-queue:
			if ix.idx.WaitDurable(ctx, a.written) != nil {
				return
			}
			ix.ack(ctx, a)
		}
	}
}

// handle applies one batch, retrying until it is applied or ctx is done, then queues it to be
// acknowledged once durable.
func (ix *Indexer) handle(ctx context.Context, msgs []jetstream.Msg, queue chan<- applied) error {
	ix.counts.received.Add(uint64(len(msgs)))
	changes := make([]searchindex.Change, 0, len(msgs))
	var lastSeq uint64
	start := time.Now()
	bad := make([]error, len(msgs))
	for i, msg := range msgs {
		meta, err := msg.Metadata()
		if err != nil {
			bad[i] = fmt.Errorf("no metadata: %w", err)
			ix.log.Error("bad message: no metadata; terminated", "subject", msg.Subject(), "err", err)
			continue
		}
		lastSeq = max(lastSeq, meta.Sequence.Stream)
		c, err := ix.decode(msg)
		if err != nil {
			// A bad event must never block the stream: it is counted, terminated, and its sequence still
			// moves the checkpoint. The catalog's reconciler republishes the movie's true state.
			bad[i] = err
			ix.log.Error("bad event; dead-lettered", "subject", msg.Subject(), "seq", meta.Sequence.Stream, "err", err)
			continue
		}
		changes = append(changes, c)
	}

	backoff := minBackoff
	for {
		n, err := ix.idx.Apply(ctx, changes, lastSeq)
		if err == nil {
			ix.counts.applied.Add(uint64(n))
			ix.counts.stale.Add(uint64(len(changes) - n))
			ix.counts.batches.Add(1)
			if m := ix.metrics; m != nil {
				m.batchSize.Observe(float64(len(msgs)))
				m.batchSeconds.Observe(time.Since(start).Seconds())
			}
			break
		}
		if ctx.Err() != nil {
			return ctx.Err() // not applied: not acknowledged, the next consumer redelivers it
		}
		ix.counts.retries.Add(1)
		ix.log.Error("apply batch failed; retrying", "messages", len(msgs), "last_seq", lastSeq, "err", err, "in", backoff)
		for _, m := range msgs {
			_ = m.InProgress() // keep the server from redelivering what we still hold
		}
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}

	ix.unacked.Add(int64(len(msgs)))
	select {
	case queue <- applied{msgs: slices.Clone(msgs), bad: bad, written: ix.idx.Written()}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ack acknowledges a durable batch: each good message, and each bad one after parking it.
func (ix *Indexer) ack(ctx context.Context, a applied) {
	for i, m := range a.msgs {
		var err error
		if a.bad[i] != nil {
			ix.counts.bad.Add(1)
			ix.deadLetter(ctx, m, a.bad[i])
			err = m.Term()
		} else {
			err = m.Ack()
		}
		if err != nil {
			// The index already holds the batch and its checkpoint: a lost ack costs a harmless redelivery.
			ix.log.Debug("ack", "subject", m.Subject(), "err", err)
		}
	}
	ix.unacked.Add(-int64(len(a.msgs)))
}

// deadLetter parks a bad message on <prefix>.deadletter.movie.<id> (outside the stream's subjects, in the
// dead-letter stream) with headers naming the reason, the stream, the sequence and the subject. A failure
// is logged and counted, never retried: a bad message must not block the rest, and the reconciler
// republishes the movie's true state anyway.
func (ix *Indexer) deadLetter(ctx context.Context, m jetstream.Msg, reason error) {
	id := "unknown"
	if subj := m.Subject(); strings.HasPrefix(subj, ix.stream.Prefix+".movie.") {
		id = subj[strings.LastIndexByte(subj, '.')+1:]
	}
	out := nats.NewMsg(ix.stream.DeadLetterSubject(id))
	out.Data = m.Data()
	out.Header.Set(events.HeaderDeadLetterReason, truncate(reason.Error(), 1024))
	out.Header.Set(events.HeaderDeadLetterStream, ix.stream.Name)
	out.Header.Set(events.HeaderDeadLetterSubject, m.Subject())
	if meta, err := m.Metadata(); err == nil {
		out.Header.Set(events.HeaderDeadLetterSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := ix.js.PublishMsg(pctx, out); err != nil {
		ix.log.Error("dead-letter publish failed; the bad message is only logged", "subject", m.Subject(), "err", err)
		return
	}
	ix.counts.parked.Add(1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// decode turns a message into a change, checking that it is a valid event about the movie its subject names.
func (ix *Indexer) decode(msg jetstream.Msg) (searchindex.Change, error) {
	e, err := events.Unmarshal(msg.Data())
	if err != nil {
		return searchindex.Change{}, err
	}
	if want := ix.stream.StoredSubject(e.ID); msg.Subject() != want {
		return searchindex.Change{}, fmt.Errorf("event of movie %d on subject %s, want %s", e.ID, msg.Subject(), want)
	}
	c := searchindex.Change{ID: e.ID, Version: e.Version, Deleted: e.Deleted()}
	if !c.Deleted {
		m := search.Movie(*e.Movie)
		c.Movie = &m
	}
	return c, nil
}

// CaughtUp reports whether the index has applied everything the stream (its partition) held when last
// asked (at most 200 ms ago), and how many events it lags (an upper bound: the stream keeps only the last
// event of each movie). Once caught up it stays caught up; when the stream cannot be asked the error says
// so, and the lag is unknown (0).
func (ix *Indexer) CaughtUp(ctx context.Context) (bool, uint64, error) {
	checkpoint, err := ix.idx.Checkpoint()
	if err != nil {
		return false, 0, err
	}
	r, err := ix.remaining(ctx)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err != nil {
		return ix.caughtUp, 0, err
	}
	lag := r.lag(checkpoint)
	if lag == 0 {
		ix.caughtUp = true
	}
	return ix.caughtUp, lag, nil
}

// Behind is how many events the index lags what the indexer consumes, asked of the server now (0: caught
// up). A new index follows its indexer with it until it has caught up.
func (ix *Indexer) Behind(ctx context.Context) (uint64, error) {
	checkpoint, err := ix.idx.Checkpoint()
	if err != nil {
		return 0, err
	}
	r, err := ix.ask(ctx)
	if err != nil {
		return 0, err
	}
	return r.lag(checkpoint), nil
}

// remainder is what is left to index. Reading the whole stream, the index has caught up at the stream's
// last sequence. Reading one partition it cannot tell that way: the stream's last sequence is mostly the
// other partitions', and the last message of its own costs the server a walk of every subject of the
// partition. Its consumer says instead how many of its messages it has not delivered yet, and how many it
// delivered that are not acknowledged: those the indexer has not applied are left.
type remainder struct {
	last      uint64 // the stream's last sequence (whole stream)
	consumer  bool   // the rest is the consumer's (one partition)
	pending   uint64 // its messages not delivered yet
	unapplied uint64 // delivered and not applied
}

// lag is how many events an index at checkpoint lags: 0 once caught up.
func (r remainder) lag(checkpoint uint64) uint64 {
	switch {
	case r.consumer:
		return r.pending + r.unapplied
	case r.last > checkpoint:
		return r.last - checkpoint
	default:
		return 0
	}
}

// errNoConsumer says that a partition's indexer has no consumer to ask yet (it is starting one).
var errNoConsumer = errors.New("the stream consumer is starting")

// ask asks the server what is left.
func (ix *Indexer) ask(ctx context.Context) (remainder, error) {
	if ix.partition == events.AllPartitions {
		st, err := ix.js.Stream(ctx, ix.stream.Name)
		if err != nil {
			return remainder{}, fmt.Errorf("stream info %s: %w", ix.stream.Name, err)
		}
		return remainder{last: st.CachedInfo().State.LastSeq}, nil
	}
	ix.mu.Lock()
	cons := ix.cons
	ix.mu.Unlock()
	if cons == nil {
		return remainder{}, errNoConsumer
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return remainder{}, fmt.Errorf("consumer info on %s: %w", ix.stream.Name, err)
	}
	// Read after the server's answer: an acknowledgement between the two makes the rest seem larger, never
	// smaller.
	applied := max(ix.unacked.Load(), 0)
	return remainder{consumer: true, pending: info.NumPending, unapplied: uint64(max(int64(info.NumAckPending)-applied, 0))}, nil
}

// remaining is ask's answer, asked of the server at most every infoMaxAge. Searches ask it for the lag they
// report, so it never waits on a NATS that is away: without a connection it fails at once, and a lookup
// waits at most infoTimeout.
func (ix *Indexer) remaining(ctx context.Context) (remainder, error) {
	ix.mu.Lock()
	if time.Since(ix.infoAt) < infoMaxAge {
		defer ix.mu.Unlock()
		return ix.left, nil
	}
	ix.mu.Unlock()
	if nc := ix.js.Conn(); nc != nil && !nc.IsConnected() {
		return remainder{}, fmt.Errorf("stream info %s: %w", ix.stream.Name, nats.ErrConnectionClosed)
	}
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	r, err := ix.ask(ctx)
	if err != nil {
		return remainder{}, err
	}
	ix.mu.Lock()
	ix.left, ix.infoAt = r, time.Now()
	ix.mu.Unlock()
	return r, nil
}

// sleep waits d or until ctx is done; it reports whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
