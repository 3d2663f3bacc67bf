package searcheval_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"marquee/services/search/searcheval"
)

var flagVerbose = flag.Bool("per-query", false, "log the metrics of every query")

// SharedData finds the shared data folder (MARQUEE_SHARED_DATA, else ../../../../shared/data from this
// package) or skips the test, saying so.
func SharedData(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("MARQUEE_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "data")
	}
	for _, f := range []string{"movies.jsonl.gz", "judgments-dev.tsv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			tb.Skipf("shared data not found (%v): set MARQUEE_SHARED_DATA to the folder with movies.jsonl.gz and judgments-dev.tsv; relevance evaluation skipped", err)
		}
	}
	return dir
}

// TestRelevance runs the dev judgments against the default ranking and holds it to the targets.
func TestRelevance(t *testing.T) {
	dir := SharedData(t)
	rep, err := searcheval.Run(context.Background(), filepath.Join(dir, "movies.jsonl.gz"), filepath.Join(dir, "judgments-dev.tsv"), searcheval.Options{})
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
	if got, want := rep.NDCG, 0.68; got < want {
		t.Errorf("nDCG@10=%.4f, want ≥ %.2f", got, want)
	}
	if got, want := rep.MRR, 0.72; got < want {
		t.Errorf("MRR=%.4f, want ≥ %.2f", got, want)
	}
}
