package searchindex

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// noMatches is the empty set of matches, shared: the words of a query are absent from most fields.
var noMatches = roaring.New()

// matches is the set of live documents of segment i that n matches. The sets it returns are shared:
// never change one.
func (s *execShard) matches(n *node, i int) (*roaring.Bitmap, error) { return s.matchesIn(n, i, nil) }

// matchesIn is the part of within (live documents of segment i; nil for all of them) that n matches: a
// conjunction narrows its set part by part, so the words of a query are intersected with a tier's few
// movies instead of being united over the whole catalog first.
func (s *execShard) matchesIn(n *node, i int, within *roaring.Bitmap) (*roaring.Bitmap, error) {
	if n.memo != nil && n.memo[i] != nil {
		if within == nil || n.memo[i].IsEmpty() {
			return n.memo[i], nil
		}
		return intersection(n.memo[i], within), nil // one intersection, not one a part
	}
	out, err := s.evalMatches(n, i, within)
	if err == nil && within == nil {
		if n.memo == nil {
			n.memo = make([]*roaring.Bitmap, len(s.segs))
		}
		n.memo[i] = out
	}
	return out, err
}

// intersection is the documents a and b share: noMatches when none. Most of a query's terms (its words in
// every field, their typo variants) have none of a tier's movies, and finding that out allocates nothing,
// where an intersection allocates its result and containers sized for the smaller set.
func intersection(a, b *roaring.Bitmap) *roaring.Bitmap {
	if !a.Intersects(b) {
		return noMatches
	}
	return roaring.And(a, b)
}

func (s *execShard) evalMatches(n *node, i int, within *roaring.Bitmap) (*roaring.Bitmap, error) {
	sg := &s.segs[i]
	switch n.kind {
	case nodeTerm:
		raw := n.raws[i]
		switch {
		case raw == nil:
			return noMatches, nil
		case within != nil:
			return intersection(raw, within), nil
		case sg.ss.Deleted() != nil:
			return roaring.AndNot(raw, sg.ss.Deleted()), nil
		}
		return raw, nil
	case nodeAny:
		parts := make([]*roaring.Bitmap, 0, len(n.kids))
		for _, k := range n.kids {
			b, err := s.matchesIn(k, i, within)
			if err != nil {
				return nil, err
			}
			if !b.IsEmpty() {
				parts = append(parts, b)
			}
		}
		return roaring.FastOr(parts...), nil
	case nodeAll, nodePhrase:
		if n.byEst == nil {
			n.byEst = slices.Clone(n.kids)
			slices.SortStableFunc(n.byEst, func(a, b *node) int { return cmp.Compare(a.estimate(), b.estimate()) })
		}
		cur := within
		for _, k := range n.byEst { // the rarest part first: a tier's movies are few, a common word many
			b, err := s.matchesIn(k, i, cur)
			if err != nil {
				return nil, err
			}
			if cur = b; cur.IsEmpty() {
				return cur, nil
			}
		}
		if n.kind == nodePhrase {
			return s.phraseMatches(n, i, cur)
		}
		return cur, nil
	case nodeBool:
		cur := within
		for _, k := range []*node{n.filter, n.must} {
			if k == nil {
				continue
			}
			b, err := s.matchesIn(k, i, cur)
			if err != nil {
				return nil, err
			}
			cur = b
		}
		if n.must == nil { // should alone, with a must not or a filter
			b, err := s.matchesIn(n.should, i, cur)
			if err != nil {
				return nil, err
			}
			cur = b
		}
		if n.mustNot != nil && !cur.IsEmpty() {
			b, err := s.matchesIn(n.mustNot, i, cur)
			if err != nil {
				return nil, err
			}
			cur = roaring.AndNot(cur, b)
		}
		return cur, nil
	case nodeFilter:
		return s.matchesIn(n.kids[0], i, within)
	case nodeEvery:
		if within != nil {
			return within, nil
		}
		if sg.live == nil {
			sg.live = sg.ss.DocNumbersLive()
		}
		return sg.live, nil
	case nodeNone:
		return noMatches, nil
	case nodeRange:
		return s.rangeMatches(n.q.(*query.TermRangeQuery), i, within)
	case nodeOpaque:
		if err := s.readOpaque(n); err != nil {
			return nil, err
		}
		if within != nil {
			return intersection(n.memo[i], within), nil
		}
		return n.memo[i], nil
	}
	return nil, fmt.Errorf("executor: node kind %d", n.kind)
}

