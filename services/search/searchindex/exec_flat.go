package searchindex

import (
	"cmp"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// flat scores a segment's matches bottom-up: the terms' postings, each narrowed to the matches, are merged
// in document order, and only the terms a document has, and the nodes above them, are computed for it. A
// query of several words has hundreds of terms (every field, typo variant and completion), of which a
// document has a few: walking the whole tree for every document spent most of the scoring in the nodes
// that did not match.
type flat struct {
	nodes   []flatNode
	leaves  []int32   // the term nodes
	queue   leafQueue // the leaves by their next document
	touched [][]int32 // the nodes reached for the current document, by depth
	at      []int32   // the leaves at it

	// Pruning (MaxScore). A term's part of a score is at most ub: its idf times its weight times the most its
	// √tf × norm can be in its matches in the tier (top: the norm of the shortest field among them times the
	// root of the largest count, at most 1). Every node adds up its children's parts or less, so a document's
	// score is at most its terms' ub added up, times the largest prior. A set of terms that cannot bring a
	// document onto the page on their own leaves the merge ("lazy"), least idf × weight first: they are
	// looked up only for the documents the others bring whose bound reaches the page's threshold, largest ub
	// first, and no further once those a document lacks have taken its bound below the threshold. What a
	// document with lazy terms only can score is bounded through the query's tree (lazyBound): a disjunction
	// scales by the share of its children that can match, a conjunction needs every child, a boolean its must
	// part. That bound is often far below the plain sum of the terms' ub, which, times the prior's 5× range,
	// let few terms leave.
	ub       []float64 // by node: of a term
	byWeight []int32   // the terms, least idf × weight first: the order they are tried in
	lazy     []int32   // the terms that have left the merge, least ub first
	lazyUB   float64   // their ub added up
	isLazy   []bool    // by node
	maxPrior float64
	tight    bool    // the terms' bounds are worked out from their matches (top), not taken as 1
	prunedAt float64 // the threshold prune last tried
	// lazyBound's scratch, by node
	bSum, bMust, bShould []float64
	bCnt                 []int
	bMustOK, bShouldOK   []bool
	locs                 [][]segment.Location
}

type flatNode struct {
	kind    nodeKind
	parent  int32 // -1 for the root
	slot    uint8 // under a bool: 0 must, 1 should
	depth   int
	total   int // of any: every child, for the coordination factor
	need    int // of all and phrase: the children that must match
	kids    []int32
	cur     *postingCursor
	idf, w  float64
	top     float64 // of a term: the most its √tf × norm can be in any of its matches in the tier
	notIn   *roaring.Bitmap
	in      *roaring.Bitmap
	hasMust bool

	// for the current document
	stamp              uint64 // doc+1 when reached
	acc                float64
	cnt                int
	mustVal, shouldVal float64
	mustOK, shouldOK   bool
	val                float64
	ok                 bool
}

// flatten binds n to segment i's matches cands; nil when no match can score (it cannot happen for a tier's
// own matches), errUnsupported for a shape it does not take.
func (s *execShard) flatten(n *node, i int, cands *roaring.Bitmap) (*flat, error) {
	f := &flat{tight: cands.GetCardinality() >= tightBoundsFrom}
	root, err := f.add(s, n, i, cands, -1, 0, 0)
	if err != nil || root < 0 {
		return nil, err
	}
	for _, l := range f.leaves {
		c := f.nodes[l].cur
		if err := c.next(); err != nil {
			return nil, err
		}
		if c.num != math.MaxUint64 {
			f.queue.items = append(f.queue.items, queued{c.num, l})
		}
	}
	f.queue.init()
	f.ub, f.isLazy = make([]float64, len(f.nodes)), make([]bool, len(f.nodes))
	for _, l := range f.leaves {
		nd := &f.nodes[l]
		f.ub[l] = nd.idf * nd.w * nd.top * (1 + 1e-6) // but for float32 rounding
	}
	// The terms are tried by idf × weight, not by ub: a common word's long lists have the least idf, and
	// setting them aside first spares the merge most. A term of few matches may have a smaller ub (its
	// matches' fields are long), but setting it aside first spends the room under the threshold on it.
	f.byWeight = slices.Clone(f.leaves)
	slices.SortFunc(f.byWeight, func(a, b int32) int {
		return cmp.Compare(f.nodes[a].idf*f.nodes[a].w, f.nodes[b].idf*f.nodes[b].w)
	})
	k := len(f.nodes)
	f.bSum, f.bMust, f.bShould, f.bCnt = make([]float64, k), make([]float64, k), make([]float64, k), make([]int, k)
	f.bMustOK, f.bShouldOK = make([]bool, k), make([]bool, k)
	r := s.x.rank
	f.maxPrior = (1 + r.VotesWeight) * (1 + r.RatingWeight) * (1 + 1e-6)
	return f, nil
}

// tightBoundsFrom is the number of matches from which flat works out each term's bound (top) rather than
// take 1: a few bitmap intersections a term, which a query of many terms (every field, typo variant and
// completion of its words) and few matches would spend in vain, as it scores them all anyway.
const tightBoundsFrom = 1024

// lazyBound is the most a document in which only lazy terms are can score before its prior, through the
// query's tree; 0 when such a document cannot match. Whether a node can match is kept apart from its
// bound: a term of weight 0 (a typo or prefix weight set to 0) bounds nothing but still matches, and a
// conjunction over it still scores its other parts.
func (f *flat) lazyBound() float64 {
	clear(f.bSum)
	clear(f.bMust)
	clear(f.bShould)
	clear(f.bCnt)
	clear(f.bMustOK)
	clear(f.bShouldOK)
	for i := len(f.nodes) - 1; i >= 0; i-- {
		nd := &f.nodes[i]
		v, ok := 0.0, false
		switch nd.kind {
		case nodeTerm:
			v, ok = f.ub[i], f.isLazy[i]
		case nodeAny:
			v, ok = f.bSum[i]*float64(f.bCnt[i])/float64(nd.total), f.bCnt[i] > 0
		case nodeAll, nodePhrase:
			v, ok = f.bSum[i], f.bCnt[i] == nd.need
		case nodeBool:
			v, ok = f.bMust[i]+f.bShould[i], f.bMustOK[i] || (!nd.hasMust && f.bShouldOK[i])
		}
		switch {
		case !ok:
		case nd.parent < 0:
			return v
		case f.nodes[nd.parent].kind != nodeBool:
			f.bSum[nd.parent] += v
			f.bCnt[nd.parent]++
		case nd.slot == 0:
			f.bMust[nd.parent], f.bMustOK[nd.parent] = v, true
		default:
			f.bShould[nd.parent], f.bShouldOK[nd.parent] = v, true
		}
	}
	return 0
}

// pruneMisses is how many terms prune tries past one that cannot leave: one that can, further on, may sit
// where the tree's bound does not grow (another word's field, a boost).
const pruneMisses = 4

// prune moves the terms that can no longer bring a document over theta out of the merge, in byWeight's
// order.
func (f *flat) prune(theta float64) {
	if theta <= f.prunedAt {
		return
	}
	f.prunedAt = theta
	moved, misses := false, 0
	for _, l := range f.byWeight {
		if f.isLazy[l] {
			continue
		}
		f.isLazy[l] = true
		if f.lazyBound()*f.maxPrior >= theta {
			f.isLazy[l] = false
			if misses++; misses == pruneMisses {
				break
			}
			continue
		}
		f.lazy = append(f.lazy, l)
		f.lazyUB += f.ub[l]
		moved = true
	}
	if moved {
		slices.SortFunc(f.lazy, func(a, b int32) int { return cmp.Compare(f.ub[a], f.ub[b]) })
		items := f.queue.items[:0]
		for _, it := range f.queue.items {
			if !f.isLazy[it.leaf] {
				items = append(items, it)
			}
		}
		f.queue.items = items
		f.queue.init()
	}
}

// add appends the flat node of n (and its children) and returns its index; -1 if n can match none of
// cands.
func (f *flat) add(s *execShard, n *node, i int, cands *roaring.Bitmap, parent int32, slot uint8, depth int) (int32, error) {
	at := int32(len(f.nodes))
	f.nodes = append(f.nodes, flatNode{kind: n.kind, parent: parent, slot: slot, depth: depth})
	if depth >= len(f.touched) {
		f.touched = append(f.touched, nil)
	}
	drop := func() (int32, error) { // n and what was added under it
		f.nodes = f.nodes[:at]
		for len(f.leaves) > 0 && f.leaves[len(f.leaves)-1] >= at {
			f.leaves = f.leaves[:len(f.leaves)-1]
		}
		return -1, nil
	}
	switch n.kind {
	case nodeTerm:
		pl := n.lists[i]
		if pl == nil {
			return drop()
		}
		if !n.withLocs {
			narrowed := intersection(n.raws[i], cands)
			if narrowed.IsEmpty() {
				return drop()
			}
			lens, reps, ok, err := s.scoringStats(n.field, n.term, i)
			if err != nil {
				return -1, err
			}
			if ok {
				f.nodes[at].cur = &postingCursor{in: narrowed.Iterator(), lens: lens, reps: reps}
				f.nodes[at].idf, f.nodes[at].w = n.idf, n.weight
				f.nodes[at].top = 1
				if f.tight {
					f.nodes[at].top = termTop(lens, reps, narrowed)
				}
				f.leaves = append(f.leaves, at)
				return at, nil
			}
		}
		it := pl.Iterator(true, true, n.withLocs, nil)
		o, ok := it.(segment.OptimizablePostingsIterator)
		if ok && o.ActualBitmap() != nil {
			narrowed := intersection(o.ActualBitmap(), cands)
			if narrowed.IsEmpty() {
				return drop()
			}
			o.ReplaceActual(narrowed)
		} else if !ok {
			return -1, errUnsupported
		} else if !cands.Contains(uint32(firstDoc(pl))) { // one posting
			return drop()
		}
		f.nodes[at].cur, f.nodes[at].idf, f.nodes[at].w = &postingCursor{it: it}, n.idf, n.weight
		f.nodes[at].top = 1 // zap's norm is at most 1, and its frequency unknown until read: the bound of before
		f.leaves = append(f.leaves, at)
		return at, nil
	case nodeAny, nodeAll, nodePhrase:
		f.nodes[at].total = len(n.kids)
		var kids []int32
		need := 0
		for _, k := range n.kids {
			if k.kind == nodeFilter {
				// A tier's membership: every match is in it, so it is met and scores nothing.
				set, err := s.matches(k.kids[0], i)
				if err != nil {
					return -1, err
				}
				if n.kind != nodeAll || set.AndCardinality(cands) != cands.GetCardinality() {
					return -1, errUnsupported
				}
				continue
			}
			ki, err := f.add(s, k, i, cands, at, 0, depth+1)
			if err != nil {
				return -1, err
			}
			if ki < 0 {
				if n.kind != nodeAny {
					return drop()
				}
				continue
			}
			kids = append(kids, ki)
			need++
		}
		if len(kids) == 0 {
			return drop()
		}
		f.nodes[at].kids, f.nodes[at].need = kids, need
		return at, nil
	case nodeBool:
		nd := flatNode{kind: nodeBool, parent: parent, slot: slot, depth: depth, hasMust: n.must != nil}
		if n.mustNot != nil {
			set, err := s.matches(n.mustNot, i)
			if err != nil {
				return -1, err
			}
			nd.notIn = set
		}
		if n.filter != nil {
			set, err := s.matches(n.filter, i)
			if err != nil {
				return -1, err
			}
			nd.in = set
		}
		f.nodes[at] = nd
		if n.must != nil {
			ki, err := f.add(s, n.must, i, cands, at, 0, depth+1)
			if err != nil || ki < 0 {
				if err == nil {
					_, err = drop()
				}
				return -1, err
			}
		}
		if n.should != nil {
			ki, err := f.add(s, n.should, i, cands, at, 1, depth+1)
			if err != nil {
				return -1, err
			}
			if ki < 0 && n.must == nil {
				return drop()
			}
		}
		return at, nil
	case nodeNone:
		return drop()
	}
	return -1, errUnsupported
}

// firstDoc is the one document of a one-posting list.
func firstDoc(pl segment.PostingsList) uint64 {
	p, err := pl.Iterator(false, false, false, nil).Next()
	if err != nil || p == nil {
		return math.MaxUint32
	}
	return p.Number()
}

// next scores the next document that a term of the query is in: its number, score and whether it matches
// the whole query; false when none is left.
//
// theta is the score a document must reach to enter the page (0: any), and prior a bound of a document's
// prior: a document whose bound stays below theta is passed over (matched false) without its lazy terms
// being looked up or its score computed.
func (f *flat) next(theta float64, prior func(uint64) float64) (doc uint64, score float64, matched, more bool, err error) {
	if theta > 0 {
		f.prune(theta)
	}
	if len(f.queue.items) == 0 {
		return 0, 0, false, false, nil
	}
	d := f.queue.items[0].num

	stamp := d + 1
	// The terms at d: deliver their scores upwards, then move them on.
	at := f.at[:0]
	for len(f.queue.items) > 0 && f.queue.items[0].num == d {
		at = append(at, f.queue.pop().leaf)
	}
	f.at = at
	if len(f.lazy) > 0 {
		bound := f.lazyUB
		for _, l := range at {
			bound += f.ub[l]
		}
		p := prior(d)
		if bound*p < theta {
			return d, 0, false, true, f.moveOn(at)
		}
		// The lazy terms are looked up largest ub first, and each one d lacks lowers its bound: once the
		// bound is below theta, the rest are not looked up.
		for j := len(f.lazy) - 1; j >= 0; j-- {
			l := f.lazy[j]
			c := f.nodes[l].cur
			if c.num < d {
				if err := c.advance(d); err != nil {
					return 0, 0, false, false, err
				}
			}
			if c.num == d {
				at = append(at, l)
			} else if bound -= f.ub[l]; bound*p < theta {
				f.at = at
				return d, 0, false, true, f.moveOn(at)
			}
		}
		f.at = at
	}
	// A score is a sum of many parts, and floating-point addition is not associative: the parts are added
	// in an order the query fixes (a node's terms by index, then its inner nodes by index), not the order
	// the merge delivers them in, which depends on the page's threshold. Otherwise one movie scores a last bit apart on two pages, and a
	// cursor repeats or drops it.
	slices.Sort(at)
	for _, l := range at {
		nd := &f.nodes[l]
		nd.val, nd.ok, nd.stamp = nd.cur.tfNorm()*nd.idf*nd.w, true, stamp
		f.deliver(l, stamp)
	}
	var root *flatNode
	for depth := len(f.touched) - 1; depth >= 0; depth-- {
		slices.Sort(f.touched[depth])
		for _, t := range f.touched[depth] {
			nd := &f.nodes[t]
			nd.ok = false
			switch nd.kind {
			case nodeAny:
				if nd.cnt > 0 {
					nd.val, nd.ok = nd.acc*(float64(nd.cnt)/float64(nd.total)), true
				}
			case nodeAll:
				nd.val, nd.ok = nd.acc, nd.cnt == nd.need
			case nodePhrase:
				if nd.cnt == nd.need {
					nd.ok = f.phraseAt(nd)
					nd.val = nd.acc
				}
			case nodeBool:
				nd.ok = (nd.mustOK || (!nd.hasMust && nd.shouldOK)) &&
					(nd.notIn == nil || !nd.notIn.Contains(uint32(d))) && (nd.in == nil || nd.in.Contains(uint32(d)))
				nd.val = nd.mustVal
				if nd.shouldOK {
					nd.val += nd.shouldVal
				}
			}
			if nd.ok {
				if nd.parent < 0 {
					root = nd
				} else {
					f.deliver(t, stamp)
				}
			}
		}
		f.touched[depth] = f.touched[depth][:0]
	}
	if err := f.moveOn(at); err != nil {
		return 0, 0, false, false, err
	}
	if root == nil {
		return d, 0, false, true, nil
	}
	return d, root.val, true, true, nil
}

// moveOn advances the merge's terms at the current document past it; the lazy ones stay for Advance.
func (f *flat) moveOn(at []int32) error {
	for _, l := range at {
		if f.isLazy[l] {
			continue
		}
		c := f.nodes[l].cur
		if err := c.next(); err != nil {
			return err
		}
		if c.num != math.MaxUint64 {
			f.queue.push(queued{c.num, l})
		}
	}
	return nil
}

// deliver hands node c's value to its parent, which it marks reached for the document.
func (f *flat) deliver(c int32, stamp uint64) {
	cn := &f.nodes[c]
	if cn.parent < 0 {
		return
	}
	p := &f.nodes[cn.parent]
	if p.stamp != stamp {
		p.stamp, p.acc, p.cnt, p.mustOK, p.shouldOK = stamp, 0, 0, false, false
		f.touched[p.depth] = append(f.touched[p.depth], cn.parent)
	}
	switch {
	case p.kind == nodeBool && cn.slot == 0:
		p.mustVal, p.mustOK = cn.val, true
	case p.kind == nodeBool:
		p.shouldVal, p.shouldOK = cn.val, true
	default:
		p.acc += cn.val
		p.cnt++
	}
}

// phraseAt says whether the phrase's words are in sequence in the current document.
func (f *flat) phraseAt(nd *flatNode) bool {
	f.locs = f.locs[:0]
	for _, k := range nd.kids {
		f.locs = append(f.locs, f.nodes[k].cur.p.Locations())
	}
	return inSequence(f.locs)
}

// leafQueue is a binary min-heap of the leaves by their current document, which it holds next to each
// leaf's index so that comparing two reads no node.
type leafQueue struct {
	items []queued
}

type queued struct {
	num  uint64
	leaf int32
}

func (q *leafQueue) init() {
	for i := len(q.items)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

func (q *leafQueue) push(it queued) {
	q.items = append(q.items, it)
	for i := len(q.items) - 1; i > 0; {
		p := (i - 1) / 2
		if q.items[p].num <= q.items[i].num {
			break
		}
		q.items[p], q.items[i] = q.items[i], q.items[p]
		i = p
	}
}

func (q *leafQueue) pop() queued {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items = q.items[:last]
	if last > 0 {
		q.down(0)
	}
	return top
}

func (q *leafQueue) down(i int) {
	n := len(q.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.items[r].num < q.items[l].num {
			m = r
		}
		if q.items[i].num <= q.items[m].num {
			return
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
}
