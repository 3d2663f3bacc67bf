package searchsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/search"
	"marquee/services/search/indexer"
	"marquee/services/search/searchindex"
)

// liveIndex is the index behind the API. A rebuild swaps it atomically: a read holds the read lock for its
// duration, so once the swap has the write lock no read uses the old index any more and it may be closed.
type liveIndex struct {
	mu    sync.RWMutex
	idx   *searchindex.Index
	holds func(id int64) bool // whether a movie is one the index is fed (a shard's partition); nil: every one
}

var _ search.Searcher = (*liveIndex)(nil)

func (l *liveIndex) get() (*searchindex.Index, func()) {
	l.mu.RLock()
	return l.idx, l.mu.RUnlock
}

func (l *liveIndex) swap(idx *searchindex.Index) *searchindex.Index {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.idx
	l.idx = idx
	return old
}

func (l *liveIndex) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	x, done := l.get()
	defer done()
	return x.Search(ctx, q)
}

func (l *liveIndex) Suggest(ctx context.Context, q search.SuggestQuery) ([]search.Suggestion, error) {
	x, done := l.get()
	defer done()
	return x.Suggest(ctx, q)
}

func (l *liveIndex) Movie(ctx context.Context, id int64) (*search.Movie, error) {
	x, done := l.get()
	defer done()
	return x.Movie(ctx, id)
}

// Checkpoint is the live index's stream position (it tags cacheable answers).
func (l *liveIndex) Checkpoint() (uint64, error) {
	x, done := l.get()
	defer done()
	return x.Checkpoint()
}

func (l *liveIndex) versions(ctx context.Context, afterID, untilID int64, limit int) ([]searchindex.MovieVersion, int64, error) {
	x, done := l.get()
	defer done()
	return x.Versions(ctx, afterID, untilID, limit)
}

// answer answers another shard's question from the live index's movies.
func (l *liveIndex) answer(ctx context.Context, q searchindex.PeerQuestion) (searchindex.PeerAnswer, error) {
	x, done := l.get()
	defer done()
	return x.Answer(ctx, q)
}

