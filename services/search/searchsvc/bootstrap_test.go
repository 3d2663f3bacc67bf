package searchsvc_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"marquee/pkg/httpx"
	"marquee/services/search/searchsvc"
)

// A replica started from a peer's snapshot replays only the events after the snapshot's checkpoint, then
// answers as its peer does; one that cannot get a snapshot (refused, or no peer) replays the whole stream
// and gets there too.
func TestReplicaFromSnapshot(t *testing.T) {
	const n = 200
	peer, token := snapshotPeer(t, n)
	// The peer is busy the first time it is asked (503 with Retry-After): the replica asks again.
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/index/snapshot" && r.Header.Get(httpx.InternalTokenHeader) == token && asked.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		peer.svc.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	// Nor is a snapshot copied for a HEAD.
	if resp, err := http.Head(srv.URL + "/v1/index/snapshot"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD of the snapshot: %v %v, want 405", resp, err)
	}

	// Without the internal token the peer sends nothing.
	resp, err := http.Get(srv.URL + "/v1/index/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("snapshot without the token: %d, want 401", resp.StatusCode)
	}

	replica := func(name, token string) *svcFixture {
		return newSvcWith(t, func(c *searchsvc.Config) {
			c.Stream, c.SubjectPrefix = peer.cfg.Stream, peer.cfg.SubjectPrefix
			c.DataDir = filepath.Join(t.TempDir(), name)
			c.BootstrapFrom, c.InternalToken = srv.URL, token
		}, peer.js)
	}
	copied := replica("copied", token)
	refused := replica("refused", strings.Repeat("x", 32))
	// Writes after the snapshot: updates, new movies, a delete.
	for id := int64(1); id <= 10; id++ {
		peer.publish(t, id, 2, fmt.Sprintf("Movie %d, second cut", id))
	}
	peer.publish(t, n+1, 1, "After the snapshot")
	peer.delete(t, 20, 2)
	for _, f := range []*svcFixture{peer, copied, refused} {
		f.waitReady(t)
		f.waitFor(t, n+1, 1)
		f.waitFor(t, 20, 2)
		f.waitFor(t, 10, 2)
	}
	if got := asked.Load(); got != 2 {
		t.Errorf("the peer was asked for a snapshot %d times with the token, want 2 (busy, then sent)", got)
	}
	if st := copied.svc.Stats(); st.Applied == 0 || st.Applied >= n {
		t.Errorf("the copied replica applied %d changes, want only the ones after its snapshot (fewer than %d)", st.Applied, n)
	}
	if got := appliedAtLeast(refused, n); got < n {
		t.Errorf("the refused replica applied %d changes, want the whole stream (%d or more)", got, n)
	}
	for _, target := range []string{"/v1/movies?q=movie&per_page=100", "/v1/movies?q=second+cut", "/v1/movies?q=snapshot",
		"/v1/movies/20", "/v1/movies/5", "/v1/movies?q=moive+1&per_page=50"} {
		want := answerOf(t, peer, target)
		if wantStatus := map[bool]string{true: "404", false: "200"}[target == "/v1/movies/20"]; !strings.HasPrefix(want, wantStatus) {
			t.Errorf("the peer answered %s with %s, want %s", target, want, wantStatus)
		}
		for name, f := range map[string]*svcFixture{"copied": copied, "refused": refused} {
			if got := answerOf(t, f, target); !sameAnswer(t, got, want) {
				t.Errorf("%s %s:\n got %s\nwant %s", name, target, got, want)
			}
		}
	}
	// The copy is the live index of the replica's data folder: a restart opens it.
	if b, err := os.ReadFile(filepath.Join(copied.cfg.DataDir, "index.current")); err != nil || !strings.HasPrefix(string(b), "index-") {
		t.Errorf("index.current %q, %v: want the copy's folder", b, err)
	}
}

// snapshotPeer starts a search service with an internal token, holding movies 1..n, to copy replicas from.
func snapshotPeer(t *testing.T, n int64) (*svcFixture, string) {
	t.Helper()
	token := strings.Repeat("t", 32)
	peer := newSvcWith(t, func(c *searchsvc.Config) { c.InternalToken = token })
	for id := int64(1); id <= n; id++ {
		peer.publish(t, id, 1, fmt.Sprintf("Movie %d", id))
	}
	peer.waitReady(t)
	peer.waitFor(t, n, 1)
	return peer, token
}

