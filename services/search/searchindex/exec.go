package searchindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// The executor answers the ranked tiers and the counts of a text search straight from the index's segments:
// their dictionaries, their postings as roaring bitmaps, and their frequencies and norms. Bleve's searchers
// build a tree of iterators per query (one per term, field and segment, for every tier, count and
// expansion), then walk every match through it, resolving its external id for the prior. Here a count is
// a bitmap's cardinality, a tier's matches are a bitmap, and only those matches are scored, each by the
// same formula Bleve's searchers apply (TF-IDF, the query norm, the coordination factor of a disjunction)
// with the prior read by segment-local document number. Bleve's own path stays as the reference the
// tests compare with, and answers what the executor does not take (a cursor, a sort, a query shape it
// does not know).

// errUnsupported says that the executor does not take a query: the caller asks Bleve instead.
var errUnsupported = errors.New("executor: unsupported query")

// errClosed says that a search's executor or expansions are used after the search ended: their snapshots
// are released.
var errClosed = errors.New("used after its search ended")

// errIndexClosed says that the index was closed: a closed scorch index hands out a nil snapshot. Only the
// background work (compaction, reading priors) can meet it; searches hold the index open.
var errIndexClosed = errors.New("search index closed")

// executor is one search's view of the index: a snapshot of every shard, opened on first use, with the
// dictionaries and postings lists it has read.
type executor struct {
	mu     sync.Mutex // the facet groups of a search count in parallel: count, top and facet take it
	x      *Index
	ctx    context.Context
	shards []*execShard
	err    error // opening failed: every query goes to Bleve
}

func (x *Index) newExecutor(ctx context.Context) *executor {
	if x.opts.BleveExecutor {
		return nil
	}
	return &executor{x: x, ctx: ctx}
}

// open takes the snapshots; it reports errUnsupported when an index is not a scorch index.
func (e *executor) open() error {
	if e == nil {
		return errUnsupported
	}
	if e.shards != nil || e.err != nil {
		return e.err
	}
	for _, bi := range e.x.shards {
		s, err := openExecShard(e.ctx, e.x, bi)
		if err != nil {
			e.close()
			e.err = err
			return err
		}
		e.shards = append(e.shards, s)
	}
	return nil
}

// close releases the snapshots; a later use reports errClosed rather than take snapshots nobody closes.
func (e *executor) close() {
	if e == nil {
		return
	}
	for _, s := range e.shards {
		_ = s.r.Close()
	}
	e.shards, e.err = nil, errClosed
}

// execShard is one shard's snapshot.
type execShard struct {
	x        *Index
	ctx      context.Context // the search's
	r        index.IndexReader
	snap     *scorch.IndexSnapshot
	segs     []execSegment
	docTotal uint64                              // live documents, the N of the idf
	dicts    map[string][]segment.TermDictionary // by field, per segment
	terms    map[fieldTerm]*termPostings
	nodes    map[query.Query]*node  // compiled, by query object (see compile)
	reps     map[repeatsKey]repeats // the repeats of the words this search scored, by segment
}

type repeatsKey struct {
	seg         int
	field, term string
}

type fieldTerm struct{ field, term string }

// termPostings is a word's postings in a field, per segment (nil where it has none), read without
// exceptions, with their documents as bitmaps (deleted ones included) and its live documents in the shard.
type termPostings struct {
	lists []segment.PostingsList
	raws  []*roaring.Bitmap
	freq  uint64
}

type execSegment struct {
	ss     *scorch.SegmentSnapshot
	offset uint64          // the segment's first global document number
	live   *roaring.Bitmap // its live documents, once read
	cache  *segmentCache
}

func openExecShard(ctx context.Context, x *Index, bi interface {
	Advanced() (index.Index, error)
}) (*execShard, error) {
	adv, err := bi.Advanced()
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		_ = r.Close()
		return nil, errUnsupported
	}
	if snap == nil {
		return nil, errIndexClosed
	}
	n, err := snap.DocCount()
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("executor: %w", err)
	}
	s := &execShard{x: x, ctx: ctx, r: r, snap: snap, docTotal: n, dicts: map[string][]segment.TermDictionary{},
		terms: make(map[fieldTerm]*termPostings, 64)}
	var offset uint64
	for _, ss := range snap.Segments() {
		s.segs = append(s.segs, execSegment{ss: ss, offset: offset, cache: x.segCaches.of(ss.Segment())})
		offset += ss.Segment().Count()
	}
	return s, nil
}

