package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kios.dev/kios/internal/host/kube"
	"kios.dev/kios/internal/host/vm"
)

// FloorConfig is `kios-dev bench --floor` (make bench-floor): the smallest
// VM memory, on a grid of Step MiB down from From, at which each system
// reaches Ready and then runs Pods pause pods for Hold without an OOM
// kill.
type FloorConfig struct {
	ComparisonConfig
	From, Step, Min int // MiB
	Pods            int
	Hold            time.Duration
}

// FloorTry is one boot of the search.
type FloorTry struct {
	MemoryMiB int     `json:"memory_mib"`
	OK        bool    `json:"ok"`
	Why       string  `json:"why,omitempty"` // what failed
	Seconds   float64 `json:"seconds"`       // the try, boot to verdict
}

// FloorResult is one system's search.
type FloorResult struct {
	System   string     `json:"system"`
	FloorMiB int        `json:"floor_mib"` // 0: not even From was enough
	Tries    []FloorTry `json:"tries"`
}

// Grid is the memory sizes tried, From down to Min in Step steps.
func (c FloorConfig) Grid() []int {
	var g []int
	for m := c.From; m >= c.Min && c.Step > 0; m -= c.Step {
		g = append(g, m)
	}
	return g
}

// SearchFloor returns the smallest size of grid (in descending order)
// for which fits holds, trying as few as it can: it assumes a node that
// fits in some memory fits in more, so it bisects between the largest
// size that failed and the smallest that passed. 0 means none passed.
func SearchFloor(grid []int, fits func(mib int) bool) int {
	if len(grid) == 0 || !fits(grid[0]) {
		return 0
	}
	lo, hi := 0, len(grid) // grid[lo] passed; grid[hi] failed (or is past the end)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(grid[mid]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return grid[lo]
}

// Floor searches each system's memory floor in one lab and writes
// floor.json and floor.md to c.Out.
func Floor(c FloorConfig) ([]FloorResult, error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	env, systems, err := startLab(ctx, c.ComparisonConfig)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	l, err := newLab(env)
	if err != nil {
		return nil, err
	}
	var results []FloorResult
	for _, s := range systems {
		r := FloorResult{System: s.Name}
		var tryErr error
		r.FloorMiB = SearchFloor(c.Grid(), func(mib int) bool {
			if tryErr != nil {
				return false
			}
			start := time.Now()
			why, err := l.fitsIn(ctx, s, mib, c)
			if err != nil {
				tryErr = err
				return false
			}
			t := FloorTry{MemoryMiB: mib, OK: why == "", Why: why, Seconds: time.Since(start).Seconds()}
			c.Log.Printf("bench-floor: %-13s %4d MiB: %s", s.Name, mib, map[bool]string{true: "fits", false: "does not fit: " + why}[t.OK])
			r.Tries = append(r.Tries, t)
			return t.OK
		})
		if tryErr != nil {
			return results, fmt.Errorf("%s: %w", s.Name, tryErr)
		}
		results = append(results, r)
		if err := writeJSON(filepath.Join(c.Out, "floor.json"), results); err != nil {
			return results, err
		}
	}
	return results, writeFloor(filepath.Join(c.Out, "floor.md"), c, results)
}

// oomLine is what the kernel prints when it kills for memory, or stalls.
var oomLine = regexp.MustCompile(`Killed process \d+|Out of memory|oom-kill|soft lockup`)

// fitsIn boots s in mib of memory and says why it does not fit ("" when
// it does). An error is a failure of the lab, not of the node.
func (l *labBoots) fitsIn(ctx context.Context, s System, mib int, c FloorConfig) (string, error) {
	v, stop, err := l.start(s, mib, filepath.Join(c.Out, "floor-consoles", fmt.Sprintf("%s-%d.console", s.Name, mib)))
	if err != nil {
		return "", err
	}
	defer stop()
	boot, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	if _, _, err := l.waitReady(boot, v, s.NodeName, func() float64 { return 0 }); err != nil {
		return "not Ready: " + err.Error(), ctx.Err()
	}
	if _, err := l.grow(boot, c.Pods); err != nil {
		return fmt.Sprintf("%d pods: %v", c.Pods, err), ctx.Err()
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-v.Done():
		return "QEMU exited", nil
	case <-time.After(c.Hold):
	}
	return l.floorVerdict(ctx, v, s.NodeName, c.Pods)
}

