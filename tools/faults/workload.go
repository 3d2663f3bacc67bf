package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// movieRef is what the writers believe of a movie: the last version they saw acknowledged.
type movieRef struct {
	id      int64
	token   string
	version int64
	deleted bool
}

// registry is the movies the workload has created.
type registry struct {
	mu     sync.Mutex
	movies map[int64]*movieRef
	live   []int64 // ids not known to be deleted (may hold a few deleted ones, dropped lazily)
}

func newRegistry() *registry { return &registry{movies: map[int64]*movieRef{}} }

func (r *registry) add(id int64, token string, version int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.movies[id]; ok {
		return
	}
	r.movies[id] = &movieRef{id: id, token: token, version: version}
	r.live = append(r.live, id)
}

// pick returns a copy of a random live movie.
func (r *registry) pick(rng *rand.Rand) (movieRef, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.live) > 0 {
		i := rng.IntN(len(r.live))
		m := r.movies[r.live[i]]
		if !m.deleted {
			return *m, true
		}
		r.live[i] = r.live[len(r.live)-1]
		r.live = r.live[:len(r.live)-1]
	}
	return movieRef{}, false
}

func (r *registry) seen(id, version int64, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.movies[id]
	if !ok {
		return
	}
	if version > m.version {
		m.version = version
	}
	if deleted {
		m.deleted = true
	}
}

func (r *registry) ids() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, 0, len(r.movies))
	for id := range r.movies {
		out = append(out, id)
	}
	return out
}

// workload is the recorded write load: writers creating, updating (with and without If-Match) and
// deleting movies through the gateway, and a reader sampling reads for version regressions.
type workload struct {
	cl      *client
	h       *history
	reg     *registry
	tag     string // makes title tokens unique across scenarios
	writers int
	pause   time.Duration // think time between a writer's requests
	maxOps  int64         // stop after this many writes in all

	stop      chan struct{} // closed to end the load: writers finish the request they are in, then return
	ops       atomic.Int64
	reads     atomic.Int64
	read5xx   atomic.Int64
	readErrs  atomic.Int64
	regressed atomic.Int64
}

// run writes until ctx is done or maxOps writes were sent, and returns when every writer has stopped.
func (w *workload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.writers {
		wg.Go(func() { w.writer(ctx, i) })
	}
	wg.Go(func() { w.reader(ctx) })
	wg.Wait()
}

func (w *workload) writer(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(id)))
	seq := 0
	for !w.stopped() && ctx.Err() == nil && w.ops.Add(1) <= w.maxOps {
		seq++
		m, ok := w.reg.pick(rng)
		p := rng.IntN(100)
		switch {
		case !ok || p < 35 || len(w.reg.ids()) < 2*w.writers:
			w.create(ctx, id, seq, rng)
		case p < 65:
			w.update(ctx, id, seq, m, true)
		case p < 85:
			w.update(ctx, id, seq, m, false)
		case p < 95:
			w.delete(ctx, id, m, true)
		default:
			w.delete(ctx, id, m, false)
		}
		if w.pause > 0 {
			w.sleep(ctx, w.pause/2+time.Duration(rng.Int64N(int64(w.pause))))
		}
	}
}

// create sends a create, retrying an unknown outcome with the same Idempotency-Key: a retried create must
// create one movie, not two.
func (w *workload) create(ctx context.Context, client, seq int, rng *rand.Rand) {
	token := fmt.Sprintf("%sc%dn%d", w.tag, client, seq)
	key := fmt.Sprintf("faults-%s-%d", token, rng.Uint64())
	for attempt := range 4 {
		o := op{Kind: opCreate, Client: client, Token: token, Title: token + " premiere", IdemKey: key, Attempt: attempt}
		w.cl.write(ctx, &o, seq)
		w.h.add(o)
		switch o.outcome() {
		case outcomeOK:
			w.reg.add(o.ID, token, o.Version)
			return
		case outcomeFail:
			return
		}
		if ctx.Err() != nil || w.stopped() {
			return
		}
		w.sleep(ctx, time.Duration(250<<attempt)*time.Millisecond)
	}
}

