// Package searcheval measures the relevance of Marquee's search against human judgments: it builds an
// on-disk index from a movie file, runs each judged query through the same Search the API uses, and reports
// nDCG@10, P@10 and MRR overall and per query; then the cases suite (cases.go) on the same index.
package searcheval

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"marquee/pkg/ingest"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// Options tune a run. The zero value is the service's default ranking, top 10, batches of 500.
type Options struct {
	Ranking   searchindex.Ranking // zero: searchindex.DefaultRanking
	K         int                 // the cut-off of the metrics; 0 means 10
	BatchSize int                 // movies per index batch; 0 means 500
	IndexDir  string              // where to build the index; "" means a temporary folder, removed after the run
	Shards    int                 // the index's shards (searchindex.Options.Shards); 0 means 1
	NoCases   bool                // skip the cases suite, whose movies are the TMDB-like catalog's
}

// QueryReport is the outcome of one judged query.
type QueryReport struct {
	ID       string  // the judgments' query_id, e.g. aips:1
	Text     string  // the query as typed
	NDCG     float64 // nDCG@K with gain grade/max_grade
	P        float64 // precision@K of the positive judgments
	RR       float64 // reciprocal rank of the first positive judgment (0 if not in the top K)
	Positive int     // positive judgments on catalog movies
	Total    uint64  // the search's total
	Top      []int64 // the ids of the top K hits
}

// Report is the outcome of a run. Means are over the queries that have something to find: nDCG over those
// with any graded judgment in the catalog, P and MRR over those with a positive judgment in the catalog.
type Report struct {
	Movies  int // movies indexed
	Skipped int // records of the movie file that could not be read or had no TMDB id
	NDCG    float64
	P       float64
	MRR     float64
	K       int
	Queries []QueryReport
	Index   time.Duration // time spent building the index
	Search  time.Duration // time spent searching, all queries
	Cases   CasesReport   // the cases suite (cases.tsv), on the same index
}

// String is a short summary.
func (r Report) String() string {
	return fmt.Sprintf("nDCG@%d=%.4f P@%d=%.4f MRR=%.4f (%d queries, %d movies)", r.K, r.NDCG, r.K, r.P, r.MRR, len(r.Queries), r.Movies)
}

// judgment is one judged movie of a query.
type judgment struct {
	gain     float64 // grade / max_grade
	positive bool
}

type judgedQuery struct {
	id, text string
	movies   map[int64]judgment
}

// Run builds an index of the movies at moviesPath (any format ingest reads; each movie keyed by its TMDB id),
// runs the queries of the judgments file (judgments-dev.tsv format) and computes the metrics.
func Run(ctx context.Context, moviesPath, judgmentsPath string, opts Options) (Report, error) {
	if opts.K == 0 {
		opts.K = 10
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 500
	}
	queries, err := readJudgments(judgmentsPath)
	if err != nil {
		return Report{}, err
	}
	dir := opts.IndexDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "marquee-eval-")
		if err != nil {
			return Report{}, fmt.Errorf("create index folder: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "idx")
	}
	idx, err := searchindex.OpenWith(dir, searchindex.Options{Ranking: opts.Ranking, Scratch: opts.IndexDir == "", Shards: opts.Shards})
	if err != nil {
		return Report{}, err
	}
	defer idx.Close()

	rep := Report{K: opts.K}
	start := time.Now()
	if rep.Movies, rep.Skipped, err = load(ctx, idx, moviesPath, opts.BatchSize); err != nil {
		return Report{}, err
	}
	rep.Index = time.Since(start)

	start = time.Now()
	var nN, nP int
	for _, jq := range queries {
		res, err := idx.Search(ctx, search.Query{Text: jq.text, PerPage: opts.K})
		if err != nil {
			return Report{}, fmt.Errorf("query %s %q: %w", jq.id, jq.text, err)
		}
		qr := score(jq, res, opts.K)
		rep.Queries = append(rep.Queries, qr)
		if idcg(jq, opts.K) > 0 {
			rep.NDCG += qr.NDCG
			nN++
		}
		if qr.Positive > 0 {
			rep.P += qr.P
			rep.MRR += qr.RR
			nP++
		}
	}
	rep.Search = time.Since(start)
	if !opts.NoCases {
		if rep.Cases, err = RunCases(ctx, idx, DefaultCases()); err != nil {
			return Report{}, err
		}
	}
	if nN > 0 {
		rep.NDCG /= float64(nN)
	}
	if nP > 0 {
		rep.P /= float64(nP)
		rep.MRR /= float64(nP)
	}
	return rep, nil
}

