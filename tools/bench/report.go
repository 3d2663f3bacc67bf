package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// classLatency is one query class's part of the standard mix, at the small and at the large size.
type classLatency struct {
	name         string
	small, large *latencies
}

// byClass splits the latencies of the standard mix's runs at both sizes by the class of each query, keeping
// only the queries answered at both sizes: a run bounded in time may send fewer at the large size.
func byClass(class []int, small, large *loadResult) []classLatency {
	out := make([]classLatency, len(classNames))
	for c, name := range classNames {
		out[c] = classLatency{name, &latencies{}, &latencies{}}
	}
	for i, c := range class {
		if s, l, ok := paired(small, large, i); ok {
			out[c].small.add(s)
			out[c].large.add(l)
		}
	}
	return out
}

// bothSizes is the latencies of the queries of the standard mix answered at both sizes.
func bothSizes(small, large *loadResult) (s, l *latencies) {
	s, l = &latencies{}, &latencies{}
	for i := range min(len(small.each), len(large.each)) {
		if a, b, ok := paired(small, large, i); ok {
			s.add(a)
			l.add(b)
		}
	}
	return s, l
}

// paired is request i's latency in both runs, if both answered it.
func paired(small, large *loadResult, i int) (s, l time.Duration, ok bool) {
	if i >= len(small.each) || i >= len(large.each) || small.each[i] == 0 || large.each[i] == 0 {
		return 0, 0, false
	}
	return small.each[i], large.each[i], true
}

// report holds every figure of a run and renders the table of targets.
type report struct {
	o                                options
	root, commit, machine            string
	date                             time.Time
	genRate                          float64
	memBase, memSmall, memLarge      memory       // the empty server's, and after each catalog's query mix
	alone                            *searchAlone // the search process alone, after the standard mix
	indexBytes, dataBytes            int64
	streamBytes                      int64 // the data folder's stream (its catalog is the rest)
	rebuild                          *rebuildResult
	ingestSmall, ingestLarge         *ingestResult
	ingestCPU                        float64       // of both imports
	settleSmall, settleLarge         time.Duration // how long the server merged on after each import
	segmentsSmall, segmentsLarge     int           // the index's segments once settled (-1: unknown)
	mixSmall, mixLarge               *loadResult
	classes                          []classLatency
	helloRuns, textRuns, facetRuns   []*loadResult
	textCPUms, facetCPUms            []float64
	tailRate                         float64
	tail                             *loadResult
	lag                              *lagResult
	mariaLoad                        time.Duration
	mqText, dbText, mqFacet, dbFacet latencies
	mqBrowse, dbBrowse               latencies
	peers                            *peerResult
	rows                             []row
}

// row is one target: its figure and, when gated, whether it passed.
type row struct {
	name, target, measured string
	pass                   *bool
}

func newReport(o options, root string) *report {
	r := &report{o: o, root: root, date: time.Now().UTC()}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		r.commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			r.commit += " (with uncommitted changes)"
		}
	}
	r.machine = machine()
	return r
}

