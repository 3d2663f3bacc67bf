package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"marquee/pkg/config"
)

// loadServeConfig loads the all-in-one's configuration from args, env and the file they name, as the serve
// command does.
func loadServeConfig(t *testing.T, args []string, env map[string]string) (serveConfig, error) {
	t.Helper()
	cfg := defaultServeConfig()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.Flags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, config.Load(fs, &cfg, func(k string) string { return env[k] })
}

// TestServeTakesPartSettings sets settings of each part in the all-in-one, by file, environment and flag,
// under the keys they have in split mode, and finds them in the configuration each part is built with.
func TestServeTakesPartSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "marquee.yaml")
	yaml := "rank_title: 7\ncache_bytes: 1234\nrate_anonymous: 3\noutbox_batch_size: 9\ngenre_synonyms: Kids=Family\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "file", args: []string{"--config", file}},
		{name: "environment", env: map[string]string{"MARQUEE_RANK_TITLE": "7", "MARQUEE_CACHE_BYTES": "1234", "MARQUEE_RATE_ANONYMOUS": "3",
			"MARQUEE_OUTBOX_BATCH_SIZE": "9", "MARQUEE_GENRE_SYNONYMS": "Kids=Family"}},
		{name: "flags", args: []string{"--rank-title", "7", "--cache-bytes", "1234", "--rate-anonymous", "3", "--outbox-batch-size", "9", "--genre-synonyms", "Kids=Family"},
			env: map[string]string{"MARQUEE_RANK_TITLE": "5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadServeConfig(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			srch, cat := cfg.searchConfig(), cfg.catalogConfig()
			gw, err := cfg.gatewayConfig()
			if err != nil {
				t.Fatal(err)
			}
			if srch.Rank.Title != 7 || srch.CacheBytes != 1234 {
				t.Errorf("search: rank_title %v, cache_bytes %d; want 7, 1234", srch.Rank.Title, srch.CacheBytes)
			}
			if gw.RateAnonymous != 3 || cat.OutboxBatchSize != 9 {
				t.Errorf("gateway rate_anonymous %v, catalog outbox_batch_size %d; want 3, 9", gw.RateAnonymous, cat.OutboxBatchSize)
			}
			if cat.GenreSynonyms != "Kids=Family" || srch.GenreSynonyms != "Kids=Family" {
				t.Errorf("genre_synonyms: catalog %q, search %q; want both Kids=Family", cat.GenreSynonyms, srch.GenreSynonyms)
			}
			if srch.Rank.Directors != 3 || srch.DataDir != filepath.Join("var", "search") {
				t.Errorf("search: rank_directors %v, data_dir %q; want the defaults", srch.Rank.Directors, srch.DataDir)
			}
		})
	}
}

