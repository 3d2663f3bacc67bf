package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

// NewProxy returns a backend that forwards to a service at base, answering 503 problem+json when the
// service cannot be reached.
func NewProxy(log *slog.Logger, name string, base *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(base)
			r.SetXForwarded()
		},
		Transport: &http.Transport{
			Proxy:               nil, // never route service-to-service traffic through an environment proxy
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
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
