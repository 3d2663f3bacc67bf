package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/freeport"
	"marquee/pkg/ingest"
	"marquee/pkg/natsx"
	"marquee/pkg/natsx/natsembed"
)

// The scatter-gather's cost (-shard-nodes N): a stream partitioned N ways, N search processes of one
// partition each (each asking the others what the whole catalog holds) behind a gateway that merges their
// answers, against one search process of every movie behind a gateway of its own, on the same catalog and
// queries. The searches of a class go to one side, then the other, for Rounds rounds; a side's CPU is its
// processes' (the gateway's included) over the class, divided by the searches.

// shardNodesResult is a class's cost on each side.
type shardNodesResult struct {
	class               string
	queries             int
	oneCPU, shardsCPU   float64 // CPU-ms a search
	oneP50, shardsP50   time.Duration
	oneSlow, shardsSlow time.Duration // the slowest search
	differentTotals     int           // searches whose totals differ between the sides
}

func runShardNodes(ctx context.Context, o options, w io.Writer) error {
	o.defaults()
	log := newLog(w)
	root, err := findRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "marquee-shards-")
	if err != nil {
		return err
	}
	if o.Keep {
		log("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := o.Marquee
	if bin == "" {
		log("building marquee")
		if bin, err = build(ctx, root, "cmd/marquee", tmp); err != nil {
			return err
		}
	}
	from := o.From
	if !filepath.IsAbs(from) {
		from = filepath.Join(root, from)
	}
	catalog := filepath.Join(tmp, "catalog.jsonl")
	log("generating %d movies", o.Count)
	cmd := exec.CommandContext(ctx, bin, "gen", "--count", strconv.Itoa(o.Count), "--random-seed", strconv.FormatInt(o.Seed, 10),
		"--from", from, "--out", catalog)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("marquee gen: %v\n%s", err, out)
	}
	mix, err := buildQueries(catalog, o.Small, uint64(o.Seed), o.PerClass)
	if err != nil {
		return err
	}

	ns, err := natsembed.Run(natsembed.Options{StoreDir: filepath.Join(tmp, "nats"), Listen: true})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	stream := events.Stream{Name: "MARQUEE", Prefix: "catalog", Partitions: o.ShardNodes}
	log("publishing %d movies to a stream of %d partitions", o.Count, o.ShardNodes)
	t0 := time.Now()
	if err := publishCatalog(ctx, ns.ClientURL(), stream, catalog); err != nil {
		return err
	}
	log("published in %s", time.Since(t0).Round(time.Second))

	const token = "bench-internal-token-0123456789abcdef"
	addrs := make([]string, o.ShardNodes)
	urls := make([]string, o.ShardNodes)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return err
		}
		urls[i] = "http://" + addrs[i]
	}
	common := []string{"--nats-url", ns.ClientURL(), "--stream", stream.Name, "--subject-prefix", stream.Prefix,
		"--stream-partitions", strconv.Itoa(o.ShardNodes), "--internal-token", token, "--log-level", "warn"}
	var shards []*server
	for i, addr := range addrs {
		args := append([]string{"search", "--addr", addr, "--data-dir", filepath.Join(tmp, "shard"+strconv.Itoa(i)),
			"--partition", strconv.Itoa(i), "--peers", strings.Join(slices.Delete(slices.Clone(urls), i, i+1), ",")}, common...)
		s, err := startProcess(ctx, bin, "shard "+strconv.Itoa(i), addr, args...)
		if err != nil {
			return err
		}
		defer s.stop()
		shards = append(shards, s)
	}
	wholeAddr, err := freeAddr()
	if err != nil {
		return err
	}
	// The result cache is off: each search is computed, as a shard's always is.
	whole, err := startProcess(ctx, bin, "one index", wholeAddr, append([]string{"search", "--addr", wholeAddr,
		"--data-dir", filepath.Join(tmp, "whole"), "--cache-bytes", "0"}, common...)...)
	if err != nil {
		return err
	}
	defer whole.stop()
	gateway := func(name string, backend ...string) (*server, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		return startProcess(ctx, bin, name, addr, append([]string{"gateway", "--addr", addr, "--catalog-url", "http://" + wholeAddr,
			"--rate-limit", "off", "--internal-token", token, "--log-level", "warn"}, backend...)...)
	}
	gwShards, err := gateway("gateway of the shards", "--search-shards", strings.Join(urls, ","))
	if err != nil {
		return err
	}
	defer gwShards.stop()
	gwOne, err := gateway("gateway of one index", "--search-url", "http://"+wholeAddr)
	if err != nil {
		return err
	}
	defer gwOne.stop()

	client := newClient(1)
	log("indexing: %d shards and one index of every movie", o.ShardNodes)
	t0 = time.Now()
	for _, gw := range []*server{gwOne, gwShards} {
		if err := waitTotal(ctx, client, gw, o.Count, o.IngestTimeout); err != nil {
			return err
		}
	}
	log("indexed in %s", time.Since(t0).Round(time.Second))
	// Every index at rest (the first idle second can come before the merges of the last segments), then
	// the gateways idle: a class measured while an index merges measures the merge.
	for _, s := range append(slices.Clone(shards), whole) {
		s.settleIndex(ctx, o.settleLimit, 2, func(ctx context.Context) (int, error) { return metricsSegments(ctx, client, s.base) })
	}
	for _, s := range []*server{gwShards, gwOne} {
		s.settle(ctx, o.settleLimit)
	}

	sides := []struct {
		gw    *server
		procs []*server
	}{{gwOne, []*server{whole, gwOne}}, {gwShards, append(slices.Clone(shards), gwShards)}}
	// Both sides warmed up by free-text searches that no class sends: the first class measured would
	// otherwise pay for each process's first reads of its index.
	for _, u := range mix.Text[min(o.PerClass, len(mix.Text)):min(o.PerClass+50, len(mix.Text))] {
		for _, sd := range sides {
			if err := get(ctx, client, sd.gw.base+u); err != nil {
				return fmt.Errorf("warm-up %s: %w", u, err)
			}
		}
	}
	classes, names := shardClasses(mix)
	var results []shardNodesResult
	for c, queries := range classes {
		r := shardNodesResult{class: names[c], queries: len(queries)}
		var cpu [2]float64
		var lat [2][]time.Duration
		totals := make([][2]uint64, len(queries))
		for round := 0; round < o.Rounds; round++ {
			for side, sd := range sides {
				before := 0.0
				for _, p := range sd.procs {
					before += p.cpuSeconds()
				}
				for i, q := range queries {
					start := time.Now()
					total, err := answerSize(ctx, client, sd.gw.base+q)
					if err != nil {
						return err
					}
					lat[side] = append(lat[side], time.Since(start))
					totals[i][side] = total
				}
				after := 0.0
				for _, p := range sd.procs {
					after += p.cpuSeconds()
				}
				cpu[side] += after - before
			}
		}
		n := float64(len(queries) * o.Rounds)
		r.oneCPU, r.shardsCPU = cpu[0]*1000/n, cpu[1]*1000/n
		for side := range lat {
			slices.Sort(lat[side])
		}
		r.oneP50, r.shardsP50 = lat[0][len(lat[0])/2], lat[1][len(lat[1])/2]
		r.oneSlow, r.shardsSlow = lat[0][len(lat[0])-1], lat[1][len(lat[1])-1]
		for _, t := range totals {
			if t[0] != t[1] {
				r.differentTotals++
			}
		}
		results = append(results, r)
		log("%s: %.2f CPU-ms one index, %.2f shards (%.2f×)", r.class, r.oneCPU, r.shardsCPU, r.shardsCPU/r.oneCPU)
	}
	fmt.Fprint(w, shardNodesTable(o, results))
	return nil
}

