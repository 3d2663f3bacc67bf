package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runBench runs every measurement of the report in one go.
func runBench(ctx context.Context, o options, w io.Writer) (*report, error) {
	o.defaults()
	log := newLog(w)
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "marquee-bench-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		log("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	rep := newReport(o, root)
	from := o.From
	if !filepath.IsAbs(from) {
		from = filepath.Join(root, from)
	}

	// Binaries and catalogs.
	bin := o.Marquee
	if bin == "" {
		log("building marquee")
		if bin, err = build(ctx, root, "cmd/marquee", tmp); err != nil {
			return nil, err
		}
	}
	helloBin, err := build(ctx, root, "tools/bench/hello", tmp)
	if err != nil {
		return nil, err
	}
	// One catalog file: movie i depends only on the seed and i, so the small catalog is its first o.Small
	// movies, and one query mix, drawn from those, finds its movies at both sizes.
	catalog := filepath.Join(tmp, "catalog.jsonl")
	log("generating %d movies", o.Count)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, bin, "gen", "--count", strconv.Itoa(o.Count), "--random-seed", strconv.FormatInt(o.Seed, 10),
		"--from", from, "--out", catalog)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("marquee gen: %v\n%s", err, out)
	}
	rep.genRate = float64(o.Count) / time.Since(t0).Seconds()
	mix, err := buildQueries(catalog, o.Small, uint64(o.Seed), o.PerClass)
	if err != nil {
		return nil, err
	}
	standard, standardClass := mix.mixed()

	// One server takes both catalogs: the small one first (ingest, the standard mix's latency, memory), then
	// the rest of the large one, whose first movies the small one is. Before each measurement the server
	// settles: the index merges the segments of an import for a while after it is searchable, and the
	// measurements compare the two sizes at rest.
	log("starting marquee")
	srv, err := startMarquee(ctx, bin, filepath.Join(tmp, "data"), o.Shards)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rep.memBase, _ = srv.memory()
	log("small catalog: importing %d movies", o.Small)
	cpu0 := srv.cpuSeconds()
	if rep.ingestSmall, err = srv.importFile(ctx, catalog, 0, o.Small, 10_000, o.ImportClients, o.IngestTimeout); err != nil {
		return nil, fmt.Errorf("small catalog: %w", err)
	}
	rep.ingestCPU = srv.cpuSeconds() - cpu0
	log("small catalog: %s", rep.ingestSmall)
	rep.settleSmall, _ = srv.settle(ctx, o.settleLimit)
	rep.segmentsSmall = srv.segmentsOrUnknown(ctx)
	if rep.mixSmall, err = sequential(ctx, srv.http, srv.base, standard, o.mixSamples, o.Duration*4); err != nil {
		return nil, err
	}
	rep.memSmall, _ = srv.memory()

	log("large catalog: importing the other %d movies", o.Count-o.Small)
	cpu0 = srv.cpuSeconds()
	rest, err := srv.importFile(ctx, catalog, o.Small, o.Count, 10_000, o.ImportClients, o.IngestTimeout)
	if err != nil {
		return nil, fmt.Errorf("large catalog: %w", err)
	}
	rep.ingestCPU += srv.cpuSeconds() - cpu0
	rep.ingestLarge = rep.ingestSmall.then(rest)
	log("large catalog: %s", rep.ingestLarge)
	var settled bool
	if rep.settleLarge, settled = srv.settle(ctx, o.settleLimit); !settled {
		log("large catalog: still busy after %s; measuring anyway", rep.settleLarge.Round(time.Second))
	}
	rep.segmentsLarge = srv.segmentsOrUnknown(ctx)
	// The same queries as at the small size, in the same order, so that the two medians compare alike. A run
	// stopped by its time bound at 1M sends only the first part of them: the medians and the class table
	// compare the queries answered at both sizes (bothSizes, byClass).
	if rep.mixLarge, err = sequential(ctx, srv.http, srv.base, standard, rep.mixSmall.requests, o.Duration*8); err != nil {
		return nil, err
	}
	rep.classes = byClass(standardClass, rep.mixSmall, rep.mixLarge)

	// Throughput ratios: hello, text, faceted; interleaved rounds, medians.
	hello, err := start(ctx, "hello", helloBin, nil)
	if err != nil {
		return nil, err
	}
	defer hello.stop()
	client := newClient(o.Concurrency)
	spec := loadSpec{Concurrency: o.Concurrency, Duration: o.Duration}
	// Every run goes on where the one before stopped in the text and facet queries, so no run is answered
	// from the result cache by the queries of an earlier one.
	text, facet := &unsent{urls: mix.Text}, &unsent{urls: mix.Facet}
	for round := 1; round <= o.Rounds; round++ {
		log("throughput round %d of %d", round, o.Rounds)
		for _, run := range []struct {
			base string
			urls *unsent
			into *[]*loadResult
			cpu  *[]float64
		}{
			{hello.base, &unsent{urls: []string{"/"}}, &rep.helloRuns, nil},
			{srv.base, text, &rep.textRuns, &rep.textCPUms},
			{srv.base, facet, &rep.facetRuns, &rep.facetCPUms},
		} {
			c0 := srv.cpuSeconds()
			res, err := runLoad(ctx, client, run.base, run.urls.next(), spec)
			if err != nil {
				return nil, err
			}
			run.urls.sent(res.requests)
			*run.into = append(*run.into, res)
			if run.cpu != nil {
				*run.cpu = append(*run.cpu, 1000*(srv.cpuSeconds()-c0)/float64(res.requests))
			}
		}
	}
	rep.memLarge, _ = srv.memory()

	// Tail at half of peak: open loop, coordinated-omission-safe.
	peak := median(qpsOf(rep.textRuns))
	rep.tailRate = peak / 2
	log("tail: %.0f QPS open loop", rep.tailRate)
	if rep.tail, err = runLoad(ctx, client, srv.base, text.next(), loadSpec{
		Concurrency: o.Concurrency * 4, Rate: rep.tailRate, Duration: o.tailDuration, MaxRequests: o.tailRequestBound,
	}); err != nil {
		return nil, err
	}
	text.sent(rep.tail.requests)

	// Write-to-searchable lag under search load.
	log("lag: %.0f writes/s under %.0f QPS of search", o.WriteRate, rep.tailRate)
	if rep.lag, err = measureLag(ctx, srv, text.next(), o.WriteRate, rep.tailRate, o.Duration*2, o.lagWrites); err != nil {
		return nil, err
	}
	text.sent(rep.lag.searches)
	// The index's size at rest, after the lag run's writes: Bleve deletes the files of merged-away segments
	// only at a later persist, once no search holds them, so right after the import the folder could hold a
	// merge's inputs next to its output (4.2 KB a movie instead of 2.6 in a 400k run).
	srv.settle(ctx, o.settleLimit)
	rep.indexBytes = dirBytes(filepath.Join(srv.dataDir, "search"))
	rep.streamBytes = dirBytes(filepath.Join(srv.dataDir, "nats"))
	rep.dataBytes = dirBytes(srv.dataDir)

	// MariaDB FULLTEXT and GROUP BY on the same catalog.
	if o.MySQL != "" {
		if err := compareMariaDB(ctx, o, log, rep, srv, catalog, mix, text.at); err != nil {
			// Everything before it was measured: print it (the document is not updated).
			srv.stop()
			rep.finish()
			return rep, fmt.Errorf("MariaDB comparison: %w", err)
		}
	}
	// A new replica's rebuild from the stream, once every other figure of the index above is taken; the peers'
	// comparison then measures the rebuilt index, settled as the imported one was.
	log("rebuild of the search index from the stream")
	if rep.rebuild, err = srv.rebuild(ctx, o.IngestTimeout); err != nil {
		// Everything before it was measured: print it (the document is not updated).
		srv.stop()
		rep.finish()
		return rep, fmt.Errorf("rebuild: %w", err)
	}
	log("rebuild: %d movies in %s", rep.rebuild.movies, rep.rebuild.duration.Round(time.Millisecond))
	srv.settle(ctx, o.settleLimit)

	// Xapian and Sphinx on the same catalog and queries; Marquee first, then stopped for the peers' turn.
	if len(o.peers()) > 0 {
		peerMix, err := buildQueries(catalog, o.Small, uint64(o.Seed)+1, o.PerClass)
		if err == nil {
			rep.peers, err = comparePeers(ctx, o, log, srv, catalog, peerMix, tmp)
		}
		if err != nil {
			srv.stop()
			rep.finish()
			return rep, fmt.Errorf("peers: %w", err)
		}
	}
	srv.stop()

	// The search service alone, a split deployment's process, over the index and stream the all-in-one left.
	// A failure leaves its row unmeasured rather than losing the run.
	log("search process alone")
	if rep.alone, err = measureSearchAlone(ctx, bin, srv.dataDir, o.Shards, standard, rep.mixSmall.requests, o.Duration*8,
		text.next(), spec); err != nil {
		log("search process alone: %v", err)
		rep.alone = nil
	}
	rep.finish()
	return rep, nil
}

