package searchindex

// WithOptions returns a read-only view of x that searches with other options (the ranking is kept when
// o.Ranking is zero): benchmarks compare settings on one index. Never Apply to or Close the view.
func WithOptions(x *Index, o Options) *Index {
	if o.Ranking == (Ranking{}) {
		o.Ranking = x.rank
	}
	return &Index{shards: x.shards, bi: x.bi, mapping: x.mapping, rank: o.Ranking, opts: o, counts: x.counts, priors: x.priors, segCaches: newSegmentCaches(), cache: nil,
		slots: newSlots(o.SearchConcurrency)}
}

// HoldSearchSlots takes n of x's search slots, as n running searches would, until release is called.
func HoldSearchSlots(x *Index, n int) (release func()) {
	if !x.slots.TryAcquire(int64(n)) {
		panic("HoldSearchSlots: the slots are taken")
	}
	return func() { x.slots.Release(int64(n)) }
}

// AfterBatch makes f run each time a shard's batch has become searchable, before Apply returns (and
// before Apply's own bookkeeping of the batch). f may run on several shards' goroutines at once.
func AfterBatch(x *Index, f func()) { x.afterBatch = f }