// machine describes the CPU and memory of this machine from /proc.
func machine() string {
	model, mem := "unknown CPU", ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%d × %s%s, %s/%s, %s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func (r *ingestResult) rate() float64 { return float64(r.movies) / r.indexed.Seconds() }

// then is an import followed by next into the same server: their movies, and their times added up.
func (r *ingestResult) then(next *ingestResult) *ingestResult {
	return &ingestResult{
		movies:         r.movies + next.movies,
		accepted:       r.accepted + next.accepted,
		slowestRequest: max(r.slowestRequest, next.slowestRequest),
		indexed:        r.indexed + next.indexed,
	}
}

func (r *ingestResult) String() string {
	return fmt.Sprintf("%d movies accepted in %s (slowest request %s), searchable in %s: %.0f movies/s end to end",
		r.movies, r.accepted.Round(time.Millisecond), r.slowestRequest.Round(time.Millisecond), r.indexed.Round(time.Millisecond), r.rate())
}

// finish computes the rows of the table.
func (r *report) finish() {
	gate := func(ok bool) *bool {
		if r.o.Quick {
			return nil
		}
		return &ok
	}
	size := func(ok bool) *bool { return &ok } // not a timing figure: gated in quick runs too
	hello := median(qpsOf(r.helloRuns))
	text, facet := median(qpsOf(r.textRuns)), median(qpsOf(r.facetRuns))
	n := fmt.Sprintf("%dk", r.o.Count/1000)
	add := func(name, target, measured string, pass *bool) {
		r.rows = append(r.rows, row{name, target, measured, pass})
	}
	add(fmt.Sprintf("search QPS via gateway, text query, top 10 (%s) ÷ hello-world QPS", n), "≥ 0.015",
		fmt.Sprintf("%.4f (%.0f ÷ %.0f QPS; %.1f CPU-ms/query)", text/hello, text, hello, median(r.textCPUms)), gate(text/hello >= 0.015))
	add("faceted search QPS (genre + decade + rating facets) ÷ hello-world QPS", "≥ 0.004",
		fmt.Sprintf("%.4f (%.0f ÷ %.0f QPS; %.1f CPU-ms/query)", facet/hello, facet, hello, median(r.facetCPUms)), gate(facet/hello >= 0.004))
	if r.dbText.count() > 0 {
		mq, db := r.mqText.quantile(0.5), r.dbText.quantile(0.5)
		add("ranked text query p50, Marquee ÷ MariaDB FULLTEXT", "≤ 0.5",
			fmt.Sprintf("%.2f (%s ÷ %s)", float64(mq)/float64(db), ms(mq), ms(db)), gate(float64(mq)/float64(db) <= 0.5))
		mq, db = r.mqBrowse.quantile(0.5), r.dbBrowse.quantile(0.5)
		add("browse page with facet counts over the whole catalog p50, Marquee ÷ MariaDB GROUP BY", "≤ 0.1",
			fmt.Sprintf("%.2f (%s ÷ %s)", float64(mq)/float64(db), ms(mq), ms(db)), gate(float64(mq)/float64(db) <= 0.1))
		mq, db = r.mqFacet.quantile(0.5), r.dbFacet.quantile(0.5)
		add("text query + facets p50, Marquee ÷ MariaDB MATCH + GROUP BY genre (not a target)", "—",
			fmt.Sprintf("%.2f (%s ÷ %s)", float64(mq)/float64(db), ms(mq), ms(db)), nil)
	} else {
		add("ranked text query p50, Marquee ÷ MariaDB FULLTEXT", "≤ 0.5", "not measured (-mysql '')", nil)
		add("browse page with facet counts over the whole catalog p50, Marquee ÷ MariaDB GROUP BY", "≤ 0.1", "not measured (-mysql '')", nil)
	}
	rate := r.ingestLarge.rate()
	add(fmt.Sprintf("end-to-end bulk ingest, %s movies (catalog → outbox → NATS → index)", n), "≥ 10,000 movies/s",
		fmt.Sprintf("%.0f movies/s (accepted in %s, searchable in %s; %.0f at %dk)", rate, r.ingestLarge.accepted.Round(time.Second),
			r.ingestLarge.indexed.Round(time.Second), r.ingestSmall.rate(), r.o.Small/1000), gate(rate >= 10_000))
	l := r.lag
	p50, p99 := l.fromAck.quantile(0.5), l.fromAck.quantile(0.99)
	add(fmt.Sprintf("write-to-searchable at %.0f writes/s under %.0f QPS of search: p50 / p99 / max, lost", r.o.WriteRate, l.searchQPS),
		"p50 ≤ 10 ms, p99 ≤ 50 ms, 0 lost",
		fmt.Sprintf("%s / %s / %s, %d lost and %d later than 10 s of %d (from sending: p50 %s, p99 %s)", ms(p50), ms(p99), ms(l.fromAck.max()), l.lost+l.writeErrors, l.late, l.writes,
			ms(l.fromSend.quantile(0.5)), ms(l.fromSend.quantile(0.99))),
		gate(p50 <= 10*time.Millisecond && p99 <= 50*time.Millisecond && l.lost+l.writeErrors+l.late == 0))
	bpm := float64(r.indexBytes) / float64(r.o.Count)
	if r.rebuild != nil {
		add(fmt.Sprintf("rebuild of the search index from the stream, %s movies (a new replica's)", n), "≥ 20,000 movies/s",
			fmt.Sprintf("%.0f movies/s (%d movies in %s)", r.rebuild.rate(), r.rebuild.movies, r.rebuild.duration.Round(100*time.Millisecond)),
			gate(r.rebuild.rate() >= 20_000))
	} else {
		add("rebuild of the search index from the stream (a new replica's)", "≥ 20,000 movies/s", "not measured (the run stopped before it)", nil)
	}
	add("index on disk per movie", "≤ 900 bytes", fmt.Sprintf("%.0f bytes (%.0f MB for %s)", bpm, float64(r.indexBytes)/1e6, n), size(bpm <= 900))
	perMovie := func(b int64) float64 { return float64(b) / float64(r.o.Count) }
	data := perMovie(r.dataBytes)
	add("whole data folder per movie (catalog + stream + index)", "≤ 3,000 bytes", fmt.Sprintf("%.0f bytes: catalog %.0f, stream %.0f, index %.0f",
		data, perMovie(r.dataBytes-r.streamBytes-r.indexBytes), perMovie(r.streamBytes), bpm), size(data <= 3000))
	per100k := func(grown int64) float64 { return float64(grown) / (float64(r.o.Count) / 100_000) / (1 << 20) }
	alone := "search process alone (marquee search, split mode) anonymous memory per 100k movies, after the standard mix and concurrent text searches"
	if a := r.alone; a != nil {
		anon := per100k(a.mem.anon)
		add(alone, "≤ 35 MB",
			fmt.Sprintf("%.1f MB (%.0f MB anonymous at %s, nothing subtracted; RSS %.0f MB with %.0f MB of mapped files, the index's and the binary's; mix p50 %s, %d errors; %.0f QPS of %d workers, %d errors)",
				anon, mb(a.mem.anon), n, mb(a.mem.rss), mb(a.mem.file), ms(a.mix.lat.quantile(0.5)), a.mix.errors,
				a.load.qps(), r.o.Concurrency, a.load.errors), gate(anon <= 35 && a.mix.errors+a.load.errors == 0))
	} else {
		add(alone, "≤ 35 MB", "not measured (the step failed; see the run's log)", nil)
	}
	rss := per100k(r.memLarge.rss - r.memBase.rss)
	add("all-in-one RSS per 100k movies (gateway, catalog, NATS and search in one process; not a target)", "—", fmt.Sprintf("%.1f MB, of which %.1f MB anonymous and %.1f MB mapped files (RSS %.0f MB at %s: %.0f MB anonymous, %.0f MB files; %.0f MB at %dk, %.0f MB empty)",
		rss, per100k(r.memLarge.anon-r.memBase.anon), per100k(r.memLarge.file-r.memBase.file),
		mb(r.memLarge.rss), n, mb(r.memLarge.anon), mb(r.memLarge.file), mb(r.memSmall.rss), r.o.Small/1000, mb(r.memBase.rss)), nil)
	atSmall, atLarge := bothSizes(r.mixSmall, r.mixLarge)
	ls, ll := atSmall.quantile(0.5), atLarge.quantile(0.5)
	add(fmt.Sprintf("standard query mix p50 at %s ÷ p50 at %dk", n, r.o.Small/1000), "≤ 3",
		fmt.Sprintf("%.2f (%s ÷ %s; the %d queries answered at both sizes, of %d sent at %dk)", float64(ll)/float64(ls), ms(ll), ms(ls),
			atLarge.count(), r.mixSmall.requests, r.o.Small/1000),
		gate(float64(ll)/float64(ls) <= 3))
	if p := r.peers; p != nil {
		free := slices.IndexFunc(p.classes, func(c peerClass) bool { return c.name == "free text" })
		text := p.cost["marquee"][free].cpuMs
		measured := fmt.Sprintf("%.1f CPU-ms (Sphinx not measured)", text)
		ok := text <= 5
		if sphinx, found := p.cost["sphinx"]; found {
			measured = fmt.Sprintf("%.1f CPU-ms, %.1f× Sphinx's %.2f", text, text/sphinx[free].cpuMs, sphinx[free].cpuMs)
			ok = ok || text <= 1.5*sphinx[free].cpuMs
		}
		add(fmt.Sprintf("free-text query CPU-ms of the search process, %s, one client", n), "≤ 5, or ≤ 1.5× Sphinx's", measured, gate(ok))
		for _, peer := range []struct {
			name   string
			target float64
		}{{"xapian", 1}, {"sphinx", 2}} {
			name := title(peer.name)
			worst, class, ok := p.worstRatio(peer.name)
			if !ok {
				add(fmt.Sprintf("Marquee CPU-ms ÷ %s's, every class (both with a prior)", name), fmt.Sprintf("≤ %g", peer.target),
					"not measured: "+p.skipped[peer.name], nil)
				continue
			}
			add(fmt.Sprintf("Marquee CPU-ms ÷ %s's, every class (both with a prior)", name), fmt.Sprintf("≤ %g", peer.target),
				fmt.Sprintf("%.1f at worst (%s; classes below)", worst, class), gate(worst <= peer.target))
		}
	}
	tp50, tp99 := r.tail.lat.quantile(0.5), r.tail.lat.quantile(0.99)
	add("p99 ÷ p50 of text search at half of peak QPS (open loop)", "≤ 4",
		fmt.Sprintf("%.1f (%s ÷ %s at %.0f QPS)", float64(tp99)/float64(tp50), ms(tp99), ms(tp50), r.tailRate), gate(float64(tp99)/float64(tp50) <= 4))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// markdown renders the run: header, the table of targets, and the details behind it.
func (r *report) markdown() string {
	var b strings.Builder
	mode := "full"
	if r.o.Quick {
		mode = "quick (no timing gates)"
	}
	fmt.Fprintf(&b, "Run: %s, %s; commit %s; %s; %d movies (small %d), %s runs × %d rounds, %d closed-loop workers; search index in %d shard(s).\n\n",
		r.date.Format("2006-01-02 15:04 UTC"), mode, r.commit, r.machine, r.o.Count, r.o.Small, r.o.Duration, r.o.Rounds, r.o.Concurrency, r.o.Shards)
	b.WriteString("| target | goal | measured | verdict |\n| --- | --- | --- | --- |\n")
	for _, x := range r.rows {
		verdict := "not gated"
		if x.pass != nil {
			verdict = map[bool]string{true: "**pass**", false: "**FAIL**"}[*x.pass]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", x.name, x.target, x.measured, verdict)
	}
	small, large := fmt.Sprintf("%dk", r.o.Small/1000), fmt.Sprintf("%dk", r.o.Count/1000)
	b.WriteString("\nLatency by query class: the standard mix's queries of each class, one client at a time, the same queries at both sizes:\n\n")
	fmt.Fprintf(&b, "| class | queries | p50 at %s | p50 at %s | ÷ | p90 at %s | p99 at %s | max at %s |\n", small, large, large, large, large)
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range r.classes {
		s, l := c.small.quantile(0.5), c.large
		ratio := "—"
		if s > 0 && l.count() > 0 {
			ratio = fmt.Sprintf("%.2f", float64(l.quantile(0.5))/float64(s))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", c.name, l.count(), ms(s), ms(l.quantile(0.5)), ratio,
			ms(l.quantile(0.9)), ms(l.quantile(0.99)), ms(l.max()))
	}
	fmt.Fprintf(&b, "\nThroughput runs (QPS, each round in order hello / text / faceted):")
	for i := range r.helloRuns {
		fmt.Fprintf(&b, " round %d: %.0f / %.0f / %.0f;", i+1, r.helloRuns[i].qps(), r.textRuns[i].qps(), r.facetRuns[i].qps())
	}
	idle := func(d time.Duration) string {
		if d >= r.o.settleLimit {
			return fmt.Sprintf("was still busy %s", d.Round(time.Second))
		}
		return fmt.Sprintf("went idle %s", d.Round(time.Second))
	}
	fmt.Fprintf(&b, "\nIngest: %s (catalog + indexer CPU %.0f s); small catalog: %s. The server %s after the small and %s after the large import (the index merging its segments, then compacting them: %d and %d segments at rest); the measurements wait for it.\n",
		r.ingestLarge, r.ingestCPU, r.ingestSmall, idle(r.settleSmall), idle(r.settleLarge), r.segmentsSmall, r.segmentsLarge)
	fmt.Fprintf(&b, "Generator: %.0f movies/s. Tail run: %d requests at %.0f QPS, p50 %s, p99 %s, max %s.\n",
		r.genRate, r.tail.requests, r.tail.qps(), ms(r.tail.lat.quantile(0.5)), ms(r.tail.lat.quantile(0.99)), ms(r.tail.lat.max()))
	fmt.Fprintf(&b, "Lag run: %d writes, %d write errors, %d reads (each waits on the server for its version), background search %.0f QPS.\n", r.lag.writes, r.lag.writeErrors, r.lag.polled, r.lag.searchQPS)
	if p := r.peers; p != nil {
		b.WriteString(p.markdown())
	}
	if r.mariaLoad > 0 {
		fmt.Fprintf(&b, "MariaDB: LOAD DATA + FULLTEXT build %s; %d text, %d text + facet and %d browse samples a side.\n",
			r.mariaLoad.Round(time.Second), r.dbText.count(), r.dbFacet.count(), r.dbBrowse.count())
	}
	return b.String()
}

const (
	beginMark = "<!-- bench:begin -->"
	endMark   = "<!-- bench:end -->"
)

// writeDoc replaces the measured part of the document at path (between the bench markers), or writes a
// new document with only that part.
func (r *report) writeDoc(path string) error {
	if !strings.HasPrefix(path, "/") {
		path = r.root + "/" + path
	}
	block := beginMark + "\n" + r.markdown() + endMark
	old, err := os.ReadFile(path)
	doc := "# Performance\n\n" + block + "\n"
	if err == nil {
		s := string(old)
		i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
		if i >= 0 && j > i {
			doc = s[:i] + block + s[j+len(endMark):]
		} else {
			doc = s + "\n" + block + "\n"
		}
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
