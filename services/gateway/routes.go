package gateway

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/pkg/shardwire"
	"marquee/services/gateway/web"
)

// access says who may call a route.
type access int

const (
	public   access = iota // anyone, anonymous included
	admin                  // admins only: checked here and again by the catalog
	operator               // admins, and callers with the metrics token
)

// route is one line of the gateway's routing table.
type route struct {
	method, path string
	access       access
	read         bool // a public read: browsers on any origin may GET it (see cors)
	bigBody      bool // takes the import body limit instead of the usual one
	confirm      bool // an admin route whose backend checks no credential: the catalog confirms tokens
	handler      func(s *services) gin.HandlerFunc
}

// services are what route handlers hand requests to.
type services struct {
	Backends
	web            http.Handler // the search page and its assets
	metrics        http.Handler // GET /metrics; nil: 404
	waitForCatalog bool         // the first ready waits for the catalog (Options.ReadyWaitsForCatalog)
}

func toSearch(s *services) gin.HandlerFunc  { return forwardRead(s.Search) }
func toCatalog(s *services) gin.HandlerFunc { return forward(s.Catalog) }
func toWeb(s *services) gin.HandlerFunc     { return forward(s.web) }

// toSearchAdmin forwards an admin operation to search (which has no credentials of its own to check).
func toSearchAdmin(s *services) gin.HandlerFunc { return forwardRead(s.Search) }

func toMetrics(s *services) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.metrics == nil {
			httpx.Error(c, apperr.Errorf(apperr.NotFound, "No metrics are served here."))
			return
		}
		s.metrics.ServeHTTP(c.Writer, c.Request)
	}
}

// routes is every operation the gateway answers. POST /v1/auth/introspect is deliberately absent: it is the
// catalog's internal API-key check, which only the gateway calls.
var routes = []route{
	{method: "GET", path: "/v1/movies", access: public, read: true, handler: toSearch},
	{method: "GET", path: "/v1/movies/:id", access: public, read: true, handler: toSearch},
	{method: "GET", path: "/v1/suggest", access: public, read: true, handler: toSearch},

	{method: "POST", path: "/v1/movies", access: admin, handler: toCatalog},
	{method: "PUT", path: "/v1/movies/:id", access: admin, handler: toCatalog},
	{method: "PATCH", path: "/v1/movies/:id", access: admin, handler: toCatalog},
	{method: "DELETE", path: "/v1/movies/:id", access: admin, handler: toCatalog},
	{method: "GET", path: "/v1/movies/:id/history", access: admin, handler: toCatalog},
	{method: "POST", path: "/v1/imports", access: admin, bigBody: true, handler: toCatalog},

	{method: "POST", path: "/v1/users", access: admin, handler: toCatalog},
	{method: "GET", path: "/v1/users", access: admin, handler: toCatalog},
	{method: "DELETE", path: "/v1/users/:username", access: admin, handler: toCatalog},
	{method: "POST", path: "/v1/keys", access: admin, handler: toCatalog},
	{method: "GET", path: "/v1/keys", access: admin, handler: toCatalog},
	{method: "DELETE", path: "/v1/keys/:id", access: admin, handler: toCatalog},

	{method: "POST", path: "/v1/auth/token", access: public, handler: toCatalog},
	{method: "POST", path: "/v1/auth/refresh", access: public, handler: toCatalog},
	{method: "POST", path: "/v1/auth/logout", access: public, handler: toCatalog},
	{method: "GET", path: "/v1/auth/jwks.json", access: public, read: true, handler: toCatalog},
	{method: "POST", path: "/v1/auth/rotate", access: admin, handler: toCatalog},

	{method: "POST", path: "/v1/admin/reconcile", access: admin, handler: toCatalog},
	{method: "POST", path: "/v1/index/rebuild", access: admin, confirm: true, handler: toSearchAdmin},
	{method: "GET", path: "/v1/index/rebuild", access: admin, confirm: true, handler: toSearchAdmin},

	{method: "GET", path: "/healthz", access: public, handler: func(*services) gin.HandlerFunc { return handleHealthz() }},
	{method: "GET", path: "/readyz", access: public, handler: func(s *services) gin.HandlerFunc { return handleReadyz(s.Backends, s.waitForCatalog) }},
	{method: "GET", path: "/openapi.json", access: public, read: true, handler: func(*services) gin.HandlerFunc { return handleOpenAPI() }},
	{method: "GET", path: "/docs", access: public, handler: func(*services) gin.HandlerFunc { return handleDocs() }},
	{method: "GET", path: metricsPath, access: operator, handler: toMetrics},

	{method: "GET", path: "/", access: public, handler: toWeb},
	{method: "GET", path: "/assets/*path", access: public, handler: toWeb},
}

