package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// server is a process the bench started and stops: the all-in-one or the hello-world baseline.
type server struct {
	name string
	cmd  *exec.Cmd
	base string
	out  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{} // closed when the process has exited
}

var listenRE = regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)

// start runs bin with args and env and waits for the line that names its address.
func start(ctx context.Context, name, bin string, env []string, args ...string) (*server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: name, cmd: cmd, out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); pw.Close(); close(s.done) }()
	select {
	case s.base = <-found:
		return s, nil
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start:\n%s", name, s.output())
}

func (s *server) output() string { s.mu.Lock(); defer s.mu.Unlock(); return s.out.String() }

// Write keeps the first MB of a process's output, for output.
func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out.Len() < 1<<20 {
		s.out.Write(p)
	}
	return len(p), nil
}

// stop asks the process to end (SIGTERM) and kills it if it has not within 30 s.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	waitOrKill(s.cmd.Process, s.done, 30*time.Second)
}

// waitOrKill waits for a process asked to end to be done, and kills it if it is not within grace.
func waitOrKill(p *os.Process, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Kill()
		<-done
	}
}

// memory is a process's resident set: all of it, and its two parts: anonymous memory (the heap, the
// stacks: what the process needs) and pages of mapped files (the memory-mapped index segments: page cache
// that the kernel may drop and read back).
type memory struct{ rss, anon, file int64 }

// memory reads the process's resident set from /proc.
func (s *server) memory() (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	fields := map[string]*int64{"VmRSS:": &m.rss, "RssAnon:": &m.anon, "RssFile:": &m.file}
	for _, line := range strings.Split(string(b), "\n") {
		for name, dst := range fields {
			if v, ok := strings.CutPrefix(line, name); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return memory{}, fmt.Errorf("%s of %s: %w", name, s.name, err)
				}
				*dst = kb << 10
				delete(fields, name)
			}
		}
	}
	if len(fields) > 0 {
		return memory{}, fmt.Errorf("no VmRSS, RssAnon or RssFile for %s", s.name)
	}
	return m, nil
}

// cpuSeconds is the process's user + system CPU time so far.
func (s *server) cpuSeconds() float64 { return processCPU(s.cmd.Process.Pid) }

// processCPU is a process's user + system CPU time so far, all its threads, from /proc/<pid>/stat.
func processCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// settle waits until the server is idle: below a tenth of a core over a second, which an index still
// merging the segments of an import is not. It gives up after limit, and returns how long it waited and
// whether the server settled.
func (s *server) settle(ctx context.Context, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	last := s.cpuSeconds()
	for time.Since(start) < limit {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(time.Second):
		}
		now := s.cpuSeconds()
		if now-last < 0.1 {
			return time.Since(start), true
		}
		last = now
	}
	return time.Since(start), false
}

// dirBytes is the disk space the files under dir take (st_blocks, like du).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				}
			}
		}
		return nil
	})
	return n
}

// marquee is a running all-in-one and an admin API key for it.
type marquee struct {
	*server
	dataDir string
	token   string // an admin API key, sent as the bearer token
	http    *http.Client
	shards  int
}

// settle waits until the server is idle (see server.settle) with its index at rest: at most two segments a
// shard. The search service merges an index's segments once no change has come for a couple of seconds,
// which the first idle second after an import can precede; the measurements wait for that merge too.
func (m *marquee) settle(ctx context.Context, limit time.Duration) (time.Duration, bool) {
	return m.server.settleIndex(ctx, limit, 2*m.shards, m.segments)
}

// settleIndex waits until the server is idle (see settle) with at most most segments in its index, which
// segments counts.
func (s *server) settleIndex(ctx context.Context, limit time.Duration, most int, segments func(context.Context) (int, error)) (time.Duration, bool) {
	start := time.Now()
	for {
		if _, ok := s.settle(ctx, limit-time.Since(start)); !ok {
			return time.Since(start), false
		}
		if n, err := segments(ctx); err != nil || n <= most {
			return time.Since(start), true
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(time.Second):
		}
	}
}

// segments is the number of segments of the search index, every shard's (the marquee_index_segments
// metric).
func (m *marquee) segments(ctx context.Context) (int, error) {
	status, body, err := m.do(ctx, http.MethodGet, "/metrics", nil, nil)
	return segmentsIn(status, body, err)
}

