package searchindex

import (
	"context"
	"sync"
	"time"
)

// A batch is searchable as soon as Apply returns, and durable a little later, when Bleve's persister has
// written it (with the checkpoint it carries) to disk. Waiting for the disk inside Apply, as Bleve does by
// default, kept the indexer idle for a whole fsync per batch, so each write also waited for the persists
// of the batches queued before it.
// Searchable-then-durable loses nothing: the indexer acknowledges a batch's messages only once it is
// durable, and an index that crashed before that reopens at its last durable checkpoint and reads the
// rest from the stream again.

// closeWait bounds how long Close waits for the last batches to reach the disk.
const closeWait = 30 * time.Second

// durability tracks which batches are on disk. Batches are numbered as Apply writes them. A shard persists
// its batches in order, but the shards of an index persist at their own pace, so an Apply's batches may be
// on disk before an earlier Apply's: a batch counts as durable once it and every batch before it are.
type durability struct {
	mu        sync.Mutex
	written   uint64            // the number of the last batch written
	persisted uint64            // every batch up to this number is on disk
	done      map[uint64]uint64 // batches on disk beyond persisted, with their checkpoints
	seq       uint64            // the checkpoint on disk
	changed   notifier
}

// next numbers a batch and returns its persisted-callback; seq is the checkpoint the batch makes durable,
// read when the batch is on disk (0 when it makes none). Apply calls it under applyMu, just before writing
// the batch.
func (d *durability) next(seq func() uint64) func(error) {
	d.mu.Lock()
	d.written++
	n := d.written
	d.mu.Unlock()
	return func(err error) {
		if err != nil {
			return // the persister retries, and calls again with the outcome
		}
		d.mu.Lock()
		if n <= d.persisted {
			d.mu.Unlock()
			return // told twice
		}
		if d.done == nil {
			d.done = map[uint64]uint64{}
		}
		d.done[n] = seq()
		for {
			s, ok := d.done[d.persisted+1]
			if !ok {
				break
			}
			delete(d.done, d.persisted+1)
			d.persisted++
			d.seq = max(d.seq, s)
		}
		d.mu.Unlock()
		d.changed.notify()
	}
}

// Written returns a mark of every batch Apply has written so far: WaitDurable(mark) returns once they are
// all on disk.
func (x *Index) Written() uint64 {
	x.durable.mu.Lock()
	defer x.durable.mu.Unlock()
	return x.durable.written
}

// Durable returns the checkpoint the index holds on disk: after a crash it reopens at least there.
func (x *Index) Durable() uint64 {
	x.durable.mu.Lock()
	defer x.durable.mu.Unlock()
	return x.durable.seq
}

// WaitDurable waits until every batch written up to mark (see Written) is on disk, or ctx is done.
func (x *Index) WaitDurable(ctx context.Context, mark uint64) error {
	for {
		wake := x.durable.changed.wait()
		x.durable.mu.Lock()
		done := x.durable.persisted >= mark
		x.durable.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// allPersisted calls persisted once n batches (one Apply's batches of n shards) have each called it without
// an error.
func allPersisted(n int, persisted func(error)) func(error) {
	if n == 1 {
		return persisted
	}
	var mu sync.Mutex
	left := n
	return func(err error) {
		if err != nil {
			return // the persister retries, and calls again with the outcome
		}
		mu.Lock()
		left--
		done := left == 0
		mu.Unlock()
		if done {
			persisted(nil)
		}
	}
}
