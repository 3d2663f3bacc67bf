package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"marquee/pkg/config"
)

type testConfig struct {
	Addr     string        `key:"addr" usage:"listen address"`
	MySQLDSN string        `key:"mysql_dsn" usage:"MySQL DSN" secret:"true"`
	Workers  int           `key:"workers" usage:"worker count"`
	Wait     time.Duration `key:"wait" usage:"how long to wait"`
	Tags     []string      `key:"tags" usage:"tags"`
}

func load(t *testing.T, args []string, env map[string]string) (testConfig, error) {
	t.Helper()
	cfg := testConfig{Addr: "127.0.0.1:8080", Workers: 2, Wait: time.Second}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := config.Load(fs, &cfg, func(k string) string { return env[k] })
	return cfg, err
}

func TestLoadPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "marquee.yaml")
	if err := os.WriteFile(file, []byte("addr: file:1\nworkers: 7\nwait: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("defaults", func(t *testing.T) {
		cfg, err := load(t, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != "127.0.0.1:8080" || cfg.Workers != 2 || cfg.Wait != time.Second {
			t.Fatalf("got %+v", cfg)
		}
	})
	t.Run("file over defaults", func(t *testing.T) {
		cfg, err := load(t, []string{"--config", file}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != "file:1" || cfg.Workers != 7 || cfg.Wait != 3*time.Second {
			t.Fatalf("got %+v", cfg)
		}
	})
	t.Run("env over file", func(t *testing.T) {
		cfg, err := load(t, nil, map[string]string{"MARQUEE_CONFIG": file, "MARQUEE_ADDR": "env:2", "MARQUEE_MYSQL_DSN": "u@tcp(db)/x", "MARQUEE_TAGS": "a,b"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != "env:2" || cfg.Workers != 7 || cfg.MySQLDSN != "u@tcp(db)/x" || strings.Join(cfg.Tags, "|") != "a|b" {
			t.Fatalf("got %+v", cfg)
		}
	})
	t.Run("flags over env", func(t *testing.T) {
		cfg, err := load(t, []string{"--addr", "flag:3", "--workers=9"}, map[string]string{"MARQUEE_ADDR": "env:2", "MARQUEE_WORKERS": "5"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != "flag:3" || cfg.Workers != 9 {
			t.Fatalf("got %+v", cfg)
		}
	})
	t.Run("bad env value", func(t *testing.T) {
		if _, err := load(t, nil, map[string]string{"MARQUEE_WORKERS": "many"}); err == nil {
			t.Fatal("want an error for a non-numeric MARQUEE_WORKERS")
		}
	})
}

func TestStringMasksSecrets(t *testing.T) {
	cfg := testConfig{Addr: ":1", MySQLDSN: "root:hunter2@tcp(db)/x"}
	s := config.String(&cfg)
	if strings.Contains(s, "hunter2") || !strings.Contains(s, "mysql_dsn=***") || !strings.Contains(s, "addr=:1") {
		t.Fatalf("String() = %q", s)
	}
}

func TestParse(t *testing.T) {
	var out strings.Builder
	cfg := testConfig{Addr: "default"}
	if err := config.Parse("svc", []string{"--addr", "x:1"}, &cfg, func(string) string { return "" }, &out); err != nil || cfg.Addr != "x:1" {
		t.Fatalf("Parse = %v, addr %q", err, cfg.Addr)
	}
	if err := config.Parse("svc", []string{"stray"}, &cfg, func(string) string { return "" }, &out); err == nil || !strings.Contains(err.Error(), `unexpected argument "stray"`) {
		t.Fatalf("Parse with a positional argument = %v", err)
	}
	err := config.Parse("svc", []string{"--help"}, &cfg, func(string) string { return "" }, &out)
	if !errors.Is(err, pflag.ErrHelp) || !strings.Contains(out.String(), "--mysql-dsn") || !strings.Contains(out.String(), "MARQUEE_MYSQL_DSN") {
		t.Fatalf("--help = %v, usage:\n%s", err, out.String())
	}
}

// The parts of a whole, as a service's config and the all-in-one's that embeds it.
type rankPart struct {
	Title float64 `key:"title" usage:"boost of a word in the title"`
	Below int     `key:"below" usage:"fewer matches than this add typos"`
}

type searchPart struct {
	Addr       string   `key:"addr" usage:"search's listen address"`
	CacheBytes int64    `key:"cache_bytes" usage:"result cache size"`
	LogLevel   string   `key:"log_level" usage:"log level"`
	CursorKey  string   `key:"cursor_key" usage:"cursor signing key" secret:"true"`
	Rank       rankPart `prefix:"rank_"`
}

type catalogPart struct {
	Addr          string `key:"addr" usage:"catalog's listen address"`
	LogLevel      string `key:"log_level" usage:"log level"`
	AdminPassword string `key:"admin_password" usage:"admin password" secret:"true"`
}

type wholeConfig struct {
	DataDir string      `key:"data_dir" usage:"data folder"`
	Catalog catalogPart `prefix:"" omit:"addr"`
	Search  searchPart  `prefix:"" omit:"addr"`
}

func defaultSearchPart() searchPart {
	return searchPart{Addr: ":8082", CacheBytes: 100, LogLevel: "info", Rank: rankPart{Title: 3, Below: 20}}
}

func defaultWhole() wholeConfig {
	return wholeConfig{DataDir: "./var", Catalog: catalogPart{Addr: ":8081", LogLevel: "info"}, Search: defaultSearchPart()}
}

// loadInto parses args as the flags of cfg and loads it with env.
func loadInto(t *testing.T, cfg any, args []string, env map[string]string) error {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return config.Load(fs, cfg, func(k string) string { return env[k] })
}

func TestPartFlags(t *testing.T) {
	cfg := defaultWhole()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs, &cfg)
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if got, want := strings.Join(names, " "), "admin-password cache-bytes config cursor-key data-dir log-level rank-below rank-title"; got != want {
		t.Fatalf("flags %q, want %q (one a setting, the omitted addr left out)", got, want)
	}
	f := fs.Lookup("rank-title")
	if f.DefValue != "3" || f.Usage != "boost of a word in the title (env MARQUEE_RANK_TITLE)" {
		t.Fatalf("--rank-title: default %q, usage %q", f.DefValue, f.Usage)
	}
}

func TestLoadParts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "marquee.yaml")
	if err := os.WriteFile(file, []byte("rank_title: 4\ncache_bytes: 7\nlog_level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		title float64
		cache int64
		level string
	}{
		{name: "defaults", title: 3, cache: 100, level: "info"},
		{name: "file", args: []string{"--config", file}, title: 4, cache: 7, level: "debug"},
		{name: "env over file", env: map[string]string{"MARQUEE_CONFIG": file, "MARQUEE_RANK_TITLE": "5", "MARQUEE_ADDR": ":1"}, title: 5, cache: 7, level: "debug"},
		{name: "flags over env", args: []string{"--rank-title", "6", "--cache-bytes=8", "--log-level", "warn"}, env: map[string]string{"MARQUEE_RANK_TITLE": "5"}, title: 6, cache: 8, level: "warn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultWhole()
			if err := loadInto(t, &cfg, tc.args, tc.env); err != nil {
				t.Fatal(err)
			}
			if cfg.Search.Rank.Title != tc.title || cfg.Search.CacheBytes != tc.cache {
				t.Errorf("rank_title %v, cache_bytes %v; want %v, %v", cfg.Search.Rank.Title, cfg.Search.CacheBytes, tc.title, tc.cache)
			}
			if cfg.Catalog.LogLevel != tc.level || cfg.Search.LogLevel != tc.level {
				t.Errorf("log_level: catalog %q, search %q; want both %q", cfg.Catalog.LogLevel, cfg.Search.LogLevel, tc.level)
			}
			if cfg.Search.Rank.Below != 20 || cfg.DataDir != "./var" {
				t.Errorf("settings not set lost their defaults: %+v", cfg)
			}
			if cfg.Catalog.Addr != ":8081" || cfg.Search.Addr != ":8082" {
				t.Errorf("omitted addr settings: catalog %q, search %q; want the defaults", cfg.Catalog.Addr, cfg.Search.Addr)
			}
		})
	}
	t.Run("same keys as the part alone", func(t *testing.T) {
		cfg := defaultSearchPart()
		if err := loadInto(t, &cfg, []string{"--rank-below", "2"}, map[string]string{"MARQUEE_RANK_TITLE": "5", "MARQUEE_ADDR": ":9"}); err != nil {
			t.Fatal(err)
		}
		if cfg.Rank.Title != 5 || cfg.Rank.Below != 2 || cfg.Addr != ":9" {
			t.Fatalf("got %+v", cfg)
		}
	})
	t.Run("bad value names its key", func(t *testing.T) {
		cfg := defaultWhole()
		err := loadInto(t, &cfg, nil, map[string]string{"MARQUEE_RANK_BELOW": "many"})
		if err == nil || !strings.Contains(err.Error(), "'rank_below' cannot parse value as 'int'") {
			t.Fatalf("Load = %v", err)
		}
	})
}

func TestStringOfParts(t *testing.T) {
	cfg := defaultWhole()
	cfg.Catalog.AdminPassword, cfg.Search.CursorKey = "hunter2hunter2", "k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-"
	got := config.String(&cfg)
	want := "admin_password=*** cache_bytes=100 cursor_key=*** data_dir=./var log_level=info rank_below=20 rank_title=3"
	if got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestPartMistakesPanic(t *testing.T) {
	for name, cfg := range map[string]any{
		"shared key, two defaults": &struct {
			A catalogPart `prefix:""`
			B searchPart  `prefix:"" omit:"addr"`
		}{A: catalogPart{LogLevel: "info"}, B: searchPart{LogLevel: "debug"}},
		"omits a key it lacks": &struct {
			A catalogPart `prefix:"" omit:"adr"`
		}{},
		"prefix on a non-struct": &struct {
			A string `prefix:"a_"`
		}{},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			config.Flags(pflag.NewFlagSet("test", pflag.ContinueOnError), cfg)
		})
	}
}
