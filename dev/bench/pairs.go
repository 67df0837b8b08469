// This file is the comparison's loop: the systems booted in turn,
// round after round, and the sequence of measurements of one boot.

package bench

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/lab"
)

// Images the comparison's pods run, pushed to the lab registry.
const (
	PauseImage = "localhost/kios/pause:v1"
	ProbeImage = "localhost/kios/benchprobe:v1"
)

// PairsConfig is one comparison run.
type PairsConfig struct {
	Rounds    int   // boots of each system, one of each per round, in turn
	Pods      []int // growth steps (e.g. 10, 50, 100)
	MemoryMiB int
	Consoles  string // where each boot's console is kept
	// NoShutdown leaves the shutdown figure out (ComparisonConfig).
	NoShutdown bool
	Log        Logger
}

// RunRounds boots the systems in turn, c.Rounds times each, and
// measures every boot the same way.
// Cancelling ctx stops the boot under way (its VM is stopped).
func RunRounds(ctx context.Context, env *lab.Env, systems []System, c PairsConfig) ([]compare.Run, error) {
	l, err := newLab(env)
	if err != nil {
		return nil, err
	}
	var runs []compare.Run
	for i := 1; i <= c.Rounds; i++ {
		for _, s := range systems {
			figs, err := l.boot(ctx, s, i, c)
			if err != nil {
				return runs, fmt.Errorf("%s boot %d: %w", s.Name, i, err)
			}
			c.Log.Printf("bench: %d/%d %-13s %s", i, c.Rounds, s.Name, summary(figs, c.Pods))
			runs = append(runs, compare.Run{System: s.Name, Figures: figs})
		}
	}
	return runs, nil
}

func summary(f compare.Figures, pods []int) string {
	s := fmt.Sprintf("kernel %.1fs, PID 1 %.1fs, containerd %.1fs, kubelet %.1fs, lease %.1fs, registered %.1fs, Ready %.1fs, first pod %.1fs; RAM %.0f MiB, %.0f processes, %.0f executables",
		f[compare.KernelStart], f[compare.PID1Start], f[compare.ContainerdReady], f[compare.KubeletStarted], f[compare.DHCPLease], f[compare.NodeRegistered],
		f[compare.NodeReady], f[compare.FirstPodRunning], f[compare.RAMUsed], f[compare.HostProcesses], f[compare.Executables])
	for _, n := range pods {
		s += fmt.Sprintf("; %d pods %.1fs %.0f MiB", n, f[compare.PodsRunning(n)], f[compare.PodsRAMUsed(n)])
	}
	return s + fmt.Sprintf("; shutdown %.1fs", f[compare.Shutdown])
}

