package searchindex

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"github.com/blevesearch/vellum"
	lev "github.com/blevesearch/vellum/levenshtein"

	"marquee/services/search"
)

// spellFields are the fields whose words did-you-mean knows: titles, people, genres, keywords and tags, not
// the overviews and taglines, whose rare words would make poor corrections. It reads their dictionaries
// rather than a field of its own that copies them: the copy cost a sixth of the indexing CPU.
var spellFields = []string{fieldTitle, fieldDirectors, fieldCast, fieldGenres, fieldKeywords, fieldTags}

// spellChoices is how many of a misspelt word's closest words did-you-mean tries in the query.
const spellChoices = 5

// didYouMean looks for a better spelling of a query that has few exact matches: each word that no movie
// has (in its title, people, genres, keywords or tags) is replaced by one of the closest words the movies do
// have: of the most common few among equally close ones, the one with which the query finds the most movies
// exactly. The correction is offered only if it finds more movies exactly than the query.
func (x *Index) didYouMean(ctx context.Context, text search.Text, p *plan, filter query.Query, exactTotal uint64) (string, error) {
	ir, err := x.reader(ctx)
	if err != nil {
		return "", err
	}
	defer ir.close()
	// Every word's movies, and whether a word being typed completes, in one question to the peers.
	var qs []PeerQuestion
	for _, t := range p.terms {
		qs = append(qs, docFreqQuestion(spellFields, t.text))
		if t.prefix {
			qs = append(qs, hasPrefixQuestion(spellFields, t.text))
		}
	}
	if err := x.prefetch(ctx, qs...); err != nil {
		return "", err
	}
	changed := false
	corrected := make([]term, len(p.terms))
	choices := make([][]string, len(p.terms)) // of each word corrected, its closest words, best first
	for i, t := range p.terms {
		corrected[i] = t
		n, err := ir.docFreq(spellFields, t.text)
		if err != nil {
			return "", err
		}
		if n > 0 {
			continue
		}
		if t.prefix {
			if has, err := ir.hasPrefix(spellFields, t.text); err != nil || has {
				if err != nil {
					return "", err
				}
				continue
			}
		}
		fuzz := max(1, t.fuzz)
		if utf8.RuneCountInString(t.text) < 3 {
			continue
		}
		cands, err := spellVariants(ir, p.exp, t.text, fuzz)
		if err != nil {
			return "", err
		}
		words, err := ir.closest(spellFields, t.text, fuzz, cands, spellChoices)
		if err != nil {
			return "", err
		}
		if len(words) > 0 {
			corrected[i] = newTerm(words[0], false)
			choices[i] = words
			changed = true
		}
	}
	if !changed {
		return "", nil
	}
	// Of a word's closest words, the one with which the query is most movies' title, then most movies' words:
	// harry poter is harry potter, though more movies have peter, and harry and peter together.
	cp := *p
	cp.terms = corrected
	choiceQueries := func(terms []term) (anywhere, inTitles query.Query) {
		alt := cp
		alt.terms = terms
		title := make([]query.Query, len(terms))
		for i, t := range terms {
			title[i] = wordQuery(fieldTitle, t.text, 1)
		}
		return and(x.membership(&alt, allExact), filter), and(query.NewConjunctionQuery(title), filter)
	}
	count := func(terms []term) (inTitles, anywhere uint64, err error) {
		qa, qt := choiceQueries(terms)
		if anywhere, err = x.countWith(ctx, p.exec, qa); err != nil || anywhere == 0 {
			return 0, anywhere, err
		}
		inTitles, err = x.countWith(ctx, p.exec, qt)
		return inTitles, anywhere, err
	}
	// The fields of the choices' words, which their queries look up (split), in one question to the peers.
	var words []string
	for _, ws := range choices {
		words = append(words, ws...)
	}
	if err := p.exp.prefetchWordFields(words); err != nil {
		return "", err
	}
	// A word's choices are counted against the words chosen before it, all at once: both counts of each,
	// though only a choice that matches needs its titles' (one round trip either way).
	alternatives := func(i int) [][]term {
		var alts [][]term
		for _, w := range choices[i][min(1, len(choices[i])):] {
			terms := slices.Clone(cp.terms)
			terms[i] = newTerm(w, false)
			alts = append(alts, terms)
		}
		return alts
	}
	prefetch := func(alts ...[]term) error {
		var qs []PeerQuestion
		for _, terms := range alts {
			anywhere, inTitles := choiceQueries(terms)
			qs = append(qs, countQuestion(anywhere), countQuestion(inTitles))
		}
		return x.prefetch(ctx, qs...)
	}
	if err := prefetch(append(alternatives(0), cp.terms)...); err != nil {
		return "", err
	}
	bestTitles, n, err := count(cp.terms)
	if err != nil {
		return "", err
	}
	for i := range choices {
		alts := alternatives(i)
		if err := prefetch(alts...); err != nil {
			return "", err
		}
		for _, terms := range alts {
			t, k, err := count(terms)
			if err != nil {
				return "", err
			}
			if t > bestTitles || (t == bestTitles && k > n) {
				cp.terms, bestTitles, n = terms, t, k
			}
		}
	}
	corrected = cp.terms
	if n <= exactTotal {
		return "", nil
	}
	parts := make([]string, 0, len(corrected)+len(text.Phrases)+len(text.Excluded))
	for _, t := range corrected {
		parts = append(parts, t.text)
	}
	for _, ph := range text.Phrases {
		parts = append(parts, `"`+ph+`"`)
	}
	for _, ex := range text.Excluded {
		if strings.Contains(ex, " ") {
			ex = `"` + ex + `"`
		}
		parts = append(parts, "-"+ex)
	}
	return strings.Join(parts, " "), nil
}

