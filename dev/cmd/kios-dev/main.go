// Command kios-dev is kiOS's development command: the benchmarks, the
// upstream conformance suite, the single-binary images make builds, and
// the kios lab (up, load, down) with the benchmark's Debian node as a
// node system (--baseline). It lives in the dev module, so the user's
// kios links none of it.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"kios.dev/kios/dev/baseline"
	"kios.dev/kios/internal/host/cli"
	"kios.dev/kios/internal/host/lab"
)

func main() {
	// Before any command: lab-daemon, which kios-dev up starts as this
	// program again, boots it.
	lab.RegisterSystem(baseline.LabSystem, baseline.LabNodes)
	if err := cli.Execute(newRoot(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kios-dev:", err)
		os.Exit(1)
	}
}

// baselineFlag is up's --baseline: the lab's nodes are Debian nodes.
var baselineFlag = cli.SystemFlag{Name: baseline.LabSystem,
	Usage: "boot the benchmark's Debian node (components/build.sh baseline) instead of kiOS, to compare"}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "kios-dev",
		Short: "kiOS's development command: benchmarks, conformance, images for make, the lab with a Debian baseline",
		Long: `kios-dev is kiOS's development command: the benchmarks (make bench), the
upstream [NodeConformance] suite (make conformance), the single-binary
images make builds, and the kios lab, which here can boot the benchmark's
conventional Debian node instead of kiOS (up --baseline).`,
	}
	root.AddCommand(benchCommand(), conformanceCommand(), mkimageCommand())
	root.AddCommand(cli.LabCommands(baselineFlag)...)
	root.AddCommand(cli.VersionCommand())
	return root
}