// unsent walks a list of queries across runs: each run starts at the first query the runs before it did not
// send (runLoad sends urls[i % len] in order).
type unsent struct {
	urls []string
	at   int
}

// next is the list rotated to start at the first unsent query.
func (u *unsent) next() []string {
	at := u.at % len(u.urls)
	return append(slices.Clip(u.urls[at:]), u.urls[:at]...)
}

// sent records that a run sent n more queries.
func (u *unsent) sent(n int) { u.at += n }

// sequential sends urls one at a time (a single closed-loop worker), at most n of them or for d, and keeps
// each one's latency.
func sequential(ctx context.Context, c *http.Client, base string, urls []string, n int, d time.Duration) (*loadResult, error) {
	return runLoad(ctx, c, base, urls, loadSpec{Concurrency: 1, Duration: d, MaxRequests: n, Each: true})
}

func qpsOf(runs []*loadResult) []float64 {
	var out []float64
	for _, r := range runs {
		out = append(out, r.qps())
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// lagResult is the write-to-searchable run.
type lagResult struct {
	writes, lost, late  int // late: visible, but after the 10 s the run waits; lost: not visible within a minute
	fromAck, fromSend   latencies
	searchQPS           float64
	searches            int // background searches sent
	writeErrors, polled int
}

// measureLag creates movies at rate writes/s through the gateway while search runs at searchRate (open
// loop), and reads each back with GET /v1/movies/{id}?min_version=V (search's read model), which waits on
// the server until the index holds the version (read-your-writes), so the probe adds no polling load. The
// lag of a write is the time from its 201 answer (fromAck) — and from its sending (fromSend) — until the
// read that sees it answers. A write not visible after 10 s is late; after a further minute, lost.
func measureLag(ctx context.Context, m *marquee, searchURLs []string, rate, searchRate float64, d time.Duration, maxWrites int) (*lagResult, error) {
	res := &lagResult{}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var bg *loadResult
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		bg, _ = runLoad(loadCtx, newClient(32), m.base, searchURLs, loadSpec{Concurrency: 32, Rate: searchRate, Duration: d + 15*time.Second})
	}()
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	var lost, werrs, polls atomic.Int64
	var unseenMu sync.Mutex
	type probe struct { // a write not visible within 10 s
		path        string
		version     int64
		sent, acked time.Time
	}
	var unseenProbes []probe
	started := time.Now()
	for n := 0; n < maxWrites && time.Since(started) < d; n++ {
		if wait := time.Until(started.Add(time.Duration(n) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			body := fmt.Sprintf(`{"title":"Lag probe %d qzx%d","year":2001,"genres":["Drama"],"overview":"A write-to-searchable probe of the benchmark.","rating":6.5}`, n, started.UnixNano()%1e6)
			sent := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.base+"/v1/movies", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+m.token)
			resp, err := m.http.Do(req)
			if err != nil {
				werrs.Add(1)
				return
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			acked := time.Now()
			var mv struct {
				ID      int64 `json:"id"`
				Version int64 `json:"version"`
			}
			if resp.StatusCode != http.StatusCreated || json.Unmarshal(answer, &mv) != nil || mv.ID == 0 {
				werrs.Add(1)
				return
			}
			if v, err := strconv.ParseInt(strings.Trim(resp.Header.Get("ETag"), `"`), 10, 64); err == nil && v > 0 {
				mv.Version = v
			}
			path := fmt.Sprintf("/v1/movies/%d", mv.ID)
			for time.Since(acked) < 10*time.Second {
				polls.Add(1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s?min_version=%d", m.base, path, max(mv.Version, 1)), nil)
				if resp, err := m.http.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					v, _ := strconv.ParseInt(strings.Trim(resp.Header.Get("ETag"), `"`), 10, 64)
					if resp.StatusCode == http.StatusOK && v >= max(mv.Version, 1) {
						seen := time.Now()
						res.fromAck.add(seen.Sub(acked))
						res.fromSend.add(seen.Sub(sent))
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
			unseenMu.Lock()
			unseenProbes = append(unseenProbes, probe{path, max(mv.Version, 1), sent, acked})
			unseenMu.Unlock()
		})
		res.writes++
	}
	wg.Wait()
	stopLoad()
	<-bgDone
	// A write not visible within 10 s is late; one still not visible a minute after the run is lost.
	deadline := time.Now().Add(time.Minute)
	for _, p := range unseenProbes {
		for {
			resp, err := m.http.Get(m.base + p.path)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if v, _ := strconv.ParseInt(strings.Trim(resp.Header.Get("ETag"), `"`), 10, 64); resp.StatusCode == http.StatusOK && v >= p.version {
					res.late++
					res.fromAck.add(time.Since(p.acked)) // within the 100 ms of this poll
					res.fromSend.add(time.Since(p.sent))
					break
				}
			}
			if time.Now().After(deadline) {
				lost.Add(1)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if bg != nil {
		res.searchQPS, res.searches = bg.qps(), bg.requests
	}
	res.lost, res.writeErrors, res.polled = int(lost.Load()), int(werrs.Load()), int(polls.Load())
	if res.fromAck.count() == 0 {
		return res, fmt.Errorf("lag: no write became visible (%d writes, %d errors)", res.writes, res.writeErrors)
	}
	return res, nil
}

// compareMariaDB loads the large catalog into a fresh MariaDB database and measures, interleaved round by
// round, the same text searches and browse facet counts on both, each end to end from this client.
func compareMariaDB(ctx context.Context, o options, log logf, rep *report, m *marquee, file string, mix *queryMix, from int) error {
	db, err := openMariaDB(ctx, o.MySQL)
	if err != nil {
		return err
	}
	defer db.close()
	log("MariaDB: loading %d movies and building the FULLTEXT index", o.Count)
	if rep.mariaLoad, err = db.load(ctx, file); err != nil {
		return err
	}
	log("MariaDB: loaded in %s", rep.mariaLoad.Round(time.Second))
	timed := func(into *latencies, fn func() error) error {
		t0 := time.Now()
		if err := fn(); err != nil {
			return err
		}
		into.add(time.Since(t0))
		return nil
	}
	// MariaDB's FULLTEXT takes seconds for a common word at 1M movies: a round stops at its time budget
	// once it has a few samples, so that the whole bench stays bounded. At 1M a round ends with its 5-8 text
	// and 3-4 browse samples a side, 15-25 and 9-12 over the three rounds; the medians they compare differ
	// tenfold and more.
	n := o.latencySamples
	textBudget, browseBudget := 2*o.Duration, o.Duration
	const minSamples = 5
	for round := 1; round <= o.Rounds; round++ {
		log("MariaDB round %d of %d", round, o.Rounds)
		started := time.Now()
		for i := range n {
			if i >= minSamples && time.Since(started) > textBudget {
				break
			}
			k := (from + (round-1)*n + i) % len(mix.TextWords) // from: the first query no earlier run sent
			if err := timed(&rep.mqText, func() error { return get(ctx, m.http, m.base+mix.Text[k]) }); err != nil {
				return err
			}
			if err := timed(&rep.dbText, func() error { return db.text(ctx, mix.TextWords[k]) }); err != nil {
				return err
			}
			if i%4 == 0 {
				if err := timed(&rep.mqFacet, func() error { return get(ctx, m.http, m.base+mix.Facet[k]) }); err != nil {
					return err
				}
				if err := timed(&rep.dbFacet, func() error { return db.textFacet(ctx, mix.TextWords[k]) }); err != nil {
					return err
				}
			}
		}
		started = time.Now()
		nb := max(n/10, 5)
		for i := range nb {
			if i >= 3 && time.Since(started) > browseBudget {
				break
			}
			// A page of its own in each round, as the cache would answer one asked again. (The standard mix sent
			// the first pages before the lag run's writes moved the index's checkpoint, so they are not cached.)
			k := ((round-1)*nb + i) % len(mix.Browse)
			if err := timed(&rep.mqBrowse, func() error { return get(ctx, m.http, m.base+mix.Browse[k]) }); err != nil {
				return err
			}
			if err := timed(&rep.dbBrowse, func() error { return db.browse(ctx) }); err != nil {
				return err
			}
		}
	}
	return nil
}
