package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kios.dev/kios/dev/bench"
	"kios.dev/kios/internal/host/cli"
	"kios.dev/kios/internal/host/lab"
)

type writerLog struct{ w io.Writer }

func (l writerLog) Printf(f string, a ...any) { fmt.Fprintf(l.w, f+"\n", a...) }

func benchCommand() *cobra.Command {
	var (
		efi, out, archive, pods, baseRoot, fromRuns, only, probeArchive string
		boots, pairs, memory, floorFrom, floorStep, floorMin, floorPods int
		clusterMode, withBaseline, floor, noShutdown, sources           bool
		floorHold                                                       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "boot an image several times and report timeline, size, RAM",
		Long: `Boot an image several times and report its boot timeline, size and RAM
(boot.json); with --cluster, measure kios up instead; with --baseline,
compare kiOS with a conventional Debian node booted in turn in one lab;
with --floor, search each system's memory floor (docs/benchmark.md).`,
		Args: cli.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&efi, "efi", cli.DefaultOutput(), "EFI image to measure")
	f.IntVar(&boots, "boots", 3, "number of boots")
	f.StringVar(&out, "out", "out/bench", "directory for boot.json")
	f.BoolVar(&clusterMode, "cluster", false, "measure kios up instead: node registered, Ready, first Deployment pod")
	f.StringVar(&archive, "image", filepath.Join("out", "demo-image.tar"), "with --cluster: image archive for the Deployment")
	f.BoolVar(&withBaseline, "baseline", false, "compare with a conventional node (Debian, systemd) booted in turn in the same lab")
	f.IntVar(&pairs, "pairs", 5, "with --baseline: rounds, each one boot of kiOS on its disk, the baseline and kiOS RAM-only")
	f.StringVar(&pods, "pods", "10,50,100", "with --baseline: growth steps, pods on the node")
	f.IntVar(&memory, "memory", 4096, "with --baseline: VM memory (MiB)")
	f.StringVar(&baseRoot, "baseline-root", filepath.Join(cli.DefaultCache(), "baseline", "root"), "with --baseline: the Debian root (components/build.sh baseline)")
	f.StringVar(&fromRuns, "report-from", "", "with --baseline: only write the report again from a runs.json of an earlier comparison")
	f.BoolVar(&floor, "floor", false, "search each system's memory floor instead (make bench-floor): the smallest VM memory in which it reaches Ready and runs --floor-pods pause pods for --floor-hold without an OOM kill")
	f.IntVar(&floorFrom, "floor-from", 1024, "with --floor: the largest VM memory tried (MiB)")
	f.IntVar(&floorStep, "floor-step", 64, "with --floor: the grid's step (MiB)")
	f.IntVar(&floorMin, "floor-min", 256, "with --floor: the smallest VM memory tried (MiB)")
	f.IntVar(&floorPods, "floor-pods", 10, "with --floor: pause pods the node must run")
	f.DurationVar(&floorHold, "floor-hold", time.Minute, "with --floor: how long it must run them")
	f.StringVar(&only, "systems", "", "with --baseline: boot only these systems (comma-separated: kios, kios_ram_only, baseline)")
	f.BoolVar(&noShutdown, "no-shutdown", false, "with --baseline: leave the shutdown figure out")
	f.BoolVar(&sources, "config-sources", false, "measure boot to Ready of one stock EFI configured by each source (volume, url, metadata) against the same join baked in (make bench-config), --boots rounds")
	f.StringVar(&probeArchive, "probe", filepath.Join("out", "benchprobe.tar"), "with --baseline: the footprint probe's image archive")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		if boots < 1 {
			return fmt.Errorf("bench: --boots must be at least 1")
		}
		if sources {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rs, err := bench.Sources(ctx, bench.SourcesConfig{Out: out, Parts: cli.DefaultParts(), Cache: cli.DefaultCache(),
				Rounds: boots, MemoryMiB: 2048, Log: writerLog{stderr}})
			if err != nil {
				return err
			}
			for _, r := range rs {
				fmt.Fprintf(stdout, "%-9s Ready median %5.1f s (%+.1f s over baked) %v\n", r.Source, r.Median, r.OverBaked, r.Ready)
			}
			fmt.Fprintf(stdout, "bench: wrote %s/sources.md, sources.json\n", out)
			return nil
		}
		if floor {
			if floorStep < 1 || floorMin < 64 || floorFrom < floorMin || floorPods < 1 {
				return fmt.Errorf("bench: --floor needs --floor-step >= 1, --floor-min >= 64, --floor-from >= --floor-min and --floor-pods >= 1")
			}
			results, err := bench.Floor(bench.FloorConfig{ComparisonConfig: bench.ComparisonConfig{Out: out, Parts: cli.DefaultParts(), Cache: cli.DefaultCache(),
				BaselineRoot: baseRoot, ProbeArchive: probeArchive, Log: writerLog{stderr}},
				From: floorFrom, Step: floorStep, Min: floorMin, Pods: floorPods, Hold: floorHold})
			if err != nil {
				return err
			}
			for _, r := range results {
				fmt.Fprintf(stdout, "%-13s floor %d MiB (%d tries)\n", r.System, r.FloorMiB, len(r.Tries))
			}
			fmt.Fprintf(stdout, "bench: wrote %s/floor.md, floor.json\n", out)
			return nil
		}
		if withBaseline {
			steps, err := parsePods(pods)
			if err != nil {
				return err
			}
			if pairs < 1 {
				return fmt.Errorf("bench: --pairs must be at least 1")
			}
			if fromRuns != "" {
				rep, err := bench.ReportFrom(fromRuns, out)
				if err != nil {
					return err
				}
				rep.Markdown(stdout)
				return nil
			}
			cfg := bench.ComparisonConfig{Out: out, Parts: cli.DefaultParts(), Cache: cli.DefaultCache(),
				BaselineRoot: baseRoot, ProbeArchive: probeArchive, Rounds: pairs, Pods: steps, MemoryMiB: memory, NoShutdown: noShutdown, Log: writerLog{stderr}}
			if only != "" {
				cfg.Only = strings.Split(only, ",")
			}
			rep, err := bench.Comparison(cfg)
			if errors.Is(err, bench.ErrRunsOnly) {
				fmt.Fprintf(stdout, "bench: wrote %s/runs.json (%v)\n", out, err)
				return nil
			}
			if err != nil {
				return err
			}
			rep.Markdown(stdout)
			fmt.Fprintf(stdout, "\nbench: wrote %s/report.md, report.json, timeline.png, runs.json\n", out)
			return nil
		}
		if clusterMode {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			// RAM-only, as the recorded cluster figures were measured.
			c := lab.Config{Nodes: 1, Parts: cli.DefaultParts(), Cache: cli.DefaultCache(), RAMOnly: true}
			_, med, err := bench.Cluster(self, c, boots, archive, "localhost/kios/demo:v1", writerLog{stderr})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "kiOS cluster benchmark, %d boots, seconds from the node's QEMU start (median):\n", boots)
			for _, m := range med.Milestones() {
				fmt.Fprintf(stdout, "  %-22s %6.1f\n", m.Name, m.Seconds)
			}
			fmt.Fprintln(stdout, "target (TCG, 2 cores): Node Ready within 60 s of QEMU start")
			return nil
		}
		r, err := bench.Bench(efi, boots, writerLog{stderr})
		if err != nil {
			return err
		}
		r.Print(stdout)
		return r.Write(out)
	}
	return cmd
}

// parsePods parses "10,50,100".
func parsePods(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 105 {
			return nil, fmt.Errorf("bench: --pods %q: want counts from 1 to 105 (the kubelet runs at most 110 pods), comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}