// Build creates (or opens) an on-disk index in dir holding the movies at moviesPath, in batches of
// opts.BatchSize, with opts.Ranking; the caller closes it. Benchmarks and tools use it to search the catalog.
func Build(ctx context.Context, moviesPath, dir string, opts Options) (*searchindex.Index, error) {
	if opts.BatchSize == 0 {
		opts.BatchSize = 500
	}
	idx, err := searchindex.OpenWith(dir, searchindex.Options{Ranking: opts.Ranking, Shards: opts.Shards})
	if err != nil {
		return nil, err
	}
	if _, _, err := load(ctx, idx, moviesPath, opts.BatchSize); err != nil {
		_ = idx.Close()
		return nil, err
	}
	return idx, nil
}

// load indexes the movies of the file in batches, each movie at version 1 under its TMDB id.
func load(ctx context.Context, idx *searchindex.Index, path string, batchSize int) (movies, skipped int, err error) {
	now := time.Now().UTC()
	var changes []searchindex.Change
	var seq uint64
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		seq += uint64(len(changes))
		if _, err := idx.Apply(ctx, changes, seq); err != nil {
			return err
		}
		movies += len(changes)
		changes = changes[:0]
		return nil
	}
	err = ingest.ReadFile(path, func(rec ingest.Record) error {
		if rec.Err != nil || rec.Movie.TMDBID == nil || *rec.Movie.TMDBID <= 0 {
			skipped++
			return nil
		}
		m := toMovie(rec.Movie, now)
		changes = append(changes, searchindex.Change{ID: m.ID, Version: 1, Movie: m})
		if len(changes) >= batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("index %s: %w", path, err)
	}
	return movies, skipped, nil
}

// toMovie is a record of the catalog as an event would carry it, under its TMDB id.
func toMovie(in ingest.Movie, at time.Time) *search.Movie {
	m := in
	m.FillLists()
	m.ID, m.Version, m.CreatedAt, m.UpdatedAt = *in.TMDBID, 1, at, at
	return &m
}

// readJudgments reads a judgments TSV (query_id, query, movie_id, grade, max_grade, source, title,
// in_catalog, with a header). Rows about movies not in the catalog are dropped: no search can return them.
func readJudgments(path string) ([]*judgedQuery, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open judgments: %w", err)
	}
	defer f.Close()
	byID := map[string]*judgedQuery{}
	var order []*judgedQuery
	sc := bufio.NewScanner(f)
	line := 0
	var col map[string]int
	for sc.Scan() {
		line++
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 {
			col = map[string]int{}
			for i, name := range fields {
				col[name] = i
			}
			for _, name := range []string{"query_id", "query", "movie_id", "grade", "max_grade", "source", "in_catalog"} {
				if _, ok := col[name]; !ok {
					return nil, fmt.Errorf("judgments %s: no column %q", path, name)
				}
			}
			continue
		}
		if len(fields) < len(col) {
			continue
		}
		get := func(name string) string { return fields[col[name]] }
		if get("in_catalog") != "1" {
			continue
		}
		id, err1 := strconv.ParseInt(get("movie_id"), 10, 64)
		grade, err2 := strconv.ParseFloat(get("grade"), 64)
		maxGrade, err3 := strconv.ParseFloat(get("max_grade"), 64)
		if err := errors.Join(err1, err2, err3); err != nil || maxGrade <= 0 {
			return nil, fmt.Errorf("judgments %s line %d: bad numbers", path, line)
		}
		jq := byID[get("query_id")]
		if jq == nil {
			jq = &judgedQuery{id: get("query_id"), text: get("query"), movies: map[int64]judgment{}}
			byID[jq.id] = jq
			order = append(order, jq)
		}
		minPositive := 1.0
		if get("source") == "helloltr" {
			minPositive = 2 // its lowest grade, 1, means not relevant
		}
		jq.movies[id] = judgment{gain: grade / maxGrade, positive: grade >= minPositive}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read judgments: %w", err)
	}
	return order, nil
}

func score(jq *judgedQuery, res *search.Result, k int) QueryReport {
	qr := QueryReport{ID: jq.id, Text: jq.text, Total: res.Total}
	for _, j := range jq.movies {
		if j.positive {
			qr.Positive++
		}
	}
	var dcg float64
	hits := 0
	for i, h := range res.Hits {
		if i >= k {
			break
		}
		qr.Top = append(qr.Top, h.ID)
		j := jq.movies[h.ID] // unjudged: not relevant
		dcg += j.gain / math.Log2(float64(i+2))
		if j.positive {
			hits++
			if qr.RR == 0 {
				qr.RR = 1 / float64(i+1)
			}
		}
	}
	if d := idcg(jq, k); d > 0 {
		qr.NDCG = dcg / d
	}
	qr.P = float64(hits) / float64(k)
	return qr
}

func idcg(jq *judgedQuery, k int) float64 {
	gains := make([]float64, 0, len(jq.movies))
	for _, j := range jq.movies {
		gains = append(gains, j.gain)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(gains)))
	var d float64
	for i, g := range gains {
		if i >= k {
			break
		}
		d += g / math.Log2(float64(i+2))
	}
	return d
}
