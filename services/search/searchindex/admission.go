package searchindex

import (
	"context"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"marquee/pkg/apperr"
)

// Searches are CPU-bound. Running more of them at once than there are cores only interleaves them: each
// one takes longer, and every other goroutine of the process (the indexer applying a write, a catalog
// request in the all-in-one) waits for a turn behind all of them in the scheduler's run queues. So the
// index runs at most Options.SearchConcurrency searches at once and the rest wait their turn, first come
// first served; but only Options.SearchQueue of them. Beyond that a search is refused at once (503, with
// Retry-After): a queue without a bound grows for as long as searches come faster than the cores answer
// them, every answer comes later than the one before, and the process's memory goes to requests whose
// clients have long given up.

// queuePerSlot is the default bound of the waiting searches, per search slot: at the bench's few
// milliseconds a search, a wait of tens of milliseconds.
const queuePerSlot = 16

// admission is the search slots and the queue of the searches waiting for one.
type admission struct {
	slots   *semaphore.Weighted
	waiting atomic.Int64
	queue   int64
}

// newAdmission returns the admission of an index with the given concurrency (0 means GOMAXPROCS) and queue
// (0 means queuePerSlot a slot).
func newAdmission(concurrency, queue int) *admission {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	if queue <= 0 {
		queue = queuePerSlot * concurrency
	}
	return &admission{slots: semaphore.NewWeighted(int64(concurrency)), queue: int64(queue)}
}

// admit waits for a search slot and returns its release. A search that finds the queue full is refused at
// once, and one whose ctx is done first (the client went away, or its deadline passed while it waited)
// gives up; both errors are Unavailable (503): the server is busy, not broken.
func (x *Index) admit(ctx context.Context) (release func(), err error) { return x.admission.enter(ctx) }

// enter waits for one of a's slots; see admit.
func (a *admission) enter(ctx context.Context) (release func(), err error) {
	if a.slots.TryAcquire(1) {
		return func() { a.slots.Release(1) }, nil
	}
	if a.waiting.Add(1) > a.queue {
		a.waiting.Add(-1)
		return nil, apperr.Errorf(apperr.Unavailable, "Search is busy: %d searches are waiting already; try again in a moment.", a.queue)
	}
	defer a.waiting.Add(-1)
	if err := a.slots.Acquire(ctx, 1); err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "Search is busy; try again in a moment.")
	}
	return func() { a.slots.Release(1) }, nil
}
