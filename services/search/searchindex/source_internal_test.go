package searchindex

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"marquee/services/search"
)

// TestDecodeSourceAsEncodingJSON: a stored movie decodes to what encoding/json (which wrote it) reads back:
// every field set, every field null or empty, HTML and non-ASCII text, times with and without fractions.
func TestDecodeSourceAsEncodingJSON(t *testing.T) {
	year, runtime, votes, rating, pop, tmdb, imdb := 1972, 175, int64(1_900_000), 9.2, 88.5, int64(238), "tt0068646"
	full := search.Movie{ID: 7, Title: "The <Godfather> & \"Sons\"", Year: &year, Directors: []string{"Francis Ford Coppola"},
		Cast: []string{"Marlon Brando", "Zoë Saldaña", "山田太郎"}, Genres: []string{"Crime", "Drama"},
		Overview: "Line one.\nLine two\ttabbed — with \u2028 and \\ backslash", Tagline: "An offer…", Keywords: []string{"mafia"},
		Tags: []string{"classic"}, RuntimeMinutes: &runtime, Rating: &rating, Votes: &votes, Popularity: &pop,
		OriginalLanguage: "en", PosterURL: "https://example.com/p.jpg?a=1&b=2", TMDBID: &tmdb, IMDbID: &imdb, Version: 12,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), UpdatedAt: time.Date(2026, 12, 4, 0, 0, 0, 0, time.FixedZone("", 3600))}
	for _, m := range []search.Movie{full, {ID: 1, Title: "Bare"}, {ID: 2, Directors: []string{}, Cast: []string{""}}} {
		src, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var want search.Movie
		if err := json.Unmarshal(src, &want); err != nil {
			t.Fatal(err)
		}
		for _, l := range []*[]string{&want.Directors, &want.Cast, &want.Genres, &want.Keywords, &want.Tags} {
			if *l == nil {
				*l = []string{}
			}
		}
		got, err := decodeSource(src)
		if err != nil {
			t.Fatalf("decodeSource(%s): %v", src, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("decodeSource(%s) = %+v, want %+v", src, *got, want)
		}
	}
	if _, err := decodeSource([]byte(`{"id": 1, "title": `)); err == nil {
		t.Error("a cut stored movie decoded without an error")
	}
}
