package searchindex

import (
	"context"
	"sync"
)

// MaxScan is the most ids one Versions call looks at.
const MaxScan = 100_000

// MovieVersion is the version of one movie the index holds, and whether that version is a delete.
type MovieVersion struct {
	ID      int64
	Version int64
	Deleted bool
}

// Versions returns up to limit movies the index holds (tombstones included) with ids after afterID and at
// most untilID, in id order. It looks at MaxScan ids at most (untilID 0 means afterID+MaxScan); next is the
// last id it looked at: continue after it. Version keys are read from the index snapshot's memory, so a
// page costs microseconds per id.
func (x *Index) Versions(ctx context.Context, afterID, untilID int64, limit int) (vs []MovieVersion, next int64, err error) {
	end := afterID + MaxScan
	if untilID > 0 && untilID < end {
		end = untilID
	}
	next = afterID
	for id := afterID + 1; id <= end && len(vs) < limit; id++ {
		if id%1024 == 0 && ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		v, deleted, err := x.Version(id)
		if err != nil {
			return nil, 0, err
		}
		next = id
		if v > 0 {
			vs = append(vs, MovieVersion{ID: id, Version: v, Deleted: deleted})
		}
	}
	return vs, next, nil
}

// Changed returns a channel that is closed when the next batch has been applied: a reader waiting for a
// version takes it, checks the version, then waits on it, without polling.
func (x *Index) Changed() <-chan struct{} { return x.applied.wait() }

// notifier is a broadcast of "something changed"; its zero value is ready to use.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// Wake wakes every reader waiting on Changed, as if a batch had been applied: a caller that swaps this
// index out uses it so that waiting readers move to the new one.
func (x *Index) Wake() { x.applied.notify() }

// DocCount is the number of movies the index serves (tombstones are not documents).
func (x *Index) DocCount() (uint64, error) { return x.bi.DocCount() }
