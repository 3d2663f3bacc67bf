package searchindex_test

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searcheval"
	"marquee/services/search/searchindex"
)

// execQueriesPerClass is how many generated queries of each class TestExecutorMatchesBleve runs:
// $MARQUEE_EXEC_QUERIES, default 250 (make test's run without the race detector; 30 under it, which makes
// each query ten times as slow); 2,000 on a 100k index is the full check.
func execQueriesPerClass() int {
	if n, err := strconv.Atoi(os.Getenv("MARQUEE_EXEC_QUERIES")); err == nil && n > 0 {
		return n
	}
	if raceEnabled {
		return 30
	}
	return 250
}

// execDocs is the size of the synthetic index of TestExecutorMatchesBleve: $MARQUEE_EXEC_DOCS, default 20k.
func execDocs() int {
	if n, err := strconv.Atoi(os.Getenv("MARQUEE_EXEC_DOCS")); err == nil && n > 0 {
		return n
	}
	return 20_000
}

// TestExecutorMatchesBleve runs the judged queries on the real catalog, and generated queries of every
// class on a synthetic one, through the executor and through Bleve's own searchers (the exhaustive
// reference), and requires the same answers: the same totals, the same hits in the same order with the same
// scores (within floating-point tolerance), the same match kinds, facets and did-you-mean.
func TestExecutorMatchesBleve(t *testing.T) {
	t.Run("judged", func(t *testing.T) {
		movies := testenv.SharedData(t, "movies.jsonl.gz")
		judgments := testenv.SharedData(t, "judgments-dev.tsv")
		for _, p := range []string{movies, judgments} {
			if _, err := os.Stat(p); err != nil {
				t.Skipf("shared data %s missing", p)
			}
		}
		build := func(shards int) *searchindex.Index {
			idx, err := searcheval.Build(context.Background(), movies, filepath.Join(t.TempDir(), "idx"), searcheval.Options{Shards: shards})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = idx.Close() })
			return idx
		}
		idx := build(testShards())
		var qs []search.Query
		for _, text := range judgedQueries(t, judgments) {
			qs = append(qs, search.Query{Text: text, PerPage: 10},
				search.Query{Text: text, PerPage: 10, Page: 2, Facets: []string{search.FacetGenres, search.FacetDecade}})
		}
		if len(qs) < 2*80 {
			t.Fatalf("%d judged queries, want the 84 of the dev judgments", len(qs)/2)
		}
		compareExecutor(t, idx, referenceOf(idx, build), qs)
	})
	t.Run("generated", func(t *testing.T) {
		movies := synthMovies(loadVocab(t), execDocs(), 42)
		build := func(shards int) *searchindex.Index {
			return applySynthWith(t, t.TempDir(), movies, searchindex.Options{Scratch: true, Shards: shards})
		}
		idx := build(testShards())
		compareExecutor(t, idx, referenceOf(idx, build), generatedQueries(movies, execQueriesPerClass()))
	})
}

// referenceOf is the index whose answers on Bleve's own searchers the executor's on idx must equal: idx
// itself, or, for an index split into shards, one index of the same movies that build makes with a single
// shard. Shards must not change an answer: Bleve's alias weighs a word by each shard's own frequencies,
// the executor by the whole index's.
func referenceOf(idx *searchindex.Index, build func(shards int) *searchindex.Index) *searchindex.Index {
	if testShards() > 1 {
		idx = build(1)
	}
	return searchindex.WithOptions(idx, searchindex.Options{BleveExecutor: true})
}

// compareExecutor runs each query through idx (the executor) and through ref (see referenceOf), and fails
// on any difference of the answers.
func compareExecutor(t *testing.T, idx, ref *searchindex.Index, qs []search.Query) {
	t.Helper()
	execs := map[string]*searchindex.Index{ // no result cache
		"executor": searchindex.WithOptions(idx, searchindex.Options{}),
	}
	failures := 0
	for _, q := range qs {
		want, err := ref.Search(context.Background(), q)
		for name, exec := range execs {
			got, gotErr := exec.Search(context.Background(), q)
			if gotErr != nil || err != nil {
				if gotErr == nil || err == nil || gotErr.Error() != err.Error() {
					t.Fatalf("%+v: %s: %v, Bleve: %v", q, name, gotErr, err)
				}
				continue // the same refusal
			}
			if diff := answerDiff(got, want); diff != "" {
				t.Errorf("%s: q=%q genres=%v year=%v page=%d: %s", name, q.Text, q.Genres, q.Year, q.Page, diff)
				if failures++; failures > 10 {
					t.Fatal("too many differences")
				}
			}
		}
	}
	t.Logf("%d queries answered alike", len(qs))
}

