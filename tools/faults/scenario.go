package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// params size a scenario. The full profile is the nightly run; the short one is what `go test` runs.
type params struct {
	cycles  int           // fault cycles
	writers int           // concurrent writers
	load    time.Duration // load between faults (or in all, for scenarios without cycles)
	outage  time.Duration // how long a stopped or paused server stays down
	events  int           // chaos or malformed events
	clients int           // concurrent If-Match clients
	rounds  int           // If-Match rounds
}

// scenario is one fault-injection experiment.
type scenario struct {
	name  string
	goal  string // the numbered reliability goals it measures, as the Goal column of the results names them
	about string
	full  params
	short params
	run   func(ctx context.Context, s *session, p params) error
	// natsNodes is 3 for a scenario on a three-node JetStream cluster; 0 means one nats-server.
	natsNodes int
}

// result is what one scenario measured.
type result struct {
	name, goal string
	runs       int // fault cycles
	faults     int // faults injected: kills, pauses, stops, chaos and malformed messages
	v          verdict
	cycles     []time.Duration // time to converge after each healed fault
	timeouts   int             // cycles that did not converge within the probe timeout
	figures    []string        // scenario-specific figures
	gaps       []string        // what could not be checked or is missing in the system
	misses     []string        // goal figures not met (beyond the nothing-lost invariants)
	failures   []string        // invariants broken
	elapsed    time.Duration
	err        error
	// gateway /readyz samples from each fault to its recovery (readiness.report)
	readySeen, readyOK, readyDegraded int
}

func (r *result) passed() bool {
	return r.err == nil && len(r.failures) == 0 && r.v.lost() == 0 && r.v.duplicated == 0 && r.v.resurrected == 0 &&
		r.v.ahead == 0 && r.v.converged
}

// convergeTimes is every measured time to converge: each cycle's, and the final one.
func (r *result) convergeTimes() []time.Duration {
	ds := append([]time.Duration(nil), r.cycles...)
	if r.v.converged {
		ds = append(ds, r.v.converge)
	}
	slices.Sort(ds)
	return ds
}

// session is one scenario's run: its cluster, client, history and load.
type session struct {
	c    *cluster
	cl   *client
	h    *history
	reg  *registry
	res  *result
	logf func(string, ...any)

	probeTimeout time.Duration
	healed       time.Time

	loadDone chan struct{}
	wl       *workload
}

// startLoad starts the recorded write workload and returns once the writers have some movies to work on;
// stopLoad ends it.
func (s *session) startLoad(ctx context.Context, p params) {
	s.wl = &workload{cl: s.cl, h: s.h, reg: s.reg, tag: tagOf(s.res.name), writers: p.writers,
		pause: 20 * time.Millisecond, maxOps: 200_000, stop: make(chan struct{})}
	s.loadDone = make(chan struct{})
	go func() {
		defer close(s.loadDone)
		s.wl.run(ctx)
	}()
	for t0 := time.Now(); len(s.reg.ids()) < 4*p.writers && time.Since(t0) < 5*time.Second; {
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

func (s *session) stopLoad() {
	if s.wl == nil || isClosed(s.wl.stop) {
		return
	}
	close(s.wl.stop)
	<-s.loadDone
	s.figure("reads sampled %d: %d version regressions, %d 5xx, %d without answer",
		s.wl.reads.Load(), s.wl.regressed.Load(), s.wl.read5xx.Load(), s.wl.readErrs.Load())
	if n := s.wl.regressed.Load(); n > 0 {
		s.fail("%d reads saw a movie's version go backwards (monotonic reads)", n)
	}
}

// cycle records one healed fault: it probes until the writes acknowledged before the fault are indexed.
func (s *session) cycle(ctx context.Context, faultAt time.Time) {
	s.res.runs++
	s.healed = time.Now()
	d, ok := probe(ctx, s.cl, s.h, faultAt, s.healed, s.probeTimeout)
	s.res.cycles = append(s.res.cycles, d)
	if !ok {
		s.res.timeouts++
		s.logf("  cycle %d: writes acknowledged before the fault not indexed %s after the heal", s.res.runs, d.Round(time.Millisecond))
	}
}

func (s *session) figure(format string, args ...any) {
	s.res.figures = append(s.res.figures, fmt.Sprintf(format, args...))
}
func (s *session) gap(format string, args ...any) {
	s.res.gaps = append(s.res.gaps, fmt.Sprintf(format, args...))
}
func (s *session) miss(format string, args ...any) {
	s.res.misses = append(s.res.misses, fmt.Sprintf(format, args...))
}
func (s *session) fail(format string, args ...any) {
	s.res.failures = append(s.res.failures, fmt.Sprintf(format, args...))
}

// tagOf is a short prefix for the title tokens of a scenario: letters only, so a token stays one word.
func tagOf(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteByte(part[0])
		}
	}
	return "fz" + b.String()
}

