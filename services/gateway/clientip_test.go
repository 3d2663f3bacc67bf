package gateway

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := parsePrefixes([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.50"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string // "" for invalid
	}{
		{"peer", "198.51.100.1:5000", nil, trusted, "198.51.100.1"},
		{"untrusted peer's header is ignored", "198.51.100.1:5000", []string{"1.2.3.4"}, trusted, "198.51.100.1"},
		{"no trusted proxies", "10.0.0.1:5000", []string{"1.2.3.4"}, nil, "10.0.0.1"},
		{"trusted proxy", "10.0.0.1:5000", []string{"1.2.3.4"}, trusted, "1.2.3.4"},
		{"spoofed left entries are skipped", "10.0.0.1:5000", []string{"6.6.6.6, 1.2.3.4"}, trusted, "1.2.3.4"},
		{"chain of trusted proxies", "10.0.0.1:5000", []string{"1.2.3.4, 10.9.9.9", "192.0.2.50"}, trusted, "1.2.3.4"},
		{"all trusted: the leftmost", "10.0.0.1:5000", []string{"10.1.1.1, 10.2.2.2"}, trusted, "10.1.1.1"},
		{"garbage stops the walk", "10.0.0.1:5000", []string{"1.2.3.4, nonsense, 10.2.2.2"}, trusted, "10.2.2.2"},
		{"empty header", "10.0.0.1:5000", []string{""}, trusted, "10.0.0.1"},
		{"ports and brackets", "10.0.0.1:5000", []string{"[2001:db8::1]:443"}, trusted, "2001:db8::1"},
		{"ipv4 with port", "10.0.0.1:5000", []string{"1.2.3.4:80"}, trusted, "1.2.3.4"},
		{"mapped", "[::ffff:10.0.0.1]:5000", []string{"::ffff:1.2.3.4"}, trusted, "1.2.3.4"},
		{"ipv6 trusted proxy", "[2001:db8:ffff::9]:5000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"zone dropped", "[fe80::1%eth0]:5000", nil, trusted, "fe80::1"},
		{"bare peer address", "198.51.100.1", nil, trusted, "198.51.100.1"},
		{"invalid peer", "", []string{"1.2.3.4"}, trusted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clientIP(tc.remote, tc.xff, tc.trusted)
			if tc.want == "" {
				if got.IsValid() {
					t.Fatalf("clientIP = %v, want invalid", got)
				}
				return
			}
			if got.String() != tc.want {
				t.Fatalf("clientIP = %v, want %s", got, tc.want)
			}
		})
	}
}

func TestTrustedProxiesRateLimitTheClient(t *testing.T) {
	o := smallLimits
	o.TrustedProxies, _ = parsePrefixes([]string{"10.0.0.0/8"})
	f := newFixture(t, o)
	for i, client := range []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"} {
		// Each client behind the proxy has its own allowance of 3.
		for range 3 {
			if w := f.from(t, "10.0.0.1", "GET", "/v1/movies", "", "X-Forwarded-For", client); w.Code != 200 {
				t.Fatalf("client %d: status %d", i, w.Code)
			}
		}
		if w := f.from(t, "10.0.0.1", "GET", "/v1/movies", "", "X-Forwarded-For", client); w.Code != 429 {
			t.Fatalf("client %d: status %d, want 429", i, w.Code)
		}
	}
}
