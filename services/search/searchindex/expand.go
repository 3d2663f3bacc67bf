package searchindex

import (
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
// search on.
type expansions struct {
	x     *Index
	mu    sync.Mutex // facet counts build their queries concurrently
	r     *dictReader
	err   error                // opening the reader failed: the queries fall back to Bleve's own
	words map[expansionKey]any // []index.DictEntry for typo variants, []string for completions
}

type expansionKey struct {
	completions bool
	field, word string
	fuzz        int // of typo variants
}

func (x *Index) newExpansions() *expansions {
	return &expansions{x: x, words: map[expansionKey]any{}}
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
	v, ok := e.lookup(expansionKey{false, field, word, fuzz}, func(r *dictReader) (any, error) { return r.fuzzy(field, word, fuzz) })
	cands, _ := v.([]index.DictEntry)
	return cands, ok
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
	v, ok := e.lookup(expansionKey{true, field, prefix, 0}, func(r *dictReader) (any, error) { return r.withPrefix(field, prefix, maxCompletions) })
	words, _ := v.([]string)
	if !ok {
		q := query.NewPrefixQuery(prefix)
		q.SetField(field)
		q.SetBoost(boost)
		return q
	}
	if len(words) == 0 || (len(words) == 1 && words[0] == prefix) {
		return wordQuery(field, prefix, boost)
	}
	qs := make([]query.Query, len(words))
	for i, w := range words {
		qs[i] = wordQuery(field, w, boost)
	}
	return query.NewDisjunctionQuery(qs)
}

// fuzzyPrefixQuery matches the words of field that start with a word within fuzz edits of prefix, each with
// the boost: the word being typed, with a typo in it.
func (e *expansions) fuzzyPrefixQuery(field, prefix string, fuzz int, boost float64) query.Query {
	v, ok := e.lookup(expansionKey{true, field, prefix, fuzz}, func(r *dictReader) (any, error) {
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

// completes reports whether some word of field starts with prefix.
func (e *expansions) completes(field, prefix string) bool {
	v, ok := e.lookup(expansionKey{true, field, prefix, 0}, func(r *dictReader) (any, error) { return r.withPrefix(field, prefix, maxCompletions) })
	words, _ := v.([]string)
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
	if e.r == nil && e.err == nil {
		e.r, e.err = e.x.reader()
	}
	if e.r == nil {
		return nil, false
	}
	v, err := read(e.r)
	if err != nil {
		return nil, false
	}
	e.words[key] = v
	return v, true
}

func wordQuery(field, word string, boost float64) query.Query {
	q := query.NewTermQuery(word)
	q.SetField(field)
	q.SetBoost(boost)
	return q
}

// split is how a query word that no title has may be two or three words that titles do have, written
// together: spiderman is spider man, lalaland la la land. Of the ways to cut it, the one whose rarest part
// the most titles have; false if the word is in a title, or no cut gives title words.
func (e *expansions) split(word string) ([]string, bool) {
	if len(word) < 4 {
		return nil, false
	}
	v, _ := e.lookup(expansionKey{field: fieldTitle, word: word, fuzz: -2}, func(r *dictReader) (any, error) {
		if n, err := r.docFreq([]string{fieldTitle}, word); err != nil || n > 0 {
			return []string(nil), err
		}
		parts, _, err := r.split(word, 2) // two words if they can be, else three
		if parts == nil && err == nil {
			parts, _, err = r.split(word, 3)
		}
		return parts, err
	})
	parts, _ := v.([]string)
	return parts, len(parts) > 1
}

// split cuts word into at most n title words, the rarest of them in as many titles as can be; it returns
// the parts and that count, nil if no cut works. A shorter cut is no better than a longer one here: the
// caller asks for two before three.
func (ir *dictReader) split(word string, n int) ([]string, uint64, error) {
	title := []string{fieldTitle}
	var best []string
	var bestCount uint64
	for i := 1; i < len(word); i++ {
		if !utf8.RuneStart(word[i]) {
			continue
		}
		head, rest := word[:i], word[i:]
		nh, err := ir.docFreq(title, head)
		if err != nil {
			return nil, 0, err
		}
		if nh == 0 {
			continue
		}
		nr, err := ir.docFreq(title, rest)
		if err != nil {
			return nil, 0, err
		}
		tail := []string{rest}
		if n > 2 {
			if tail, nr, err = ir.split(rest, n-1); err != nil {
				return nil, 0, err
			}
		}
		if c := min(nh, nr); c > bestCount && tail != nil {
			best, bestCount = append([]string{head}, tail...), c
		}
	}
	return best, bestCount, nil
}
