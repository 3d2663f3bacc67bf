package searchindex_test

import (
	"context"
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
	// every movie is in the same shard when the tests shard the index (a shard weighs a word by its own
	// document frequencies: movies of different shards seldom tie).
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
