package searchindex

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
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
//
// A sharded index ranks as one index would: a word's idf is taken over every shard's live documents, and a
// prefix expands to the words of every shard's dictionaries, so that shards change where a movie is kept,
// not how it ranks. What goes to Bleve instead, a sorted search or a suggestion, reads the same statistics
// (overCatalog); an index without the executor (Options.BleveExecutor) weighs them per shard.
type executor struct {
	// The facet groups of a search count in parallel: count, top and facet take it. Compiling in one shard
	// reads the others' postings and dictionaries too (termStats, prefixWords), so it guards every shard's.
	mu       sync.Mutex
	x        *Index
	ctx      context.Context
	shards   []*execShard
	docTotal uint64                 // live documents in every shard, and in the peers'
	peerDocs uint64                 // the peers' part of docTotal
	prefixes map[fieldTerm][]string // a prefix's words in every shard's dictionary of the field
	err      error                  // opening failed: every query goes to Bleve
	alone    bool                   // of the index's own movies, to answer a peer: it asks no peers itself
}

func (x *Index) newExecutor(ctx context.Context) *executor {
	if x.opts.BleveExecutor {
		return nil
	}
	return &executor{x: x, ctx: ctx}
}

// ownExecutor is an executor of x's own movies alone, which answers a peer's question.
func (x *Index) ownExecutor(ctx context.Context) *executor {
	e := x.newExecutor(ctx)
	if e != nil {
		e.alone = true
	}
	return e
}

// asksPeers reports whether the search asks the index's peers about the rest of the catalog.
func (e *executor) asksPeers() bool { return !e.alone && e.x.peerSet() != nil }

// peerDocCount is the movies of the index's peers, as the executor asked them when it opened; false if it
// does not ask peers, or cannot open.
func (e *executor) peerDocCount() (uint64, bool) {
	if e == nil || !e.asksPeers() {
		return 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open() != nil {
		return 0, false
	}
	return e.peerDocs, true
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
		s.e = e
		e.shards = append(e.shards, s)
		e.docTotal += s.docTotal
	}
	if !e.asksPeers() {
		return nil
	}
	// A shard of a catalog split across indexes weighs words over every shard's movies.
	a, _, err := e.x.ask(e.ctx, PeerQuestion{Op: AskDocCount}, func() PeerAnswer { return PeerAnswer{N: e.docTotal} })
	if err != nil {
		e.close()
		e.err = err
		return err
	}
	e.docTotal += a.N
	e.peerDocs = a.N
	return nil
}

// peerIDF sets, in an index with peers, the idf of every scoring word of the compiled queries roots from the
// word's movies in every shard of the catalog: the peers' counted in one question. Counting needs no idf,
// so only a query about to be scored asks.
func (e *executor) peerIDF(roots []*node) error {
	if !e.asksPeers() {
		return nil
	}
	freqs, err := e.catalogFreqs(roots)
	if err != nil {
		return err
	}
	for _, root := range roots {
		root.eachScoringTerm(func(n *node) {
			n.idf = idfOf(e.docTotal, freqs[FieldWord{n.field, n.term}])
		})
	}
	return nil
}

// eachScoringTerm calls f with every word of n that takes part in its scores.
func (n *node) eachScoringTerm(f func(*node)) {
	switch n.kind {
	case nodeTerm:
		f(n)
	case nodePhrase, nodeAny, nodeAll:
		for _, k := range n.kids {
			k.eachScoringTerm(f)
		}
	case nodeBool:
		for _, k := range []*node{n.must, n.should} {
			if k != nil {
				k.eachScoringTerm(f)
			}
		}
	}
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
	e        *executor       // whose shard it is; nil for a shard opened on its own
	ctx      context.Context // the search's
	r        index.IndexReader
	snap     *scorch.IndexSnapshot
	segs     []execSegment
	docTotal uint64                              // live documents in the shard (the idf's N is the executor's)
	dicts    map[string][]segment.TermDictionary // by field, per segment
	terms    map[fieldTerm]*termPostings         // each word's postings, read once a search (see postings)
	nodes    map[query.Query]*node               // compiled, by query object (see compile)
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
	dicts, err := s.dictionaries(fieldTextStats)
	if err != nil {
		return lengthsOf{}, nil, false, err
	}
	reps, err := s.segs[i].cache.repeatsOf(code, term, func() (repeats, error) {
		if dicts[i] == nil {
			return nil, nil
		}
		return readRepeats(dicts[i], code, term)
	})
	if err != nil {
		return lengthsOf{}, nil, false, fmt.Errorf("executor: repeats of %s:%s: %w", field, term, err)
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
