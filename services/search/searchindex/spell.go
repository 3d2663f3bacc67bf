package searchindex

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"marquee/services/search"
)

// spellFields are the fields whose words did-you-mean knows: titles, people, genres, keywords and tags, not
// the overviews and taglines, whose rare words would make poor corrections. It reads their dictionaries
// rather than a field of its own that copies them: the copy cost a sixth of the indexing CPU.
var spellFields = []string{fieldTitle, fieldDirectors, fieldCast, fieldGenres, fieldKeywords, fieldTags}

// didYouMean looks for a better spelling of a query that has few exact matches: each word that no movie
// has (in its title, people, genres, keywords or tags) is replaced by the closest word the movies do have,
// the most common among equally close ones. The correction is offered only if it finds more movies exactly.
func (x *Index) didYouMean(ctx context.Context, text search.Text, p *plan, filter query.Query, exactTotal uint64) (string, error) {
	ir, err := x.reader()
	if err != nil {
		return "", err
	}
	defer ir.close()
	changed := false
	corrected := make([]term, len(p.terms))
	for i, t := range p.terms {
		corrected[i] = t
		n, err := ir.docFreq(spellFields, t.text)
		if err != nil {
			return "", err
		}
		if n > 0 || (t.prefix && ir.hasPrefix(spellFields, t.text)) {
			continue
		}
		fuzz := max(1, t.fuzz)
		if utf8.RuneCountInString(t.text) < 3 {
			continue
		}
		cands, err := spellVariants(ir, p.exp, t.text, fuzz)
		if err != nil {
			return "", err
		}
		best, err := ir.closest(spellFields, t.text, fuzz, cands)
		if err != nil {
			return "", err
		}
		if best != "" && best != t.text {
			corrected[i] = newTerm(best, false)
			changed = true
		}
	}
	if !changed {
		return "", nil
	}
	cp := *p
	cp.terms = corrected
	n, err := x.countWith(ctx, p.exec, and(x.membership(&cp, allExact), filter))
	if err != nil {
		return "", err
	}
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
	rs []index.IndexReader
}

// reader opens a snapshot of the index for dictionary reads; close it after use.
func (x *Index) reader() (*dictReader, error) {
	ir := &dictReader{}
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

func (ir *dictReader) close() {
	for _, r := range ir.rs {
		_ = r.Close()
	}
}

// docFreq is the number of movies that have word t in each of the fields, added up.
func (ir *dictReader) docFreq(fields []string, t string) (uint64, error) {
	var n uint64
	for _, r := range ir.rs {
		for _, field := range fields {
			err := visitDict(func() (index.FieldDict, error) { return r.FieldDictRange(field, []byte(t), []byte(t)) },
				func(e *index.DictEntry) { n += e.Count })
			if err != nil {
				return 0, fmt.Errorf("read dictionary of %s: %w", field, err)
			}
		}
	}
	return n, nil
}

// hasPrefix reports whether a word of any of the fields starts with prefix.
func (ir *dictReader) hasPrefix(fields []string, prefix string) bool {
	for _, r := range ir.rs {
		for _, field := range fields {
			d, err := r.FieldDictPrefix(field, []byte(prefix))
			if err != nil {
				continue
			}
			e, err := d.Next()
			_ = d.Close()
			if err == nil && e != nil {
				return true
			}
		}
	}
	return false
}

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

// closest is the word among cands, the words of the fields within fuzz edits of t, with the fewest edits,
// then the most movies (added up over the fields). Bleve's fuzzy dictionary walk does not count the movies
// of each word, so the closest words are counted afterwards, only they.
func (ir *dictReader) closest(fields []string, t string, fuzz int, cands []index.DictEntry) (string, error) {
	best, bestDist, bestCount := "", fuzz+1, uint64(0)
	for _, c := range cands { // in dictionary order: on a tie, the first word wins
		dist := levenshtein(t, c.Term, fuzz)
		if dist > bestDist {
			continue
		}
		count, err := ir.docFreq(fields, c.Term)
		if err != nil {
			return "", err
		}
		if dist < bestDist || count > bestCount {
			best, bestDist, bestCount = c.Term, dist, count
		}
	}
	return best, nil
}

// fuzzy is the words of the field within fuzz edits of t, in dictionary order, each with its distance.
func (ir *dictReader) fuzzy(field, t string, fuzz int) ([]index.DictEntry, error) {
	seen := map[string]uint8{}
	for _, r := range ir.rs {
		fr, ok := r.(index.IndexReaderFuzzy)
		if !ok {
			return nil, fmt.Errorf("read dictionary of %s: no fuzzy reader", field)
		}
		err := visitDict(func() (index.FieldDict, error) { return fr.FieldDictFuzzy(field, t, fuzz, "") },
			func(e *index.DictEntry) { seen[e.Term] = e.EditDistance })
		if err != nil {
			return nil, fmt.Errorf("read dictionary of %s: %w", field, err)
		}
	}
	out := make([]index.DictEntry, 0, len(seen))
	for term, d := range seen {
		out = append(out, index.DictEntry{Term: term, EditDistance: d})
	}
	slices.SortFunc(out, func(a, b index.DictEntry) int { return strings.Compare(a.Term, b.Term) })
	return out, nil
}

// withPrefix is the words of the field that start with prefix, in dictionary order: at most limit of them,
// the ones the most movies have (on a tie, the first in dictionary order).
func (ir *dictReader) withPrefix(field, prefix string, limit int) ([]string, error) {
	movies := map[string]uint64{}
	for _, r := range ir.rs {
		err := visitDict(func() (index.FieldDict, error) { return r.FieldDictPrefix(field, []byte(prefix)) },
			func(e *index.DictEntry) { movies[e.Term] += e.Count })
		if err != nil {
			return nil, fmt.Errorf("read dictionary of %s: %w", field, err)
		}
	}
	words := slices.Sorted(maps.Keys(movies))
	if len(words) > limit {
		slices.SortStableFunc(words, func(a, b string) int { return cmp.Compare(movies[b], movies[a]) })
		words = words[:limit]
		slices.Sort(words)
	}
	return words, nil
}
