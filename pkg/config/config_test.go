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
