package searchindex

import (
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/search/query"
)

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
	freq          uint64  // of a term: its live movies in every shard of this process (the idf's, but for peers')
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

// termNode is a word in a field, with Bleve's TF-IDF idf over the whole index's live documents.
func (s *execShard) termNode(field, term string, boost float64) (*node, error) {
	tp, err := s.postings(field, term)
	if err != nil {
		return nil, err
	}
	docs, freq, err := s.termStats(field, term, tp)
	if err != nil {
		return nil, err
	}
	return &node{kind: nodeTerm, field: field, term: term, boost: boost, idf: idfOf(docs, freq), freq: freq, termPostings: tp, scorable: true}, nil
}

// idfOf is Bleve's TF-IDF idf of a word that freq of docs live movies have.
func idfOf(docs, freq uint64) float64 { return 1.0 + math.Log(float64(docs)/float64(freq+1.0)) }

// termStats is the whole index's live documents, and those with the word in the field: the shard's own
// when it is the only one, else added up over the executor's shards (whose postings every shard reads
// anyway, as each compiles the same query). An index with peers adds theirs before it scores (peerIDF).
func (s *execShard) termStats(field, term string, tp *termPostings) (docs, freq uint64, err error) {
	if s.e == nil || len(s.e.shards) < 2 {
		return s.docTotal + s.peerDocs(), tp.freq, nil
	}
	for _, o := range s.e.shards {
		otp := tp
		if o != s {
			if otp, err = o.postings(field, term); err != nil {
				return 0, 0, err
			}
		}
		freq += otp.freq
	}
	return s.e.docTotal, freq, nil
}

// peerDocs is the live movies of the index's peers, as its executor counted them.
func (s *execShard) peerDocs() uint64 {
	if s.e == nil {
		return 0
	}
	return s.e.peerDocs
}

// prefixNode follows NewTermPrefixSearcher: the words of the index's dictionary that start with prefix,
// as a disjunction in dictionary order; the prefix itself as a word when none or only it does.
func (s *execShard) prefixNode(field, prefix string, boost float64) (*node, error) {
	terms, err := s.prefixWords(field, prefix)
	if err != nil {
		return nil, err
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

// prefixWords is the words of the field that start with prefix, in dictionary order: of every shard of the
// executor, so that each shard's disjunction (and its part of the query norm) is the one a single index has.
func (s *execShard) prefixWords(field, prefix string) ([]string, error) {
	if s.e == nil || len(s.e.shards) < 2 && !s.e.asksPeers() {
		return s.ownPrefixWords(field, prefix)
	}
	key := fieldTerm{field, prefix}
	if words, ok := s.e.prefixes[key]; ok {
		return words, nil
	}
	var words []string
	for _, o := range s.e.shards {
		own, err := o.ownPrefixWords(field, prefix)
		if err != nil {
			return nil, err
		}
		words = append(words, own...)
	}
	if s.e.asksPeers() {
		own := func() PeerAnswer { return PeerAnswer{Words: slices.Compact(slices.Sorted(slices.Values(words)))} }
		a, _, err := s.x.ask(s.ctx, prefixWordsQuestion(field, prefix), own)
		if err != nil {
			return nil, err
		}
		words = append(words, a.Words...)
	}
	slices.Sort(words)
	words = slices.Compact(words)
	if s.e.prefixes == nil {
		s.e.prefixes = map[fieldTerm][]string{}
	}
	s.e.prefixes[key] = words
	return words, nil
}

func prefixWordsQuestion(field, prefix string) PeerQuestion {
	return PeerQuestion{Op: AskPrefixWords, Field: field, Word: prefix}
}

// prefetchPrefixes asks the peers at once for the words of every prefix in q that compiling it will ask
// them for, one by one (prefixWords).
func (e *executor) prefetchPrefixes(q query.Query) error {
	if !e.asksPeers() || len(e.shards) == 0 {
		return nil
	}
	compiled := e.shards[0].nodes
	var qs []PeerQuestion
	eachPrefix(q, func(q query.Query) bool {
		_, ok := compiled[q] // its prefixes' words are known
		return !ok
	}, func(pq *query.PrefixQuery) {
		if _, ok := e.prefixes[fieldTerm{pq.FieldVal, pq.Prefix}]; !ok {
			qs = append(qs, prefixWordsQuestion(pq.FieldVal, pq.Prefix))
		}
	})
	if len(qs) < 2 {
		return nil // asked as it comes
	}
	return e.x.prefetch(e.ctx, qs...)
}

// eachPrefix visits the prefix queries of a field that compiling q compiles, in the parts of q that
// enter says to enter (a part a pointer names; the rest are entered).
func eachPrefix(q query.Query, enter func(query.Query) bool, visit func(*query.PrefixQuery)) {
	if q != nil && reflect.TypeOf(q).Kind() == reflect.Pointer && !enter(q) {
		return
	}
	switch q := q.(type) {
	case *query.PrefixQuery:
		if q.FieldVal != "" {
			visit(q)
		}
	case *query.DisjunctionQuery:
		if q.Min <= 1 {
			for _, k := range q.Disjuncts {
				eachPrefix(k, enter, visit)
			}
		}
	case *query.ConjunctionQuery:
		for _, k := range q.Conjuncts {
			eachPrefix(k, enter, visit)
		}
	case *query.BooleanQuery:
		for _, k := range []query.Query{q.Must, q.Should, q.MustNot, q.Filter} {
			if k != nil {
				eachPrefix(k, enter, visit)
			}
		}
	case unscored:
		eachPrefix(q.q, enter, visit)
	}
}

// ownPrefixWords is the words of the field in the shard's own dictionaries that start with prefix, in
// dictionary order.
func (s *execShard) ownPrefixWords(field, prefix string) ([]string, error) {
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
	return terms, nil
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