// boot is round i's boot of s and its figures: the timeline to Ready
// and a first pod, the footprint at rest, the growth steps, the
// shutdown.
func (l *labBoots) boot(ctx context.Context, s System, i int, c PairsConfig) (compare.Figures, error) {
	v, stop, err := l.start(s, c.MemoryMiB, filepath.Join(c.Consoles, fmt.Sprintf("%s-%d.console", s.Name, i)))
	if err != nil {
		return nil, err
	}
	defer stop()
	figs := compare.Figures{compare.ImageSize: s.ImageMiB}
	ctx, cancel := context.WithTimeout(ctx, 45*time.Minute)
	defer cancel()
	since := func() float64 { return time.Since(v.Started()).Seconds() }

	registered, ready, err := l.waitReady(ctx, v, s.NodeName, since)
	if err != nil {
		return nil, err
	}
	figs[compare.NodeRegistered], figs[compare.NodeReady] = registered, ready
	if err := l.firstPod(ctx, figs, since); err != nil {
		return nil, err
	}
	for k, t := range consoleFigures(s, v.Lines()) {
		figs[k] = t
	}
	hw, _ := net.ParseMAC(labMAC)
	lease, ok := l.env.Lab.FirstLease(hw, v.Started())
	if !ok {
		return nil, fmt.Errorf("the lab's DHCP server never acknowledged a lease to %s, yet the node is Ready", labMAC)
	}
	figs[compare.DHCPLease] = lease.Sub(v.Started()).Seconds()
	for k := range s.Console {
		if _, ok := figs[k]; ok {
			continue
		}
		if !s.ConsoleBestEffort {
			return nil, fmt.Errorf("console never showed %s (%s)", k, s.Console[k])
		}
		c.Log.Printf("bench: %s boot %d: the console never showed %s (%s); this boot has no such figure", s.Name, i, k, s.Console[k])
	}
	if err := l.startProbe(ctx); err != nil {
		return nil, err
	}
	l.saveNodeLogs(ctx, s.NodeName, filepath.Join(c.Consoles, fmt.Sprintf("%s-%d", s.Name, i)))
	if s.Settled != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, at, err := v.WaitEvent(sctx, s.Settled, 0)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("the boot's own work never ended: %w", err)
		}
		figs[compare.BootSettled] = v.Lines()[at].At.Seconds()
	}
	f, err := l.footprint(ctx, true)
	if err != nil {
		return nil, err
	}
	addFootprint(figs, f)
	if err := l.addExecTimes(ctx, figs); err != nil {
		return nil, err
	}
	for _, n := range c.Pods {
		secs, err := l.grow(ctx, n)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			// A node that cannot run n pods in the step's time (its
			// sandboxes time out and are retried) is a result, not a
			// failure of the run: the step and the larger ones have no
			// figure for this boot.
			c.Log.Printf("bench: %s boot %d: %d pods: %v; no figure for this step or larger ones", s.Name, i, n, err)
			break
		}
		figs[compare.PodsRunning(n)] = secs
		f, err := l.footprint(ctx, false)
		if err != nil {
			return nil, err
		}
		figs[compare.PodsRAMUsed(n)] = f.UsedMiB()
		addCPU(figs, n, f)
	}
	addPerPod(figs, c.Pods)
	if len(c.Pods) > 0 {
		// The logs of the growth steps, where a slow step is explained.
		if log := l.saveNodeLogs(ctx, s.NodeName, filepath.Join(c.Consoles, fmt.Sprintf("%s-%d-pods", s.Name, i))); log != nil {
			addCallTimes(figs, log)
		}
	}
	if err := l.deleteAndWait(ctx, growthName); err != nil {
		return nil, err
	}
	if c.NoShutdown {
		return figs, nil
	}
	// The growth pods are gone from the API before the node has torn
	// them down; the shutdown is measured on a node back at rest. A node
	// that does not get there (a baseline node can stay busy for many
	// minutes after 100 pods; see docs/benchmark.md) keeps its other
	// figures and has no shutdown figure.
	if err := l.quiesce(ctx, f); err != nil {
		c.Log.Printf("bench: %s boot %d: no shutdown figure: %v", s.Name, i, err)
		return figs, nil
	}
	secs, err := l.shutdown(ctx, v)
	if err != nil {
		return nil, err
	}
	figs[compare.Shutdown] = secs
	return figs, nil
}

// addPerPod adds what a pod costs at the largest growth step n: the
// node's RAM in use with n pods divided by n (PodsRAMPerPod), and the
// growth over the node at rest divided by n (PodsRAMAddedPerPod), which
// leaves the node's own share out.
func addPerPod(figs compare.Figures, pods []int) {
	n := 0
	for _, p := range pods {
		n = max(n, p)
	}
	used, ok := figs[compare.PodsRAMUsed(n)]
	if n == 0 || !ok {
		return
	}
	figs[compare.PodsRAMPerPod(n)] = used / float64(n)
	if rest, ok := figs[compare.RAMUsed]; ok {
		figs[compare.PodsRAMAddedPerPod(n)] = (used - rest) / float64(n)
	}
}