// dictionaries is field's dictionary in every segment, read once a search.
func (s *execShard) dictionaries(field string) ([]segment.TermDictionary, error) {
	if dicts, ok := s.dicts[field]; ok {
		return dicts, nil
	}
	dicts := make([]segment.TermDictionary, len(s.segs))
	for i, sg := range s.segs {
		d, err := sg.ss.Segment().Dictionary(field)
		if err != nil {
			return nil, fmt.Errorf("executor: dictionary of %s: %w", field, err)
		}
		dicts[i] = d
	}
	s.dicts[field] = dicts
	return dicts, nil
}

// postings is the postings lists of term in field in every segment, read once a search: the lists are
// read without exceptions, so that a bitmap is the segment's own and an intersection with a set of live
// documents costs no copy of it.
func (s *execShard) postings(field, term string) (*termPostings, error) {
	key := fieldTerm{field, term}
	if tp, ok := s.terms[key]; ok {
		return tp, nil
	}
	dicts, err := s.dictionaries(field)
	if err != nil {
		return nil, err
	}
	tp := &termPostings{lists: make([]segment.PostingsList, len(s.segs)), raws: make([]*roaring.Bitmap, len(s.segs))}
	word := []byte(term)
	for i, d := range dicts {
		if d == nil {
			continue
		}
		pl, err := d.PostingsList(word, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("executor: postings of %s:%s: %w", field, term, err)
		}
		if pl == nil || pl.Count() == 0 {
			continue
		}
		raw := rawBitmap(pl)
		n := raw.GetCardinality()
		if del := s.segs[i].ss.Deleted(); del != nil {
			n -= raw.AndCardinality(del)
		}
		if n > 0 {
			tp.lists[i], tp.raws[i] = pl, raw
			tp.freq += n
		}
	}
	s.terms[key] = tp
	return tp, nil
}

// scoringStats is what scores term in field in segment i without zap's postings (textstats.go): the
// field's lengths and the word's repeats; false when the field has none.
func (s *execShard) scoringStats(field, term string, i int) (lengthsOf, repeats, bool, error) {
	code, ok := statsCode(field)
	if !ok {
		return lengthsOf{}, nil, false, nil
	}
	seg := s.segs[i].ss.Segment()
	fl, err := s.segs[i].cache.fieldLengths(seg)
	if err != nil {
		return lengthsOf{}, nil, false, fmt.Errorf("executor: %w", err)
	}
	lens, ok := fl.field(int(code - 'a'))
	if !ok {
		return lengthsOf{}, nil, false, nil
	}
	key := repeatsKey{i, field, term}
	reps, ok := s.reps[key]
	if !ok {
		dicts, err := s.dictionaries(fieldTextStats)
		if err != nil {
			return lengthsOf{}, nil, false, err
		}
		if dicts[i] != nil {
			if reps, err = readRepeats(dicts[i], code, term); err != nil {
				return lengthsOf{}, nil, false, fmt.Errorf("executor: repeats of %s:%s: %w", field, term, err)
			}
		}
		if s.reps == nil {
			s.reps = map[repeatsKey]repeats{}
		}
		s.reps[key] = reps
	}
	return lens, reps, true, nil
}

// rawBitmap is the documents of a postings list read without exceptions: the segment's own bitmap, not
// to be changed, or a new one for a list of one posting.
func rawBitmap(pl segment.PostingsList) *roaring.Bitmap {
	it := pl.Iterator(false, false, false, nil)
	if o, ok := it.(segment.OptimizablePostingsIterator); ok && o.ActualBitmap() != nil {
		return o.ActualBitmap()
	}
	out := roaring.New()
	for p, err := it.Next(); err == nil && p != nil; p, err = it.Next() {
		out.Add(uint32(p.Number()))
	}
	return out
}

// nodeKind is what a node of a compiled query does.
type nodeKind uint8

const (
	nodeTerm   nodeKind = iota // a word in a field: scored by TF-IDF
	nodePhrase                 // words next to each other in a field: scored as the sum of its words
	nodeAny                    // a disjunction: the sum of the matching children times their share
	nodeAll                    // a conjunction: the sum of the children
	nodeBool                   // must, should, must not and filter
	nodeFilter                 // matches without scoring and without weight
	nodeEvery                  // every movie (not scored here)
	nodeNone                   // no movie: Bleve's MatchNone, which still counts as a child of a disjunction
	nodeRange                  // the words of a field between two bounds, for its matches only
	nodeOpaque                 // a query the executor leaves to Bleve's searcher, for its matches only
)

