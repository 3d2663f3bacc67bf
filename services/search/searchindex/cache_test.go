package searchindex_test

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestResultCacheFollowsCheckpoint checks that cached answers are the searched ones, that a caller's change
// to an answer does not reach the cache, and that an applied change is seen at once.
func TestResultCacheFollowsCheckpoint(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	year := 1999
	MustIndex(t, idx, search.Movie{ID: 1, Version: 1, Title: "The Matrix", Year: &year, Genres: []string{"Sci-Fi"}})
	ctx := context.Background()
	q := search.Query{Text: "matrix"}
	first, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	first.Index.Lag = 99 // as the API handler does
	second, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := second.Total, uint64(1); got != want {
		t.Fatalf("Total=%d, want %d", got, want)
	}
	if second.Index.Lag != 0 {
		t.Errorf("Lag=%d: a caller's change reached the cache", second.Index.Lag)
	}
	MustIndex(t, idx, search.Movie{ID: 2, Version: 1, Title: "The Matrix Reloaded", Genres: []string{"Sci-Fi"}})
	third, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := third.Total, uint64(2); got != want {
		t.Errorf("Total after an applied change=%d, want %d", got, want)
	}
}

// clock is a settable clock for the result cache.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// TestResultCacheServesWithinStalenessBound checks that a write does not empty the cache: the answer
// cached before it is served, saying which checkpoint it is of and how old it is, until it is older than
// CacheMaxAge; then the query is searched again. An answer of the checkpoint the index still has is
// served however old.
func TestResultCacheServesWithinStalenessBound(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20, CacheMaxAge: 5 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	MustIndex(t, idx, sciFi(1, "The Matrix"))
	before, err := idx.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := search.Query{Text: "matrix"}
	ask := func() *search.Result {
		t.Helper()
		res, err := idx.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ask()
	clk.Advance(time.Hour) // no write: the answer is exact, however old, and now known current
	if res := ask(); res.Index.Age != 0 || !res.Index.Current {
		t.Errorf("unchanged index: Age=%v Current=%v, want 0 and true", res.Index.Age, res.Index.Current)
	}

	MustIndex(t, idx, sciFi(2, "The Matrix Reloaded"))
	after, err := idx.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	res := ask()
	if got, want := res.Total, uint64(1); got != want {
		t.Errorf("within the bound: Total=%d, want the cached %d", got, want)
	}
	if res.Index.Version != before || res.Index.Current || res.Index.Age != 2*time.Second {
		t.Errorf("within the bound: Index=%+v, want version %d, not current, age 2s", res.Index, before)
	}

	clk.Advance(3*time.Second + time.Millisecond) // 5.001 s after the answer was computed
	res = ask()
	if got, want := res.Total, uint64(2); got != want {
		t.Errorf("past the bound: Total=%d, want %d", got, want)
	}
	if res.Index.Version != after || !res.Index.Current || res.Index.Age != 0 {
		t.Errorf("past the bound: Index=%+v, want version %d, current, age 0", res.Index, after)
	}
	if got, want := idx.CacheStats(), (searchindex.CacheStats{Hits: 1, StaleHits: 1, Misses: 2}); got != want {
		t.Errorf("CacheStats=%+v, want %+v", got, want)
	}
}

// TestResultCacheMinIndexVersion checks that a search that must see a checkpoint (a read after a write) is
// never answered with an older cached answer, and that its fresh answer replaces the older one.
func TestResultCacheMinIndexVersion(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20, CacheMaxAge: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	MustIndex(t, idx, sciFi(1, "The Matrix"))
	ctx := context.Background()
	if _, err := idx.Search(ctx, search.Query{Text: "matrix"}); err != nil {
		t.Fatal(err)
	}
	MustIndex(t, idx, sciFi(2, "The Matrix Reloaded"))
	after, err := idx.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	res, err := idx.Search(ctx, search.Query{Text: "matrix", MinIndexVersion: after})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || res.Index.Version < after {
		t.Fatalf("MinIndexVersion %d: Total=%d Version=%d, want 2 movies of version %d or later", after, res.Total, res.Index.Version, after)
	}
	res, err = idx.Search(ctx, search.Query{Text: "matrix"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || res.Index.Version != after || res.Index.Age != 0 {
		t.Errorf("the next search: Total=%d Index=%+v, want the fresh answer of version %d", res.Total, res.Index, after)
	}
}

// TestResultCacheWithoutMaxAge checks that CacheMaxAge 0 keeps answers only while the index holds exactly
// what they were computed from.
func TestResultCacheWithoutMaxAge(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	MustIndex(t, idx, sciFi(1, "The Matrix"))
	ctx := context.Background()
	q := search.Query{Text: "matrix"}
	if _, err := idx.Search(ctx, q); err != nil {
		t.Fatal(err)
	}
	MustIndex(t, idx, sciFi(2, "The Matrix Reloaded"))
	res, err := idx.Search(ctx, q) // no time has passed
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Total, uint64(2); got != want {
		t.Errorf("Total=%d, want %d", got, want)
	}
}

// sciFi is a Sci-Fi movie of the given id and title, at version 1.
func sciFi(id int64, title string) search.Movie {
	return search.Movie{ID: id, Version: 1, Title: title, Genres: []string{"Sci-Fi"}}
}

// TestCachedAnswersAreTheSearchedOnes checks that an answer served from the cache is the one the search
// gave, field for field, for every golden search (highlights, facets, cursors, did-you-mean, ratings).
func TestCachedAnswersAreTheSearchedOnes(t *testing.T) {
	for _, dir := range []string{"titles", "browse"} {
		var movies []search.Movie
		MustReadJSON(t, filepath.Join("testdata", dir, "movies.json"), &movies)
		var searches []goldenSearch
		MustReadJSON(t, filepath.Join("testdata", dir, "searches.json"), &searches)
		idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = idx.Close() })
		MustIndex(t, idx, movies...)
		for _, s := range searches {
			searched, err := idx.Search(context.Background(), s.query())
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, s.Name, err)
			}
			hits := idx.CacheStats().Hits
			cached, err := idx.Search(context.Background(), s.query())
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, s.Name, err)
			}
			if idx.CacheStats().Hits != hits+1 {
				t.Fatalf("%s/%s: asked again, the search was not answered from the cache", dir, s.Name)
			}
			if !reflect.DeepEqual(cached, searched) {
				t.Errorf("%s/%s: the cached answer differs from the searched one:\n cached   %+v\n searched %+v", dir, s.Name, cached, searched)
			}
		}
	}
}