// dictReader reads the term dictionaries of one snapshot of every shard: a word's count is the sum of its
// counts in the shards.
type dictReader struct {
	rs    []index.IndexReader
	cache *segmentCaches // each segment's expansions, kept across searches
	x     *Index
	ctx   context.Context // of the search, for the questions to x's peers; nil: x's own words alone

	dfaMu sync.Mutex
	dfas  map[dfaKey]vellum.Automaton // Levenshtein DFAs built so far, shared by every field's walk

	fieldsMu sync.Mutex
	fields   map[string]uint64 // the words' fields found so far (wordFieldsOf)
}

type dfaKey struct {
	word string
	fuzz int
}

// levenshtein is the DFA of the words within fuzz edits of t. A search walks up to eight fields'
// dictionaries for a word's typo variants, and building the DFA costs more than a walk.
func (ir *dictReader) levenshtein(t string, fuzz int) (vellum.Automaton, error) {
	ir.dfaMu.Lock()
	defer ir.dfaMu.Unlock()
	k := dfaKey{t, fuzz}
	if dfa, ok := ir.dfas[k]; ok {
		return dfa, nil
	}
	dfa, err := levenshteinDFA(t, fuzz)
	if err != nil {
		return nil, err
	}
	if ir.dfas == nil {
		ir.dfas = map[dfaKey]vellum.Automaton{}
	}
	ir.dfas[k] = dfa
	return dfa, nil
}

// reader opens a snapshot of the index for dictionary reads of the whole catalog (x's and its peers'
// words); close it after use.
func (x *Index) reader(ctx context.Context) (*dictReader, error) {
	ir, err := x.ownReader()
	if ir != nil {
		ir.ctx = ctx
	}
	return ir, err
}

// ask asks x's peers of the reader's search, if it has any and is not a peer's own reader; own is the
// reader's own answer (see Index.ask).
func (ir *dictReader) ask(q PeerQuestion, own func() PeerAnswer) (PeerAnswer, bool, error) {
	if ir.ctx == nil {
		return PeerAnswer{}, false, nil
	}
	return ir.x.ask(ir.ctx, q, own)
}

// prefetch is Index.prefetch for the reader's search (see ask).
func (ir *dictReader) prefetch(qs []PeerQuestion) error {
	if ir.ctx == nil {
		return nil
	}
	return ir.x.prefetch(ir.ctx, qs...)
}

