package searchindex

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/document"

	"marquee/services/search"
)

// Change is one movie change to apply: an upsert carrying the movie's full state, or a delete.
type Change struct {
	ID      int64
	Version int64
	Deleted bool
	Movie   *search.Movie // nil when Deleted
}

// Apply applies a batch of changes read from the stream up to sequence checkpoint and returns how many
// changed the index. Within the batch only the highest version of each movie counts, and it is applied only
// if it is newer than the version the index holds, so duplicates and any delivery order give the same index,
// and a late, older update never resurrects a deleted movie. The documents, the new versions and the
// checkpoint (which never moves backwards) are written in one Bleve batch: when Apply returns nil they are
// searchable together, and once WaitDurable(Written()) returns they are on disk together and the caller
// may acknowledge the messages.
func (x *Index) Apply(ctx context.Context, changes []Change, checkpoint uint64) (applied int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	latest := make(map[int64]Change, len(changes))
	order := make([]int64, 0, len(changes)) // keeps the batch deterministic
	for _, c := range changes {
		if c.ID <= 0 || c.Version <= 0 || (!c.Deleted && c.Movie == nil) {
			return 0, fmt.Errorf("apply: invalid change id=%d version=%d", c.ID, c.Version)
		}
		have, ok := latest[c.ID]
		switch {
		case !ok:
			order = append(order, c.ID)
			latest[c.ID] = c
		case c.Version > have.Version || (c.Version == have.Version && c.Deleted && !have.Deleted):
			latest[c.ID] = c // on a tie a delete wins, so no order of a bad stream can resurrect a movie
		}
	}

	x.applyMu.Lock()
	defer x.applyMu.Unlock()
	writes := make([]*shardWrite, len(x.shards))
	for i, bi := range x.shards {
		writes[i] = &shardWrite{bi: bi, delta: newFacetDelta(), rows: map[int64]priorRow{}}
	}
	for _, id := range order {
		w := writes[id%int64(len(writes))]
		w.changes = append(w.changes, latest[id])
	}
	// Each shard prepares and writes its batch in a goroutine of its own: on a sharded index the version
	// reads, the documents' encoding and analysis and the segment building of the shards run in parallel.
	// The batches carry one durability mark, reached when every shard that wrote has its part on disk.
	var failed atomic.Bool // a shard could not write: the batch does not make the checkpoint durable
	persisted := allPersisted(len(writes), x.durable.next(func() uint64 {
		if failed.Load() {
			return 0
		}
		return checkpoint
	}))
	x.counts.writeBegins()
	var wg sync.WaitGroup
	for _, w := range writes {
		wg.Go(func() { w.applied, w.written, w.err = x.applyShard(w, checkpoint, persisted) })
	}
	wg.Wait()
	for _, w := range writes {
		if w.err != nil {
			failed.Store(true) // before the last persisted call below, which may complete the mark
		}
	}
	var errs []error
	for _, w := range writes {
		if !w.written {
			persisted(nil) // nothing of it was written: nothing to wait for
		}
		if w.err != nil {
			errs = append(errs, w.err)
			continue
		}
		// What a shard holds counts, even when a sibling failed: a retry of the batch skips the movies
		// this shard already has.
		x.counts.commit(w.delta)
		applied += w.applied
	}
	x.counts.writeEnds(checkpoint, len(errs) == 0)
	x.applied.notify()
	if applied > 0 {
		x.lastChange.Store(time.Now().UnixNano())
	}
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("apply batch of %d changes: %w", len(changes), err)
	}
	return applied, nil
}

// shardWrite is one shard's part of an Apply: its changes, and what its batch changes in the in-memory
// priors (set as the batch is written) and facet counts (kept once it is).
type shardWrite struct {
	bi      bleve.Index
	changes []Change
	delta   *facetDelta
	rows    map[int64]priorRow
	applied int
	written bool // whether the batch was handed to Bleve (its persisted callback will be called)
	err     error
}

// applyShard writes the changes of w that are newer than the shard holds, and the checkpoint if it is
// ahead of the shard's, in one Bleve batch.
func (x *Index) applyShard(w *shardWrite, checkpoint uint64, persisted func(error)) (applied int, written bool, err error) {
	b := w.bi.NewBatch()
	for _, c := range w.changes {
		version, deleted, err := x.Version(c.ID)
		if err != nil {
			return 0, false, err
		}
		if c.Version <= version {
			continue
		}
		if err := x.noteChange(w.delta, c, version > 0 && !deleted); err != nil {
			return 0, false, err
		}
		key := strconv.FormatInt(c.ID, 10)
		w.rows[c.ID] = missingRow
		if c.Deleted {
			b.Delete(key)
			b.SetInternal(tombstoneKey(c.ID), binary.BigEndian.AppendUint64(nil, uint64(c.Version)))
		} else {
			d, err := x.toDoc(c.Movie)
			if err != nil {
				return 0, false, err
			}
			w.rows[c.ID] = rowOf(c.Movie)
			doc := document.NewDocument(key)
			if err := x.mapping.MapDocument(doc, d); err != nil {
				return 0, false, fmt.Errorf("apply movie %d: %w", c.ID, err)
			}
			addTextStats(doc)
			if err := b.IndexAdvanced(doc); err != nil {
				return 0, false, fmt.Errorf("apply movie %d: %w", c.ID, err)
			}
			if deleted { // a newer version brings a deleted movie back; its version now lives in the document
				b.DeleteInternal(tombstoneKey(c.ID))
			}
		}
		applied++
	}
	have, err := shardCheckpoint(w.bi)
	if err != nil {
		return 0, false, err
	}
	if checkpoint > have { // a shard's checkpoint only moves forwards
		b.SetInternal(checkpointKey, binary.BigEndian.AppendUint64(nil, checkpoint))
	}
	if b.Size() == 0 {
		return 0, false, nil
	}
	// The priors go in before the batch is searchable: the executor keeps a document's prior for the life
	// of its segment, so a search between the two would keep the old one for the new document. Until then
	// the old documents score with the new priors, which are the catalog's. A batch that fails keeps them
	// too: the stream delivers its changes again.
	for id, r := range w.rows {
		x.priors.set(id, r)
	}
	b.SetPersistedCallback(persisted)
	if err := w.bi.Batch(b); err != nil {
		return 0, false, err
	}
	if x.afterBatch != nil {
		x.afterBatch()
	}
	return applied, true, nil
}
