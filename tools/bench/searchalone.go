package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"marquee/pkg/freeport"
	"marquee/pkg/natsx/natsembed"
)

// searchAlone is the search service as a split deployment runs it: `marquee search`, a process of its own,
// serving the index the all-in-one built and following the same stream, which an embedded NATS server serves
// from the all-in-one's store. The all-in-one must have stopped (the two would share the index folder). After
// the standard mix and a run of concurrent text searches, its memory is the search process's alone: no
// gateway, catalog or NATS server beside it. It has indexed nothing since it started: a node that has just
// rebuilt its index may hold more until the collector returns it.
type searchAlone struct {
	mix, load *loadResult
	mem       memory
}

// measureSearchAlone starts the search process over dataDir's index and stream, sends it the standard mix
// (at most n queries, or for d), then text queries from load's workers for its duration, and reads its
// memory.
func measureSearchAlone(ctx context.Context, bin, dataDir string, shards int, urls []string, n int, d time.Duration,
	text []string, load loadSpec) (*searchAlone, error) {
	ns, err := natsembed.Run(natsembed.Options{StoreDir: filepath.Join(dataDir, "nats"), Listen: true})
	if err != nil {
		return nil, err
	}
	defer ns.Shutdown()
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "search", "--addr", addr, "--data-dir", filepath.Join(dataDir, "search"),
		"--nats-url", ns.ClientURL(), "--index-shards", strconv.Itoa(shards), "--log-level", "warn")
	cmd.Env = os.Environ()
	s := &server{name: "marquee search", cmd: cmd, base: "http://" + addr, out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	defer s.stop()
	client := newClient(1)
	if err := waitReady(ctx, client, s, 2*time.Minute); err != nil {
		return nil, err
	}
	mix, err := sequential(ctx, client, s.base, urls, n, d)
	if err != nil {
		return nil, err
	}
	concurrent, err := runLoad(ctx, newClient(load.Concurrency), s.base, text, load)
	if err != nil {
		return nil, err
	}
	mem, err := s.memory()
	if err != nil {
		return nil, err
	}
	return &searchAlone{mix: mix, load: concurrent, mem: mem}, nil
}

// waitReady waits until the search process answers /readyz with 200: it has opened its index and caught up
// with the stream.
func waitReady(ctx context.Context, client *http.Client, s *server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited:\n%s", s.name, s.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s:\n%s", s.name, limit, s.output())
		}
	}
}
