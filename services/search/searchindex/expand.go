package searchindex

import (
	"context"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// expansions are, for one search, the dictionary words a query word stands for in each field: its typo
// variants and, for the last word, its completions. Bleve's fuzzy and prefix queries walk a field's
// dictionary each time they build a searcher, and a search builds one for every tier, count and facet
// count, in every shard: that walk was 44 % of a text query's CPU (fuzzy 27 %, prefix 17 %). Here each
// word is expanded once per search, from one snapshot of every shard, into term queries built exactly as
// Bleve builds them (a disjunction of the words, each boosted by 1/(1+edits)), so the scores are Bleve's
// (but for a prefix with more than maxCompletions completions).
// A word or completion written to the index during the search is not among them: it is found from the next
// search on. Later searches of the same segments take them from sharedExpansions.
type expansions struct {
	x     *Index
	ctx   context.Context // the search's
	mu    sync.Mutex      // facet counts build their queries concurrently
	r     *dictReader
	err   error                // opening the reader failed: the queries fall back to Bleve's own
	words map[expansionKey]any // []index.DictEntry for typo variants, []string for completions

	set    string // r's segments, as sharedExpansions names them
	newest uint64
}

type expansionKey struct {
	completions bool
	field, word string
	fuzz        int // of typo variants
}

func (x *Index) newExpansions(ctx context.Context) *expansions {
	return &expansions{x: x, ctx: ctx, words: map[expansionKey]any{}}
}

// close releases the snapshot; the queries built stay valid.
func (e *expansions) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.r != nil {
		e.r.close()
		e.r = nil
	}
	e.err = errClosed // a query built later falls back to Bleve's own rather than reopen a snapshot
}

// variants is the words of field within fuzz edits of word, in dictionary order; false if the dictionaries
// cannot be read.
func (e *expansions) variants(field, word string, fuzz int) ([]index.DictEntry, bool) {
	if bit := wordFieldBit(field); bit >= 0 && e != nil && e.x.peerSet() != nil {
		// A shard reads (and asks its peers for) the word's variants in every text field at once.
		v, ok := e.lookup(variantsExpansion(word, fuzz), func(r *dictReader) (any, error) { return r.fuzzyEveryField(word, fuzz) })
		all, _ := v.(map[string]typoVariant)
		cands := make([]index.DictEntry, 0, len(all))
		for _, tv := range all {
			if tv.fields&(uint64(1)<<bit) != 0 {
				cands = append(cands, index.DictEntry{Term: tv.term, EditDistance: tv.dist})
			}
		}
		slices.SortFunc(cands, func(a, b index.DictEntry) int { return strings.Compare(a.Term, b.Term) })
		return cands, ok
	}
	v, ok := e.lookup(expansionKey{false, field, word, fuzz}, func(r *dictReader) (any, error) { return r.fuzzy(field, word, fuzz) })
	cands, _ := v.([]index.DictEntry)
	return cands, ok
}

// variantsExpansion is the key of a shard's typo variants of word in every text field.
func variantsExpansion(word string, fuzz int) expansionKey {
	return expansionKey{false, "", word, fuzz}
}

// fuzzyQuery matches word in field within fuzz edits, as query.NewFuzzyQuery would.
func (e *expansions) fuzzyQuery(field, word string, fuzz int, boost float64) query.Query {
	cands, ok := e.variants(field, word, fuzz)
	if !ok {
		q := query.NewFuzzyQuery(word)
		q.SetField(field)
		q.SetFuzziness(fuzz)
		q.SetBoost(boost)
		return q
	}
	if len(cands) == 0 || (len(cands) == 1 && cands[0].Term == word) {
		return wordQuery(field, word, boost)
	}
	qs := make([]query.Query, len(cands))
	for i, c := range cands {
		qs[i] = wordQuery(field, c.Term, boost/float64(c.EditDistance+1))
	}
	return query.NewDisjunctionQuery(qs)
}

// maxCompletions is how many completions of the last word a search matches, per field: the ones the most
// movies have. A short prefix has hundreds in a 1M-movie catalog's names and titles ("wa": 190 in the cast,
// "a": thousands), each a posting list that the search walks and scores for every match, and whose share
// of the prefix's score shrinks with their number: queries ending in "a" took 2 s at 1M. Lucene and
// Elasticsearch cap their expansions at 50 too.
const maxCompletions = 50

