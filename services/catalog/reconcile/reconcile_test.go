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
	"marquee/pkg/natsx"
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
	if len(got.Versions) != 10 || got.Versions[9].ID != 10 || got.Versions[9].Version != 10 || !got.Versions[9].Deleted || got.Holds != nil {
		t.Errorf("versions %+v", got)
	}
}

// A search service that holds one partition of the stream says so with its versions, and the index it
// reads as is meant to hold that partition's movies only.
func TestHTTPIndexOfAPartition(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"versions":[],"next_after_id":100,"partition":2,"partitions":3}`)
	})
	got, err := (&reconcile.HTTPIndex{Handler: h}).Versions(context.Background(), 0, 100)
	if err != nil || got.Holds == nil || got.Partitions != 3 {
		t.Fatalf("versions %+v, %v: want the partition's movies", got, err)
	}
	s := events.Stream{Partitions: 3}
	for id := int64(1); id <= 100; id++ {
		if got.Holds(id) != (s.Partition(id) == 2) {
			t.Errorf("movie %d (partition %d): held %v", id, s.Partition(id), got.Holds(id))
		}
	}
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"versions":[],"next_after_id":100,"partition":3,"partitions":3}`)
	})
	if _, err := (&reconcile.HTTPIndex{Handler: bad}).Versions(context.Background(), 0, 100); err == nil {
		t.Error("partition 3 of 3 was taken")
	}
}

// On a partitioned stream, the reconciler finds each movie's last change in its partition, and a search
// shard is asked only for the movies of its own: a movie of another partition missing from it is no
// difference, one of its own is.
func TestReconcilePartitionedStreamAndShard(t *testing.T) {
	ctx := context.Background()
	db := catalogtest.MustOpenSQLite(t)
	store := catalogtest.MustStore(t, db, catalogsql.SQLite)
	js := testenv.JetStream(t)
	stream := events.Stream{Name: "PARTED", Prefix: "parted", Partitions: 3}
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay := outbox.New(log, store, js, stream)
	testenv.Run(t, relay.Run)
	drain := func() {
		t.Helper()
		relay.Kick()
		testenv.Eventually(t, "an empty backlog", func() bool { n, err := store.Backlog(ctx); return err == nil && n == 0 })
	}
	shard := &fakeIndex{versions: map[int64]catalog.MovieVersion{}, holds: func(id int64) bool { return stream.Partition(id) == 0 }, partitions: 3}
	var own []int64
	for i := range 12 {
		m, err := store.CreateMovie(ctx, "t", catalog.MovieInput{Title: fmt.Sprintf("M%d", i)}, catalog.CreateAnyway)
		if err != nil {
			t.Fatal(err)
		}
		if shard.holds(m.ID) {
			shard.versions[m.ID] = catalog.MovieVersion{ID: m.ID, Version: m.Version}
			own = append(own, m.ID)
		}
	}
	if len(own) == 0 || len(own) == 12 {
		t.Fatalf("partition 0 holds %d of 12 movies: the test says nothing", len(own))
	}
	drain()
	r := reconcile.New(log, store, js, stream, shard, nil, relay.Kick)
	rep, err := r.Reconcile(ctx)
	if err != nil || rep.Checked != 12 || rep.Repaired != 0 {
		t.Fatalf("report %+v, %v: want 12 checked, none repaired", rep, err)
	}
	delete(shard.versions, own[0])
	var other int64
	for id := int64(1); other == 0; id++ {
		if !shard.holds(id) {
			other = id
		}
	}
	shard.versions[other] = catalog.MovieVersion{ID: other, Version: 1}
	rep, err = r.Reconcile(ctx)
	if err != nil || rep.Repaired != 1 || rep.Reasons[reconcile.ReasonIndex] != 1 || rep.IndexMisplaced != 1 || rep.IndexUnknown != 0 {
		t.Errorf("report %+v, %v: want movie %d repaired for the shard, and movie %d of another partition misplaced in it", rep, err, own[0], other)
	}
	shard.partitions = 4
	if _, err := r.Reconcile(ctx); err == nil || !strings.Contains(err.Error(), "4 partitions") {
		t.Errorf("a shard of a stream of 4 partitions compared with one of 3: %v", err)
	}
}

type fakeIndex struct {
	versions   map[int64]catalog.MovieVersion
	holds      func(int64) bool
	partitions int
}

func (f *fakeIndex) Versions(_ context.Context, afterID, untilID int64) (reconcile.Held, error) {
	out := reconcile.Held{Holds: f.holds, Partitions: f.partitions}
	for id, v := range f.versions {
		if id > afterID && id <= untilID {
			out.Versions = append(out.Versions, v)
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
		if tc.ok && (err != nil || len(vs.Versions) != 1 || vs.Versions[0].ID != 3 || vs.Versions[0].Version != 2) {
			t.Errorf("with the token: %v, %v; want movie 3 at version 2", vs, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("without the token the index answered: %v", vs)
		}
	}
}
