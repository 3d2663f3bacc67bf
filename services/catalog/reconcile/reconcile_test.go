package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
	"marquee/services/catalog/outbox"
	"marquee/services/catalog/reconcile"
)

func TestReconcileRepairsTheStream(t *testing.T) {
	ctx := context.Background()
	db := catalogtest.MustOpenSQLite(t)
	store := catalogtest.MustStore(t, db, catalogsql.SQLite)
	js := testenv.JetStream(t)
	testStream := testenv.Stream(t, js)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay := outbox.New(log, store, js, testStream)
	testenv.Run(t, relay.Run)
	drain := func() {
		t.Helper()
		relay.Kick()
		testenv.Eventually(t, "an empty backlog", func() bool { n, err := store.Backlog(ctx); return err == nil && n == 0 })
	}

	var ids []int64
	for i := range 5 {
		m, err := store.CreateMovie(ctx, "t", catalog.MovieInput{Title: fmt.Sprintf("M%d", i)}, catalog.CreateAnyway)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := store.UpdateMovie(ctx, "t", ids[0], 1, catalog.MovieInput{Title: "M0 v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DeleteMovie(ctx, "t", ids[4], 1); err != nil {
		t.Fatal(err)
	}
	drain()
	// Another publisher replaces movie 0's last event with its older version, movie 1's with garbage and
	// movie 2's with an event about another movie; movie 3's event was never published at all.
	older := catalog.UpsertEvent(&catalog.Movie{ID: ids[0], Title: "M0", Version: 1})
	b, _ := older.Marshal()
	pub := func(id int64, data []byte) {
		if _, err := js.Publish(ctx, testStream.Subject(id), data, jetstream.WithMsgID(fmt.Sprintf("chaos-%d", id))); err != nil {
			t.Fatal(err)
		}
	}
	pub(ids[0], b)
	pub(ids[1], []byte("{not json"))
	other := catalog.UpsertEvent(&catalog.Movie{ID: ids[3], Title: "M3", Version: 1})
	ob, _ := other.Marshal()
	pub(ids[2], ob)
	st, _ := js.Stream(ctx, testStream.Name)
	// Movie 3: its stream message is dropped by purging its subject, as a lost event would be.
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(testStream.Subject(ids[3]))); err != nil {
		t.Fatal(err)
	}

	idx := &fakeIndex{versions: map[int64]catalog.MovieVersion{
		ids[0]: {ID: ids[0], Version: 2}, ids[1]: {ID: ids[1], Version: 1}, ids[2]: {ID: ids[2], Version: 1},
		ids[3]: {ID: ids[3], Version: 1}, // ids[4] (deleted) never seen: fine
	}}
	r := reconcile.New(log, store, js, testStream, idx, nil, relay.Kick)
	rep, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{reconcile.ReasonOlder: 1, reconcile.ReasonUnreadable: 1, reconcile.ReasonForeign: 1, reconcile.ReasonMissing: 1}
	if rep.Checked != 5 || rep.Repaired != 4 || fmt.Sprint(rep.Reasons) != fmt.Sprint(want) || !rep.IndexChecked {
		t.Errorf("report %+v, want 5 checked, 4 repaired %v", rep, want)
	}
	drain()
	for i, id := range ids {
		msg, err := st.GetLastMsgForSubject(ctx, testStream.Subject(id))
		if err != nil {
			t.Fatalf("movie %d: %v", id, err)
		}
		e, err := events.Unmarshal(msg.Data)
		wantVersion := map[int]int64{0: 2, 4: 2}[i]
		if wantVersion == 0 {
			wantVersion = 1
		}
		if err != nil || e.ID != id || e.Version != wantVersion || e.Deleted() != (i == 4) {
			t.Errorf("movie %d: last event %s (%v), want v%d", id, msg.Data, err, wantVersion)
		}
		if i < 4 && !strings.Contains(msg.Header.Get(jetstream.MsgIDHeader), ".r") {
			t.Errorf("movie %d: repair msg id %q, want a new one", id, msg.Header.Get(jetstream.MsgIDHeader))
		}
	}
	// A second pass finds nothing to repair.
	rep, err = r.Reconcile(ctx)
	if err != nil || rep.Repaired != 0 {
		t.Errorf("second pass %+v, %v; want nothing repaired", rep, err)
	}
}

func TestReconcileComparesTheIndexOverHTTP(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/v1/index/versions" || q.Get("after_id") == "" || q.Get("until_id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var after, until int64
		fmt.Sscan(q.Get("after_id"), &after)
		fmt.Sscan(q.Get("until_id"), &until)
		next := min(after+3, until) // small pages: the client must follow next_after_id
		var vs []map[string]any
		for id := after + 1; id <= next; id++ {
			vs = append(vs, map[string]any{"id": id, "version": id, "deleted": id%2 == 0})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"versions": vs, "next_after_id": next})
	})
	got, err := (&reconcile.HTTPIndex{Handler: h}).Versions(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[9].ID != 10 || got[9].Version != 10 || !got[9].Deleted {
		t.Errorf("versions %+v", got)
	}
}

type fakeIndex struct {
	versions map[int64]catalog.MovieVersion
}

func (f *fakeIndex) Versions(_ context.Context, afterID, untilID int64) ([]catalog.MovieVersion, error) {
	var out []catalog.MovieVersion
	for id, v := range f.versions {
		if id > afterID && id <= untilID {
			out = append(out, v)
		}
	}
	return out, nil
}

// TestURLIndexSendsTheInternalToken: the reconciler's reads of a search service's index carry the
// deployment's internal token, which the index's endpoints require.
func TestURLIndexSendsTheInternalToken(t *testing.T) {
	token := strings.Repeat("t", httpx.MinInternalToken)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpx.InternalTokenValid(r, token) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"versions":[{"id":3,"version":2}],"next_after_id":10}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		sent string
		ok   bool
	}{{token, true}, {"", false}} {
		x, err := reconcile.NewURLIndex(srv.URL, tc.sent)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := x.Versions(context.Background(), 0, 10)
		if tc.ok && (err != nil || len(vs) != 1 || vs[0].ID != 3 || vs[0].Version != 2) {
			t.Errorf("with the token: %v, %v; want movie 3 at version 2", vs, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("without the token the index answered: %v", vs)
		}
	}
}
