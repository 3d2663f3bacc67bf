// Package shards answers the search API in front of search shards, the services of one stream partition
// each, with the answers one index of every movie gives: a movie is read from its partition's shard, a
// search is asked of every shard and their answers merged, and a suggestion is asked of one shard, each in
// turn, which draws it from the whole catalog's best matches. The shards rank and count as that index does
// (they ask each other what the whole catalog holds, sorted searches' scores included), so pages merge by
// the hits' positions and totals and facets by their sums (a facet that cannot be proven exact says so).
// Cursors hold every shard's position. A search goes to one shard first, each in turn, and then to the
// others with the transcript of what the first asked its peers (shardwire.Result.Transcript), so that its
// questions are asked once, not by every shard.
package shards

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/pkg/shardwire"
)

// Merger is the search API over the shards of a partitioned stream.
type Merger struct {
	log     *slog.Logger
	shards  []http.Handler // shard i holds partition i
	stream  events.Stream  // the partitioning, to find a movie's shard
	cursors cursorSigner
	mux     *http.ServeMux
	turn    atomic.Uint64 // which shard searches first: each in turn
}

// New returns the search API over shards, the search services of partitions 0 to len(shards)-1 in order
// (each may be a load balancer of that partition's replicas). Merged cursors are signed with a key derived
// from secret (the deployment's internal token; empty: a random key, good for this process only).
func New(log *slog.Logger, shards []http.Handler, secret string) *Merger {
	m := &Merger{log: log, shards: shards, stream: events.Stream{Partitions: len(shards)}, cursors: newCursorSigner(secret)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/movies", m.search)
	mux.HandleFunc("GET /v1/movies/{id}", m.movie)
	mux.HandleFunc("GET /v1/suggest", m.suggest)
	mux.HandleFunc("GET /readyz", m.ready)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/v1/index/rebuild", m.rebuild)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, apperr.Errorf(apperr.NotFound, "No such resource."))
	})
	m.mux = mux
	return m
}

func (m *Merger) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// movie reads a movie from its partition's shard, as that shard answers (an id that is no id goes to the
// first shard, which says so).
func (m *Merger) movie(w http.ResponseWriter, r *http.Request) {
	shard := 0
	if id, err := strconv.ParseInt(r.PathValue("id"), 10, 64); err == nil && id > 0 {
		shard = m.stream.Partition(id)
	}
	m.shards[shard].ServeHTTP(w, r)
}

// answer is one shard's answer to the gateway.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) ok() bool { return a.status == http.StatusOK }

// question is what a shard is asked in place of the client's request: its query, and headers set besides
// those kept from the client's. A search given a transcript goes to shardwire.SearchRoute with it; a shard
// that knows no such route (an older version's, in a rolling upgrade: 404) or cannot read the transcript
// (400) is asked again as before, and asks its peers itself.
type question struct {
	query      url.Values
	header     http.Header
	transcript []byte
}

// ask asks the shards, in parallel, what of says (a nil question: that shard is not asked), and returns
// their answers in shard order.
func (m *Merger) ask(ctx context.Context, r *http.Request, of func(shard int) *question) ([]*answer, error) {
	answers := make([]*answer, len(m.shards))
	g, ctx := errgroup.WithContext(ctx)
	for i, shard := range m.shards {
		q := of(i)
		if q == nil {
			continue
		}
		g.Go(func() (err error) {
			answers[i], err = m.askOne(ctx, r, shard, q)
			if err == nil && q.transcript != nil && (answers[i].status == http.StatusNotFound || answers[i].status == http.StatusBadRequest) {
				answers[i], err = m.askOne(ctx, r, shard, &question{query: q.query, header: q.header})
			}
			return err
		})
	}
	return answers, g.Wait()
}

