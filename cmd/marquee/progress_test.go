package main

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestImportBarFirstFrame: the first frame after a batch shows the rate the batch was sent at, not the
// rate of no time at all.
func TestImportBarFirstFrame(t *testing.T) {
	var out syncBuffer
	bar := moviesBar(&out, "importing", 100_000, true)
	time.Sleep(200 * time.Millisecond) // the first batch on its way
	_ = bar.Add(1000)
	m := regexp.MustCompile(`([0-9.]+) movies/s`).FindAllStringSubmatch(out.String(), -1)
	if len(m) == 0 {
		t.Fatalf("no rate drawn: %q", out.String())
	}
	rate, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil || rate > 1000/0.2*1.01 {
		t.Fatalf("first frame after 1,000 movies in 200 ms shows %v movies/s (%v); want 5,000 at most", m[len(m)-1][1], err)
	}
}

// TestTimeLeft: the time left follows the rate since the start, so a burst of progress moves it by what
// the burst changes of that rate, not by the burst's own rate.
func TestTimeLeft(t *testing.T) {
	for _, tc := range []struct {
		elapsed     time.Duration
		done, total uint64
		want        time.Duration
		ok          bool
	}{
		{time.Second, 500, 1000, 0, false}, // too early to tell
		{10 * time.Second, 0, 1000, 0, false},
		{10 * time.Second, 1000, 1000, 0, false},
		{10 * time.Second, 500, 1000, 10 * time.Second, true},
		{10 * time.Second, 100, 1000, 90 * time.Second, true},
		{11 * time.Second, 600, 1000, 7 * time.Second, true}, // a burst of 100 in a second: 7 s, not 4
		{30 * time.Second, 100, 1000, 270 * time.Second, true},
		{30 * time.Second, 7, 1000, 4260 * time.Second, true}, // 4,255.7 s, to ten seconds
	} {
		got, ok := timeLeft(tc.elapsed, tc.done, tc.total)
		if got != tc.want || ok != tc.ok {
			t.Errorf("timeLeft(%v, %d, %d) = %v, %v; want %v, %v", tc.elapsed, tc.done, tc.total, got, ok, tc.want, tc.ok)
		}
	}
}
