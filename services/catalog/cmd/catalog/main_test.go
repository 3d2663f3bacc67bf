package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"marquee/pkg/freeport"
	"marquee/pkg/natsx/natsembed"
	"marquee/services/catalog/catalogtest"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunRequiresDSN(t *testing.T) {
	err := run(context.Background(), nil, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "mysql_dsn is required") {
		t.Fatalf("run = %v", err)
	}
}

func TestRunServesAndStops(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")
			if dialect == "mysql" {
				dsn = catalogtest.MustMySQLDSN(t)
			}
			testRunServesAndStops(t, dsn)
		})
	}
}

func testRunServesAndStops(t *testing.T, dsn string) {
	srv, err := natsembed.Run(natsembed.Options{StoreDir: t.TempDir(), Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	addr := freeport.Addr(t)
	env := map[string]string{
		"MARQUEE_MYSQL_DSN":      dsn,
		"MARQUEE_ADMIN_PASSWORD": "a-long-secret-password",
		"MARQUEE_NATS_URL":       srv.ClientURL(),
	}
	args := []string{"--addr", addr, "--admin-username", "ops", "--seed", filepath.Join("..", "..", "..", "..", "data", "imdb.json")}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &out, &out) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(fmt.Sprintf("http://%s/readyz", addr))
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if log := out.String(); strings.Contains(log, "a-long-secret-password") || !strings.Contains(log, "admin_password=***") {
		t.Errorf("the log leaks or hides the config wrongly:\n%s", log)
	}
}
