package searchindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/blevesearch/bleve/v2/mapping"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// What the executor does not answer, a sorted search with text and a suggestion, Bleve's searchers score,
// and they weigh a word by the statistics of the index they search: one shard's. Scores then differ from
// shard to shard, and a merge that compares them (the movies of one sort value, a suggestion list) is not
// the order one index of every movie gives. overCatalog hands Bleve the catalog's statistics instead,
// those the executor scores by: the live movies and each word's movies in every shard of the index and
// its peers, and each prefix's words in all their dictionaries.

// catalogStats is what Bleve's searchers read to weigh a query's words, over the whole catalog.
type catalogStats struct {
	docs     uint64                 // live movies
	freqs    map[fieldTerm]uint64   // by scored word: its movies
	prefixes map[fieldTerm][]string // by prefix: its words, in dictionary order (nil: none to expand)
}

// overCatalog is q as Bleve scores it over the whole catalog; q itself where the index is the catalog
// (one shard, no peers), or where the executor cannot open (not a scorch index) and no peer is asked.
func (e *executor) overCatalog(q query.Query) (query.Query, error) {
	if e == nil || len(e.x.shards) < 2 && e.x.peerSet() == nil {
		return q, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		if e.x.peerSet() == nil {
			return q, nil
		}
		return nil, err
	}
	if err := e.prefetchPrefixes(q); err != nil {
		return nil, err
	}
	root, err := e.shards[0].compile(q) // its words' movies are every shard's, its prefixes every shard's words
	if err != nil {
		return nil, err
	}
	freqs, err := e.catalogFreqs([]*node{root})
	if err != nil {
		return nil, err
	}
	stats := &catalogStats{docs: e.docTotal, freqs: make(map[fieldTerm]uint64, len(freqs)), prefixes: map[fieldTerm][]string{}}
	for w, n := range freqs {
		stats.freqs[fieldTerm{w.Field, w.Word}] = n
	}
	eachPrefix(q, func(query.Query) bool { return true }, func(pq *query.PrefixQuery) {
		if words, ok := e.prefixes[fieldTerm{pq.FieldVal, pq.Prefix}]; ok {
			stats.prefixes[fieldTerm{pq.FieldVal, pq.Prefix}] = words
		}
	})
	return weighedOver{q: q, stats: stats}, nil
}

// weighedOver is a query whose searchers read their statistics from stats.
type weighedOver struct {
	q     query.Query
	stats *catalogStats
}

func (w weighedOver) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, options blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	sr, ok := r.(snapshotReader)
	if !ok {
		return nil, fmt.Errorf("search: %T is not a scorch snapshot's reader", r)
	}
	return w.q.Searcher(ctx, catalogReader{snapshotReader: sr, stats: w.stats}, m, options)
}

// snapshotReader is what Bleve's searchers use of a scorch snapshot: the reader, the dictionary look-up a
// numeric range narrows its terms with, and the automata a fuzzy or regexp query walks (the expansions'
// fallback when the dictionaries cannot be read).
type snapshotReader interface {
	index.IndexReader
	index.IndexReaderContains
	index.IndexReaderFuzzy
	index.IndexReaderRegexp
}

// catalogReader is a shard's reader that reports the catalog's statistics: the live movies, a scored
// word's movies, and a prefix's words. The postings it reads are the shard's own.
type catalogReader struct {
	snapshotReader
	stats *catalogStats
}

func (r catalogReader) DocCount() (uint64, error) { return r.stats.docs, nil }

func (r catalogReader) TermFieldReader(ctx context.Context, term []byte, field string, freq, norm, vectors bool) (index.TermFieldReader, error) {
	tfr, err := r.snapshotReader.TermFieldReader(ctx, term, field, freq, norm, vectors)
	if err != nil {
		return nil, err
	}
	if n, ok := r.stats.freqs[fieldTerm{field, string(term)}]; ok && (freq || norm) {
		return countedAs{TermFieldReader: tfr, n: n}, nil
	}
	return tfr, nil // a word only matched, not scored: Bleve's own reader, which it may optimize
}

func (r catalogReader) FieldDictPrefix(field string, prefix []byte) (index.FieldDict, error) {
	if words, ok := r.stats.prefixes[fieldTerm{field, string(prefix)}]; ok {
		return &wordList{words: words}, nil
	}
	return r.snapshotReader.FieldDictPrefix(field, prefix)
}

// countedAs is a word's postings in a shard that count as its movies in the catalog.
type countedAs struct {
	index.TermFieldReader
	n uint64
}

