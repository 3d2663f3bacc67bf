package main

import (
	"bufio"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"marquee/pkg/freeport"
	"marquee/pkg/ingest"
)

// The peers are two mature engines, measured on the same catalog and the same queries as Marquee: Xapian
// (Debian's python3-xapian: safe top-k pruning) and Sphinx (Debian's sphinxsearch: scores every match).
// Each is measured the way Marquee is: the CPU time of its server process over a class's queries, sent one
// at a time, divided by their number; the slowest query of each class is what its client waited.

//go:embed peers/xapian_peer.py
var xapianPeer []byte

// peerNames are the peers in the order of the report's columns.
var peerNames = []string{"xapian", "sphinx"}

// peerPackages are the Debian packages each peer needs, and a file that shows they are installed.
var peerPackages = map[string]struct{ pkg, file string }{
	"xapian": {"python3-xapian", "/usr/lib/python3/dist-packages/xapian/__init__.py"},
	"sphinx": {"sphinxsearch", "/usr/bin/searchd"},
}

// Field weights of the peers' indexes: Marquee's default ranking doubled to integers (Sphinx and Xapian take
// integer field weights), in the catalog TSV's column order.
var peerFields = []struct {
	name   string
	weight int
}{{"title", 6}, {"overview", 2}, {"directors", 6}, {"cast", 6}, {"genres", 3}, {"keywords", 5}}

// peerClass is a class of the comparison: the text of each query, as a person would type it.
type peerClass struct {
	name    string
	prefix  bool // the last word is typed halfway
	queries []string
}

// commonWords are single words most of the catalog holds: each engine's slowest kind of query.
var commonWords = []string{"the", "of", "love", "man"}

// peerClasses are the classes the peers can answer (neither matches typos), at most n queries each, taken
// from a query mix none of the other runs sent, so that Marquee's result cache holds none of them. The free
// text class's further queries warm each engine up.
func peerClasses(mix *queryMix, n int) (classes []peerClass, warmup []string) {
	texts := func(urls []string) []string {
		seen := map[string]bool{}
		var out []string
		for _, u := range urls {
			if parsed, err := url.Parse(u); err == nil {
				if q := parsed.Query().Get("q"); q != "" && !seen[q] {
					seen[q] = true
					out = append(out, q)
				}
			}
		}
		return out
	}
	cut := func(qs []string) []string { return qs[:min(n, len(qs))] }
	text := texts(mix.Text)
	classes = []peerClass{
		{name: "title", queries: cut(texts(mix.Title))},
		{name: "free text", queries: cut(text)},
		{name: "person", queries: cut(texts(mix.Person))},
		{name: "prefix", prefix: true, queries: cut(texts(mix.Prefix))},
		{name: "common word", queries: commonWords},
	}
	if len(text) > n {
		warmup = text[n:min(len(text), n+50)]
	}
	return classes, warmup
}

// engine is one search engine under measurement.
type engine interface {
	// search answers q (the last word a prefix when prefix is set) and returns how many movies it shows.
	search(ctx context.Context, q string, prefix bool) (int, error)
	pid() int
}

// classCost is what one engine spent on one class.
type classCost struct {
	queries  int
	cpuMs    float64 // mean CPU-ms a query, of the engine's server process
	empty    int     // queries that found nothing
	slowest  time.Duration
	slowestQ string
}

// peerResult is the comparison: each engine's cost by class, or why an engine was not measured.
type peerResult struct {
	count   int
	classes []peerClass
	cost    map[string][]classCost // by engine: "marquee" and the peers
	skipped map[string]string      // peer → why it was not measured
	build   map[string]time.Duration
}

