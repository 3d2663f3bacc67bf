package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	root.SetFlagErrorFunc(suggestFlag) // the commands under root inherit it
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
		newGenCommand(getenv, stdout, stderr),
		newEvalCommand(getenv, stdout),
		newVersionCommand(stdout),
	)
	return root
}

// unknownFlagRE finds the flag pflag did not know in its error.
var unknownFlagRE = regexp.MustCompile(`^unknown flag: --(\S+)$`)

// suggestFlag adds to an unknown flag's error the command's flags it is likely a typo of, as an unknown
// command's error does, and how to list them all.
func suggestFlag(cmd *cobra.Command, err error) error {
	m := unknownFlagRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	typed := m[1]
	var near []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (editDistance(typed, f.Name) <= max(1, len(typed)/4) || strings.HasPrefix(f.Name, typed)) {
			near = append(near, "--"+f.Name)
		}
	})
	msg := err.Error()
	if len(near) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
	}
	return fmt.Errorf("%s\n\nRun '%s --help' for its flags", msg, cmd.CommandPath())
}

// editDistance is the Levenshtein distance of a and b, by bytes (flag names are ASCII).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