// rangeMatches is the part of within (nil: the live documents) of segment i that has a word of q's field
// between its bounds, as NewTermRangeSearcher reads them (an empty bound is open; inclusive by default
// at the minimum, exclusive at the maximum).
func (s *execShard) rangeMatches(q *query.TermRangeQuery, i int, within *roaring.Bitmap) (*roaring.Bitmap, error) {
	sg := &s.segs[i]
	d, err := sg.ss.Segment().Dictionary(q.FieldVal)
	if err != nil {
		return nil, fmt.Errorf("executor: dictionary of %s: %w", q.FieldVal, err)
	}
	if d == nil {
		return noMatches, nil
	}
	inclMin, inclMax := q.InclusiveMin == nil || *q.InclusiveMin, q.InclusiveMax != nil && *q.InclusiveMax
	var start, end []byte
	if q.Min != "" {
		start = []byte(q.Min)
	}
	if q.Max != "" {
		end = append([]byte(q.Max), 0) // just after the maximum
	}
	var parts []*roaring.Bitmap
	it := d.AutomatonIterator(nil, start, end)
	for {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("executor: dictionary of %s: %w", q.FieldVal, err)
		}
		if e == nil {
			break
		}
		if (!inclMin && e.Term == q.Min) || (!inclMax && q.Max != "" && e.Term == q.Max) {
			continue
		}
		pl, err := d.PostingsList([]byte(e.Term), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("executor: postings of %s:%s: %w", q.FieldVal, e.Term, err)
		}
		if pl == nil {
			continue
		}
		raw := rawBitmap(pl)
		if within != nil {
			raw = roaring.And(raw, within)
		}
		parts = append(parts, raw)
	}
	out := roaring.FastOr(parts...)
	if within == nil && sg.ss.Deleted() != nil {
		out.AndNot(sg.ss.Deleted())
	}
	return out, nil
}

// estimate is a bound of how many movies n matches in the shard: a term's document frequency, a
// disjunction's sum, a conjunction's least part; every movie for what it cannot tell.
func (n *node) estimate() uint64 {
	if n.est != 0 {
		return n.est
	}
	var e uint64
	switch n.kind {
	case nodeTerm:
		e = n.freq
	case nodeAny:
		for _, k := range n.kids {
			if e += k.estimate(); e < k.estimate() {
				e = math.MaxUint64 // saturated
			}
		}
	case nodeAll, nodePhrase:
		e = math.MaxUint64
		for _, k := range n.kids {
			e = min(e, k.estimate())
		}
	case nodeBool:
		e = math.MaxUint64
		for _, k := range []*node{n.must, n.filter} {
			if k != nil {
				e = min(e, k.estimate())
			}
		}
		if n.must == nil {
			e = min(e, n.should.estimate())
		}
	case nodeFilter:
		e = n.kids[0].estimate()
	case nodeNone:
		e = 0
	default:
		e = math.MaxUint64 - 1
	}
	n.est = min(e, math.MaxUint64-1) + 1 // 0 marks "not computed"
	return n.est
}

// listBitmap is the live documents of a postings list.
func listBitmap(pl segment.PostingsList, deleted *roaring.Bitmap) *roaring.Bitmap {
	out := roaring.New()
	if pl == nil {
		return out
	}
	if o, ok := pl.(interface{ OrInto(*roaring.Bitmap) }); ok {
		o.OrInto(out)
		if deleted != nil {
			out.AndNot(deleted)
		}
		return out
	}
	it := pl.Iterator(false, false, false, nil)
	for p, err := it.Next(); err == nil && p != nil; p, err = it.Next() {
		out.Add(uint32(p.Number()))
	}
	return out
}

// readOpaque finds an opaque node's matches with Bleve's own searcher over the shard's snapshot, unscored,
// and files them by segment.
func (s *execShard) readOpaque(n *node) error {
	if n.memo != nil { // read: an opaque node's memo is set here, once its matches are all read
		return nil
	}
	sr, err := n.q.Searcher(s.ctx, s.snap, s.x.mapping, blevesearch.SearcherOptions{Score: "none"})
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	defer func() { _ = sr.Close() }()
	found := make([]*roaring.Bitmap, len(s.segs))
	for i := range found {
		found[i] = roaring.New()
	}
	sctx := &blevesearch.SearchContext{DocumentMatchPool: blevesearch.NewDocumentMatchPool(sr.DocumentMatchPoolSize(), 0)}
	seg := 0
	for {
		d, err := sr.Next(sctx)
		if err != nil {
			return fmt.Errorf("executor: %w", err)
		}
		if d == nil {
			n.memo = found
			return nil
		}
		num := d.IndexInternalID.Value()
		for seg+1 < len(s.segs) && num >= s.segs[seg+1].offset {
			seg++
		}
		found[seg].Add(uint32(num - s.segs[seg].offset))
		sctx.DocumentMatchPool.Put(d)
	}
}

// count is the number of movies q matches in every shard.
func (e *executor) count(q query.Query) (uint64, error) {
	if e == nil {
		return 0, errUnsupported
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return 0, err
	}
	if err := e.prefetchPrefixes(q); err != nil {
		return 0, err
	}
	var total uint64
	for _, s := range e.shards {
		n, err := s.compile(q)
		if err != nil {
			return 0, err
		}
		for i := range s.segs {
			if err := e.ctx.Err(); err != nil {
				return 0, err
			}
			b, err := s.matches(n, i)
			if err != nil {
				return 0, err
			}
			total += b.GetCardinality()
		}
	}
	return total, nil
}
