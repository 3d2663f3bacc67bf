package searchindex

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"marquee/services/search"
)

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
		n, err := ir.docFreq(fieldSpell, t.text)
		if err != nil {
			return "", err
		}
		if n > 0 || (t.prefix && ir.hasPrefix(fieldSpell, t.text)) {
			continue
		}
		fuzz := max(1, t.fuzz)
		if utf8.RuneCountInString(t.text) < 3 {
			continue
		}
		best, err := ir.closest(fieldSpell, t.text, fuzz)
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
	n, err := x.count(ctx, and(x.membership(&cp, allExact), filter))
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

// dictReader reads the term dictionaries of one index snapshot.
type dictReader struct {
	r index.IndexReader
}

// reader opens a snapshot of the index for dictionary reads; close it after use.
func (x *Index) reader() (*dictReader, error) {
	ai, err := x.bi.Advanced()
	if err != nil {
		return nil, fmt.Errorf("open index reader: %w", err)
	}
	r, err := ai.Reader()
	if err != nil {
		return nil, fmt.Errorf("open index reader: %w", err)
	}
	return &dictReader{r: r}, nil
}

func (ir *dictReader) close() { _ = ir.r.Close() }

func (ir *dictReader) docFreq(field, t string) (uint64, error) {
	d, err := ir.r.FieldDictRange(field, []byte(t), []byte(t))
	if err != nil {
		return 0, fmt.Errorf("read dictionary of %s: %w", field, err)
	}
	defer func() { _ = d.Close() }()
	e, err := d.Next()
	if err != nil || e == nil {
		return 0, err
	}
	return e.Count, nil
}

func (ir *dictReader) hasPrefix(field, prefix string) bool {
	d, err := ir.r.FieldDictPrefix(field, []byte(prefix))
	if err != nil {
		return false
	}
	defer func() { _ = d.Close() }()
	e, err := d.Next()
	return err == nil && e != nil
}

// closest is the word of the field's dictionary within fuzz edits of t: fewest edits, then most movies.
func (ir *dictReader) closest(field, t string, fuzz int) (string, error) {
	fr, ok := ir.r.(index.IndexReaderFuzzy)
	if !ok {
		return "", nil
	}
	d, err := fr.FieldDictFuzzy(field, t, fuzz, "")
	if err != nil {
		return "", fmt.Errorf("read dictionary of %s: %w", field, err)
	}
	defer func() { _ = d.Close() }()
	best, bestDist, bestCount := "", fuzz+1, uint64(0)
	for {
		e, err := d.Next()
		if err != nil {
			return "", err
		}
		if e == nil {
			break
		}
		dist := levenshtein(t, e.Term, fuzz)
		if dist < bestDist || (dist == bestDist && e.Count > bestCount) {
			best, bestDist, bestCount = e.Term, dist, e.Count
		}
	}
	return best, nil
}
