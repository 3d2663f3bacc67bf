// Package gateway is Marquee's public face: it authenticates callers (access tokens and API keys), lets
// anonymous and user callers read and only admins write, limits how fast and how much each caller may ask,
// routes reads to search and writes to the catalog, and serves the OpenAPI document and the docs page. It
// holds no secret: tokens are checked against the catalog's public keys and API keys by asking the catalog.
//
// The backends are plain http.Handlers, so the all-in-one binary mounts the services in process and split
// mode puts reverse proxies in their place (see NewProxy).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/authn"
	"marquee/pkg/events"
	"marquee/pkg/httpx"
)

// Config configures the gateway of split mode.
type Config struct {
	Addr       string `key:"addr" usage:"address to listen on"`
	CatalogURL string `key:"catalog_url" usage:"base URL of the catalog service"`
	SearchURL  string `key:"search_url" usage:"base URL of the search service"`
	// SearchShards replaces SearchURL for the reads of a partitioned stream.
	SearchShards   []string `key:"search_shards" usage:"base URLs of the search services of a partitioned stream's partitions, in partition order from 0, separated by commas (each may be a load balancer of that partition's replicas): a movie is read from its partition's service, a search asked of every one and their answers merged, and a suggestion asked of one, each in turn, which draws it from every partition's movies; empty: search_url answers every read"`
	MaxBodyBytes   int64    `key:"max_body_bytes" usage:"largest request body accepted, in bytes (all routes but imports)"`
	MaxImportBytes int64    `key:"max_import_bytes" usage:"largest body accepted by POST /v1/imports, in bytes"`
	MaxQueryBytes  int      `key:"max_query_bytes" usage:"longest query string accepted, in bytes"`
	LogLevel       string   `key:"log_level" usage:"log level: debug, info, warn or error"`

	RateLimit          string  `key:"rate_limit" usage:"per-caller rate limits: on or off (off behind a proxy that limits already, or for load tests)"`
	RateAnonymous      float64 `key:"rate_anonymous" usage:"requests per second allowed to each anonymous client IP"`
	RateAnonymousBurst int     `key:"rate_anonymous_burst" usage:"burst allowed to each anonymous client IP"`
	RateUser           float64 `key:"rate_user" usage:"requests per second allowed to each user (token subject or API key)"`
	RateUserBurst      int     `key:"rate_user_burst" usage:"burst allowed to each user"`
	RateAdmin          float64 `key:"rate_admin" usage:"requests per second allowed to each admin (token subject or API key)"`
	RateAdminBurst     int     `key:"rate_admin_burst" usage:"burst allowed to each admin"`
	RateLoginPerMinute float64 `key:"rate_login_per_minute" usage:"POST /v1/auth/token requests per minute allowed to each client IP (and as many again to session renewals, POST /v1/auth/refresh)"`
	RateLoginBurst     int     `key:"rate_login_burst" usage:"POST /v1/auth/token burst allowed to each client IP (and as many again to session renewals)"`
	RateLimitEntries   int     `key:"rate_limit_entries" usage:"most callers tracked at once by the rate limiter"`

	TrustedProxies []string `key:"trusted_proxies" usage:"CIDRs of proxies whose X-Forwarded-For is believed (comma-separated)"`
	CORSOrigins    []string `key:"cors_origins" usage:"origins allowed to call write routes from a browser (comma-separated); reads allow any"`

	InternalToken string `key:"internal_token" secret:"true" usage:"secret (32 bytes or more) the services of a split deployment share: the gateway sends it with every request it forwards, and the internal endpoints of catalog and search answer only requests that carry it; empty: none"`
	MetricsToken  string `key:"metrics_token" secret:"true" usage:"bearer token that may read GET /metrics besides admins (for a Prometheus scraper); empty: admins only"`

	KeyCacheTTL         time.Duration `key:"key_cache_ttl" usage:"how long an API key the catalog vouched for is trusted without asking again"`
	KeyCacheInactiveTTL time.Duration `key:"key_cache_inactive_ttl" usage:"how long an unknown or revoked API key is remembered as such"`
}

