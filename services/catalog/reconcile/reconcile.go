// Package reconcile compares the catalog's database, the source of truth, with what the rest of the system
// holds, and repairs what differs. It pages through every movie's (id, version, deleted) in the database and
// compares each with the movie's last message in the stream (the message a rebuilt replica would apply)
// and, when an index is given, with the version a search index holds. A movie whose last message is
// missing, older, newer, unreadable or about another movie, or whose index version differs, is repaired by
// queueing its current state (or tombstone) in the outbox under a new message id (events.RepairMsgID):
// the relay publishes it in order with the movie's writes, so the stream's last message of the movie is
// again the database's state and every index applies it if it is newer than what it holds.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
)

// Index is a search index's view of the movies: every (id, version, deleted) it holds with an id in
// (afterID, untilID], in id order.
type Index interface {
	Versions(ctx context.Context, afterID, untilID int64) (Held, error)
}

// Held is what an index holds over a range of ids: each movie's version, and which movies it is meant to
// hold at all (a search shard holds one partition of the stream).
type Held struct {
	Versions   []catalog.MovieVersion
	Holds      func(id int64) bool // nil: every movie
	Partitions int                 // with Holds, the partitions the index's stream has
}

// Why a movie was repaired.
const (
	ReasonMissing    = "stream-missing"    // the stream has no message of the movie
	ReasonOlder      = "stream-older"      // its last message is an older version
	ReasonNewer      = "stream-newer"      // its last message claims a version the database never had
	ReasonMismatch   = "stream-mismatch"   // same version, but a delete where there is none or the reverse
	ReasonUnreadable = "stream-unreadable" // its last message is not a valid event
	ReasonForeign    = "stream-foreign"    // its last message is about another movie
	ReasonIndex      = "index-differs"     // the search index holds another version
)

const (
	pageSize = 500
	workers  = 64 // look-ups of the stream in flight: a pass waits on their round trips more than on the CPU
)

// Report says what one reconciliation found and did.
type Report struct {
	Checked          int            `json:"checked"`           // movies compared
	Repaired         int            `json:"repaired"`          // movies whose state was queued again
	Pending          int            `json:"pending"`           // differing movies with an event still in the outbox (the relay repairs them)
	Reasons          map[string]int `json:"reasons"`           // repaired movies by reason
	IndexChecked     bool           `json:"index_checked"`     // whether a search index was compared too
	IndexAhead       int            `json:"index_ahead"`       // movies the index holds at a version the database never had (only a reindex fixes them)
	IndexUnknown     int            `json:"index_unknown"`     // movies the index holds that the database has never had
	IndexMisplaced   int            `json:"index_misplaced"`   // movies a shard holds that are another partition's
	DurationMS       int64          `json:"duration_ms"`       // how long it took
	RepairsPublished bool           `json:"repairs_published"` // set by callers that wait: whether the relay has published the repairs
}

// Metrics are the reconciler's Prometheus metrics.
type Metrics struct {
	runs    prometheus.Counter
	repairs *prometheus.CounterVec
}

// NewMetrics registers the reconciler's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		runs: httpx.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marquee_reconciler_runs_total", Help: "Reconciliations run."})),
		repairs: httpx.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marquee_reconciler_repairs_total", Help: "Movies republished by the reconciler, by reason."}, []string{"reason"})),
	}
}

// Reconciler compares and repairs. One reconciliation runs at a time.
type Reconciler struct {
	log     *slog.Logger
	store   catalog.ReconcileStore
	js      jetstream.JetStream
	stream  events.Stream
	index   Index // nil: the stream only
	metrics *Metrics
	queued  func() // called after repairs were queued (wakes the relay)

	mu      sync.Mutex
	checked atomic.Int64 // movies the running (or last) reconciliation has compared
}

// New returns a reconciler. index may be nil; metrics may be nil; queued is called after repairs.
func New(log *slog.Logger, store catalog.ReconcileStore, js jetstream.JetStream, stream events.Stream, index Index, metrics *Metrics, queued func()) *Reconciler {
	if queued == nil {
		queued = func() {}
	}
	return &Reconciler{log: log.With("component", "reconciler"), store: store, js: js, stream: stream, index: index, metrics: metrics, queued: queued}
}

// Checked is how many movies the running reconciliation (or the last one) has compared so far.
func (r *Reconciler) Checked() int64 { return r.checked.Load() }

