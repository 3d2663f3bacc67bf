// Package freeport hands out loopback TCP ports for the servers a test or a tool starts and then names to
// each other (a NATS cluster's routes, a split stack's addresses).
//
// Taking port 0, closing it and passing the number on is racy twice over: the kernel hands that same port to
// the next listener on port 0 or to an outgoing connection, in this process or another. So a port here comes
// from below the kernel's ephemeral range, where neither ever lands; it is checked free when chosen; and the
// process never hands out one port twice.
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

// lowest is the first port considered: above the well-known and registered services people run locally.
const lowest = 20000

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Ports returns n distinct loopback ports, free a moment ago and never returned before in this process.
func Ports(n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()
	top := ephemeralStart()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("freeport: no free loopback port in [%d, %d)", lowest, top)
		}
		p := lowest + rand.IntN(top-lowest)
		if given[p] || !free(p) {
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

// ephemeralStart is the first port of the kernel's ephemeral range (Linux's default where it cannot be read).
func ephemeralStart() int {
	start := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > lowest+1000 {
				start = v
			}
		}
	}
	return start
}
