package searchindex_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestCursorWalk: following next_cursor gives the same movies, in the same order, as paging, across the
// tiers of a text search and for sorts, and the last page has no cursor.
func TestCursorWalk(t *testing.T) {
	var movies []search.Movie
	MustReadJSON(t, filepath.Join("testdata", "titles", "movies.json"), &movies)
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	MustIndex(t, idx, movies...)
	ctx := context.Background()
	for _, q := range []search.Query{
		{Text: "coppola"},
		{Text: "the godfater"},
		{Text: "godfather batman"},
		{Text: "go"},
		{},
		{Sort: []search.SortKey{{Field: search.SortRuntime, Desc: true}, {Field: search.SortTitle}}},
		{Text: "the", Sort: []search.SortKey{{Field: search.SortYear}}},
	} {
		t.Run(q.Text+"/"+sortName(q.Sort), func(t *testing.T) {
			all := q
			all.PerPage = 100
			want, err := idx.Search(ctx, all)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			page := q
			page.PerPage = 2
			for range 20 {
				res, err := idx.Search(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				if res.Total != want.Total {
					t.Errorf("total=%d after the cursor, want %d", res.Total, want.Total)
				}
				got = append(got, hitIDs(res)...)
				if res.NextCursor == "" {
					break
				}
				page.Cursor = res.NextCursor
			}
			if !slices.Equal(got, hitIDs(want)) {
				t.Errorf("cursor walk %v, want %v", got, hitIDs(want))
			}
		})
	}
}

func sortName(keys []search.SortKey) string {
	s := ""
	for _, k := range keys {
		if k.Desc {
			s += "-"
		}
		s += k.Field + ","
	}
	return s
}

// TestTiesInIDOrder: movies of the same score come in the order of their ids (compared as Bleve compares
// ids, as text), whether a page is asked by number or by cursor, and whatever the order they were indexed
// in: pages cut through ties and between them.
func TestTiesInIDOrder(t *testing.T) {
	movie := func(id, votes int64) search.Movie {
		m := search.Movie{ID: id, Version: 1, Title: "Zephyr Quokka"}
		if votes > 0 {
			m.Votes = &votes
		}
		return m
	}
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	// The vote counts make five scores; the ties do not go in in id order. The ids are multiples of 6, so
	// every movie is in the same shard when the tests shard the index: ties within a shard's segments.
	MustIndex(t, idx, movie(6, 50_000), movie(30, 500), movie(12, 500), movie(42, 50), movie(48, 5),
		movie(54, 0), movie(36, 0), movie(18, 0), movie(120, 0))
	want := []int64{6, 12, 30, 42, 48, 120, 18, 36, 54}
	ctx := context.Background()
	full, err := idx.Search(ctx, search.Query{Text: "zephyr quokka", PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got := hitIDs(full); !slices.Equal(got, want) {
		t.Fatalf("all hits %v, want %v", got, want)
	}
	for perPage := 1; perPage <= 5; perPage++ {
		byNumber, byCursor := walkPages(t, idx, "zephyr quokka", perPage, len(want))
		if !slices.Equal(byNumber, want) || !slices.Equal(byCursor, want) {
			t.Errorf("%d a page: by page number %v, by cursor %v, want %v", perPage, byNumber, byCursor, want)
		}
	}
}

// TestTiesAcrossFieldsInIDOrder: movies alike in every field tie exactly, however many fields and
// variants of the words score them and however the page is cut, so their order is the order of their ids
// on every page. A score is a sum of many parts: added up in an order that depended on the page being built
// (the threshold it had reached), the same movie scored a last bit apart on two pages, and a cursor walk
// repeated or dropped one.
func TestTiesAcrossFieldsInIDOrder(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	rating := 7.1
	var movies []search.Movie
	var tied []int64
	for k := range 24 {
		id := int64(6 * (k + 1)) // one shard when the tests shard the index (see TestTiesInIDOrder)
		tied = append(tied, id)
		movies = append(movies, search.Movie{
			ID: id, Version: 1, Title: "Zephyr Quokka Nights", Overview: "A zephyr carries Marlowe to the quokka island.",
			Tagline: "Zephyr returns", Directors: []string{"Ada Marlowe"}, Cast: []string{"Quokka Jones", "Eli Marlowe"},
			Keywords: []string{"zephyr", "island"}, Genres: []string{"Drama"}, Votes: ptr(300), Rating: &rating,
		})
	}
	// Movies that score above and below the tied ones, so that the threshold moves while a page is built.
	for k := range 24 {
		id := int64(6*(k+1) + 1000)
		m := search.Movie{ID: id, Version: 1, Title: "Zephyr Story", Overview: "Quokka and zephyr.", Votes: ptr(int64(10 + 400*(k%3)))}
		if k%2 == 0 {
			m.Cast = []string{"Ann Marlowe"}
		}
		movies = append(movies, m)
	}
	// Ties go in the order Bleve compares ids: as text.
	slices.SortFunc(tied, func(a, b int64) int { return strings.Compare(strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)) })
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	MustIndex(t, idx, movies...)
	ctx := context.Background()
	for _, text := range []string{"zephyr quokka marlowe", "zephir quoka marlow", "zephyr quokka nig"} {
		full, err := idx.Search(ctx, search.Query{Text: text, PerPage: 100})
		if err != nil {
			t.Fatal(err)
		}
		want := hitIDs(full)
		var inFull []int64
		for _, id := range want {
			if id < 1000 {
				inFull = append(inFull, id)
			}
		}
		if !slices.Equal(inFull, tied) {
			t.Errorf("%q: the tied movies come as %v, want in id order %v", text, inFull, tied)
		}
		for perPage := 1; perPage <= 7; perPage++ {
			byNumber, byCursor := walkPages(t, idx, text, perPage, len(want))
			if !slices.Equal(byNumber, want) || !slices.Equal(byCursor, want) {
				t.Errorf("%q, %d a page:\nby page number %v\nby cursor      %v\nwant           %v", text, perPage, byNumber, byCursor, want)
			}
		}
	}
}

// walkPages reads the first n hits of a search for text, perPage a page, twice: by page number and by
// following next_cursor.
func walkPages(t *testing.T, idx *searchindex.Index, text string, perPage, n int) (byNumber, byCursor []int64) {
	t.Helper()
	ctx := context.Background()
	for page := 1; (page-1)*perPage < n; page++ {
		res, err := idx.Search(ctx, search.Query{Text: text, PerPage: perPage, Page: page})
		if err != nil {
			t.Fatal(err)
		}
		byNumber = append(byNumber, hitIDs(res)...)
	}
	q := search.Query{Text: text, PerPage: perPage}
	for range n {
		res, err := idx.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		byCursor = append(byCursor, hitIDs(res)...)
		if q.Cursor = res.NextCursor; q.Cursor == "" {
			break
		}
	}
	return byNumber, byCursor
}

// TestCursorKeepsItsTier: a text search decides its tiers from how many movies match every word exactly; a
// write between two pages that moves that count across a threshold must not turn the cursor's tier into
// another (which skipped the rest of its tier, or refused the cursor as not of this search). The next pages
// go on in the tier the cursor was made in, so no movie of the first layout is lost.
func TestCursorKeepsItsTier(t *testing.T) {
	votes := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		text  string
		extra string // a word of the exact movies' titles that the partial ones lack
	}{
		{text: "zephyr"},                         // exact, typo: two tiers, then one
		{text: "zephyr quokka", extra: "quokka"}, // exact, typo, partial: three tiers, then two
	} {
		t.Run(tc.text, func(t *testing.T) {
			idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
			title := func(first string) string { return strings.TrimSpace(first + " " + tc.extra) }
			var movies []search.Movie
			add := func(id int64, t string, v int64) {
				movies = append(movies, search.Movie{ID: id, Version: 1, Title: t, Votes: votes(v)})
			}
			// Ids a multiple of 6: one shard when the tests shard the index (see TestTiesInIDOrder). Votes far
			// apart, and movies that match nothing, keep the write's small change of the words' weights from
			// reordering the movies it did not touch.
			for k := range 3 {
				add(int64(6*(k+1)), title("Zephyr"), int64(math.Pow(10, float64(4-k))))
			}
			for k := range 4 {
				add(int64(6*(k+10)), title("Zephir"), int64(math.Pow(10, float64(4-k))))
			}
			if tc.extra != "" {
				for k := range 3 {
					add(int64(6*(k+20)), "Zephyr Marlin", int64(math.Pow(10, float64(4-k))))
				}
			}
			matching := len(movies)
			for k := range 300 {
				add(int64(6*(k+100)), "Filler "+strconv.Itoa(k), 10)
			}
			MustIndex(t, idx, movies...)
			ctx := context.Background()
			all, err := idx.Search(ctx, search.Query{Text: tc.text, PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			want := hitIDs(all)
			if len(want) != matching || all.Hits[3].Match != search.MatchTypo {
				t.Fatalf("before the write: %v (4th %s), want all %d movies, the exact three first", want, all.Hits[3].Match, matching)
			}
			q := search.Query{Text: tc.text, PerPage: 2}
			var got []int64
			for page := 1; page <= 10; page++ {
				res, err := idx.Search(ctx, q)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				got = append(got, hitIDs(res)...)
				if page == 2 {
					// The second page ended in the typo tier. The first exact movie, shown on the first page,
					// loses its second word: two movies match every word exactly, which makes one tier of
					// exact and typo matches for a new search.
					shown := movies[0]
					shown.Version, shown.Title = 2, "Zephyr Alone"
					if tc.extra == "" {
						shown.Title = "Quite Alone"
					}
					MustIndex(t, idx, shown)
					fresh, err := idx.Search(ctx, search.Query{Text: tc.text, PerPage: 100})
					if err != nil {
						t.Fatal(err)
					}
					exact := 0
					for _, h := range fresh.Hits {
						if h.Match == search.MatchExact {
							exact++
						}
					}
					if exact != 2 {
						t.Fatalf("after the write %d movies match exactly, want 2: the test does not move the layout", exact)
					}
				}
				if q.Cursor = res.NextCursor; q.Cursor == "" {
					break
				}
			}
			seen := map[int64]int{}
			for _, id := range got {
				seen[id]++
			}
			for _, id := range want {
				if seen[id] == 0 {
					t.Errorf("movie %d of the first layout never came: walk %v, first layout %v", id, got, want)
				}
			}
			if !slices.Equal(got[:4], want[:4]) {
				t.Errorf("walk starts %v, want %v", got[:4], want[:4])
			}
		})
	}
}

// TestCursorKeepsTheMeanRating: sort=rating pulls each rating towards the catalog's mean rating, which a
// write between two pages moves; the next pages keep the first page's mean, so the walk is the order the
// first page began (each movie once), and each hit shows the weighted rating it was ordered by.
func TestCursorKeepsTheMeanRating(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	var movies []search.Movie
	add := func(id int64, rating float64, votes int64) {
		m := *movie(id, 1, "Film "+strconv.FormatInt(id, 10))
		m.Rating, m.Votes = &rating, &votes
		movies = append(movies, m)
	}
	add(1, 8.5, 300)
	add(2, 9.0, 10)
	add(3, 8.0, 5000)
	add(4, 7.0, 100_000)
	add(5, 8.2, 50)
	add(6, 7.9, 2000)
	MustIndex(t, idx, movies...)
	ctx := context.Background()
	byRating := []search.SortKey{{Field: search.SortRating, Desc: true}}
	all, err := idx.Search(ctx, search.Query{Sort: byRating, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := hitIDs(all)
	wr := map[int64]float64{}
	for _, h := range all.Hits {
		wr[h.ID] = *h.WeightedRating
	}
	q := search.Query{Sort: byRating, PerPage: 2}
	var got []int64
	for page := 1; page <= 20; page++ {
		res, err := idx.Search(ctx, q)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, h := range res.Hits {
			if h.ID > 100 {
				continue // the write's movies
			}
			got = append(got, h.ID)
			if *h.WeightedRating != wr[h.ID] {
				t.Errorf("page %d: movie %d shows weighted rating %v, the first page's order used %v", page, h.ID, *h.WeightedRating, wr[h.ID])
			}
		}
		if page == 1 {
			// Twenty films rated 1 move the mean from about 8 to about 2.7: a few votes now weigh little.
			var low []search.Movie
			for k := range 20 {
				r, v := 1.0, int64(1_000_000)
				m := *movie(int64(101+k), 1, "Flop")
				m.Rating, m.Votes = &r, &v
				low = append(low, m)
			}
			MustIndex(t, idx, low...)
			fresh, err := idx.Search(ctx, search.Query{Sort: byRating, PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(hitIDs(fresh)[:len(want)], want) {
				t.Fatalf("the write did not change the order of a new search (%v): the test proves nothing", hitIDs(fresh))
			}
		}
		if q.Cursor = res.NextCursor; q.Cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("cursor walk across the write %v, want the first page's order %v", got, want)
	}
}
