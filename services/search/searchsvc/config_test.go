package searchsvc_test

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"marquee/pkg/config"
	"marquee/services/search/searchindex"
	"marquee/services/search/searchsvc"
)

// TestRankingSettings reads the ranking's settings under their rank_ keys into the ranking the index gets.
func TestRankingSettings(t *testing.T) {
	load := func(args []string, env map[string]string) (searchsvc.Config, error) {
		cfg := searchsvc.DefaultConfig()
		fs := pflag.NewFlagSet("search", pflag.ContinueOnError)
		config.Flags(fs, &cfg)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return cfg, config.Load(fs, &cfg, func(k string) string { return env[k] })
	}
	cfg, err := load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := searchindex.Ranking(cfg.Rank), searchindex.DefaultRanking(); got != want {
		t.Fatalf("default ranking %+v, want %+v", got, want)
	}
	cfg, err = load([]string{"--rank-title", "7", "--rank-weighted-rating-min-votes=50"}, map[string]string{"MARQUEE_RANK_DID_YOU_MEAN_BELOW": "0", "MARQUEE_RANK_TITLE": "5"})
	if err != nil {
		t.Fatal(err)
	}
	want := searchindex.DefaultRanking()
	want.Title, want.WeightedRatingMinVotes, want.DidYouMeanBelow = 7, 50, 0
	if got := searchindex.Ranking(cfg.Rank); got != want {
		t.Fatalf("ranking %+v, want %+v", got, want)
	}
	if _, err := load([]string{"--rank-title", "0"}, nil); err == nil || !strings.Contains(err.Error(), "title must be above 0") {
		t.Fatalf("--rank-title 0: %v", err)
	}
}
