package searchindex_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"marquee/services/search"
)

// TestTitlesAsPeopleTypeThem: words joined or split, dots inside a title, numbers written another way, a
// typo in the word being typed, a typed word that is itself the misspelling, and the start of a title
// typed so far all find their movie first.
func TestTitlesAsPeopleTypeThem(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	var movies []search.Movie
	add := func(title string, votes int64, overview string) {
		m := *movie(int64(len(movies)+1), 1, title)
		m.Votes, m.Overview = &votes, overview
		movies = append(movies, m)
	}
	add("Spider-Man", 16000, "A student is bitten by a spider.")
	add("Man on Fire", 9000, "A bodyguard on a mission.")
	add("The Spider", 50, "A spider and a man.")
	add("La La Land", 14000, "A jazz pianist falls for an actress.")
	add("Superbad", 6000, "Two co-dependent teenagers.")
	add("Super 8", 7000, "A bad train crash in 1979.")
	add("WALL·E", 16000, "A robot left on Earth.")
	add("Rocky", 6400, "A small-time boxer.")
	add("Rocky II", 3500, "Rocky and Apollo again.")
	add("Cars 2", 6000, "Lightning goes to race in 2 countries.")
	add("Alien³", 4600, "Ripley crashes on a prison planet.")
	add("Alien", 12000, "A crew meets a creature.")
	add("The Godfather", 17000, "A crime family.")
	add("Interstellar", 30000, "Explorers travel through a wormhole.")
	add("Jurassic Park", 2000, "A theme park of cloned dinosaurs.")
	add("Jurassic World", 90000, "Twenty-two years after the events of Jurassic Park, the park is open again.")
	movies[len(movies)-1].Keywords = []string{"theme park", "dinosaur"}
	add("Secret Origins", 100, "When an intersteller threat comes to Earth, a band of heroes from far and wide must set aside their differences and join forces to save the planet from destruction.")
	for i := range 30 {
		add(fmt.Sprintf("Filler %d", i), int64(i), "Nothing to see.")
	}
	MustIndex(t, idx, movies...)
	for _, tc := range []struct{ q, want string }{
		{"spiderman", "Spider-Man"},
		{"lalaland", "La La Land"},
		{"super bad", "Superbad"},
		{"walle", "WALL·E"},
		{"wall e", "WALL·E"},
		{"rocky 2", "Rocky II"},
		{"rocky two", "Rocky II"},
		{"alien 3", "Alien³"},
		{"godfate", "The Godfather"},
		{"intersteller", "Interstellar"},
		// The start of a title while it is typed, a typo and all, before a more popular movie with the words.
		{"jurasic par", "Jurassic Park"},
		{"jurassic par", "Jurassic Park"},
		{"the godf", "The Godfather"},
	} {
		res, err := idx.Search(context.Background(), search.Query{Text: tc.q, PerPage: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) == 0 || res.Hits[0].Title != tc.want {
			var got []string
			for _, h := range res.Hits {
				got = append(got, h.Title)
			}
			t.Errorf("%q: %q first of %q; want %q", tc.q, first(got), got, tc.want)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestDidYouMeanFitsTheQuery: of a misspelt word's closest words, did-you-mean takes the one the rest of the
// query goes with in titles, not the most common one, and offers it.
func TestDidYouMeanFitsTheQuery(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	var movies []search.Movie
	for i := range 40 {
		m := *movie(int64(i+1), 1, fmt.Sprintf("Story %d", i))
		m.Cast = []string{fmt.Sprintf("Peter Number%d", i), "Harry Someone"}
		movies = append(movies, m)
	}
	for i, title := range []string{"Harry Potter and the Stone", "Harry Potter and the Chamber", "Harry Potter and the Prisoner"} {
		movies = append(movies, *movie(int64(100+i), 1, title))
	}
	MustIndex(t, idx, movies...)
	res, err := idx.Search(context.Background(), search.Query{Text: "harry poter", PerPage: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.DidYouMean != "harry potter" {
		t.Errorf(`"harry poter": did you mean %q?`, res.DidYouMean)
	}
}

// TestSuggestTheWholeTitleFirst: the title that is the whole text typed comes first, with its year, before
// more popular titles that start with it; a person says which filter finds them.
func TestSuggestTheWholeTitleFirst(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	var movies []search.Movie
	add := func(title string, year int, votes int64, director string) {
		m := *movie(int64(len(movies)+1), 1, title)
		m.Year, m.Votes, m.Directors = &year, &votes, []string{director}
		movies = append(movies, m)
	}
	add("Aliens", 1986, 80000, "James Cameron")
	add("Alien³", 1992, 46000, "David Fincher")
	add("Alien", 1979, 12000, "Ridley Scott")
	add("Alien Nation", 1988, 900, "Graham Baker")
	MustIndex(t, idx, movies...)
	ss, err := idx.Suggest(context.Background(), search.SuggestQuery{Text: "alien"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) == 0 || ss[0].Text != "Alien" || ss[0].Year == nil || *ss[0].Year != 1979 {
		t.Fatalf("suggestions for alien = %+v: want Alien (1979) first", ss)
	}
	ss, err = idx.Suggest(context.Background(), search.SuggestQuery{Text: "ridley"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) == 0 || ss[0].Kind != search.SuggestPerson || ss[0].Role != "director" {
		t.Fatalf("suggestions for ridley = %+v: want the director Ridley Scott", ss)
	}
}

// TestGenreFilterSpeltOtherwise: a genre filter is read with the catalog's vocabulary, so genre=sci-fi
// finds the movies the catalog stores as Science Fiction.
func TestGenreFilterSpeltOtherwise(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	m := *movie(1, 1, "Solaris")
	m.Genres = []string{"Science Fiction"}
	MustIndex(t, idx, m, *movie(2, 1, "Heat"))
	for _, g := range []string{"sci-fi", "Sci-Fi", "science fiction"} {
		res, err := idx.Search(context.Background(), search.Query{Genres: []string{g}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 1 || res.Hits[0].Title != "Solaris" {
			t.Errorf("genre=%s: %d movies, want Solaris", g, res.Total)
		}
	}
}

// TestPersonSuggestionRole: a person suggestion's role is the filter that finds most of their movies,
// whichever movie suggested them: an actor who directed one popular film is suggested as cast.
func TestPersonSuggestionRole(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	var movies []search.Movie
	add := func(title string, votes int64, directors, cast []string) {
		m := *movie(int64(len(movies)+1), 1, title)
		m.Votes, m.Directors, m.Cast = &votes, directors, cast
		movies = append(movies, m)
	}
	add("The Directed One", 90000, []string{"Zora Quillfeather"}, []string{"Ann Other"})
	add("First Role", 100, []string{"Someone Else"}, []string{"Zora Quillfeather"})
	add("Second Role", 100, []string{"Someone Else"}, []string{"Zora Quillfeather"})
	add("Third Role", 100, []string{"Another One"}, []string{"Zora Quillfeather", "Ann Other"})
	add("Own Film", 50, []string{"Ivo Brandtmeier"}, []string{"Ivo Brandtmeier"})
	add("Own Film Two", 50, []string{"Ivo Brandtmeier"}, nil)
	MustIndex(t, idx, movies...)
	for _, tc := range []struct{ typed, name, role string }{
		{"quillf", "Zora Quillfeather", "cast"},
		{"brandtm", "Ivo Brandtmeier", "director"},
	} {
		ss, err := idx.Suggest(context.Background(), search.SuggestQuery{Text: tc.typed})
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 0 || ss[0].Text != tc.name || ss[0].Role != tc.role {
			t.Errorf("suggestions for %q = %+v: want %s as %s", tc.typed, ss, tc.name, tc.role)
		}
	}
}
