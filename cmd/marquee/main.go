// Command marquee is Marquee's one binary: `marquee serve` runs the whole service in one process (embedded
// NATS, SQLite and a Bleve index under one data folder); `marquee catalog|search|gateway` run one part each
// for the split deployment.
package main

import (
	"context"
	"io"

	"marquee/pkg/cmdx"
)

func main() { cmdx.Main("marquee", run) }

// run executes one marquee command. It reads no global state: arguments, environment and output streams
// come in as parameters, so tests run it exactly as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := newRootCommand(getenv, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
