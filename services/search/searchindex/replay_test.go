package searchindex_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestCacheReplay measures the result cache's hit rate, and the search CPU it saves, on a replayed query
// log under writes, for the checkpoint-keyed policy (cache_max_age 0) against a staleness bound. It is a
// measurement, not a check: it runs only with $MARQUEE_CACHE_REPLAY set, and logs a table
// (docs/performance.md, "Result cache under writes").
//
// The log is Zipf-distributed over a pool of distinct queries: the judged queries of
// ../shared/data/judgments-dev.tsv and queries drawn from the synthetic catalog by the bench's rules
// (tools/bench/queries.go: titles, two overview words, typos, a word and a prefix, people, text with a
// genre and decade, text with facets, browse pages). Searches and writes arrive as Poisson processes on a
// virtual clock, so the planned rates (docs/scaling.md: 1,563 searches and 130 writes a second at peak) are
// replayed exactly on two cores: each search and each write runs for real against an on-disk index (a write
// updates one movie, one batch and one stream sequence each, as the indexer applies them under light load),
// only the clock between them is simulated. CPU is the replay thread's (its goroutine locked to it), summed
// over the Search calls: the searches' own work, without what Bleve's merges spend meanwhile.
//
// $MARQUEE_CACHE_REPLAY_MOVIES sets the catalog (default 50,000), $MARQUEE_CACHE_REPLAY_SECONDS the virtual
// length of each run after 5 s of warm-up (default 20), $MARQUEE_CACHE_REPLAY_POOL the distinct queries
// (default 20,000), $MARQUEE_CACHE_REPLAY_ZIPF their exponent (default 0.9) and $MARQUEE_CACHE_REPLAY_MIB the
// cache's budget in MiB (default 32, the budget of the figures docs/performance.md compares with; the
// service's default is 16).
func TestCacheReplay(t *testing.T) {
	if os.Getenv("MARQUEE_CACHE_REPLAY") == "" {
		t.Skip("a measurement: set MARQUEE_CACHE_REPLAY=1 to run it")
	}
	movies := envInt("MARQUEE_CACHE_REPLAY_MOVIES", 50_000)
	seconds := envInt("MARQUEE_CACHE_REPLAY_SECONDS", 20)
	poolSize := envInt("MARQUEE_CACHE_REPLAY_POOL", 20_000)
	zipf, _ := strconv.ParseFloat(os.Getenv("MARQUEE_CACHE_REPLAY_ZIPF"), 64)
	if zipf <= 0 {
		zipf = 0.9
	}
	catalog := synthMovies(loadVocab(t), movies, 42)
	idx := applySynthWith(t, t.TempDir(), catalog, searchindex.Options{})
	if err := idx.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	pool := replayPool(t, catalog, poolSize)
	budget := envInt("MARQUEE_CACHE_REPLAY_MIB", 32)
	t.Logf("%d movies, %d distinct queries (Zipf s=%.2f), %d s a run after 5 s of warm-up, %d MiB cache", movies, len(pool), zipf, seconds, budget)

	const writesPerSecond = 130.0
	runs := []struct {
		qps    float64
		maxAge time.Duration
	}{
		{521, 0}, {521, 5 * time.Second}, // one of 3 replicas at the 25M plan's peak
		{1563, 0}, {1563, 5 * time.Second}, // one cache for all of it (a CDN in front)
		{104, 5 * time.Second}, // today's plan, average (15M a day, 60 % searches, one replica)
		{521, time.Second},
	}
	t.Log("| searches/s (one cache) | writes/s | cache_max_age | hit rate | of which stale | search CPU-ms a request | requests |")
	t.Log("| --- | --- | --- | --- | --- | --- | --- |")
	for i, run := range runs {
		r := replay(t, idx, catalog, pool, replayRun{qps: run.qps, writes: writesPerSecond, maxAge: run.maxAge, zipf: zipf, budget: int64(budget) << 20,
			warmup: 5 * time.Second, length: time.Duration(seconds) * time.Second, seed: uint64(i + 1)})
		t.Logf("| %.0f | %.0f | %v | %.1f %% | %.1f %% | %.2f | %d |", run.qps, writesPerSecond, run.maxAge,
			100*r.hitRate(), 100*float64(r.stats.StaleHits)/float64(r.requests), float64(r.cpu.Microseconds())/1000/float64(r.requests), r.requests)
	}
}

type replayRun struct {
	qps, writes    float64
	budget         int64 // the cache's bytes
	maxAge         time.Duration
	zipf           float64
	warmup, length time.Duration
	seed           uint64
}

type replayResult struct {
	requests int
	stats    searchindex.CacheStats // of the measured part
	cpu      time.Duration          // of the measured part's searches
}

func (r replayResult) hitRate() float64 {
	return float64(r.stats.Hits+r.stats.StaleHits) / float64(r.requests)
}

