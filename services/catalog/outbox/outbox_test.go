package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
	"marquee/services/catalog/outbox"
)

var testStream = events.Stream{Name: "CATALOG_TEST", Prefix: "cattest"}

type fixture struct {
	db    *sql.DB
	store *catalogsql.Store
	js    jetstream.JetStream
	relay *outbox.Relay
}

func newFixture(t *testing.T, ensureStream bool) *fixture {
	t.Helper()
	db := catalogtest.MustOpenSQLite(t)
	f := &fixture{db: db, store: catalogtest.MustStore(t, db, catalogsql.SQLite), js: testenv.JetStream(t)}
	if ensureStream {
		if _, err := natsx.EnsureStream(context.Background(), f.js, testStream, 0); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.relay = outbox.New(log, f.store, f.js, testStream)
	return f
}

// recreateStream deletes the test stream and creates it empty, as a server that lost it would. The
// server may still be letting go of the old stream's store for a moment, and refuses the new one until
// then ("error creating store for stream"); the catalog's start retries the same way.
func (f *fixture) recreateStream(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := f.js.DeleteStream(ctx, testStream.Name); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the stream created again", func() bool {
		_, err := natsx.EnsureStream(ctx, f.js, testStream, 0)
		return err == nil
	})
}

// keeping gives the fixture a relay that keeps published rows for retention.
func (f *fixture) keeping(retention time.Duration) *fixture {
	f.relay = outbox.NewWith(slog.New(slog.DiscardHandler), f.store, f.js, testStream, outbox.Options{Retention: retention})
	return f
}

// run starts the relay until the test ends.
func (f *fixture) run(t *testing.T) *fixture {
	t.Helper()
	testenv.Run(t, f.relay.Run)
	return f
}

func (f *fixture) waitDrained(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, "an empty backlog", func() bool {
		n, err := f.store.Backlog(context.Background())
		return err == nil && n == 0 && f.relay.Drained()
	})
}

