package gateway

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"marquee/pkg/config"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o := cfg.Options()
	if o.RateLimits.Off || o.RateLimits != DefaultRateLimits() {
		t.Fatalf("default rate limits %+v, want %+v on", o.RateLimits, DefaultRateLimits())
	}
	if o.withDefaults().RateLimits != (Options{}).withDefaults().RateLimits {
		t.Fatal("the zero Options and the default config disagree")
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{
		"MARQUEE_RATE_LIMIT":            "off",
		"MARQUEE_TRUSTED_PROXIES":       "10.0.0.0/8,192.168.1.1",
		"MARQUEE_CORS_ORIGINS":          "https://admin.example",
		"MARQUEE_RATE_ANONYMOUS":        "2.5",
		"MARQUEE_RATE_LOGIN_PER_MINUTE": "3",
		"MARQUEE_KEY_CACHE_TTL":         "30s",
		"MARQUEE_MAX_IMPORT_BYTES":      "1000000",
	}
	cfg := DefaultConfig()
	if err := config.Parse("gateway", nil, &cfg, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Fatal(err)
	}
	o := cfg.Options()
	if !o.RateLimits.Off {
		t.Error("MARQUEE_RATE_LIMIT=off left limits on")
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}; len(o.TrustedProxies) != 2 || o.TrustedProxies[0] != want[0] || o.TrustedProxies[1] != want[1] {
		t.Errorf("TrustedProxies = %v", o.TrustedProxies)
	}
	if len(o.CORSOrigins) != 1 || o.CORSOrigins[0] != "https://admin.example" {
		t.Errorf("CORSOrigins = %v", o.CORSOrigins)
	}
	if o.RateLimits.Anonymous.PerSecond != 2.5 || o.RateLimits.Login.PerSecond != 3.0/60 {
		t.Errorf("rates = %+v", o.RateLimits)
	}
	if o.KeyCacheTTL != 30*time.Second || o.MaxImportBytes != 1_000_000 {
		t.Errorf("KeyCacheTTL %v, MaxImportBytes %d", o.KeyCacheTTL, o.MaxImportBytes)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"rate_limit", func(c *Config) { c.RateLimit = "maybe" }, "rate_limit"},
		{"negative rate", func(c *Config) { c.RateUser = -1 }, "rate_user"},
		{"zero burst", func(c *Config) { c.RateLoginBurst = 0 }, "rate_login_burst"},
		{"proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted_proxies"},
		{"origin with a path", func(c *Config) { c.CORSOrigins = []string{"https://a.example/x"} }, "cors_origins"},
		{"wildcard origin", func(c *Config) { c.CORSOrigins = []string{"*"} }, "cors_origins"},
		{"query limit", func(c *Config) { c.MaxQueryBytes = 0 }, "max_query_bytes"},
		{"import limit", func(c *Config) { c.MaxImportBytes = 0 }, "max_import_bytes"},
		{"key cache", func(c *Config) { c.KeyCacheInactiveTTL = 0 }, "key_cache_inactive_ttl"},
		{"catalog url", func(c *Config) { c.CatalogURL = "catalog:8081" }, "catalog_url"},
		{"one shard", func(c *Config) { c.SearchShards = []string{"http://s0:8082"} }, "search_shards"},
		{"shard url", func(c *Config) { c.SearchShards = []string{"http://s0:8082", "s1:8082"} }, "search_shards"},
		{"cursors of many shards", func(c *Config) {
			c.SearchShards = nil
			for i := range 16 {
				c.SearchShards = append(c.SearchShards, fmt.Sprintf("http://s%d:8082", i))
			}
		}, "max_query_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error about %s", err, tc.want)
			}
		})
	}
}
