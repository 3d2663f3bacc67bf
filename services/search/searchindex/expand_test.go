package searchindex_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
)

// TestCompletionsCapped: a word being typed matches the 50 completions that the most movies have (on a
// tie, the first in dictionary order), not every word it begins; a word typed in full matches however
// rare it is.
func TestCompletionsCapped(t *testing.T) {
	// 60 words that begin with "zor": zoraa … zorch. The first 10 are in two movies each, the rest in one.
	var movies []search.Movie
	word := func(i int) string { return fmt.Sprintf("zor%c%c", 'a'+i/26, 'a'+i%26) }
	for i := range 60 {
		for range 1 + min(1, max(0, 10-i)) {
			movies = append(movies, search.Movie{ID: int64(len(movies) + 1), Version: 1, Title: word(i) + " Story"})
		}
	}
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	MustIndex(t, idx, movies...)
	ctx := context.Background()

	res, err := idx.Search(ctx, search.Query{Text: "zor", PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64 // the movies of the first 50 words: 10 × 2 + 40
	for _, m := range movies {
		if m.Title < word(50) {
			want = append(want, m.ID)
		}
	}
	got := hitIDs(res)
	slices.Sort(got)
	if !slices.Equal(got, want) || res.Total != uint64(len(want)) {
		t.Errorf("zor: %d movies %v, want the %d of the first 50 words %v", res.Total, got, len(want), want)
	}

	rare := word(59)
	res, err = idx.Search(ctx, search.Query{Text: rare, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if ids := hitIDs(res); len(ids) == 0 || movies[ids[0]-1].Title != rare+" Story" || res.Hits[0].Match != search.MatchExact {
		t.Errorf("%s: %v, want its movie first, an exact match", rare, ids) // its typo variants follow
	}
}
