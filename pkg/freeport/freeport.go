// Package freeport hands out loopback TCP ports for the servers a test or a tool starts and then names to
// each other (a NATS cluster's routes, a split stack's addresses).
//
// Taking port 0, closing it and passing the number on is racy: the kernel hands that same port to the next
// listener on port 0 or to an outgoing connection, in this process or another, and a second call in the
// same process may get it back. So a port here comes from outside the kernel's ephemeral range, where
// neither ever lands; it is checked free when chosen; and the process never hands out one port twice.
// Another process choosing the same way may still pick the same port in the moment before it is bound: the
// choice is random over thousands of ports, so that is rare, not impossible.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	given = map[int]bool{}

	// span is the ports to choose from, [from, to); a variable so that a test can narrow it.
	span = outsideEphemeral
)

// maxRejected is how many taken or given ports Ports tries before it gives up.
const maxRejected = 1000

// Ports returns n distinct loopback ports, free a moment ago and never returned before in this process.
func Ports(n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()
	from, to, err := span()
	if err != nil {
		return nil, err
	}
	ports := make([]int, 0, n)
	for rejected := 0; len(ports) < n; {
		p := from + rand.IntN(to-from)
		if given[p] || !free(p) {
			if rejected++; rejected > maxRejected {
				return nil, fmt.Errorf("freeport: no free loopback port in [%d, %d)", from, to)
			}
			continue
		}
		given[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// Port returns one port as Ports does.
func Port() (int, error) {
	ps, err := Ports(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// Addr returns "127.0.0.1:port" for a port from Port, failing the test if there is none.
func Addr(tb testing.TB) string {
	tb.Helper()
	p, err := Port()
	if err != nil {
		tb.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// Ports below lowest are left to the services people run locally (databases, brokers, dev servers).
const lowest = 20000

// room is the fewest ports a span offers.
const room = 1000

// outsideEphemeral is the ports between lowest and the kernel's ephemeral range, or above the range when it
// starts too low to leave room below it. Linux says its range in /proc; elsewhere the range is taken to
// start at 32768 (Linux's default; the BSDs, macOS and Windows start higher, at 49152).
func outsideEphemeral() (from, to int, err error) {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return 0, 0, fmt.Errorf("freeport: ip_local_port_range %q", b)
		}
		if lo, err = strconv.Atoi(f[0]); err != nil {
			return 0, 0, fmt.Errorf("freeport: ip_local_port_range %q", b)
		}
		if hi, err = strconv.Atoi(f[1]); err != nil {
			return 0, 0, fmt.Errorf("freeport: ip_local_port_range %q", b)
		}
	}
	return spanOutside(lo, hi)
}

// spanOutside is the span below the ephemeral range [lo, hi], else the one above it.
func spanOutside(lo, hi int) (from, to int, err error) {
	switch {
	case lo-lowest >= room:
		return lowest, lo, nil
	case 65536-(hi+1) >= room:
		return max(hi+1, lowest), 65536, nil
	}
	return 0, 0, fmt.Errorf("freeport: the ephemeral range %d-%d leaves no room for chosen ports", lo, hi)
}
