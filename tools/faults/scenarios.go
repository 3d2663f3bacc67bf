package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"marquee/pkg/freeport"
)

// scenarios is the suite, in the order it runs.
var scenarios = []scenario{
	{
		name: "catalog-kill-commit", goal: "#1",
		about: "kill -9 catalog between commit and publish: NATS is paused so committed events wait in the outbox, then the catalog is killed and restarted",
		full:  params{cycles: 20, writers: 8, load: 800 * time.Millisecond},
		short: params{cycles: 3, writers: 4, load: 500 * time.Millisecond},
		run:   runCatalogKillCommit,
	},
	{
		name: "catalog-kill-random", goal: "#3",
		about: "kill -9 catalog at random under load; creates with an unknown outcome are retried with the same Idempotency-Key",
		full:  params{cycles: 30, writers: 8, load: 1500 * time.Millisecond},
		short: params{cycles: 3, writers: 4, load: time.Second},
		run:   runCatalogKillRandom,
	},
	{
		name: "search-kill", goal: "#4",
		about: "kill -9 search at random under load (the indexer is mid-batch most of the time), restart at once",
		full:  params{cycles: 30, writers: 8, load: time.Second},
		short: params{cycles: 4, writers: 4, load: 700 * time.Millisecond},
		run:   runSearchKill,
	},
	{
		name: "nats-pause", goal: "#6",
		about: "nats-server paused (SIGSTOP) during writes, then continued",
		full:  params{cycles: 2, writers: 6, load: 2 * time.Second, outage: 30 * time.Second},
		short: params{cycles: 1, writers: 4, load: time.Second, outage: 5 * time.Second},
		run:   runNATSPause,
	},
	{
		name: "nats-kill", goal: "#6, #7",
		about: "kill -9 nats-server under load and restart it: the first cycle leaves it stopped for the outage, the others restart it at once",
		full:  params{cycles: 10, writers: 6, load: 1500 * time.Millisecond, outage: 30 * time.Second},
		short: params{cycles: 2, writers: 4, load: time.Second, outage: 3 * time.Second},
		run:   runNATSKill,
	},
	{
		name: "mariadb-restart", goal: "#8",
		about: "MariaDB stopped (SIGTERM) or killed (-9) under load, down for the outage, then restarted",
		full:  params{cycles: 4, writers: 6, load: 3 * time.Second, outage: 5 * time.Second},
		short: params{cycles: 2, writers: 4, load: 2 * time.Second, outage: 2 * time.Second},
		run:   runMariaDBRestart,
	},
	{
		name: "chaos-delivery", goal: "#9, #10",
		about: "every event delivered 1-5 times, shuffled: old outbox events republished to the stream during the load (with their own, new or no message id), then all of them once more",
		full:  params{writers: 8, load: 30 * time.Second, events: 20},
		short: params{writers: 4, load: 6 * time.Second, events: 10},
		run:   runChaos,
	},
	{
		name: "malformed-events", goal: "#11",
		about: "malformed events (bad JSON, invalid fields, wrong subject, invalid UTF-8, deep nesting, 900 KiB) published to the stream's subjects under load",
		full:  params{writers: 4, load: 3 * time.Second, events: 2000},
		short: params{writers: 2, load: 2 * time.Second, events: 300},
		run:   runMalformed,
	},
	{
		name: "if-match-race", goal: "#12",
		about: "N concurrent updates of one movie with the same If-Match: exactly one wins, the others get 412",
		full:  params{clients: 50, rounds: 200},
		short: params{clients: 10, rounds: 20},
		run:   runIfMatch,
	},
	{
		name: "sigterm", goal: "#24",
		about: "SIGTERM under load to the catalog, search and gateway in turn, then restart",
		full:  params{cycles: 4, writers: 6, load: time.Second},
		short: params{cycles: 1, writers: 4, load: 700 * time.Millisecond},
		run:   runSIGTERM,
	},
	{
		name: "nats-node-loss", goal: "#6, #7",
		about: "kill -9 one node of a three-node JetStream cluster under load (the stream's leader), down for the outage, then restarted; the stream is kept in three replicas",
		full:  params{cycles: 6, writers: 6, load: 1500 * time.Millisecond, outage: 10 * time.Second},
		short: params{cycles: 2, writers: 4, load: time.Second, outage: 3 * time.Second},
		run:   runNATSNodeLoss, natsNodes: 3,
	},
	{
		name: "replica-bootstrap", goal: "—",
		about: "new search replicas started under writes copy the running replica's index (bootstrap_from), then follow the stream",
		full:  params{cycles: 4, writers: 6, load: 2 * time.Second},
		short: params{cycles: 1, writers: 4, load: time.Second},
		run:   runReplicaBootstrap,
	},
}

