package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

// smallLimits make the tiers easy to exhaust.
var smallLimits = Options{RateLimits: RateLimits{
	Anonymous: Rate{PerSecond: 1, Burst: 3},
	User:      Rate{PerSecond: 1, Burst: 5},
	Admin:     Rate{PerSecond: 1, Burst: 8},
	Login:     Rate{PerSecond: 1.0 / 60, Burst: 2},
}}

// from sends a request from a client IP.
func (f *fixture) from(t *testing.T, ip, method, path, token string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
	r.RemoteAddr = ip + ":4711"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.gw.ServeHTTP(w, r)
	return w
}

// allowed counts the requests let through before the first 429, up to n.
func (f *fixture) allowed(t *testing.T, n int, ip, method, path, token string) int {
	t.Helper()
	for i := range n {
		if w := f.from(t, ip, method, path, token); w.Code == http.StatusTooManyRequests {
			return i
		}
	}
	return n
}

func TestRateLimitTiers(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		token              func(f *fixture) string
		want               int
	}{
		{"anonymous per IP", "GET", "/v1/movies", func(*fixture) string { return "" }, 3},
		{"user token", "GET", "/v1/movies", func(f *fixture) string { return f.user }, 5},
		{"user API key", "GET", "/v1/movies", func(*fixture) string { return userKey }, 5},
		{"admin token", "GET", "/v1/movies", func(f *fixture) string { return f.admin }, 8},
		{"admin API key", "POST", "/v1/movies", func(*fixture) string { return adminKey }, 8},
		{"login, whoever calls", "POST", "/v1/auth/token", func(f *fixture) string { return f.admin }, 2},
		{"session renewal, whoever calls", "POST", "/v1/auth/refresh", func(f *fixture) string { return f.admin }, 2},
		{"sign-out, at the caller's own rate, not the renewals'", "POST", "/v1/auth/logout", func(*fixture) string { return "" }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, smallLimits)
			if got := f.allowed(t, 20, "198.51.100.7", tc.method, tc.path, tc.token(f)); got != tc.want {
				t.Fatalf("allowed %d requests, want %d", got, tc.want)
			}
		})
	}
}

