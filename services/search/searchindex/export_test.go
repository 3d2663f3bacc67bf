package searchindex

import (
	"container/list"
	"time"
)

// WithOptions returns a read-only view of x that searches with other options (the ranking is kept when
// o.Ranking is zero): benchmarks compare settings on one index. Never Apply to or Close the view.
func WithOptions(x *Index, o Options) *Index {
	if o.Ranking == (Ranking{}) {
		o.Ranking = x.rank
	}
	return &Index{segCaches: newSegmentCaches(), shards: x.shards, bi: x.bi, mapping: x.mapping, rank: o.Ranking, opts: o, counts: x.counts, priors: x.priors, cache: nil,
		admission: newAdmission(o.SearchConcurrency, o.SearchQueue), answering: newAdmission(o.SearchConcurrency, 0)}
}

// HoldSearchSlots takes n of x's search slots, as n running searches would, until release is called.
func HoldSearchSlots(x *Index, n int) (release func()) {
	if !x.admission.slots.TryAcquire(int64(n)) {
		panic("HoldSearchSlots: the slots are taken")
	}
	return func() { x.admission.slots.Release(int64(n)) }
}

// AfterBatch makes f run each time a shard's batch has become searchable, before Apply returns (and
// before Apply's own bookkeeping of the batch). f may run on several shards' goroutines at once.
func AfterBatch(x *Index, f func()) { x.afterBatch = f }

// SegmentSizes is the number of documents (deleted ones included) of each segment of each shard.
func SegmentSizes(x *Index) [][]uint64 {
	out := make([][]uint64, len(x.shards))
	for i, bi := range x.shards {
		_, full, err := segmentSizes(bi)
		if err != nil {
			panic(err)
		}
		for _, n := range full {
			out[i] = append(out[i], uint64(n))
		}
	}
	return out
}

// WithoutMerges is o with Bleve's merge policy turned off: each batch stays a segment of its own until
// Compact.
func WithoutMerges(o Options) Options {
	// The planner merges while there are more segments than its budget, about the documents over the
	// smallest segment's (no less than the floor): the floor at one document leaves one for each.
	o.mergePlan = map[string]any{"MaxSegmentsPerTier": 1 << 20, "FloorSegmentSize": 1, "FloorSegmentFileSize": 0}
	return o
}

// WaitingSearches is how many searches wait for a slot of x.
func WaitingSearches(x *Index) int64 { return x.admission.waiting.Load() }

// WithResultCache returns a read-only view of x (see WithOptions) that answers through a result cache of
// its own, of maxBytes, staleness bound maxAge and clock now: replays compare cache policies on one index
// that x keeps applying changes to.
func WithResultCache(x *Index, maxBytes int64, maxAge time.Duration, now func() time.Time) *Index {
	v := WithOptions(x, x.opts)
	v.cache = newResultCache(maxBytes, maxAge, now)
	return v
}

// ResultCacheBytes is what x's result cache counts itself as holding, and its budget.
func ResultCacheBytes(x *Index) (held, budget int64) {
	x.cache.mu.Lock()
	defer x.cache.mu.Unlock()
	return x.cache.size, x.cache.max
}

// EmptyResultCache drops every answer x's result cache holds.
func EmptyResultCache(x *Index) {
	c := x.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.items = map[string]*list.Element{}
	c.size = 0
}