// sameScore is the tolerance of two scores of one match: the executor adds a disjunction's parts in
// another order than Bleve's heap does.
func sameScore(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b)) }

// answerDiff describes how got differs from want; "" if it does not. Hits whose scores tie (within the
// tolerance) may come in either order, and the last tie of a page may hold other movies of the same score.
func answerDiff(got, want *search.Result) string {
	if got.Total != want.Total {
		return fmt.Sprintf("total %d, want %d", got.Total, want.Total)
	}
	if len(got.Hits) != len(want.Hits) {
		return fmt.Sprintf("%d hits, want %d", len(got.Hits), len(want.Hits))
	}
	if got.DidYouMean != want.DidYouMean {
		return fmt.Sprintf("did you mean %q, want %q", got.DidYouMean, want.DidYouMean)
	}
	if !reflect.DeepEqual(got.Facets, want.Facets) {
		return fmt.Sprintf("facets %v, want %v", got.Facets, want.Facets)
	}
	if (got.NextCursor == "") != (want.NextCursor == "") {
		return "a next cursor on one side only"
	}
	for i := 0; i < len(want.Hits); {
		j := i + 1 // the tie group [i, j) of want
		for j < len(want.Hits) && sameScore(want.Hits[j].Score, want.Hits[i].Score) {
			j++
		}
		ids := map[int64]int{}
		for k := i; k < j; k++ {
			g, w := got.Hits[k], want.Hits[k]
			if !sameScore(g.Score, w.Score) {
				return fmt.Sprintf("hit %d: movie %d score %v, want movie %d score %v", k, g.Movie.ID, g.Score, w.Movie.ID, w.Score)
			}
			if g.Match != w.Match && g.Movie.ID == w.Movie.ID {
				return fmt.Sprintf("hit %d: movie %d matched %s, want %s", k, g.Movie.ID, g.Match, w.Match)
			}
			ids[g.Movie.ID]++
			ids[w.Movie.ID]--
		}
		if j < len(want.Hits) { // a whole tie: the same movies
			for id, n := range ids {
				if n != 0 {
					return fmt.Sprintf("hits %d-%d: movie %d on one side only", i, j-1, id)
				}
			}
		}
		i = j
	}
	return ""
}

