package searchindex_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"marquee/pkg/ingest"
	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// vocab holds the words and names of the real catalog, which the synthetic movies are sampled from, so the
// term distributions look like a real catalog's.
type vocab struct {
	titleWords, plotWords, people, genres, keywords, languages []string
}

func loadVocab(tb testing.TB) *vocab {
	tb.Helper()
	path := testenv.SharedData(tb, "movies.jsonl.gz")
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("shared data %s missing: synthetic corpus benchmarks skipped", path)
	}
	v := &vocab{}
	seen := map[string]bool{}
	addUnique := func(list *[]string, s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	err := ingest.ReadFile(path, func(r ingest.Record) error {
		if r.Err != nil {
			return nil
		}
		m := r.Movie
		v.titleWords = append(v.titleWords, strings.Fields(m.Title)...) // with repeats: frequency-weighted
		v.plotWords = append(v.plotWords, strings.Fields(m.Overview)...)
		for _, p := range append(append([]string{}, m.Directors...), m.Cast...) {
			addUnique(&v.people, p)
		}
		for _, g := range m.Genres {
			addUnique(&v.genres, "g:"+g)
		}
		v.keywords = append(v.keywords, m.Keywords...)
		if m.OriginalLanguage != "" {
			v.languages = append(v.languages, m.OriginalLanguage)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for i, g := range v.genres {
		v.genres[i] = strings.TrimPrefix(g, "g:")
	}
	if len(v.languages) == 0 {
		v.languages = []string{"en"}
	}
	if len(v.keywords) == 0 {
		v.keywords = v.plotWords
	}
	return v
}

// synthMovies makes n deterministic movies (ids 1..n) sampled from the vocabulary.
func synthMovies(v *vocab, n int, seed uint64) []search.Movie {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	words := func(list []string, lo, hi int) string {
		k := lo + r.IntN(hi-lo+1)
		ws := make([]string, k)
		for i := range ws {
			ws[i] = pick(list)
		}
		return strings.Join(ws, " ")
	}
	some := func(list []string, lo, hi int) []string {
		k := lo + r.IntN(hi-lo+1)
		out := make([]string, 0, k)
		for range k {
			out = append(out, pick(list))
		}
		return out
	}
	movies := make([]search.Movie, n)
	for i := range movies {
		year := 1920 + r.IntN(105)
		runtime := 70 + r.IntN(100)
		rating := float64(r.IntN(90)+10) / 10
		votes := int64(r.ExpFloat64() * 800)
		pop := float64(int(r.ExpFloat64()*2000)) / 100
		movies[i] = search.Movie{
			ID: int64(i + 1), Version: 1,
			Title:     words(v.titleWords, 1, 4),
			Directors: some(v.people, 1, 1),
			Cast:      some(v.people, 3, 8),
			Genres:    some(v.genres, 1, 3),
			Keywords:  some(v.keywords, 0, 4),
			Tags:      []string{},
			Overview:  words(v.plotWords, 15, 45),
			Year:      &year, RuntimeMinutes: &runtime, Rating: &rating, Votes: &votes, Popularity: &pop,
			OriginalLanguage: pick(v.languages),
		}
	}
	return movies
}

// buildSynth indexes n synthetic movies into a new index under dir, in batches of 1,000.
func buildSynth(tb testing.TB, dir string, n int, opts searchindex.Options) *searchindex.Index {
	tb.Helper()
	return applySynthWith(tb, dir, synthMovies(loadVocab(tb), n, 42), opts)
}

// applySynthWith indexes movies into a new index under dir, in batches of 1,000.
func applySynthWith(tb testing.TB, dir string, movies []search.Movie, opts searchindex.Options) *searchindex.Index {
	tb.Helper()
	n := len(movies)
	idx, err := openWith(filepath.Join(dir, "idx"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = idx.Close() })
	const batch = 1000
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		changes := make([]searchindex.Change, 0, end-start)
		for i := start; i < end; i++ {
			changes = append(changes, searchindex.Change{ID: movies[i].ID, Version: 1, Movie: &movies[i]})
		}
		if _, err := idx.Apply(context.Background(), changes, uint64(end)); err != nil {
			tb.Fatal(err)
		}
	}
	return idx
}

// dirBytes is the size of the files under dir.
func dirBytes(tb testing.TB, dir string) int64 {
	tb.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// rssBytes is the resident set of this process, from /proc; 0 where there is none.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