// prefixQuery matches the words of field that start with prefix, as query.NewPrefixQuery would, but only
// the maxCompletions most common.
func (e *expansions) prefixQuery(field, prefix string, boost float64) query.Query {
	words, ok := e.completions(field, prefix)
	if !ok {
		q := query.NewPrefixQuery(prefix)
		q.SetField(field)
		q.SetBoost(boost)
		return q
	}
	return completionsQuery(field, prefix, words, boost)
}

// completionsQuery matches words, completions of prefix in field, as query.NewPrefixQuery matches its
// words: the prefix itself when none or only it completes it.
func completionsQuery(field, prefix string, words []string, boost float64) query.Query {
	if len(words) == 0 || (len(words) == 1 && words[0] == prefix) {
		return wordQuery(field, prefix, boost)
	}
	qs := make([]query.Query, len(words))
	for i, w := range words {
		qs[i] = wordQuery(field, w, boost)
	}
	return query.NewDisjunctionQuery(qs)
}

// completions are the maxCompletions most common words of field that start with prefix, in dictionary
// order; false if the dictionaries cannot be read.
func (e *expansions) completions(field, prefix string) ([]string, bool) {
	if e != nil && e.x.peerSet() != nil {
		if fields := e.x.prefixFields(); slices.Contains(fields, field) {
			// A shard reads (and asks its peers for) the completions in every field it completes in at once.
			v, ok := e.lookup(expansionKey{true, "", prefix, 0}, func(r *dictReader) (any, error) { return r.prefixCounts(fields, prefix) })
			byField, _ := v.(map[string]map[string]uint64)
			return mostCommon(byField[field], maxCompletions), ok
		}
	}
	v, ok := e.lookup(expansionKey{true, field, prefix, 0}, func(r *dictReader) (any, error) { return r.withPrefix(field, prefix, maxCompletions) })
	words, _ := v.([]string)
	return words, ok
}

// prefixFields are the text fields a word being typed is completed in.
func (x *Index) prefixFields() []string {
	var fields []string
	for _, f := range x.textFields() {
		if f.prefix {
			fields = append(fields, f.name)
		}
	}
	return fields
}

// fuzzyPrefixQuery matches the words of field that start with a word within fuzz edits of prefix, each with
// the boost: the word being typed, with a typo in it.
func (e *expansions) fuzzyPrefixQuery(field, prefix string, fuzz int, boost float64) query.Query {
	v, ok := e.lookup(fuzzyPrefixExpansion(field, prefix, fuzz), func(r *dictReader) (any, error) {
		return r.withFuzzyPrefix(field, prefix, fuzz, maxCompletions)
	})
	words, _ := v.([]string)
	if !ok || len(words) == 0 {
		return nil
	}
	qs := make([]query.Query, len(words))
	for i, w := range words {
		qs[i] = wordQuery(field, w, boost)
	}
	return query.NewDisjunctionQuery(qs)
}

func fuzzyPrefixExpansion(field, prefix string, fuzz int) expansionKey {
	return expansionKey{true, field, prefix, fuzz}
}

// wantsFuzzyPrefix reports whether field matches prefix, the word being typed, with a typo in it: when
// nothing of field starts with it nor is near it (godfate).
func (e *expansions) wantsFuzzyPrefix(field, prefix string, fuzz int) bool {
	return fuzz > 0 && !e.completes(field, prefix) && !e.hasVariants(field, prefix, fuzz)
}

// prefetchFuzzyPrefixes asks a shard's peers at once for the typo'd completions of prefix in each of fields
// that wants them (see wantsFuzzyPrefix), which the search's queries then ask field by field.
func (e *expansions) prefetchFuzzyPrefixes(fields []textField, prefix string, fuzz int) {
	if e != nil {
		// An error is met again by each field's own question, whose query then falls back to Bleve's.
		_ = e.x.prefetch(e.ctx, e.fuzzyPrefixQuestions(fields, prefix, fuzz)...)
	}
}

