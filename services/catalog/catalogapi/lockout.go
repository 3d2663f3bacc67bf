package catalogapi

import (
	"sync"
	"time"
)

// Login lockout: after lockoutFree failures in a row, a username is locked for lockoutBase, doubling with
// each further failure up to lockoutMax. A success, or lockoutForget without failures, clears it. The
// counters live in this process: each replica counts on its own.
const (
	lockoutFree    = 5
	lockoutBase    = time.Second
	lockoutMax     = 5 * time.Minute
	lockoutForget  = 15 * time.Minute
	lockoutEntries = 100_000 // usernames tracked at most, so that random names cannot exhaust memory
)

type lockout struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*lockEntry
}

type lockEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // locked until
}

func newLockout(now func() time.Time) *lockout {
	return &lockout{now: now, entries: map[string]*lockEntry{}}
}

// wait returns how long name stays locked; 0 if it is not.
func (l *lockout) wait(name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[name]
	if e == nil {
		return 0
	}
	return max(0, e.until.Sub(l.now()))
}

// fail counts a failed login of name.
func (l *lockout) fail(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entries[name]
	if e != nil && now.Sub(e.last) > lockoutForget {
		e = nil
	}
	if e == nil {
		if len(l.entries) >= lockoutEntries {
			l.sweepLocked(now)
		}
		e = &lockEntry{}
		l.entries[name] = e
	}
	e.failures++
	e.last = now
	if n := e.failures - lockoutFree; n >= 0 {
		d := lockoutMax
		if n < 20 {
			d = min(lockoutBase<<n, lockoutMax)
		}
		e.until = now.Add(d)
	}
}

// succeed clears name's failures.
func (l *lockout) succeed(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, name)
}

// sweepLocked drops forgotten entries, and if that is not enough, arbitrary unlocked ones.
func (l *lockout) sweepLocked(now time.Time) {
	for name, e := range l.entries {
		if now.Sub(e.last) > lockoutForget {
			delete(l.entries, name)
		}
	}
	for name, e := range l.entries {
		if len(l.entries) < lockoutEntries {
			return
		}
		if !e.until.After(now) {
			delete(l.entries, name)
		}
	}
}
