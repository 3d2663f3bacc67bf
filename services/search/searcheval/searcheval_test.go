package searcheval_test

import (
	"context"
	"flag"
	"math"
	"slices"
	"strings"
	"testing"

	"marquee/pkg/testenv"
	"marquee/services/search/searcheval"
)

var flagVerbose = flag.Bool("per-query", false, "log the metrics of every query")

// TestRelevance runs the dev judgments against the default ranking and holds it to the targets.
// It has no concurrency of its own and takes minutes under the race detector, so `make test` runs it in a
// step of its own without -race (make eval).
func TestRelevance(t *testing.T) {
	if raceEnabled {
		t.Skip("relevance evaluation skipped under -race; make eval runs it without")
	}
	movies, judgments := testenv.SharedData(t, "movies.jsonl.gz"), testenv.SharedData(t, "judgments-dev.tsv")
	rep, err := searcheval.Run(context.Background(), movies, judgments, searcheval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; indexed in %v, searched in %v", rep, rep.Index, rep.Search)
	if *flagVerbose {
		for _, q := range rep.Queries {
			t.Logf("%-12s %-40q nDCG=%.3f P=%.2f RR=%.2f pos=%d total=%d top=%v", q.ID, q.Text, q.NDCG, q.P, q.RR, q.Positive, q.Total, q.Top)
		}
	}
	if rep.Movies < 15000 {
		t.Errorf("indexed %d movies, want the whole catalog", rep.Movies)
	}
	if got, want := rep.NDCG, 0.70; got < want {
		t.Errorf("nDCG@10=%.4f, want ≥ %.2f", got, want)
	}
	if got, want := rep.MRR, 0.75; got < want {
		t.Errorf("MRR=%.4f, want ≥ %.2f", got, want)
	}
	checkCases(t, rep.Cases)
}

// casesToPass is how many cases of each class must pass: what the search does now, so that a change that
// breaks one is caught. Raise them as the search learns more.
var casesToPass = map[string]int{
	"split-join": 12, "punctuation": 12, "numbers": 16, "typing": 12, "did-you-mean": 7, "suggest": 7, "suggest-year": 2,
}

func checkCases(t *testing.T, rep searcheval.CasesReport) {
	t.Helper()
	t.Log(rep)
	for _, r := range rep.Results {
		if !r.Pass {
			t.Logf("case line %d, %s %q: want %s, got %s", r.Line, r.Class, r.Query, r.Want, r.Got)
		}
	}
	for class, want := range casesToPass {
		if rep.Passed[class] < want {
			t.Errorf("cases of %s: %d of %d pass, want at least %d", class, rep.Passed[class], rep.Total[class], want)
		}
	}
	if len(rep.Classes) != len(casesToPass) {
		t.Errorf("classes %v, want those of casesToPass", rep.Classes)
	}
}

// TestReadCases: the embedded cases read, and a malformed line is refused with its number.
func TestReadCases(t *testing.T) {
	if n := len(searcheval.DefaultCases()); n < 60 {
		t.Fatalf("%d cases", n)
	}
	for _, bad := range []string{"numbers\trocky 2\tx\t1", "numbers\trocky 2\t1367", "numbers\t\t1367\t1", "numbers\trocky 2\t1367\t0"} {
		if _, err := searcheval.ReadCases(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadCases(%q) accepted", bad)
		}
	}
}

// TestShardedRelevance runs the judged queries on the whole catalog split into 3 shards and compares every
// answer with the unsharded index's. A shard weighs words by its own document frequencies (Bleve's alias
// has no global term statistics for TF-IDF), so scores differ a little; what a user sees must not: the
// same totals, the same relevance, and the same top 10 but for near-ties.
func TestShardedRelevance(t *testing.T) {
	if raceEnabled {
		t.Skip("relevance evaluation skipped under -race; make eval runs it without")
	}
	movies, judgments := testenv.SharedData(t, "movies.jsonl.gz"), testenv.SharedData(t, "judgments-dev.tsv")
	one, err := searcheval.Run(context.Background(), movies, judgments, searcheval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	three, err := searcheval.Run(context.Background(), movies, judgments, searcheval.Options{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1 shard: %s; indexed in %v, searched in %v", one, one.Index, one.Search)
	t.Logf("3 shards: %s; indexed in %v, searched in %v", three, three.Index, three.Search)
	if len(one.Queries) != len(three.Queries) || len(one.Queries) == 0 {
		t.Fatalf("%d and %d queries", len(one.Queries), len(three.Queries))
	}
	sameTop, sameSet, overlap := 0, 0, 0
	for i, a := range one.Queries {
		b := three.Queries[i]
		if a.Total != b.Total {
			t.Errorf("%s %q: total %d on 1 shard, %d on 3", a.ID, a.Text, a.Total, b.Total)
		}
		if slices.Equal(a.Top, b.Top) {
			sameTop++
		}
		if slices.Equal(slices.Sorted(slices.Values(a.Top)), slices.Sorted(slices.Values(b.Top))) {
			sameSet++
		}
		for _, id := range b.Top {
			if slices.Contains(a.Top, id) {
				overlap++
			}
		}
		if *flagVerbose && !slices.Equal(a.Top, b.Top) {
			t.Logf("%-12s %-40q 1 shard %v\n%55s 3 shards %v", a.ID, a.Text, a.Top, "", b.Top)
		}
	}
	n := len(one.Queries)
	t.Logf("top 10 identical in %d of %d queries, same ten in %d; %d of %d hits shared", sameTop, n, sameSet, overlap, 10*n)
	if d := math.Abs(one.NDCG - three.NDCG); d > 0.01 {
		t.Errorf("nDCG@10 %.4f on 3 shards, %.4f on 1", three.NDCG, one.NDCG)
	}
}
