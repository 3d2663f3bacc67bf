package searchsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx/natsembed"
	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searchsvc"
)

type svcFixture struct {
	js  jetstream.JetStream
	cfg searchsvc.Config
	svc *searchsvc.Service
}

func newSvc(t *testing.T, wait time.Duration) *svcFixture {
	t.Helper()
	return newSvcWith(t, func(c *searchsvc.Config) { c.ConsistencyWait = wait })
}

// newSvcWith starts a search service of the default configuration changed by edit, on js if given (else
// on a JetStream of its own), and runs it until the test ends.
func newSvcWith(t *testing.T, edit func(*searchsvc.Config), js ...jetstream.JetStream) *svcFixture {
	t.Helper()
	if len(js) == 0 {
		js = append(js, testenv.JetStream(t))
	}
	cfg := searchsvc.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Stream, cfg.SubjectPrefix = "TREL", "trel"
	edit(&cfg)
	return &svcFixture{js: js[0], cfg: cfg, svc: runService(t, js[0], cfg)}
}

// runService starts a search service with cfg on js and runs it until the test ends.
func runService(t *testing.T, js jetstream.JetStream, cfg searchsvc.Config) *searchsvc.Service {
	t.Helper()
	svc, _ := startService(t, js, cfg)
	return svc
}

func (f *svcFixture) publish(t *testing.T, id, version int64, title string) {
	t.Helper()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: id, Version: version, OccurredAt: at,
		Movie: &events.Movie{ID: id, Version: version, Title: title, CreatedAt: at, UpdatedAt: at}}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.Publish(context.Background(), f.cfg.EventStream().Subject(id), b, jetstream.WithMsgID(events.MsgID(id, version))); err != nil {
		t.Fatal(err)
	}
}

func (f *svcFixture) delete(t *testing.T, id, version int64) {
	t.Helper()
	e := &events.MovieChanged{Schema: 1, Type: events.MovieDeleted, ID: id, Version: version, OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.Publish(context.Background(), f.cfg.EventStream().Subject(id), b, jetstream.WithMsgID(events.MsgID(id, version))); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the index holds movie id at version or later (a delete counts).
func (f *svcFixture) waitFor(t *testing.T, id, version int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		w := f.get(fmt.Sprintf("/v1/movies/%d?min_version=%d", id, version))
		if w.Header().Get("Marquee-Consistent") == "true" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("movie %d at version %d not in the index within 20s: %d %s", id, version, w.Code, w.Body)
		}
	}
}