// metricsPath serves the Prometheus metrics, to operators only.
const metricsPath = "/metrics"

// loginPath is the route limited per client IP more strictly than the rest, against password guessing.
const loginPath = "/v1/auth/token"

// sessionPaths renew a session with its cookie; they are limited per client IP at the login rate, in a
// bucket of their own so that renewals never use up an office's sign-ins. A sign-out is not among them: it
// only ends a session, and one refused for the rate would leave the cookie alive.
var sessionPaths = map[string]bool{"/v1/auth/refresh": true}

// newRouter builds the gateway. Every request passes, in order: CORS (which answers preflights), the query
// string limit, authentication, and the rate limit; then its route's body limit, the admin check where the
// route needs one, and the handler.
func newRouter(log *slog.Logger, b Backends, auth *authenticator, o Options) *gin.Engine {
	confirmed := confirm(auth)
	var mw []gin.HandlerFunc
	if o.HTTPMetrics != nil {
		mw = append(mw, o.HTTPMetrics.Middleware("gateway"))
	}
	e := httpx.NewEngine(log, mw...)
	s := &services{Backends: b, web: web.Handler(), metrics: o.Metrics, waitForCatalog: o.ReadyWaitsForCatalog}
	ips := clientIPs{trusted: o.TrustedProxies}
	limits := newLimiter(o.RateLimits, o.now)
	e.Use(cors(o.CORSOrigins), limitQuery(o.MaxQueryBytes), authenticate(auth, limits, ips, o.MetricsToken), rateLimit(limits, ips))
	e.Use(nameClient(ips))
	e.Use(cacheControl())
	for _, r := range routes {
		limit := o.MaxBodyBytes
		if r.bigBody {
			limit = o.MaxImportBytes
		}
		chain := []gin.HandlerFunc{limitBody(limit)}
		switch r.access {
		case admin:
			chain = append(chain, requireAdmin())
			if r.confirm {
				chain = append(chain, confirmed)
			}
		case operator:
			chain = append(chain, requireOperator())
		}
		e.Handle(r.method, r.path, append(chain, r.handler(s))...)
	}
	return e
}

// clientIPHeader tells the backends who the client is (as trusted proxies say), for the catalog's login
// throttling; a value sent by the client is replaced.
const clientIPHeader = "Marquee-Client-IP"

func nameClient(ips clientIPs) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Header.Set(clientIPHeader, ips.of(c.Request).String())
		c.Next()
	}
}

// forward hands the request to a backend as it is, credentials included (the session cookie too): the
// catalog checks them again.
func forward(backend http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) { backend.ServeHTTP(plainWriter{c.Writer}, c.Request) }
}

// forwardRead hands a read to a backend without the caller's credentials, which reads do not need, nor
// the headers by which the gateway asks a search shard for its part of a merge: a client that sent them
// (carrying the internal token the gateway adds) could ask for pages of any size.
func forwardRead(backend http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Header.Del("Authorization")
		c.Request.Header.Del(shardwire.Header)
		c.Request.Header.Del(shardwire.CountHeader)
		backend.ServeHTTP(plainWriter{c.Writer}, c.Request)
	}
}

// plainWriter hides gin's CloseNotify, which panics when the server's writer lacks it, from
// httputil.ReverseProxy; Unwrap keeps flushing and deadlines reachable through http.ResponseController.
type plainWriter struct{ http.ResponseWriter }

func (w plainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
