package searchsvc

import (
	"context"
	"slices"
	"time"
)

// compactWhenIdle merges the live index's segments (searchindex.Index.Compact: fewer segments make every
// search cheaper) each time it has taken no change for cfg.CompactAfter and a shard has more than two;
// until ctx is done. Writes that come meanwhile go into segments of their own.
func (s *Service) compactWhenIdle(ctx context.Context) {
	idle := s.cfg.CompactAfter
	if idle <= 0 {
		return
	}
	tick := time.NewTicker(max(idle/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		x, done := s.live.get()
		done() // a compaction takes minutes at millions of movies: a rebuild's swap must not wait for it
		if time.Since(x.LastChange()) < idle {
			continue
		}
		before, err := x.Segments()
		if err != nil || slices.Max(before) <= 2 {
			continue
		}
		start := time.Now()
		s.log.Info("compacting the search index", "segments", before)
		if err := x.Compact(ctx); err != nil {
			cur, done := s.live.get()
			done()
			if cur == x && ctx.Err() == nil { // else closed by a rebuild or by shutting down
				s.log.Warn("compacting the search index failed; retrying in a minute", "err", err)
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
	}
}
