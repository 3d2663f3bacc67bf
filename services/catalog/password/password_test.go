package password

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(0)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %q", enc)
	}
	enc2, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if enc == enc2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name, pw, enc string
		ok, wantErr   bool
	}{
		{"right password", "correct horse", enc, true, false},
		{"wrong password", "correct horsE", enc, false, false},
		{"empty password", "", enc, false, false},
		{"not a hash", "x", "plain", false, true},
		{"other algorithm", "x", strings.Replace(enc, "argon2id", "argon2i", 1), false, true},
		{"absurd memory cost", "x", strings.Replace(enc, "m=19456", "m=99999999", 1), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, tt.pw, tt.enc)
			if (err != nil) != tt.wantErr || ok != tt.ok {
				t.Fatalf("Verify = %v, %v; want %v, err %v", ok, err, tt.ok, tt.wantErr)
			}
		})
	}
}

func TestConcurrencyCap(t *testing.T) {
	h := NewHasher(2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			// Hold a slot the way derive does, observing how many are held at once.
			h.sem <- struct{}{}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
			running.Add(-1)
			<-h.sem
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency = %d, want 2", p)
	}
}

func TestHashCanceled(t *testing.T) {
	h := NewHasher(1)
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "pw"); err == nil {
		t.Fatal("Hash succeeded while every slot was busy and the context ended")
	}
}