// measureClasses sends each class's queries to e one at a time, after the warm-up queries, and charges the
// class the CPU time of e's process over them.
func measureClasses(ctx context.Context, e engine, classes []peerClass, warmup []string) ([]classCost, error) {
	for _, q := range warmup {
		if _, err := e.search(ctx, q, false); err != nil {
			return nil, fmt.Errorf("warm-up %q: %w", q, err)
		}
	}
	out := make([]classCost, len(classes))
	for i, c := range classes {
		cost := &out[i]
		cpu0 := threadsCPU(e.pid())
		for _, q := range c.queries {
			t0 := time.Now()
			found, err := e.search(ctx, q, c.prefix)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", c.name, q, err)
			}
			if d := time.Since(t0); d > cost.slowest {
				cost.slowest, cost.slowestQ = d, q
			}
			if found == 0 {
				cost.empty++
			}
			cost.queries++
		}
		cost.cpuMs = 1000 * (threadsCPU(e.pid()) - cpu0) / float64(max(cost.queries, 1))
	}
	return out, nil
}

// threadsCPU is the CPU time of a process's live threads so far, in seconds, to the nanosecond (from
// /proc/<pid>/task/*/schedstat; /proc/<pid>/stat counts in hundredths of a second, too coarse for a class
// of a hundred millisecond queries). The engines keep their threads across a class's queries: Marquee's
// Go runtime, Xapian's single-threaded server, and searchd's thread for the one connection.
func threadsCPU(pid int) float64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var ns int64
	for _, t := range tasks {
		if b, err := os.ReadFile(t); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				ns += v
			}
		}
	}
	return float64(ns) / 1e9
}

// marqueeEngine searches the all-in-one through its gateway, as a client would.
type marqueeEngine struct{ m *marquee }

func (e marqueeEngine) pid() int { return e.m.cmd.Process.Pid }

