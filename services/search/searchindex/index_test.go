package searchindex_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

func movie(id, version int64, title string) *search.Movie {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &search.Movie{ID: id, Version: version, Title: title, Genres: []string{"Drama"}, CreatedAt: t, UpdatedAt: t}
}

func upsert(id, version int64, title string) searchindex.Change {
	return searchindex.Change{ID: id, Version: version, Movie: movie(id, version, title)}
}

func del(id, version int64) searchindex.Change {
	return searchindex.Change{ID: id, Version: version, Deleted: true}
}

// state is what the index holds for one movie.
type state struct {
	version int64
	deleted bool
	title   string // "" when the movie is not readable
}

func MustState(tb testing.TB, idx *searchindex.Index, id int64) state {
	tb.Helper()
	v, d, err := idx.Version(id)
	if err != nil {
		tb.Fatal(err)
	}
	s := state{version: v, deleted: d}
	m, err := idx.Movie(context.Background(), id)
	switch {
	case apperr.Is(err, apperr.NotFound):
	case err != nil:
		tb.Fatal(err)
	default:
		s.title = m.Title
	}
	return s
}

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]searchindex.Change // applied one after the other
		applied int                    // by the last batch
		want    map[int64]state
	}{
		{
			name:    "newer version replaces older",
			batches: [][]searchindex.Change{{upsert(1, 1, "One")}, {upsert(1, 2, "One, again")}},
			applied: 1,
			want:    map[int64]state{1: {2, false, "One, again"}},
		},
		{
			name:    "older version is ignored",
			batches: [][]searchindex.Change{{upsert(1, 3, "Three")}, {upsert(1, 2, "Two")}},
			applied: 0,
			want:    map[int64]state{1: {3, false, "Three"}},
		},
		{
			name:    "duplicate is ignored",
			batches: [][]searchindex.Change{{upsert(1, 1, "One")}, {upsert(1, 1, "One")}},
			applied: 0,
			want:    map[int64]state{1: {1, false, "One"}},
		},
		{
			name:    "duplicates in one batch apply once",
			batches: [][]searchindex.Change{{upsert(1, 1, "One"), upsert(1, 1, "One"), upsert(2, 1, "Two")}},
			applied: 2,
			want:    map[int64]state{1: {1, false, "One"}, 2: {1, false, "Two"}},
		},
		{
			name:    "reverse order in one batch keeps the newest",
			batches: [][]searchindex.Change{{upsert(1, 3, "Three"), upsert(1, 2, "Two"), upsert(1, 1, "One")}},
			applied: 1,
			want:    map[int64]state{1: {3, false, "Three"}},
		},
		{
			name:    "reverse order across batches keeps the newest",
			batches: [][]searchindex.Change{{upsert(1, 3, "Three")}, {upsert(1, 2, "Two")}, {upsert(1, 1, "One")}},
			applied: 0,
			want:    map[int64]state{1: {3, false, "Three"}},
		},
		{
			name:    "delete removes the movie and leaves a tombstone",
			batches: [][]searchindex.Change{{upsert(1, 1, "One")}, {del(1, 2)}},
			applied: 1,
			want:    map[int64]state{1: {2, true, ""}},
		},
		{
			name:    "tombstone blocks a late older upsert",
			batches: [][]searchindex.Change{{upsert(1, 1, "One")}, {del(1, 3)}, {upsert(1, 2, "Two")}},
			applied: 0,
			want:    map[int64]state{1: {3, true, ""}},
		},
		{
			name:    "delete before any upsert blocks the older upsert",
			batches: [][]searchindex.Change{{del(1, 2)}, {upsert(1, 1, "One")}},
			applied: 0,
			want:    map[int64]state{1: {2, true, ""}},
		},
		{
			name:    "delete and older upsert in one batch",
			batches: [][]searchindex.Change{{upsert(1, 1, "One"), del(1, 2)}, {upsert(1, 1, "One")}},
			applied: 0,
			want:    map[int64]state{1: {2, true, ""}},
		},
		{
			name:    "a newer upsert after a delete recreates the movie",
			batches: [][]searchindex.Change{{del(1, 2)}, {upsert(1, 3, "Back")}},
			applied: 1,
			want:    map[int64]state{1: {3, false, "Back"}},
		},
		{
			name:    "unknown movie",
			batches: [][]searchindex.Change{{upsert(1, 1, "One")}},
			applied: 1,
			want:    map[int64]state{2: {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
			var applied int
			for i, b := range tt.batches {
				var err error
				if applied, err = idx.Apply(context.Background(), b, uint64(i+1)); err != nil {
					t.Fatalf("Apply batch %d: %v", i, err)
				}
			}
			if got, want := applied, tt.applied; got != want {
				t.Errorf("applied=%d, want %d", got, want)
			}
			for id, want := range tt.want {
				if got := MustState(t, idx, id); got != want {
					t.Errorf("movie %d: %+v, want %+v", id, got, want)
				}
			}
		})
	}
}

