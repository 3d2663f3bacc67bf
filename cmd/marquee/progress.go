package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// showProgress reports whether a progress bar asked for (--progress) is drawn on w: only on a terminal, so
// that a log or a pipe gets the summary lines, not the frames of a bar.
func showProgress(asked bool, w io.Writer) bool { return asked && isTerminal(w) }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// moviesBar is a progress bar of total movies, described by what (generating, importing), drawn on w if
// visible. It is started at once: a bar starts its clock on its first frame, so one first drawn after the
// first batch of an import had come back showed that batch as sent in no time (hundreds of millions of
// movies a second).
func moviesBar(w io.Writer, what string, total int, visible bool) *progressbar.ProgressBar {
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("movies"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetVisibility(visible),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	_ = bar.RenderBlank()
	return bar
}

// timeLeft estimates how long the rest of total takes, done of it having taken elapsed, at the rate since
// the start, rounded to what a person reads (seconds, then ten seconds past a minute); false until there
// is a rate to go by (two seconds, something done).
func timeLeft(elapsed time.Duration, done, total uint64) (time.Duration, bool) {
	if elapsed < 2*time.Second || done == 0 || done >= total {
		return 0, false
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	if left > time.Minute {
		return left.Round(10 * time.Second), true
	}
	return left.Round(time.Second), true
}
