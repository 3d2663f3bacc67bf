package searchindex_test

import (
	"context"
	"path/filepath"
	"testing"

	"marquee/services/search"
)

// Did-you-mean prefers, among equally close words, the one most movies have: "hatman" is one edit from
// both batman and catman; catman is in three movies, batman (first in the dictionary) in one.
func TestDidYouMeanPrefersTheCommonWord(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	MustIndex(t, idx,
		*movie(1, 1, "Batman"), *movie(2, 1, "Catman Returns"), *movie(3, 1, "Catman Begins"), *movie(4, 1, "The Catman"))
	res, err := idx.Search(context.Background(), search.Query{Text: "hatman", PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.DidYouMean != "catman" {
		t.Errorf("did_you_mean=%q, want catman", res.DidYouMean)
	}
}

// Did-you-mean knows the words of every field it corrects from, not only titles: a misspelled name is
// corrected from the cast, a misspelled keyword from the keywords.
func TestDidYouMeanReadsPeopleAndKeywords(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	a, b := movie(1, 1, "Speed"), movie(2, 1, "Point Break")
	a.Cast, b.Keywords = []string{"Keanu Reeves"}, []string{"surfing"}
	MustIndex(t, idx, *a, *b)
	for q, want := range map[string]string{"keanu reevs": "keanu reeves", "surfng": "surfing"} {
		res, err := idx.Search(context.Background(), search.Query{Text: q, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.DidYouMean != want {
			t.Errorf("%q: did_you_mean=%q, want %q", q, res.DidYouMean, want)
		}
	}
}