func TestRateLimitAnswer(t *testing.T) {
	f := newFixture(t, smallLimits)
	w := f.from(t, "198.51.100.7", "GET", "/v1/movies", "")
	if w.Header().Get("RateLimit-Limit") != "3" || w.Header().Get("RateLimit-Remaining") != "2" || w.Header().Get("RateLimit-Reset") != "1" {
		t.Fatalf("headers = %v", w.Header())
	}
	f.from(t, "198.51.100.7", "GET", "/v1/movies", "")
	f.from(t, "198.51.100.7", "GET", "/v1/movies", "")
	w = f.from(t, "198.51.100.7", "GET", "/v1/movies", "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Content-Type") != httpx.ProblemContentType {
		t.Fatalf("status %d %q, want 429 problem", w.Code, w.Header().Get("Content-Type"))
	}
	if !strings.Contains(w.Body.String(), `"code":"`+string(apperr.RateLimited)+`"`) {
		t.Fatalf("body = %s", w.Body)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After = %q, want 1", got)
	}
	if w.Header().Get("RateLimit-Remaining") != "0" {
		t.Fatalf("RateLimit-Remaining = %q", w.Header().Get("RateLimit-Remaining"))
	}
	if n := f.search.count(); n != 3 {
		t.Fatalf("search got %d requests, want 3", n)
	}

	t.Run("another IP has its own allowance", func(t *testing.T) {
		if w := f.from(t, "198.51.100.8", "GET", "/v1/movies", ""); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("the same IPv6 /64 shares one", func(t *testing.T) {
		if got := f.allowed(t, 10, "2001:db8::1", "GET", "/v1/movies", "") + f.allowed(t, 10, "2001:db8::2", "GET", "/v1/movies", ""); got != 3 {
			t.Fatalf("allowed %d, want 3 for the /64", got)
		}
	})
	t.Run("a user is not limited by the IP", func(t *testing.T) {
		if w := f.from(t, "198.51.100.7", "GET", "/v1/movies", f.user); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("probes are not limited", func(t *testing.T) {
		for range 5 {
			if w := f.from(t, "198.51.100.7", "GET", "/healthz", ""); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" {
				t.Fatalf("status %d, headers %v", w.Code, w.Header())
			}
		}
	})
	t.Run("time refills", func(t *testing.T) {
		f.clock.advance(time.Second)
		if w := f.from(t, "198.51.100.7", "GET", "/v1/movies", ""); w.Code != 200 {
			t.Fatalf("status %d after a second", w.Code)
		}
	})
}

func TestLoginRetryAfter(t *testing.T) {
	f := newFixture(t, smallLimits)
	f.allowed(t, 2, "203.0.113.9", "POST", "/v1/auth/token", "")
	w := f.from(t, "203.0.113.9", "POST", "/v1/auth/token", "")
	if w.Code != 429 {
		t.Fatalf("status %d", w.Code)
	}
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); ra < 59 || ra > 60 {
		t.Fatalf("Retry-After = %q, want about 60", w.Header().Get("Retry-After"))
	}
	if w := f.from(t, "203.0.113.9", "GET", "/v1/movies", ""); w.Code != 200 {
		t.Fatalf("logins spent the IP's search allowance: %d", w.Code)
	}
}

func TestFailedAuthenticationSpendsTheIPAllowance(t *testing.T) {
	f := newFixture(t, smallLimits)
	for i, want := range []int{401, 401, 401, 429, 429} {
		if w := f.from(t, "198.51.100.9", "GET", "/v1/movies", f.expired); w.Code != want {
			t.Fatalf("request %d: status %d, want %d", i, w.Code, want)
		}
	}
	// Guessed API keys cost the guesser, not the catalog: once the IP is out of allowance, no more
	// introspection calls.
	before := f.introspectionCount()
	for i := range 5 {
		f.from(t, "198.51.100.9", "GET", "/v1/movies", "mq_guess"+strconv.Itoa(i))
	}
	if got := f.introspectionCount() - before; got != 0 {
		t.Fatalf("%d introspections for a limited IP", got)
	}
}

func TestRateLimitOff(t *testing.T) {
	o := smallLimits
	o.RateLimits.Off = true
	f := newFixture(t, o)
	if got := f.allowed(t, 50, "198.51.100.7", "POST", "/v1/auth/token", ""); got != 50 {
		t.Fatalf("allowed %d of 50 with limits off", got)
	}
	if w := f.from(t, "198.51.100.7", "GET", "/v1/movies", ""); w.Header().Get("RateLimit-Limit") != "" {
		t.Fatal("RateLimit headers with limits off")
	}
}

func TestLimiterForgetsAndIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := newLimiter(RateLimits{MaxEntries: 100}.withDefaults(), clock.now)
	r := Rate{PerSecond: 1, Burst: 2}
	for i := range 1000 {
		l.take("ip|"+strconv.Itoa(i), r)
	}
	if n := l.buckets.len(); n > 100 {
		t.Fatalf("%d buckets, bound is 100", n)
	}
	clock.advance(3 * time.Second) // every bucket full again: nothing to remember
	for i := range 10 {
		l.take("new|"+strconv.Itoa(i), r)
	}
	if n := l.buckets.len(); n > 100 {
		t.Fatalf("%d buckets", n)
	}
	// A bucket in use survives the pruning of idle ones.
	l.take("busy", r)
	l.take("busy", r)
	for i := range 99 {
		l.take("other|"+strconv.Itoa(i), r)
	}
	if d := l.take("busy", r); d.allowed {
		t.Fatal("the busy bucket was forgotten while in use")
	}
}

func TestRateKey(t *testing.T) {
	cfg := DefaultRateLimits()
	ip := netip.MustParseAddr("192.0.2.1")
	user := &caller{}
	user.Subject, user.Role = "ada", "user"
	key := &caller{viaKey: true}
	key.Subject, key.Role = "ada", "admin"
	for _, tc := range []struct {
		name         string
		who          *caller
		ip           netip.Addr
		method, path string
		wantKey      string
		wantRate     Rate
	}{
		{"anonymous", nil, ip, "GET", "/v1/movies", "ip|192.0.2.1", cfg.Anonymous},
		{"ipv4-mapped", nil, netip.MustParseAddr("::ffff:192.0.2.1"), "GET", "/v1/movies", "ip|192.0.2.1", cfg.Anonymous},
		{"ipv6 /64", nil, netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), "GET", "/v1/movies", "ip|2001:db8:1:2::/64", cfg.Anonymous},
		{"unknown peer", nil, netip.Addr{}, "GET", "/v1/movies", "ip|unknown", cfg.Anonymous},
		{"user", user, ip, "GET", "/v1/movies", "sub|ada", cfg.User},
		{"key of the same name", key, ip, "GET", "/v1/movies", "key|ada", cfg.Admin},
		{"login", user, ip, "POST", "/v1/auth/token", "login|192.0.2.1", cfg.Login},
		{"token route read", nil, ip, "GET", "/v1/auth/token", "ip|192.0.2.1", cfg.Anonymous},
		{"session renewal", user, ip, "POST", "/v1/auth/refresh", "session|192.0.2.1", cfg.Login},
		{"sign-out", nil, ip, "POST", "/v1/auth/logout", "ip|192.0.2.1", cfg.Anonymous},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, r := rateKey(cfg, tc.who, tc.ip, tc.method, tc.path)
			if k != tc.wantKey || r != tc.wantRate {
				t.Fatalf("rateKey = %q %+v, want %q %+v", k, r, tc.wantKey, tc.wantRate)
			}
		})
	}
}
