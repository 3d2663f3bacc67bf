package searchindex

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"github.com/blevesearch/vellum"
)

// segmentCache is what searches keep of one segment, which never changes once written: the ranking
// priors of its documents by local number, filled as searches score them (a match's prior costs one read
// of its id the first time, then an array load; zero marks a prior not read yet, as a prior is never below
// 1 - RatingWeight > 0), beside its text fields' lengths (textstats.go); the postings of the facet fields
// of few values, as bitmaps; and the dictionary words that query words expand to (typo variants,
// completions), which a search would otherwise find by walking each field's dictionary in every segment
// again; and the documents that repeat a word in a field (repeatsOf).
type segmentCache struct {
	id   uint64        // this segment's number among those the index has had: names it in a set of segments
	docs []docStats    // by local document number
	used atomic.Uint64 // the registry's generation when last opened

	mu     sync.Mutex
	facets map[string]*facetField // by field, once read
	words  map[wordsKey][]index.DictEntry
	typos  map[wordsKey][]typoVariant // by word and fuzz, in every text field (see wordfields.go)
	reps   map[repeatsKey]repeats     // the documents that repeat a word in a field (see textstats.go)

	wordFieldsMu sync.Mutex
	wordFields   *vellum.FST // every text field's words, each with the fields that hold it; nil until built

	lengthsMu sync.Mutex
	lengths   *fieldLengths // which fields have their lengths in docs; nil until read
}

// wordsKey names a dictionary expansion: the typo variants of word within fuzz edits, or (fuzz -1) the
// words that start with it, with their counts.
type wordsKey struct {
	field, word string
	fuzz        int
}

// maxCachedExpansions bounds a segment's cached expansions; past it they are dropped and read again.
const maxCachedExpansions = 8192

// expansion returns the cached expansion of k, or reads it with read and keeps it.
func (sc *segmentCache) expansion(k wordsKey, read func() ([]index.DictEntry, error)) ([]index.DictEntry, error) {
	return kept(&sc.mu, &sc.words, k, read)
}

// kept returns the value *m holds for k, or reads it with read (mu not held) and keeps it; a map of
// maxCachedExpansions values is emptied first.
func kept[K comparable, V any](mu *sync.Mutex, m *map[K]V, k K, read func() (V, error)) (V, error) {
	mu.Lock()
	v, ok := (*m)[k]
	mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	mu.Lock()
	defer mu.Unlock()
	if *m == nil || len(*m) >= maxCachedExpansions {
		*m = map[K]V{}
	}
	(*m)[k] = v
	return v, nil
}

type repeatsKey struct {
	code byte // the field's (statsCode)
	word string
}

// repeatsOf returns the cached repeats of word in the field of code, or reads them with read and keeps
// them: a search scores each of its words in every field of every segment, and most words repeat nowhere,
// which a dictionary walk takes as long to find. Their bitmaps are the segment's own data, read only, and
// looked up only by searches that hold the segment.
func (sc *segmentCache) repeatsOf(code byte, word string, read func() (repeats, error)) (repeats, error) {
	return kept(&sc.mu, &sc.reps, repeatsKey{code, word}, read)
}

// fieldLengths reads the lengths of the segment's documents' text fields into docs once (textstats.go).
func (sc *segmentCache) fieldLengths(seg segment.Segment) (*fieldLengths, error) {
	sc.lengthsMu.Lock()
	defer sc.lengthsMu.Unlock()
	if sc.lengths == nil {
		fl, err := readFieldLengths(seg, sc.docs)
		if err != nil {
			return nil, err
		}
		sc.lengths = fl
	}
	return sc.lengths, nil
}

// docStats is what scoring reads of a document: its prior and its text fields' lengths, side by side, so
// that a match costs one memory access rather than one an array.
type docStats struct {
	prior atomic.Uint64 // math.Float64bits
	lens  [len(scoredTextFields)]uint16
}

// termBitmap is a term of a facet field and its live and deleted documents in the segment.
type termBitmap struct {
	term string
	docs *roaring.Bitmap
}

// facetField is a facet field of the segment: its terms with their documents, and, once asked for, the
// other way round: each document's terms, for counting a few matches one by one rather than intersecting
// every term's documents with them. A field of one term a document (the year, the rating, the runtime)
// keeps that term's index plus one by document (0: none), 2 bytes a document; another keeps each
// document's term indexes, ords[offs[d]:offs[d+1]], 4 bytes a document and 2 a term.
type facetField struct {
	terms   []termBitmap
	once    sync.Once
	one     []uint16
	offs    []uint32
	ords    []uint16
	forward bool // one, or offs and ords, are built
}

// count adds one to perTerm for each term of document d.
func (ff *facetField) count(d uint32, perTerm []int) {
	if ff.one != nil {
		if j := ff.one[d]; j > 0 {
			perTerm[j-1]++
		}
		return
	}
	for _, j := range ff.ords[ff.offs[d]:ff.offs[d+1]] {
		perTerm[j]++
	}
}