// TestApplyAnyOrder applies every permutation of a history and checks that all give the same index.
func TestApplyAnyOrder(t *testing.T) {
	history := []searchindex.Change{upsert(1, 1, "v1"), upsert(1, 2, "v2"), del(1, 3), upsert(2, 1, "a"), upsert(2, 2, "b"), upsert(2, 2, "b")}
	want := map[int64]state{1: {3, true, ""}, 2: {2, false, "b"}}
	var permute func([]searchindex.Change, int, func([]searchindex.Change))
	permute = func(a []searchindex.Change, k int, f func([]searchindex.Change)) {
		if k == len(a) {
			f(a)
			return
		}
		for i := k; i < len(a); i++ {
			a[k], a[i] = a[i], a[k]
			permute(a, k+1, f)
			a[k], a[i] = a[i], a[k]
		}
	}
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	n := 0
	permute(append([]searchindex.Change(nil), history...), 0, func(order []searchindex.Change) {
		n++
		if n%37 != 0 { // every 37th of the 720 orders keeps the test fast and still varied
			return
		}
		// Each order goes to movies of its own, so the orders never see each other's versions.
		base := int64(n * 10)
		for i, c := range order {
			c.ID += base
			if c.Movie != nil {
				m := *c.Movie
				m.ID = c.ID
				c.Movie = &m
			}
			if _, err := idx.Apply(context.Background(), []searchindex.Change{c}, uint64(i+1)); err != nil {
				t.Fatal(err)
			}
		}
		for id, w := range want {
			if got := MustState(t, idx, id+base); got != w {
				t.Errorf("order %d: movie %d: %+v, want %+v", n, id, got, w)
			}
		}
	})
}

func TestCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx")
	idx, err := openWith(path, searchindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCheckpoint := func(idx *searchindex.Index, want uint64) {
		t.Helper()
		got, err := idx.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Checkpoint=%d, want %d", got, want)
		}
	}
	mustCheckpoint(idx, 0)
	ctx := context.Background()
	if _, err := idx.Apply(ctx, []searchindex.Change{upsert(1, 1, "One")}, 7); err != nil {
		t.Fatal(err)
	}
	mustCheckpoint(idx, 7)
	// A batch of only stale or bad-event sequences still moves the checkpoint forward...
	if _, err := idx.Apply(ctx, []searchindex.Change{upsert(1, 1, "One")}, 9); err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Apply(ctx, nil, 10); err != nil {
		t.Fatal(err)
	}
	mustCheckpoint(idx, 10)
	// ...and a redelivered older batch never moves it back.
	if _, err := idx.Apply(ctx, []searchindex.Change{upsert(2, 1, "Two")}, 3); err != nil {
		t.Fatal(err)
	}
	mustCheckpoint(idx, 10)
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}

	idx = MustOpen(t, path)
	mustCheckpoint(idx, 10)
	if got, want := MustState(t, idx, 2), (state{1, false, "Two"}); got != want {
		t.Errorf("after reopen: movie 2: %+v, want %+v", got, want)
	}
	if got, want := MustState(t, idx, 1), (state{1, false, "One"}); got != want {
		t.Errorf("after reopen: movie 1: %+v, want %+v", got, want)
	}
}

// TestDurable checks that the durable checkpoint follows the applied one: a batch is searchable when Apply
// returns and on disk once WaitDurable returns, and a reopened index starts durable where it stands.
func TestDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx")
	idx, err := openWith(path, searchindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for seq := uint64(1); seq <= 20; seq++ {
		if _, err := idx.Apply(ctx, []searchindex.Change{upsert(int64(seq), 1, fmt.Sprintf("Movie %d", seq))}, seq); err != nil {
			t.Fatal(err)
		}
		if got := MustState(t, idx, int64(seq)); got.version != 1 {
			t.Fatalf("movie %d not searchable when Apply returned: %+v", seq, got)
		}
	}
	if err := idx.WaitDurable(ctx, idx.Written()); err != nil {
		t.Fatalf("WaitDurable: %v (durable at %d)", err, idx.Durable())
	}
	if got := idx.Durable(); got != 20 {
		t.Errorf("Durable = %d after waiting for every batch, want 20", got)
	}
	// A batch of a replay from before the checkpoint (a recreated stream) moves no checkpoint, but its new
	// movie must reach the disk too before it is acknowledged, and before Close returns.
	if _, err := idx.Apply(ctx, []searchindex.Change{upsert(99, 1, "Movie 99")}, 3); err != nil {
		t.Fatal(err)
	}
	if err := idx.WaitDurable(ctx, idx.Written()); err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Apply(ctx, []searchindex.Change{upsert(98, 1, "Movie 98")}, 4); err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := MustOpen(t, path)
	if cp, _ := reopened.Checkpoint(); cp != 20 || reopened.Durable() != 20 {
		t.Errorf("reopened: checkpoint %d, durable %d, want 20 and 20", cp, reopened.Durable())
	}
	for _, id := range []int64{98, 99} {
		if got := MustState(t, reopened, id); got.version != 1 {
			t.Errorf("reopened: movie %d %+v, want version 1", id, got)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx")
	MustOpen(t, path)
	start := time.Now()
	if _, err := openWith(path, searchindex.Options{}); err == nil {
		t.Fatal("a second Open of the same index succeeded, want an error")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("second Open took %v, want it to fail fast", took)
	}
}

func TestApplyRejectsInvalidChange(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	for _, c := range []searchindex.Change{{ID: 0, Version: 1, Deleted: true}, {ID: 1, Version: 0, Deleted: true}, {ID: 1, Version: 1}} {
		if _, err := idx.Apply(context.Background(), []searchindex.Change{c}, 1); err == nil {
			t.Errorf("Apply(%+v) succeeded, want an error", c)
		}
	}
	if cp, err := idx.Checkpoint(); err != nil || cp != 0 {
		t.Errorf("Checkpoint=%d, %v; want 0: a rejected batch must not move it", cp, err)
	}
}

func TestSearchInvalid(t *testing.T) {
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	long := make([]byte, search.MaxTextLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, q := range []search.Query{{Page: -1}, {PerPage: 101}, {PerPage: -1}, {Text: string(long)}, {Page: 1000, PerPage: 100}} {
		if _, err := idx.Search(context.Background(), q); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Search(%+v) err=%v, want Invalid", q, err)
		}
	}
}