// judgedQueries are the distinct query texts of a judgments file.
func judgedQueries(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	seen := map[string]bool{}
	var out []string
	col := -1
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "\t")
		if col < 0 {
			for i, c := range cells {
				if c == "query" {
					col = i
				}
			}
			if col < 0 {
				t.Fatalf("%s: no query column", path)
			}
			continue
		}
		if col < len(cells) && !seen[cells[col]] {
			seen[cells[col]] = true
			out = append(out, cells[col])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// generatedQueries draws perClass queries of every class from the movies (see queryClasses), in one list.
func generatedQueries(movies []search.Movie, perClass int) []search.Query {
	var qs []search.Query
	for _, c := range queryClasses(movies, perClass, 11) {
		qs = append(qs, c.queries...)
	}
	return qs
}

// queryClass is a kind of query and its queries.
type queryClass struct {
	name    string
	queries []search.Query
}

// queryClasses draws perClass queries of every class from the movies (seed picks them), as the bench draws its mix, and adds
// the shapes the bench does not send: phrases, excluded words, deep pages, single common words.
func queryClasses(movies []search.Movie, perClass int, seed uint64) []queryClass {
	r := rand.New(rand.NewPCG(seed, 13))
	pick := func() *search.Movie { return &movies[r.IntN(len(movies))] }
	content := func(text string) []string {
		var out []string
		for _, w := range strings.Fields(strings.ToLower(text)) {
			if utf8.RuneCountInString(w) >= 4 {
				out = append(out, w)
			}
		}
		return out
	}
	pair := func() (string, string, *search.Movie) {
		for {
			m := pick()
			if ws := content(m.Overview); len(ws) >= 2 {
				i := r.IntN(len(ws) - 1)
				return ws[i], ws[i+1], m
			}
		}
	}
	names := []string{"free text", "title", "text + facets", "text + filters", "person", "typo", "prefix", "phrase", "excluded", "deep page", "common words"}
	byName := map[string][]search.Query{}
	add := func(class string, q search.Query) {
		if q.PerPage == 0 {
			q.PerPage = 10
		}
		byName[class] = append(byName[class], q)
	}
	for range perClass {
		a, b, m := pair()
		add("free text", search.Query{Text: a + " " + b})
		add("title", search.Query{Text: pick().Title})
		add("text + facets", search.Query{Text: a + " " + b, Facets: []string{search.FacetDecade, search.FacetRating}})
		decade := float64(*m.Year / 10 * 10)
		add("text + filters", search.Query{Text: a + " " + b, Genres: m.Genres[:1], Year: search.Range{Min: &decade, Max: new(decade + 9)}})
		if c := pick().Cast; len(c) > 0 {
			add("person", search.Query{Text: c[r.IntN(len(c))]})
		}
		if ws := content(pick().Title); len(ws) > 0 { // one letter changed, never the first
			rs := []rune(ws[0])
			if len(rs) >= 5 {
				i := 1 + r.IntN(len(rs)-1)
				rs[i] = 'a' + rune(r.IntN(26))
				add("typo", search.Query{Text: string(rs)})
			}
		}
		if ws := strings.Fields(strings.ToLower(pick().Title)); len(ws) >= 2 && utf8.RuneCountInString(ws[1]) >= 4 {
			add("prefix", search.Query{Text: ws[0] + " " + string([]rune(ws[1])[:3])})
		}
		add("phrase", search.Query{Text: `"` + a + " " + b + `"`})
		add("excluded", search.Query{Text: a + " -" + b})
		add("deep page", search.Query{Text: a + " " + b, Page: 2 + r.IntN(3), PerPage: 5})
	}
	for _, w := range []string{"the", "of", "love", "man", "the man", "a"} {
		add("common words", search.Query{Text: w})
		add("common words", search.Query{Text: w, Page: 3})
	}
	var out []queryClass
	for _, n := range names {
		out = append(out, queryClass{n, byName[n]})
	}
	return out
}

// TestPriorOfANewVersion: a new version of a movie ranks by its new votes, even when a search runs the
// moment its document becomes searchable. The executor keeps each document's prior for the life of its
// segment; the priors were set after the batch was searchable, so a search in between kept the old votes
// for the new document until its segment was merged away.
func TestPriorOfANewVersion(t *testing.T) {
	votes := func(v int64) *int64 { return &v }
	movie := func(id int64, version int64, v int64) search.Movie {
		return search.Movie{ID: id, Version: version, Title: "Quokka Harbour", Votes: votes(v)}
	}
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	ctx := context.Background()
	q := search.Query{Text: "quokka harbour", PerPage: 10}
	MustIndex(t, idx, movie(6, 1, 10), movie(12, 1, 1000)) // one shard when the tests shard the index
	if res, err := idx.Search(ctx, q); err != nil || !slices.Equal(hitIDs(res), []int64{12, 6}) {
		t.Fatalf("before: %v, %v; want [12 6]", res, err)
	}
	var searched atomic.Int32
	searchindex.AfterBatch(idx, func() {
		if _, err := idx.Search(ctx, q); err != nil {
			t.Error(err)
		}
		searched.Add(1)
	})
	MustIndex(t, idx, movie(6, 2, 1_000_000))
	searchindex.AfterBatch(idx, nil)
	if searched.Load() == 0 {
		t.Fatal("no search ran while the batch was applied")
	}
	res, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got := hitIDs(res); !slices.Equal(got, []int64{6, 12}) {
		t.Errorf("after movie 6 got a million votes: %v, want [6 12]", got)
	}
}

// TestExecutorZeroWeights: with the typo and prefix weights at 0 (a valid ranking), a word matched only
// through a variant scores nothing yet still matches, and the executor's skipping must still find every
// match a page needs: it once took such a word for one that cannot match, and skipped the rest of a
// segment.
func TestExecutorZeroWeights(t *testing.T) {
	movies := synthMovies(loadVocab(t), 3000, 17)
	r := searchindex.DefaultRanking()
	r.Typo, r.Prefix = 0, 0
	build := func(shards int) *searchindex.Index {
		return applySynthWith(t, t.TempDir(), movies, searchindex.Options{Ranking: r, Scratch: true, Shards: shards})
	}
	idx := build(testShards())
	var qs []search.Query
	for _, c := range queryClasses(movies, 25, 23) {
		if c.name == "typo" || c.name == "prefix" || c.name == "free text" || c.name == "title" {
			qs = append(qs, c.queries...)
		}
	}
	compareExecutor(t, idx, referenceOf(idx, build), qs)
}
