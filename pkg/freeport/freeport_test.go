package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPortsNeverRepeat: ports handed out are distinct across calls, even once their owners close them, and
// each lies below the kernel's ephemeral range and can be listened on.
func TestPortsNeverRepeat(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		ps, err := Ports(4)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
			if p < lowest || p >= ephemeralStart() {
				t.Fatalf("port %d outside [%d, %d)", p, lowest, ephemeralStart())
			}
		}
	}
	ln, err := net.Listen("tcp", Addr(t))
	if err != nil {
		t.Fatalf("listen on a handed-out port: %v", err)
	}
	_ = ln.Close()
}

// TestPortsSkipsTaken: a port some listener holds is never handed out.
func TestPortsSkipsTaken(t *testing.T) {
	var held []net.Listener
	taken := map[int]bool{}
	for p := lowest; p < lowest+200; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		held = append(held, ln)
		taken[p] = true
	}
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	// Only these ports remain, as far as the allocator's random choice knows: narrow it by marking the rest given.
	mu.Lock()
	saved := given
	given = map[int]bool{}
	for p := lowest + 200; p < ephemeralStart(); p++ {
		given[p] = true
	}
	mu.Unlock()
	defer func() { mu.Lock(); given = saved; mu.Unlock() }()

	if _, err := Ports(1); err == nil {
		t.Fatal("a port was handed out though every candidate was taken or given")
	}
}
