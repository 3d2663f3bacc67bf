// Command bench measures Marquee end to end on this machine and reports every performance target of the
// project as a ratio or figure from one run: it generates a catalog with `marquee gen`, loads it through the
// all-in-one (catalog → outbox → NATS → index), and measures search against a Go hello-world server and
// MariaDB FULLTEXT with the same load tool, interleaved, and against Xapian and Sphinx on the same catalog
// and queries (CPU-ms a query by class). See docs/performance.md.
//
//	go run ./tools/bench                 # the full run: 1M movies (and 100k), then the peers: about 19 minutes on the latest machine (12 with -peers '')
//	go run ./tools/bench -quick          # 100k movies, short runs, no timing gates: a smoke test
//	go run ./tools/bench -count 20000 -out ''
//	go run ./tools/bench -shard-nodes 3   # the scatter-gather's cost alone: 3 shard processes against one
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	Count, Small     int           // movies in the large and the small catalog (Small 0: Count/10)
	Quick            bool          // short runs and no timing gates
	Seed             int64         // generator and query seed
	From             string        // real catalog the generator learns from
	Marquee          string        // marquee binary; "" builds ./cmd/marquee
	MySQL            string        // MariaDB DSN; "" skips the MariaDB comparison
	Peers            string        // engines to compare with, comma-separated: xapian, sphinx; "" none
	Out              string        // performance document to update; "" for none
	Duration         time.Duration // each throughput or latency run
	Rounds           int           // interleaved rounds of the ratios
	Concurrency      int           // closed-loop workers of the throughput runs
	ImportClients    int           // concurrent import clients
	WriteRate        float64       // writes/s of the lag run
	PerClass         int           // queries per class in the query mix
	Keep             bool          // keep the temporary folder
	IngestTimeout    time.Duration // longest wait for the index to hold a catalog
	Shards           int           // shards of the search index
	ShardNodes       int           // search processes of one partition each, behind a merging gateway: the scatter-gather's cost alone
	latencySamples   int           // queries per side and round of the latency comparisons
	mixSamples       int           // queries of the standard mix at the small size; the large size sends the same
	lagWrites        int           // writes of the lag run
	tailRequestBound int           // requests of the tail run
	settleLimit      time.Duration // longest wait for the server to go idle after an import
	tailDuration     time.Duration // the open-loop tail run: long enough for a p99 of some hundred requests
}

func main() {
	var o options
	flag.IntVar(&o.Count, "count", 1_000_000, "movies in the large catalog")
	flag.IntVar(&o.Small, "small", 0, "movies in the small catalog for the scale ratio (0: count/10)")
	flag.BoolVar(&o.Quick, "quick", false, "smoke test: 100,000 movies unless -count is given, short runs, no timing gates")
	flag.Int64Var(&o.Seed, "seed", 1, "seed of the generator and of the query mix")
	flag.StringVar(&o.From, "from", "../shared/data/movies.jsonl.gz", "real catalog whose distributions the generator follows")
	flag.StringVar(&o.Marquee, "marquee", "", "marquee binary to run (default: build ./cmd/marquee)")
	flag.StringVar(&o.MySQL, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB DSN for the FULLTEXT comparison; '' skips it")
	flag.StringVar(&o.Peers, "peers", "xapian,sphinx", "engines measured on the same catalog and queries (installed with apt-get if missing); '' for none")
	flag.StringVar(&o.Out, "out", "docs/performance.md", "document whose measured table to replace; '' for none")
	flag.DurationVar(&o.Duration, "duration", 0, "length of each throughput and latency run (default 6s, quick 2s)")
	flag.IntVar(&o.Rounds, "rounds", 0, "interleaved rounds of each ratio (default 3, quick 1)")
	flag.IntVar(&o.Concurrency, "c", 16, "closed-loop workers of the throughput runs")
	flag.IntVar(&o.ImportClients, "import-clients", 4, "concurrent import clients")
	flag.Float64Var(&o.WriteRate, "write-rate", 100, "writes per second of the write-to-searchable run")
	flag.IntVar(&o.PerClass, "per-class", 100, "queries per class in the query mix")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary folder (catalogs, data folders)")
	flag.IntVar(&o.Shards, "shards", 1, "shards of the search index (marquee serve --index-shards)")
	flag.IntVar(&o.ShardNodes, "shard-nodes", 0, "measure only the scatter-gather: this many search processes of one partition each behind a merging gateway, against one of every movie")
	flag.DurationVar(&o.IngestTimeout, "ingest-timeout", 0, "longest wait for the index to hold a catalog (default 45m, quick 10m)")
	quickCount := false
	flag.Parse()
	flag.Visit(func(f *flag.Flag) { quickCount = quickCount || f.Name == "count" })
	if o.Quick && !quickCount {
		o.Count = 100_000
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.ShardNodes > 0 {
		if err := runShardNodes(ctx, o, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	rep, err := runBench(ctx, o, os.Stderr)
	if rep != nil {
		fmt.Println(rep.markdown())
		if o.Out != "" && err == nil {
			if werr := rep.writeDoc(o.Out); werr != nil {
				fmt.Fprintln(os.Stderr, "bench:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// defaults fills in what the flags left to the mode.
func (o *options) defaults() {
	o.Shards = max(o.Shards, 1)
	if o.Small <= 0 {
		o.Small = max(o.Count/10, 1000)
	}
	o.Small = min(o.Small, o.Count)
	if o.Duration <= 0 {
		o.Duration = 6 * time.Second
		if o.Quick {
			o.Duration = 2 * time.Second
		}
	}
	if o.IngestTimeout <= 0 {
		// The 1M-movie import took 6-7 minutes end to end on the latest machine, 16 on one 2.5× slower (docs/performance.md).
		o.IngestTimeout = 45 * time.Minute
		if o.Quick {
			o.IngestTimeout = 10 * time.Minute
		}
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
		if o.Quick {
			o.Rounds = 1
		}
	}
	o.latencySamples, o.mixSamples = 200, 400
	o.lagWrites, o.tailRequestBound = int(o.WriteRate*o.Duration.Seconds()*2), 1_000_000
	o.settleLimit, o.tailDuration = 5*time.Minute, max(2*o.Duration, 16*time.Second)
	if o.Quick {
		o.latencySamples, o.mixSamples, o.settleLimit, o.tailDuration = 60, 240, time.Minute, 2*o.Duration
	}
}

// findRoot returns the workspace root (the folder of go.work) above the working directory.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run from the Marquee repository")
		}
		dir = parent
	}
}

// logf writes progress to the bench's log.
type logf func(format string, args ...any)

func newLog(w io.Writer) logf {
	started := time.Now()
	return func(format string, args ...any) {
		fmt.Fprintf(w, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}
}