// facetTerms is the facet field of the segment, read once.
func (sc *segmentCache) facetTerms(seg segment.Segment, field string) (*facetField, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if ff, ok := sc.facets[field]; ok {
		return ff, nil
	}
	d, err := seg.Dictionary(field)
	if err != nil {
		return nil, err
	}
	ff := &facetField{}
	if d != nil {
		err := eachTerm(d, nil, nil, func(term string, pl segment.PostingsList) (bool, error) {
			ff.terms = append(ff.terms, termBitmap{term: term, docs: listBitmap(pl, nil)})
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if sc.facets == nil {
		sc.facets = map[string]*facetField{}
	}
	sc.facets[field] = ff
	return ff, nil
}

// eachTerm calls f with each term of d from from (inclusive) to to (exclusive; nil bounds: the whole
// dictionary), in order, and its postings list, until f says to stop or fails.
func eachTerm(d segment.TermDictionary, from, to []byte, f func(term string, pl segment.PostingsList) (bool, error)) error {
	it := d.AutomatonIterator(nil, from, to)
	for {
		e, err := it.Next()
		if err != nil || e == nil {
			return err
		}
		pl, err := d.PostingsList([]byte(e.Term), nil, nil)
		if err != nil {
			return err
		}
		if more, err := f(e.Term, pl); err != nil || !more {
			return err
		}
	}
}

// byDocument builds the documents' terms once; false if the field has none in the segment, or too many
// terms for them.
func (ff *facetField) byDocument(docs uint64) bool {
	ff.once.Do(func() {
		if len(ff.terms) == 0 || len(ff.terms) > math.MaxUint16 || docs > math.MaxUint32 {
			return
		}
		offs := make([]uint32, docs+1)
		single := true
		for _, t := range ff.terms {
			it := t.docs.Iterator()
			for it.HasNext() {
				if d := it.Next(); uint64(d) < docs {
					offs[d+1]++
					single = single && offs[d+1] == 1
				}
			}
		}
		if single {
			one := make([]uint16, docs)
			for j, t := range ff.terms {
				it := t.docs.Iterator()
				for it.HasNext() {
					if d := it.Next(); uint64(d) < docs {
						one[d] = uint16(j + 1)
					}
				}
			}
			ff.one, ff.forward = one, true
			return
		}
		for d := uint64(1); d <= docs; d++ {
			offs[d] += offs[d-1]
		}
		ords := make([]uint16, offs[docs])
		next := slices.Clone(offs[:docs])
		for j, t := range ff.terms {
			it := t.docs.Iterator()
			for it.HasNext() {
				if d := it.Next(); uint64(d) < docs {
					ords[next[d]] = uint16(j)
					next[d]++
				}
			}
		}
		ff.offs, ff.ords, ff.forward = offs, ords, true
	})
	return ff.forward
}

func (sp *segmentCache) get(d uint64) float64 {
	if d >= uint64(len(sp.docs)) {
		return 0
	}
	return math.Float64frombits(sp.docs[d].prior.Load())
}

func (sp *segmentCache) set(d uint64, v float64) {
	if d < uint64(len(sp.docs)) {
		sp.docs[d].prior.Store(math.Float64bits(v))
	}
}

// segmentCaches holds the segmentCache of the segments searches open. Merges replace segments; the
// ones no search has opened in a while are dropped.
type segmentCaches struct {
	mu   sync.Mutex
	gen  uint64
	ids  uint64 // the last segmentCache.id given
	segs map[segment.Segment]*segmentCache

	shared sharedExpansions // what words expanded to in the set of segments searched last
}

// sharedExpansions keeps a search's expansions (expansions.words) for the searches after it, while they
// read the same set of segments. An expansion depends on nothing but the segments' dictionaries and
// postings, which never change: an index at rest answers a word's typo variants and completions from here.
// Otherwise each search merged them again across fields and segments: a tenth of a query ending in a short
// word ("a", "the ma"), whose completions are thousands of words. Under writes the set changes with each
// batch (its segment in memory, then the same on disk) and each merge, and the expansions are found again.
type sharedExpansions struct {
	mu     sync.Mutex
	set    string // the segments' ids, in the order the shards' snapshots list them
	newest uint64 // the highest of them: a search of an older set, still running, does not drop these
	words  map[expansionKey]any
	bytes  int // about what words holds
}

// maxSharedExpansionBytes bounds sharedExpansions; past it they are dropped and found again.
const maxSharedExpansionBytes = 16 << 20

// get returns what key expanded to in the set of segments.
func (c *sharedExpansions) get(set string, key expansionKey) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set {
		return nil, false
	}
	v, ok := c.words[key]
	return v, ok
}

// put keeps what key expanded to in the set of segments whose highest id is newest: the expansions of an
// older set are dropped, those of a newer one kept.
func (c *sharedExpansions) put(set string, newest uint64, key expansionKey, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set {
		if newest < c.newest {
			return
		}
		c.set, c.newest, c.words, c.bytes = set, newest, nil, 0
	}
	size := expansionBytes(key, v)
	if c.words == nil || c.bytes+size > maxSharedExpansionBytes {
		c.words, c.bytes = map[expansionKey]any{}, 0
	}
	c.words[key] = v
	c.bytes += size
}

// expansionBytes is about the memory an expansion holds: its words and their headers, and the map entry.
func expansionBytes(key expansionKey, v any) int {
	n := 96 + len(key.field) + len(key.word)
	switch v := v.(type) {
	case []string:
		for _, w := range v {
			n += 16 + len(w)
		}
	case []index.DictEntry:
		for _, e := range v {
			n += 40 + len(e.Term)
		}
	}
	return n
}

// dropAfter is how many look-ups (of any segment) a segment's cache outlives its own last one. Every search
// looks up each segment of its snapshot, so the cache of a segment that a merge replaced goes within a few
// searches.
const dropAfter = 256

func newSegmentCaches() *segmentCaches {
	return &segmentCaches{segs: map[segment.Segment]*segmentCache{}}
}

// of returns the cache of seg, empty at first.
func (p *segmentCaches) of(seg segment.Segment) *segmentCache {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	sp, ok := p.segs[seg]
	if !ok {
		p.ids++
		sp = &segmentCache{id: p.ids, docs: make([]docStats, seg.Count())}
		p.segs[seg] = sp
	}
	sp.used.Store(p.gen)
	if p.gen%dropAfter == 0 {
		for s, old := range p.segs {
			if p.gen-old.used.Load() > dropAfter {
				delete(p.segs, s)
			}
		}
	}
	return sp
}
