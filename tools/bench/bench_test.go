package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"marquee/pkg/testenv"
)

// TestQuickBench runs the whole bench at a tiny size and checks that every figure was produced; it gates
// nothing on speed. It needs the real catalog to learn from and, for the MariaDB figures, a MariaDB on
// 127.0.0.1:3306 (MARQUEE_BENCH_MYSQL overrides the DSN; "off" skips that part).
func TestQuickBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the all-in-one and loads a catalog")
	}
	from := testenv.SharedData(t, "movies.jsonl.gz")
	dsn := "root@tcp(127.0.0.1:3306)/"
	if v := os.Getenv("MARQUEE_BENCH_MYSQL"); v == "off" {
		dsn = ""
	} else if v != "" {
		dsn = v
	}
	if dsn != "" && os.Getenv("CI") != "true" {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:3306", time.Second); err != nil {
			t.Logf("no MariaDB on 127.0.0.1:3306 (%v): the MariaDB figures are left out", err)
			dsn = ""
		} else {
			conn.Close()
		}
	}
	// CI installs both peers (.ci/run); elsewhere the run leaves out a peer that is not installed.
	var peers []string
	for _, name := range peerNames {
		if _, err := os.Stat(peerPackages[name].file); err == nil || os.Getenv("CI") == "true" {
			peers = append(peers, name)
		}
	}
	o := options{
		Count: 12_000, Small: 2_000, Quick: true, Seed: 1, From: from, MySQL: dsn, Duration: time.Second, Rounds: 1,
		Concurrency: 8, ImportClients: 2, WriteRate: 50, PerClass: 20, IngestTimeout: 60 * time.Second,
		Peers: strings.Join(peers, ","),
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	rep, err := runBench(ctx, o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	want := 12
	if dsn != "" {
		want++
	}
	if len(peers) > 0 {
		want += 3 // the free-text CPU-ms and one ratio row a peer, measured or not
	}
	if len(rep.rows) < want {
		t.Fatalf("%d rows, want %d:\n%s", len(rep.rows), want, rep.markdown())
	}
	// The search service compacts the index once the imports are done: at most two segments a shard.
	if rep.segmentsSmall < 0 || rep.segmentsSmall > 2 || rep.segmentsLarge < 0 || rep.segmentsLarge > 2 {
		t.Errorf("index segments at rest: %d after the small import, %d after the large; want 0-2", rep.segmentsSmall, rep.segmentsLarge)
	}
	for _, r := range rep.rows {
		if r.measured == "" || strings.Contains(r.measured, "NaN") || strings.Contains(r.measured, "Inf") {
			t.Errorf("%s: no figure: %q", r.name, r.measured)
		}
	}
	if len(peers) > 0 {
		md := rep.markdown()
		for _, name := range peers {
			if rep.peers == nil || len(rep.peers.cost[name]) != len(rep.peers.classes) || !strings.Contains(md, "| "+title(name)+" CPU-ms |") {
				t.Errorf("%s was not measured on every peer class:\n%s", name, md)
			}
		}
	}
	if a := rep.alone; a == nil || a.mix.requests == 0 || a.mix.errors > 0 || a.load.requests == 0 || a.load.errors > 0 {
		t.Errorf("the search process alone answered no mix, or with errors: %+v", a)
	} else if a.mem.anon <= 0 || a.mem.file <= 0 || a.mem.anon+a.mem.file > a.mem.rss {
		t.Errorf("memory of the search process alone: %+v, want anonymous and file parts that add up to at most the RSS", a.mem)
	}
	for name, m := range map[string]memory{"empty": rep.memBase, "small": rep.memSmall, "large": rep.memLarge} {
		if m.anon <= 0 || m.file <= 0 || m.anon+m.file > m.rss {
			t.Errorf("memory of the %s server: %+v, want anonymous and file parts that add up to at most the RSS", name, m)
		}
	}
	doc := filepath.Join(t.TempDir(), "performance.md")
	if err := os.WriteFile(doc, []byte("# Title\n\nprose\n\n"+beginMark+"\nold\n"+endMark+"\n\nmore prose\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rep.writeDoc(doc); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(doc)
	if s := string(got); !strings.Contains(s, "prose") || !strings.Contains(s, "more prose") || strings.Contains(s, "\nold\n") || !strings.Contains(s, "| target |") {
		t.Errorf("the document's measured block was not replaced in place:\n%s", s)
	}
	t.Log("\n" + rep.markdown())
}

func TestLatencyQuantiles(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	if l.quantile(0.5) != 50*time.Millisecond || l.quantile(0.99) != 99*time.Millisecond || l.max() != 100*time.Millisecond {
		t.Errorf("p50 %s p99 %s max %s", l.quantile(0.5), l.quantile(0.99), l.max())
	}
}

func TestCheckLocal(t *testing.T) {
	if checkLocal("http://127.0.0.1:8080") != nil || checkLocal("http://example.com") == nil {
		t.Error("only loopback targets may be loaded")
	}
}

func TestByClass(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	class := []int{0, 1, 0, 1}
	small := &loadResult{each: []time.Duration{ms(1), ms(2), ms(3), ms(4)}}
	large := &loadResult{each: []time.Duration{ms(10), 0, ms(30)}} // the second failed, the fourth was not sent
	got := byClass(class, small, large)
	if len(got) != len(classNames) || got[0].name != classNames[0] {
		t.Fatalf("got %d classes, first %q; want one per class name", len(got), got[0].name)
	}
	if got[0].small.count() != 2 || got[0].large.count() != 2 || got[0].large.max() != ms(30) || got[0].small.max() != ms(3) {
		t.Errorf("class 0: %d small, %d large samples, maxima %s and %s; want 2, 2, 3ms and 30ms",
			got[0].small.count(), got[0].large.count(), got[0].small.max(), got[0].large.max())
	}
	// Class 1's queries were answered at the small size only: the sizes compare the same queries.
	if got[1].small.count() != 0 || got[1].large.count() != 0 {
		t.Errorf("class 1: %d small, %d large samples; want none", got[1].small.count(), got[1].large.count())
	}
	if got[2].small.count() != 0 {
		t.Errorf("class 2 has no query in the mix but %d samples", got[2].small.count())
	}
	s, l := bothSizes(small, large)
	if s.count() != 2 || l.count() != 2 || s.quantile(0.5) != ms(1) || l.quantile(0.5) != ms(10) {
		t.Errorf("both sizes: %d and %d samples, medians %s and %s; want 2, 2, 1ms and 10ms", s.count(), l.count(), s.quantile(0.5), l.quantile(0.5))
	}
}

// The browse queries are pages of their own: the result cache answers a page asked again at the same index
// checkpoint, so a repeated page would measure the cache, not the browse path.
func TestBrowseQueriesAreDistinct(t *testing.T) {
	mix, err := buildQueries(filepath.Join("..", "..", "data", "imdb.json"), 248, 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(mix.Browse) != 20 {
		t.Fatalf("%d browse queries, want 20", len(mix.Browse))
	}
	seen := map[string]bool{}
	for _, u := range mix.Browse {
		if seen[u] {
			t.Errorf("browse query %s is drawn twice", u)
		}
		seen[u] = true
	}
}

// TestPeers builds Xapian's and Sphinx's indexes of the seed catalog and measures them on queries whose
// answers are known: each engine must find every title's movie, expand a typed-halfway last word, and fill
// a page for a word most movies hold. Outside CI a peer that is not installed is left out.
func TestPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two search engines' indexes")
	}
	dir := t.TempDir()
	tsvPath := filepath.Join(dir, "peers.tsv")
	if err := writePeerTSV(filepath.Join("..", "..", "data", "imdb.json"), tsvPath, 1000); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(tsvPath); strings.Count(string(b), "\n") != 248 || strings.Count(string(b), "\t") != 248*7 {
		t.Fatalf("the TSV has %d lines and %d tabs, want 248 movies of 8 columns", strings.Count(string(b), "\n"), strings.Count(string(b), "\t"))
	}
	classes := []peerClass{
		{name: "title", queries: []string{"The Godfather", "Casablanca", "Pulp Fiction", "Citizen Kane", "Dr. No", "Apocalypse Now"}},
		{name: "prefix", prefix: true, queries: []string{"godf", "apocalypse no", "casab"}},
		{name: "common word", queries: []string{"the"}},
	}
	ctx := context.Background()
	for _, name := range peerNames {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(peerPackages[name].file); err != nil && os.Getenv("CI") != "true" {
				t.Skipf("%s is not installed (%s)", name, peerPackages[name].pkg)
			}
			var e interface {
				engine
				close()
			}
			var err error
			if name == "xapian" {
				e, err = startXapian(ctx, tsvPath, filepath.Join(dir, name))
			} else {
				e, err = startSphinx(ctx, tsvPath, filepath.Join(dir, name))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			costs, err := measureClasses(ctx, e, classes, []string{"love", "war"})
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range costs {
				if c.queries != len(classes[i].queries) || c.empty != 0 || c.cpuMs <= 0 || c.slowestQ == "" {
					t.Errorf("%s: %+v; want every query answered with a movie, and CPU time spent", classes[i].name, c)
				}
			}
			if n, err := e.search(ctx, "the", false); err != nil || n != 10 {
				t.Errorf(`"the" shows %d movies (%v), want a full page of 10`, n, err)
			}
			if n, err := e.search(ctx, "godfather zzzqx", false); err != nil || n == 0 {
				t.Errorf(`"godfather zzzqx" shows %d movies (%v), want the movies with some of the words`, n, err)
			}
		})
	}
}
