package searchindex_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// mustOpenShards opens the index at path in n shards; the caller closes it.
func mustOpenShards(tb testing.TB, path string, n int) *searchindex.Index {
	tb.Helper()
	idx, err := searchindex.OpenWith(path, searchindex.Options{Shards: n})
	if err != nil {
		tb.Fatalf("open %d shards: %v", n, err)
	}
	return idx
}

func mustClose(tb testing.TB, idx *searchindex.Index) {
	tb.Helper()
	if err := idx.Close(); err != nil {
		tb.Fatal(err)
	}
}

func mustCheckpoint(tb testing.TB, idx *searchindex.Index) uint64 {
	tb.Helper()
	cp, err := idx.Checkpoint()
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

// An index opened with another number of shards than it was written with starts empty, at checkpoint 0,
// so that the indexer rebuilds it from the stream; one opened as it was keeps everything.
func TestReshard(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idx")
	changes := []searchindex.Change{upsert(1, 1, "Alien"), upsert(2, 1, "Aliens"), upsert(3, 1, "Heat"), del(4, 2)}
	for _, n := range []int{1, 3, 3, 2, 1} {
		idx := mustOpenShards(t, path, n)
		count, err := idx.DocCount()
		if err != nil {
			t.Fatal(err)
		}
		cp := mustCheckpoint(t, idx)
		t.Logf("%d shards: checkpoint %d, %d movies", n, cp, count)
		if cp == 0 {
			if count != 0 {
				t.Errorf("%d shards: %d movies at checkpoint 0", n, count)
			}
			if _, err := idx.Apply(ctx, changes, 7); err != nil {
				t.Fatal(err)
			}
		} else if n != 3 || cp != 7 || count != 3 {
			t.Errorf("%d shards: checkpoint %d, %d movies: only a reopen with the same shards keeps the index", n, cp, count)
		}
		res, err := idx.Search(ctx, search.Query{Text: "alien", PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := hitIDs(res); !slices.Equal(slices.Sorted(slices.Values(got)), []int64{1, 2}) {
			t.Errorf("%d shards: alien found %v, want 1 and 2", n, got)
		}
		if s := MustState(t, idx, 4); s.version != 2 || !s.deleted {
			t.Errorf("%d shards: movie 4 %+v, want deleted at version 2", n, s)
		}
		mustClose(t, idx)
	}
}

// Each shard keeps its own checkpoint, and the index's is the least of them: a shard that had not written a
// batch when the process stopped makes the indexer replay from there, and the replay changes nothing in
// the shards that had it.
func TestShardCheckpointIsTheLeast(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idx")
	idx := mustOpenShards(t, path, 2)
	if _, err := idx.Apply(ctx, []searchindex.Change{upsert(1, 1, "Alien"), upsert(2, 1, "Heat")}, 10); err != nil {
		t.Fatal(err)
	}
	mustClose(t, idx)

	// Shard 1 (odd ids) alone goes on to sequence 20, as if the process stopped after writing it.
	odd := mustOpenShards(t, filepath.Join(path, "shard-1-of-2"), 1)
	if _, err := odd.Apply(ctx, []searchindex.Change{upsert(1, 2, "Alien 2"), upsert(3, 1, "Ran")}, 20); err != nil {
		t.Fatal(err)
	}
	mustClose(t, odd)

	idx = mustOpenShards(t, path, 2)
	defer mustClose(t, idx)
	if cp := mustCheckpoint(t, idx); cp != 10 {
		t.Fatalf("checkpoint %d, want 10: the lagging shard's", cp)
	}
	// The replay of 11..20: movie 4 is new to shard 0; shard 1 holds 1 and 3 already.
	replay := []searchindex.Change{upsert(1, 2, "Alien 2"), upsert(3, 1, "Ran"), upsert(4, 1, "Ikiru")}
	applied, err := idx.Apply(ctx, replay, 20)
	if err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("replay applied %d changes, want 1 (movie 4)", applied)
	}
	if cp := mustCheckpoint(t, idx); cp != 20 {
		t.Errorf("checkpoint %d after the replay, want 20", cp)
	}
	for id, want := range map[int64]state{1: {2, false, "Alien 2"}, 2: {1, false, "Heat"}, 3: {1, false, "Ran"}, 4: {1, false, "Ikiru"}} {
		if got := MustState(t, idx, id); got != want {
			t.Errorf("movie %d: %+v, want %+v", id, got, want)
		}
	}
}

func TestShardsOutOfRange(t *testing.T) {
	for _, n := range []int{-1, searchindex.MaxShards + 1} {
		if idx, err := searchindex.OpenWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{Shards: n}); err == nil {
			_ = idx.Close()
			t.Errorf("%d shards opened", n)
		}
	}
}
