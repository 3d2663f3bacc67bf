package searchindex_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// benchDocs is the size of the synthetic catalog of BenchmarkSynthetic: $MARQUEE_BENCH_DOCS, default 100k.
func benchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("MARQUEE_BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// timeOf is the mean time of one search of q, over n runs.
func timeOf(b *testing.B, idx *searchindex.Index, q search.Query, n int) time.Duration {
	b.Helper()
	start := time.Now()
	for range n {
		if _, err := idx.Search(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkSynthetic times typical searches on a synthetic catalog (benchDocs movies sampled from the real
// catalog's words and names), on one index. Each case reports x-baseline, its time over a match-all top 10
// measured in the same run; the cases also run with Options.ExactFacets (every facet counted exactly per
// request, the behaviour before the maintained counts and sampling) and report x-exact, their time over
// that. It also reports the index's bytes per movie and the process RSS per 100k movies.
//
// With $MARQUEE_BENCH_INDEX set to an index folder (the search folder of a data folder, such as the one
// `go run ./tools/bench -keep` leaves with 1M movies), it times the same searches on that index instead.
// The index is opened as the service opens it: one of another mapping version or shard count
// ($MARQUEE_TEST_SHARDS) is emptied for a rebuild, so point it at a copy.
func BenchmarkSynthetic(b *testing.B) {
	n := benchDocs()
	path := os.Getenv("MARQUEE_BENCH_INDEX")
	dir := path
	if path == "" {
		dir = b.TempDir()
		path = filepath.Join(dir, "idx")
		built := buildSynth(b, dir, n, searchindex.Options{Scratch: true})
		if err := built.Close(); err != nil { // flushes; reopening measures a settled index and rebuilds the counts
			b.Fatal(err)
		}
	}
	opened := time.Now()
	idx, err := openWith(path, searchindex.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = idx.Close() })
	docs, err := idx.DocCount()
	if err != nil {
		b.Fatal(err)
	}
	n = int(docs)
	b.Logf("%d movies: open with facet counts took %v", n, time.Since(opened))
	exact := searchindex.WithOptions(idx, searchindex.Options{ExactFacets: true})
	baseline := timeOf(b, idx, search.Query{PerPage: 10, Sort: []search.SortKey{{Field: search.SortRelevance}}}, 50)
	ptr := func(v float64) *float64 { return &v }
	browseFacets := []string{search.FacetLanguage, search.FacetDecade, search.FacetRating, search.FacetYear}
	cases := []struct {
		name string
		q    search.Query
	}{
		{"match-all-top10", search.Query{PerPage: 10, Sort: []search.SortKey{{Field: search.SortRelevance}}}},
		{"typical", search.Query{Text: "love story", PerPage: 10}},
		{"typical-rare", search.Query{Text: "midnight detective", PerPage: 10}},
		{"title-common-words", search.Query{Text: "the return of the king", PerPage: 10}},
		{"faceted", search.Query{Text: "love", Facets: browseFacets, Genres: []string{"Drama"}, PerPage: 10}},
		{"browse", search.Query{PerPage: 20, Facets: browseFacets}},
		{"browse-genre", search.Query{PerPage: 20, Genres: []string{"Comedy"}, Facets: browseFacets}},
		{"browse-people", search.Query{PerPage: 20, Facets: []string{search.FacetDirectors, search.FacetCast}}},
		{"filtered", search.Query{Text: "war", Genres: []string{"Drama"}, Year: search.Range{Min: ptr(1990), Max: ptr(1999)}, PerPage: 10}},
		{"typo", search.Query{Text: "detectve", PerPage: 10}},
		{"typo-two-words", search.Query{Text: "midnigt strangr", PerPage: 10}},
		{"prefix", search.Query{Text: "star wa", PerPage: 10}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			before := timeOf(b, exact, c.q, 3)
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := idx.Search(context.Background(), c.q); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			per := float64(total) / float64(b.N)
			b.ReportMetric(per/float64(baseline), "x-baseline")
			b.ReportMetric(per/float64(before), "x-exact")
		})
	}
	b.Run("size", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(dirBytes(b, dir))/float64(n), "bytes/movie")
		b.ReportMetric(float64(rssBytes())/float64(n)*1e5/(1<<20), "RSS-MB/100k")
	})
}

// BenchmarkApply measures how fast Apply takes in a synthetic catalog (benchDocs movies, batches of 1,000,
// as the indexer sends them) and reports it against a naive Bleve index of the same movies built in the same
// run: the default mapping (every field dynamic, stored and indexed with term vectors), the whole movie
// struct as the document. x-naive above 1 means Marquee's index takes movies in faster. It also builds the
// index in 2 shards, whose batches are written in parallel: x-2shards is that rate over one shard's.
// cpu-us/movie is the process's CPU time per movie while one shard takes them (merges included), which
// varies less than the rate on a busy machine.
func BenchmarkApply(b *testing.B) {
	n := benchDocs()
	movies := synthMovies(loadVocab(b), n, 42)
	build := func(opts searchindex.Options) (took, cpu time.Duration) {
		opts.Scratch = true
		start, cpu0 := time.Now(), cpuTime()
		idx := applySynthWith(b, b.TempDir(), movies, opts)
		took, cpu = time.Since(start), cpuTime()-cpu0
		if err := idx.Close(); err != nil {
			b.Fatal(err)
		}
		return took, cpu
	}
	var ours, sharded, naive, cpu time.Duration
	for b.Loop() {
		ours, cpu = build(searchindex.Options{Shards: 1})
		sharded, _ = build(searchindex.Options{Shards: 2})
		start := time.Now()
		naiveIndex(b, b.TempDir(), movies)
		naive = time.Since(start)
	}
	b.ReportMetric(float64(n)/ours.Seconds(), "movies/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/movie")
	b.ReportMetric(float64(n)/naive.Seconds(), "naive-movies/s")
	b.ReportMetric(naive.Seconds()/ours.Seconds(), "x-naive")
	b.ReportMetric(ours.Seconds()/sharded.Seconds(), "x-2shards")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// naiveIndex is the index a first attempt would build: bleve.New with the default mapping, the movies
// indexed as they are, in batches of 1,000.
func naiveIndex(b *testing.B, dir string, movies []search.Movie) {
	b.Helper()
	bi, err := bleve.New(filepath.Join(dir, "naive"), bleve.NewIndexMapping())
	if err != nil {
		b.Fatal(err)
	}
	defer bi.Close()
	for start := 0; start < len(movies); start += 1000 {
		batch := bi.NewBatch()
		for i := start; i < min(len(movies), start+1000); i++ {
			if err := batch.Index(strconv.FormatInt(movies[i].ID, 10), movies[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := bi.Batch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecutor times each query class through the executor and through Bleve's own searchers (the
// search path before the executor, kept as its reference) on one index, and reports the executor's CPU-ms
// a query (the whole process's CPU, with the facet goroutines and the collector) and x-bleve, its CPU over
// Bleve's in the same run. The index is the synthetic catalog (benchDocs movies) or $MARQUEE_BENCH_INDEX
// (as in BenchmarkSynthetic). Every query is sent once per path: a first pass of other queries warms what
// searches keep across queries (each segment's priors, expansions and facet values), as a running server
// has them, without answering the measured queries from it.
func BenchmarkExecutor(b *testing.B) {
	path := os.Getenv("MARQUEE_BENCH_INDEX")
	if path == "" {
		dir := b.TempDir()
		path = filepath.Join(dir, "idx")
		if err := buildSynth(b, dir, benchDocs(), searchindex.Options{Scratch: true}).Close(); err != nil {
			b.Fatal(err)
		}
	}
	idx, err := openWith(path, searchindex.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = idx.Close() })
	bleveRef := searchindex.WithOptions(idx, searchindex.Options{BleveExecutor: true})
	exec := searchindex.WithOptions(idx, searchindex.Options{})
	movies := synthMovies(loadVocab(b), 20_000, 42)
	run := func(x *searchindex.Index, qs []search.Query) float64 {
		cpu0 := cpuTime()
		for _, q := range qs {
			if _, err := x.Search(context.Background(), q); err != nil {
				b.Fatal(err)
			}
		}
		return float64(cpuTime()-cpu0) / float64(time.Millisecond) / float64(len(qs))
	}
	for _, c := range queryClasses(movies, 20, 5) {
		run(exec, c.queries)
	}
	for _, c := range queryClasses(movies, 50, 7) {
		b.Run(c.name, func(b *testing.B) {
			var ms, ref float64
			for b.Loop() {
				ms, ref = run(exec, c.queries), run(bleveRef, c.queries)
			}
			b.ReportMetric(ms, "CPU-ms/query")
			b.ReportMetric(ms/ref, "x-bleve")
		})
	}
}
