package freeport

import (
	"net"
	"testing"
)

// TestPortsNeverRepeat: ports handed out are distinct across calls, even once their owners close them, and
// each lies outside the kernel's ephemeral range and can be listened on.
func TestPortsNeverRepeat(t *testing.T) {
	from, to, err := span()
	if err != nil {
		t.Fatal(err)
	}
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
			if p < from || p >= to {
				t.Fatalf("port %d outside [%d, %d)", p, from, to)
			}
		}
	}
	ln, err := net.Listen("tcp", Addr(t))
	if err != nil {
		t.Fatalf("listen on a handed-out port: %v", err)
	}
	_ = ln.Close()
}

// narrow makes port the only one Ports may choose, for the rest of the test.
func narrow(t *testing.T, port int) {
	saved := span
	span = func() (int, int, error) { return port, port + 1, nil }
	t.Cleanup(func() { span = saved })
}

// TestPortsSkipsTakenAndGiven: a port some listener holds is not handed out, nor one handed out before;
// a free one is. The ports are the kernel's own (port 0), which Ports never otherwise chooses.
func TestPortsSkipsTakenAndGiven(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	narrow(t, held.Addr().(*net.TCPAddr).Port)
	if p, err := Ports(1); err == nil {
		t.Fatalf("port %d handed out while a listener holds it", p[0])
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := closed.Addr().(*net.TCPAddr).Port
	_ = closed.Close()
	narrow(t, port)
	if p, err := Port(); err != nil || p != port {
		t.Fatalf("Port() = %d, %v; want the free port %d", p, err, port)
	}
	if p, err := Port(); err == nil {
		t.Fatalf("port %d handed out a second time", p)
	}
}

// TestSpanOutside: the span lies below the ephemeral range when there is room, else above it, and never
// inside it.
func TestSpanOutside(t *testing.T) {
	for _, c := range []struct{ lo, hi, from, to int }{
		{32768, 60999, lowest, 32768},
		{1024, 65535 - 2000, 65535 - 1999, 65536},
		{15000, 40000, 40001, 65536},
	} {
		from, to, err := spanOutside(c.lo, c.hi)
		if err != nil || from != c.from || to != c.to {
			t.Errorf("spanOutside(%d, %d) = [%d, %d), %v; want [%d, %d)", c.lo, c.hi, from, to, err, c.from, c.to)
		}
	}
	if _, _, err := spanOutside(1024, 65000); err == nil {
		t.Error("spanOutside(1024, 65000) left room where there is none")
	}
}
