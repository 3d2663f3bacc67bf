package searchsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// A new replica starts from a peer's snapshot (bootstrap_from) instead of replaying the whole stream, which
// takes hours at tens of millions of movies: it copies the peer's index and its checkpoint, then its indexer
// resumes the stream after that checkpoint like any restarted replica.

// snapshotPath is the route a peer serves its snapshot on.
const snapshotPath = "/v1/index/snapshot"

// sendSnapshot is the API's Snapshot: one snapshot at a time (each takes a copy's worth of disk), none
// while a rebuild may swap the index away under it, and none of an empty index. It calls begin once the
// snapshot is reserved, and writes to what begin returns. A snapshot ends with ctx, or with Close.
func (s *Service) sendSnapshot(ctx context.Context, begin func() io.Writer) error {
	s.mu.Lock()
	switch {
	case isClosed(s.closed):
		s.mu.Unlock()
		return apperr.Errorf(apperr.Unavailable, "This replica is shutting down; ask another replica.")
	case s.snapshotting:
		s.mu.Unlock()
		return apperr.Errorf(apperr.Unavailable, "This replica is sending a snapshot already; ask again later or ask another replica.")
	case s.rebuild.State == search.RebuildBuilding || s.rebuild.State == search.RebuildSwapping:
		s.mu.Unlock()
		return apperr.Errorf(apperr.Unavailable, "This replica is rebuilding its index; ask again later or ask another replica.")
	}
	idx, done := s.live.get()
	done() // no rebuild can swap idx away, nor Close close it, while snapshotting is set
	if cp, err := idx.Checkpoint(); err != nil || cp == 0 {
		s.mu.Unlock()
		return apperr.Errorf(apperr.NotFound, "This replica's index is empty; there is nothing to copy.")
	}
	s.snapshotting = true
	s.snapshots.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.snapshotting = false
		s.mu.Unlock()
		s.snapshots.Done()
	}()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-s.closed:
			stop()
		case <-ctx.Done():
		}
	}()
	t0 := time.Now()
	m, err := idx.WriteSnapshot(ctx, begin(), s.cfg.DataDir)
	if err != nil {
		return err
	}
	s.log.Info("snapshot sent", "checkpoint", m.Checkpoint, "movies", m.Movies, "bytes", m.Bytes, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Bootstrap timing: how long a new replica keeps asking a peer that is busy, restarting or cut off before it
// replays the whole stream instead, how long it waits for a peer to answer (it answers before it copies),
// for the snapshot's first byte (which comes once the peer has copied its index: minutes for a shard of
// millions of movies), and how long a snapshot may stall after that. Variables, so that a test can shorten
// them.
var (
	bootstrapPatience      = 2 * time.Minute
	bootstrapHeaderTimeout = 30 * time.Second
	bootstrapFirstByte     = 30 * time.Minute
	bootstrapIdle          = time.Minute
)

// bootstrap replaces the empty index at path with a snapshot of the peer at cfg.BootstrapFrom, in a new
// folder that index.current then names. It returns the index to serve: the snapshot's, or, when no peer
// gives one within bootstrapPatience (or one refuses for good), the empty index it was given, which then
// replays the stream from its start.
func bootstrap(ctx context.Context, log *slog.Logger, cfg Config, opts searchindex.Options, idx *searchindex.Index, path string) (*searchindex.Index, string) {
	log = log.With("component", "bootstrap", "peer", cfg.BootstrapFrom)
	t0 := time.Now()
	to := filepath.Join(cfg.DataDir, "index-"+time.Now().UTC().Format("20060102T150405.000000000"))
	var m searchindex.SnapshotManifest
	for attempt := 1; ; attempt++ {
		var err error
		if m, err = fetchSnapshot(ctx, cfg.BootstrapFrom, cfg.InternalToken, to, opts); err == nil {
			break
		}
		wait, again := retryAfter(err, attempt)
		if !again || time.Since(t0)+wait > bootstrapPatience || ctx.Err() != nil {
			log.Error("no snapshot from the peer; replaying the whole stream instead", "err", err, "attempts", attempt)
			return idx, path
		}
		log.Warn("no snapshot from the peer yet; asking again", "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
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

// peerRefused is a peer's answer other than a snapshot.
type peerRefused struct {
	status     int
	retryAfter time.Duration
	detail     string
}

func (e *peerRefused) Error() string {
	return fmt.Sprintf("the peer answered %d: %s", e.status, e.detail)
}

// retryAfter says whether a failed fetch is worth another try, and after how long: a peer that is busy
// (503, as long as it asks) or that could not be reached or stopped mid-way (a restart, another replica
// behind the Service next time), with backoff. A refusal that would stand (no token, an empty index, a
// snapshot of another shape) is not.
func retryAfter(err error, attempt int) (time.Duration, bool) {
	backoff := min(time.Duration(1<<min(attempt, 4))*time.Second, 15*time.Second)
	var refused *peerRefused
	if errors.As(err, &refused) {
		if refused.status != http.StatusServiceUnavailable {
			return 0, false
		}
		if refused.retryAfter > 0 {
			return min(refused.retryAfter, 30*time.Second), true
		}
		return backoff, true
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errPeerStalled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return backoff, true
	}
	return 0, false
}

var (
	errPeerStalled = errors.New("the peer stopped sending its snapshot")
	errPeerSlow    = errors.New("the peer sent no snapshot in time")
)

// fetchSnapshot reads the snapshot of the search service at base into the new folder to.
func fetchSnapshot(ctx context.Context, base, token, to string, opts searchindex.Options) (searchindex.SnapshotManifest, error) {
	var m searchindex.SnapshotManifest
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The peer refuses at once a snapshot of other movies than this replica's, before it copies its index.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+snapshotPath+"?contents="+url.QueryEscape(opts.Contents), nil)
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
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return m, &peerRefused{status: resp.StatusCode, retryAfter: time.Duration(secs) * time.Second, detail: strings.TrimSpace(string(body))}
	}
	// A peer that stops sending (stalled, or gone without closing) would hold the replica's start for ever.
	// Until the first byte it is copying its index, which takes a while of its own.
	body := &idleReader{r: resp.Body}
	body.timer = time.AfterFunc(bootstrapFirstByte, func() {
		if body.started.Load() {
			cancel(errPeerStalled)
		} else {
			cancel(errPeerSlow)
		}
	})
	defer body.timer.Stop()
	m, err = searchindex.ReadSnapshot(body, to, opts.Shards, opts.Contents)
	if cause := context.Cause(ctx); err != nil && (errors.Is(cause, errPeerStalled) || errors.Is(cause, errPeerSlow)) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	return m, err
}

// idleReader gives its timer the stall budget again on every read that brings bytes.
type idleReader struct {
	r       io.Reader
	timer   *time.Timer
	started atomic.Bool
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.started.Store(true)
		r.timer.Reset(bootstrapIdle)
	}
	return n, err
}
