package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kios.dev/kios/dev/conformance"
	"kios.dev/kios/dev/testimages"
	"kios.dev/kios/internal/host/cli"
	"kios.dev/kios/internal/host/lab"
)

func conformanceCommand() *cobra.Command {
	var (
		e2e, debs, busybox, pause, dir, kubeconfig, node, out, only, focus string
		procs                                                              int
		timeout                                                            time.Duration
		reportOnly                                                         bool
	)
	cache := cli.DefaultCache()
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "run the upstream [NodeConformance] tests against a lab or cluster (make conformance)",
		Long: `Run the upstream [NodeConformance] tests (e2e.test of the kubelet's own
Kubernetes module) against a kios up lab (--dir) or another cluster
(--kubeconfig), with test images built here; report in --out
(docs/conformance.md).`,
		Args: cli.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&e2e, "e2e", newest(cache, "e2e-v*"), "e2e.test and ginkgo (components/build.sh e2e)")
	f.StringVar(&debs, "debs", filepath.Join(cache, "e2e-debs"), "the test images' Debian packages (components/build.sh e2e-debs)")
	f.StringVar(&busybox, "busybox", filepath.Join(newest(cache, "busybox-*"), "busybox"), "busybox built from upstream's source for the test images (components/build.sh busybox)")
	f.StringVar(&pause, "pause", filepath.Join(filepath.Dir(cli.DefaultParts()), "bin", "pause"), "kiOS's pause program (make build)")
	f.StringVar(&dir, "dir", "", "a `kios up` lab to test: its kubeconfig, and its registry for the test images")
	f.StringVar(&kubeconfig, "kubeconfig", "", "any other cluster to test (its nodes pull the test images from their registries)")
	f.StringVar(&node, "node", "kios", "the node system under test, as the report names it")
	f.StringVar(&out, "out", filepath.Join("out", "conformance"), "report directory (report.md, junit.xml; a directory per node system); out/conformance-smoke with --focus")
	f.IntVar(&procs, "procs", 4, "parallel test processes of the first pass")
	f.DurationVar(&timeout, "timeout", 4*time.Hour, "the longest each pass may run; a pass that reaches it is interrupted and reports the tests it ran")
	f.StringVar(&only, "passes", "parallel,serial", "the passes to run, in order (parallel: 4 processes by default; serial: the [Serial] tests one at a time)")
	f.StringVar(&focus, "focus", "", "run only these tests (a ginkgo --focus regexp within the selection), in one pass: a smoke run")
	f.BoolVar(&reportOnly, "report-only", false, "run nothing: write report.md again from the results under --out (e.g. a recorded run beside a new one)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if focus != "" && !cmd.Flags().Changed("out") {
			// A few tests must not replace a full run's result, which the
			// report of out/conformance reads.
			out = filepath.Join("out", "conformance-smoke")
		}
		if reportOnly {
			if err := conformance.WriteReport(out, node); err != nil {
				return fmt.Errorf("conformance: %w", err)
			}
			fmt.Fprintf(stdout, "conformance: report %s\n", filepath.Join(out, "report.md"))
			return nil
		}
		if (dir == "") == (kubeconfig == "") {
			return errors.New("conformance: give --dir (a kios up lab) or --kubeconfig (another cluster), not both")
		}
		if _, err := os.Stat(filepath.Join(e2e, "e2e.test")); err != nil {
			return fmt.Errorf("conformance: no e2e.test in %q (components/build.sh e2e): %w", e2e, err)
		}
		kc := kubeconfig
		var images map[string]string
		if dir != "" {
			kc = filepath.Join(dir, lab.Kubeconfig)
			built, err := testimages.BuildAll(testimages.Inputs{E2E: e2e, Debs: debs, Pause: pause, Busybox: busybox}, filepath.Join(out, "images"))
			if err != nil {
				return fmt.Errorf("conformance: test images: %w", err)
			}
			images = map[string]string{}
			for _, b := range built {
				if err := lab.Load(dir, b.File, stdout); err != nil {
					return fmt.Errorf("conformance: %w", err)
				}
				images[b.Name] = b.Digest
			}
		}
		passes, err := conformance.Select(conformance.Passes(procs), strings.Split(only, ","))
		if err != nil {
			return fmt.Errorf("conformance: --passes: %w", err)
		}
		if focus != "" {
			p := passes[0]
			f := "(?:" + focus + ")"
			p.Name, p.Focus = "smoke", f+".*"+p.Focus+"|"+p.Focus+".*"+f
			passes = []conformance.Pass{p}
		}
		r, err := conformance.Run(context.Background(), conformance.Config{
			E2E: e2e, Kubeconfig: kc, Out: filepath.Join(out, node), Node: node, Passes: passes, Output: stdout, Timeout: timeout, Images: images,
		})
		if err != nil {
			return fmt.Errorf("conformance: %w", err)
		}
		if err := conformance.WriteReport(out, node); err != nil {
			return fmt.Errorf("conformance: %w", err)
		}
		fmt.Fprintf(stdout, "conformance: %s: %d passed, %d failed, %d skipped; report %s\n",
			r.Node, r.Count("passed"), r.Count("failed"), r.Count("skipped"), filepath.Join(out, "report.md"))
		if n := r.Count("failed"); n > 0 {
			return fmt.Errorf("conformance: %d test(s) failed on %s", n, r.Node)
		}
		return nil
	}
	return cmd
}

// newest is the last directory of the cache matching pattern, or the
// pattern's path when there is none (the error then names it).
func newest(cache, pattern string) string {
	m, _ := filepath.Glob(filepath.Join(cache, pattern))
	if len(m) == 0 {
		return filepath.Join(cache, pattern)
	}
	return m[len(m)-1]
}
