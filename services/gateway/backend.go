package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

// Timeouts of a proxy to a backend. A backend that accepts no connection, or answers nothing, holds the
// gateway's request (and its client) only this long before the client gets 503 with Retry-After.
const (
	dialTimeout = 2 * time.Second
	// SearchTimeout bounds a search backend's answer: searches take milliseconds, and a read that waits for
	// a version (min_version) waits at most its consistency_wait.
	SearchTimeout = 10 * time.Second
	// CatalogTimeout bounds a catalog backend's answer: an import answers once it has read and written its
	// whole body, under the gateway's own write timeout of 60 s.
	CatalogTimeout = 55 * time.Second
	// connMaxAge is how long the proxy keeps reusing its idle connections. A Service address (Kubernetes,
	// a load balancer) balances connections, not requests: kept alive for ever, they stay with the replicas
	// that were there first, and a replica added under load gets none of it.
	connMaxAge = 30 * time.Second
)

// NewProxy returns a backend that forwards to a service at base, answering 503 problem+json when the
// service cannot be reached or does not answer within timeout. Every request it forwards carries the
// deployment's internal token (none if empty), never one a client sent.
func NewProxy(log *slog.Logger, name string, base *url.URL, timeout time.Duration, internalToken string) http.Handler {
	return newProxy(log, name, base, timeout, connMaxAge, internalToken)
}

func newProxy(log *slog.Logger, name string, base *url.URL, timeout, maxAge time.Duration, internalToken string) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(base)
			proto := r.In.Header.Get("X-Forwarded-Proto")
			r.SetXForwarded()
			if strings.EqualFold(proto, "https") { // TLS ended at a proxy in front (Heroku's router): the catalog marks the session cookie Secure
				r.Out.Header.Set("X-Forwarded-Proto", "https")
			}
			r.Out.Header.Del(httpx.InternalTokenHeader)
			if internalToken != "" {
				r.Out.Header.Set(httpx.InternalTokenHeader, internalToken)
			}
		},
		Transport: &agedTransport{
			Transport: &http.Transport{
				Proxy:                 nil, // never route service-to-service traffic through an environment proxy
				DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
				ResponseHeaderTimeout: timeout,
				MaxIdleConnsPerHost:   256,
				IdleConnTimeout:       90 * time.Second,
				DisableCompression:    true,
			},
			maxAge: maxAge,
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("X-Content-Type-Options") // the gateway sets its own, once
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				httpx.WriteError(w, r, apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", tooLarge.Limit))
				return
			}
			if errors.Is(err, context.Canceled) {
				w.WriteHeader(httpx.StatusClientClosed) // the client went away: for the log and metrics only
				return
			}
			log.Warn("backend unreachable", "backend", name, "path", r.URL.Path, "err", err)
			httpx.WriteError(w, r, apperr.Errorf(apperr.Unavailable, "The %s service is unavailable; try again shortly.", name))
		},
	}
}

// agedTransport closes its idle connections every maxAge, so that the next requests open new ones, which
// the Service in front of the backends balances afresh. Connections busy at that moment are kept.
type agedTransport struct {
	*http.Transport
	maxAge time.Duration
	mu     sync.Mutex
	since  time.Time
}

func (t *agedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	now := time.Now()
	if t.since.IsZero() {
		t.since = now
	}
	old := now.Sub(t.since) >= t.maxAge
	if old {
		t.since = now
	}
	t.mu.Unlock()
	if old {
		t.CloseIdleConnections()
	}
	return t.Transport.RoundTrip(r)
}

// call makes an internal request to a backend and returns the status and body; a body is sent as JSON. It
// works the same for an in-process handler and for a proxy.
func call(ctx context.Context, backend http.Handler, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	backend.ServeHTTP(rec, req)
	return rec.status, rec.body.Bytes(), nil
}

func fetchJWKS(ctx context.Context, catalog http.Handler) (authn.JWKS, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status, body, err := call(ctx, catalog, http.MethodGet, "/v1/auth/jwks.json", nil)
	if err != nil {
		return authn.JWKS{}, err
	}
	if status != http.StatusOK {
		return authn.JWKS{}, fmt.Errorf("catalog answered %d for its signing keys", status)
	}
	var set authn.JWKS
	if err := json.Unmarshal(body, &set); err != nil {
		return authn.JWKS{}, fmt.Errorf("decode signing keys: %w", err)
	}
	return set, nil
}

// recorder is the minimal http.ResponseWriter that call needs.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