// node is a query compiled against one shard's snapshot.
type node struct {
	kind     nodeKind
	scorable bool // the node's score is computed here
	withLocs bool // a phrase's word: its postings are read with positions

	field, term   string
	boost         float64
	idf           float64 // of a term
	weight        float64 // of a term: boost × idf × query norm, once normalized
	*termPostings         // of a term

	memo  []*roaring.Bitmap // the node's matches per segment, once computed (an opaque node's, all at once)
	est   uint64            // at most how many movies it matches (a bound, for ordering)
	byEst []*node           // of all and phrase: the kids, least est first
	kids  []*node           // of any, all, and phrase (its words)
	*boolParts
	q query.Query // of opaque and range
}

// boolParts are a boolean node's parts; nil ones are absent. A search compiles hundreds of nodes, few of
// them boolean: the parts are apart to keep the others small.
type boolParts struct {
	must, should, mustNot, filter *node
}

// compile turns a Bleve query built by this package into a node tree for the shard. Query shapes the
// executor does not know become opaque nodes, whose matches Bleve's searcher finds; such a node cannot be
// scored.
//
// A search uses the same query objects more than once: a tier's movies in its count, its scored query and
// the next tier's exclusion, and all of them again for each group of facets. A query object is compiled
// once a search, so its node, with its dictionary look-ups and its matches per segment, serves every use.
// The one part of a node that depends on the whole query, a term's weight, is set by top just before it
// scores (normalize), under the executor's lock.
func (s *execShard) compile(q query.Query) (*node, error) {
	keyed := q != nil && reflect.TypeOf(q).Kind() == reflect.Pointer
	if keyed {
		if n, ok := s.nodes[q]; ok {
			return n, nil
		}
	}
	n, err := s.compileQuery(q)
	if err != nil || n == nil || !keyed {
		return n, err
	}
	if s.nodes == nil {
		s.nodes = map[query.Query]*node{}
	}
	s.nodes[q] = n
	return n, nil
}

func (s *execShard) compileQuery(q query.Query) (*node, error) {
	switch q := q.(type) {
	case *query.TermQuery:
		if q.FieldVal == "" {
			return &node{kind: nodeOpaque, q: q}, nil
		}
		return s.termNode(q.FieldVal, q.Term, q.BoostVal.Value())
	case *query.DisjunctionQuery:
		if q.Min > 1 {
			return &node{kind: nodeOpaque, q: q}, nil
		}
		kids, err := s.compileAll(q.Disjuncts)
		if err != nil || len(kids) == 0 {
			return &node{kind: nodeNone}, err
		}
		return &node{kind: nodeAny, kids: kids, scorable: allScorable(kids)}, nil
	case *query.ConjunctionQuery:
		kids, err := s.compileAll(q.Conjuncts)
		if err != nil || len(kids) == 0 {
			return &node{kind: nodeNone}, err
		}
		return &node{kind: nodeAll, kids: kids, scorable: allScorable(kids)}, nil
	case *query.BooleanQuery:
		return s.compileBool(q)
	case *query.PhraseQuery:
		if q.FieldVal == "" || q.Fuzziness != 0 || len(q.Terms) == 0 {
			return &node{kind: nodeOpaque, q: q}, nil
		}
		n := &node{kind: nodePhrase, field: q.FieldVal, scorable: true}
		for _, t := range q.Terms {
			if t == "" {
				return &node{kind: nodeOpaque, q: q}, nil
			}
			k, err := s.termNode(q.FieldVal, t, q.BoostVal.Value())
			if err != nil {
				return nil, err
			}
			k.withLocs = true
			n.kids = append(n.kids, k)
		}
		return n, nil
	case *query.PrefixQuery:
		if q.FieldVal == "" {
			return &node{kind: nodeOpaque, q: q}, nil
		}
		return s.prefixNode(q.FieldVal, q.Prefix, q.BoostVal.Value())
	case *query.TermRangeQuery:
		if q.FieldVal == "" {
			return &node{kind: nodeOpaque, q: q}, nil
		}
		return &node{kind: nodeRange, field: q.FieldVal, q: q}, nil
	case *query.MatchAllQuery:
		return &node{kind: nodeEvery}, nil
	case *query.MatchNoneQuery:
		return &node{kind: nodeNone}, nil
	case unscored:
		k, err := s.compile(q.q)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeFilter, kids: []*node{k}, scorable: true}, nil
	}
	return &node{kind: nodeOpaque, q: q}, nil
}