// shortSet is what `go test` runs.
var shortSet = []string{"catalog-kill-commit", "search-kill", "chaos-delivery", "if-match-race", "nats-node-loss", "replica-bootstrap"}

func runCatalogKillCommit(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	var orphans []int
	for range p.cycles {
		sleepCtx(ctx, p.load)
		ready := watchReady(ctx, s.cl, s.cl.gateway)
		defer ready.stopSampling() // on an error before its report
		if err := c.nats.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		s.res.faults++
		sleepCtx(ctx, 600*time.Millisecond) // writes commit; the relay cannot publish them
		var n int
		if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
			return fmt.Errorf("count unpublished outbox rows: %w", err)
		}
		orphans = append(orphans, n)
		faultAt := time.Now()
		if err := c.catalog.kill(); err != nil {
			return err
		}
		s.res.faults++
		if err := c.nats.signal(syscall.SIGCONT); err != nil {
			return err
		}
		if err := c.restart(ctx, c.catalog, c.catalogPort); err != nil {
			return err
		}
		s.cycle(ctx, faultAt)
		ready.report(s, "NATS paused and the catalog killed")
	}
	s.stopLoad()
	total, none := 0, 0
	for _, n := range orphans {
		total += n
		if n == 0 {
			none++
		}
	}
	s.figure("committed but unpublished events at the kills: %d in all (%v)", total, orphans)
	if none > 0 {
		s.gap("%d of %d kills found no unpublished event (no write committed in the window)", none, len(orphans))
	}
	return nil
}

func runCatalogKillRandom(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for range p.cycles {
		sleepCtx(ctx, p.load/2+time.Duration(rng.Int64N(int64(p.load))))
		faultAt := time.Now()
		if err := c.catalog.kill(); err != nil {
			return err
		}
		s.res.faults++
		sleepCtx(ctx, time.Duration(rng.IntN(500))*time.Millisecond)
		if err := c.restart(ctx, c.catalog, c.catalogPort); err != nil {
			return err
		}
		s.cycle(ctx, faultAt)
	}
	return nil
}

func runSearchKill(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	for range p.cycles {
		sleepCtx(ctx, p.load/2+time.Duration(rng.Int64N(int64(p.load))))
		faultAt := time.Now()
		if err := c.search.kill(); err != nil {
			return err
		}
		s.res.faults++
		if err := c.restart(ctx, c.search, c.searchPort); err != nil {
			return fmt.Errorf("search did not come back after kill -9 (index did not open?): %w", err)
		}
		s.cycle(ctx, faultAt)
	}
	log, _ := os.ReadFile(c.search.log)
	rebuilds := strings.Count(string(log), "replaying the whole stream")
	s.figure("index reopened after kill -9: %d/%d without a rebuild (%d full replays logged)", p.cycles-rebuilds, p.cycles, rebuilds)
	if rebuilds > 0 {
		s.miss("%d restarts replayed the whole stream instead of resuming from the checkpoint", rebuilds)
	}
	return nil
}

// outageFigures reports the writes that started while a server was down: how many were answered as
// usual (2xx, or a 4xx such as a 412 that has nothing to do with the outage), their statuses and the
// slowest answer.
func outageFigures(s *session, from, to time.Time) (answered, total int, slowest time.Duration, statuses map[int]int) {
	statuses = map[int]int{}
	for _, o := range s.h.snapshot() {
		if o.Start.Before(from) || o.Start.After(to) {
			continue
		}
		total++
		statuses[o.Status]++
		if o.outcome() != outcomeInfo {
			answered++
		}
		slowest = max(slowest, o.End.Sub(o.Start))
	}
	return answered, total, slowest, statuses
}

