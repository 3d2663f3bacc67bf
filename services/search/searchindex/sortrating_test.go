package searchindex_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestSortByWeightedRating: sort=rating orders by the Bayesian average of each rating with the catalog's
// mean, so a 10 of one vote no longer tops the list; hits show it beside the raw rating.
func TestSortByWeightedRating(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	var movies []search.Movie
	add := func(title string, rating float64, votes int64) {
		m := *movie(int64(len(movies)+1), 1, title)
		m.Rating, m.Votes = &rating, &votes
		movies = append(movies, m)
	}
	add("One vote", 10, 1)
	add("Much loved", 8.7, 20000)
	add("Liked", 7.5, 3000)
	for range 20 {
		add("Ordinary", 6, 100)
	}
	unrated := *movie(int64(len(movies)+1), 1, "Unrated")
	movies = append(movies, unrated)
	MustIndex(t, idx, movies...)

	res, err := idx.Search(context.Background(), search.Query{PerPage: 50, Sort: []search.SortKey{{Field: search.SortRating, Desc: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, h := range res.Hits {
		titles = append(titles, h.Title)
	}
	if len(titles) != len(movies) || titles[0] != "Much loved" || titles[1] != "Liked" || titles[len(titles)-1] != "Unrated" {
		t.Fatalf("sort=-rating = %q: want the well-voted first, the unrated last", titles)
	}
	mean := (10 + 8.7 + 7.5 + 20*6) / 23
	m := searchindex.DefaultRanking().WeightedRatingMinVotes
	want := (1*10 + m*mean) / (1 + m)
	for _, h := range res.Hits {
		switch {
		case h.Title == "One vote" && (h.WeightedRating == nil || math.Abs(*h.WeightedRating-want) > 0.006):
			t.Errorf("weighted rating of a 10 of one vote = %v, want %.2f", h.WeightedRating, want)
		case h.Title == "Unrated" && h.WeightedRating != nil:
			t.Errorf("an unrated movie has a weighted rating %v", *h.WeightedRating)
		}
	}
	asc, err := idx.Search(context.Background(), search.Query{PerPage: 50, Sort: []search.SortKey{{Field: search.SortRating}}})
	if err != nil {
		t.Fatal(err)
	}
	if last := asc.Hits[len(asc.Hits)-1].Title; last != "Unrated" || asc.Hits[len(asc.Hits)-2].Title != "Much loved" {
		t.Errorf("sort=rating ends with %q: want the best, then the unrated", last)
	}

	// The mean follows the catalog: a change of a rating moves every weighted rating.
	better := movies[3]
	better.Version, better.Rating = 2, ptr(9.9)
	MustApply(t, idx, searchindex.Change{ID: better.ID, Version: 2, Movie: &better})
	again, err := idx.Search(context.Background(), search.Query{PerPage: 50, Sort: []search.SortKey{{Field: search.SortRating, Desc: true}}})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(again.Hits, func(h search.Hit) bool { return h.Title == "One vote" })
	if i < 0 || *again.Hits[i].WeightedRating <= want {
		t.Errorf("after a rating rose, the 10 of one vote weighs %v, want above %.2f", again.Hits[i].WeightedRating, want)
	}
}