func (c countedAs) Count() uint64 { return c.n }

// wordList is a dictionary of given words, in order. Their counts are not known: only a prefix's
// expansion reads it, for the words.
type wordList struct {
	words []string
	at    int
}

func (d *wordList) Next() (*index.DictEntry, error) {
	if d.at == len(d.words) {
		return nil, nil
	}
	d.at++
	return &index.DictEntry{Term: d.words[d.at-1]}, nil
}

func (d *wordList) Close() error     { return nil }
func (d *wordList) Cardinality() int { return len(d.words) }
func (d *wordList) BytesRead() uint64 {
	return 0
}

// catalogFreqs is, for every scoring word of the compiled roots, its live movies in the catalog: every
// shard's of the index (a term node's freq) and, in an index with peers, theirs, asked in one question.
func (e *executor) catalogFreqs(roots []*node) (map[FieldWord]uint64, error) {
	var terms []FieldWord
	var own []uint64 // the index's own movies with each of terms
	freqs := map[FieldWord]uint64{}
	for _, root := range roots {
		root.eachScoringTerm(func(n *node) {
			k := FieldWord{n.field, n.term}
			if _, ok := freqs[k]; !ok {
				freqs[k] = n.freq
				terms = append(terms, k)
				own = append(own, n.freq)
			}
		})
	}
	if len(terms) == 0 || !e.asksPeers() {
		return freqs, nil
	}
	a, _, err := e.x.ask(e.ctx, PeerQuestion{Op: AskTermFreqs, Terms: terms}, func() PeerAnswer { return PeerAnswer{Ns: own} })
	if err != nil {
		return nil, err
	}
	if len(a.Ns) != len(terms) {
		return nil, fmt.Errorf("executor: %d word counts from the peers, want %d", len(a.Ns), len(terms))
	}
	for i, k := range terms {
		freqs[k] += a.Ns[i]
	}
	return freqs, nil
}

// PeerStats are catalogStats on the wire: the catalog's live movies, and each scored word's (AskSuggestPool's,
// whose query has no prefix left to expand).
type PeerStats struct {
	Docs  uint64      `json:"docs"`
	Terms []FieldWord `json:"terms"`
	Freqs []uint64    `json:"freqs"` // of each of Terms
}

// wire is s as a question carries it, in an order of its own: a question's key is its JSON.
func (s *catalogStats) wire() *PeerStats {
	w := &PeerStats{Docs: s.docs}
	for _, k := range slices.SortedFunc(maps.Keys(s.freqs), func(a, b fieldTerm) int {
		return cmp.Or(strings.Compare(a.field, b.field), strings.Compare(a.term, b.term))
	}) {
		w.Terms = append(w.Terms, FieldWord{k.field, k.term})
		w.Freqs = append(w.Freqs, s.freqs[k])
	}
	return w
}

// catalog is the statistics w carries.
func (w *PeerStats) catalog() *catalogStats {
	s := &catalogStats{docs: w.Docs, freqs: make(map[fieldTerm]uint64, len(w.Terms))}
	for i, t := range w.Terms {
		s.freqs[fieldTerm{t.Field, t.Word}] = w.Freqs[i]
	}
	return s
}

// checkSuggestion refuses an AskSuggestPool that no shard's suggestion asks: words that are not words, a
// completion that does not complete the last of them, more completions than a suggestion takes, or
// statistics that are not a catalog's. What the answer costs is then bounded as a suggestion's.
func (q PeerQuestion) checkSuggestion() error {
	if len(q.Words) == 0 || len(q.Words) > maxSuggestWords || slices.Contains(q.Words, "") {
		return errors.New("no words, too many, or an empty one")
	}
	last := q.Words[len(q.Words)-1]
	if len(q.Completions) != len(suggestFields) {
		return errors.New("completions of every suggestion field, and only those")
	}
	for _, f := range suggestFields {
		ws, ok := q.Completions[f.name]
		if !ok || len(ws) > maxCompletions || slices.ContainsFunc(ws, func(w string) bool { return !strings.HasPrefix(w, last) }) {
			return fmt.Errorf("the completions of %s are not %d words at most, each completing %q", f.name, maxCompletions, last)
		}
	}
	maxTerms := len(suggestFields)*(len(q.Words)+maxCompletions) + 1
	if s := q.Stats; s == nil || s.Docs == 0 || len(s.Terms) != len(s.Freqs) || len(s.Terms) > maxTerms {
		return errors.New("no statistics of a catalog, or more words than the suggestion scores")
	}
	return nil
}