// ownReader opens a snapshot of x's own dictionaries; close it after use.
func (x *Index) ownReader() (*dictReader, error) {
	ir := &dictReader{cache: x.segCaches, x: x}
	for _, bi := range x.shards {
		ai, err := bi.Advanced()
		if err != nil {
			ir.close()
			return nil, fmt.Errorf("open index reader: %w", err)
		}
		r, err := ai.Reader()
		if err != nil {
			ir.close()
			return nil, fmt.Errorf("open index reader: %w", err)
		}
		ir.rs = append(ir.rs, r)
	}
	return ir, nil
}

// segmentSet names the segments ir reads by their caches' ids (sharedExpansions), and gives the highest.
func (ir *dictReader) segmentSet() (set string, newest uint64, err error) {
	var ids []byte
	err = ir.eachSegmentOf(func(_ segment.Segment, sc *segmentCache) error {
		ids = binary.AppendUvarint(ids, sc.id)
		newest = max(newest, sc.id)
		return nil
	})
	return string(ids), newest, err
}

func (ir *dictReader) close() {
	for _, r := range ir.rs {
		_ = r.Close()
	}
}

// docFreq is the number of movies that have word t in each of the fields, added up (deleted ones
// included, as a dictionary counts them), in every shard of the catalog.
func (ir *dictReader) docFreq(fields []string, t string) (uint64, error) {
	n, err := ir.ownDocFreq(fields, t)
	if err != nil {
		return 0, err
	}
	a, _, err := ir.ask(docFreqQuestion(fields, t), func() PeerAnswer { return PeerAnswer{N: n} })
	return n + a.N, err
}

func docFreqQuestion(fields []string, word string) PeerQuestion {
	return PeerQuestion{Op: AskDocFreq, Fields: fields, Word: word}
}

// ownDocFreq is docFreq of the reader's own segments. It reads each segment's dictionary itself: the
// snapshot's dictionary ranges open a goroutine and an iterator per segment, for one word.
func (ir *dictReader) ownDocFreq(fields []string, t string) (uint64, error) {
	var n uint64
	word := []byte(t)
	err := ir.eachSegmentOf(func(seg segment.Segment, _ *segmentCache) error {
		for _, field := range fields {
			d, err := seg.Dictionary(field)
			if err != nil {
				return fmt.Errorf("read dictionary of %s: %w", field, err)
			}
			if d == nil {
				continue
			}
			pl, err := d.PostingsList(word, nil, nil)
			if err != nil {
				return fmt.Errorf("read postings of %s:%s: %w", field, t, err)
			}
			if pl != nil {
				n += pl.Count()
			}
		}
		return nil
	})
	return n, err
}

// hasPrefix reports whether a word of any of the fields starts with prefix, in any shard of the catalog.
func (ir *dictReader) hasPrefix(fields []string, prefix string) (bool, error) {
	if ir.ownHasPrefix(fields, prefix) {
		return true, nil
	}
	a, _, err := ir.ask(hasPrefixQuestion(fields, prefix), func() PeerAnswer { return PeerAnswer{} })
	return a.Yes, err
}

func hasPrefixQuestion(fields []string, prefix string) PeerQuestion {
	return PeerQuestion{Op: AskHasPrefix, Fields: fields, Word: prefix}
}

// ownHasPrefix is hasPrefix of the reader's own segments.
func (ir *dictReader) ownHasPrefix(fields []string, prefix string) bool {
	start, end := []byte(prefix), prefixEnd(prefix)
	err := ir.eachSegmentOf(func(seg segment.Segment, _ *segmentCache) error {
		for _, field := range fields {
			d, err := seg.Dictionary(field)
			if err != nil || d == nil {
				continue
			}
			if e, err := wordsWithoutCounts(d, nil, start, end).Next(); err == nil && e != nil {
				return errFound
			}
		}
		return nil
	})
	return errors.Is(err, errFound)
}

// errFound stops a walk that found what it looked for.
var errFound = errors.New("found")

// visitDict calls visit with each entry of the dictionary open opens, and closes it.
func visitDict(open func() (index.FieldDict, error), visit func(*index.DictEntry)) error {
	d, err := open()
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	for {
		e, err := d.Next()
		if err != nil || e == nil {
			return err
		}
		visit(e)
	}
}