func (f *svcFixture) get(target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func (f *svcFixture) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.get("/readyz").Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 10s: %s", f.get("/readyz").Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadYourWrites(t *testing.T) {
	f := newSvc(t, 300*time.Millisecond)
	f.waitReady(t)
	// A read that asks for a version not yet published waits, then says it is not current.
	w := f.get("/v1/movies/7?min_version=1")
	if w.Code != http.StatusNotFound || w.Header().Get("Marquee-Consistent") != "false" {
		t.Fatalf("before the write: %d, Marquee-Consistent %q; want 404 and false", w.Code, w.Header().Get("Marquee-Consistent"))
	}
	// A read waiting for a version that arrives while it waits is woken by the applied batch.
	res := make(chan *httptest.ResponseRecorder, 1)
	go func() { res <- f.get("/v1/movies/7?min_version=1") }()
	time.Sleep(20 * time.Millisecond)
	f.publish(t, 7, 1, "Amélie")
	w = <-res
	if w.Code != http.StatusOK || w.Header().Get("Marquee-Consistent") != "true" {
		t.Fatalf("with the write: %d %s, Marquee-Consistent %q", w.Code, w.Body, w.Header().Get("Marquee-Consistent"))
	}
	var m struct {
		Version int64 `json:"version"`
		Index   struct {
			Current bool `json:"current"`
		} `json:"index"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.Version != 1 || !m.Index.Current {
		t.Errorf("answer %s: want version 1 and index.current", w.Body)
	}
	// A search with a token for a version the index does not have yet is answered, not current.
	w = f.get("/v1/movies?q=amelie&min_version=7:2")
	if w.Code != http.StatusOK || w.Header().Get("Marquee-Consistent") != "false" || !strings.Contains(w.Body.String(), `"current":false`) {
		t.Errorf("search with a future version: %d %q %s", w.Code, w.Header().Get("Marquee-Consistent"), w.Body)
	}
	w = f.get("/v1/movies?q=amelie&min_version=7:1,8:0")
	if w.Code != http.StatusBadRequest {
		t.Errorf("version 0: %d, want 400", w.Code)
	}
	w = f.get("/v1/movies?q=amelie&min_version=7:1")
	if w.Header().Get("Marquee-Consistent") != "true" || !strings.Contains(w.Body.String(), `"current":true`) {
		t.Errorf("search with the version: %q %s", w.Header().Get("Marquee-Consistent"), w.Body)
	}
}

func TestDeadLetter(t *testing.T) {
	f := newSvc(t, time.Second)
	f.waitReady(t)
	ctx := context.Background()
	if _, err := f.js.Publish(ctx, f.cfg.EventStream().Subject(5), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	f.publish(t, 6, 1, "After the bad one")
	if w := f.get("/v1/movies/6?min_version=1"); w.Code != http.StatusOK {
		t.Fatalf("the event after a bad one: %d (a bad event must not block the rest)", w.Code)
	}
	st, err := f.js.Stream(ctx, f.cfg.Stream+"_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	// The indexer parks it once the batch that skipped it is on disk, soon after it is searchable.
	msg, err := st.GetLastMsgForSubject(ctx, "trel.deadletter.movie.5")
	for deadline := time.Now().Add(5 * time.Second); errors.Is(err, jetstream.ErrMsgNotFound) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		msg, err = st.GetLastMsgForSubject(ctx, "trel.deadletter.movie.5")
	}
	if err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if string(msg.Data) != "not json" || msg.Header.Get(events.HeaderDeadLetterStream) != "TREL" ||
		msg.Header.Get(events.HeaderDeadLetterSequence) != "1" || msg.Header.Get(events.HeaderDeadLetterReason) == "" {
		t.Errorf("dead letter %q with headers %v", msg.Data, msg.Header)
	}
	// The server stores the dead letter before the indexer has its acknowledgement and counts it.
	for deadline := time.Now().Add(5 * time.Second); f.svc.Stats().Parked == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.svc.Stats().Parked; got != 1 {
		t.Errorf("Parked = %d, want 1", got)
	}
	metrics := f.get("/metrics").Body.String()
	for _, want := range []string{"marquee_indexer_events_deadlettered_total 1", "marquee_indexer_events_applied_total 1", "marquee_index_lag 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestRebuildSwapsWithoutDowntime(t *testing.T) {
	f := newSvc(t, 2*time.Second)
	const n = 300
	for id := int64(1); id <= n; id++ {
		f.publish(t, id, 1, fmt.Sprintf("Movie %d", id))
	}
	f.waitReady(t)
	if w := f.get(fmt.Sprintf("/v1/movies/%d?min_version=1", n)); w.Code != http.StatusOK {
		t.Fatalf("before: %d", w.Code)
	}
	st, err := f.svc.StartRebuild()
	if err != nil || st.State != search.RebuildBuilding {
		t.Fatalf("StartRebuild = %+v, %v", st, err)
	}
	if _, err := f.svc.StartRebuild(); err == nil {
		t.Error("a second rebuild started while one runs")
	}
	// Reads and writes go on while it runs; every read is answered.
	var failed int
	deadline := time.Now().Add(30 * time.Second)
	for v := int64(2); f.svc.Rebuild().State != search.RebuildDone; v++ {
		if time.Now().After(deadline) || f.svc.Rebuild().State == search.RebuildFailed {
			t.Fatalf("rebuild did not finish: %+v", f.svc.Rebuild())
		}
		if v < 50 {
			f.publish(t, 1, v, fmt.Sprintf("Movie 1 v%d", v))
		}
		if w := f.get("/v1/movies?q=movie"); w.Code != http.StatusOK {
			failed++
		}
		time.Sleep(5 * time.Millisecond)
	}
	if failed > 0 {
		t.Errorf("%d searches failed during the rebuild", failed)
	}
	st = f.svc.Rebuild()
	if st.Movies != n || st.Checkpoint < st.Target {
		t.Errorf("rebuild status %+v, want %d movies, caught up", st, n)
	}
	// The new index is live and still followed by the indexer.
	f.publish(t, n+1, 1, "After the swap")
	if w := f.get(fmt.Sprintf("/v1/movies/%d?min_version=1", n+1)); w.Code != http.StatusOK || w.Header().Get("Marquee-Consistent") != "true" {
		t.Fatalf("a write after the swap: %d %s", w.Code, w.Body)
	}
	if w := f.get(fmt.Sprintf("/v1/movies/%d", n)); w.Code != http.StatusOK {
		t.Errorf("an old movie after the swap: %d", w.Code)
	}
}

// TestReadyWithoutNATS: a replica that has caught up once stays ready and serves reads when NATS goes away
// (readiness that followed NATS took every replica, and the gateways behind them, out of service on the same
// NATS restart); /readyz says it is degraded and why.
func TestReadyWithoutNATS(t *testing.T) {
	ns, err := natsembed.Run(natsembed.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
		}
	})
	nc, err := ns.Connect(nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := searchsvc.DefaultConfig()
	cfg.DataDir = t.TempDir()
	f := &svcFixture{js: js, cfg: cfg, svc: runService(t, js, cfg)}
	f.waitReady(t)
	f.publish(t, 7, 1, "Amélie")
	if w := f.get("/v1/movies/7?min_version=1"); w.Code != http.StatusOK {
		t.Fatalf("before NATS stops: %d %s", w.Code, w.Body)
	}
	ns.Shutdown()
	stopped = true
	deadline := time.Now().Add(15 * time.Second)
	for {
		w := f.get("/readyz")
		if w.Code != http.StatusOK {
			t.Fatalf("readyz without NATS = %d %s, want 200", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), `"status":"degraded"`) && strings.Contains(w.Body.String(), "NATS has been disconnected") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz without NATS = %s: want it to say it is degraded, NATS away", w.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// It answers, and does not claim to be current: it cannot know what the stream holds.
	if w := f.get("/v1/movies?q=amelie"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"id":7`) ||
		!strings.Contains(w.Body.String(), `"current":false`) {
		t.Fatalf("a search without NATS: %d %s; want movie 7, not current", w.Code, w.Body)
	}
}