func (s *execShard) compileAll(qs []query.Query) ([]*node, error) {
	kids := make([]*node, 0, len(qs))
	for _, q := range qs {
		k, err := s.compile(q)
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	return kids, nil
}

// compileBool follows BooleanQuery.Searcher: a part that matches nothing is dropped, and a lone must or
// should stands for the whole.
func (s *execShard) compileBool(q *query.BooleanQuery) (*node, error) {
	part := func(q query.Query) (*node, error) {
		if q == nil {
			return nil, nil
		}
		n, err := s.compile(q)
		if err != nil || n.kind == nodeNone {
			return nil, err
		}
		return n, nil
	}
	must, err := part(q.Must)
	if err != nil {
		return nil, err
	}
	should, err := part(q.Should)
	if err != nil {
		return nil, err
	}
	mustNot, err := part(q.MustNot)
	if err != nil {
		return nil, err
	}
	var filter *node
	if q.Filter != nil {
		if filter, err = s.compile(q.Filter); err != nil {
			return nil, err
		}
	}
	switch {
	case must == nil && should == nil && mustNot == nil && filter == nil:
		return &node{kind: nodeNone}, nil
	case must != nil && should == nil && mustNot == nil && filter == nil:
		return must, nil
	case must == nil && should != nil && mustNot == nil && filter == nil:
		return should, nil
	case must == nil && should == nil:
		must = &node{kind: nodeEvery}
	}
	n := &node{kind: nodeBool, boolParts: &boolParts{must: must, should: should, mustNot: mustNot, filter: filter}}
	n.scorable = (must == nil || must.scorable) && (should == nil || should.scorable)
	return n, nil
}

func allScorable(ns []*node) bool {
	for _, n := range ns {
		if !n.scorable && n.kind != nodeNone {
			return false
		}
	}
	return true
}

// termNode is a word in a field, with Bleve's TF-IDF idf over the shard's live documents.
func (s *execShard) termNode(field, term string, boost float64) (*node, error) {
	tp, err := s.postings(field, term)
	if err != nil {
		return nil, err
	}
	idf := 1.0 + math.Log(float64(s.docTotal)/float64(tp.freq+1.0))
	return &node{kind: nodeTerm, field: field, term: term, boost: boost, idf: idf, termPostings: tp, scorable: true}, nil
}

// prefixNode follows NewTermPrefixSearcher: the words of the shard's dictionary that start with prefix,
// as a disjunction in dictionary order; the prefix itself as a word when none or only it does.
func (s *execShard) prefixNode(field, prefix string, boost float64) (*node, error) {
	dicts, err := s.dictionaries(field)
	if err != nil {
		return nil, err
	}
	var terms []string
	start, end := []byte(prefix), prefixEnd(prefix)
	for _, d := range dicts {
		if d == nil {
			continue
		}
		it := wordsWithoutCounts(d, nil, start, end)
		for {
			e, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("executor: dictionary of %s: %w", field, err)
			}
			if e == nil {
				break
			}
			terms = append(terms, e.Term)
		}
	}
	if len(dicts) > 1 {
		slices.Sort(terms)
		terms = slices.Compact(terms)
	}
	if len(terms) == 0 || (len(terms) == 1 && terms[0] == prefix) {
		return s.termNode(field, prefix, boost)
	}
	n := &node{kind: nodeAny, scorable: true, kids: make([]*node, 0, len(terms))}
	for _, t := range terms {
		k, err := s.termNode(field, t, boost)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

// sumOfSquares is the node's part of the query norm, as the searchers' Weight methods add it up.
func (n *node) sumOfSquares() float64 {
	switch n.kind {
	case nodeTerm:
		w := n.boost * n.idf
		return w * w
	case nodePhrase, nodeAny, nodeAll:
		var sum float64
		for _, k := range n.kids {
			sum += k.sumOfSquares()
		}
		return sum
	case nodeBool:
		var sum float64
		if n.must != nil {
			sum += n.must.sumOfSquares()
		}
		if n.should != nil {
			sum += n.should.sumOfSquares()
		}
		return sum
	}
	return 0
}

// normalize sets every term's weight from the query norm, as the top searcher's SetQueryNorm does.
func (n *node) normalize(norm float64) {
	switch n.kind {
	case nodeTerm:
		n.weight = n.boost * n.idf * norm
	case nodePhrase, nodeAny, nodeAll:
		for _, k := range n.kids {
			k.normalize(norm)
		}
	case nodeBool:
		for _, k := range []*node{n.must, n.should} {
			if k != nil {
				k.normalize(norm)
			}
		}
	}
}

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
		return roaring.And(n.memo[i], within), nil // one intersection, not one a part
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

func (s *execShard) evalMatches(n *node, i int, within *roaring.Bitmap) (*roaring.Bitmap, error) {
	sg := &s.segs[i]
	switch n.kind {
	case nodeTerm:
		raw := n.raws[i]
		switch {
		case raw == nil:
			return noMatches, nil
		case within != nil:
			return roaring.And(raw, within), nil
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
			return roaring.And(n.memo[i], within), nil
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
