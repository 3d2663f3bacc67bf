package gateway

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIPs finds the client address of a request: the peer's, unless the peer is a trusted proxy, in which
// case X-Forwarded-For is read from the right, skipping trusted proxies, to the first address that is not one.
type clientIPs struct{ trusted []netip.Prefix }

func (c clientIPs) of(r *http.Request) netip.Addr {
	return clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), c.trusted)
}

// maxForwardedHops bounds the work spent on a long X-Forwarded-For.
const maxForwardedHops = 32

// clientIP returns the client address given the peer address (host:port), the X-Forwarded-For values in order
// and the trusted proxies. The result is invalid only when the peer address is.
func clientIP(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(remoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) || len(forwardedFor) == 0 {
		return peer
	}
	addr := peer
	hops := 0
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		rest := forwardedFor[i]
		for {
			if hops++; hops > maxForwardedHops {
				return addr
			}
			var hop string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, hop = rest[:j], rest[j+1:]
			} else {
				rest, hop = "", rest
			}
			a := parseAddr(strings.TrimSpace(hop))
			switch {
			case !a.IsValid():
				return addr // the nearest address a trusted proxy vouched for
			case !isTrusted(a, trusted):
				return a
			}
			addr = a
			if rest == "" {
				break
			}
		}
	}
	return addr
}

// parseAddr reads "ip", "ip:port", "[ipv6]" or "[ipv6]:port", without zone, IPv4-mapped IPv6 as IPv4.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