// answerOf is the status and body of a read, without what differs between replicas that hold the same
// movies (the time it took).
func answerOf(t *testing.T, f *svcFixture, target string) string {
	t.Helper()
	w := f.get(target)
	body := w.Body.String()
	if i := strings.Index(body, `"took_ms"`); i >= 0 {
		j := i + strings.IndexAny(body[i:], ",}")
		body = body[:i] + body[j:]
	}
	return fmt.Sprintf("%d %s", w.Code, body)
}

// sameAnswer reports whether two replicas' answers (answerOf) agree: the same status and body, but that a
// score may differ by up to 1 % (and hits whose scores are that close may trade places), and a next cursor,
// which holds the last hit's score, in its bytes. A replica's scores count the movies of its segments,
// deleted ones too until a merge drops them, and a copied replica's segments are not those of one that
// indexed the stream.
func sameAnswer(t *testing.T, got, want string) bool {
	t.Helper()
	gs, gb, _ := strings.Cut(got, " ")
	ws, wb, _ := strings.Cut(want, " ")
	if gs != ws {
		return false
	}
	var g, w any
	if json.Unmarshal([]byte(gb), &g) != nil || json.Unmarshal([]byte(wb), &w) != nil {
		return gb == wb
	}
	return alike(g, w, "")
}

// sameHits: the same hits, each alike, and at each place hits whose scores are within 1 %.
func sameHits(g, w []any) bool {
	byID := map[any]any{}
	for _, h := range w {
		m, _ := h.(map[string]any)
		byID[m["id"]] = h
	}
	for i, h := range g {
		m, _ := h.(map[string]any)
		wh, ok := byID[m["id"]]
		if !ok || !alike(h, wh, "") {
			return false
		}
		wm, _ := w[i].(map[string]any)
		if !alike(m["score"], wm["score"], "score") {
			return false
		}
		delete(byID, m["id"])
	}
	return true
}

// TestSameAnswer: answers alike but for a score's last digits, a cursor's bytes, or the order of hits that
// close are the same answer; another status, hit, total, title, a score 2 % apart, hits of far apart scores
// in another order, or one hit twice, is not.
func TestSameAnswer(t *testing.T) {
	const want = `{"total":2,"hits":[{"id":1,"title":"Alien","score":1.234},{"id":2,"title":"Aliens","score":0.5}],"next_cursor":"abc"}`
	if !sameAnswer(t, "200 "+strings.NewReplacer("1.234", "1.2356", "abc", "abd").Replace(want), "200 "+want) {
		t.Error("a score 0.13 % apart and another cursor made answers differ")
	}
	const near = `{"total":2,"hits":[{"id":1,"title":"Alien","score":1.234},{"id":2,"title":"Aliens","score":1.2335}]}`
	const swapped = `{"total":2,"hits":[{"id":2,"title":"Aliens","score":1.2335},{"id":1,"title":"Alien","score":1.234}]}`
	if !sameAnswer(t, "200 "+swapped, "200 "+near) {
		t.Error("two hits 0.04 % apart that traded places made answers differ")
	}
	for _, got := range []string{
		"404 " + want,
		"200 " + strings.Replace(want, `"id":2`, `"id":3`, 1),
		"200 " + strings.Replace(want, `"total":2`, `"total":3`, 1),
		"200 " + strings.Replace(want, `"Aliens"`, `"Alien 3"`, 1),
		"200 " + strings.Replace(want, "1.234", "1.26", 1),
		"200 " + strings.Replace(want, `,"next_cursor":"abc"`, "", 1),
		`200 {"total":2,"hits":[{"id":2,"title":"Aliens","score":0.5},{"id":1,"title":"Alien","score":1.234}],"next_cursor":"abc"}`,
		`200 {"total":2,"hits":[{"id":1,"title":"Alien","score":1.234},{"id":1,"title":"Alien","score":1.234}],"next_cursor":"abc"}`,
	} {
		if sameAnswer(t, got, "200 "+want) {
			t.Errorf("%s is taken for the same answer as %s", got, want)
		}
	}
}

func alike(g, w any, key string) bool {
	switch w := w.(type) {
	case map[string]any:
		gm, ok := g.(map[string]any)
		if !ok || len(gm) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := gm[k]
			if !ok || !alike(gv, wv, k) {
				return false
			}
		}
		return true
	case []any:
		ga, ok := g.([]any)
		if !ok || len(ga) != len(w) {
			return false
		}
		if key == "hits" {
			return sameHits(ga, w)
		}
		for i := range w {
			if !alike(ga[i], w[i], key) {
				return false
			}
		}
		return true
	case float64:
		gf, ok := g.(float64)
		if key == "score" {
			return ok && math.Abs(gf-w) <= 0.01*math.Max(math.Abs(gf), math.Abs(w))
		}
		return ok && gf == w
	case string:
		gs, ok := g.(string)
		return ok && (gs == w || key == "next_cursor" && gs != "" && w != "")
	}
	return reflect.DeepEqual(g, w)
}

