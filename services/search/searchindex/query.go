package searchindex

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// toDoc turns a movie into the document the mapping indexes. Missing numbers are left out rather than
// indexed as zero, so they sort last instead of pretending to be unpopular.
func toDoc(m *search.Movie) (map[string]any, error) {
	src, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode movie %d: %w", m.ID, err)
	}
	d := map[string]any{
		fieldTitle:     m.Title,
		fieldTitleSort: m.Title,
		fieldDirectors: m.Directors,
		fieldCast:      m.Cast,
		fieldGenres:    m.Genres,
		fieldOverview:  m.Overview,
		fieldSource:    string(src),
	}
	if m.Year != nil {
		d[fieldYear] = float64(*m.Year)
	}
	if m.RuntimeMinutes != nil {
		d[fieldRuntime] = float64(*m.RuntimeMinutes)
	}
	if m.Rating != nil {
		d[fieldRating] = *m.Rating
	}
	if m.Votes != nil {
		d[fieldVotes] = float64(*m.Votes)
	}
	if m.Popularity != nil {
		d[fieldPopularity] = *m.Popularity
	}
	return d, nil
}

// Relevance weights. A field's boost says how much a match in it is worth; an exact term is worth more than
// the same term reached through a typo or a prefix, so exact matches rank first.
var textFields = []struct {
	name   string
	boost  float64
	prefix bool // whether the last query term is also matched as a prefix here
}{
	{fieldTitle, 8, true},
	{fieldDirectors, 4, true},
	{fieldCast, 3, true},
	{fieldGenres, 2, true},
	{fieldOverview, 1, false}, // long prose: prefixes there are mostly noise
}

const (
	exactBoost  = 4.0
	prefixBoost = 1.5
	fuzzyBoost  = 1.0
	facetSize   = 100 // more genres than any catalog has, so counts are complete
)

// fuzziness is the edit distance a term of n letters tolerates: none under 5, 1 from 5, 2 from 9.
func fuzziness(n int) int {
	switch {
	case n >= 9:
		return 2
	case n >= 5:
		return 1
	default:
		return 0
	}
}

// terms analyzes text with the index's text analyzer: the words of the query, lower-cased and ASCII-folded
// exactly as the indexed words are, without repeats.
func (x *Index) terms(text string) []string {
	a := x.bi.Mapping().AnalyzerNamed(textAnalyzer)
	var out []string
	seen := map[string]bool{}
	for _, tok := range a.Analyze([]byte(text)) {
		t := string(tok.Term)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// termQuery matches one query term in any text field: exactly, within its fuzziness, and (for the last
// term, as the user may still be typing it) as a prefix.
func termQuery(term string, last bool) query.Query {
	var qs []query.Query
	fuzz := fuzziness(utf8.RuneCountInString(term))
	for _, f := range textFields {
		tq := query.NewTermQuery(term)
		tq.SetField(f.name)
		tq.SetBoost(f.boost * exactBoost)
		qs = append(qs, tq)
		if fuzz > 0 {
			fq := query.NewFuzzyQuery(term)
			fq.SetField(f.name)
			fq.SetFuzziness(fuzz)
			fq.SetBoost(f.boost * fuzzyBoost)
			qs = append(qs, fq)
		}
		if last && f.prefix {
			pq := query.NewPrefixQuery(term)
			pq.SetField(f.name)
			pq.SetBoost(f.boost * prefixBoost)
			qs = append(qs, pq)
		}
	}
	return query.NewDisjunctionQuery(qs)
}

// Search answers q. With text, movies that match every term are returned, best first; if none does, the
// movies that match any term, those matching more terms first. Without text, every movie, most popular
// first. Either way filtered by the genres, with genre counts over all matches.
func (x *Index) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	terms := x.terms(q.Text)
	var filter query.Query
	if len(q.Genres) > 0 {
		var gs []query.Query
		for _, g := range q.Genres {
			tq := query.NewTermQuery(g)
			tq.SetField(fieldGenre)
			gs = append(gs, tq)
		}
		filter = query.NewDisjunctionQuery(gs)
	}

	if len(terms) == 0 {
		return x.run(ctx, q, query.NewMatchAllQuery(), filter, false)
	}
	clauses := make([]query.Query, len(terms))
	for i, t := range terms {
		clauses[i] = termQuery(t, i == len(terms)-1)
	}
	res, err := x.run(ctx, q, query.NewConjunctionQuery(clauses), filter, true)
	if err != nil || res.Total > 0 || len(clauses) == 1 {
		return res, err
	}
	// No movie has every term: fall back to any term. Bleve's disjunction scales a score by the share of
	// clauses matched, so movies matching more terms still come first.
	return x.run(ctx, q, query.NewDisjunctionQuery(clauses), filter, true)
}

func (x *Index) run(ctx context.Context, q search.Query, must, filter query.Query, scored bool) (*search.Result, error) {
	bq := query.NewBooleanQuery([]query.Query{must}, nil, nil)
	if filter != nil {
		bq.AddFilter(filter) // a filter narrows the matches without changing their scores
	}
	req := bleve.NewSearchRequestOptions(bq, q.PerPage, (q.Page-1)*q.PerPage, false)
	req.Fields = []string{fieldSource}
	req.AddFacet("genres", bleve.NewFacetRequest(fieldGenre, facetSize))
	popularity := &blevesearch.SortField{Field: fieldPopularity, Desc: true, Type: blevesearch.SortFieldAsNumber, Missing: blevesearch.SortFieldMissingLast}
	title := &blevesearch.SortField{Field: fieldTitleSort, Type: blevesearch.SortFieldAsString, Missing: blevesearch.SortFieldMissingLast}
	id := &blevesearch.SortDocID{}
	if scored {
		req.SortByCustom(blevesearch.SortOrder{&blevesearch.SortScore{Desc: true}, popularity, title, id})
	} else {
		req.SortByCustom(blevesearch.SortOrder{popularity, title, id})
		req.Score = "none" // browsing needs no scores; skip computing them
	}
	sr, err := x.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", q.Text, err)
	}

	res := &search.Result{
		Total:   sr.Total,
		Page:    q.Page,
		PerPage: q.PerPage,
		Hits:    make([]search.Hit, 0, len(sr.Hits)),
		Facets:  map[string][]search.FacetValue{"genres": {}},
	}
	for _, h := range sr.Hits {
		src, _ := h.Fields[fieldSource].(string)
		m, err := decodeSource([]byte(src))
		if err != nil {
			return nil, fmt.Errorf("hit %s: %w", h.ID, err)
		}
		score := h.Score
		if !scored {
			score = 0
		}
		res.Hits = append(res.Hits, search.Hit{Movie: *m, Score: score})
	}
	if fr, ok := sr.Facets["genres"]; ok && fr.Terms != nil {
		vals := make([]search.FacetValue, 0, fr.Terms.Len())
		for _, t := range fr.Terms.Terms() {
			vals = append(vals, search.FacetValue{Value: t.Term, Count: t.Count})
		}
		sort.Slice(vals, func(i, j int) bool {
			if vals[i].Count != vals[j].Count {
				return vals[i].Count > vals[j].Count
			}
			return vals[i].Value < vals[j].Value
		})
		res.Facets["genres"] = vals
	}
	return res, nil
}
