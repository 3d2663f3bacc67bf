package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newRootCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "marquee",
		Short: "Marquee: a movie catalog with first-class search",
		Long: `Marquee is a movie catalog with first-class search.

Run everything in one process with "marquee serve", or the parts of the split
deployment with "marquee catalog", "marquee search" and "marquee gateway".
Every flag can also be set as an environment variable (MARQUEE_<FLAG>, dashes
as underscores) or in a config file (--config).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCommand(getenv, stdout, stderr),
		newCatalogCommand(getenv, stdout, stderr),
		newSearchCommand(getenv, stderr),
		newGatewayCommand(getenv, stderr),
		newImportCommand(getenv, stdout, stderr),
		newUserCommand(getenv, stdout),
		newMigrateCommand(getenv, stdout),
		newReindexCommand(getenv, stdout, stderr),
		newReconcileCommand(getenv, stdout),
		newGenCommand(getenv, stdout),
		newEvalCommand(getenv, stdout),
		newVersionCommand(stdout),
	)
	return root
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			version, goVersion := "(devel)", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				version, goVersion = bi.Main.Version, bi.GoVersion
			}
			_, err := fmt.Fprintf(stdout, "marquee %s %s\n", version, goVersion)
			return err
		},
	}
}
