package searchsvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search/searchindex"
)

// A new replica starts from a peer's snapshot (bootstrap_from) instead of replaying the whole stream, which
// takes hours at tens of millions of movies: it copies the peer's index and its checkpoint, then its indexer
// resumes the stream after that checkpoint like any restarted replica.

// snapshotPath is the route a peer serves its snapshot on.
const snapshotPath = "/v1/index/snapshot"

// reserveSnapshot is the API's Snapshot: one snapshot at a time (each takes a copy's worth of disk), and
// none while a rebuild may swap the index away under it.
func (s *Service) reserveSnapshot() (func(io.Writer) error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapshotting {
		return nil, apperr.Errorf(apperr.Unavailable, "This replica is sending a snapshot already; ask again later or ask another replica.")
	}
	if s.rebuild.State == RebuildBuilding || s.rebuild.State == RebuildSwapping {
		return nil, apperr.Errorf(apperr.Unavailable, "This replica is rebuilding its index; ask again later or ask another replica.")
	}
	idx, done := s.live.get()
	done() // no rebuild can swap idx away once snapshotting is set, until it is cleared
	if cp, err := idx.Checkpoint(); err != nil || cp == 0 {
		return nil, apperr.Errorf(apperr.Unavailable, "This replica's index is empty; ask another replica.")
	}
	s.snapshotting = true
	return func(w io.Writer) error {
		defer func() {
			s.mu.Lock()
			s.snapshotting = false
			s.mu.Unlock()
		}()
		t0 := time.Now()
		m, err := idx.WriteSnapshot(w, s.cfg.DataDir)
		if err != nil {
			return err
		}
		s.log.Info("snapshot sent", "checkpoint", m.Checkpoint, "movies", m.Movies, "bytes", m.Bytes, "took", time.Since(t0).Round(time.Millisecond))
		return nil
	}, nil
}

// bootstrapHeaderTimeout bounds the wait for a peer to start sending its snapshot (it answers before it
// copies); the copy itself may take minutes and is bounded only by the caller's context.
const bootstrapHeaderTimeout = 30 * time.Second

// bootstrap replaces the empty index at path with a snapshot of the peer at cfg.BootstrapFrom, in a new
// folder that index.current then names. It returns the index to serve: the snapshot's, or, when the peer
// cannot give one, the empty index it was given, which then replays the stream from its start.
func bootstrap(ctx context.Context, log *slog.Logger, cfg Config, opts searchindex.Options, idx *searchindex.Index, path string) (*searchindex.Index, string) {
	log = log.With("component", "bootstrap", "peer", cfg.BootstrapFrom)
	t0 := time.Now()
	to := filepath.Join(cfg.DataDir, "index-"+time.Now().UTC().Format("20060102T150405.000000000"))
	m, err := fetchSnapshot(ctx, cfg.BootstrapFrom, cfg.InternalToken, to, opts.Shards)
	if err != nil {
		log.Error("no snapshot from the peer; replaying the whole stream instead", "err", err)
		return idx, path
	}
	fetched := time.Since(t0)
	next, err := searchindex.OpenWith(to, opts)
	if err == nil {
		var cp uint64
		if cp, err = next.Checkpoint(); err == nil && cp != m.Checkpoint {
			err = fmt.Errorf("the copy opened at checkpoint %d, its manifest says %d", cp, m.Checkpoint)
		}
		if err == nil {
			err = writeCurrent(cfg.DataDir, to)
		}
		if err != nil {
			_ = next.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(to)
		log.Error("the peer's snapshot cannot be served; replaying the whole stream instead", "err", err)
		return idx, path
	}
	if err := idx.Close(); err != nil {
		log.Warn("close the empty index", "err", err)
	}
	_ = os.RemoveAll(path)
	log.Info("index copied from a peer; the stream resumes after its checkpoint", "checkpoint", m.Checkpoint,
		"movies", m.Movies, "bytes", m.Bytes, "fetched", fetched.Round(time.Millisecond), "took", time.Since(t0).Round(time.Millisecond))
	return next, to
}

// fetchSnapshot reads the snapshot of the search service at base into the new folder to.
func fetchSnapshot(ctx context.Context, base, token, to string, shards int) (searchindex.SnapshotManifest, error) {
	var m searchindex.SnapshotManifest
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+snapshotPath, nil)
	if err != nil {
		return m, err
	}
	if token != "" {
		req.Header.Set(httpx.InternalTokenHeader, token)
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: bootstrapHeaderTimeout,
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return m, fmt.Errorf("%s answered %s: %s", req.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	return searchindex.ReadSnapshot(resp.Body, to, shards)
}