func runNATSPause(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	for range p.cycles {
		sleepCtx(ctx, p.load)
		reads0, bad0 := s.wl.reads.Load(), s.wl.read5xx.Load()+s.wl.readErrs.Load()
		faultAt := time.Now()
		ready := watchReady(ctx, s.cl, s.cl.gateway)
		defer ready.stopSampling() // on an error before its report
		if err := c.nats.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		s.res.faults++
		sleepCtx(ctx, p.outage)
		if err := c.nats.signal(syscall.SIGCONT); err != nil {
			return err
		}
		ok, total, slowest, statuses := outageFigures(s, faultAt, time.Now())
		reads, bad := s.wl.reads.Load()-reads0, s.wl.read5xx.Load()+s.wl.readErrs.Load()-bad0
		s.figure("NATS paused %s: writes answered during the pause %d/%d (%.1f%%; %s), slowest %s; reads %d, failed %d",
			p.outage, ok, total, pct(ok, total), fmtStatuses(statuses), slowest.Round(time.Millisecond), reads, bad)
		if total > 0 && pct(ok, total) < 99.9 {
			s.miss("only %.1f%% of writes answered while NATS was paused (goal 99.9%%)", pct(ok, total))
		}
		if bad > 0 {
			s.miss("%d reads failed while NATS was paused (goal 0)", bad)
		}
		s.cycle(ctx, faultAt)
		ready.report(s, "NATS paused")
	}
	return nil
}

func runNATSKill(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	var streamLost, seqBack int
	for i := range p.cycles {
		sleepCtx(ctx, p.load)
		before, ok, err := c.streamInfo(ctx)
		if err != nil || !ok {
			return fmt.Errorf("stream info before kill: ok=%v err=%v", ok, err)
		}
		faultAt := time.Now()
		ready := watchReady(ctx, s.cl, s.cl.gateway)
		defer ready.stopSampling() // on an error before its report
		if err := c.nats.kill(); err != nil {
			return err
		}
		s.res.faults++
		down := 300 * time.Millisecond
		if i == 0 {
			down = p.outage
		}
		sleepCtx(ctx, down)
		if err := c.startNATS(ctx); err != nil {
			return err
		}
		after, ok, err := c.streamInfo(ctx)
		switch {
		case err != nil:
			return err
		case !ok:
			streamLost++
			s.fail("cycle %d: stream %s gone after kill -9 of nats-server", i+1, streamName)
		case after.LastSeq < before.LastSeq:
			seqBack++
			s.fail("cycle %d: stream last sequence %d after restart, %d before the kill", i+1, after.LastSeq, before.LastSeq)
		}
		if i == 0 {
			ok, total, slowest, statuses := outageFigures(s, faultAt, time.Now())
			s.figure("NATS down %s: writes answered meanwhile %d/%d (%.1f%%; %s), slowest %s",
				down, ok, total, pct(ok, total), fmtStatuses(statuses), slowest.Round(time.Millisecond))
			if total > 0 && pct(ok, total) < 99.9 {
				s.miss("only %.1f%% of writes answered while NATS was down (goal 99.9%%)", pct(ok, total))
			}
		}
		s.cycle(ctx, faultAt)
		ready.report(s, "NATS down")
	}
	s.figure("stream after %d kills: lost %d times, last sequence went back %d times", p.cycles, streamLost, seqBack)
	return nil
}

