package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

// Rate is a token bucket: PerSecond requests per second on average, Burst at once.
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimits are the gateway's rate limits, per caller. Anonymous callers are counted per client IP (per /64
// for IPv6), users and admins per token subject or API key, and POST /v1/auth/token per client IP whoever calls
// (the session routes too, in a bucket of their own).
type RateLimits struct {
	Off        bool // no limits at all
	Anonymous  Rate
	User       Rate
	Admin      Rate
	Login      Rate
	MaxEntries int // most callers tracked at once; the least recently seen are forgotten first
}

// DefaultRateLimits returns the limits of a gateway whose configuration names none.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Anonymous:  Rate{PerSecond: 20, Burst: 40},
		User:       Rate{PerSecond: 50, Burst: 100},
		Admin:      Rate{PerSecond: 200, Burst: 400},
		Login:      Rate{PerSecond: 5.0 / 60, Burst: 10},
		MaxEntries: 100_000,
	}
}

func (l RateLimits) withDefaults() RateLimits {
	d := DefaultRateLimits()
	for _, p := range []struct{ got, def *Rate }{{&l.Anonymous, &d.Anonymous}, {&l.User, &d.User}, {&l.Admin, &d.Admin}, {&l.Login, &d.Login}} {
		if p.got.PerSecond <= 0 {
			p.got.PerSecond = p.def.PerSecond
		}
		if p.got.Burst <= 0 {
			p.got.Burst = p.def.Burst
		}
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	return l
}

// limiter holds one token bucket per caller in a bounded map. A bucket untouched for as long as it takes to
// refill is forgotten, which changes nothing: a new one starts full.
type limiter struct {
	cfg RateLimits
	now func() time.Time

	mu      sync.Mutex
	buckets *expiringMap[string, *rate.Limiter]
}

func newLimiter(cfg RateLimits, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, buckets: newExpiringMap[string, *rate.Limiter](cfg.MaxEntries)}
}

func (l *limiter) off() bool { return l.cfg.Off }

// decision is the outcome of asking for one request.
type decision struct {
	allowed    bool
	limit      int           // the burst
	remaining  int           // whole requests left right now
	retryAfter time.Duration // until the next request is allowed, when refused
	reset      time.Duration // until the bucket is full again
}

// take spends one request of key's bucket, which refills at r.
func (l *limiter) take(key string, r Rate) decision {
	now := l.now()
	refill := time.Duration(float64(r.Burst) / r.PerSecond * float64(time.Second))
	l.mu.Lock()
	b, ok := l.buckets.get(key, now)
	if !ok {
		b = rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)
		l.buckets.put(key, b, now.Add(refill), now)
	} else {
		l.buckets.touch(key, now.Add(refill))
	}
	l.mu.Unlock()

	d := decision{allowed: b.AllowN(now, 1), limit: r.Burst}
	tokens := b.TokensAt(now)
	d.remaining = max(0, int(math.Floor(tokens)))
	d.reset = time.Duration((float64(r.Burst) - tokens) / r.PerSecond * float64(time.Second))
	if !d.allowed {
		d.retryAfter = time.Duration((1 - tokens) / r.PerSecond * float64(time.Second))
	}
	return d
}

// setHeaders describes the caller's allowance in the RateLimit fields of draft-ietf-httpapi-ratelimit-headers
// and, when refused, in Retry-After.
func (d decision) setHeaders(h http.Header) {
	h.Set("RateLimit-Limit", strconv.Itoa(d.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.reset)))
	if !d.allowed {
		h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.retryAfter))))
	}
}

func (d decision) err() error {
	return apperr.Errorf(apperr.RateLimited, "Too many requests; retry in %d seconds.", max(1, ceilSeconds(d.retryAfter)))
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// unlimitedPaths are probes, which orchestrators call often and which must not be refused.
var unlimitedPaths = map[string]bool{"/healthz": true, "/readyz": true}

// rateLimit spends one request of the caller's allowance, answering 429 when there is none left.
func rateLimit(l *limiter, ips clientIPs) gin.HandlerFunc {
	return func(c *gin.Context) {
		if l.off() || unlimitedPaths[c.Request.URL.Path] {
			c.Next()
			return
		}
		var who *caller
		if w, ok := callerOf(c); ok {
			who = &w
		}
		key, r := rateKey(l.cfg, who, ips.of(c.Request), c.Request.Method, c.Request.URL.Path)
		if c.GetBool(operatorKey) { // the metrics scraper has a bucket of its own, at an admin's rate
			key, r = "metrics", l.cfg.Admin
		}
		d := l.take(key, r)
		d.setHeaders(c.Writer.Header())
		if !d.allowed {
			httpx.Error(c, d.err())
			return
		}
		c.Next()
	}
}

// rateKey names the bucket a request spends from, and its rate: the login bucket of the client IP for
// POST /v1/auth/token, its session bucket at the same rate for a session's renewal, else the caller's own (API key or token subject) at its role's rate, else the
// client IP's at the anonymous rate.
func rateKey(cfg RateLimits, who *caller, ip netip.Addr, method, path string) (string, Rate) {
	if method == http.MethodPost && path == loginPath {
		return "login|" + ipKey(ip), cfg.Login
	}
	if method == http.MethodPost && sessionPaths[path] {
		return "session|" + ipKey(ip), cfg.Login
	}
	if who == nil {
		return ipRateKey(ip), cfg.Anonymous
	}
	r := cfg.User
	if who.Role == authn.RoleAdmin {
		r = cfg.Admin
	}
	kind := "sub|"
	if who.viaKey {
		kind = "key|"
	}
	return kind + boundedKey(who.Subject), r
}

// ipRateKey is the anonymous bucket of a client IP.
func ipRateKey(ip netip.Addr) string { return "ip|" + ipKey(ip) }

// ipKey is an IPv4 address, or the /64 of an IPv6 one (a single host usually holds a whole /64).
func ipKey(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is4():
		return ip.String()
	default:
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
}

// boundedKey keeps long subjects from making long map keys.
func boundedKey(s string) string {
	if len(s) <= 128 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}
