package searchsvc

import (
	"context"
	"slices"
	"time"

	"marquee/services/search/searchindex"
)

// compactWhenIdle merges the live index's segments (searchindex.Index.Compact: fewer segments make every
// search cheaper) each time it has taken no change for cfg.CompactAfter and a shard has more than two;
// until ctx is done. Writes that come meanwhile go into segments of their own. It tries once per state of
// the index: one that a compaction could not bring down to two segments a shard waits for its next change.
// It prepares the index's segments for searches first and after each compaction
// (searchindex.Index.Warm).
func (s *Service) compactWhenIdle(ctx context.Context) {
	s.warm(ctx)
	idle := s.cfg.CompactAfter
	if idle <= 0 {
		return
	}
	tick := time.NewTicker(max(idle/4, 50*time.Millisecond))
	defer tick.Stop()
	var tried time.Time // the LastChange of the index last compacted
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		x, done := s.live.get()
		done() // a compaction takes minutes at millions of movies: a rebuild's swap must not wait for it
		changed := x.LastChange()
		if time.Since(changed) < idle || changed.Equal(tried) {
			continue
		}
		before, err := x.Segments()
		if err != nil || slices.Max(before) <= 2 {
			continue
		}
		tried = changed
		start := time.Now()
		s.log.Info("compacting the search index", "segments", before)
		if err := x.Compact(ctx); err != nil {
			if ctx.Err() == nil && s.isLive(x) { // else closed by a rebuild or by shutting down
				s.log.Warn("compacting the search index failed; retrying in a minute", "err", err)
				tried = time.Time{}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Minute):
				}
			}
			continue
		}
		after, _ := x.Segments()
		s.log.Info("compacted the search index", "segments", after, "took", time.Since(start).Round(time.Millisecond))
		s.warm(ctx)
	}
}

func (s *Service) warm(ctx context.Context) {
	x, done := s.live.get()
	done()
	if err := x.Warm(ctx); err != nil && ctx.Err() == nil && s.isLive(x) {
		s.log.Warn("preparing the index's segments for searches failed; searches prepare them as they go", "err", err)
	}
}

// isLive says whether x is still the index searches use (not swapped out by a rebuild).
func (s *Service) isLive(x *searchindex.Index) bool {
	cur, done := s.live.get()
	done()
	return cur == x
}
