package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// gatewayBase is the gateway's base URL a command calls, from --url as a person types it: a bare
// host:port means http://host:port, as it does to curl. Anything else that is not an http(s) URL of a host
// is refused with an example, not with the URL parser's words.
func gatewayBase(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--url %q is not the gateway's address: want http://host:port, e.g. http://127.0.0.1:8080", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// reachError says why a request to the gateway at base got no answer, in a person's words, and what to
// check; err stays inside for errors.Is.
func reachError(base string, err error) error {
	var dns *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return &reach{err, fmt.Sprintf("nothing answers at %s (connection refused): is Marquee running there? Point --url (or MARQUEE_URL) at its gateway", base)}
	case errors.As(err, &dns):
		return &reach{err, fmt.Sprintf("cannot find the host of %s (%s): check --url (or MARQUEE_URL)", base, dns.Err)}
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname):
		return &reach{err, fmt.Sprintf("the TLS certificate of %s is not one this machine trusts: %v", base, err)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &reach{err, fmt.Sprintf("%s did not answer in time: is it overloaded, or is --url (or MARQUEE_URL) another service's?", base)}
	}
	return &reach{err, fmt.Sprintf("cannot reach the gateway at %s: %v", base, err)}
}

// reach is an error that tells a person what went wrong, wrapping the error that says it for a program.
type reach struct {
	err error
	msg string
}

func (r *reach) Error() string { return r.msg }
func (r *reach) Unwrap() error { return r.err }
