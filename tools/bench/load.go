package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies is a set of recorded latencies; percentiles come from the sorted samples (exact, no buckets).
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
	sorted  bool
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.sorted = false
	l.mu.Unlock()
}

func (l *latencies) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.samples) }

// quantile returns the q-quantile (0..1) by the nearest-rank method; 0 without samples.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.samples)
		l.sorted = true
	}
	i := int(q*float64(len(l.samples))+0.5) - 1
	return l.samples[min(max(i, 0), len(l.samples)-1)]
}

func (l *latencies) max() time.Duration { return l.quantile(1) }

// loadResult is what one load run measured.
type loadResult struct {
	requests, errors int
	elapsed          time.Duration
	lat              latencies
	each             []time.Duration // with loadSpec.Each: request i's latency, 0 if it did not succeed
}

func (r *loadResult) qps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// loadSpec bounds a load run in time and in requests; Rate > 0 makes it open-loop.
type loadSpec struct {
	Concurrency int           // closed loop: workers each with one request in flight; open loop: most in flight
	Rate        float64       // open loop: requests per second, scheduled on a fixed timetable
	Duration    time.Duration // stop after this long
	MaxRequests int           // and after this many requests (0: no bound but time)
	Each        bool          // keep each request's latency by its number (needs MaxRequests)
}

// newClient returns an HTTP client that keeps one idle connection per worker, like a load generator should.
func newClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// checkLocal refuses any target that is not on this machine's loopback: the tool is a load generator.
func checkLocal(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return fmt.Errorf("refusing to load %s: only 127.0.0.1 targets", raw)
	}
	return nil
}

// get does one GET and drains the body; a non-2xx status is an error.
func get(ctx context.Context, c *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// runLoad runs requests urls[i % len(urls)] against base under spec.
//
// Closed loop: spec.Concurrency workers send back to back; the latency of a request is its service time.
// Open loop: requests are due on a fixed timetable (1/Rate apart) whatever the server does, and a request's
// latency is measured from when it was due, not from when a worker got to send it, so a stalled server is
// charged for every request it delayed (no coordinated omission). Requests due while every worker is busy
// wait in line and count that wait.
func runLoad(ctx context.Context, c *http.Client, base string, urls []string, spec loadSpec) (*loadResult, error) {
	if err := checkLocal(base); err != nil {
		return nil, err
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("no requests to send")
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Duration)
	defer cancel()
	res := &loadResult{}
	if spec.Each && spec.MaxRequests > 0 {
		res.each = make([]time.Duration, spec.MaxRequests)
	}
	var next, done, errs atomic.Int64
	max := int64(spec.MaxRequests)
	take := func() (int64, bool) {
		i := next.Add(1) - 1
		return i, max == 0 || i < max
	}
	do := func(i int64, due time.Time) {
		err := get(ctx, c, base+urls[i%int64(len(urls))])
		if ctx.Err() != nil { // cut off by the end of the run: neither a result nor an error
			return
		}
		if err != nil {
			errs.Add(1)
			return
		}
		took := time.Since(due)
		res.lat.add(took)
		if i < int64(len(res.each)) {
			res.each[i] = took // each request has its own i: no two workers write one element
		}
		done.Add(1)
	}
	start := time.Now()
	var wg sync.WaitGroup
	if spec.Rate <= 0 {
		for range spec.Concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					i, ok := take()
					if !ok {
						return
					}
					do(i, time.Now())
				}
			})
		}
	} else {
		due := make(chan time.Time, 1<<16)
		for range spec.Concurrency {
			wg.Go(func() {
				for t := range due {
					i, ok := take()
					if !ok || ctx.Err() != nil {
						continue
					}
					do(i, t)
				}
			})
		}
		interval := time.Duration(float64(time.Second) / spec.Rate)
	schedule:
		for n := int64(0); max == 0 || n < max; n++ {
			t := start.Add(time.Duration(n) * interval)
			if d := time.Until(t); d > 0 {
				select {
				case <-ctx.Done():
					break schedule
				case <-time.After(d):
				}
			}
			select {
			case due <- t:
			case <-ctx.Done():
				break schedule
			}
		}
		close(due)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests, res.errors = int(done.Load()), int(errs.Load())
	if res.requests == 0 {
		return res, fmt.Errorf("no request of %s succeeded (%d errors)", base, res.errors)
	}
	return res, nil
}