// options are the suite's settings.
type options struct {
	marquee      string
	workDir      string
	keep         bool
	short        bool
	cycles       int           // overrides every scenario's cycles if > 0
	load         time.Duration // overrides the load between faults if > 0
	outage       time.Duration // overrides outages if > 0
	writers      int
	probeTimeout time.Duration
	convergeMax  time.Duration
	replica      bool
	logf         func(string, ...any)
}

// runScenario runs one scenario on a fresh cluster and checks the outcome.
func runScenario(ctx context.Context, o options, sc scenario) *result {
	res := &result{name: sc.name, goal: sc.goal}
	t0 := time.Now()
	defer func() { res.elapsed = time.Since(t0) }()
	p := sc.full
	if o.short {
		p = sc.short
	}
	if o.cycles > 0 && p.cycles > 0 {
		p.cycles = o.cycles
	}
	if o.load > 0 {
		p.load = o.load
	}
	if o.outage > 0 && p.outage > 0 {
		p.outage = o.outage
	}
	if o.writers > 0 {
		p.writers = o.writers
	}
	dir := filepath.Join(o.workDir, sc.name)
	c, err := startCluster(ctx, dir, o.marquee, max(sc.natsNodes, 1))
	if c != nil {
		defer func() {
			c.close()
			if !o.keep && res.passed() {
				_ = os.RemoveAll(dir)
			}
		}()
	}
	if err != nil {
		res.err = fmt.Errorf("start cluster: %w", err)
		return res
	}
	o.logf("  cluster up in %s (logs in %s)", time.Since(t0).Round(time.Millisecond), dir)
	hf, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		res.err = err
		return res
	}
	defer func() { _ = hf.Close() }()
	s := &session{c: c, cl: newClient(c, max(p.writers, p.clients)+4), h: &history{out: hf}, reg: newRegistry(), res: res,
		logf: o.logf, probeTimeout: o.probeTimeout}
	if err := s.cl.login(ctx, c.adminUser, c.adminPass); err != nil {
		res.err = err
		return res
	}
	s.healed = time.Now()
	err = sc.run(ctx, s, p)
	s.stopLoad()
	if err != nil {
		res.err = err
		return res
	}
	// Heal whatever the scenario left down or paused, then check.
	if err := heal(ctx, c); err != nil {
		res.err = err
		return res
	}
	t1 := time.Now()
	o.logf("  faults done after %s; checking", t1.Sub(t0).Round(time.Millisecond))
	check(ctx, s, o)
	o.logf("  checked in %s", time.Since(t1).Round(time.Millisecond))
	if ctx.Err() != nil && res.err == nil {
		res.err = ctx.Err()
	}
	if !res.passed() {
		res.gaps = append(res.gaps, "evidence kept in "+dir)
	}
	return res
}

