package httpx

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the HTTP metrics of the parts that share one Prometheus registry: request latency by part,
// route, method and status class.
type Metrics struct {
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg, or reuses those already registered there (the all-in-one
// registers once per part in one registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "marquee_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by part, route, method and status class.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"part", "route", "method", "code"})
	return &Metrics{duration: Register(reg, h)}
}

// Register registers c with reg and returns it, or the equal collector already registered.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programming error: two different metrics under one name
	}
	return c
}

// Middleware observes every request of part. Every label has a bounded set of values, whatever clients
// send: the route label is the route's pattern (c.FullPath()), so that ids in paths do not make a series
// each, and requests matching no route count as "unmatched"; methods other than the standard ones count as
// "other"; statuses count by class.
func (m *Metrics) Middleware(part string) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		class := strconv.Itoa(c.Writer.Status()/100) + "xx"
		m.duration.WithLabelValues(part, route, methodLabel(c.Request.Method), class).Observe(time.Since(start).Seconds())
	}
}

// methodLabel is the method as a metric label: one of RFC 9110's methods (and PATCH), or "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	default:
		return "other"
	}
}

// MetricsHandler serves the metrics of g in the Prometheus text format.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// NewRegistry returns a registry with the Go runtime and process collectors, for one process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