// DefaultConfig returns the configuration of a gateway in front of local services.
func DefaultConfig() Config {
	rl := DefaultRateLimits()
	return Config{
		Addr:                "127.0.0.1:8080",
		CatalogURL:          "http://127.0.0.1:8081",
		SearchURL:           "http://127.0.0.1:8082",
		MaxBodyBytes:        1 << 20,
		MaxImportBytes:      64 << 20,
		MaxQueryBytes:       4 << 10,
		LogLevel:            "info",
		RateLimit:           "on",
		RateAnonymous:       rl.Anonymous.PerSecond,
		RateAnonymousBurst:  rl.Anonymous.Burst,
		RateUser:            rl.User.PerSecond,
		RateUserBurst:       rl.User.Burst,
		RateAdmin:           rl.Admin.PerSecond,
		RateAdminBurst:      rl.Admin.Burst,
		RateLoginPerMinute:  rl.Login.PerSecond * 60,
		RateLoginBurst:      rl.Login.Burst,
		RateLimitEntries:    rl.MaxEntries,
		KeyCacheTTL:         time.Second,
		KeyCacheInactiveTTL: 2 * time.Second,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.InternalToken != "" && len(c.InternalToken) < httpx.MinInternalToken {
		return fmt.Errorf("internal_token must be at least %d bytes", httpx.MinInternalToken)
	}
	for name, raw := range map[string]string{"catalog_url": c.CatalogURL, "search_url": c.SearchURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q must be an http(s) URL", name, raw)
		}
	}
	var errs []error
	if n := len(c.SearchShards); n == 1 || n > events.MaxPartitions {
		errs = append(errs, fmt.Errorf("search_shards names %d services: a partitioned stream has 2 to %d partitions", n, events.MaxPartitions))
	}
	if n := len(c.SearchShards); n > 0 && c.MaxQueryBytes < n*cursorBytesPerShard {
		// A merged cursor holds every shard's (a few hundred bytes each), and comes back in the query string.
		errs = append(errs, fmt.Errorf("max_query_bytes %d is too small for the cursors of %d search_shards: at least %d", c.MaxQueryBytes, n, n*cursorBytesPerShard))
	}
	for _, raw := range c.SearchShards {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("search_shards: %q must be an http(s) URL", raw))
		}
	}
	positive := func(name string, v float64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	positive("max_body_bytes", float64(c.MaxBodyBytes))
	positive("max_import_bytes", float64(c.MaxImportBytes))
	positive("max_query_bytes", float64(c.MaxQueryBytes))
	positive("rate_anonymous", c.RateAnonymous)
	positive("rate_anonymous_burst", float64(c.RateAnonymousBurst))
	positive("rate_user", c.RateUser)
	positive("rate_user_burst", float64(c.RateUserBurst))
	positive("rate_admin", c.RateAdmin)
	positive("rate_admin_burst", float64(c.RateAdminBurst))
	positive("rate_login_per_minute", c.RateLoginPerMinute)
	positive("rate_login_burst", float64(c.RateLoginBurst))
	positive("rate_limit_entries", float64(c.RateLimitEntries))
	positive("key_cache_ttl", float64(c.KeyCacheTTL))
	positive("key_cache_inactive_ttl", float64(c.KeyCacheInactiveTTL))
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		errs = append(errs, errors.New("metrics_token must be at least 16 characters"))
	}
	if c.RateLimit != "on" && c.RateLimit != "off" {
		errs = append(errs, fmt.Errorf("rate_limit %q must be on or off", c.RateLimit))
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted_proxies: %w", err))
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("cors_origins: %w", err))
		}
	}
	return errors.Join(errs...)
}

// cursorBytesPerShard is what a merged cursor takes of the query string for each shard: its cursor (a
// sort's values, the tiers' layout, a signature), base64-encoded in the merged one.
const cursorBytesPerShard = 512