// check reads MySQL, compares it with the history, waits for the index to converge, searches, and builds
// a new replica from the stream.
func check(ctx context.Context, s *session, o options) {
	v := &s.res.v
	rows, err := readMovies(ctx, s.c.db)
	if err != nil {
		s.res.err = err
		return
	}
	ops := s.h.snapshot()
	checkDB(ops, rows, v)
	converge(ctx, s.cl, s.cl.search, rows, s.healed, o.convergeMax, v)
	if v.converged {
		checkSearch(ctx, s.cl, rows, 300, v)
	}
	if v.retriedCreates > 0 {
		s.figure("creates retried under the same Idempotency-Key after an unknown outcome: %d, acknowledged by a retry: %d (duplicates among them are counted above)",
			v.retriedCreates, v.retriedAcked)
	}
	if v.unknownCreates > 0 {
		s.figure("creates with unknown outcome: %d, of which %d had created the movie (each resolved to 0 or 1 movie unless listed as duplicate)",
			v.unknownCreates, v.unknownCreatesHit)
	}
	if r := s.res; r.readySeen > 0 {
		s.figure("gateway /readyz from each fault to its recovery: 200 in %d of %d samples (%d of them degraded)", r.readyOK, r.readySeen, r.readyDegraded)
	}
	s.figure("movies in MySQL: %d (%d deleted); searches checked: %d", v.movies, v.deletedMovies, v.searched)
	if !o.replica || !v.converged {
		return
	}
	extraPublisher := s.res.name == "chaos-delivery" || s.res.name == "malformed-events"
	if extraPublisher { // another publisher wrote on the movies' subjects: the reconciler repairs the stream
		if err := reconcileNow(ctx, s); err != nil {
			s.fail("reconcile before the replica check: %v", err)
			return
		}
	}
	diffs, took, err := replicaCheck(ctx, s.c, s.cl, rows, 1)
	if err != nil {
		s.gap("replica rebuilt from the stream: %v", err)
		return
	}
	if len(diffs) == 0 {
		s.figure("new replica rebuilt from the stream in %s: equal to MySQL", took.Round(10*time.Millisecond))
		return
	}
	msg := fmt.Sprintf("new replica rebuilt from the stream in %s differs from MySQL on %d movies, e.g. %s",
		took.Round(10*time.Millisecond), len(diffs), diffs[0])
	if extraPublisher {
		msg += " after the reconciler ran"
	}
	s.fail("%s", msg)
}

// reconcileNow runs the catalog's reconciler through the gateway (POST /v1/admin/reconcile) and records
// what it repaired; the answer comes once the repairs are published.
func reconcileNow(ctx context.Context, s *session) error {
	t0 := time.Now()
	status, _, body, err := s.cl.do(ctx, http.MethodPost, s.cl.gateway+"/v1/admin/reconcile", nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("answer %d: %s", status, body)
	}
	var rep struct {
		Checked          int            `json:"checked"`
		Repaired         int            `json:"repaired"`
		Reasons          map[string]int `json:"reasons"`
		IndexChecked     bool           `json:"index_checked"`
		IndexAhead       int            `json:"index_ahead"`
		RepairsPublished bool           `json:"repairs_published"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("decode %s: %w", body, err)
	}
	s.figure("reconciler: compared %d movies with the stream (and the index: %v) in %s, republished %d %v, published: %v",
		rep.Checked, rep.IndexChecked, time.Since(t0).Round(time.Millisecond), rep.Repaired, rep.Reasons, rep.RepairsPublished)
	if !rep.RepairsPublished {
		return errors.New("the repairs were not published within the reconciler's wait")
	}
	return nil
}

// heal continues paused servers and starts stopped ones.
func heal(ctx context.Context, c *cluster) error {
	for _, p := range append(append([]*proc{c.mariadb}, c.natsNodes()...), c.catalog, c.search, c.gateway) {
		if p.running() {
			_ = p.signal(syscall.SIGCONT)
		}
	}
	if !c.mariadb.running() {
		if err := c.startMariaDB(ctx); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(c.natsNodes(), func(p *proc) bool { return !p.running() }) {
		if err := c.startNATS(ctx); err != nil {
			return err
		}
	}
	for _, pr := range []struct {
		p    *proc
		port int
	}{{c.catalog, c.catalogPort}, {c.search, c.searchPort}, {c.gateway, c.gatewayPort}} {
		if !pr.p.running() {
			if err := c.restart(ctx, pr.p, pr.port); err != nil {
				return fmt.Errorf("heal %s: %w", pr.p.name, err)
			}
		}
	}
	return nil
}