// While a snapshot is being sent, a second one is refused with 503 and Retry-After and a rebuild with 409
// (it would swap the index away under the copy); both work again once it is sent.
func TestOneSnapshotAtATime(t *testing.T) {
	f := newSvc(t, time.Second)
	f.publish(t, 1, 1, "Alien")
	f.waitReady(t)
	f.waitFor(t, 1, 1)
	w := &heldWriter{ResponseRecorder: httptest.NewRecorder(), writing: make(chan struct{}), release: make(chan struct{})}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		f.svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/index/snapshot", nil))
	}()
	<-w.writing
	second := f.get("/v1/index/snapshot")
	if second.Code != http.StatusServiceUnavailable || second.Header().Get("Retry-After") == "" ||
		second.Header().Get("Content-Type") != httpx.ProblemContentType {
		t.Errorf("a second snapshot: %d %q %s, want 503 with Retry-After", second.Code, second.Header().Get("Content-Type"), second.Body)
	}
	if _, err := f.svc.StartRebuild(); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Errorf("a rebuild during a snapshot: %v, want refused", err)
	}
	close(w.release)
	<-sent
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/x-tar" || w.Body.Len() == 0 {
		t.Errorf("the snapshot: %d %q, %d bytes", w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
	if _, err := f.svc.StartRebuild(); err != nil {
		t.Errorf("a rebuild after the snapshot: %v", err)
	}
}

// heldWriter holds the first write of the body until released.
type heldWriter struct {
	*httptest.ResponseRecorder
	once    sync.Once
	writing chan struct{}
	release chan struct{}
}

func (w *heldWriter) Write(b []byte) (int, error) {
	w.once.Do(func() {
		close(w.writing)
		<-w.release
	})
	return w.ResponseRecorder.Write(b)
}

// A peer sends nothing until it has copied its index, minutes for a large one: the replica waits for the
// first byte longer than it waits through a stall once the snapshot flows. One whose first byte comes
// later than the stall budget still gets the copy; one that sends nothing at all replays the stream.
func TestReplicaWaitsForTheCopy(t *testing.T) {
	defer searchsvc.SetBootstrapTimes(5*time.Second, 10*time.Second, time.Second)()
	const n = 50
	peer, token := snapshotPeer(t, n)
	slowPeer := func(delay time.Duration) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer.svc.Handler().ServeHTTP(&lateWriter{ResponseWriter: w, delay: delay, gone: r.Context().Done()}, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	replica := func(name, from string) *svcFixture {
		return newSvcWith(t, func(c *searchsvc.Config) {
			c.Stream, c.SubjectPrefix = peer.cfg.Stream, peer.cfg.SubjectPrefix
			c.DataDir = filepath.Join(t.TempDir(), name)
			c.BootstrapFrom, c.InternalToken = from, token
		}, peer.js)
	}
	copied := replica("copied", slowPeer(2500*time.Millisecond)) // later than the stall budget, within the first byte's
	replayed := replica("replayed", slowPeer(time.Hour))         // never
	for _, f := range []*svcFixture{copied, replayed} {
		f.waitReady(t)
		f.waitFor(t, n, 1)
	}
	if st := copied.svc.Stats(); st.Applied != 0 {
		t.Errorf("the replica whose peer took a second to start sending applied %d changes, want none: it has the copy", st.Applied)
	}
	if got := appliedAtLeast(replayed, n); got < n {
		t.Errorf("the replica whose peer never sent applied %d changes, want the whole stream (%d)", got, n)
	}
}

// appliedAtLeast is the changes f's indexer has applied, once they reach n or after a few seconds: a batch's
// movies are searchable as Apply returns, a moment before the indexer counts them.
func appliedAtLeast(f *svcFixture, n int) uint64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := f.svc.Stats().Applied
		if got >= uint64(n) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lateWriter sends the answer's status and headers at once and its body after delay, as a peer copying
// its index does, unless the replica is gone by then.
type lateWriter struct {
	http.ResponseWriter
	delay time.Duration
	gone  <-chan struct{}
	once  sync.Once
}

func (w *lateWriter) Write(b []byte) (int, error) {
	w.once.Do(func() {
		select {
		case <-time.After(w.delay):
		case <-w.gone:
		}
	})
	return w.ResponseWriter.Write(b)
}

func (w *lateWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *lateWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
