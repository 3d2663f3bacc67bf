package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"marquee/pkg/config"
	"marquee/services/search/searcheval"
)

// evalConfig names the data of a relevance evaluation.
type evalConfig struct {
	Movies    string `key:"movies" usage:"movie file to index (any format marquee import reads; movies keyed by tmdb_id)"`
	Judgments string `key:"judgments" usage:"relevance judgments (judgments-dev.tsv format)"`
	K         int    `key:"k" usage:"cut-off of the metrics"`
	PerQuery  bool   `key:"per_query" usage:"also print every query's figures"`
}

func newEvalCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cfg := evalConfig{Movies: "../shared/data/movies.jsonl.gz", Judgments: "../shared/data/judgments-dev.tsv", K: 10}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure search relevance against human judgments (nDCG, precision, MRR)",
		Long: `Build a search index of --movies in a temporary folder with the service's ranking, run
every query of --judgments through the same search the API answers with, and print
nDCG@K, P@K and MRR; then the cases suite (queries typed as people type titles, did-you-mean
and suggestions, each with the answer it needs) and its pass rate by class, with the cases
that fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
				return err
			}
			rep, err := searcheval.Run(cmd.Context(), cfg.Movies, cfg.Judgments, searcheval.Options{K: cfg.K})
			if err != nil {
				return err
			}
			if cfg.PerQuery {
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "QUERY\tTEXT\tnDCG@%d\tP@%d\tRR\tPOSITIVES\n", rep.K, rep.K)
				for _, q := range rep.Queries {
					fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.2f\t%.2f\t%d\n", q.ID, q.Text, q.NDCG, q.P, q.RR, q.Positive)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if _, err := fmt.Fprintf(stdout, "%s\nindexed in %v, searched in %v\n%s\n", rep, rep.Index.Round(1e6), rep.Search.Round(1e6), rep.Cases); err != nil {
				return err
			}
			for _, r := range rep.Cases.Results {
				if !r.Pass {
					if _, err := fmt.Fprintf(stdout, "  fails: %s %q wants %s, got %s\n", r.Class, r.Query, r.Want, r.Got); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	config.Flags(cmd.Flags(), &cfg)
	return cmd
}
