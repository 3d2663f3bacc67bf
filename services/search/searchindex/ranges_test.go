package searchindex_test

import (
	"context"
	"slices"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestNumberRanges checks range filters and numeric sorts against the movies themselves. Year, rating,
// runtime and votes are indexed as one exact term a number, popularity as a Bleve numeric field: every
// bound must count inclusively, an open end must reach the last value, a movie without a value must match no
// range and sort last, whichever the encoding.
func TestNumberRanges(t *testing.T) {
	const n = 2000
	idx := buildSynth(t, t.TempDir(), n, searchindex.Options{})
	movies := synthMovies(loadVocab(t), n, 42) // the catalog buildSynth indexes
	var changes []searchindex.Change
	for i := 3; i < n; i += 13 { // some movies lose their numbers
		m := movies[i]
		m.Version, m.Year, m.Rating, m.RuntimeMinutes, m.Votes, m.Popularity = 2, nil, nil, nil, nil, nil
		changes = append(changes, searchindex.Change{ID: m.ID, Version: 2, Movie: &m})
		movies[i] = m
	}
	MustApply(t, idx, changes...)

	fields := []struct {
		name  string
		sort  string
		value func(search.Movie) *float64
		set   func(*search.Query, search.Range)
	}{
		{"year", search.SortYear, func(m search.Movie) *float64 { return floatOf(m.Year) }, func(q *search.Query, r search.Range) { q.Year = r }},
		{"rating", "", func(m search.Movie) *float64 { return m.Rating }, func(q *search.Query, r search.Range) { q.Rating = r }}, // sorts by the weighted rating: TestSortByWeightedRating
		{"runtime", search.SortRuntime, func(m search.Movie) *float64 { return floatOf(m.RuntimeMinutes) }, func(q *search.Query, r search.Range) { q.Runtime = r }},
		{"popularity", search.SortPopularity, func(m search.Movie) *float64 { return m.Popularity }, func(q *search.Query, r search.Range) { q.Popularity = r }},
		{"votes", search.SortVotes, func(m search.Movie) *float64 { return floatOf(m.Votes) }, nil},
	}
	for _, f := range fields {
		var vals []float64
		for _, m := range movies {
			if v := f.value(m); v != nil {
				vals = append(vals, *v)
			}
		}
		slices.Sort(vals)
		lo, mid, hi := vals[len(vals)/4], vals[len(vals)/2], vals[3*len(vals)/4]
		if f.set != nil {
			for _, r := range []search.Range{
				{Min: &lo, Max: &hi}, {Min: &mid, Max: &mid}, {Min: &lo}, {Max: &hi},
				{Min: ptr(lo + 0.05), Max: ptr(hi - 0.05)}, {Min: ptr(vals[0] - 1)},
			} {
				want := uint64(0)
				for _, m := range movies {
					if v := f.value(m); v != nil && (r.Min == nil || *v >= *r.Min) && (r.Max == nil || *v <= *r.Max) {
						want++
					}
				}
				q := search.Query{PerPage: 1}
				f.set(&q, r)
				res, err := idx.Search(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if res.Total != want {
					t.Errorf("%s in [%v, %v]: %d movies, want %d", f.name, bound(r.Min), bound(r.Max), res.Total, want)
				}
			}
		}
		for _, desc := range []bool{false, true} {
			if f.sort == "" {
				break
			}
			res, err := idx.Search(context.Background(), search.Query{PerPage: 100, Page: 20, Sort: []search.SortKey{{Field: f.sort, Desc: desc}}})
			if err != nil {
				t.Fatal(err)
			}
			// Page 20 of 100 is the movies 1,901-2,000 of 2,000: the last values, then the movies without.
			want := slices.Clone(vals)
			if desc {
				slices.Reverse(want)
			}
			want = want[min(len(want), 1900):]
			for i, h := range res.Hits {
				got := f.value(h.Movie)
				switch {
				case i < len(want) && (got == nil || *got != want[i]):
					t.Fatalf("%s sorted (desc %v): hit %d has %v, want %v", f.name, desc, 1900+i, bound(got), want[i])
				case i >= len(want) && got != nil:
					t.Fatalf("%s sorted (desc %v): hit %d has %v, want a movie without a value", f.name, desc, 1900+i, *got)
				}
			}
			if len(res.Hits) != 100 {
				t.Fatalf("%s sorted: %d hits on the last page, want 100", f.name, len(res.Hits))
			}
		}
	}
}

func floatOf[T int | int64](v *T) *float64 {
	if v == nil {
		return nil
	}
	f := float64(*v)
	return &f
}

func bound(v *float64) any {
	if v == nil {
		return "open"
	}
	return *v
}
