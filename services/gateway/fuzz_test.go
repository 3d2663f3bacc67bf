package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"", "Bearer abc.def.ghi", "bearer mq_abc", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer  x ",
		"Bearer a b", "Bearer mq_", "Bearer ====", "Bearer x\x00y", "Bearer \xff", "BEARER mq_" + strings.Repeat("a", 9000),
		"Bearer mq_" + strings.Repeat("A", 5000), "Bearer " + strings.Repeat("e", 6000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		kind, tok, err := parseAuthorization(h)
		if err != nil {
			if !apperr.Is(err, apperr.Unauthorized) || kind != noCredential || tok != "" {
				t.Fatalf("%q: error %v with kind %d token %q", h, err, kind, tok)
			}
			return
		}
		switch kind {
		case noCredential:
			if h != "" || tok != "" {
				t.Fatalf("%q: no credential, token %q", h, tok)
			}
		case apiKey, accessToken:
			if tok == "" || len(tok) > maxTokenBytes || !isToken68(tok) || !strings.Contains(h, tok) {
				t.Fatalf("%q: token %q", h, tok)
			}
			if (kind == apiKey) != strings.HasPrefix(tok, apiKeyPrefix) {
				t.Fatalf("%q: kind %d for token %q", h, kind, tok)
			}
		}
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:5000", "1.2.3.4, 10.0.0.2", "10.0.0.0/8")
	f.Add("[2001:db8::1]:80", "[2001:db8::2]:443,garbage", "2001:db8::/32")
	f.Add("", "", "")
	f.Add("10.0.0.1", ",,,", "10.0.0.1/32")
	f.Add("[fe80::1%eth0]:1", "::ffff:1.2.3.4", "::/0")
	f.Fuzz(func(t *testing.T, remote, xff, trusted string) {
		prefixes, err := parsePrefixes(strings.Split(trusted, ","))
		if err != nil {
			prefixes = nil
		}
		got := clientIP(remote, []string{xff}, prefixes)
		peer := parseAddr(remote)
		if !peer.IsValid() && got.IsValid() {
			t.Fatalf("an invalid peer %q gave %v", remote, got)
		}
		if peer.IsValid() && !got.IsValid() {
			t.Fatalf("a valid peer %q gave an invalid client", remote)
		}
		if !isTrusted(peer, prefixes) && got != peer {
			t.Fatalf("untrusted peer %v, but the client is %v", peer, got)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client %v is not normalised", got)
		}
	})
}

func FuzzRateKey(f *testing.F) {
	f.Add("ada", "user", false, "192.0.2.1", "POST", "/v1/auth/token")
	f.Add("key:7", "admin", true, "2001:db8::1", "GET", "/v1/movies")
	f.Add("", "", false, "", "GET", "")
	f.Add(strings.Repeat("x", 500), "admin", false, "::ffff:1.2.3.4", "DELETE", "/v1/movies/1")
	f.Fuzz(func(t *testing.T, subject, role string, viaKey bool, ip, method, path string) {
		cfg := DefaultRateLimits()
		addr, _ := netip.ParseAddr(ip)
		var who *caller
		if subject != "" {
			who = &caller{viaKey: viaKey}
			who.Subject, who.Role = subject, role
		}
		key, r := rateKey(cfg, who, addr, method, path)
		if key == "" || len(key) > 200 || r.PerSecond <= 0 || r.Burst <= 0 {
			t.Fatalf("rateKey = %q %+v", key, r)
		}
		// Anonymous keys and identity keys never collide.
		anonymousKey := !strings.HasPrefix(key, "sub|") && !strings.HasPrefix(key, "key|")
		if wantAnonymous := who == nil || (method == http.MethodPost && path == loginPath); anonymousKey != wantAnonymous {
			t.Fatalf("rateKey = %q for caller %+v", key, who)
		}
		if who != nil && role == "admin" && !(method == http.MethodPost && path == loginPath) && r != cfg.Admin {
			t.Fatalf("admin got %+v", r)
		}
	})
}

// FuzzGateway throws arbitrary requests at the gateway in front of well-behaved stand-ins: whatever comes
// in, the gateway never answers 5xx itself and every error is problem+json.
func FuzzGateway(f *testing.F) {
	f.Add("GET", "/v1/movies", "q=heat&genre=Drama", "", "", "")
	f.Add("POST", "/v1/movies", "", "Bearer mq_x", `{"title":"x"}`, "1.2.3.4")
	f.Add("PATCH", "/v1/movies/%zz", "a=%", "Bearer a.b.c", "\xff", "")
	f.Add("OPTIONS", "/v1/movies", "", "", "", "")
	f.Add("DELETE", "/v1/auth/introspect", strings.Repeat("q", 5000), "Basic x", "", ",,")
	fx := newFixture(f, Options{MaxBodyBytes: 1024, RateLimits: RateLimits{Off: true}})
	f.Fuzz(func(t *testing.T, method, path, query, authorization, body, forwarded string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path+query, " \r\n\t#") {
			return // not requests net/http would hand a handler
		}
		r, err := http.NewRequest(method, "http://gw"+path+"?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		if authorization != "" && validHeaderValue(authorization) {
			r.Header.Set("Authorization", authorization)
		}
		if forwarded != "" && validHeaderValue(forwarded) {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		r.Header.Set("Origin", "https://x.example")
		w := httptest.NewRecorder()
		fx.gw.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s: status %d %s", method, path, query, w.Code, w.Body)
		}
		if w.Code >= 400 && w.Header().Get("Content-Type") != httpx.ProblemContentType {
			t.Fatalf("%s %s: status %d without problem+json", method, path, w.Code)
		}
	})
}

func validMethod(m string) bool {
	if m == "" || m == "CONNECT" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 && v[i] != '\t' || v[i] == 0x7f {
			return false
		}
	}
	return true
}