func runMariaDBRestart(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	recovered := func(how string) { // the writes of the load period after a restart
		_, n, _, statuses := outageFigures(s, s.healed, time.Now())
		s.figure("MariaDB %s: writes in the %s after it came back: %d, answers %s", how, p.load, n, fmtStatuses(statuses))
		if statuses[http.StatusOK]+statuses[http.StatusCreated]+statuses[http.StatusNoContent] == 0 {
			s.fail("no write succeeded in the %s after MariaDB came back (%s)", p.load, how)
		}
	}
	var how string
	for i := range p.cycles {
		sleepCtx(ctx, p.load)
		if i > 0 {
			recovered(how)
		}
		faultAt := time.Now()
		ready := watchReady(ctx, s.cl, s.cl.gateway)
		defer ready.stopSampling() // on an error before its report
		how = "SIGTERM"
		var took time.Duration
		if i%2 == 1 {
			how = "kill -9"
			if err := c.mariadb.kill(); err != nil {
				return err
			}
		} else {
			var forced bool
			var err error
			if took, _, forced, err = c.mariadb.terminate(30 * time.Second); err != nil || forced {
				return fmt.Errorf("mariadb stop: forced=%v err=%v", forced, err)
			}
		}
		s.res.faults++
		downFrom := time.Now() // MariaDB has exited
		sleepCtx(ctx, p.outage)
		downTo := time.Now()
		if err := c.startMariaDB(ctx); err != nil {
			return err
		}
		_, total, slowest, statuses := outageFigures(s, downFrom, downTo)
		s.figure("MariaDB %s (shutdown took %s), down %s more: %d writes meanwhile, answers %s, slowest %s",
			how, took.Round(time.Millisecond), p.outage, total, fmtStatuses(statuses), slowest.Round(time.Millisecond))
		if slowest > 2*time.Second {
			s.miss("MariaDB %s: slowest answer during the outage took %s (goal <= 2s)", how, slowest.Round(time.Millisecond))
		}
		if n := statuses[http.StatusInternalServerError]; n > 0 {
			s.fail("MariaDB %s: %d writes during the outage were answered 500 (a database outage must be 503)", how, n)
		}
		if n := total - statuses[http.StatusServiceUnavailable]; total > 0 && n > 0 {
			s.miss("MariaDB %s: %d of %d writes during the outage were not answered 503 (%s)", how, n, total, fmtStatuses(statuses))
		}
		s.cycle(ctx, faultAt)
		ready.report(s, "MariaDB "+how)
	}
	sleepCtx(ctx, p.load)
	recovered(how)
	return nil
}