// replay sends a Zipf-distributed log of pool's queries at run.qps through a fresh result cache of idx,
// while run.writes movies a second are updated, both Poisson, on a virtual clock.
func replay(t *testing.T, idx *searchindex.Index, catalog []search.Movie, pool []search.Query, run replayRun) replayResult {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(run.seed, 0xcafe))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := now
	cached := searchindex.WithResultCache(idx, run.budget, run.maxAge, func() time.Time { return now })
	cdf := make([]float64, len(pool))
	sum := 0.0
	for k := range pool {
		sum += 1 / math.Pow(float64(k+1), run.zipf)
		cdf[k] = sum
	}
	next := func(rate float64) time.Duration { return time.Duration(r.ExpFloat64() / rate * float64(time.Second)) }
	nextSearch, nextWrite := now.Add(next(run.qps)), now.Add(next(run.writes))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var res replayResult
	var before searchindex.CacheStats
	end := start.Add(run.warmup + run.length)
	for {
		if nextWrite.Before(nextSearch) {
			now = nextWrite
			nextWrite = now.Add(next(run.writes))
			m := catalog[r.IntN(len(catalog))]
			version, _, err := idx.Version(m.ID)
			if err != nil {
				t.Fatal(err)
			}
			m.Version = version + 1
			pop := float64(r.IntN(10000)) / 100
			m.Popularity = &pop
			cp, err := idx.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := idx.Apply(ctx, []searchindex.Change{{ID: m.ID, Version: m.Version, Movie: &m}}, cp+1); err != nil {
				t.Fatal(err)
			}
			continue
		}
		now = nextSearch
		if !now.Before(end) {
			break
		}
		nextSearch = now.Add(next(run.qps))
		measured := !now.Before(start.Add(run.warmup))
		if measured && res.requests == 0 {
			before = cached.CacheStats()
		}
		k, _ := slices.BinarySearch(cdf, r.Float64()*sum)
		cpu := threadCPU()
		if _, err := cached.Search(ctx, pool[min(k, len(pool)-1)]); err != nil {
			t.Fatal(err)
		}
		if measured {
			res.cpu += threadCPU() - cpu
			res.requests++
		}
	}
	after := cached.CacheStats()
	res.stats = searchindex.CacheStats{Hits: after.Hits - before.Hits, StaleHits: after.StaleHits - before.StaleHits, Misses: after.Misses - before.Misses}
	return res
}

// replayPool is size distinct queries in a random order (the order of popularity): the judged queries and,
// in turn, one of each class the bench draws from the catalog (tools/bench/queries.go) until there are
// enough.
func replayPool(t *testing.T, catalog []search.Movie, size int) []search.Query {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	seen := map[string]bool{}
	var pool []search.Query
	add := func(q search.Query) {
		if q.Text == "" && q.Page == 0 || q.Normalize() != nil { // a draw that found nothing, or a text the API refuses
			return
		}
		key := fmt.Sprintf("%+v", q)
		if seen[key] {
			return
		}
		seen[key] = true
		pool = append(pool, q)
	}
	for _, text := range judgedQueries(t, testenv.SharedData(t, "judgments-dev.tsv")) {
		add(search.Query{Text: text, PerPage: 10})
	}
	lower := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) })
	}
	pick := func() *search.Movie { return &catalog[r.IntN(len(catalog))] }
	page := 0
	classes := []func() search.Query{
		func() search.Query { // title
			if m := pick(); len(strings.Fields(m.Title)) <= 5 {
				return search.Query{Text: m.Title, PerPage: 10}
			}
			return search.Query{}
		},
		func() search.Query { return search.Query{Text: twoWords(r, pick().Overview), PerPage: 10} }, // free text
		func() search.Query { // typo, never on the first letter
			for _, w := range lower(pick().Title) {
				if rs := []rune(w); len(rs) >= 5 {
					rs[1+r.IntN(len(rs)-1)] = rune('a' + r.IntN(26))
					return search.Query{Text: string(rs), PerPage: 10}
				}
			}
			return search.Query{}
		},
		func() search.Query { // a word and a prefix
			if ws := lower(pick().Title); len(ws) >= 2 && len(ws[1]) >= 4 {
				return search.Query{Text: ws[0] + " " + ws[1][:3], PerPage: 10}
			}
			return search.Query{}
		},
		func() search.Query { // person
			if m := pick(); len(m.Cast) > 0 {
				return search.Query{Text: m.Cast[r.IntN(len(m.Cast))], PerPage: 10}
			}
			return search.Query{}
		},
		func() search.Query { // text + genre + decade
			m := pick()
			lo := float64(*m.Year / 10 * 10)
			hi := lo + 9
			q := search.Query{Text: twoWords(r, m.Overview), PerPage: 10, Year: search.Range{Min: &lo, Max: &hi}}
			if len(m.Genres) > 0 {
				q.Genres = m.Genres[:1]
			}
			return q
		},
		func() search.Query { // text + facets
			return search.Query{Text: twoWords(r, pick().Overview), PerPage: 10, Facets: []string{search.FacetDecade, search.FacetRating}}
		},
		func() search.Query { // browse page
			page++
			return search.Query{Page: page, PerPage: 20, Facets: []string{search.FacetDecade, search.FacetRating}}
		},
	}
	for i := 0; len(pool) < size && i < size*10; i++ {
		add(classes[i%len(classes)]())
	}
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return pool
}

// twoWords is two adjacent words of 4 letters or more of text, "" if it has none.
func twoWords(r *rand.Rand, text string) string {
	var ws []string
	for _, w := range strings.Fields(strings.ToLower(text)) {
		if len([]rune(w)) >= 4 {
			ws = append(ws, w)
		}
	}
	if len(ws) < 2 {
		return ""
	}
	i := r.IntN(len(ws) - 1)
	return ws[i] + " " + ws[i+1]
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
