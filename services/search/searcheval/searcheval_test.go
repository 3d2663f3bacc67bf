package searcheval_test

import (
	"context"
	"flag"
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
// answer with the unsharded index's. The shards weigh a word by the whole index's frequencies, not each
// its own (Bleve's alias would), so shards change nothing a user sees: the same totals and the same top 10
// in the same order, hence the same relevance.
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
	for i, a := range one.Queries {
		b := three.Queries[i]
		if a.Total != b.Total {
			t.Errorf("%s %q: total %d on 1 shard, %d on 3", a.ID, a.Text, a.Total, b.Total)
		}
		if !slices.Equal(a.Top, b.Top) {
			t.Errorf("%s %q: top 10 %v on 1 shard, %v on 3", a.ID, a.Text, a.Top, b.Top)
		}
	}
	if one.NDCG != three.NDCG || one.MRR != three.MRR {
		t.Errorf("3 shards: nDCG@10 %.4f, MRR %.4f; 1 shard: %.4f, %.4f", three.NDCG, three.MRR, one.NDCG, one.MRR)
	}
}
