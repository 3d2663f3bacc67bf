package searchindex

import (
	"container/heap"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// scorer is a compiled node bound to one segment's matches: only the parts that can match one of them,
// each term with a postings iterator narrowed to them.
type scorer struct {
	n     *node
	kids  []*scorer // the kids that can match; n.kids counts them all for the coordination factor
	cur   *postingCursor
	set   *roaring.Bitmap // of a filter, or a bool's must-not
	must  *scorer
	shd   *scorer
	notIn *roaring.Bitmap
	in    *roaring.Bitmap
}

// postingCursor walks a postings iterator forwards to the documents asked for, in increasing order.
type postingCursor struct {
	it   segment.PostingsIterator
	p    segment.Posting
	num  uint64
	done bool
}

// at is the posting of document d, or nil if the term is not in it. d never decreases between calls.
func (c *postingCursor) at(d uint64) (segment.Posting, error) {
	if c.done {
		return nil, nil
	}
	if c.p == nil || c.num < d {
		p, err := c.it.Advance(d)
		if err != nil {
			return nil, err
		}
		if p == nil {
			c.done, c.p = true, nil
			return nil, nil
		}
		c.p, c.num = p, p.Number()
	}
	if c.num == d {
		return c.p, nil
	}
	return nil, nil
}

// bind makes the scorer of n for segment i, whose documents to score are cands; nil if n can match none.
func (s *execShard) bind(n *node, i int, cands *roaring.Bitmap) (*scorer, error) {
	switch n.kind {
	case nodeTerm:
		pl := n.lists[i]
		if pl == nil {
			return nil, nil
		}
		it := pl.Iterator(true, true, n.withLocs, nil)
		if o, ok := it.(segment.OptimizablePostingsIterator); ok && o.ActualBitmap() != nil {
			narrowed := roaring.And(o.ActualBitmap(), cands)
			if narrowed.IsEmpty() {
				return nil, nil
			}
			o.ReplaceActual(narrowed)
		}
		return &scorer{n: n, cur: &postingCursor{it: it}}, nil
	case nodeAny, nodeAll, nodePhrase:
		sc := &scorer{n: n}
		for _, k := range n.kids {
			ks, err := s.bind(k, i, cands)
			if err != nil {
				return nil, err
			}
			if ks == nil {
				if n.kind != nodeAny {
					return nil, nil // a conjunction with a part that matches none of them
				}
				continue
			}
			sc.kids = append(sc.kids, ks)
		}
		if len(sc.kids) == 0 {
			return nil, nil
		}
		return sc, nil
	case nodeBool:
		sc := &scorer{n: n}
		var err error
		if n.must != nil {
			if sc.must, err = s.bind(n.must, i, cands); err != nil || sc.must == nil {
				return nil, err
			}
		}
		if n.should != nil {
			if sc.shd, err = s.bind(n.should, i, cands); err != nil {
				return nil, err
			}
			if sc.shd == nil && n.must == nil {
				return nil, nil
			}
		}
		if n.mustNot != nil {
			if sc.notIn, err = s.matches(n.mustNot, i); err != nil {
				return nil, err
			}
		}
		if n.filter != nil {
			if sc.in, err = s.matches(n.filter, i); err != nil {
				return nil, err
			}
		}
		return sc, nil
	case nodeFilter:
		set, err := s.matches(n.kids[0], i)
		if err != nil {
			return nil, err
		}
		return &scorer{n: n, set: set}, nil
	case nodeNone:
		return nil, nil
	}
	return nil, errUnsupported
}

// score is document d's score, as Bleve's searchers compute it, and whether it matches.
func (sc *scorer) score(d uint64) (float64, bool, error) {
	n := sc.n
	switch n.kind {
	case nodeTerm:
		p, err := sc.cur.at(d)
		if p == nil || err != nil {
			return 0, false, err
		}
		tf := math.Sqrt(float64(p.Frequency()))
		return tf * p.Norm() * n.idf * n.weight, true, nil
	case nodeAny:
		var sum float64
		matched := 0
		for _, k := range sc.kids {
			v, ok, err := k.score(d)
			if err != nil {
				return 0, false, err
			}
			if ok {
				sum += v
				matched++
			}
		}
		if matched == 0 {
			return 0, false, nil
		}
		return sum * (float64(matched) / float64(len(n.kids))), true, nil
	case nodeAll:
		var sum float64
		for _, k := range sc.kids {
			v, ok, err := k.score(d)
			if !ok || err != nil {
				return 0, false, err
			}
			sum += v
		}
		return sum, true, nil
	case nodePhrase:
		var sum float64
		locs := make([][]segment.Location, len(sc.kids))
		for j, k := range sc.kids {
			v, ok, err := k.score(d)
			if !ok || err != nil {
				return 0, false, err
			}
			sum += v
			locs[j] = k.cur.p.Locations()
		}
		if !inSequence(locs) {
			return 0, false, nil
		}
		return sum, true, nil
	case nodeBool:
		if sc.notIn != nil && sc.notIn.Contains(uint32(d)) {
			return 0, false, nil
		}
		if sc.in != nil && !sc.in.Contains(uint32(d)) {
			return 0, false, nil
		}
		var sum float64
		if sc.must != nil {
			v, ok, err := sc.must.score(d)
			if !ok || err != nil {
				return 0, false, err
			}
			sum = v
		}
		if sc.shd != nil {
			v, ok, err := sc.shd.score(d)
			if err != nil {
				return 0, false, err
			}
			if !ok && sc.must == nil {
				return 0, false, nil
			}
			if ok {
				sum += v
			}
		}
		return sum, true, nil
	case nodeFilter:
		return 0, sc.set.Contains(uint32(d)), nil
	}
	return 0, false, errUnsupported
}

// inSequence reports whether the words' locations hold them next to each other, in order, in one value of
// the field: the test of Bleve's phrase searcher with no slop.
func inSequence(locs [][]segment.Location) bool {
	for _, first := range locs[0] {
		pos, ap := first.Pos(), first.ArrayPositions()
		ok := true
		for _, next := range locs[1:] {
			pos++
			if !slices.ContainsFunc(next, func(l segment.Location) bool {
				return l.Pos() == pos && slices.Equal(l.ArrayPositions(), ap)
			}) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// phraseMatches is the documents of cands in which the phrase's words are in sequence.
func (s *execShard) phraseMatches(n *node, i int, cands *roaring.Bitmap) (*roaring.Bitmap, error) {
	out := roaring.New()
	sc, err := s.bind(n, i, cands)
	if err != nil || sc == nil {
		return out, err
	}
	it := cands.Iterator()
	for it.HasNext() {
		d := uint64(it.Next())
		if _, ok, err := sc.score(d); err != nil {
			return nil, err
		} else if ok {
			out.Add(uint32(d))
		}
	}
	return out, nil
}

// ranked is a scored match: where it is, its blended score, and its id once read.
type ranked struct {
	shard, seg int
	num        uint64
	score      float64
	id         string
}

// worstFirst is the page being filled, its worst match on top. Matches are ordered as Bleve's collector
// orders them for the default sort: by score, then by id.
type worstFirst struct {
	e    *executor
	hits []*ranked
	err  error
}

func (h *worstFirst) Len() int           { return len(h.hits) }
func (h *worstFirst) Less(i, j int) bool { return h.e.better(h.hits[j], h.hits[i], &h.err) }
func (h *worstFirst) Swap(i, j int)      { h.hits[i], h.hits[j] = h.hits[j], h.hits[i] }
func (h *worstFirst) Push(v any)         { h.hits = append(h.hits, v.(*ranked)) }
func (h *worstFirst) Pop() any {
	v := h.hits[len(h.hits)-1]
	h.hits = h.hits[:len(h.hits)-1]
	return v
}

// better says whether a ranks before b: a higher score, or the same score and a smaller id.
func (e *executor) better(a, b *ranked, errp *error) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	for _, r := range []*ranked{a, b} {
		if r.id == "" && r.shard >= 0 {
			id, err := e.shards[r.shard].segs[r.seg].ss.DocID(r.num)
			if err != nil && *errp == nil {
				*errp = fmt.Errorf("executor: id of a match: %w", err)
			}
			r.id = string(id)
		}
	}
	return a.id < b.id
}

// top answers a scored tier: how many movies q matches in every shard, and its matches from..from+size-1
// in Bleve's order, each scored as Bleve's searchers score q times the movie's prior; only those after
// the position after, if given (a cursor's). It returns errUnsupported for a query it cannot score as
// Bleve would.
func (e *executor) top(q query.Query, after *ranked, from, size int) (uint64, []*blevesearch.DocumentMatch, error) {
	if e == nil {
		return 0, nil, errUnsupported
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return 0, nil, err
	}
	roots := make([]*node, len(e.shards))
	for i, s := range e.shards {
		n, err := s.compile(q)
		if err != nil {
			return 0, nil, err
		}
		w := n.sumOfSquares()
		if !n.scorable || (n.kind != nodeBool && n.kind != nodeAll && n.kind != nodeAny) || !(w > 0) {
			return 0, nil, errUnsupported
		}
		n.normalize(1 / math.Sqrt(w))
		roots[i] = n
	}
	page := &worstFirst{e: e}
	keep := from + size
	var total uint64
	scored := 0
	for si, s := range e.shards {
		for i := range s.segs {
			cands, err := s.matches(roots[si], i)
			if err != nil {
				return 0, nil, err
			}
			total += cands.GetCardinality()
			if keep == 0 || cands.IsEmpty() {
				continue
			}
			f, err := s.flatten(roots[si], i, cands)
			if err != nil {
				return 0, nil, err
			}
			if f == nil {
				continue
			}
			for {
				d, v, ok, more, err := f.next()
				if err != nil {
					return 0, nil, err
				}
				if !more {
					break
				}
				if scored++; scored%yieldEvery == 0 {
					runtime.Gosched()
					if err := e.ctx.Err(); err != nil {
						return 0, nil, err
					}
				}
				if !ok {
					continue
				}
				p, err := s.prior(i, d)
				if err != nil {
					return 0, nil, err
				}
				r := &ranked{shard: si, seg: i, num: d, score: v * p}
				if after != nil && !e.better(after, r, &page.err) {
					continue
				}
				switch {
				case page.Len() < keep:
					heap.Push(page, r)
				case e.better(r, page.hits[0], &page.err):
					page.hits[0] = r
					heap.Fix(page, 0)
				}
			}
		}
	}
	if page.err != nil {
		return 0, nil, page.err
	}
	slices.SortFunc(page.hits, func(a, b *ranked) int {
		if e.better(a, b, &page.err) {
			return -1
		}
		return 1
	})
	if page.err != nil {
		return 0, nil, page.err
	}
	var hits []*blevesearch.DocumentMatch
	for _, r := range page.hits[min(from, len(page.hits)):] {
		h, err := e.load(r)
		if err != nil {
			return 0, nil, err
		}
		hits = append(hits, h)
	}
	return total, hits, nil
}

// load reads a match's id and stored movie, as a Bleve hit.
func (e *executor) load(r *ranked) (*blevesearch.DocumentMatch, error) {
	sg := e.shards[r.shard].segs[r.seg].ss
	if r.id == "" {
		id, err := sg.DocID(r.num)
		if err != nil {
			return nil, fmt.Errorf("executor: id of a match: %w", err)
		}
		r.id = string(id)
	}
	var src string
	err := sg.VisitDocument(r.num, func(field string, _ byte, value []byte, _ []uint64) bool {
		if field == fieldSource {
			src = string(value)
			return false
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("executor: stored movie %s: %w", r.id, err)
	}
	return &blevesearch.DocumentMatch{ID: r.id, Score: r.score, Fields: map[string]any{fieldSource: src}}, nil
}

// prior is the ranking prior of document d of segment i: read once per document by its id, then kept by
// segment-local number (a document's fields never change; a new version is a new document).
func (s *execShard) prior(i int, d uint64) (float64, error) {
	sp := s.segs[i].cache
	if v := sp.get(d); v != 0 {
		return v, nil
	}
	ext, err := s.segs[i].ss.DocID(d)
	if err != nil {
		return 0, fmt.Errorf("executor: id of a match: %w", err)
	}
	id, err := strconv.ParseInt(string(ext), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score: document id %q: %w", ext, err)
	}
	row := s.x.priors.get(id)
	votes, rating := float64(row.votes), float64(row.rating)
	v := s.x.rank.prior(votes, rating, !math.IsNaN(votes), !math.IsNaN(rating))
	sp.set(d, v)
	return v, nil
}

// scoreCursor is the position a cursor of the relevance order holds: a score and an id.
func scoreCursor(c *cursor) (*ranked, error) {
	if len(c.After) != 2 {
		return nil, invalidCursor()
	}
	score, err := strconv.ParseFloat(string(c.After[0]), 64)
	if err != nil || len(c.After[1]) == 0 {
		return nil, invalidCursor()
	}
	return &ranked{shard: -1, score: score, id: string(c.After[1])}, nil
}