// fuzzyPrefixQuestions are the questions to a shard's peers for the typo'd completions of prefix in each of
// fields that wants them and has not had them yet.
func (e *expansions) fuzzyPrefixQuestions(fields []textField, prefix string, fuzz int) []PeerQuestion {
	if e == nil || e.x.peerSet() == nil || fuzz <= 0 {
		return nil
	}
	var qs []PeerQuestion
	for _, f := range fields {
		if f.prefix && f.boost != 0 && !e.has(fuzzyPrefixExpansion(f.name, prefix, fuzz)) && e.wantsFuzzyPrefix(f.name, prefix, fuzz) {
			qs = append(qs, fuzzyPrefixQuestion(f.name, prefix, fuzz))
		}
	}
	return qs
}

// prefetchWordFields asks a shard's peers at once for the fields of the words that the search's
// expansions look up one by one (split, known, titleWord), and keeps them.
func (e *expansions) prefetchWordFields(words []string) error {
	if e == nil || e.x.peerSet() == nil || len(words) == 0 {
		return nil
	}
	r, _ := e.reader()
	if r == nil {
		return nil // without a reader the expansions fall back to Bleve's queries, which ask nothing
	}
	_, err := r.wordFieldsOf(words)
	return err
}

// hasVariants reports whether field has words within fuzz edits of word (true if it cannot tell).
func (e *expansions) hasVariants(field, word string, fuzz int) bool {
	cands, ok := e.variants(field, word, fuzz)
	return !ok || len(cands) > 0
}

// known reports whether some movie has word in a text field (true if it cannot tell).
func (e *expansions) known(word string) bool {
	v, ok := e.lookup(expansionKey{word: word, fuzz: -4}, func(r *dictReader) (any, error) {
		fields, err := r.wordFields(word)
		return fields != 0, err
	})
	known, _ := v.(bool)
	return !ok || known
}

// titleWord is word if a title has it; else, if no movie has it at all (a misspelling, which the typo tier
// expands anyway), the title word nearest to it within fuzz edits (of those as near, the one most titles
// have); else "". A word that other fields have (an overview's, a name) is meant as it is.
func (e *expansions) titleWord(word string, fuzz int) string {
	v, ok := e.lookup(expansionKey{word: word, fuzz: -5}, func(r *dictReader) (any, error) { return r.wordFields(word) })
	fields, _ := v.(uint64)
	switch {
	case !ok || fields&titleBit != 0:
		return word
	case fields != 0 || fuzz == 0:
		return ""
	}
	cands, _ := e.variants(fieldTitle, word, fuzz)
	best := ""
	bestEdits, bestCount := fuzz+1, uint64(0)
	for _, c := range cands {
		if d := int(c.EditDistance); d < bestEdits || (d == bestEdits && c.Count > bestCount) {
			best, bestEdits, bestCount = c.Term, d, c.Count
		}
	}
	return best
}

// completes reports whether some word of field starts with prefix.
func (e *expansions) completes(field, prefix string) bool {
	words, ok := e.completions(field, prefix)
	return !ok || len(words) > 0
}

// lookup returns the expansion of key, read with read on first use. It returns false when there are no
// expansions or the dictionaries cannot be read: the caller falls back to Bleve's own query.
func (e *expansions) lookup(key expansionKey, read func(*dictReader) (any, error)) (any, bool) {
	if e == nil {
		return nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.words[key]; ok {
		return v, true
	}
	if e.open(); e.r == nil {
		return nil, false
	}
	// A shard's expansions hold its peers' words too, which its segments do not name: they are not shared.
	shared := &e.r.cache.shared
	alone := e.x.peerSet() == nil
	if v, ok := shared.get(e.set, key); ok && alone {
		e.words[key] = v
		return v, true
	}
	v, err := read(e.r)
	if err != nil {
		return nil, false
	}
	e.words[key] = v
	if alone {
		shared.put(e.set, e.newest, key, v)
	}
	return v, true
}

// has reports whether key's expansion has been read.
func (e *expansions) has(key expansionKey) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.words[key]
	return ok
}

// reader is the expansions' snapshot, opened on first use; nil, and why, if it cannot be.
func (e *expansions) reader() (*dictReader, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.open()
	return e.r, e.err
}

// open opens the snapshot if it is not open yet, and has not failed to (e.mu held).
func (e *expansions) open() {
	if e.r == nil && e.err == nil {
		if e.r, e.err = e.x.reader(e.ctx); e.err == nil {
			if e.set, e.newest, e.err = e.r.segmentSet(); e.err != nil {
				e.r.close()
				e.r = nil
			}
		}
	}
}

