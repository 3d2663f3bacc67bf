package searchindex

import (
	"context"
	"runtime"
	"sync"
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
// clients have long given up. A shard's search leaves its slot while it waits for its peers (see
// searchSlot); the searches in progress, running or waiting for either, stay at most SearchConcurrency +
// SearchQueue all the same.

// queuePerSlot is the default bound of the waiting searches, per search slot: at the bench's few
// milliseconds a search, a wait of tens of milliseconds.
const queuePerSlot = 16

// admission is the search slots and the queue of the searches waiting for one.
type admission struct {
	slots   *semaphore.Weighted
	waiting atomic.Int64 // for a slot
	active  atomic.Int64 // admitted searches in progress (admitSearch), running or waiting for their peers
	queue   int64
	limit   int64 // of active: the slots and the queue
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
	return &admission{slots: semaphore.NewWeighted(int64(concurrency)), queue: int64(queue), limit: int64(concurrency + queue)}
}

// enter waits for one of a's slots and returns its release. A search that finds the queue full is refused
// at once, and one whose ctx is done first (the client went away, or its deadline passed while it waited)
// gives up; both errors are Unavailable (503): the server is busy, not broken.
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

// A shard's search waits for its peers' answers, a round trip at a time; its slot is for this process's
// cores, which the wait does not use. So a search leaves its slot while it waits for its peers (Index.ask)
// and takes one again, in turn, when they have answered: another search runs meanwhile.

// searchSlot is a search's hold on a slot of its index's admission. The search's other goroutines (its
// facet groups) go on while one of them waits for the peers without the slot: one search, several cores
// for a moment, as when it holds its slot.
type searchSlot struct {
	a       *admission
	mu      sync.Mutex
	waiting int  // the search's goroutines waiting for its peers
	held    bool // the search holds its slot: false while every goroutine of it that asks waits
	taking  bool // one of its goroutines is taking the slot back
	done    bool // the search has ended: a goroutine of it still asking takes no slot
}

type searchSlotKey struct{}

// admitSearch waits for a search slot (see enter): its context lets Index.ask leave the slot while the peers
// answer.
// Call release when the search is done.
func (x *Index) admitSearch(ctx context.Context) (context.Context, func(), error) {
	a := x.admission
	if a.active.Add(1) > a.limit {
		a.active.Add(-1)
		return ctx, nil, apperr.Errorf(apperr.Unavailable, "Search is busy: %d searches are in progress already; try again in a moment.", a.limit)
	}
	release, err := a.enter(ctx)
	if err != nil {
		a.active.Add(-1)
		return ctx, nil, err
	}
	s := &searchSlot{a: a, held: true}
	return context.WithValue(ctx, searchSlotKey{}, s), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.done = true
		if s.held {
			s.held = false
			release()
		}
		a.active.Add(-1)
	}, nil
}

func slotOf(ctx context.Context) *searchSlot {
	s, _ := ctx.Value(searchSlotKey{}).(*searchSlot)
	return s
}

// leave gives the slot up while one of the search's goroutines waits for its peers (s may be nil).
func (s *searchSlot) leave() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting++
	if s.held && !s.done {
		s.held = false
		s.a.slots.Release(1)
	}
}

// back takes the slot again, in turn with the searches waiting for one, once no goroutine of the search
// waits for its peers. A goroutine that comes back while another is taking the slot goes on meanwhile.
func (s *searchSlot) back(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.waiting--
	if s.waiting > 0 || s.held || s.taking || s.done {
		s.mu.Unlock()
		return nil
	}
	s.taking = true
	s.mu.Unlock()
	err := s.a.slots.Acquire(ctx, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taking = false
	switch {
	case err != nil:
		return apperr.Wrap(err, apperr.Unavailable, "Search is busy; try again in a moment.")
	case s.done: // the search ended meanwhile
		s.a.slots.Release(1)
	default:
		s.held = true
	}
	return nil
}
