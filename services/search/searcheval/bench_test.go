package searcheval_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searcheval"
	"marquee/services/search/searchindex"
)

var (
	benchOnce sync.Once
	benchIdx  *searchindex.Index
	benchErr  error
)

// benchIndex builds the catalog's index once for all benchmarks (it lives until the process ends).
func benchIndex(b *testing.B) *searchindex.Index {
	movies := testenv.SharedData(b, "movies.jsonl.gz")
	benchOnce.Do(func() {
		benchIdx, benchErr = searcheval.Build(context.Background(), movies, filepath.Join(b.TempDir(), "idx"), searcheval.Options{})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchIdx
}

// perOp is the mean time of one search of q, over n runs.
func perOp(b *testing.B, idx *searchindex.Index, q search.Query, n int) time.Duration {
	start := time.Now()
	for range n {
		if _, err := idx.Search(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkSearch times typical searches on the 15k catalog. Besides ns/op each reports x-baseline: its time
// over that of the plainest search (browse, top 10), measured in the same run, so figures compare across
// machines.
func BenchmarkSearch(b *testing.B) {
	idx := benchIndex(b)
	baseline := perOp(b, idx, search.Query{PerPage: 10}, 300)
	cases := []struct {
		name string
		q    search.Query
	}{
		{"baseline-browse", search.Query{PerPage: 10}},
		{"exact", search.Query{Text: "the godfather", PerPage: 10}},
		{"typo", search.Query{Text: "godfater", PerPage: 10}},
		{"typo-two-words", search.Query{Text: "forest gump", PerPage: 10}},
		{"prefix", search.Query{Text: "star wa", PerPage: 10}},
		{"topical", search.Query{Text: "heist", PerPage: 10}},
		{"faceted", search.Query{Text: "war", Facets: []string{"directors", "decade", "rating", "year", "language"}, Genres: []string{"Drama"}, PerPage: 10}},
		{"filtered-browse", search.Query{Genres: []string{"Science Fiction"}, Year: search.Range{Min: ptr(1990.0), Max: ptr(1999.0)}, Rating: search.Range{Min: ptr(7.0)}, PerPage: 10}},
		{"sorted", search.Query{Text: "love", Sort: []search.SortKey{{Field: search.SortRating, Desc: true}, {Field: search.SortTitle}}, PerPage: 10}},
		{"deep-page", search.Query{Page: 50, PerPage: 100}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := idx.Search(context.Background(), c.q); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(baseline), "x-baseline")
		})
	}
	b.Run("suggest", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := idx.Suggest(context.Background(), search.SuggestQuery{Text: "god"}); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(total)/float64(b.N)/float64(baseline), "x-baseline")
	})
}

func ptr[T any](v T) *T { return &v }