// Run reconciles every interval until ctx is done (the first time after one interval).
func (r *Reconciler) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Reconcile(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reconciliation failed; next one at the next interval", "err", err)
		}
	}
}

// Reconcile compares every movie once, with the stream and the search index if there is one, and repairs
// what differs.
func (r *Reconciler) Reconcile(ctx context.Context) (Report, error) {
	return r.reconcile(ctx, r.index)
}

// ReconcileStream compares every movie once with the stream only, and repairs what differs: what a
// search service consumes, so what it needs to catch up, whether or not that service answers yet.
func (r *Reconciler) ReconcileStream(ctx context.Context) (Report, error) {
	return r.reconcile(ctx, nil)
}

func (r *Reconciler) reconcile(ctx context.Context, index Index) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	rep := Report{Reasons: map[string]int{}, IndexChecked: index != nil}
	r.checked.Store(0)
	if r.metrics != nil {
		r.metrics.runs.Inc()
	}
	st, err := r.js.Stream(ctx, r.stream.Name)
	if err != nil {
		return rep, apperr.Wrap(err, apperr.Unavailable, "The event stream is unavailable.")
	}
	var after int64
	for {
		page, err := r.store.MovieVersions(ctx, after, pageSize)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			break
		}
		from := after
		after = page[len(page)-1].ID
		reasons := make([]string, len(page))
		if err := r.compareStream(ctx, st, page, reasons); err != nil {
			return rep, err
		}
		if index != nil {
			have, err := index.Versions(ctx, from, after)
			if err != nil {
				return rep, err
			}
			if have.Holds != nil && have.Partitions != r.stream.Partitions {
				return rep, apperr.Errorf(apperr.Unavailable, "The search index holds a partition of a stream of %d partitions; the catalog's has %d.", have.Partitions, r.stream.Partitions)
			}
			compareIndex(page, have, reasons, &rep)
		}
		var differ []int64
		for i, why := range reasons {
			if why != "" {
				differ = append(differ, page[i].ID)
			}
		}
		queued, err := r.store.RepublishMovies(ctx, differ)
		if err != nil {
			return rep, err
		}
		done := make(map[int64]bool, len(queued))
		for _, id := range queued {
			done[id] = true
		}
		for i, why := range reasons {
			rep.Checked++
			switch {
			case why == "":
			case !done[page[i].ID]:
				rep.Pending++
			default:
				rep.Repaired++
				rep.Reasons[why]++
				if r.metrics != nil {
					r.metrics.repairs.WithLabelValues(why).Inc()
				}
			}
		}
		r.checked.Store(int64(rep.Checked))
		if rep.Repaired > 0 {
			r.queued()
		}
	}
	rep.DurationMS = time.Since(start).Milliseconds()
	r.log.Info("reconciled", "checked", rep.Checked, "repaired", rep.Repaired, "reasons", rep.Reasons,
		"pending", rep.Pending, "index_checked", rep.IndexChecked, "index_ahead", rep.IndexAhead, "index_misplaced", rep.IndexMisplaced, "took", time.Since(start))
	return rep, nil
}

// compareStream sets reasons[i] for every movie of page whose last message in the stream is not its state.
func (r *Reconciler) compareStream(ctx context.Context, st jetstream.Stream, page []catalog.MovieVersion, reasons []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, mv := range page {
		g.Go(func() error {
			why, err := r.streamReason(gctx, st, mv)
			reasons[i] = why
			return err
		})
	}
	return g.Wait()
}

