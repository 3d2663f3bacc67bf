package searchindex_test

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
)

// A person filter matches a name however it is written (case, accents), and the people facets show each
// name as the movies write it; a name without any word is shown but no filter matches it.
func TestPeopleFilterAndFacetByName(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	a, b, c := movie(1, 1, "Avatar"), movie(2, 1, "Colombiana"), movie(3, 1, "Untitled")
	a.Cast, b.Cast, c.Cast = []string{"Zoë Saldaña", "Sam Worthington"}, []string{"ZOE SALDANA"}, []string{"???"}
	a.Directors, b.Directors = []string{"James Cameron"}, []string{"Olivier Megaton"}
	MustIndex(t, idx, *a, *b, *c)
	ctx := context.Background()

	for _, name := range []string{"zoe saldana", "Zoë Saldaña", "ZOË  SALDAÑA"} {
		res, err := idx.Search(ctx, search.Query{Cast: []string{name}, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := hitIDs(res); !slices.Equal(slices.Sorted(slices.Values(got)), []int64{1, 2}) {
			t.Errorf("cast=%q: ids %v, want [1 2]", name, got)
		}
	}
	for _, q := range []search.Query{{Cast: []string{"???"}}, {Cast: []string{"zoe"}}, {Directors: []string{"cameron"}}} {
		q.PerPage = 10
		res, err := idx.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 0 {
			t.Errorf("%+v matched %v: a filter names a whole name", q, hitIDs(res))
		}
	}
	res, err := idx.Search(ctx, search.Query{Directors: []string{"JAMES CAMERON"}, PerPage: 10,
		Facets: []string{search.FacetCast, search.FacetDirectors}})
	if err != nil {
		t.Fatal(err)
	}
	if got := hitIDs(res); !slices.Equal(got, []int64{1}) {
		t.Errorf("director=JAMES CAMERON: ids %v, want [1]", got)
	}
	values := func(f search.Facet) map[string]int {
		m := map[string]int{}
		for _, v := range f.Values {
			m[v.Value] = v.Count
		}
		return m
	}
	if got, want := values(res.Facets[search.FacetCast]), map[string]int{"Zoë Saldaña": 1, "Sam Worthington": 1}; !maps.Equal(got, want) {
		t.Errorf("cast facet %v, want %v", got, want)
	}
	// The directors facet ignores its own filter (multi-select): both directors, as written.
	if got, want := values(res.Facets[search.FacetDirectors]), map[string]int{"James Cameron": 1, "Olivier Megaton": 1}; !maps.Equal(got, want) {
		t.Errorf("directors facet %v, want %v", got, want)
	}
	// Over every movie: each way of writing a name is a value of its own, and a name without words too.
	all, err := idx.Search(ctx, search.Query{PerPage: 10, Facets: []string{search.FacetCast}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Zoë Saldaña": 1, "ZOE SALDANA": 1, "Sam Worthington": 1, "???": 1}
	if got := values(all.Facets[search.FacetCast]); !maps.Equal(got, want) {
		t.Errorf("cast facet of every movie %v, want %v", got, want)
	}
}
