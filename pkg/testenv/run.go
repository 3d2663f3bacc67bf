package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
)

// waitLimit bounds every wait of these helpers: far above what a healthy test needs, short enough that a
// stuck one fails rather than hangs.
const waitLimit = 10 * time.Second

// Run runs a loop such as a relay's or an indexer's Run in the background until the returned stop is called
// or the test ends. stop cancels its context and waits for it: the test fails if it returns an error or
// does not return within 10 s.
func Run(tb testing.TB, run func(context.Context) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stopped := false
	stop = func() {
		tb.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(waitLimit):
			tb.Fatalf("Run did not return within %s of its context being done", waitLimit)
		}
	}
	tb.Cleanup(stop)
	return stop
}

// Eventually polls cond until it holds; the test fails after 10 s, naming what it waited for.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stream creates a stream of movie changes of its own on js, so that tests may share a server, and deletes
// it when the test ends.
func Stream(tb testing.TB, js jetstream.JetStream) events.Stream {
	tb.Helper()
	n := fmt.Sprintf("%08x", rand.Uint32())
	s := events.Stream{Name: "T" + n, Prefix: "t" + n}
	if _, err := natsx.EnsureStream(context.Background(), js, s, 0); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, s.Name); err != nil {
			tb.Logf("delete stream %s: %v", s.Name, err)
		}
	})
	return s
}