func wordQuery(field, word string, boost float64) query.Query {
	q := query.NewTermQuery(word)
	q.SetField(field)
	q.SetBoost(boost)
	return q
}

// split is how a query word that movies do not have may be two or three words that titles do have,
// written together: spiderman is spider man, lalaland la la land. Of the cuts into two title words, else
// three, the one whose shortest part is longest. False if the word is in a title, an overview, a tagline or a
// name (it is most likely meant as it is; keywords and tags, which people write, may hold the compound), if a
// title has a word within its typo tolerance (it is likely a typo of that word), or if no cut gives title
// words. The first two tests cost a look-up in each segment's words dictionary and the typo walk the typo
// tier makes anyway.
func (e *expansions) split(word string) ([]string, bool) {
	if len(word) < 4 {
		return nil, false
	}
	v, _ := e.lookup(expansionKey{field: fieldTitle, word: word, fuzz: -3}, func(r *dictReader) (any, error) {
		fields, err := r.wordFields(word)
		if err != nil {
			return false, err
		}
		if fields&^splitFields != 0 {
			return false, nil
		}
		if fields == 0 {
			return true, nil
		}
		return r.rare(fields, word)
	})
	if ok, _ := v.(bool); !ok {
		return nil, false
	}
	if fuzz := fuzziness(utf8.RuneCountInString(word)); fuzz > 0 {
		if cands, ok := e.variants(fieldTitle, word, fuzz); !ok || len(cands) > 0 {
			return nil, false
		}
	}
	v, _ = e.lookup(expansionKey{field: fieldTitle, word: word, fuzz: -2}, func(r *dictReader) (any, error) {
		parts, err := r.split(word, 2)
		if parts == nil && err == nil {
			parts, err = r.split(word, 3)
		}
		return parts, err
	})
	parts, _ := v.([]string)
	return parts, len(parts) > 1
}

// splitFields are the fields a word split cuts may be in: the keywords and tags, which people write.
var splitFields = uint64(1)<<wordFieldBit(fieldKeywords) | uint64(1)<<wordFieldBit(fieldTags)

// rare reports whether fewer than splitBelow movies have word in the fields (a set of wordFieldNames bits).
func (ir *dictReader) rare(fields uint64, word string) (bool, error) {
	var in []string
	for bit, f := range wordFieldNames {
		if fields&(1<<bit) != 0 {
			in = append(in, f)
		}
	}
	n, err := ir.docFreq(in, word)
	return n < splitBelow, err
}

// splitBelow is how many movies a query word may have at most for split to cut it: a word that movies do
// have is most likely meant as it is.
const splitBelow = 5

// titleBit is the title's bit in a word's fields (wordFields).
const titleBit = uint64(1) << 0

// split cuts word into exactly n title words, the shortest as long as can be; nil if no cut works.
func (ir *dictReader) split(word string, n int) ([]string, error) {
	if ir.ctx != nil && ir.x.peerSet() != nil {
		var cuts []string // every head and rest, found at once: the peers are asked once
		for i := 1; i < len(word); i++ {
			if utf8.RuneStart(word[i]) {
				cuts = append(cuts, word[:i], word[i:])
			}
		}
		if _, err := ir.wordFieldsOf(cuts); err != nil {
			return nil, err
		}
	}
	var best []string
	bestShortest := 0
	for i := 1; i < len(word); i++ {
		if !utf8.RuneStart(word[i]) {
			continue
		}
		head, rest := word[:i], word[i:]
		fields, err := ir.wordFields(head)
		if err != nil {
			return nil, err
		}
		if fields&titleBit == 0 {
			continue
		}
		tail := []string{rest}
		if n > 2 {
			if tail, err = ir.split(rest, n-1); err != nil {
				return nil, err
			}
		} else if fields, err = ir.wordFields(rest); err != nil {
			return nil, err
		} else if fields&titleBit == 0 {
			tail = nil
		}
		if tail == nil {
			continue
		}
		shortest := len(head)
		for _, t := range tail {
			shortest = min(shortest, len(t))
		}
		if shortest > bestShortest {
			best, bestShortest = append([]string{head}, tail...), shortest
		}
	}
	return best, nil
}
