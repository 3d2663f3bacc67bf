package searchindex

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
)

// A search pays for every segment of every shard: it looks each word's typo variants and completions up in
// every field's dictionary of each segment, and each term's postings. Bleve's merge policy keeps up to ten
// segments a size tier, which after an import of 1M movies is 25 segments a shard; the same searches on
// the same movies merged into one segment cost a third as much CPU. So once the index has taken no change
// for a while (the search service's compact_after), each shard's segments are merged down to at most
// restSegments: the smaller ones into one while the largest holds at least half of the shard's movies and
// few replaced or deleted ones (the cost is then that of the smaller ones), else all of them into one.
// Writes go on meanwhile, into segments of their own.
const restSegments = 2

// Compact merges each shard's segments down to at most restSegments, as described above. It returns once
// the merges are done (or ctx ends); searches and writes go on meanwhile.
func (x *Index) Compact(ctx context.Context) error {
	for i, bi := range x.shards {
		if err := compactShard(ctx, bi); err != nil {
			return fmt.Errorf("compact shard %d: %w", i, err)
		}
	}
	return nil
}

// Segments is the number of segments of each shard; Compact leaves at most two.
func (x *Index) Segments() ([]int, error) {
	out := make([]int, len(x.shards))
	for i, bi := range x.shards {
		live, _, err := segmentSizes(bi)
		if err != nil {
			return nil, err
		}
		out[i] = len(live)
	}
	return out, nil
}

func compactShard(ctx context.Context, bi bleve.Index) error {
	adv, err := bi.Advanced()
	if err != nil {
		return err
	}
	sc, ok := adv.(*scorch.Scorch)
	if !ok {
		return nil
	}
	// A merge plan may leave a few segments instead of one (Bleve picks the rosters); a second or third
	// round finishes.
	for range 3 {
		live, full, err := segmentSizes(bi)
		if err != nil || len(live) <= restSegments {
			return err
		}
		plan := compactPlan(live, full)
		// ForceMerge waits for the merger to take the request, which ctx does not interrupt (a merge of the
		// policy's own may be running): wait for ctx too, and let the call end with the merge or the index.
		done := make(chan error, 1)
		go func() { done <- sc.ForceMerge(ctx, &plan) }()
		select {
		case err := <-done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// compactPlan is the merge plan for segments of these live and full sizes (documents, and documents
// deleted ones included): every segment into one, or, when the largest holds at least half the live
// documents, no other is as large, and a tenth of it at most is deleted, every other one into one.
func compactPlan(live, full []int64) mergeplan.MergePlanOptions {
	plan := mergeplan.SingleSegmentMergePlanOptions
	plan.SegmentsPerMergeTask = len(live)
	big := 0
	for i := range live {
		if live[i] > live[big] {
			big = i
		}
	}
	largest, others, alike := live[big], int64(0), false
	for i, n := range live {
		if i != big {
			others += n
			alike = alike || n == largest
		}
	}
	if largest >= others && !alike && 10*(full[big]-largest) <= full[big] {
		// Only a segment of fewer than MaxSegmentSize/2 live documents takes part: the largest stays.
		plan.MaxSegmentSize = 2 * largest
	}
	return plan
}

// segmentSizes is the number of live documents of each segment of a shard, and of documents deleted ones
// included.
func segmentSizes(bi bleve.Index) (live, full []int64, err error) {
	adv, err := bi.Advanced()
	if err != nil {
		return nil, nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, nil, err
	}
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		_ = r.Close()
		return nil, nil, nil
	}
	if snap == nil {
		return nil, nil, errIndexClosed
	}
	defer func() { _ = snap.Close() }()
	for _, ss := range snap.Segments() {
		live, full = append(live, ss.LiveSize()), append(full, ss.FullSize())
	}
	return live, full, nil
}

// Warm prepares every segment of the index for searches, as they would prepare it themselves on first
// use: it reads the ranking prior of every document that has none kept yet (see segmentCache), so that a
// search reads no movie id to rank a match (about a quarter of a microsecond a document), builds the
// segment's dictionary of every text field's words (see wordfields.go) and reads its text fields' lengths
// (see textstats.go). A merge leaves a large segment with none of them.
func (x *Index) Warm(ctx context.Context) error {
	for _, bi := range x.shards {
		s, err := openExecShard(ctx, x, bi)
		if errors.Is(err, errUnsupported) {
			continue
		}
		if err != nil {
			return err
		}
		err = s.warm(ctx)
		_ = s.r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *execShard) warm(ctx context.Context) error {
	var failed error // a words dictionary that cannot be built now: searches try again; the priors go on
	for i, sg := range s.segs {
		if _, err := sg.cache.buildWordFields(sg.ss.Segment()); err != nil && failed == nil {
			failed = fmt.Errorf("words dictionary: %w", err)
		}
		if _, err := sg.cache.fieldLengths(sg.ss.Segment()); err != nil && failed == nil {
			failed = err
		}
		for d := range sg.ss.Segment().Count() {
			if d%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if _, err := s.prior(i, d); err != nil {
				return err
			}
		}
	}
	return failed
}

// LastChange is when Apply last changed a movie (or when the index was opened): changes it skipped as
// stale do not count.
func (x *Index) LastChange() time.Time { return time.Unix(0, x.lastChange.Load()) }