func (r *Reconciler) streamReason(ctx context.Context, st jetstream.Stream, mv catalog.MovieVersion) (string, error) {
	msg, err := st.GetLastMsgForSubject(ctx, r.stream.StoredSubject(mv.ID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return ReasonMissing, nil
	}
	if err != nil {
		return "", apperr.Wrap(fmt.Errorf("last message of movie %d: %w", mv.ID, err), apperr.Unavailable, "The event stream is unavailable.")
	}
	return Compare(mv, msg.Data), nil
}

// Compare says why data, a movie's last message in the stream, does not carry mv, its state in the
// database; "" when it does.
func Compare(mv catalog.MovieVersion, data []byte) string {
	e, err := events.Unmarshal(data)
	switch {
	case err != nil:
		return ReasonUnreadable
	case e.ID != mv.ID:
		return ReasonForeign
	case e.Version < mv.Version:
		return ReasonOlder
	case e.Version > mv.Version:
		return ReasonNewer
	case e.Deleted() != mv.Deleted:
		return ReasonMismatch
	}
	return ""
}

// compareIndex sets reasons[i] (where not set yet) for every movie of page the index is meant to hold and
// holds at another version or state; have is what the index holds over the page's id range.
func compareIndex(page []catalog.MovieVersion, have Held, reasons []string, rep *Report) {
	byID := make(map[int64]catalog.MovieVersion, len(have.Versions))
	for _, v := range have.Versions {
		byID[v.ID] = v
	}
	for i, mv := range page {
		if have.Holds != nil && !have.Holds(mv.ID) {
			if _, ok := byID[mv.ID]; ok {
				rep.IndexMisplaced++ // another partition's: the shard should not hold it at all
				delete(byID, mv.ID)
			}
			continue
		}
		h, ok := byID[mv.ID]
		delete(byID, mv.ID)
		switch {
		case h.Version > mv.Version:
			rep.IndexAhead++ // a foreign event the version guard keeps; a reindex from the repaired stream fixes it
		case !ok && mv.Deleted:
			// never seen and deleted: nothing to serve
		case h.Version != mv.Version || h.Deleted != mv.Deleted:
			if reasons[i] == "" {
				reasons[i] = ReasonIndex
			}
		}
	}
	for _, v := range byID {
		if !v.Deleted {
			rep.IndexUnknown++ // a movie id the database never had
		}
	}
}

// HTTPIndex reads a search service's GET /v1/index/versions through h: a reverse proxy or client-backed
// handler in split mode, the search handler itself in the all-in-one.
type HTTPIndex struct {
	Handler http.Handler
}

// NewURLIndex returns an HTTPIndex of the search service at base (e.g. http://127.0.0.1:8082), whose requests
// carry the deployment's internal token (none if empty).
func NewURLIndex(base, internalToken string) (*HTTPIndex, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("search url %q: want http(s)://host[:port]", base)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	return &HTTPIndex{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String()+r.URL.RequestURI(), nil)
		if internalToken != "" {
			out.Header.Set(httpx.InternalTokenHeader, internalToken)
		}
		resp, err := client.Do(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		w.WriteHeader(resp.StatusCode)
		_, _ = copyBody(w, resp)
	})}, nil
}

// Versions implements Index, page by page. A search service that holds one partition of the stream says
// which: the movies of the others are not expected of it.
func (x *HTTPIndex) Versions(ctx context.Context, afterID, untilID int64) (Held, error) {
	var out Held
	for afterID < untilID {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("/v1/index/versions?after_id=%d&until_id=%d&limit=%d",
			afterID, untilID, pageSize), nil)
		rec := httptest.NewRecorder()
		x.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return Held{}, apperr.Errorf(apperr.Unavailable, "The search index answered %d to a versions request.", rec.Code)
		}
		var body struct {
			Versions []struct {
				ID      int64 `json:"id"`
				Version int64 `json:"version"`
				Deleted bool  `json:"deleted"`
			} `json:"versions"`
			NextAfterID int64 `json:"next_after_id"`
			Partition   *int  `json:"partition"`
			Partitions  int   `json:"partitions"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			return Held{}, fmt.Errorf("decode index versions: %w", err)
		}
		for _, v := range body.Versions {
			out.Versions = append(out.Versions, catalog.MovieVersion{ID: v.ID, Version: v.Version, Deleted: v.Deleted})
		}
		if body.Partition != nil {
			s := events.Stream{Partitions: body.Partitions}
			if !s.Partitioned() || !s.HasPartition(*body.Partition) || *body.Partition < 0 {
				return Held{}, fmt.Errorf("index versions: partition %d of %d", *body.Partition, body.Partitions)
			}
			p := *body.Partition
			out.Holds, out.Partitions = func(id int64) bool { return s.Partition(id) == p }, s.Partitions
		}
		if body.NextAfterID <= afterID {
			return Held{}, fmt.Errorf("index versions: no progress after id %d", afterID)
		}
		afterID = body.NextAfterID
	}
	return out, nil
}

func copyBody(w http.ResponseWriter, resp *http.Response) (int64, error) {
	return io.Copy(w, resp.Body)
}