// askOne asks one shard q in place of r.
func (m *Merger) askOne(ctx context.Context, r *http.Request, shard http.Handler, q *question) (*answer, error) {
	u := *r.URL
	u.RawQuery = q.query.Encode()
	method, body := r.Method, io.Reader(nil)
	if q.transcript != nil {
		method, u.Path, u.RawPath, body = http.MethodPost, shardwire.SearchRoute, "", bytes.NewReader(q.transcript)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = r.RemoteAddr // the proxy's X-Forwarded-For names the client
	for _, h := range []string{"Cache-Control", "Pragma", "X-Forwarded-Proto", "X-Request-Id", "Marquee-Client-IP"} {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	for k, v := range q.header {
		req.Header[k] = v
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	shard.ServeHTTP(rec, req)
	return &answer{status: rec.status, header: rec.header, body: rec.body}, nil
}

// relayFailure writes the first shard answer that is not a success, as the shard gave it, and reports
// whether there was one.
func relayFailure(w http.ResponseWriter, answers []*answer) bool {
	for _, a := range answers {
		if a != nil && !a.ok() {
			for k, v := range a.header {
				w.Header()[k] = v
			}
			w.WriteHeader(a.status)
			_, _ = w.Write(a.body)
			return true
		}
	}
	return false
}

// merging is the header of a request whose answer is merged.
func merging() http.Header { return http.Header{shardwire.Header: {"1"}} }

// rebuild sends a rebuild (POST) or the question of its state (GET) to every shard: the first failure is
// the answer, else the state of them all (see mergeRebuilds).
func (m *Merger) rebuild(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		httpx.WriteError(w, r, apperr.Errorf(apperr.MethodNotAllowed, "Only GET and POST are allowed here."))
		return
	}
	answers, err := m.ask(r.Context(), r, func(int) *question { return &question{query: r.URL.Query(), header: r.Header} })
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	for _, a := range answers {
		if a.status >= 300 { // a POST starts with 202
			relayFailure(w, []*answer{a})
			return
		}
	}
	merged, err := mergeRebuilds(answers)
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	httpx.WriteJSON(w, answers[0].status, merged)
}

// rebuildStatus is a shard's state of its index rebuild, or the state of every shard's.
type rebuildStatus struct {
	State      string            `json:"state"`
	StartedAt  *time.Time        `json:"started_at,omitempty"`
	FinishedAt *time.Time        `json:"finished_at,omitempty"`
	Checkpoint uint64            `json:"checkpoint"`
	Target     uint64            `json:"target"`
	Applied    uint64            `json:"applied"`
	Movies     uint64            `json:"movies"`
	Error      string            `json:"error,omitempty"`
	DurationMS int64             `json:"duration_ms"`
	Shards     []json.RawMessage `json:"shards,omitempty"` // the merged state's: each shard's, in partition order
}

// rebuildStates in the order a merged state takes the shards': a failure over a rebuild still running, a
// running one over a finished one, finished over never started.
var rebuildStates = []string{"idle", "done", "swapping", "building", "failed"}

// mergeRebuilds is the state of every shard's rebuild as one: the furthest from done of the shards'
// states (see rebuildStates), the first start, the last finish once none runs, the changes and movies
// added up, and the events left (target − checkpoint) added up below the furthest target. Each shard's own
// is beside it.
func mergeRebuilds(answers []*answer) (*rebuildStatus, error) {
	out := &rebuildStatus{State: rebuildStates[0]}
	var left uint64
	var errs []string
	running := false
	for i, a := range answers {
		var st rebuildStatus
		if err := json.Unmarshal(a.body, &st); err != nil || !slices.Contains(rebuildStates, st.State) {
			return nil, fmt.Errorf("shard %d answered a rebuild's state that is not one: %v", i, err)
		}
		if slices.Index(rebuildStates, st.State) > slices.Index(rebuildStates, out.State) {
			out.State = st.State
		}
		running = running || st.State == "building" || st.State == "swapping"
		if st.StartedAt != nil && (out.StartedAt == nil || st.StartedAt.Before(*out.StartedAt)) {
			out.StartedAt = st.StartedAt
		}
		if st.FinishedAt != nil && (out.FinishedAt == nil || st.FinishedAt.After(*out.FinishedAt)) {
			out.FinishedAt = st.FinishedAt
		}
		if st.Error != "" {
			errs = append(errs, fmt.Sprintf("shard %d: %s", i, st.Error))
		}
		out.Target = max(out.Target, st.Target)
		left += st.Target - min(st.Checkpoint, st.Target)
		out.Applied += st.Applied
		out.Movies += st.Movies
		out.DurationMS = max(out.DurationMS, st.DurationMS)
		out.Shards = append(out.Shards, json.RawMessage(a.body))
	}
	if running {
		out.FinishedAt = nil
	}
	out.Checkpoint = out.Target - min(left, out.Target)
	out.Error = strings.Join(errs, "; ")
	return out, nil
}

func relay(w http.ResponseWriter, a *answer) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// ready is ready when every shard is and holds its partition: a shard not ready is the answer, and one
// that holds another partition (search_shards out of order, or naming a service of every movie) is 503.
func (m *Merger) ready(w http.ResponseWriter, r *http.Request) {
	answers, err := m.ask(r.Context(), r, func(int) *question { return &question{query: r.URL.Query()} })
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	if relayFailure(w, answers) {
		return
	}
	if err := m.checkPartitions(r); err != nil {
		m.log.Warn("search shards misplaced", "err", err)
		httpx.WriteError(w, r, apperr.Errorf(apperr.Unavailable, "The search shards are not the partitions they are configured as: %v.", err))
		return
	}
	type status struct {
		Status  string `json:"status"`
		Detail  string `json:"detail,omitempty"`
		Current *bool  `json:"current,omitempty"`
	}
	out := status{Status: "ready"}
	for i, a := range answers {
		var st status
		if err := json.Unmarshal(a.body, &st); err != nil {
			m.unavailable(w, r, fmt.Errorf("shard %d readiness: %w", i, err))
			return
		}
		if st.Status == "degraded" && out.Status == "ready" {
			out.Status, out.Detail = "degraded", fmt.Sprintf("shard %d: %s", i, st.Detail)
		}
		if st.Current != nil {
			current := *st.Current && (out.Current == nil || *out.Current)
			out.Current = &current
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// checkPartitions asks every shard which partition it holds (its index versions' page says so).
func (m *Merger) checkPartitions(r *http.Request) error {
	versions := *r
	versions.URL = &url.URL{Path: "/v1/index/versions"}
	answers, err := m.ask(r.Context(), &versions, func(int) *question {
		return &question{query: url.Values{"after_id": {"0"}, "until_id": {"1"}, "limit": {"1"}}}
	})
	if err != nil {
		return err
	}
	for i, a := range answers {
		var held struct {
			Partition  *int `json:"partition"`
			Partitions int  `json:"partitions"`
		}
		if !a.ok() || json.Unmarshal(a.body, &held) != nil {
			return fmt.Errorf("shard %d answered %d to which partition it holds", i, a.status)
		}
		if held.Partition == nil || *held.Partition != i || held.Partitions != len(m.shards) {
			p := "every movie"
			if held.Partition != nil {
				p = fmt.Sprintf("partition %d of %d", *held.Partition, held.Partitions)
			}
			return fmt.Errorf("shard %d of search_shards holds %s, not partition %d of %d", i, p, i, len(m.shards))
		}
	}
	return nil
}

func (m *Merger) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	m.log.Warn("search shards unavailable", "path", r.URL.Path, "err", err)
	httpx.WriteError(w, r, apperr.Errorf(apperr.Unavailable, "The search service is unavailable; try again shortly."))
}

// recorder is the minimal http.ResponseWriter a shard's answer is read with.
type recorder struct {
	header http.Header
	status int
	body   []byte
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body = append(r.body, b...)
	return len(b), nil
}

// cursorKeyOf derives the key of merged cursors from the deployment's secret.
func cursorKeyOf(secret string) []byte {
	if secret == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("marquee merged search cursors"))
	return mac.Sum(nil)
}