func (w *workload) update(ctx context.Context, client, seq int, m movieRef, ifMatch bool) {
	o := op{Kind: opUpdate, Client: client, ID: m.id, Token: m.token, Title: fmt.Sprintf("%s sequel %d", m.token, seq)}
	if ifMatch {
		o.Kind, o.IfMatch = opUpdateIf, m.version
	}
	w.cl.write(ctx, &o, seq)
	w.h.add(o)
	w.after(ctx, o)
}

func (w *workload) delete(ctx context.Context, client int, m movieRef, ifMatch bool) {
	o := op{Kind: opDelete, Client: client, ID: m.id, Token: m.token}
	if ifMatch {
		o.Kind, o.IfMatch = opDeleteIf, m.version
	}
	w.cl.write(ctx, &o, 0)
	w.h.add(o)
	w.after(ctx, o)
}

// after updates the registry from an answer; a 412 reads the current version back from the catalog so
// that the next If-Match of this movie has a chance.
func (w *workload) after(ctx context.Context, o op) {
	deleted := isDelete(o.Kind)
	switch {
	case o.outcome() == outcomeOK:
		w.reg.seen(o.ID, o.Version, deleted)
	case o.Status == http.StatusNotFound:
		w.reg.seen(o.ID, 0, true)
	case o.Status == http.StatusPreconditionFailed:
		if v, gone, err := w.cl.catalogVersion(ctx, o.ID); err == nil {
			w.reg.seen(o.ID, v, gone)
		}
	}
}

func (w *workload) stopped() bool { return isClosed(w.stop) }

// sleep waits d, or less if the load is stopped.
func (w *workload) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-w.stop:
	case <-t.C:
	}
}

// reader reads random movies through the gateway and counts version regressions (monotonic reads) and
// 5xx answers.
func (w *workload) reader(ctx context.Context) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 99))
	maxSeen := map[int64]int64{}
	for ctx.Err() == nil && !w.stopped() {
		w.sleep(ctx, 50*time.Millisecond)
		m, ok := w.reg.pick(rng)
		if !ok {
			continue
		}
		status, _, b, err := w.cl.do(ctx, http.MethodGet, w.cl.gateway+"/v1/movies/"+fmt.Sprint(m.id), nil, nil)
		if ctx.Err() != nil {
			return
		}
		w.reads.Add(1)
		switch {
		case err != nil:
			w.readErrs.Add(1)
			continue
		case status >= 500:
			w.read5xx.Add(1)
			continue
		}
		got, err := decodeIndexed(status, b, nil)
		if err != nil || !got.found {
			continue
		}
		if got.version < maxSeen[m.id] {
			w.regressed.Add(1)
		}
		maxSeen[m.id] = max(maxSeen[m.id], got.version)
	}
}

// probe measures how long after a fault was healed the index reflects the writes acknowledged before the
// fault: it polls the search service until every one of them shows (at least) its acknowledged version, or
// is gone if it was a delete. It returns the time from healed, and false if timeout passed first.
func probe(ctx context.Context, cl *client, h *history, before, healed time.Time, timeout time.Duration) (time.Duration, bool) {
	want := map[int64]op{} // the last acknowledged write of each movie, for movies written in the 5s before
	for _, o := range h.snapshot() {
		if o.outcome() != outcomeOK || o.End.After(before) || o.End.Before(before.Add(-5*time.Second)) {
			continue
		}
		if have, ok := want[o.ID]; !ok || o.Version > have.Version {
			want[o.ID] = o
		}
	}
	deadline := healed.Add(timeout)
	for len(want) > 0 {
		deletes := map[int64]bool{} // movies a delete may have reached since
		for _, o := range h.snapshot() {
			if isDelete(o.Kind) && o.outcome() != outcomeFail {
				deletes[o.ID] = true
			}
		}
		for id, o := range want {
			got, err := cl.indexedMovie(ctx, id)
			if err != nil {
				continue
			}
			if (got.found && got.version >= o.Version) || (!got.found && deletes[id]) {
				delete(want, id)
			}
		}
		if len(want) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(healed), false
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	return time.Since(healed), true
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func isDelete(kind string) bool { return kind == opDelete || kind == opDeleteIf }
