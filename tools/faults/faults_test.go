package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestShortProfile runs the short profile of a few scenarios (about two minutes) on real MariaDB, nats-server
// and marquee processes. It runs with or without -short: the profile is already short.
func TestShortProfile(t *testing.T) {
	if missing := missingServers(); len(missing) > 0 {
		msg := "the fault-injection suite needs " + strings.Join(missing, ", ") + " (Debian packages mariadb-server and nats-server)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must run it")
		}
		t.Skip(msg + "; skipped")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "marquee-faults-test-")
	if err != nil {
		t.Fatal(err)
	}
	bin, what, err := buildMarquee(ctx, repo, dir, "", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("testing marquee from %s; data and logs under %s", what, dir)
	o := options{marquee: bin, workDir: dir, short: true, probeTimeout: 30 * time.Second,
		convergeMax: 60 * time.Second, replica: true, logf: t.Logf}
	selected, err := pick(strings.Join(shortSet, ","))
	if err != nil {
		t.Fatal(err)
	}
	var results []*result
	for _, sc := range selected {
		t.Run(sc.name, func(t *testing.T) {
			r := runScenario(ctx, o, sc)
			results = append(results, r)
			var buf bytes.Buffer
			printResult(&buf, r)
			t.Log(buf.String())
			if !r.passed() {
				t.Errorf("%s: %s (evidence in %s)", sc.name, r.status(), dir)
			}
		})
	}
	t.Log("\n" + markdown(results, what, "short"))
	if allPassed(results) {
		_ = os.RemoveAll(dir)
	}
}
