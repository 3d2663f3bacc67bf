package searchindex_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestCatalogFacetCounts checks that the browse facets kept by Apply (through upserts, updates, deletes and
// a reopen) equal the facets counted exactly.
func TestCatalogFacetCounts(t *testing.T) {
	dir := t.TempDir()
	idx := buildSynth(t, dir, 3000, searchindex.Options{})
	v := loadVocab(t)
	more := synthMovies(v, 3000, 7) // other states of the same ids
	var changes []searchindex.Change
	for i := 0; i < 3000; i += 3 {
		m := more[i]
		m.Version = 2
		changes = append(changes, searchindex.Change{ID: m.ID, Version: 2, Movie: &m})
	}
	for i := 1; i < 3000; i += 7 {
		changes = append(changes, searchindex.Change{ID: int64(i + 1), Version: 3, Deleted: true})
	}
	MustApply(t, idx, changes...)
	all := []string{search.FacetGenres, search.FacetLanguage, search.FacetDecade, search.FacetRating, search.FacetRuntime, search.FacetYear, search.FacetPopularity, search.FacetVotes}
	exact := searchindex.WithOptions(idx, searchindex.Options{ExactFacets: true})
	for _, q := range []search.Query{
		{Facets: all},
		{Facets: all, Genres: []string{"Drama"}},
		{Facets: all, Codes: map[string][]string{search.FacetLanguage: {"en"}}, Year: search.Range{Min: ptr(1990.0)}},
	} {
		got, err := idx.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exact.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range want.Facets {
			if g := got.Facets[name]; !reflect.DeepEqual(g, w) {
				t.Errorf("facet %s of %+v:\nkept  %s\nexact %s", name, q, show(g), show(w))
			}
		}
		if got.FacetsApproximate {
			t.Errorf("FacetsApproximate on %+v, want exact", q)
		}
	}
}

// TestSampledFacets checks that a large result set is faceted on a sample, marked approximate, with counts
// near the exact ones.
func TestSampledFacets(t *testing.T) {
	idx := buildSynth(t, t.TempDir(), 4000, searchindex.Options{FacetSampleAbove: 500})
	exact := searchindex.WithOptions(idx, searchindex.Options{ExactFacets: true})
	q := search.Query{Facets: []string{search.FacetDirectors}, Year: search.Range{Min: ptr(1900.0)}}
	got, err := idx.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exact.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if !got.FacetsApproximate || want.FacetsApproximate {
		t.Fatalf("FacetsApproximate = %v (sampled), %v (exact); want true, false", got.FacetsApproximate, want.FacetsApproximate)
	}
	if got.Total != want.Total {
		t.Errorf("Total = %d, want %d: sampling is for facets only", got.Total, want.Total)
	}
	sum := func(vs []search.FacetValue) (n int) {
		for _, v := range vs {
			n += v.Count
		}
		return n
	}
	g, w := sum(got.Facets[search.FacetGenres].Values), sum(want.Facets[search.FacetGenres].Values)
	if g < w*7/10 || g > w*13/10 {
		t.Errorf("sampled genre counts sum to %d, exact to %d: not within 30%%", g, w)
	}
}

// TestFewValuedFacetsExactOverSampleLimit: the facets of few values (genres, languages, decades, ratings)
// are counted exactly from bitmaps however many movies match; only a facet counted by walking the matches
// (people) is sampled, and only then is the result approximate.
func TestFewValuedFacetsExactOverSampleLimit(t *testing.T) {
	idx := buildSynth(t, t.TempDir(), 4000, searchindex.Options{FacetSampleAbove: 500})
	exact := searchindex.WithOptions(idx, searchindex.Options{ExactFacets: true})
	q := search.Query{Text: "the", Facets: []string{search.FacetLanguage, search.FacetDecade, search.FacetRating}}
	got, err := idx.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exact.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total <= 500 {
		t.Fatalf("%d movies match %q: not over the sample limit", got.Total, q.Text)
	}
	if got.FacetsApproximate {
		t.Error("FacetsApproximate with only facets of few values")
	}
	for _, name := range []string{search.FacetGenres, search.FacetLanguage, search.FacetDecade, search.FacetRating} {
		if g, w := got.Facets[name], want.Facets[name]; !reflect.DeepEqual(g, w) || len(w.Values) == 0 {
			t.Errorf("facet %s = %s, exact %s", name, show(g), show(w))
		}
	}
	q.Facets = append(q.Facets, search.FacetDirectors)
	if got, err = idx.Search(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if !got.FacetsApproximate {
		t.Error("not FacetsApproximate with the directors facet over the sample limit")
	}
}

func ptr[T any](v T) *T { return &v }

func show(f search.Facet) string {
	if f.Stats != nil {
		s := "min="
		if f.Stats.Min != nil {
			s += fmt.Sprint(*f.Stats.Min)
		}
		s += " max="
		if f.Stats.Max != nil {
			s += fmt.Sprint(*f.Stats.Max)
		}
		return s
	}
	return fmt.Sprint(f.Values)
}

// TestBrowseFacetsOfAFreshBatch: a batch is searchable a moment before Apply adds it to the kept facet
// counts. A browse in that moment counts its facets itself, so that its answer (cached at the batch's
// checkpoint) does not show the batch's movies without their genres; the first browse after the index had
// caught up showed none at all, until the next write.
func TestBrowseFacetsOfAFreshBatch(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	genreCount := func(res *search.Result, genre string) int {
		for _, v := range res.Facets[search.FacetGenres].Values {
			if v.Value == genre {
				return v.Count
			}
		}
		return 0
	}
	var during *search.Result
	var once sync.Once // the hook runs on each shard's goroutine
	searchindex.AfterBatch(idx, func() {
		once.Do(func() {
			res, err := idx.Search(context.Background(), search.Query{})
			if err != nil {
				t.Error(err)
			}
			during = res
		})
	})
	var movies []search.Movie
	for id := range int64(6) {
		movies = append(movies, search.Movie{ID: id + 1, Version: 1, Title: fmt.Sprintf("Film %d", id+1), Genres: []string{"Drama"}})
	}
	MustIndex(t, idx, movies...)
	// Every movie is a Drama. On a sharded index the shards' parts become searchable one by one, and the
	// facets, counted after the hits, may see more of them: never fewer.
	if during == nil {
		t.Fatal("no browse ran as the batch became searchable")
	}
	if during.Total == 0 || genreCount(during, "Drama") < int(during.Total) {
		t.Fatalf("a browse as the batch became searchable: %d movies, Drama %d; want every movie counted", during.Total, genreCount(during, "Drama"))
	}
	after, err := idx.Search(context.Background(), search.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Total != 6 || genreCount(after, "Drama") != 6 {
		t.Fatalf("a browse after the batch: %d movies, Drama %d; want 6 and 6", after.Total, genreCount(after, "Drama"))
	}
}
