package catalogapi

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Login throttling, after OWASP's Authentication Cheat Sheet: failures slow the guesser down without
// letting the guesser lock the owner out.
//
//   - Per username and client: after pairFree failures in a row, that client waits lockoutBase before its
//     next try at that username, doubling with each further failure up to lockoutMax. The owner, on
//     another client, is not held up at all, however long an attacker keeps failing.
//   - Per client, across usernames: after clientFree failures, whatever the usernames, the client waits
//     the same doubling delays before any login. This slows down spraying one password over many names.
//
// A success clears its username-and-client count (not the client's budget, which an attacker with an
// account of its own could otherwise reset). Counts are forgotten lockoutForget after the last failure.
// The counters live in this process: each replica counts on its own.
const (
	pairFree       = 5
	clientFree     = 20
	lockoutBase    = time.Second
	lockoutMax     = 5 * time.Minute
	lockoutForget  = 15 * time.Minute
	lockoutEntries = 100_000 // keys tracked at most, per kind, so that random names cannot exhaust memory
)

// ClientIPHeader carries the client's address as the gateway determined it (trusted proxies taken into
// account); the gateway sets it on every request and drops any a client sent. Without it, the peer address
// is the client.
const ClientIPHeader = "Marquee-Client-IP"

// clientOf names the client of r for login throttling.
func clientOf(r *http.Request) string {
	if a, err := netip.ParseAddr(r.Header.Get(ClientIPHeader)); err == nil {
		return a.Unmap().String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type lockout struct {
	pairs   *backoff // username + "\x00" + client
	clients *backoff // client
}

func newLockout(now func() time.Time) *lockout {
	return &lockout{pairs: newBackoff(now, pairFree), clients: newBackoff(now, clientFree)}
}

// wait returns how long client must wait before trying name again; 0 if it need not.
func (l *lockout) wait(name, client string) time.Duration {
	return max(l.pairs.wait(name+"\x00"+client), l.clients.wait(client))
}

// fail counts a failed login of name from client.
func (l *lockout) fail(name, client string) {
	l.pairs.fail(name + "\x00" + client)
	l.clients.fail(client)
}

// succeed clears the failures of name from client.
func (l *lockout) succeed(name, client string) { l.pairs.clear(name + "\x00" + client) }

// backoff counts failures by key: after free failures, a key waits lockoutBase, doubling with each further
// failure up to lockoutMax.
type backoff struct {
	now  func() time.Time
	free int

	mu      sync.Mutex
	entries map[string]*lockEntry
}

type lockEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // must wait until
}

func newBackoff(now func() time.Time, free int) *backoff {
	return &backoff{now: now, free: free, entries: map[string]*lockEntry{}}
}

func (b *backoff) wait(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil {
		return 0
	}
	return max(0, e.until.Sub(b.now()))
}

func (b *backoff) fail(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	e := b.entries[key]
	if e != nil && now.Sub(e.last) > lockoutForget {
		e = nil
	}
	if e == nil {
		if len(b.entries) >= lockoutEntries {
			b.sweepLocked(now)
		}
		e = &lockEntry{}
		b.entries[key] = e
	}
	e.failures++
	e.last = now
	if n := e.failures - b.free; n >= 0 {
		d := lockoutMax
		if n < 20 {
			d = min(lockoutBase<<n, lockoutMax)
		}
		e.until = now.Add(d)
	}
}

func (b *backoff) clear(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}

// sweepLocked drops forgotten entries, and if that is not enough, arbitrary unlocked ones.
func (b *backoff) sweepLocked(now time.Time) {
	for key, e := range b.entries {
		if now.Sub(e.last) > lockoutForget {
			delete(b.entries, key)
		}
	}
	for key, e := range b.entries {
		if len(b.entries) < lockoutEntries {
			return
		}
		if !e.until.After(now) {
			delete(b.entries, key)
		}
	}
}
