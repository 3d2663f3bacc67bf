package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

func (r *result) status() string {
	switch {
	case r.err != nil:
		return "ERROR"
	case !r.passed():
		return "FAIL"
	case len(r.misses) > 0:
		return "pass (goal missed)"
	default:
		return "pass"
	}
}

func (r *result) p50max() (string, string) {
	ds := r.convergeTimes()
	if len(ds) == 0 {
		return "-", "-"
	}
	return fmtDur(ds[(len(ds)-1)/2]), fmtDur(ds[len(ds)-1])
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

// printResult prints one scenario's figures as soon as it has run.
func printResult(w io.Writer, r *result) {
	v := &r.v
	p50, pmax := r.p50max()
	fmt.Fprintf(w, "\n== %s (goal %s): %s in %s\n", r.name, r.goal, r.status(), r.elapsed.Round(time.Second))
	if r.err != nil {
		fmt.Fprintf(w, "   error: %v\n", r.err)
	}
	fmt.Fprintf(w, "   runs %d, faults injected %d; writes attempted %d, acknowledged %d, refused %d, unknown %d\n",
		r.runs, r.faults, v.attempted, v.acked, v.failed, v.unknown)
	fmt.Fprintf(w, "   lost %d (MySQL %d, index %d), duplicated %d, resurrected %d, index ahead of MySQL %d\n",
		v.lost(), v.lostDB, v.lostIndex, v.duplicated, v.resurrected, v.ahead)
	conv := "did not converge"
	if v.converged {
		conv = "final " + fmtDur(v.converge)
	}
	fmt.Fprintf(w, "   time to converge p50 %s, max %s (%d cycles, %d over the probe timeout; %s)\n",
		p50, pmax, len(r.cycles), r.timeouts, conv)
	for _, f := range r.figures {
		fmt.Fprintf(w, "   - %s\n", f)
	}
	for _, m := range r.misses {
		fmt.Fprintf(w, "   goal missed: %s\n", m)
	}
	for _, g := range r.gaps {
		fmt.Fprintf(w, "   note: %s\n", g)
	}
	for _, f := range r.failures {
		fmt.Fprintf(w, "   FAILED: %s\n", f)
	}
	for _, p := range v.problems {
		fmt.Fprintf(w, "   evidence: %s\n", p)
	}
}

// markdown is the final table and the notes under it, ready for docs/reliability.md.
func markdown(rs []*result, what, profile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Fault-injection results (%s profile)\n\n", profile)
	fmt.Fprintf(&b, "Measured by `go run ./tools/faults` on %s, %d CPUs, %s; marquee from %s; MariaDB and nats-server from Debian.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), what)
	b.WriteString("| Scenario | Goal | Runs | Faults injected | Writes attempted | Acknowledged | Lost | Duplicated | Resurrected | Converge p50 | Converge max | Result |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var tot result
	for _, r := range rs {
		p50, pmax := r.p50max()
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n", r.name, r.goal, r.runs, r.faults,
			r.v.attempted, r.v.acked, r.v.lost(), r.v.duplicated, r.v.resurrected, p50, pmax, r.status())
		tot.runs += r.runs
		tot.faults += r.faults
		tot.v.attempted += r.v.attempted
		tot.v.acked += r.v.acked
		tot.v.lostDB += r.v.lost()
		tot.v.duplicated += r.v.duplicated
		tot.v.resurrected += r.v.resurrected
		tot.cycles = append(tot.cycles, r.convergeTimes()...)
	}
	tot.v.converged = false
	p50, pmax := tot.p50max()
	fmt.Fprintf(&b, "| **all** | | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n\n", tot.runs, tot.faults,
		tot.v.attempted, tot.v.acked, tot.v.lostDB, tot.v.duplicated, tot.v.resurrected, p50, pmax, overall(rs))
	b.WriteString("Lost: acknowledged writes (2xx) missing from MySQL, plus movies whose index state was still behind MySQL when the " +
		"deadline passed. Duplicated: extra movies for one create, effects beyond the writes sent, or two 2xx answers naming the " +
		"same version. Resurrected: deleted in MySQL, visible in search. Converge: from the end of each fault until every write " +
		"acknowledged before it is in the index, and from the end of the run until the whole index equals MySQL.\n\n")
	for _, r := range rs {
		if len(r.figures)+len(r.misses)+len(r.gaps)+len(r.failures) == 0 && r.err == nil {
			continue
		}
		fmt.Fprintf(&b, "- **%s**:", r.name)
		var parts []string
		if r.err != nil {
			parts = append(parts, "error: "+r.err.Error())
		}
		parts = append(parts, r.figures...)
		for _, m := range r.misses {
			parts = append(parts, "goal missed: "+m)
		}
		for _, g := range r.gaps {
			parts = append(parts, "note: "+g)
		}
		for _, f := range r.failures {
			parts = append(parts, "FAILED: "+f)
		}
		b.WriteString(" " + strings.Join(parts, "; ") + ".\n")
	}
	return b.String()
}

func overall(rs []*result) string {
	if allPassed(rs) {
		return "pass"
	}
	return "FAIL"
}
