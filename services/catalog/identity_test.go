package catalog

import (
	"strings"
	"testing"

	"marquee/pkg/events"
)

func TestTitleKey(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"It's a Wonderful Life", "Its a Wonderful Life"},
		{"Sunrise: A Song of Two Humans", "sunrise - a song of two humans"},
		{"Amélie", "AMELIE"},
		{"Fast & Furious", "fast and furious"},
		{"Il buono, il brutto, il cattivo.", "il buono il brutto il cattivo"},
		{"Alien³", "alien3"},
	} {
		if ka, kb := TitleKey(tt.a), TitleKey(tt.b); ka != kb || ka == "" {
			t.Errorf("TitleKey(%q) = %q, TitleKey(%q) = %q; want one key", tt.a, ka, tt.b, kb)
		}
	}
	for _, tt := range []struct{ a, b string }{{"Alien", "Aliens"}, {"Se7en", "Seven"}, {"Up", "Us"}, {"सुन", "सन"}} {
		if TitleKey(tt.a) == TitleKey(tt.b) {
			t.Errorf("%q and %q share a key", tt.a, tt.b)
		}
	}
	if k := TitleKey(strings.Repeat("ﬃ", events.MaxTitleLen)); len(k) > MaxTitleKeyLen {
		t.Errorf("a key of %d bytes, want at most %d", len(k), MaxTitleKeyLen)
	}
}

func TestSameFilm(t *testing.T) {
	year := func(y int) *int { return &y }
	id := func(n int64) *int64 { return &n }
	stored := &Movie{Title: "The Godfather", Year: year(1972), Directors: []string{"Francis Ford Coppola"}, TMDBID: id(238)}
	for _, tt := range []struct {
		name string
		in   MovieInput
		want bool
	}{
		{"same year", MovieInput{Year: year(1972)}, true},
		{"a director in common, no year", MovieInput{Directors: []string{"francis ford coppola"}}, true},
		{"same year and director", MovieInput{Year: year(1972), Directors: []string{"Francis Ford Coppola"}}, true},
		{"nothing ties them", MovieInput{}, false},
		{"another year", MovieInput{Year: year(1990), Directors: []string{"Francis Ford Coppola"}}, false},
		{"another director", MovieInput{Year: year(1972), Directors: []string{"Someone Else"}}, false},
		{"another tmdb_id", MovieInput{Year: year(1972), TMDBID: id(1)}, false},
	} {
		if got := SameFilm(stored, &tt.in); got != tt.want {
			t.Errorf("%s: SameFilm = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMergeKeepsARatingWithItsVotes(t *testing.T) {
	rating := func(r float64) *float64 { return &r }
	votes := func(n int64) *int64 { return &n }
	seed := MovieInput{Title: "Psycho", Rating: rating(8.7)}
	rated := MovieInput{Title: "Psycho", Rating: rating(8.4), Votes: votes(9000)}
	unrated := MovieInput{Title: "Psycho", Votes: votes(0)}
	if m := Merge(seed, rated); *m.Rating != 8.4 || *m.Votes != 9000 {
		t.Errorf("seed + rated = %v / %v, want 8.4 / 9000", *m.Rating, *m.Votes)
	}
	if m := Merge(rated, seed); *m.Rating != 8.4 || *m.Votes != 9000 {
		t.Errorf("rated + seed = %v / %v, want 8.4 / 9000", *m.Rating, *m.Votes)
	}
	if m := Merge(seed, unrated); m.Rating == nil || *m.Rating != 8.7 {
		t.Errorf("seed + unrated = %v, want the seed's rating kept", m.Rating)
	}
}

// TestMergeTwiceChangesNothing: merging a record a second time leaves the movie as the first merge did,
// whichever side has the rating, the votes or the popularity, and a rating stays with its votes.
func TestMergeTwiceChangesNothing(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	n := func(v int64) *int64 { return &v }
	sides := []MovieInput{
		{Title: "Psycho"},
		{Title: "Psycho", Rating: f(8.7), Popularity: f(87)},
		{Title: "Psycho", Votes: n(100)},
		{Title: "Psycho", Rating: f(7), Votes: n(10), Overview: "A secretary steals."},
		{Title: "PSYCHO", Rating: f(8.4), Votes: n(9000), Popularity: f(30.5), Year: func() *int { y := 1960; return &y }()},
		{Title: "Psycho", Votes: n(9000), Genres: []string{"Horror"}},
	}
	for i, stored := range sides {
		for j, rec := range sides {
			once := Merge(stored, rec)
			if twice := Merge(once, rec); !Same(&once, &twice) {
				t.Errorf("stored %d, record %d: the second merge changes %v", i, j, Diff(&once, &twice))
			}
			if once.Rating != nil && once.Votes != nil {
				from := []MovieInput{stored, rec}
				ok := false
				for _, s := range from {
					if s.Rating != nil && s.Votes != nil && *s.Rating == *once.Rating && *s.Votes == *once.Votes {
						ok = true
					}
				}
				if !ok {
					t.Errorf("stored %d, record %d: rating %v with %v votes, which no side has together", i, j, *once.Rating, *once.Votes)
				}
			}
		}
	}
}
