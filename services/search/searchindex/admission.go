package searchindex

import (
	"context"
	"runtime"

	"golang.org/x/sync/semaphore"

	"marquee/pkg/apperr"
)

// Searches are CPU-bound. Running more of them at once than there are cores only interleaves them: each
// one takes longer, and every other goroutine of the process (the indexer applying a write, a catalog
// request in the all-in-one) waits for a turn behind all of them in the scheduler's run queues. So the
// index runs at most Options.SearchConcurrency searches at once and the rest wait their turn, first come
// first served.

// newSlots returns the search slots of an index with the given concurrency; 0 means GOMAXPROCS.
func newSlots(concurrency int) *semaphore.Weighted {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	return semaphore.NewWeighted(int64(concurrency))
}

// admit waits for a search slot and returns its release. When ctx is done first (the client went away, or
// its deadline passed while it waited) the error is Unavailable (503): the server is busy, not broken.
func (x *Index) admit(ctx context.Context) (release func(), err error) {
	if err := x.slots.Acquire(ctx, 1); err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "Search is busy; try again in a moment.")
	}
	return func() { x.slots.Release(1) }, nil
}