func fmtStatuses(counts map[int]int) string {
	m := maps.Clone(counts)
	var parts []string
	for _, code := range []int{0, 200, 201, 204, 404, 412, 500, 502, 503, 504} {
		if n := m[code]; n > 0 {
			name := fmt.Sprint(code)
			if code == 0 {
				name = "none"
			}
			parts = append(parts, fmt.Sprintf("%s:%d", name, n))
			delete(m, code)
		}
	}
	for code, n := range m {
		parts = append(parts, fmt.Sprintf("%d:%d", code, n))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

func runChaos(ctx context.Context, s *session, p params) error {
	c := s.c
	ch := newChaos(c.js, c.db)
	s.startLoad(ctx, p)
	cctx, cancel := context.WithTimeout(ctx, p.load)
	defer cancel()
	ch.run(cctx, 100*time.Millisecond, p.events)
	s.stopLoad()
	during := ch.st
	// Then every event ever written, 1-5 times each, all shuffled together.
	evs, err := readOutbox(ctx, c.db)
	if err != nil {
		return err
	}
	ch.republish(ctx, evs)
	s.healed = time.Now()
	s.res.faults = ch.st.published + ch.st.duplicates
	s.res.runs = 1
	s.figure("republished during the load: %d taken by the stream, %d dropped as duplicate message ids, %d errors",
		during.published, during.duplicates, during.errors)
	s.figure("final flood of all %d outbox events 1-5x: %d taken, %d dropped as duplicates, %d errors",
		len(evs), ch.st.published-during.published, ch.st.duplicates-during.duplicates, ch.st.errors-during.errors)
	return nil
}

func runMalformed(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	sleepCtx(ctx, p.load)
	pid := c.search.pid()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	var mu sync.Mutex
	st := malformed(ctx, c.nc, c.js, p.events, func() (int64, bool) {
		mu.Lock()
		defer mu.Unlock()
		m, ok := s.reg.pick(rng)
		return m.id, ok
	})
	floodEnd := time.Now()
	s.res.faults, s.res.runs = st.sent, 1
	sleepCtx(ctx, p.load) // the load goes on after the flood
	s.stopLoad()

	// Lag back to zero: a write made after the flood must become searchable.
	o := op{Kind: opCreate, Client: -1, Token: tagOf(s.res.name) + "marker1", Title: tagOf(s.res.name) + "marker1 after the flood"}
	s.cl.write(ctx, &o, 1)
	s.h.add(o)
	lag := time.Duration(-1)
	if o.outcome() == outcomeOK {
		for t0 := time.Now(); time.Since(t0) < 30*time.Second; sleepCtx(ctx, 20*time.Millisecond) {
			if got, err := s.cl.indexedMovie(ctx, o.ID); err == nil && got.found {
				lag = time.Since(floodEnd)
				break
			}
		}
	}
	s.healed = time.Now()
	log, _ := os.ReadFile(c.search.log)
	terminated := strings.Count(string(log), "terminated") + strings.Count(string(log), "dead-lettered")
	panics := strings.Count(string(log), "panic")
	s.figure("malformed events: %d published (%d on live movies' subjects, %d refused by the server as too large); kinds %v",
		st.sent, st.live, st.refused, st.kinds)
	s.figure("search: same process after the flood: %v; %d bad-event log lines (terminated); %d panics logged",
		c.search.pid() == pid && pid != 0, terminated, panics)
	if c.search.pid() != pid || panics > 0 {
		s.fail("search crashed or panicked on malformed events (pid %d -> %d, %d panics in %s)", pid, c.search.pid(), panics, c.search.log)
	}
	if lag < 0 {
		s.fail("a write after the flood was not searchable within 30s: the indexer is stuck")
	} else {
		s.figure("first write after the flood searchable %s after the flood ended", lag.Round(time.Millisecond))
		if lag > 10*time.Second {
			s.miss("consumer lag back to 0 took %s (goal <= 10s)", lag.Round(time.Millisecond))
		}
	}
	if names := c.js.StreamNames(ctx); names != nil {
		var others []string
		for n := range names.Name() {
			if n != streamName {
				others = append(others, n)
			}
		}
		dlq := streamName + "_DEADLETTER"
		switch {
		case len(others) == 0:
			s.gap("no dead-letter stream: bad events are terminated and logged by the indexer, not kept anywhere (goal #11 asks for 100%% to a DLQ)")
		case !slices.Contains(others, dlq):
			s.figure("other streams (dead letters?): %v", others)
		default:
			var parked uint64
			if st, err := c.js.Stream(ctx, dlq); err == nil {
				if info, err := st.Info(ctx); err == nil {
					parked = info.State.Msgs
				}
			}
			s.figure("dead-letter stream %s holds %d messages for %d bad events logged by the indexer (%.1f%%)",
				dlq, parked, terminated, pct(int(parked), terminated))
			if int(parked) < terminated {
				s.miss("%d of %d bad events were not parked on the dead-letter stream (goal #11: 100%%)", terminated-int(parked), terminated)
			}
		}
	}
	return nil
}

func runIfMatch(ctx context.Context, s *session, p params) error {
	const movies = 5
	type target struct {
		id, version int64
		token       string
	}
	var ts []target
	for i := range movies {
		token := fmt.Sprintf("%sm%d", tagOf(s.res.name), i)
		o := op{Kind: opCreate, Client: -1, Token: token, Title: token + " contested"}
		s.cl.write(ctx, &o, i)
		s.h.add(o)
		if o.outcome() != outcomeOK {
			return fmt.Errorf("create contested movie: %d %s", o.Status, o.Err)
		}
		ts = append(ts, target{id: o.ID, version: o.Version, token: token})
	}
	var oneWinner, noWinner, manyWinners, rejected, other int
	for r := range p.rounds {
		t := &ts[r%movies]
		var wg sync.WaitGroup
		results := make([]op, p.clients)
		start := make(chan struct{})
		for i := range p.clients {
			wg.Go(func() {
				o := op{Kind: opUpdateIf, Client: i, ID: t.id, Token: t.token, IfMatch: t.version,
					Title: fmt.Sprintf("%s round %d by %d", t.token, r, i)}
				<-start
				s.cl.write(ctx, &o, r)
				s.h.add(o)
				results[i] = o
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, o := range results {
			switch {
			case o.outcome() == outcomeOK:
				wins++
				if o.Version != t.version+1 {
					s.fail("round %d: the winner got version %d, want %d", r, o.Version, t.version+1)
				}
				t.version = o.Version
			case o.Status == http.StatusPreconditionFailed:
				rejected++
			default:
				other++
			}
		}
		switch wins {
		case 1:
			oneWinner++
		case 0:
			noWinner++
		default:
			manyWinners++
			s.fail("round %d on movie %d: %d concurrent updates with If-Match %d all succeeded (lost update)", r, t.id, wins, t.version)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	s.res.runs = p.rounds
	s.res.faults = 0
	s.figure("%d rounds x %d clients: exactly one winner %d, none %d, several %d; 412 answers %d, other answers %d",
		p.rounds, p.clients, oneWinner, noWinner, manyWinners, rejected, other)
	if noWinner > 0 {
		s.miss("%d rounds had no winner (every update failed: %d answers other than 2xx/412)", noWinner, other)
	}
	s.healed = time.Now()
	return nil
}

func runSIGTERM(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	type part struct {
		p    *proc
		port int
	}
	for range p.cycles {
		for _, pt := range []part{{c.catalog, c.catalogPort}, {c.search, c.searchPort}, {c.gateway, c.gatewayPort}} {
			sleepCtx(ctx, p.load)
			faultAt := time.Now()
			took, exit, forced, err := pt.p.terminate(15 * time.Second)
			if err != nil {
				return err
			}
			s.res.faults++
			sleepCtx(ctx, 100*time.Millisecond)
			// Writes in flight when the signal came: they must be answered, not dropped.
			var inflight, dropped int
			for _, o := range s.h.snapshot() {
				if o.Start.Before(faultAt) && o.End.After(faultAt) {
					inflight++
					if o.Status == 0 || o.Status == http.StatusBadGateway {
						dropped++
					}
				}
			}
			s.figure("SIGTERM %s: exited in %s (clean exit %v, killed after 15s %v); writes in flight %d, dropped %d",
				pt.p.name, took.Round(time.Millisecond), exitedCleanly(exit), forced, inflight, dropped)
			if forced || took > 10*time.Second {
				s.miss("%s took %s to stop after SIGTERM (goal <= 10s)", pt.p.name, took.Round(time.Millisecond))
			}
			if !exitedCleanly(exit) {
				s.miss("%s exited with %v after SIGTERM", pt.p.name, exit)
			}
			if dropped > 0 {
				s.miss("%s: %d writes in flight at SIGTERM got no answer or a 502", pt.p.name, dropped)
			}
			if err := c.restart(ctx, pt.p, pt.port); err != nil {
				return err
			}
			s.cycle(ctx, faultAt)
		}
	}
	return nil
}

// runReplicaBootstrap starts new search replicas while writes go on, each copying the running replica's
// index (bootstrap_from) instead of replaying the stream. Each must say it copied, and once the writes have
// stopped each must equal MySQL: the snapshot and the stream after its checkpoint together miss nothing.
// The same run times a replica that replays the whole stream (the check's replica) for comparison.
func runReplicaBootstrap(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	var replicas []string
	var ready []time.Duration
	for i := range p.cycles {
		sleepCtx(ctx, p.load)
		ports, err := freeport.Ports(1)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("bootstrap%d", i+1)
		rp := c.searchProc(name, filepath.Join(c.dir, name), ports[0])
		rp.args = append(rp.args, "--bootstrap-from", c.url(c.searchPort))
		t0 := time.Now()
		if err := rp.start(); err != nil {
			return err
		}
		defer func() { _, _, _, _ = rp.terminate(10 * time.Second) }()
		if err := waitHTTP(ctx, c.url(ports[0])+"/readyz", 120*time.Second); err != nil {
			return fmt.Errorf("replica %s not ready: %w (log: %s)", name, err, rp.log)
		}
		ready = append(ready, time.Since(t0))
		s.res.runs++
		s.res.faults++
		log, _ := os.ReadFile(rp.log)
		if !strings.Contains(string(log), "index copied from a peer") {
			s.fail("replica %s did not copy its peer's index (log: %s)", name, rp.log)
		}
		replicas = append(replicas, c.url(ports[0]))
	}
	s.stopLoad()
	s.healed = time.Now()
	rows, err := readMovies(ctx, c.db)
	if err != nil {
		return err
	}
	for i, base := range replicas {
		var v verdict
		converge(ctx, s.cl, base, rows, time.Now(), 60*time.Second, &v)
		if !v.converged {
			s.fail("replica bootstrap%d, copied under writes, differs from MySQL: %s", i+1, strings.Join(v.problems, "; "))
		}
	}
	s.figure("new replicas copied from the running one under writes: %d, ready in %s; each equal to MySQL once the writes stopped",
		len(ready), fmtDurations(ready))
	return nil
}

func fmtDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(10 * time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}

// runNATSNodeLoss kills the node that leads the stream in a three-node JetStream cluster, keeps it down for
// the outage and restarts it. Two nodes keep a quorum: the stream elects another leader, writes are
// answered throughout, and no acknowledged change is lost.
func runNATSNodeLoss(ctx context.Context, s *session, p params) error {
	c := s.c
	s.startLoad(ctx, p)
	var streamLost, seqBack int
	var answered, total int
	for i := range p.cycles {
		sleepCtx(ctx, p.load)
		before, ok, err := c.streamInfo(ctx)
		if err != nil || !ok {
			return fmt.Errorf("stream info before the kill: ok=%v err=%v", ok, err)
		}
		victim := c.streamNode(ctx)
		if victim == nil {
			victim = c.natsNodes()[i%3]
		}
		faultAt := time.Now()
		ready := watchReady(ctx, s.cl, s.cl.gateway)
		defer ready.stopSampling() // on an error before its report
		if err := victim.kill(); err != nil {
			return err
		}
		s.res.faults++
		sleepCtx(ctx, p.outage)
		ok2, n, slowest, statuses := outageFigures(s, faultAt, time.Now())
		answered, total = answered+ok2, total+n
		s.logf("  cycle %d: %s (leading the stream) down %s: writes answered %d/%d (%s), slowest %s", i+1, victim.name, p.outage,
			ok2, n, fmtStatuses(statuses), slowest.Round(time.Millisecond))
		if err := c.startNATS(ctx); err != nil {
			return err
		}
		// While the restarted node catches up the cluster may take a few seconds to answer for the stream.
		after, ok, err := c.streamInfo(ctx)
		for t0 := time.Now(); err != nil && time.Since(t0) < 30*time.Second && ctx.Err() == nil; {
			sleepCtx(ctx, 200*time.Millisecond)
			after, ok, err = c.streamInfo(ctx)
		}
		switch {
		case err != nil:
			return fmt.Errorf("stream info 30s after restarting %s: %w", victim.name, err)
		case !ok:
			streamLost++
			s.fail("cycle %d: stream %s gone after kill -9 of %s", i+1, streamName, victim.name)
		case after.LastSeq < before.LastSeq:
			seqBack++
			s.fail("cycle %d: stream last sequence %d after the restart, %d before the kill", i+1, after.LastSeq, before.LastSeq)
		}
		s.cycle(ctx, faultAt)
		ready.report(s, victim.name+" down")
	}
	s.figure("a node of three down %s, %d times (the stream's leader): writes answered meanwhile %d/%d (%.1f%%); stream lost %d times, last sequence went back %d times",
		p.outage, p.cycles, answered, total, pct(answered, total), streamLost, seqBack)
	if total > 0 && pct(answered, total) < 99.9 {
		s.miss("only %.1f%% of writes answered while a NATS node was down (goal 99.9%%)", pct(answered, total))
	}
	return nil
}

// readiness samples a gateway's /readyz during an outage: a gateway must stay ready while search can serve
// reads, whatever the catalog, MySQL or NATS are doing (readiness that cascaded took every gateway out).
type readiness struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	ok, seen int
	degraded int // ready, and saying what it lacks
	first    string
}

func watchReady(ctx context.Context, cl *client, base string) *readiness {
	r := &readiness{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			status, _, body, err := cl.do(ctx, http.MethodGet, base+"/readyz", nil, nil)
			r.seen++
			switch {
			case err == nil && status == http.StatusOK:
				r.ok++
				if strings.Contains(string(body), `"degraded"`) {
					r.degraded++
				}
			case r.first == "":
				r.first = fmt.Sprintf("%d %s (err %v)", status, strings.TrimSpace(string(body)), err)
			}
			select {
			case <-r.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return r
}

// stopSampling ends the sampling and waits for it; again, it does nothing.
func (r *readiness) stopSampling() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

// report stops the sampling, adds it to the scenario's tally and fails the scenario if the gateway was not
// ready throughout.
func (r *readiness) report(s *session, what string) {
	r.stopSampling()
	s.res.readySeen += r.seen
	s.res.readyOK += r.ok
	s.res.readyDegraded += r.degraded
	if r.ok < r.seen {
		s.fail("%s: the gateway left readiness (%d of %d samples not 200, first: %s)", what, r.seen-r.ok, r.seen, r.first)
	}
}