func shardNodesTable(o options, rs []shardNodesResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d movies, %d shard processes on this machine, %d rounds of %d searches a class (%s)\n\n", o.Count, o.ShardNodes, o.Rounds, o.PerClass,
		time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| class | CPU-ms a search, one index | CPU-ms a search, shards | ratio | p50 one / shards (ms) | slowest one / shards (ms) | totals differing |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f× | %s / %s | %s / %s | %d of %d |\n", r.class, r.oneCPU, r.shardsCPU, r.shardsCPU/r.oneCPU,
			ms(r.oneP50), ms(r.shardsP50), ms(r.oneSlow), ms(r.shardsSlow), r.differentTotals, r.queries)
	}
	return b.String()
}

func freeAddr() (string, error) {
	port, err := freeport.Port()
	return "127.0.0.1:" + strconv.Itoa(port), err
}

// startProcess runs `marquee args…` listening at addr.
func startProcess(ctx context.Context, bin, name, addr string, args ...string) (*server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	s := &server{name: name, cmd: cmd, base: "http://" + addr, out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

// waitTotal waits until a search through gw finds every movie.
func waitTotal(ctx context.Context, client *http.Client, gw *server, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		total, err := answerSize(ctx, client, gw.base+"/v1/movies?per_page=1")
		if err == nil && total == uint64(want) {
			return nil
		}
		select {
		case <-gw.done:
			return fmt.Errorf("%s exited:\n%s", gw.name, gw.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d movies found after %s, want %d (%v)", gw.name, total, limit, want, err)
		}
	}
}

// answerSize is the total of the search GET u, or the number of suggestions it gives.
func answerSize(ctx context.Context, client *http.Client, u string) (uint64, error) {
	status, body, err := fetch(ctx, client, u)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %.512s", u, status, body)
	}
	var res struct {
		Total       uint64            `json:"total"`
		Suggestions []json.RawMessage `json:"suggestions"`
	}
	err = json.Unmarshal(body, &res)
	return res.Total + uint64(len(res.Suggestions)), err
}

// shardClasses are the standard mix's classes and two that the merge answers otherwise: free text sorted by
// year (the movies of a year in the order of their scores) and suggestions for the prefix class's texts.
func shardClasses(mix *queryMix) ([][]string, []string) {
	var sorted, suggest []string
	for _, q := range mix.Text[:min(mix.perClass, len(mix.Text))] {
		sorted = append(sorted, q+"&sort=-year")
	}
	for _, q := range mix.Prefix[:min(mix.perClass, len(mix.Prefix))] {
		suggest = append(suggest, "/v1/suggest?"+q[strings.Index(q, "q="):])
	}
	return append(mix.classes(), sorted, suggest), append(slices.Clone(classNames), "free text by year", "suggest")
}

// fetch is the status and body of GET u.
func fetch(ctx context.Context, client *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// publishCatalog publishes every movie of the catalog file to stream, which it creates, as the catalog would.
func publishCatalog(ctx context.Context, natsURL string, stream events.Stream, path string) error {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		return err
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := int64(0)
	err = ingest.ReadFile(path, func(rec ingest.Record) error {
		if rec.Err != nil {
			return rec.Err
		}
		id++
		m := rec.Movie
		m.FillLists()
		m.ID, m.Version, m.CreatedAt, m.UpdatedAt = id, 1, at, at
		b, err := (&events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: id, Version: 1, OccurredAt: at, Movie: &m}).Marshal()
		if err != nil {
			return err
		}
		_, err = js.PublishAsync(stream.Subject(id), b, jetstream.WithMsgID(events.MsgID(id, 1)))
		return err
	})
	if err != nil {
		return err
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// metricsSegments is the marquee_index_segments metric of the search process at base.
func metricsSegments(ctx context.Context, client *http.Client, base string) (int, error) {
	return segmentsIn(fetch(ctx, client, base+"/metrics"))
}
