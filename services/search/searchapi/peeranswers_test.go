package searchapi

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

type fakeCheckpoint struct{ at atomic.Uint64 }

func (f *fakeCheckpoint) Checkpoint() (uint64, error) { return f.at.Load(), nil }

// A question asked again at the same checkpoint is answered once; a new checkpoint, another question or a
// failed answer asks anew.
func TestPeerAnswersAreShared(t *testing.T) {
	idx := &fakeCheckpoint{}
	shared := newPeerAnswers(idx)
	var computed atomic.Int32
	compute := func(context.Context) ([]byte, error) { computed.Add(1); return []byte(`{"n":1}`), nil }
	ask := func(body string) {
		t.Helper()
		if out, err := shared.answer(context.Background(), []byte(body), compute); err != nil || string(out) != `{"n":1}` {
			t.Fatalf("%s: %s %v", body, out, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { ask(`{"op":"doc_count"}`) })
	}
	wg.Wait()
	ask(`{"op":"doc_count"}`)
	if n := computed.Load(); n != 1 {
		t.Fatalf("one question asked 9 times at one checkpoint: computed %d times", n)
	}
	ask(`{"op":"ratings"}`)
	idx.at.Store(7)
	ask(`{"op":"doc_count"}`)
	if n := computed.Load(); n != 3 {
		t.Fatalf("another question, then the first at a new checkpoint: computed %d times in all, want 3", n)
	}
	failed := 0
	fail := func(context.Context) ([]byte, error) { failed++; return nil, errors.New("no") }
	for range 2 {
		if _, err := shared.answer(context.Background(), []byte(`{"op":"count"}`), fail); err == nil {
			t.Fatal("a failed answer was shared")
		}
	}
	if failed != 2 {
		t.Fatalf("a failed answer was kept: computed %d times", failed)
	}
}
