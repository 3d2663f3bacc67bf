package searchindex

import (
	"math"
	"reflect"
	"testing"
	"time"

	"marquee/services/search"
)

// TestResultCacheKeepsEveryField checks that an answer comes out of the cache as it went in, with every
// field of a hit and a movie set, times of other zones and to the nanosecond, and nil beside empty lists.
func TestResultCacheKeepsEveryField(t *testing.T) {
	year, runtime, votes, tmdb, imdb := 1999, 136, int64(2_000_000), int64(603), "tt0133093"
	rating, popularity, weighted, zero := 8.7, 83.25, 8.61, math.Copysign(0, -1)
	at := time.Date(1999, 3, 31, 12, 30, 15, 123456789, time.FixedZone("", -7*3600))
	full := search.Hit{
		Movie: search.Movie{ID: 603, Title: "The Matrix", Year: &year, Directors: []string{"Lana Wachowski", "Lilly Wachowski"},
			Cast: []string{"Keanu Reeves"}, Genres: []string{"Action", "Science Fiction"}, Overview: "Neo <b>&</b> \"Trinity\" ☂",
			Tagline: "Welcome to the Real World.", Keywords: []string{"simulation"}, Tags: []string{"cyberpunk"},
			RuntimeMinutes: &runtime, Rating: &rating, Votes: &votes, Popularity: &popularity, OriginalLanguage: "en",
			Certification: "R", PosterURL: "https://example.org/matrix.jpg", TMDBID: &tmdb, IMDbID: &imdb, Version: 7,
			CreatedAt: at, UpdatedAt: at.UTC()},
		WeightedRating: &weighted, Score: 12.345678901234567, Match: search.MatchTypo,
		Highlights: map[string]string{"title": "The <mark>Matrix</mark>"},
	}
	sparse := search.Hit{Movie: search.Movie{ID: 9, Directors: []string{}, Cast: []string{}, Genres: []string{}, Rating: &zero}, Highlights: map[string]string{}}
	from, to := 8.0, 9.0
	res := &search.Result{Total: 2, Page: 1, PerPage: 10, Hits: []search.Hit{full, sparse},
		Facets: map[string]search.Facet{
			"genres": {Values: []search.FacetValue{{Value: "Action", Count: 1}}},
			"rating": {Values: []search.FacetValue{{Value: "8", Count: 1, From: &from, To: &to}, {Value: "9+", Count: 0, From: &to}}},
			"year":   {Stats: &search.FacetStats{Min: &from}},
			"empty":  {Values: []search.FacetValue{}},
		},
		FacetsApproximate: true, DidYouMean: "the matrix", NextCursor: "abc_-9",
		Index: search.IndexStatus{Version: 42, Current: true}}
	c := newResultCache(1<<20, 0, time.Now)
	c.put("k", res, time.Now())
	got, ok := c.get("k", 42, 0, time.Now())
	if !ok {
		t.Fatal("the answer was not kept")
	}
	if !reflect.DeepEqual(got, res) {
		t.Errorf("the cached answer differs:\n got  %+v\n want %+v", got, res)
	}
	if !math.Signbit(*got.Hits[1].Rating) { // DeepEqual takes -0 for 0
		t.Error("-0 lost its sign")
	}
}
