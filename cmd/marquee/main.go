// Command marquee is Marquee's one binary: `marquee serve` runs the whole service in one process (embedded
// NATS, SQLite and a Bleve index under one data folder); `marquee catalog|search|gateway` run one part each
// for the split deployment.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "marquee:", err)
		os.Exit(1)
	}
}

// run executes one marquee command. It reads no global state: arguments, environment and output streams
// come in as parameters, so tests run it exactly as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := newRootCommand(getenv, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