// Options returns the handler options that c describes. c must be valid.
func (c *Config) Options() Options {
	proxies, _ := parsePrefixes(c.TrustedProxies) // checked by Validate
	return Options{
		MaxBodyBytes:   c.MaxBodyBytes,
		MaxImportBytes: c.MaxImportBytes,
		MaxQueryBytes:  c.MaxQueryBytes,
		RateLimits: RateLimits{
			Off:        c.RateLimit == "off",
			Anonymous:  Rate{PerSecond: c.RateAnonymous, Burst: c.RateAnonymousBurst},
			User:       Rate{PerSecond: c.RateUser, Burst: c.RateUserBurst},
			Admin:      Rate{PerSecond: c.RateAdmin, Burst: c.RateAdminBurst},
			Login:      Rate{PerSecond: c.RateLoginPerMinute / 60, Burst: c.RateLoginBurst},
			MaxEntries: c.RateLimitEntries,
		},
		TrustedProxies:      proxies,
		CORSOrigins:         c.CORSOrigins,
		KeyCacheTTL:         c.KeyCacheTTL,
		KeyCacheInactiveTTL: c.KeyCacheInactiveTTL,
		MetricsToken:        c.MetricsToken,
	}
}

// Backends are the services behind the gateway.
type Backends struct {
	Catalog http.Handler // owns writes, users, API keys and tokens
	Search  http.Handler // owns reads
}

// Options tune a gateway handler. The zero value means the defaults of DefaultConfig, rate limits on.
type Options struct {
	MaxBodyBytes   int64          // request body limit; 0 means 1 MiB
	MaxImportBytes int64          // body limit of POST /v1/imports; 0 means 64 MiB
	MaxQueryBytes  int            // query string limit; 0 means 4 KiB
	RateLimits     RateLimits     // zero fields take DefaultRateLimits' values
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For names the client
	CORSOrigins    []string       // origins allowed to call write routes from a browser

	KeyCacheTTL         time.Duration // how long an active API key is cached; 0 means 1s
	KeyCacheInactiveTTL time.Duration // how long an inactive API key is cached; 0 means 2s

	HTTPMetrics  *httpx.Metrics // observes every request; nil: not measured
	Metrics      http.Handler   // serves GET /metrics to operators (the all-in-one's shared registry); nil: 404
	MetricsToken string         // a bearer token that may read /metrics besides admins; "": admins only
	// ReadyWaitsForCatalog makes the first ready of GET /readyz wait for the catalog too, so that what the
	// catalog holds at start (the seed) is searchable then: the all-in-one sets it. Afterwards, and always
	// without it, the gateway is ready when search is.
	ReadyWaitsForCatalog bool

	now func() time.Time // the clock of rate limits and the key cache; tests set it
}

func (o Options) withDefaults() Options {
	d := DefaultConfig()
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.MaxImportBytes <= 0 {
		o.MaxImportBytes = d.MaxImportBytes
	}
	if o.MaxQueryBytes <= 0 {
		o.MaxQueryBytes = d.MaxQueryBytes
	}
	if o.KeyCacheTTL <= 0 {
		o.KeyCacheTTL = d.KeyCacheTTL
	}
	if o.KeyCacheInactiveTTL <= 0 {
		o.KeyCacheInactiveTTL = d.KeyCacheInactiveTTL
	}
	o.RateLimits = o.RateLimits.withDefaults()
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

// NewHandler returns the gateway's HTTP handler over b.
func NewHandler(log *slog.Logger, b Backends, o Options) http.Handler {
	o = o.withDefaults()
	keys := authn.NewRemoteKeys(func(ctx context.Context) (authn.JWKS, error) { return fetchJWKS(ctx, b.Catalog) }, jwksMinRefresh)
	auth := &authenticator{
		tokens: authn.NewVerifier(keys),
		keys:   newKeyChecker(b.Catalog, o.KeyCacheTTL, o.KeyCacheInactiveTTL, o.now),
	}
	e := newRouter(log, b, auth, o)
	return handler{Handler: gzipAnswers(httpx.ServeHEAD(e)), engine: e}
}

// handler is the gateway's http.Handler; Routes lists what it serves (HEAD is answered wherever GET is).
type handler struct {
	http.Handler
	engine *gin.Engine
}

// Routes returns the routes of the gateway's engine.
func (h handler) Routes() gin.RoutesInfo { return h.engine.Routes() }

// jwksMinRefresh spaces the fetches of the catalog's signing keys: a token naming a key not seen yet (one
// just rotated in) waits at most this long for it, and forged key ids cost the catalog one fetch per period.
const jwksMinRefresh = time.Second

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s) // a bare address is a one-address prefix
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an IP address", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkOrigin accepts a browser origin: scheme://host[:port], nothing more.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://example.com", o)
	}
	return nil
}
