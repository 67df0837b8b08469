// This file holds the calls to the bench probe pod (dev/bench/probe):
// starting it, reading the node's footprint, program start times and
// logs through the API server, and turning its reports into figures.

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kios.dev/kios/dev/bench/probe"
	"kios.dev/kios/dev/compare"
)

// saveNodeLogs keeps the node's kubelet and containerd logs of the boot
// (prefix.kubelet.log...), to study where the time went, and returns
// containerd's (nil when neither source had it). kiOS writes them to
// /var/log, which the kubelet's /logs handler serves; the baseline logs
// to the journal, which the probe reads with the host's journalctl.
func (l *labBoots) saveNodeLogs(ctx context.Context, node, prefix string) []byte {
	var containerd []byte
	for _, unit := range []string{"kubelet", "containerd"} {
		b, err := l.cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "logs", unit+".log").DoRaw(ctx)
		if err != nil {
			b, err = l.probeGet(ctx, "/journal", map[string]string{"unit": unit})
		}
		if err != nil {
			continue
		}
		os.WriteFile(prefix+"."+unit+".log", b, 0o644)
		if unit == "containerd" {
			containerd = b
		}
	}
	return containerd
}

// addExecTimes asks the probe to time the start of the host programs
// that every pod start runs (ExecTime).
func (l *labBoots) addExecTimes(ctx context.Context, figs compare.Figures) error {
	b, err := l.probeGet(ctx, "/exec-time", nil)
	if err != nil {
		return fmt.Errorf("probe /exec-time: %w", err)
	}
	var times []probe.ExecTime
	if err := json.Unmarshal(b, &times); err != nil {
		return fmt.Errorf("probe /exec-time report: %w", err)
	}
	for _, t := range times {
		figs[compare.ExecTime(t.Name)] = t.MedianMS
	}
	return nil
}

// addFootprint turns the probe's report into figures: RAM in use,
// host processes, their total and per-program resident memory, and
// executables.
func addFootprint(figs compare.Figures, f probe.Footprint) {
	figs[compare.RAMUsed] = f.UsedMiB()
	figs[compare.HostProcesses] = float64(len(f.Processes))
	figs[compare.Executables] = float64(f.Executables)
	var total int64
	byName, anon := map[string]int64{}, map[string]int64{}
	for _, p := range f.Processes {
		total += p.RSSKiB
		byName[p.Name] += p.RSSKiB
		anon[p.Name] += p.RSSAnonKiB
	}
	figs[compare.HostRSS] = float64(total) / 1024
	for name, kib := range byName {
		figs[compare.RSS(name)] = float64(kib) / 1024
		figs[compare.RSSAnon(name)] = float64(anon[name]) / 1024
	}
	for field, kib := range f.Meminfo {
		figs[compare.Meminfo(field)] = float64(kib) / 1024
	}
	addCPU(figs, 0, f)
}

// addCPU adds the CPU time each program's running processes have used
// since they started (CPU, ChildCPU, CPUAll), to see which program a
// slow step spends its time in, and the mounts; with pods on the node
// (pods > 0), as that step's figures (AtPods).
func addCPU(figs compare.Figures, pods int, f probe.Footprint) {
	figs[compare.AtPods(pods, compare.HostMounts)] = float64(f.HostMounts)
	for kind, ticks := range f.CPU {
		if kind != "idle" {
			figs[compare.AtPods(pods, compare.CPUAll(kind))] = float64(ticks) / 100
		}
	}
	byName, children := map[string]int64{}, map[string]int64{}
	for _, p := range f.Processes {
		byName[p.Name] += p.CPUTicks
		children[p.Name] += p.ChildCPUTicks
	}
	for name, ticks := range byName {
		figs[compare.AtPods(pods, compare.CPU(name))] = float64(ticks) / 100
	}
	for name, ticks := range children {
		if ticks > 0 {
			figs[compare.AtPods(pods, compare.ChildCPU(name))] = float64(ticks) / 100
		}
	}
}

// startProbe runs the footprint probe: host network (the API server
// reaches it at the node's address), host PID namespace, privileged to
// read every process and PID 1's root.
func (l *labBoots) startProbe(ctx context.Context) error {
	yes := true
	zero := int64(0)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Labels: map[string]string{"app": "probe"}},
		Spec: corev1.PodSpec{HostNetwork: true, HostPID: true, TerminationGracePeriodSeconds: &zero, AutomountServiceAccountToken: new(bool),
			Containers: []corev1.Container{{Name: "probe", Image: ProbeImage, Args: []string{"serve"},
				SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}},
	}
	if _, err := l.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := l.waitRunning(ctx, "probe", 1, 5*time.Minute)
	return err
}

// settle is how long the node rests before each footprint reading.
const settle = 15 * time.Second

// footprint reads the probe's report through the API server.
// Counting the executables (executables) is left to the reading at rest:
// on a node busy with pods it takes the CPU the step is measured by.
func (l *labBoots) footprint(ctx context.Context, executables bool) (probe.Footprint, error) {
	var f probe.Footprint
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(settle):
	}
	// 20 tries, a second apart.
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: time.Second, Factor: 1, Steps: 20}, func(ctx context.Context) (bool, error) {
		f, last = l.readFootprint(ctx, executables)
		return last == nil, nil
	})
	if err == nil {
		return f, nil
	}
	if last == nil {
		last = err
	}
	return f, fmt.Errorf("probe (%s): %w", podState(ctx, l.cs, "probe"), last)
}

// probeGet asks the probe pod for path, through the API server's proxy.
func (l *labBoots) probeGet(ctx context.Context, path string, params map[string]string) ([]byte, error) {
	return l.cs.CoreV1().Pods("default").ProxyGet("http", "probe", fmt.Sprint(probe.Port), path, params).DoRaw(ctx)
}

// readFootprint asks the probe once, through the API server's proxy.
func (l *labBoots) readFootprint(ctx context.Context, executables bool) (probe.Footprint, error) {
	var f probe.Footprint
	b, err := l.probeGet(ctx, "/footprint", map[string]string{"executables": fmt.Sprint(executables)})
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("probe report: %w", err)
	}
	return f, nil
}
