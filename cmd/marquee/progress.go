package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// showProgress reports whether a progress bar asked for (--progress) is drawn on w: only on a terminal, so
// that a log or a pipe gets the summary lines, not the frames of a bar.
func showProgress(asked bool, w io.Writer) bool {
	f, ok := w.(*os.File)
	return asked && ok && term.IsTerminal(int(f.Fd()))
}
