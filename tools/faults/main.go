// Command faults is Marquee's fault-injection suite. It runs split mode on this machine as real processes
// (its own MariaDB and nats-server, and the catalog, search and gateway as marquee processes, all on free
// loopback ports), drives a recorded write workload through the gateway, injects faults (kill -9, SIGSTOP,
// SIGTERM, stopped servers, duplicated and reordered events, malformed events, If-Match races), lets the
// system converge and checks that nothing was lost: every acknowledged write is in MySQL and in the index at
// its final version, nothing is duplicated, no deleted movie comes back. It prints the figures of the
// fault-injection results in docs/reliability.md after each scenario and in a final table.
//
//	go run ./tools/faults                        # every scenario, full profile (about 10 minutes)
//	go run ./tools/faults -short                 # the short profile of every scenario
//	go run ./tools/faults -scenarios search-kill,chaos-delivery -cycles 5
//	go run ./tools/faults -out faults.md         # also write the final table as Markdown
//
// `go test ./tools/faults` runs the short profile of three scenarios.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		names    = fs.String("scenarios", "all", "comma-separated scenarios to run, or all (see -list)")
		list     = fs.Bool("list", false, "list the scenarios and exit")
		short    = fs.Bool("short", false, "run the short profile (what go test runs) instead of the full one")
		out      = fs.String("out", "", "also write the final table as Markdown to this file")
		marquee  = fs.String("marquee", "", "marquee binary to test (default: build ./cmd/marquee)")
		rev      = fs.String("rev", "", "git revision to build marquee from, in a temporary worktree (default: the working tree, or the newest commit that builds if it does not)")
		repo     = fs.String("repo", "", "repository root (default: the folder of go.work above the current one)")
		work     = fs.String("work", "", "folder for the clusters' data and logs (default: a new temporary folder)")
		keep     = fs.Bool("keep", false, "keep every scenario's folder (failed ones are always kept)")
		o        options
		probeMax time.Duration
	)
	fs.IntVar(&o.cycles, "cycles", 0, "fault cycles per scenario (0: the profile's)")
	fs.DurationVar(&o.load, "load", 0, "load between faults, or in all for chaos and malformed (0: the profile's)")
	fs.DurationVar(&o.outage, "outage", 0, "how long a paused or stopped server stays down (0: the profile's)")
	fs.IntVar(&o.writers, "writers", 0, "concurrent writers (0: the profile's)")
	fs.DurationVar(&probeMax, "probe-timeout", 60*time.Second, "longest wait for a cycle's writes to reach the index")
	fs.DurationVar(&o.convergeMax, "converge-timeout", 90*time.Second, "longest wait for the final index to equal MySQL")
	fs.BoolVar(&o.replica, "replica", true, "after each scenario, build a new search replica from the stream and compare it with MySQL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		for _, sc := range scenarios {
			fmt.Fprintf(stdout, "%-20s goal %-7s %s\n", sc.name, sc.goal, sc.about)
		}
		return nil
	}
	selected, err := pick(*names)
	if err != nil {
		return err
	}
	if missing := missingServers(); len(missing) > 0 {
		return fmt.Errorf("needs %s (apt-get install mariadb-server nats-server)", strings.Join(missing, ", "))
	}
	o.short, o.keep, o.probeTimeout = *short, *keep, probeMax
	o.logf = func(format string, args ...any) {
		fmt.Fprintf(stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	if o.workDir = *work; o.workDir == "" {
		if o.workDir, err = os.MkdirTemp("", "marquee-faults-"); err != nil {
			return err
		}
	}
	if *repo == "" {
		if *repo, err = repoRoot(); err != nil && *marquee == "" {
			return err
		}
	}
	built := *marquee
	what := "binary " + built
	if built == "" {
		built, what, err = buildMarquee(ctx, *repo, o.workDir, *rev, o.logf)
		if err != nil {
			return err
		}
	}
	o.marquee = built
	o.logf("testing marquee from %s; data and logs under %s", what, o.workDir)

	profile := "full"
	if o.short {
		profile = "short"
	}
	var results []*result
	for _, sc := range selected {
		if ctx.Err() != nil {
			break
		}
		o.logf("scenario %s (%s profile): %s", sc.name, profile, sc.about)
		r := runScenario(ctx, o, sc)
		results = append(results, r)
		printResult(stdout, r)
	}
	md := markdown(results, what, profile)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if !*keep && allPassed(results) {
		_ = os.RemoveAll(o.workDir)
	}
	if !allPassed(results) {
		return errors.New("some scenarios failed; see above")
	}
	return ctx.Err()
}

func allPassed(rs []*result) bool {
	for _, r := range rs {
		if !r.passed() {
			return false
		}
	}
	return true
}

// pick returns the named scenarios, in suite order.
func pick(names string) ([]scenario, error) {
	if names == "" || names == "all" {
		return scenarios, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []scenario
	for _, sc := range scenarios {
		if want[sc.name] {
			out = append(out, sc)
			delete(want, sc.name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		slices.Sort(unknown)
		return nil, fmt.Errorf("unknown scenarios %s (see -list)", strings.Join(unknown, ", "))
	}
	return out, nil
}

// repoRoot finds the folder of go.work at or above the current folder.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the current folder: give -repo or -marquee")
		}
		dir = parent
	}
}
