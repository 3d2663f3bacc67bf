package searchindex_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestTyposOnlyWhenFewExact checks that typo matches join a search only while fewer than
// Ranking.TypoBelow movies match every word exactly, and then come after the exact ones.
func TestTyposOnlyWhenFewExact(t *testing.T) {
	r := searchindex.DefaultRanking()
	r.TypoBelow = 5
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{Ranking: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	var movies []search.Movie
	for i := range 6 {
		movies = append(movies, search.Movie{ID: int64(i + 1), Version: 1, Title: fmt.Sprintf("Harbor %d", i+1)})
	}
	typo := search.Movie{ID: 100, Version: 1, Title: "Harbour Lights"} // "harbour" is one edit from "harbor"
	MustIndex(t, idx, append(movies, typo)...)

	search := func() *search.Result {
		t.Helper()
		res, err := idx.Search(context.Background(), search.Query{Text: "harbor", PerPage: 20})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := search()
	if res.Total != 6 {
		t.Errorf("6 exact matches, TypoBelow 5: total %d, want the 6 exact ones only", res.Total)
	}
	for _, h := range res.Hits {
		if h.ID == typo.ID {
			t.Errorf("the typo match %q is in the results although enough movies match exactly", h.Title)
		}
	}

	// Two exact matches leave: four are fewer than TypoBelow, and the typo match follows them.
	MustApply(t, idx, searchindex.Change{ID: 1, Version: 2, Deleted: true}, searchindex.Change{ID: 2, Version: 2, Deleted: true})
	res = search()
	if res.Total != 5 || len(res.Hits) != 5 {
		t.Fatalf("4 exact matches and a typo: total %d, %d hits, want 5", res.Total, len(res.Hits))
	}
	if last := res.Hits[4]; last.ID != typo.ID || last.Match != "typo" {
		t.Errorf("the last hit is %q (%s), want the typo match %q after the exact ones", last.Title, last.Match, typo.Title)
	}
}

// TestPriorsFollowChanges checks that the popularity prior, kept in memory, follows each applied change and
// survives a reopen: of two movies with the same text, the one with more votes ranks first.
func TestPriorsFollowChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx")
	idx, err := openWith(path, searchindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	movie := func(id, version, votes int64) search.Movie {
		return search.Movie{ID: id, Version: version, Title: "The Lighthouse Keeper", Votes: ptr(votes), Rating: ptr(7.0)}
	}
	first := func(idx *searchindex.Index) int64 {
		t.Helper()
		res, err := idx.Search(context.Background(), search.Query{Text: "lighthouse keeper"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != 2 {
			t.Fatalf("%d hits, want 2", len(res.Hits))
		}
		return res.Hits[0].ID
	}
	MustIndex(t, idx, movie(1, 1, 50), movie(2, 1, 90000))
	if got := first(idx); got != 2 {
		t.Errorf("movie %d first, want 2 (90,000 votes against 50)", got)
	}
	MustIndex(t, idx, movie(1, 2, 500000))
	if got := first(idx); got != 1 {
		t.Errorf("after movie 1 got 500,000 votes: movie %d first, want 1", got)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := MustOpen(t, path)
	if got := first(reopened); got != 1 {
		t.Errorf("after a reopen: movie %d first, want 1 (the priors are read back from the index)", got)
	}
}

// TestFiltersKeepScores checks that a filter narrows a search without changing the score of a movie it
// keeps (with the whole-title and title-phrase boosts), also when the filtered movies are few and lead the
// search's conjunction.
func TestFiltersKeepScores(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	votes := func(v int64) *int64 { return &v }
	MustIndex(t, idx,
		search.Movie{ID: 1, Version: 1, Title: "The Dark Knight", Genres: []string{"Action"}, Votes: votes(30000)},
		search.Movie{ID: 2, Version: 1, Title: "The Dark Knight Rises", Genres: []string{"Action"}, Votes: votes(20000)},
		search.Movie{ID: 3, Version: 1, Title: "Knight of the Dark", Genres: []string{"Drama"}, Votes: votes(50)},
		search.Movie{ID: 4, Version: 1, Title: "A Dark Night", Genres: []string{"Action"}, Overview: "A knigt falls.", Votes: votes(10)},
		search.Movie{ID: 5, Version: 1, Title: "Knight Moves", Genres: []string{"Action"}, Votes: votes(900)},
		search.Movie{ID: 6, Version: 1, Title: "Dark Water", Genres: []string{"Horror"}, Votes: votes(4000)})
	// Many more dramas with the words: the filtered set is the smaller side of the search, which then leads.
	var dramas []search.Movie
	for i := range 30 {
		dramas = append(dramas, search.Movie{ID: int64(100 + i), Version: 1, Title: fmt.Sprintf("Dark Knight Chronicles %d", i), Genres: []string{"Drama"}})
	}
	MustIndex(t, idx, dramas...)
	for _, text := range []string{"the dark knight", "dark knight", "dark knigt"} {
		all, err := idx.Search(context.Background(), search.Query{Text: text, PerPage: 50})
		if err != nil {
			t.Fatal(err)
		}
		scores := map[int64]float64{}
		for _, h := range all.Hits {
			scores[h.ID] = h.Score
		}
		action, err := idx.Search(context.Background(), search.Query{Text: text, Genres: []string{"Action"}, PerPage: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(action.Hits) == 0 || len(action.Hits) >= len(all.Hits) {
			t.Fatalf("%q: %d hits, %d of them Action: want the filter to keep some and drop some", text, len(all.Hits), len(action.Hits))
		}
		compared := 0
		for _, h := range action.Hits {
			want, ok := scores[h.ID]
			if !ok {
				continue // a tier the filter opened: with fewer exact matches, typo and partial ones join
			}
			compared++
			if h.Score != want {
				t.Errorf("%q in Action: %q (%s) scores %v, %v without the filter", text, h.Title, h.Match, h.Score, want)
			}
		}
		if compared < 2 {
			t.Errorf("%q: %d movies in both answers, want at least 2 to compare", text, compared)
		}
	}
}

// TestTopicsRankTheirWellKnownFilmsFirst checks the topic tier: a query that is a tag of at least
// Ranking.TopicMin movies ranks those movies first, the most voted first, with a movie whose whole title is
// the query among them; a movie with the word elsewhere (its overview) follows, however popular. Pages after
// a cursor go through the tier and past it. A person's whole name is no topic, nor is a word too common to
// match on its own, and TopicMin 0 turns topics off.
func TestTopicsRankTheirWellKnownFilmsFirst(t *testing.T) {
	build := func(r searchindex.Ranking) *searchindex.Index {
		idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{Ranking: r})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = idx.Close() })
		var movies []search.Movie
		votes := 100.0
		for i := range 12 { // votes 150 … 12,975: the more, the later
			votes *= 1.5
			movies = append(movies, search.Movie{ID: int64(i + 1), Version: 1, Title: fmt.Sprintf("The Vault %d", i+1),
				Tags: []string{"heist", "ensemble cast"}, Keywords: []string{"heist", "bank"}, Votes: ptr(int64(votes))})
		}
		movies = append(movies,
			search.Movie{ID: 100, Version: 1, Title: "Heist", Votes: ptr(int64(50))},
			search.Movie{ID: 200, Version: 1, Title: "A Quiet Evening", Overview: "A heist goes wrong.", Votes: ptr(int64(19000))},
			search.Movie{ID: 300, Version: 1, Title: "Lights Out", Cast: []string{"Ada Vance"}, Votes: ptr(int64(40))},
			search.Movie{ID: 500, Version: 1, Title: "Ensemble", Votes: ptr(int64(10))})
		for i := range 10 { // a person whom tags name (as they name Will Smith), and who plays in 11 films
			movies = append(movies, search.Movie{ID: int64(400 + i), Version: 1, Title: fmt.Sprintf("Evening %d", i),
				Tags: []string{"ada vance"}, Votes: ptr(int64(5000 + 100*i))},
				search.Movie{ID: int64(310 + i), Version: 1, Title: fmt.Sprintf("Morning %d", i), Cast: []string{"Ada Vance"},
					Votes: ptr(int64(1000))})
		}
		// Of 2000: one film of the topic, five with the word elsewhere, and ten with a word one letter off.
		movies = append(movies, search.Movie{ID: 600, Version: 1, Title: "Cold Cash", Year: ptr(2000), Tags: []string{"heist"}})
		for i := range 5 {
			movies = append(movies, search.Movie{ID: int64(601 + i), Version: 1, Title: fmt.Sprintf("Harbor %d", i), Year: ptr(2000),
				Overview: "The heist of the year."})
		}
		for i := range 10 {
			movies = append(movies, search.Movie{ID: int64(610 + i), Version: 1, Title: fmt.Sprintf("Hoist %d", i), Year: ptr(2000)})
		}
		for i := range 250 { // ensemble becomes a common word, and heist a rare one
			movies = append(movies, search.Movie{ID: int64(1000 + i), Version: 1, Title: fmt.Sprintf("Night %d", i),
				Overview: "An ensemble piece."})
		}
		MustIndex(t, idx, movies...)
		return idx
	}
	ids := func(idx *searchindex.Index, text string) []int64 {
		t.Helper()
		res, err := idx.Search(context.Background(), search.Query{Text: text, PerPage: 20})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, h := range res.Hits {
			if h.Match != search.MatchExact {
				t.Errorf("%q: hit %d matched %q, want exact", text, h.ID, h.Match)
			}
			out = append(out, h.ID)
		}
		return out
	}

	idx := build(searchindex.DefaultRanking())
	got := ids(idx, "heist")
	if len(got) != 20 {
		t.Fatalf("heist: %v, want 20 hits", got)
	}
	// The topic's tier: the tagged films by their votes, most first, the film titled Heist among them (where
	// its title's weight against its 50 votes puts it), and the one without votes last.
	tagged := slices.DeleteFunc(slices.Clone(got[:13]), func(id int64) bool { return id == 100 })
	if fmt.Sprint(tagged) != "[12 11 10 9 8 7 6 5 4 3 2 1]" || got[0] != 12 || got[13] != 600 {
		t.Errorf("heist: %v, want the topic's films most voted first, and the film titled Heist among them", got)
	}
	if got[14] != 200 {
		t.Errorf("heist: %v, want the film with the word in its overview after the topic's, although it has the most votes", got)
	}

	// The same order, page by page.
	var paged []int64
	q := search.Query{Text: "heist", PerPage: 4}
	for range 10 {
		res, err := idx.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hits {
			paged = append(paged, h.ID)
		}
		if res.NextCursor == "" {
			break
		}
		q.Cursor = res.NextCursor
	}
	if fmt.Sprint(paged) != fmt.Sprint(got) {
		t.Errorf("heist page by page: %v, want %v", paged, got)
	}

	// Filtered to 2000, the topic's tier holds one film, the other exact matches five, and the typo matches
	// (hoist) follow, as six exact matches are fewer than TypoBelow.
	year := search.Range{Min: ptr(2000.0), Max: ptr(2000.0)}
	res, err := idx.Search(context.Background(), search.Query{Text: "heist", Year: year, PerPage: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 16 || res.DidYouMean != "" || len(res.Hits) == 0 || res.Hits[0].ID != 600 {
		t.Errorf("heist in 2000: total %d, did you mean %q, first %d; want 16 (6 exact, 10 typos), none, the topic's film (600)",
			res.Total, res.DidYouMean, res.Hits[0].ID)
	}

	person := ids(idx, "ada vance")
	// In 263 of 442 movies, more than commonShare: a word of tags, not a tag ("a" in "based on a book").
	if got := ids(idx, "ensemble"); len(got) == 0 || got[0] != 500 {
		t.Errorf("ensemble: %v, want the film titled Ensemble first: a common word names no topic", got)
	}

	r := searchindex.DefaultRanking()
	r.TopicMin = 0
	off := build(r)
	if got := ids(off, "heist"); len(got) == 0 || got[0] != 100 {
		t.Errorf("heist, topics off: %v, want the film titled Heist first", got)
	}
	// Words that name people at least as often (11 casts, 10 tags) are a person, no topic: her films first.
	if want := ids(off, "ada vance"); fmt.Sprint(person) != fmt.Sprint(want) || len(want) != 20 || want[0] < 300 || want[0] > 319 {
		t.Errorf("ada vance: %v, want %v, the order without topics, her films first", person, want)
	}
}

// TestTopicPagesThroughEveryTier pages, two hits at a time, through a topic search narrowed by a filter to
// few movies, so that it has all four tiers (topic, exact, typo and partial): every cursor is accepted, and
// every movie comes once.
func TestTopicPagesThroughEveryTier(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	var movies []search.Movie
	for i := range 12 {
		movies = append(movies, search.Movie{ID: int64(i + 1), Version: 1, Title: fmt.Sprintf("Orbit %d", i), Year: ptr(2000),
			Genres: []string{"Science Fiction"}})
	}
	movies = append(movies, search.Movie{ID: 50, Version: 1, Title: "Red Moon", Year: ptr(1950), Genres: []string{"Science Fiction"}})
	for i := range 5 {
		movies = append(movies, search.Movie{ID: int64(60 + i), Version: 1, Title: fmt.Sprintf("Lab %d", i), Year: ptr(1950),
			Overview: "A tale of science."})
	}
	MustIndex(t, idx, movies...)

	q := search.Query{Text: "science fiction", Year: search.Range{Min: ptr(1950.0), Max: ptr(1950.0)}, PerPage: 2}
	var got []int64
	for page := 0; ; page++ {
		if page == 5 {
			t.Fatalf("after %v: still a next page", got)
		}
		res, err := idx.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d after %v: %v", page+1, got, err)
		}
		for _, h := range res.Hits {
			got = append(got, h.ID)
		}
		if res.NextCursor == "" {
			break
		}
		q.Cursor = res.NextCursor
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[50 60 61 62 63 64]" {
		t.Errorf("science fiction in 1950, page by page: %v, want the topic's film and the five partial matches once each", got)
	}
}
