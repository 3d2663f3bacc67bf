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
	f, err := s.flatten(n, i, cands)
	if err != nil || f == nil {
		return out, err
	}
	for {
		d, _, ok, more, err := f.next(0, nil)
		if err != nil || !more {
			return out, err
		}
		if ok {
			out.Add(uint32(d))
		}
	}
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
// in Bleve's order, each scored as Bleve's searchers score q times the movie's prior (see Ranking.priorIn:
// topic says whether the tier is a topic's); only those after
// the position after, if given (a cursor's). It returns errUnsupported for a query it cannot score as
// Bleve would.
func (e *executor) top(q query.Query, topic bool, after *ranked, from, size int) (uint64, []*blevesearch.DocumentMatch, error) {
	if e == nil {
		return 0, nil, errUnsupported
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return 0, nil, err
	}
	if err := e.prefetchPrefixes(q); err != nil {
		return 0, nil, err
	}
	roots := make([]*node, len(e.shards))
	for i, s := range e.shards {
		n, err := s.compile(q)
		if err != nil {
			return 0, nil, err
		}
		roots[i] = n
	}
	if err := e.peerIDF(roots); err != nil {
		return 0, nil, err
	}
	for i, n := range roots {
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
			sp := s.segs[i].cache
			rank := s.x.rank
			f.maxPrior = rank.priorIn(topic, f.maxPrior)
			priorBound := func(d uint64) float64 {
				if v := sp.get(d); v != 0 {
					return rank.priorIn(topic, v)
				}
				return f.maxPrior
			}
			for {
				theta := 0.0
				if keep > 0 && page.Len() >= keep {
					theta = page.hits[0].score
				}
				d, v, ok, more, err := f.next(theta, priorBound)
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
				p = rank.priorIn(topic, p)
				// Most matches do not make the page: one is kept in a ranked of its own only once it does, and
				// takes over the one it pushes out.
				r := ranked{shard: si, seg: i, num: d, score: v * p}
				if after != nil && !e.better(after, &r, &page.err) {
					continue
				}
				switch {
				case page.Len() < keep:
					kept := r
					heap.Push(page, &kept)
				case e.better(&r, page.hits[0], &page.err):
					*page.hits[0] = r
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