// floorVerdict checks a node that has held its pods: still Ready, every
// growth pod Running, no container OOM-killed, no OOM event from its
// kubelet, and no OOM kill or stall on its console.
func (l *labBoots) floorVerdict(ctx context.Context, v *vm.VM, name string, pods int) (string, error) {
	var why []string
	node, err := l.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("node %s: %w", name, err)
	}
	if ready, _ := kube.Ready(node); !ready {
		why = append(why, "no longer Ready")
	}
	all, err := l.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		return "", fmt.Errorf("pods of %s: %w", name, err)
	}
	running := 0
	for _, p := range all.Items {
		if p.Labels["app"] == "growth" && p.Status.Phase == corev1.PodRunning {
			running++
		}
		for _, cs := range p.Status.ContainerStatuses {
			// Only a restart for memory counts: a starved CPU under
			// emulation also makes container starts fail (StartError),
			// which says nothing of the memory.
			if t := cs.LastTerminationState.Terminated; cs.RestartCount > 0 && t != nil && t.Reason == "OOMKilled" {
				why = append(why, fmt.Sprintf("%s/%s OOM-killed (%d restarts)", p.Name, cs.Name, cs.RestartCount))
			}
		}
	}
	if running < pods {
		why = append(why, fmt.Sprintf("%d of %d pods Running", running, pods))
	}
	events, err := l.cs.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name + ",reason=SystemOOM"})
	if err != nil {
		return "", fmt.Errorf("events of %s: %w", name, err)
	}
	if n := len(events.Items); n > 0 {
		why = append(why, fmt.Sprintf("%d SystemOOM events", n))
	}
	for _, line := range v.Lines() {
		if oomLine.MatchString(line.Text) {
			why = append(why, fmt.Sprintf("console at %.0f s: %s", line.At.Seconds(), strings.TrimSpace(line.Text)))
			break
		}
	}
	return strings.Join(why, "; "), nil
}

func writeFloor(path string, c FloorConfig, results []FloorResult) error {
	head := fmt.Sprintf("%s, %s, 2 vCPUs. %s", machine(), accel(), time.Now().UTC().Format("2006-01-02"))
	return os.WriteFile(path, []byte(floorReport(c, results, head)), 0o644)
}

// floorReport is floor.md: head says where and when it ran.
func floorReport(c FloorConfig, results []FloorResult, head string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Smallest VM memory (%d MiB steps from %d down to %d MiB) in which the node reaches Ready and runs %d pause pods for %s with no container OOM-killed, no OOM kill on the console and no stall; %s.\n\n",
		c.Step, c.From, c.Min, c.Pods, c.Hold, head)
	fmt.Fprintln(&b, "| system | floor | tries (MiB: verdict) |")
	fmt.Fprintln(&b, "|---|---|---|")
	grid := c.Grid()
	for _, r := range results {
		floor := fmt.Sprintf("%d MiB", r.FloorMiB)
		switch {
		case r.FloorMiB == 0:
			floor = fmt.Sprintf("more than %d MiB (the largest tried)", c.From)
		case len(grid) > 0 && r.FloorMiB == grid[len(grid)-1]:
			floor = fmt.Sprintf("%d MiB or less (the smallest tried)", r.FloorMiB)
		}
		var tries []string
		for _, t := range r.Tries {
			v := "fits"
			if !t.OK {
				v = "no: " + strings.ReplaceAll(t.Why, "|", "/")
			}
			tries = append(tries, fmt.Sprintf("%d: %s", t.MemoryMiB, v))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.System, floor, strings.Join(tries, "; "))
	}
	fmt.Fprintf(&b, "\nReproduce: `out/kios-dev bench --floor --floor-from %d --floor-min %d --floor-step %d --floor-pods %d --floor-hold %s` (`make bench-floor` searches 1024 down to 256 MiB)\n",
		c.From, c.Min, c.Step, c.Pods, c.Hold)
	return b.String()
}
