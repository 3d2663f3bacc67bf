package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

// handleHealthz handles "GET /healthz": the gateway process is alive.
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
}

// handleReadyz handles "GET /readyz": ready when the gateway can serve reads, that is when search is ready.
// The catalog's state is asked beside it, with a short deadline of its own, and a catalog that is not ready
// (its database restarting) or slow to say leaves the gateway in service, answering 200 with status
// "degraded" and why: only writes need the catalog (they answer 503 meanwhile), and taking the gateways out
// with it would stop the reads too. A part that says it is degraded (an index that lags, NATS away) is
// passed on the same way; a search that is not ready makes the answer 503, with why.
//
// With waitForCatalog (the all-in-one), the gateway's first ready also waits for the catalog: once the
// catalog says its changes are all published, search's answer covers them, so the seed is searchable when
// it first says ready.
func handleReadyz(b Backends, waitForCatalog bool) gin.HandlerFunc {
	var started atomic.Bool // the first ready was answered
	return func(c *gin.Context) {
		needCatalog := waitForCatalog && !started.Load()
		catalogWait := catalogReadyzWait
		if needCatalog {
			catalogWait = readyzWait
		}
		// At the first ready of the all-in-one, search is asked only once the catalog has said that its
		// changes are all published, and must hold them all (current): its readiness, once reached, stays.
		catalog := askReady(c.Request.Context(), b.Catalog, catalogWait)
		var search <-chan readyAnswer
		if !needCatalog {
			search = askReady(c.Request.Context(), b.Search, readyzWait)
		}
		var degraded []string
		for _, part := range []struct {
			name   string
			answer *<-chan readyAnswer
			wait   time.Duration
			needed bool
		}{{"catalog", &catalog, catalogWait, needCatalog}, {"search", &search, readyzWait, true}} {
			if *part.answer == nil {
				*part.answer = askReady(c.Request.Context(), b.Search, readyzWait)
			}
			var a readyAnswer
			select {
			case a = <-*part.answer:
			case <-time.After(part.wait):
				a.err = context.DeadlineExceeded
			}
			switch {
			case needCatalog && part.name == "search" && a.err == nil && a.status == http.StatusOK && a.Current != nil && !*a.Current:
				httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The search service is not ready: it is indexing the catalog's changes."))
				return
			case a.err == nil && a.status == http.StatusOK && a.Status == "degraded" && a.Detail != "":
				degraded = append(degraded, fmt.Sprintf("The %s service is degraded: %s", part.name, a.Detail))
			case a.err == nil && a.status == http.StatusOK:
			case errors.Is(a.err, context.DeadlineExceeded) && !part.needed:
				degraded = append(degraded, fmt.Sprintf("The %s service did not say within %s whether it is ready.", part.name, part.wait))
			case !part.needed && a.Detail != "":
				degraded = append(degraded, fmt.Sprintf("The %s service is not ready: %s", part.name, a.Detail))
			case !part.needed:
				degraded = append(degraded, fmt.Sprintf("The %s service is not ready.", part.name))
			case a.Detail != "":
				httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The %s service is not ready: %s", part.name, a.Detail))
				return
			default:
				httpx.Error(c, apperr.Errorf(apperr.Unavailable, "The %s service is not ready.", part.name))
				return
			}
		}
		started.Store(true)
		if len(degraded) > 0 {
			c.JSON(http.StatusOK, gin.H{"status": "degraded", "detail": strings.Join(degraded, " ")})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}

// readyzWait bounds how long /readyz waits for a part's answer; catalogReadyzWait bounds the catalog's
// once it no longer decides (a database that hangs must not hold every gateway's answer past its probe's
// timeout).
const (
	readyzWait        = 3 * time.Second
	catalogReadyzWait = 500 * time.Millisecond
)

// readyAnswer is what a part's /readyz said.
type readyAnswer struct {
	status  int
	err     error
	Status  string `json:"status"`
	Detail  string `json:"detail"`
	Current *bool  `json:"current"` // search's: whether its index holds everything the stream does
}

// askReady asks backend's /readyz in the background; the answer comes on the channel. A part that does not
// answer within wait is given up on (the call goes on until its own deadline, then its answer is dropped).
func askReady(ctx context.Context, backend http.Handler, wait time.Duration) <-chan readyAnswer {
	out := make(chan readyAnswer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
		defer cancel()
		status, body, err := call(ctx, backend, http.MethodGet, "/readyz", nil)
		if err == nil {
			err = ctx.Err() // a part that gave up at the deadline may have said nothing at all
		}
		a := readyAnswer{status: status, err: err}
		if err == nil {
			_ = json.Unmarshal(body, &a)
		}
		out <- a
	}()
	return out
}
