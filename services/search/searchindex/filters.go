package searchindex

import (
	"context"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"marquee/services/search"
)

// filters are the query's filters by name (the name of the parameter group, which is also how the facets
// that ignore their own filter find it).
type filters map[string]query.Query

// Filter group names.
const (
	filterGenre      = "genre"
	filterDirector   = "director"
	filterCast       = "cast"
	filterYear       = "year"
	filterRating     = "rating"
	filterPopularity = "popularity"
	filterRuntime    = "runtime"
)

func (x *Index) filters(q *search.Query) filters {
	fs := filters{}
	// terms matches the values of field, each turned into its query by match: any of them, or all.
	terms := func(field string, vals []string, all bool, match func(field, v string) query.Query) query.Query {
		qs := make([]query.Query, 0, len(vals))
		for _, v := range vals {
			qs = append(qs, match(field, v))
		}
		if all {
			return query.NewConjunctionQuery(qs)
		}
		return query.NewDisjunctionQuery(qs)
	}
	exact := func(field, v string) query.Query { return wordQuery(field, v, 1) }
	byKey := func(field, v string) query.Query { return keyQuery(field, x.key(v), 1) }
	if len(q.Genres) > 0 {
		fs[filterGenre] = terms(fieldGenre, q.Genres, q.GenreMode == search.GenreAll, exact)
	}
	if len(q.Directors) > 0 {
		fs[filterDirector] = terms(fieldDirector, q.Directors, false, byKey)
	}
	if len(q.Cast) > 0 {
		fs[filterCast] = terms(fieldCastName, q.Cast, true, byKey)
	}
	for _, c := range search.CodeFilters { // the filter, the facet and the field are all c.Name
		if vals := q.Codes[c.Name]; len(vals) > 0 {
			folded := func(field, v string) query.Query { return wordQuery(field, c.Fold(v), 1) }
			fs[c.Name] = terms(c.Name, vals, false, folded)
		}
	}
	for name, r := range map[string]struct {
		field string
		r     search.Range
	}{
		filterYear: {fieldYear, q.Year}, filterRating: {fieldRating, q.Rating},
		filterPopularity: {fieldPopularity, q.Popularity}, filterRuntime: {fieldRuntime, q.Runtime},
	} {
		if r.r.IsZero() {
			continue
		}
		fs[name] = numberRange(r.field, r.r)
	}
	return fs
}

// numberRange matches the movies whose number in field is within r, bounds included. Popularity is a Bleve
// numeric field; the others hold one term per number (see exactNumber), whose order is the numbers'.
func numberRange(field string, r search.Range) query.Query {
	inclusive := true
	if field == fieldPopularity {
		nq := query.NewNumericRangeInclusiveQuery(r.Min, r.Max, &inclusive, &inclusive)
		nq.SetField(field)
		return nq
	}
	var lo, hi string // "" is an open end
	if r.Min != nil {
		lo = exactNumber(*r.Min)
	}
	if r.Max != nil {
		hi = exactNumber(*r.Max)
	}
	tq := query.NewTermRangeInclusiveQuery(lo, hi, &inclusive, &inclusive)
	tq.SetField(field)
	return tq
}

// exactNumber is a number as one indexed term: its shift-0 prefix code, which is the term Bleve's numeric
// sorts and facets read, and which orders as the numbers do.
func exactNumber(v float64) string {
	return string(numeric.MustNewPrefixCodedInt64(numeric.Float64ToInt64(v), 0))
}

// and joins queries into one (nil queries are skipped); nil if there are none.
func and(qs ...query.Query) query.Query {
	var out []query.Query
	for _, q := range qs {
		if q != nil {
			out = append(out, q)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return query.NewConjunctionQuery(out)
}

// without is the conjunction of the filters except the named one ("" keeps all).
func (fs filters) without(name string) query.Query {
	var qs []query.Query
	for _, k := range filterOrder {
		if f, ok := fs[k]; ok && k != name {
			qs = append(qs, f)
		}
	}
	return and(qs...)
}

// filterOrder is the order in which the filters are joined: the code filters' (search.CodeFilters) after
// the people's.
var filterOrder = func() []string {
	out := []string{filterGenre, filterDirector, filterCast}
	for _, c := range search.CodeFilters {
		out = append(out, c.Name)
	}
	return append(out, filterYear, filterRating, filterPopularity, filterRuntime)
}()

// filtered is q narrowed, without changing its scores, by filter (which may be nil).
func filtered(q, filter query.Query) query.Query {
	if filter == nil {
		return q
	}
	bq := query.NewBooleanQuery([]query.Query{q}, nil, nil)
	bq.AddFilter(filter)
	return bq
}

// unscored is a clause that narrows a conjunction and adds nothing to its scores: it matches q's movies
// without scoring them (score 0), and its weight of 0 leaves the query norm, hence the scores of the other
// clauses, exactly as they were without it. Unlike a Bleve filter, which walks every match of the scored
// query, scoring each, and then looks it up in the filter, a conjunction leapfrogs: its smallest clause
// leads and the others skip ahead to it. (A partial-match tier of a title with "the" in it scored every
// movie of the catalog to keep the few with its rarer words.)
type unscored struct{ q query.Query }

func (u unscored) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, options blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	options.Score, options.Explain, options.IncludeTermVectors = "none", false, false
	s, err := u.q.Searcher(ctx, r, m, options)
	if err != nil {
		return nil, err
	}
	return weightless{s}, nil
}

// weightless is a searcher that takes no part in the query norm.
type weightless struct{ blevesearch.Searcher }

func (weightless) Weight() float64 { return 0 }

func (weightless) SetQueryNorm(float64) {}