// spellVariants is the words of the spell fields within fuzz edits of t, in dictionary order. The search's
// typo tier expands the same words in the same fields: exp holds those expansions and reads the ones it
// lacks; ir reads a field only if exp cannot.
func spellVariants(ir *dictReader, exp *expansions, t string, fuzz int) ([]index.DictEntry, error) {
	seen := map[string]bool{}
	var out []index.DictEntry
	for _, field := range spellFields {
		cands, ok := exp.variants(field, t, fuzz)
		if !ok {
			var err error
			if cands, err = ir.fuzzy(field, t, fuzz); err != nil {
				return nil, err
			}
		}
		for _, c := range cands {
			if !seen[c.Term] {
				seen[c.Term] = true
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b index.DictEntry) int { return strings.Compare(a.Term, b.Term) })
	return out, nil
}

// closest is the words among cands, the words of the fields within fuzz edits of t, with the fewest edits,
// the most movies (added up over the fields) first: at most n of them. Bleve's fuzzy dictionary walk does not
// count the movies of each word, so the closest words are counted afterwards, only they.
func (ir *dictReader) closest(fields []string, t string, fuzz int, cands []index.DictEntry, n int) ([]string, error) {
	type scored struct {
		word  string
		count uint64
	}
	bestDist := fuzz + 1
	dists := make([]int, len(cands))
	for i, c := range cands {
		dists[i] = levenshtein(t, c.Term, fuzz)
		bestDist = min(bestDist, dists[i])
	}
	var best []scored
	var qs []PeerQuestion
	for i, c := range cands {
		if dists[i] == bestDist {
			best = append(best, scored{word: c.Term})
			qs = append(qs, docFreqQuestion(fields, c.Term))
		}
	}
	if err := ir.prefetch(qs); err != nil {
		return nil, err
	}
	for i := range best {
		var err error
		if best[i].count, err = ir.docFreq(fields, best[i].word); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(best, func(a, b scored) int { return cmp.Compare(b.count, a.count) }) // a tie keeps dictionary order
	out := make([]string, 0, min(n, len(best)))
	for _, b := range best[:min(n, len(best))] {
		out = append(out, b.word)
	}
	return out, nil
}

// fuzzy is the words of the field within fuzz edits of t, in dictionary order, each with its distance.
// A text field's are read from each segment's dictionary of every text field's words (see wordfields.go).
func (ir *dictReader) fuzzy(field, t string, fuzz int) ([]index.DictEntry, error) {
	seen, err := ir.ownFuzzy(field, t, fuzz)
	if err != nil {
		return nil, err
	}
	a, _, err := ir.ask(PeerQuestion{Op: AskFuzzy, Field: field, Word: t, Fuzz: fuzz}, func() PeerAnswer { return PeerAnswer{Edits: seen} })
	if err != nil {
		return nil, err
	}
	maps.Copy(seen, a.Edits)
	out := make([]index.DictEntry, 0, len(seen))
	for term, d := range seen {
		out = append(out, index.DictEntry{Term: term, EditDistance: d})
	}
	slices.SortFunc(out, func(a, b index.DictEntry) int { return strings.Compare(a.Term, b.Term) })
	return out, nil
}

// fuzzyEveryField is the words of every text field within fuzz edits of t, each with its distance and the
// fields that hold it (a bit per wordFieldNames): a shard asks its peers once for a word's variants in
// all the fields it expands the word in, not once a field.
func (ir *dictReader) fuzzyEveryField(t string, fuzz int) (map[string]typoVariant, error) {
	edits, fields, err := ir.ownFuzzyEveryField(t, fuzz)
	if err != nil {
		return nil, err
	}
	a, _, err := ir.ask(fuzzyEveryFieldQuestion(t, fuzz), func() PeerAnswer { return PeerAnswer{Edits: edits, WordFields: fields} })
	if err != nil {
		return nil, err
	}
	maps.Copy(edits, a.Edits)
	out := make(map[string]typoVariant, len(edits))
	for term, d := range edits {
		out[term] = typoVariant{term: term, dist: d, fields: fields[term] | a.WordFields[term]}
	}
	return out, nil
}

func fuzzyEveryFieldQuestion(word string, fuzz int) PeerQuestion {
	return PeerQuestion{Op: AskFuzzyEveryField, Word: word, Fuzz: fuzz}
}

// ownFuzzyEveryField is the words of every text field within fuzz edits of t in the reader's own segments,
// with their distances and fields.
func (ir *dictReader) ownFuzzyEveryField(t string, fuzz int) (map[string]uint8, map[string]uint64, error) {
	edits, fields := map[string]uint8{}, map[string]uint64{}
	dfa := func() (vellum.Automaton, error) { return ir.levenshtein(t, fuzz) }
	err := ir.eachSegmentOf(func(seg segment.Segment, sc *segmentCache) error {
		vs, err := sc.typoVariants(seg, t, fuzz, dfa)
		for _, v := range vs {
			edits[v.term] = v.dist
			fields[v.term] |= v.fields
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the words dictionary: %w", err)
	}
	return edits, fields, nil
}

// ownFuzzy is the words of the field within fuzz edits of t in the reader's own segments, with their
// distances.
func (ir *dictReader) ownFuzzy(field, t string, fuzz int) (map[string]uint8, error) {
	seen := map[string]uint8{}
	dfa := func() (vellum.Automaton, error) { return ir.levenshtein(t, fuzz) } // only on a segment's first look-up
	var err error
	if bit := wordFieldBit(field); bit >= 0 {
		err = ir.eachSegmentOf(func(seg segment.Segment, sc *segmentCache) error {
			vs, err := sc.typoVariants(seg, t, fuzz, dfa)
			for _, e := range fieldEntries(vs, bit) {
				seen[e.Term] = e.EditDistance
			}
			return err
		})
	} else {
		err = ir.eachSegment(field, wordsKey{field, t, fuzz}, func(d segment.TermDictionary) ([]index.DictEntry, error) {
			a, err := dfa()
			if err != nil {
				return nil, err
			}
			return dictEntries(d, a, nil, nil)
		}, func(e index.DictEntry) { seen[e.Term] = e.EditDistance })
	}
	if err != nil {
		return nil, fmt.Errorf("read dictionary of %s: %w", field, err)
	}
	return seen, nil
}

// withPrefix is the words of the field that start with prefix, in dictionary order: at most limit of them,
// the ones the most movies have (on a tie, the first in dictionary order).
func (ir *dictReader) withPrefix(field, prefix string, limit int) ([]string, error) {
	movies, err := ir.ownPrefixCounts(field, prefix)
	if err != nil {
		return nil, err
	}
	a, _, err := ir.ask(PeerQuestion{Op: AskPrefixCounts, Field: field, Word: prefix}, func() PeerAnswer { return PeerAnswer{Counts: movies} })
	if err != nil {
		return nil, err
	}
	for w, n := range a.Counts {
		movies[w] += n
	}
	return mostCommon(movies, limit), nil
}

// mostCommon is the words most movies have, at most limit of them (on a tie, the first in dictionary
// order), in dictionary order.
func mostCommon(movies map[string]uint64, limit int) []string {
	words := slices.Sorted(maps.Keys(movies))
	if len(words) > limit {
		slices.SortStableFunc(words, func(a, b string) int { return cmp.Compare(movies[b], movies[a]) })
		words = words[:limit]
		slices.Sort(words)
	}
	return words
}

// prefixCounts is, for each of fields, its words that start with prefix and their movies: a shard asks its
// peers once for the completions of the word being typed in all the fields it completes it in.
func (ir *dictReader) prefixCounts(fields []string, prefix string) (map[string]map[string]uint64, error) {
	out := make(map[string]map[string]uint64, len(fields))
	for _, f := range fields {
		var err error
		if out[f], err = ir.ownPrefixCounts(f, prefix); err != nil {
			return nil, err
		}
	}
	a, _, err := ir.ask(prefixCountsQuestion(fields, prefix), func() PeerAnswer { return PeerAnswer{FieldCounts: out} })
	if err != nil {
		return nil, err
	}
	for f, counts := range a.FieldCounts {
		if own, ok := out[f]; ok {
			for w, n := range counts {
				own[w] += n
			}
		}
	}
	return out, nil
}

func prefixCountsQuestion(fields []string, prefix string) PeerQuestion {
	return PeerQuestion{Op: AskPrefixCountsOf, Fields: fields, Word: prefix}
}

// ownPrefixCounts is the words of the field that start with prefix in the reader's own segments, with their
// movies.
func (ir *dictReader) ownPrefixCounts(field, prefix string) (map[string]uint64, error) {
	movies := map[string]uint64{}
	err := ir.eachSegment(field, wordsKey{field, prefix, -1}, func(d segment.TermDictionary) ([]index.DictEntry, error) {
		return dictEntries(d, nil, []byte(prefix), prefixEnd(prefix))
	}, func(e index.DictEntry) { movies[e.Term] += e.Count })
	if err != nil {
		return nil, fmt.Errorf("read dictionary of %s: %w", field, err)
	}
	return movies, nil
}

// eachSegment visits the entries of an expansion in every segment of every shard: from the segment's
// cache, or read from its dictionary of field (and kept).
func (ir *dictReader) eachSegment(field string, k wordsKey, read func(segment.TermDictionary) ([]index.DictEntry, error), visit func(index.DictEntry)) error {
	return ir.eachSegmentOf(func(seg segment.Segment, sc *segmentCache) error {
		es, err := sc.expansion(k, func() ([]index.DictEntry, error) {
			d, err := seg.Dictionary(field)
			if err != nil || d == nil {
				return nil, err
			}
			return read(d)
		})
		for _, e := range es {
			visit(e)
		}
		return err
	})
}

// eachSegmentOf calls f with every segment of every shard and its cache.
func (ir *dictReader) eachSegmentOf(f func(segment.Segment, *segmentCache) error) error {
	for _, r := range ir.rs {
		snap, ok := r.(*scorch.IndexSnapshot)
		if !ok {
			return fmt.Errorf("not a scorch index")
		}
		for _, ss := range snap.Segments() {
			seg := ss.Segment()
			if err := f(seg, ir.cache.of(seg)); err != nil {
				return err
			}
		}
	}
	return nil
}

// dictEntries is the words of a segment's dictionary that a (nil: any) accepts between start and end
// (nil: unbounded), with their postings' counts (deleted documents included, as Bleve counts them), or
// their edit distances for a Levenshtein automaton.
func dictEntries(d segment.TermDictionary, a vellum.Automaton, start, end []byte) ([]index.DictEntry, error) {
	it := d.AutomatonIterator(a, start, end)
	if a != nil { // a typo walk needs the distances, not the counts
		it = wordsWithoutCounts(d, a, start, end)
	}
	var out []index.DictEntry
	for {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		out = append(out, index.DictEntry{Term: e.Term, Count: e.Count, EditDistance: e.EditDistance})
	}
}

// wordsWithoutCounts iterates the words of d that a accepts between start and end, without reading each
// word's postings for its count where the dictionary can (zap's can).
func wordsWithoutCounts(d segment.TermDictionary, a segment.Automaton, start, end []byte) segment.DictionaryIterator {
	if o, ok := d.(interface {
		AutomatonIteratorOmitCount(segment.Automaton, []byte, []byte) segment.DictionaryIterator
	}); ok {
		return o.AutomatonIteratorOmitCount(a, start, end)
	}
	return d.AutomatonIterator(a, start, end)
}

// prefixEnd is the first key after every key that starts with prefix; nil if there is none.
func prefixEnd(prefix string) []byte {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// The Levenshtein automaton builders of edit distances 1 and 2 (with transpositions, as Bleve's fuzzy
// queries): building one takes a while, a DFA from it per word is quick.
var levBuilders = sync.OnceValues(func() ([2]*lev.LevenshteinAutomatonBuilder, error) {
	var bs [2]*lev.LevenshteinAutomatonBuilder
	for i := range bs {
		b, err := lev.NewLevenshteinAutomatonBuilder(uint8(i+1), true)
		if err != nil {
			return bs, err
		}
		bs[i] = b
	}
	return bs, nil
})

// levenshteinDFA accepts the words within fuzz (1 or 2) edits of t.
func levenshteinDFA(t string, fuzz int) (vellum.Automaton, error) {
	bs, err := levBuilders()
	if err != nil {
		return nil, err
	}
	if fuzz < 1 || fuzz > len(bs) {
		return nil, fmt.Errorf("fuzziness %d: want 1 or 2", fuzz)
	}
	return bs[fuzz-1].BuildDfa(t, uint8(fuzz))
}

// fuzzyPrefixKey is the wordsKey fuzz of the completions of a word within fuzz edits (withFuzzyPrefix):
// below -1, the exact completions'.
func fuzzyPrefixKey(fuzz int) int { return -10 - fuzz }

// withFuzzyPrefix is the words of the field that start with a word within fuzz edits of prefix: the
// completions of a word still being typed with a typo in it (godfate → godfather). At most limit of them,
// the ones the most movies have, in dictionary order.
func (ir *dictReader) withFuzzyPrefix(field, prefix string, fuzz, limit int) ([]string, error) {
	seen, err := ir.ownFuzzyPrefix(field, prefix, fuzz)
	if err != nil {
		return nil, err
	}
	a, _, err := ir.ask(fuzzyPrefixQuestion(field, prefix, fuzz), func() PeerAnswer { return PeerAnswer{Words: slices.Sorted(maps.Keys(seen))} })
	if err != nil {
		return nil, err
	}
	for _, w := range a.Words {
		seen[w] = true
	}
	words := slices.Sorted(maps.Keys(seen))
	if len(words) > limit {
		// The walk does not count each word's movies (it would read every completion's postings): the
		// shortest completions are the likeliest, then dictionary order.
		slices.SortStableFunc(words, func(a, b string) int { return cmp.Compare(len(a), len(b)) })
		words = words[:limit]
		slices.Sort(words)
	}
	return words, nil
}

func fuzzyPrefixQuestion(field, prefix string, fuzz int) PeerQuestion {
	return PeerQuestion{Op: AskFuzzyPrefix, Field: field, Word: prefix, Fuzz: fuzz}
}

// ownFuzzyPrefix is the words of the field in the reader's own segments that start with a word within fuzz
// edits of prefix.
func (ir *dictReader) ownFuzzyPrefix(field, prefix string, fuzz int) (map[string]bool, error) {
	bit := wordFieldBit(field)
	if bit < 0 {
		return map[string]bool{}, nil // the prefix fields are all in the words dictionary
	}
	automaton := func() (vellum.Automaton, error) {
		dfa, err := ir.levenshtein(prefix, fuzz)
		return startsWith{dfa}, err
	}
	seen := map[string]bool{}
	err := ir.eachSegmentOf(func(seg segment.Segment, sc *segmentCache) error {
		// One walk of the segment's words dictionary serves every field (and every later search).
		vs, err := sc.wordsMatching(seg, wordsKey{"", prefix, fuzzyPrefixKey(fuzz)}, automaton)
		for _, e := range fieldEntries(vs, bit) {
			seen[e.Term] = true
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read dictionary of %s: %w", field, err)
	}
	return seen, nil
}

// startsWith accepts the words that start with a word its automaton accepts.
type startsWith struct{ vellum.Automaton }

// acceptAll is startsWith's state once a prefix was accepted; a Levenshtein DFA's states are not negative.
const acceptAll = -1

func (s startsWith) Start() int { return s.Automaton.Start() }

func (s startsWith) IsMatch(state int) bool {
	return state == acceptAll || s.Automaton.IsMatch(state)
}

func (s startsWith) CanMatch(state int) bool {
	return state == acceptAll || s.Automaton.CanMatch(state)
}

func (s startsWith) WillAlwaysMatch(state int) bool { return state == acceptAll }

func (s startsWith) Accept(state int, b byte) int {
	if state == acceptAll || s.Automaton.IsMatch(state) {
		return acceptAll
	}
	return s.Automaton.Accept(state, b)
}