// TestServeKeepsItsSettings holds the all-in-one's settings of before it took the parts' to their names and
// defaults: nothing an operator set stops working.
func TestServeKeepsItsSettings(t *testing.T) {
	cfg, err := loadServeConfig(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "addr=127.0.0.1:8080 admin_password= admin_username= cache_max_age=5s data_dir=./var genre_synonyms= index_shards=1 " +
		"log_level=info metrics_token= mysql_dsn= mysql_max_conns=10 rate_limit=on refresh_ttl=168h0m0s search_concurrency=0 " +
		"search_queue=0 seed=data/imdb.json token_ttl=15m0s trusted_proxies=[]"
	got := map[string]bool{}
	for _, kv := range strings.Fields(config.String(&cfg)) {
		got[kv] = true
	}
	for _, kv := range strings.Fields(want) {
		if !got[kv] {
			t.Errorf("serve's defaults lack %s", kv)
		}
	}
	cfg, err = loadServeConfig(t, []string{"--addr", "127.0.0.1:9", "--data-dir", "/d"},
		map[string]string{"MARQUEE_ADMIN_USERNAME": "admin", "MARQUEE_ADMIN_PASSWORD": "correct horse battery staple", "MARQUEE_MYSQL_MAX_CONNS": "4"})
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := cfg.gatewayConfig()
	if gw.Addr != "127.0.0.1:9" || cfg.catalogConfig().AdminPasswordFile != filepath.Join("/d", "admin-password") ||
		cfg.catalogConfig().AdminPassword != "correct horse battery staple" || cfg.MySQLMaxConns != 4 {
		t.Fatalf("addr %q, admin_password_file %q, mysql_max_conns %d", gw.Addr, cfg.catalogConfig().AdminPasswordFile, cfg.MySQLMaxConns)
	}
	if s := config.String(&cfg); strings.Contains(s, "horse") || !strings.Contains(s, "admin_password=***") {
		t.Fatalf("the start-up log shows a secret: %s", s)
	}
}

// TestServeHonoursSearchSettings runs `marquee serve` with search settings it used not to take and sees the
// search service get them: a ranking it refuses, by file, environment and flag; a result cache turned off
// and a ranking that relaxes no query, in the answers.
func TestServeHonoursSearchSettings(t *testing.T) {
	// The address is taken, so a serve that ignored the setting fails at once too (at listen), not later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(t.TempDir(), "marquee.yaml")
	if err := os.WriteFile(file, []byte("rank_title: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "file", args: []string{"--config", file}},
		{name: "environment", env: map[string]string{"MARQUEE_RANK_TITLE": "0"}},
		{name: "flag", args: []string{"--rank-title", "0"}},
	} {
		t.Run("rank_title by "+tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--addr", ln.Addr().String(), "--data-dir", t.TempDir(), "--seed", ""}, tc.args...)
			out, err := runCommand(t, tc.env, args...)
			if want := "invalid search config: invalid ranking: title must be above 0"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("marquee serve with rank_title 0 by %s: %v, want %q\n%s", tc.name, err, want, out)
			}
		})
	}

	t.Run("cache_bytes and rank_relax_below", func(t *testing.T) {
		seed, err := filepath.Abs("../../data/imdb.json")
		if err != nil {
			t.Fatal(err)
		}
		const metricsToken = "scraper-token-0123456789"
		file := filepath.Join(t.TempDir(), "marquee.yaml")
		if err := os.WriteFile(file, []byte("rank_relax_below: 0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"MARQUEE_CACHE_BYTES": "0", "MARQUEE_CONFIG": file, "MARQUEE_METRICS_TOKEN": metricsToken, "MARQUEE_RATE_LIMIT": "off"}
		m := startCommand(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--seed", seed)
		c := &client{t: t, base: addrOf(t, m.stdout, "serving on")}
		waitFor(t, "readiness", 60*time.Second, func() error {
			if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
				return fmt.Errorf("readyz %d", r.status)
			}
			return nil
		})
		if res := c.search("q=godfather"); res.Total == 0 {
			t.Fatal("godfather: no hits")
		}
		// Movies with some of the words join only below rank_relax_below movies with all of them: with 0,
		// never, so a word no movie has leaves no hits (by default the Godfathers match the other word).
		if res := c.search("q=godfather+qzxvk"); res.Total != 0 {
			t.Errorf("godfather qzxvk with rank_relax_below 0: %d hits, want none", res.Total)
		}
		c.search("q=godfather")
		metrics := c.must(200, "GET", "/metrics", nil, map[string]string{"Authorization": "Bearer " + metricsToken}).body
		lookups := regexp.MustCompile(`(?m)^marquee_search_cache_lookups_total\{result="(\w+)"\} (\S+)$`).FindAllSubmatch(metrics, -1)
		if len(lookups) == 0 {
			t.Fatalf("no marquee_search_cache_lookups_total in /metrics:\n%s", metrics)
		}
		for _, l := range lookups {
			if string(l[2]) != "0" {
				t.Errorf("cache lookups %s = %s with cache_bytes 0, want 0 (no cache)", l[1], l[2])
			}
		}
	})
}

// TestServeChecksEverySettingFirst: a part's bad setting stops marquee serve before anything starts, with
// the part's own message: no database is created in the data folder.
func TestServeChecksEverySettingFirst(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-body-bytes", "0"}, "invalid gateway config: max_body_bytes must be positive"},
		{[]string{"--rank-title", "0"}, "invalid search config: invalid ranking: title must be above 0"},
	} {
		dir := t.TempDir()
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--seed", ""}, tc.args...)
		out, err := runCommand(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("marquee %s: %v, want %q\n%s", strings.Join(args, " "), err, tc.want, out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("marquee %s left %d entries in the data folder; want none, as nothing started", strings.Join(args, " "), len(entries))
		}
	}
}