// TestResultCacheKeepsToItsBudget checks that a full result cache holds about the memory it is given:
// filled with answers to thousands of searches, the heap it takes (measured, after a collection) is within
// a quarter of its budget.
func TestResultCacheKeepsToItsBudget(t *testing.T) {
	const budget = 4 << 20
	movies := synthMovies(loadVocab(t), 5_000, 42)
	idx := applySynthWith(t, t.TempDir(), movies, searchindex.Options{CacheBytes: budget, Scratch: true})
	if err := idx.Compact(context.Background()); err != nil { // no merge allocates while the heap is read
		t.Fatal(err)
	}
	for seed := uint64(1); ; seed++ {
		for _, c := range queryClasses(movies, 100, seed) {
			for _, q := range c.queries {
				if _, err := idx.Search(context.Background(), q); err != nil {
					t.Fatal(err)
				}
			}
		}
		if held, _ := searchindex.ResultCacheBytes(idx); held > budget*9/10 || seed == 20 {
			break
		}
	}
	held, _ := searchindex.ResultCacheBytes(idx)
	if held < budget*9/10 {
		t.Fatalf("the cache holds %d bytes of its %d: not full", held, budget)
	}
	full := liveHeap()
	searchindex.EmptyResultCache(idx)
	empty := liveHeap()
	if took := full - empty; float64(took) > 1.25*budget {
		t.Errorf("a full cache of a %d-byte budget took %d bytes of the heap (%.2f×)", budget, took, float64(took)/budget)
	} else {
		t.Logf("a full cache of a %d-byte budget took %d bytes of the heap (%.2f×)", budget, took, float64(took)/budget)
	}
}

// liveHeap is the bytes of the heap's objects still in use after a collection: the least of three readings,
// in case a background goroutine allocated during one.
func liveHeap() int64 {
	least := int64(math.MaxInt64)
	for range 3 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		least = min(least, int64(m.HeapAlloc))
	}
	return least
}