func (e marqueeEngine) search(ctx context.Context, q string, _ bool) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.m.base+"/v1/movies?per_page=10&q="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.m.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var page struct {
		Hits []json.RawMessage `json:"hits"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return 0, err
	}
	return len(page.Hits), nil
}

// comparePeers measures Marquee (still running, at rest) on the peer classes, then builds each peer's index
// of the catalog and measures it, one engine at a time so that none competes with another for the cores.
func comparePeers(ctx context.Context, o options, log logf, m *marquee, catalog string, mix *queryMix, dir string) (*peerResult, error) {
	classes, warmup := peerClasses(mix, o.PerClass)
	res := &peerResult{count: o.Count, classes: classes, cost: map[string][]classCost{}, skipped: map[string]string{}, build: map[string]time.Duration{}}
	log("peers: Marquee on the peer classes")
	var err error
	if res.cost["marquee"], err = measureClasses(ctx, marqueeEngine{m}, classes, warmup); err != nil {
		return nil, fmt.Errorf("marquee: %w", err)
	}
	m.stop()
	tsvPath := filepath.Join(dir, "peers.tsv")
	if err := writePeerTSV(catalog, tsvPath, o.Count); err != nil {
		return nil, err
	}
	for _, name := range o.peers() {
		if why := installPeer(ctx, name); why != "" {
			log("peers: %s not measured: %s", name, why)
			res.skipped[name] = why
			continue
		}
		log("peers: %s: indexing %d movies", name, o.Count)
		t0 := time.Now()
		var e interface {
			engine
			close()
		}
		switch name {
		case "xapian":
			e, err = startXapian(ctx, tsvPath, filepath.Join(dir, "xapian"))
		case "sphinx":
			e, err = startSphinx(ctx, tsvPath, filepath.Join(dir, "sphinx"))
		default:
			err = fmt.Errorf("unknown peer %q (want %s)", name, strings.Join(peerNames, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res.build[name] = time.Since(t0)
		log("peers: %s: indexed in %s; querying", name, res.build[name].Round(time.Second))
		cost, err := measureClasses(ctx, e, classes, warmup)
		e.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res.cost[name] = cost
	}
	return res, nil
}

// peers is the peers the options ask for.
func (o *options) peers() []string {
	var out []string
	for _, p := range strings.Split(o.Peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// installPeer installs a peer's Debian package when it is missing; it returns why the peer cannot run, or "".
func installPeer(ctx context.Context, name string) string {
	p, ok := peerPackages[name]
	if !ok {
		return ""
	}
	if _, err := os.Stat(p.file); err == nil {
		return ""
	}
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", p.pkg}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Sprintf("apt-get %s: %v: %s", strings.Join(args, " "), err, lastLine(out))
		}
	}
	if _, err := os.Stat(p.file); err != nil {
		return fmt.Sprintf("%s installed, but %s is missing", p.pkg, p.file)
	}
	return ""
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// writePeerTSV writes the first count movies of the catalog as the peers' input: an id, the text fields in
// peerFields' order, and the prior, one line a movie, with no tab or line break inside a field.
func writePeerTSV(catalog, path string, count int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ", "\\", " ")
	id := 0
	stop := errors.New("enough")
	err = ingest.ReadFile(catalog, func(r ingest.Record) error {
		if r.Err != nil {
			return nil
		}
		if id++; id > count {
			return stop
		}
		mv := r.Movie
		cols := []string{mv.Title, mv.Overview, strings.Join(mv.Directors, ", "), strings.Join(mv.Cast, ", "),
			strings.Join(mv.Genres, ", "), strings.Join(mv.Keywords, ", ")}
		fmt.Fprintf(w, "%d", id)
		for _, c := range cols {
			w.WriteString("\t" + clean.Replace(c))
		}
		fmt.Fprintf(w, "\t%.4f\n", votesPrior(mv.Votes))
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// votesPrior is the popularity part of Marquee's default prior: 1 + 3 × log(1+votes) ÷ log(1+20,000), capped
// at 4.
func votesPrior(votes *int64) float64 {
	if votes == nil || *votes <= 0 {
		return 1
	}
	return 1 + 3*min(1, math.Log1p(float64(*votes))/math.Log1p(20_000))
}

// xapianEngine is the Python script serving the Xapian index, one JSON line a query.
type xapianEngine struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	mu  sync.Mutex
}

// python is Debian's interpreter, whose site packages python3-xapian installs into.
const python = "/usr/bin/python3"

// startXapian builds the index in two processes (a shard each, as the machine has two cores), compacts
// the shards into one database, and starts the script that serves it.
func startXapian(ctx context.Context, tsvPath, dir string) (*xapianEngine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "xapian_peer.py")
	if err := os.WriteFile(script, xapianPeer, 0o644); err != nil {
		return nil, err
	}
	const shards = 2
	var wg sync.WaitGroup
	errs := make([]error, shards)
	var parts []string
	for s := range shards {
		part := filepath.Join(dir, fmt.Sprintf("shard%d", s))
		parts = append(parts, part)
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, python, script, "build", tsvPath, part, fmt.Sprint(s), fmt.Sprint(shards))
			cmd.Env = append(os.Environ(), "XAPIAN_FLUSH_THRESHOLD=50000")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[s] = fmt.Errorf("build shard %d: %v: %s", s, err, lastLine(out))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "db")
	if out, err := exec.CommandContext(ctx, python, append([]string{script, "merge", db}, parts...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("merge: %v: %s", err, lastLine(out))
	}
	for _, p := range parts {
		os.RemoveAll(p)
	}
	cmd := exec.Command(python, script, "serve", db)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &xapianEngine{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	var ready struct {
		Ready *int `json:"ready"`
	}
	if err := e.read(&ready); err != nil || ready.Ready == nil {
		e.close()
		return nil, fmt.Errorf("serve: no ready line (%v)", err)
	}
	return e, nil
}

func (e *xapianEngine) pid() int { return e.cmd.Process.Pid }

func (e *xapianEngine) read(into any) error {
	line, err := e.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, into)
}

func (e *xapianEngine) search(_ context.Context, q string, prefix bool) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	req, _ := json.Marshal(map[string]any{"q": q, "prefix": prefix})
	if _, err := e.in.Write(append(req, '\n')); err != nil {
		return 0, err
	}
	var resp struct {
		IDs []string `json:"ids"`
	}
	if err := e.read(&resp); err != nil {
		return 0, err
	}
	return len(resp.IDs), nil
}

func (e *xapianEngine) close() {
	e.in.Close()
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	waitOrKill(e.cmd.Process, done, 5*time.Second) // the script ends at the end of its input
}

// sphinxEngine is searchd serving the Sphinx index, queried over SphinxQL (the MySQL protocol).
type sphinxEngine struct {
	cmd  *exec.Cmd
	db   *sql.DB
	done chan struct{}
}

// sphinxConfig is the indexer's and searchd's configuration: English stemming, prefixes of 3+ letters
// expanded to their 50 most frequent words, no binary log.
const sphinxConfig = `source movies
{
	type = tsvpipe
	tsvpipe_command = cat {{tsv}}
{{fields}}	tsvpipe_attr_float = prior
}
index movies
{
	source = movies
	path = {{dir}}/movies
	morphology = stem_en
	dict = keywords
	min_prefix_len = 3
	charset_table = 0..9, A..Z->a..z, _, a..z, U+C0..U+D6->U+E0..U+F6, U+D8..U+DE->U+F8..U+FE, U+DF, U+E0..U+F6, U+F8..U+FF
}
indexer
{
	mem_limit = 1024M
}
searchd
{
	listen = 127.0.0.1:{{port}}:mysql41
	log = {{dir}}/searchd.log
	pid_file = {{dir}}/searchd.pid
	binlog_path =
	workers = threads
	expansion_limit = 50
}
`

// startSphinx runs Sphinx's batch indexer over the TSV and starts searchd on a free port.
func startSphinx(ctx context.Context, tsvPath, dir string) (*sphinxEngine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	var fields strings.Builder
	for _, f := range peerFields {
		fmt.Fprintf(&fields, "\ttsvpipe_field = %s\n", f.name)
	}
	conf := strings.NewReplacer("{{tsv}}", tsvPath, "{{dir}}", dir, "{{port}}", fmt.Sprint(port), "{{fields}}", fields.String()).Replace(sphinxConfig)
	confPath := filepath.Join(dir, "sphinx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "indexer", "--config", confPath, "--all", "--quiet").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("indexer: %v: %s", err, lastLine(out))
	}
	cmd := exec.Command("searchd", "--config", confPath, "--nodetach")
	log, err := os.Create(filepath.Join(dir, "searchd.out"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &sphinxEngine{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()
	// SphinxQL has no prepared statements: queries go as text, and one connection serves them in order.
	if e.db, err = sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)); err != nil {
		e.close()
		return nil, err
	}
	e.db.SetMaxOpenConns(1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err = e.db.PingContext(ctx); err == nil {
			break
		}
		select {
		case <-e.done:
			e.db.Close()
			return nil, fmt.Errorf("searchd exited: %v (see %s)", err, log.Name())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.close()
			return nil, fmt.Errorf("searchd did not answer within 30 s: %v", err)
		}
	}
	return e, nil
}

func (e *sphinxEngine) pid() int { return e.cmd.Process.Pid }

// search matches every word first and, when that fills less than a page, some words (Sphinx's quorum
// operator), ranked by BM25 with field weights times the prior.
func (e *sphinxEngine) search(ctx context.Context, q string, prefix bool) (int, error) {
	ws := words(q)
	if len(ws) == 0 {
		return 0, nil
	}
	if prefix && len([]rune(ws[len(ws)-1])) >= 3 {
		ws[len(ws)-1] += "*"
	}
	var weights []string
	for _, f := range peerFields {
		weights = append(weights, fmt.Sprintf("%s=%d", f.name, f.weight))
	}
	all := strings.Join(ws, " ")
	found := 0
	for _, match := range []string{all, fmt.Sprintf(`"%s"/1`, all)} {
		rows, err := e.db.QueryContext(ctx, fmt.Sprintf("SELECT id, WEIGHT()*prior AS s FROM movies WHERE MATCH('%s') ORDER BY s DESC LIMIT 10 OPTION ranker=bm25, field_weights=(%s)",
			match, strings.Join(weights, ", ")))
		if err != nil {
			return 0, err
		}
		found = 0
		for rows.Next() {
			found++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, err
		}
		if found >= 10 || len(ws) == 1 {
			break
		}
	}
	return found, nil
}

func (e *sphinxEngine) close() {
	if e.db != nil {
		e.db.Close()
	}
	_ = e.cmd.Process.Signal(os.Interrupt)
	waitOrKill(e.cmd.Process, e.done, 10*time.Second)
}

// worstRatio is the largest Marquee ÷ peer CPU-ms over the classes, and its class; ok is false when the
// peer was not measured.
func (p *peerResult) worstRatio(peer string) (worst float64, class string, ok bool) {
	theirs, found := p.cost[peer]
	if !found {
		return 0, "", false
	}
	for i, c := range p.classes {
		if r := p.cost["marquee"][i].cpuMs / theirs[i].cpuMs; r > worst || class == "" {
			worst, class = r, c.name
		}
	}
	return worst, class, true
}

// markdown is the comparison's table: CPU-ms a query by class for each engine, the ratios, and each
// engine's slowest query of the class.
func (p *peerResult) markdown() string {
	var b strings.Builder
	engines := []string{"marquee"}
	for _, name := range peerNames {
		if _, ok := p.cost[name]; ok {
			engines = append(engines, name)
		}
	}
	fmt.Fprintf(&b, "\nPeers on the same %dk catalog and queries, one client, CPU-ms a query of each engine's server process "+
		"(Marquee through its gateway; Xapian's Python server; Sphinx's searchd over SphinxQL), and each engine's slowest query of the class as its client waited:\n\n", p.count/1000)
	b.WriteString("| class | queries |")
	for _, e := range engines {
		fmt.Fprintf(&b, " %s CPU-ms |", title(e))
	}
	for _, e := range engines[1:] {
		fmt.Fprintf(&b, " Marquee ÷ %s |", title(e))
	}
	for _, e := range engines {
		fmt.Fprintf(&b, " slowest, %s |", title(e))
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", 2+2*len(engines)+len(engines)-1) + "\n")
	for i, c := range p.classes {
		fmt.Fprintf(&b, "| %s | %d |", c.name, p.cost["marquee"][i].queries)
		for _, e := range engines {
			fmt.Fprintf(&b, " %.2f |", p.cost[e][i].cpuMs)
		}
		for _, e := range engines[1:] {
			fmt.Fprintf(&b, " %.2f |", p.cost["marquee"][i].cpuMs/p.cost[e][i].cpuMs)
		}
		for _, e := range engines {
			cc := p.cost[e][i]
			fmt.Fprintf(&b, " %s %q |", ms(cc.slowest), cc.slowestQ)
		}
		b.WriteString("\n")
	}
	for _, e := range engines[1:] {
		empty := 0
		for _, cc := range p.cost[e] {
			empty += cc.empty
		}
		fmt.Fprintf(&b, "%s: index built in %s; %d queries found nothing.", title(e), p.build[e].Round(time.Second), empty)
		b.WriteString(" ")
	}
	for e, why := range p.skipped {
		fmt.Fprintf(&b, "%s not measured: %s. ", title(e), why)
	}
	b.WriteString("\n")
	return b.String()
}

// title is an engine's name as the report writes it.
func title(engine string) string {
	return map[string]string{"marquee": "Marquee", "xapian": "Xapian", "sphinx": "Sphinx"}[engine]
}