// wait blocks until the live index holds every movie of want at its version or later (a delete counts), or
// ctx is done. It wakes on applied batches (and swaps), never polls. A movie of another shard's partition
// never comes here: it is not waited for.
func (l *liveIndex) wait(ctx context.Context, want map[int64]int64) bool {
	if l.holds != nil {
		own := make(map[int64]int64, len(want))
		for id, v := range want {
			if l.holds(id) {
				own[id] = v
			}
		}
		want = own
	}
	for {
		x, done := l.get()
		changed := x.Changed() // taken before the check, so that no batch slips between
		ok := true
		for id, v := range want {
			have, _, err := x.Version(id)
			if err != nil || have < v {
				ok = false
				break
			}
		}
		done()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// currentFile names the folder of the live index inside the data folder, so that a restart opens the index
// the last rebuild swapped in.
const currentFile = "index.current"

// livePath returns the folder of the live index: the one index.current names, else <data_dir>/index. It
// removes what earlier rebuilds, bootstraps and snapshots left behind (a crash mid-way, or before the old
// index was removed).
func livePath(log *slog.Logger, dataDir string) string {
	path := filepath.Join(dataDir, "index")
	if b, err := os.ReadFile(filepath.Join(dataDir, currentFile)); err == nil {
		if name := strings.TrimSpace(string(b)); name != "" && !strings.ContainsAny(name, `/\`) {
			path = filepath.Join(dataDir, name)
		}
	}
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		p := filepath.Join(dataDir, e.Name())
		if e.IsDir() && (e.Name() == "index" || strings.HasPrefix(e.Name(), "index-") || strings.HasPrefix(e.Name(), "snapshot-")) && p != path {
			log.Info("removing an index left behind by a rebuild, bootstrap or snapshot", "path", p)
			_ = os.RemoveAll(p)
		}
	}
	return path
}

func writeCurrent(dataDir, path string) error {
	tmp := filepath.Join(dataDir, currentFile+".tmp")
	if err := os.WriteFile(tmp, []byte(filepath.Base(path)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dataDir, currentFile))
}

// StartRebuild starts building a fresh index from the stream beside the live one; it returns at once.
// Search keeps answering from the old index until the new one has caught up; then the indexer stops, the
// new index takes the last events, and one swap puts it behind the API and the indexer. The old index is
// closed and removed. Returns Conflict while a rebuild runs and Unavailable before Run.
func (s *Service) StartRebuild() (search.RebuildStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return s.rebuild, apperr.Errorf(apperr.Unavailable, "The search service is not running.")
	}
	if s.rebuild.State == search.RebuildBuilding || s.rebuild.State == search.RebuildSwapping {
		return s.rebuild, apperr.Errorf(apperr.Conflict, "A rebuild is already running.")
	}
	if s.snapshotting {
		return s.rebuild, apperr.Errorf(apperr.Conflict, "A snapshot of the index is being sent to a new replica; rebuild once it is done.")
	}
	now := time.Now().UTC()
	s.rebuild = search.RebuildStatus{State: search.RebuildBuilding, StartedAt: &now}
	s.rebuilds.Add(1)
	go func() {
		defer s.rebuilds.Done()
		s.runRebuild(s.runCtx)
	}()
	return s.rebuild, nil
}

// Rebuild reports on the last (or running) rebuild.
func (s *Service) Rebuild() search.RebuildStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.rebuild
	if st.StartedAt != nil {
		end := time.Now()
		if st.FinishedAt != nil {
			end = *st.FinishedAt
		}
		st.DurationMS = end.Sub(*st.StartedAt).Milliseconds()
	}
	return st
}

func (s *Service) setRebuild(fn func(st *search.RebuildStatus)) {
	s.mu.Lock()
	fn(&s.rebuild)
	s.mu.Unlock()
}

func (s *Service) runRebuild(ctx context.Context) {
	log := s.log.With("component", "rebuild")
	err := s.rebuildOnce(ctx, log)
	now := time.Now().UTC()
	s.setRebuild(func(st *search.RebuildStatus) {
		st.FinishedAt = &now
		if err != nil {
			st.State, st.Error = search.RebuildFailed, err.Error()
		} else {
			st.State = search.RebuildDone
		}
	})
	if err != nil {
		log.Error("index rebuild failed; the old index keeps serving", "err", err)
	}
}

// swapWait bounds how long the new index may take to apply the events that arrived while the indexer of
// the old one was stopping.
const swapWait = 30 * time.Second

func (s *Service) rebuildOnce(ctx context.Context, log *slog.Logger) (err error) {
	path := filepath.Join(s.cfg.DataDir, "index-"+time.Now().UTC().Format("20060102T150405.000000000"))
	idx, err := searchindex.OpenWith(path, s.indexOpts)
	if err != nil {
		return err
	}
	if err := s.cfg.joinPeers(idx); err != nil {
		_ = idx.Close()
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			_ = idx.Close()
			_ = os.RemoveAll(path)
		}
	}()
	log.Info("rebuilding the index from the stream beside the live one", "path", path)
	ix := indexer.NewWith(log, s.js, s.stream, idx, indexer.Options{Partition: s.cfg.Partition})
	bctx, stopBuild := context.WithCancel(ctx)
	built := make(chan struct{})
	go func() { _ = ix.Run(bctx); close(built) }()
	stopBuilder := func() { stopBuild(); <-built }
	defer stopBuilder() // a no-op the second time

	// Phase 1: replay the stream while the old index serves.
	if err := s.follow(ctx, ix, idx, 0); err != nil {
		return err
	}
	// Phase 2: stop the live indexer (it finishes its batch), let the new index take what came meanwhile.
	s.setRebuild(func(st *search.RebuildStatus) { st.State = search.RebuildSwapping })
	s.mu.Lock()
	stopLive, liveDone := s.stopIndexer, s.indexerDone
	s.mu.Unlock()
	stopLive()
	<-liveDone
	resumed := false
	defer func() {
		if !resumed {
			s.resumeRun(ctx) // the old indexer goes on where it stopped
		}
	}()
	if err := s.follow(ctx, ix, idx, swapWait); err != nil {
		return err
	}
	stopBuilder()

	// Phase 3: one swap behind the API and the indexer; then the old index goes.
	if err := writeCurrent(s.cfg.DataDir, path); err != nil {
		return fmt.Errorf("record the new index: %w", err)
	}
	old := s.live.swap(idx)
	old.Wake() // readers waiting for a version move to the new index
	s.mu.Lock()
	oldPath := s.path
	s.path = path
	s.indexer = indexer.NewWith(s.log, s.js, s.stream, idx, s.indexerOptions())
	s.mu.Unlock()
	swapped, resumed = true, true
	s.resumeRun(ctx)
	if err := old.Close(); err != nil {
		log.Warn("close the old index", "err", err)
	}
	if err := os.RemoveAll(oldPath); err != nil {
		log.Warn("remove the old index", "path", oldPath, "err", err)
	}
	st := s.Rebuild()
	log.Info("index rebuilt and swapped in", "path", path, "movies", st.Movies, "checkpoint", st.Checkpoint, "took", time.Duration(st.DurationMS)*time.Millisecond)
	return nil
}

// resumeRun lets Run go on after a rebuild stopped its indexer (unless Run has returned).
func (s *Service) resumeRun(ctx context.Context) {
	select {
	case s.resume <- struct{}{}:
	case <-ctx.Done():
	}
}

// follow waits until ix has applied everything the stream (its partition) holds, updating the progress;
// within is the longest it may take (0: no bound).
func (s *Service) follow(ctx context.Context, ix *indexer.Indexer, idx *searchindex.Index, within time.Duration) error {
	var deadline time.Time
	if within > 0 {
		deadline = time.Now().Add(within)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return errors.New("stopped: the service is shutting down")
		case <-tick.C:
		}
		behind, err := ix.Behind(ctx)
		if err != nil {
			continue // NATS away, or the consumer starting: keep waiting
		}
		ck, err := idx.Checkpoint()
		if err != nil {
			return err
		}
		docs, _ := idx.DocCount()
		stats := ix.Stats()
		s.setRebuild(func(r *search.RebuildStatus) {
			r.Checkpoint, r.Target, r.Applied, r.Movies = ck, ck+behind, stats.Applied, docs
		})
		if behind == 0 {
			return nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("the new index did not catch up within %s (at %d, %d events behind)", within, ck, behind)
		}
	}
}