func (f *fixture) streamState(t *testing.T) jetstream.StreamState {
	t.Helper()
	st, err := f.js.Stream(context.Background(), testStream.Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

func (f *fixture) lastMsg(t *testing.T, id int64) *jetstream.RawStreamMsg {
	t.Helper()
	st, err := f.js.Stream(context.Background(), testStream.Name)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(context.Background(), testStream.Subject(id))
	if err != nil {
		t.Fatalf("last message of movie %d: %v", id, err)
	}
	return msg
}

func mustCreate(t *testing.T, f *fixture, title string) *catalog.Movie {
	t.Helper()
	m, err := f.store.CreateMovie(context.Background(), "tester", catalog.MovieInput{Title: title}, catalog.CreateAnyway)
	if err != nil {
		t.Fatal(err)
	}
	f.relay.Kick()
	return m
}

func TestRelayPublishesEachMovieLastWrite(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, true).run(t)
	a := mustCreate(t, f, "A")
	b := mustCreate(t, f, "B")
	c := mustCreate(t, f, "C")
	if _, err := f.store.UpdateMovie(ctx, "tester", a.ID, 1, catalog.MovieInput{Title: "A2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.DeleteMovie(ctx, "tester", b.ID, 1); err != nil {
		t.Fatal(err)
	}
	f.relay.Kick()
	f.waitDrained(t)

	// One message per write, except a movie's earlier write that met its later one in a batch (A's creation,
	// B's creation, or both).
	state := f.streamState(t)
	if state.LastSeq < 3 || state.LastSeq > 5 {
		t.Errorf("stream accepted %d messages, want 5 (one per write), or 3 or 4 (A's or B's creation superseded in its batch)", state.LastSeq)
	}
	if state.Msgs != 3 {
		t.Errorf("stream keeps %d messages, want 3 (the last per movie)", state.Msgs)
	}
	tests := []struct {
		id      int64
		version int64
		typ     events.Type
	}{{a.ID, 2, events.MovieUpserted}, {b.ID, 2, events.MovieDeleted}, {c.ID, 1, events.MovieUpserted}}
	for _, tt := range tests {
		msg := f.lastMsg(t, tt.id)
		if got, want := msg.Header.Get(jetstream.MsgIDHeader), events.MsgID(tt.id, tt.version); got != want {
			t.Errorf("movie %d: msg id %q, want %q", tt.id, got, want)
		}
		ev, err := events.Unmarshal(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID != tt.id || ev.Version != tt.version || ev.Type != tt.typ {
			t.Errorf("movie %d: event %+v, want v%d %s", tt.id, ev, tt.version, tt.typ)
		}
	}
	// Published counts the rows marked, superseded ones too, after the mark commits, a moment after the
	// backlog empties.
	testenv.Eventually(t, "5 published", func() bool { return f.relay.Published() == 5 })
}

func TestRelayRepublishIsDeduplicated(t *testing.T) {
	f := newFixture(t, true).keeping(time.Hour).run(t)
	mustCreate(t, f, "A")
	mustCreate(t, f, "B")
	f.waitDrained(t)
	// Lose the "published" marks, as a crash between the ack and the mark would.
	if _, err := f.db.Exec(`UPDATE outbox SET published_at = NULL`); err != nil {
		t.Fatal(err)
	}
	f.relay.Kick()
	f.waitDrained(t)
	testenv.Eventually(t, "each row published twice", func() bool { return f.relay.Published() == 4 })
	if state := f.streamState(t); state.LastSeq != 2 || state.Msgs != 2 {
		t.Errorf("stream last seq %d, msgs %d; want 2 and 2: republished events must be dropped", state.LastSeq, state.Msgs)
	}
}

func TestRelayRetriesUntilTheStreamExists(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false) // no stream: every publish fails
	mustCreate(t, f, "A")
	mustCreate(t, f, "B")
	f.run(t)
	time.Sleep(500 * time.Millisecond) // several failed attempts
	if f.relay.Drained() {
		t.Fatal("relay reports drained while nothing could be published")
	}
	if n, err := f.store.Backlog(ctx); err != nil || n != 2 {
		t.Fatalf("Backlog = %d, %v; want 2: failed rows must stay pending", n, err)
	}
	if _, err := natsx.EnsureStream(ctx, f.js, testStream, 0); err != nil {
		t.Fatal(err)
	}
	f.waitDrained(t)
	if state := f.streamState(t); state.LastSeq != 2 {
		t.Errorf("stream accepted %d messages, want 2", state.LastSeq)
	}
}

func TestRelayKeepsUpWithWrites(t *testing.T) {
	f := newFixture(t, true).run(t)
	f.waitDrained(t) // an empty outbox counts as drained
	const n = 300    // more than one batch
	ids := make([]int64, 0, n)
	for range n {
		ids = append(ids, mustCreate(t, f, "M").ID)
	}
	f.waitDrained(t)
	if state := f.streamState(t); state.LastSeq != n || state.Msgs != n {
		t.Errorf("stream last seq %d, msgs %d; want %d", state.LastSeq, state.Msgs, n)
	}
	msg := f.lastMsg(t, ids[n-1])
	if msg.Header.Get(jetstream.MsgIDHeader) != events.MsgID(ids[n-1], 1) {
		t.Errorf("last movie's msg id = %q", msg.Header.Get(jetstream.MsgIDHeader))
	}
	if _, err := f.lastMsgErr(ids[0] + n); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("unknown movie: err = %v, want ErrMsgNotFound", err)
	}
}

func (f *fixture) lastMsgErr(id int64) (*jetstream.RawStreamMsg, error) {
	st, err := f.js.Stream(context.Background(), testStream.Name)
	if err != nil {
		return nil, err
	}
	return st.GetLastMsgForSubject(context.Background(), testStream.Subject(id))
}

// The interval published again ends at the relay's last publication, not at its start: a machine that
// crashed comes back minutes later, and what its stream lost is the second before the crash.
func TestRelayRepublishesTheIntervalBeforeALongStop(t *testing.T) {
	f := newFixture(t, true)
	relay := func() *outbox.Relay {
		return outbox.NewWith(slog.New(slog.DiscardHandler), f.store, f.js, testStream, outbox.Options{Republish: time.Minute})
	}
	a := mustCreate(t, f, "A")
	first := relay()
	stop := testenv.Run(t, first.Run)
	testenv.Eventually(t, "A published", func() bool { return first.Published() == 1 })
	stop()
	// The machine went down an hour ago, and its stream with the last second it had not synced.
	if _, err := f.db.Exec(`UPDATE outbox SET published_at = ?`, time.Now().UTC().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.recreateStream(t)
	f.relay = relay()
	f.run(t)
	testenv.Eventually(t, "A published again", func() bool { return f.relay.Published() == 1 })
	if got := f.lastMsg(t, a.ID).Header.Get(jetstream.MsgIDHeader); got != events.MsgID(a.ID, 1) {
		t.Errorf("movie A's message %q after the restart, want its event again", got)
	}
}

// flakyLast is a store whose first look-up of the last publication fails, as a busy database would.
type flakyLast struct {
	*catalogsql.Store
	failed bool
}

func (s *flakyLast) LastPublished(ctx context.Context) (time.Time, error) {
	if !s.failed {
		s.failed = true
		return time.Time{}, errors.New("database is locked")
	}
	return s.Store.LastPublished(ctx)
}

// Nothing is pruned before the interval to publish again is marked: a start minutes after a crash finds
// every kept row expired, and a failed first attempt must not leave the second nothing to publish.
func TestRelayPrunesNothingBeforeItRepublishes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, true)
	a := mustCreate(t, f, "A")
	if err := f.store.MarkPublished(ctx, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`UPDATE outbox SET published_at = ?`, time.Now().UTC().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The stream lost A's event (it never had it here); the relay's first pass fails, then it goes on.
	f.relay = outbox.NewWith(slog.New(slog.DiscardHandler), &flakyLast{Store: f.store}, f.js, testStream, outbox.Options{Republish: time.Minute})
	f.run(t)
	testenv.Eventually(t, "A published again", func() bool { return f.relay.Published() == 1 })
	if got := f.lastMsg(t, a.ID).Header.Get(jetstream.MsgIDHeader); got != events.MsgID(a.ID, 1) {
		t.Errorf("movie A's message %q, want its event", got)
	}
}

// A stream server that syncs on an interval may lose, in a crash of the machine, messages it acknowledged.
// A relay started with Republish publishes again each movie's last event of that interval, and nothing
// older: not an event published before it, and not an event a later one of the same movie supersedes, which
// would become the movie's last message.
func TestRelayRepublishesItsLastIntervalOnStart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, true)
	runFor := func(relay *outbox.Relay, until func() bool) {
		t.Helper()
		stop := testenv.Run(t, relay.Run)
		relay.Kick()
		testenv.Eventually(t, "the relay to drain", until)
		stop()
	}
	drained := func(r *outbox.Relay) func() bool {
		return func() bool { n, err := f.store.Backlog(ctx); return err == nil && n == 0 && r.Drained() }
	}
	restarted := func() *outbox.Relay {
		return outbox.NewWith(slog.New(slog.DiscardHandler), f.store, f.js, testStream, outbox.Options{Republish: time.Minute})
	}
	old := mustCreate(t, f, "published an hour ago")
	a := mustCreate(t, f, "A")
	b := mustCreate(t, f, "B")
	if _, err := f.store.UpdateMovie(ctx, "tester", a.ID, 1, catalog.MovieInput{Title: "A2"}); err != nil {
		t.Fatal(err)
	}
	first := restarted() // it keeps what it published for as long as it would publish it again
	runFor(first, drained(first))
	sent := f.streamState(t).LastSeq // A's first event, superseded in its batch, is not among them
	if sent != 3 {
		t.Errorf("stream last seq %d after the first run, want 3: the hour-old movie's, A's last and B's events", sent)
	}
	if _, err := f.db.Exec(`UPDATE outbox SET published_at = ? WHERE movie_id = ?`, time.Now().UTC().Add(-time.Hour), old.ID); err != nil {
		t.Fatal(err)
	}

	// The server kept everything: the republished events are duplicates, and it drops them.
	r := restarted()
	runFor(r, func() bool { return drained(r)() && r.Published() == 2 })
	if state := f.streamState(t); state.LastSeq != sent {
		t.Errorf("stream last seq %d after a restart with nothing lost, want %d", state.LastSeq, sent)
	}

	// The server lost its stream (a new stream remembers no message ids): the restart publishes A's last
	// event and B's again, not A's first nor the hour-old one.
	f.recreateStream(t)
	r = restarted()
	runFor(r, func() bool { return drained(r)() && r.Published() == 2 })
	if state := f.streamState(t); state.LastSeq != 2 || state.Msgs != 2 {
		t.Errorf("stream last seq %d, msgs %d; want 2 and 2: A's and B's last events", state.LastSeq, state.Msgs)
	}
	for _, want := range []struct{ id, version int64 }{{a.ID, 2}, {b.ID, 1}} {
		if got := f.lastMsg(t, want.id).Header.Get(jetstream.MsgIDHeader); got != events.MsgID(want.id, want.version) {
			t.Errorf("movie %d: last message %q, want version %d", want.id, got, want.version)
		}
	}
	if _, err := f.lastMsgErr(old.ID); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the movie published an hour ago was published again (err %v)", err)
	}
}

// A movie's later event that the stream stored while its acknowledgement was lost (a stream leader that
// failed over mid-batch) must stay the movie's last event: the relay sends only a movie's last pending row,
// so no earlier one can replace it.
func TestRelayNeverSendsAMovieBackwards(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, true)
	m := mustCreate(t, f, "First cut")
	v2, err := f.store.UpdateMovie(ctx, "tester", m.ID, m.Version, catalog.MovieInput{Title: "Final cut"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.PendingEvents(ctx, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("pending events %d, %v; want the create and the update", len(evs), err)
	}
	// The update reached the stream; neither row was marked.
	last := evs[1]
	if _, err := f.js.Publish(ctx, testStream.Subject(last.MovieID), last.Payload, jetstream.WithMsgID(last.EventID)); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	f.waitDrained(t)
	e, err := events.Unmarshal(f.lastMsg(t, m.ID).Data)
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != v2.Version || e.Movie == nil || e.Movie.Title != "Final cut" {
		t.Errorf("the stream's last event of the movie is version %d %+v, want %d %q", e.Version, e.Movie, v2.Version, "Final cut")
	}
}