// segmentsIn reads the marquee_index_segments metric from an answer to GET /metrics.
func segmentsIn(status int, body []byte, err error) (int, error) {
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("metrics: %d %v", status, err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "marquee_index_segments "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(n), err
		}
	}
	return 0, errors.New("metrics: no marquee_index_segments")
}

// segmentsOrUnknown is segments, or -1 if the server does not say.
func (m *marquee) segmentsOrUnknown(ctx context.Context) int {
	n, err := m.segments(ctx)
	if err != nil {
		return -1
	}
	return n
}

// startMarquee starts `marquee serve` with no seed, no rate limits and an admin for the bench.
func startMarquee(ctx context.Context, bin, dataDir string, shards int) (*marquee, error) {
	password := rand.Text()
	s, err := start(ctx, "marquee serve", bin, []string{
		"MARQUEE_RATE_LIMIT=off", "MARQUEE_ADMIN_USERNAME=bench", "MARQUEE_ADMIN_PASSWORD=" + password, "MARQUEE_LOG_LEVEL=warn",
		"MARQUEE_INDEX_SHARDS=" + strconv.Itoa(shards),
	}, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--seed", "")
	if err != nil {
		return nil, err
	}
	m := &marquee{server: s, dataDir: dataDir, http: newClient(64), shards: shards}
	body, _ := json.Marshal(map[string]string{"username": "bench", "password": password})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, answer, err := m.do(ctx, http.MethodPost, "/v1/auth/token", body, nil)
		if err == nil && status == http.StatusOK && json.Unmarshal(answer, &tok) == nil && tok.AccessToken != "" {
			break
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("log in to marquee: %d %s %v", status, answer, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.token = tok.AccessToken
	// An access token expires long before a 1M-movie run ends; an API key does not.
	status, answer, err := m.do(ctx, http.MethodPost, "/v1/keys", []byte(`{"name":"bench","role":"admin"}`), nil)
	var key struct {
		Key string `json:"key"`
	}
	if err != nil || status != http.StatusCreated || json.Unmarshal(answer, &key) != nil || key.Key == "" {
		s.stop()
		return nil, fmt.Errorf("create an API key: %d %s %v", status, answer, err)
	}
	m.token = key.Key
	return m, nil
}

// importRequestTimeout bounds one import request (the bench's other requests have the client's 30 s).
const importRequestTimeout = 5 * time.Minute

func (m *marquee) do(ctx context.Context, method, path string, body []byte, header map[string]string) (int, []byte, error) {
	return m.doWith(ctx, m.http, method, path, body, header)
}

func (m *marquee) doWith(ctx context.Context, client *http.Client, method, path string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// indexed reports how many movies search holds and whether its index has caught up with the stream.
func (m *marquee) indexed(ctx context.Context) (total uint64, current bool, err error) {
	// no-cache: the index as it is, not an answer from the result cache a few seconds old (cache_max_age).
	status, answer, err := m.do(ctx, http.MethodGet, "/v1/movies?per_page=1", nil, map[string]string{"Cache-Control": "no-cache"})
	if err != nil {
		return 0, false, err
	}
	if status != http.StatusOK {
		return 0, false, fmt.Errorf("search: %d %s", status, answer)
	}
	var res struct {
		Total uint64 `json:"total"`
		Index struct {
			Lag     uint64 `json:"lag"`
			Current bool   `json:"current"`
		} `json:"index"`
	}
	err = json.Unmarshal(answer, &res)
	return res.Total, res.Index.Lag == 0, err
}

// rebuildResult is what a rebuild of the search index from the stream measured.
type rebuildResult struct {
	movies   uint64
	duration time.Duration // as the search service timed it, from the start to the swap
}

func (r *rebuildResult) rate() float64 { return float64(r.movies) / r.duration.Seconds() }

// rebuild builds the search index again from the stream (POST /v1/index/rebuild: what a new search replica
// does, beside the live index, which keeps serving) and waits, asking once a second, until it is done.
func (m *marquee) rebuild(ctx context.Context, timeout time.Duration) (*rebuildResult, error) {
	status, answer, err := m.do(ctx, http.MethodPost, "/v1/index/rebuild", nil, nil)
	if err != nil || status != http.StatusAccepted {
		return nil, fmt.Errorf("start a rebuild: %d %s %v", status, answer, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
		status, answer, err := m.do(ctx, http.MethodGet, "/v1/index/rebuild", nil, nil)
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("follow the rebuild: %d %s %v", status, answer, err)
		}
		var st struct {
			State      string `json:"state"`
			Movies     uint64 `json:"movies"`
			Error      string `json:"error"`
			DurationMS int64  `json:"duration_ms"`
		}
		if err := json.Unmarshal(answer, &st); err != nil {
			return nil, fmt.Errorf("follow the rebuild: %s", answer)
		}
		switch {
		case st.State == "done":
			return &rebuildResult{movies: st.Movies, duration: time.Duration(st.DurationMS) * time.Millisecond}, nil
		case st.State == "failed":
			return nil, fmt.Errorf("the rebuild failed: %s", st.Error)
		case time.Now().After(deadline):
			return nil, fmt.Errorf("the rebuild is still %s after %s", st.State, timeout)
		}
	}
}

// ingestResult is what an import measured.
type ingestResult struct {
	movies   int
	accepted time.Duration // until the catalog answered every import request
	// slowestRequest is the longest an import request took to be answered
	slowestRequest time.Duration
	indexed        time.Duration // until search held every movie
}

// importFile sends records [from, to) of the JSON Lines file at path through POST /v1/imports in batches
// of batchSize from clients concurrent clients, then waits until search holds to movies (the server holds
// the first from already).
func (m *marquee) importFile(ctx context.Context, path string, from, to, batchSize, clients int, timeout time.Duration) (*ingestResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	batches := make(chan []byte, clients)
	errc := make(chan error, clients+1)
	startAt := time.Now()
	// An import request of batchSize records waits behind the other clients' for the catalog's one writer,
	// and shares the cores with the indexer: it may take far longer than a search. A client that gave up
	// on it while the catalog went on would find the retry refused (409: its Idempotency-Key still in
	// progress) until the first attempt ends.
	client := *m.http
	client.Timeout = importRequestTimeout
	report := func(err error) { // the first few errors are enough, and a full channel must not stall a client
		select {
		case errc <- err:
		default:
		}
	}
	var wg sync.WaitGroup
	var slowest atomic.Int64 // nanoseconds, of a successful request
	for c := range clients {
		wg.Go(func() {
			for n := 0; ; n++ {
				body, ok := <-batches
				if !ok {
					return
				}
				key := fmt.Sprintf("bench-%d-%d-%d", startAt.UnixNano(), c, n)
				var failures []string
				for attempt := 1; ; attempt++ {
					sent := time.Now()
					status, answer, err := m.doWith(ctx, &client, http.MethodPost, "/v1/imports", body,
						map[string]string{"Content-Type": "application/x-ndjson", "Idempotency-Key": key})
					took := time.Since(sent)
					if err == nil && status == http.StatusOK {
						var sum struct{ Failed int }
						if json.Unmarshal(answer, &sum) == nil && sum.Failed > 0 {
							report(fmt.Errorf("import: %d records failed: %.300s", sum.Failed, answer))
						}
						for {
							old := slowest.Load()
							if int64(took) <= old || slowest.CompareAndSwap(old, int64(took)) {
								break
							}
						}
						break
					}
					failures = append(failures, fmt.Sprintf("attempt %d after %s: %d %.300s %v", attempt, took.Round(time.Millisecond), status, answer, err))
					if attempt >= 8 || ctx.Err() != nil {
						report(fmt.Errorf("import of batch %d of client %d failed:\n%s\nmarquee's last output:\n%s",
							n, c, strings.Join(failures, "\n"), lastLines(m.output(), 20)))
						break
					}
					time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
				}
			}
		})
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var buf bytes.Buffer
	n, movies := 0, 0
	for line := 0; line < to && sc.Scan(); line++ {
		if line < from {
			continue
		}
		buf.Write(sc.Bytes())
		buf.WriteByte('\n')
		n++
		movies++
		if n == batchSize {
			batches <- bytes.Clone(buf.Bytes())
			buf.Reset()
			n = 0
		}
	}
	if n > 0 {
		batches <- bytes.Clone(buf.Bytes())
	}
	close(batches)
	wg.Wait()
	res := &ingestResult{movies: movies, accepted: time.Since(startAt), slowestRequest: time.Duration(slowest.Load())}
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	deadline := startAt.Add(timeout)
	for {
		total, current, err := m.indexed(ctx)
		if err == nil && total >= uint64(to) && current {
			res.indexed = time.Since(startAt)
			return res, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("search holds %d of %d movies after %s (%v)", total, to, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// build compiles the Go package pkg (a path inside the workspace root) to a binary in dir.
func build(ctx context.Context, root, pkg, dir string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./"+pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}
