package searcheval_test

import (
	"context"
	"flag"
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
	if got, want := rep.NDCG, 0.68; got < want {
		t.Errorf("nDCG@10=%.4f, want ≥ %.2f", got, want)
	}
	if got, want := rep.MRR, 0.72; got < want {
		t.Errorf("MRR=%.4f, want ≥ %.2f", got, want)
	}
}
