package searchindex_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestSearchesWaitForASlot checks that with every search slot taken a search and a suggestion wait (and
// give up when their context ends), that an answer from the cache does not wait, and that a freed slot
// lets the next search run.
func TestSearchesWaitForASlot(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20, SearchConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	MustIndex(t, idx,
		search.Movie{ID: 1, Version: 1, Title: "The Matrix"},
		search.Movie{ID: 2, Version: 1, Title: "Alien"})
	cached := search.Query{Text: "matrix"}
	if _, err := idx.Search(context.Background(), cached); err != nil {
		t.Fatal(err)
	}

	release := searchindex.HoldSearchSlots(idx, 2)
	waiting := func(what string, call func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := call(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with every slot taken: err=%v, want it to wait until its deadline", what, err)
		}
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("%s that gave up waiting: err=%v, want Unavailable (503)", what, err)
		}
	}
	waiting("search", func(ctx context.Context) error {
		_, err := idx.Search(ctx, search.Query{Text: "alien"})
		return err
	})
	waiting("suggestion", func(ctx context.Context) error {
		_, err := idx.Suggest(ctx, search.SuggestQuery{Text: "ali"})
		return err
	})
	if res, err := idx.Search(context.Background(), cached); err != nil || res.Total != 1 {
		t.Errorf("cached search with every slot taken: total=%v err=%v, want 1 movie at once", res, err)
	}

	done := make(chan error, 1)
	go func() {
		res, err := idx.Search(context.Background(), search.Query{Text: "alien"})
		if err == nil && res.Total != 1 {
			err = errors.New("want 1 movie")
		}
		done <- err
	}()
	release()
	if err := <-done; err != nil {
		t.Errorf("search once a slot is free: %v", err)
	}
}

// TestSearchConcurrencyOutOfRange checks that an invalid SearchConcurrency is refused before the index on
// disk is touched: with another number of shards, a valid open would have removed it for a rebuild.
func TestSearchConcurrencyOutOfRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx")
	idx, err := searchindex.OpenWith(path, searchindex.Options{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	MustIndex(t, idx, search.Movie{ID: 1, Version: 1, Title: "The Matrix"})
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if idx, err := searchindex.OpenWith(path, searchindex.Options{Shards: 1, SearchConcurrency: -1}); err == nil {
		_ = idx.Close()
		t.Fatal("OpenWith with SearchConcurrency -1: no error")
	}
	idx, err = searchindex.OpenWith(path, searchindex.Options{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	if cp, err := idx.Checkpoint(); err != nil || cp == 0 {
		t.Errorf("checkpoint after a refused open: %d, %v; want the index as it was", cp, err)
	}
}

// TestFullSearchQueueIsRefused: with every slot taken and SearchQueue searches waiting, one more search is
// refused at once as Unavailable (503) instead of joining a queue that grows without end; the waiting ones
// still run once slots free up.
func TestFullSearchQueueIsRefused(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{SearchConcurrency: 1, SearchQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	MustIndex(t, idx, search.Movie{ID: 1, Version: 1, Title: "Alien"})
	release := searchindex.HoldSearchSlots(idx, 1)
	done := make(chan error, 2)
	for _, text := range []string{"alien", "aliens"} { // two searches: the same one twice would share one run
		go func() {
			_, err := idx.Search(context.Background(), search.Query{Text: text})
			done <- err
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); searchindex.WaitingSearches(idx) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d searches wait, want 2", searchindex.WaitingSearches(idx))
		}
	}
	// The third search has no place in the queue: it is refused without waiting for its context, which
	// never ends.
	_, refused := idx.Search(context.Background(), search.Query{Text: "alien", PerPage: 3})
	if !apperr.Is(refused, apperr.Unavailable) || errors.Is(refused, context.DeadlineExceeded) {
		t.Fatalf("search beyond the queue: %v, want Unavailable at once", refused)
	}
	release()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("a queued search: %v", err)
		}
	}
}
