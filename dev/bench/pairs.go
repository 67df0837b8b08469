package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"kios.dev/kios/dev/bench/probe"
	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/vm"
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

// labBoots boots the systems in turn in one lab: the cluster, and one
// network slot (labTAP, labMAC) every boot uses.
type labBoots struct {
	env *lab.Env
	cs  kubernetes.Interface
}

const (
	labTAP = "tap1"
	labMAC = "52:54:00:88:00:0b"
)

// newLab prepares env for the comparison's boots: one TAP with a
// reserved address, which every boot uses in turn.
func newLab(env *lab.Env) (*labBoots, error) {
	if err := env.Lab.AddTAP(labTAP); err != nil {
		return nil, err
	}
	hw, _ := net.ParseMAC(labMAC)
	env.Lab.Reserve(hw, net.IPv4(10, 88, 0, 11))
	return &labBoots{env: env, cs: env.Client}, nil
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

func summary(f map[string]float64, pods []int) string {
	s := fmt.Sprintf("kernel %.1fs, PID 1 %.1fs, containerd %.1fs, kubelet %.1fs, lease %.1fs, registered %.1fs, Ready %.1fs, first pod %.1fs; RAM %.0f MiB, %.0f processes, %.0f executables",
		f["kernel_start_s"], f["pid1_start_s"], f["containerd_ready_s"], f["kubelet_started_s"], f["dhcp_lease_s"], f["node_registered_s"],
		f["node_ready_s"], f["first_pod_running_s"], f["ram_used_mib"], f["host_processes"], f["executables"])
	for _, n := range pods {
		s += fmt.Sprintf("; %d pods %.1fs %.0f MiB", n, f[fmt.Sprintf("pods_%d_running_s", n)], f[fmt.Sprintf("pods_%d_ram_used_mib", n)])
	}
	return s + fmt.Sprintf("; shutdown %.1fs", f["shutdown_s"])
}

// start boots s in mib of memory on the lab's network slot, its console
// kept at consolePath. stop stops the VM, removes the node from the
// cluster and the boot's scratch files.
func (l *labBoots) start(s System, mib int, consolePath string) (v *vm.VM, stop func(), err error) {
	dir, err := os.MkdirTemp("", "kios-bench-boot-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := []func(){func() { os.RemoveAll(dir) }}
	stop = func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	bootDisk, disks, err := s.bootDisks(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Dir(consolePath), 0o755); err != nil {
		return nil, nil, err
	}
	console, err := os.Create(consolePath)
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, func() { console.Close() })
	v, err = vm.Start(vm.Config{EFI: s.EFI, Disk: bootDisk, Disks: disks, Dir: dir, MemoryMiB: mib, CPUs: 2, TAP: labTAP, MAC: labMAC,
		Wrap: []string{"ip", "netns", "exec", l.env.Lab.Name}, Console: console, Extra: s.Extra})
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, func() { v.Stop(30 * time.Second) }, func() { l.forget(s.NodeName) })
	return v, stop, nil
}

func (l *labBoots) boot(ctx context.Context, s System, i int, c PairsConfig) (map[string]float64, error) {
	v, stop, err := l.start(s, c.MemoryMiB, filepath.Join(c.Consoles, fmt.Sprintf("%s-%d.console", s.Name, i)))
	if err != nil {
		return nil, err
	}
	defer stop()
	figs := map[string]float64{"image_mib": s.ImageMiB}
	ctx, cancel := context.WithTimeout(ctx, 45*time.Minute)
	defer cancel()
	since := func() float64 { return time.Since(v.Started()).Seconds() }

	if err := l.waitReady(ctx, v, s.NodeName, figs, since); err != nil {
		return nil, err
	}
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
	figs["dhcp_lease_s"] = lease.Sub(v.Started()).Seconds()
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
		figs[fmt.Sprintf("pods_%d_running_s", n)] = secs
		f, err := l.footprint(ctx, false)
		if err != nil {
			return nil, err
		}
		figs[fmt.Sprintf("pods_%d_ram_used_mib", n)] = f.UsedMiB()
		addCPU(figs, fmt.Sprintf("pods_%d_", n), f)
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
	// that does not get there keeps its other figures and has no
	// shutdown figure (2026-12-02: the baseline after 100 pods).
	if err := l.quiesce(ctx, f); err != nil {
		c.Log.Printf("bench: %s boot %d: no shutdown figure: %v", s.Name, i, err)
		return figs, nil
	}
	secs, err := l.shutdown(ctx, v)
	if err != nil {
		return nil, err
	}
	figs["shutdown_s"] = secs
	return figs, nil
}

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
// that every pod start runs (exec_<program>_ms).
func (l *labBoots) addExecTimes(ctx context.Context, figs map[string]float64) error {
	b, err := l.probeGet(ctx, "/exec-time", nil)
	if err != nil {
		return fmt.Errorf("probe /exec-time: %w", err)
	}
	var times []probe.ExecTime
	if err := json.Unmarshal(b, &times); err != nil {
		return fmt.Errorf("probe /exec-time report: %w", err)
	}
	for _, t := range times {
		figs["exec_"+sanitize(t.Name)+"_ms"] = t.MedianMS
	}
	return nil
}

// addFootprint turns the probe's report into figures: RAM in use,
// host processes, their total and per-program resident memory, and
// executables.
func addFootprint(figs map[string]float64, f probe.Footprint) {
	figs["ram_used_mib"] = f.UsedMiB()
	figs["host_processes"] = float64(len(f.Processes))
	figs["executables"] = float64(f.Executables)
	var total int64
	byName := map[string]int64{}
	for _, p := range f.Processes {
		total += p.RSSKiB
		byName[p.Name] += p.RSSKiB
	}
	figs["host_rss_mib"] = float64(total) / 1024
	for name, kib := range byName {
		figs["rss_"+sanitize(name)+"_mib"] = float64(kib) / 1024
	}
	addCPU(figs, "", f)
}

// addCPU adds the CPU time each program's running processes have used
// since they started (prefix + "cpu_" + program + "_s"), to see which
// program a slow step spends its time in.
func addCPU(figs map[string]float64, prefix string, f probe.Footprint) {
	figs[prefix+"host_mounts"] = float64(f.HostMounts)
	for kind, ticks := range f.CPU {
		if kind != "idle" {
			figs[prefix+"cpu_all_"+kind+"_s"] = float64(ticks) / 100
		}
	}
	byName, children := map[string]int64{}, map[string]int64{}
	for _, p := range f.Processes {
		byName[p.Name] += p.CPUTicks
		children[p.Name] += p.ChildCPUTicks
	}
	for name, ticks := range byName {
		figs[prefix+"cpu_"+sanitize(name)+"_s"] = float64(ticks) / 100
	}
	for name, ticks := range children {
		if ticks > 0 {
			figs[prefix+"cpu_children_"+sanitize(name)+"_s"] = float64(ticks) / 100
		}
	}
}

// addPerPod adds what a pod costs at the largest growth step n: the
// node's RAM in use with n pods divided by n (pods_N_ram_per_pod_mib),
// and the growth over the node at rest divided by n
// (pods_N_ram_added_per_pod_mib), which leaves the node's own share out.
func addPerPod(figs map[string]float64, pods []int) {
	n := 0
	for _, p := range pods {
		n = max(n, p)
	}
	used, ok := figs[fmt.Sprintf("pods_%d_ram_used_mib", n)]
	if n == 0 || !ok {
		return
	}
	figs[fmt.Sprintf("pods_%d_ram_per_pod_mib", n)] = used / float64(n)
	if rest, ok := figs["ram_used_mib"]; ok {
		figs[fmt.Sprintf("pods_%d_ram_added_per_pod_mib", n)] = (used - rest) / float64(n)
	}
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}

// waitReady polls the API server until the node is registered and
// Ready, approving its serving certificate as the lab does.
func (l *labBoots) waitReady(ctx context.Context, v *vm.VM, name string, figs map[string]float64, since func() float64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	lastApprove := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready: %w", name, ctx.Err())
		case <-v.Done():
			return fmt.Errorf("QEMU exited before node %s was Ready", name)
		case <-time.After(200 * time.Millisecond):
		}
		node, err := l.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if _, ok := figs["node_registered_s"]; !ok {
			figs["node_registered_s"] = since()
		}
		if time.Since(lastApprove) > 2*time.Second {
			controlplane.ApproveServingCSRs(ctx, l.cs)
			lastApprove = time.Now()
		}
		if nodeReady(node) {
			figs["node_ready_s"] = since()
			return nil
		}
	}
}

// nodeReady tells whether the node's Ready condition is True.
func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	zero := int64(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, AutomountServiceAccountToken: new(bool),
					Containers: []corev1.Container{{Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}}}},
	}
}

// firstPod runs a one-replica Deployment and times its pod to Running.
func (l *labBoots) firstPod(ctx context.Context, figs map[string]float64, since func() float64) error {
	if _, err := l.cs.AppsV1().Deployments("default").Create(ctx, deployment("first", PauseImage, 1), metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := l.waitRunning(ctx, "first", 1, 5*time.Minute); err != nil {
		return err
	}
	figs["first_pod_running_s"] = since()
	return l.deleteAndWait(ctx, "first")
}

// waitRunning waits until n pods of app are Running and returns how long
// that took.
func (l *labBoots) waitRunning(ctx context.Context, app string, n int, timeout time.Duration) (float64, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pods, err := l.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err == nil {
			running := 0
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
					running++
				}
			}
			if running >= n {
				return time.Since(start).Seconds(), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d pods of %s not Running: %w", n, app, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// deleteAndWait deletes a Deployment and waits until its pods are gone.
func (l *labBoots) deleteAndWait(ctx context.Context, app string) error {
	bg := metav1.DeletePropagationBackground
	err := l.cs.AppsV1().Deployments("default").Delete(ctx, app, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for {
		pods, err := l.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err == nil && len(pods.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pods of %s not gone: %w", app, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// growBatch is the most pods grow adds at once. Given 40 new pods at
// once, a node under emulation never got them Running (2026-12-01,
// docs/bench/pods): their sandboxes took longer than the kubelet's
// 2-minute CRI deadline and were retried. Both systems get the same
// batches.
const growBatch = 10

// grow scales the growth Deployment to n pods, growBatch at a time, each
// batch once the last is Running, and times it to all n Running.
func (l *labBoots) grow(ctx context.Context, n int) (float64, error) {
	start := time.Now()
	deployments := l.cs.AppsV1().Deployments("default")
	for {
		var have, next int
		// The deployment controller writes the object's status between
		// our read and write; a conflict is read again and retried.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := deployments.Get(ctx, growthName, metav1.GetOptions{})
			have = 0
			switch {
			case apierrors.IsNotFound(err):
				d, err = nil, nil
			case err == nil && d.Spec.Replicas != nil:
				have = int(*d.Spec.Replicas)
			}
			if err != nil || have >= n {
				return err
			}
			next = min(n, have+growBatch)
			replicas := int32(next)
			if d == nil {
				_, err = deployments.Create(ctx, deployment(growthName, PauseImage, replicas), metav1.CreateOptions{})
				return err
			}
			d.Spec.Replicas = &replicas
			_, err = deployments.Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("scale growth toward %d pods: %w", n, err)
		}
		if have >= n {
			return time.Since(start).Seconds(), nil
		}
		if _, err := l.waitRunning(ctx, growthName, next, 5*time.Minute+time.Duration(next-have)*6*time.Second); err != nil {
			return 0, err
		}
	}
}

// growthName names the Deployment of the growth steps and its pods'
// name prefix.
const growthName = "growth"

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
	var last error
	for try := 0; try < 20; try++ {
		if f, last = l.readFootprint(ctx, executables); last == nil {
			return f, nil
		}
		time.Sleep(time.Second)
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

// podState sums up a pod's containers for an error message.
func podState(ctx context.Context, cs kubernetes.Interface, name string) string {
	p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	s := string(p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		s += fmt.Sprintf("; %s restarts=%d", c.Name, c.RestartCount)
		if t := c.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf(" last exit %d %s %q", t.ExitCode, t.Reason, t.Message)
		}
		if w := c.State.Waiting; w != nil {
			s += fmt.Sprintf(" waiting %s %q", w.Reason, w.Message)
		}
	}
	return s
}

// quiesce waits until the node runs no more processes of each program
// than it did at rest, i.e. every removed pod's shim and pause are gone.
// Programs that were not running at rest are left out: systemd starts
// short-lived helpers of its own (2026-12-01, docs/bench/pods: the
// baseline never came back to its resting process count).
func (l *labBoots) quiesce(ctx context.Context, rest probe.Footprint) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		f, err := l.readFootprint(ctx, false)
		var extra map[string]int
		if err == nil {
			if extra = surplus(rest, f); len(extra) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("the node's processes could not be read after the growth pods were removed: %w", err)
			}
			return fmt.Errorf("the node did not come back to rest after the growth pods were removed: processes beyond the resting count, by program: %v", extra)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// surplus counts, per program that ran at rest, the processes now
// beyond its resting count.
func surplus(rest, now probe.Footprint) map[string]int {
	count := func(f probe.Footprint) map[string]int {
		m := map[string]int{}
		for _, p := range f.Processes {
			m[p.Name]++
		}
		return m
	}
	was, is := count(rest), count(now)
	extra := map[string]int{}
	for name, n := range is {
		if r, ok := was[name]; ok && n > r {
			extra[name] = n - r
		}
	}
	return extra
}

// shutdown runs a pod that takes 5 s to stop, presses the power button
// and times it to QEMU's exit.
func (l *labBoots) shutdown(ctx context.Context, v *vm.VM) (float64, error) {
	grace := int64(30)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "slow", Labels: map[string]string{"app": "slow"}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, AutomountServiceAccountToken: new(bool),
			Containers: []corev1.Container{{Name: "slow", Image: ProbeImage, Args: []string{"stop-after", "5s"}}}},
	}
	if _, err := l.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	if _, err := l.waitRunning(ctx, "slow", 1, 5*time.Minute); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := v.Powerdown(); err != nil {
		return 0, fmt.Errorf("power button: %w", err)
	}
	select {
	case <-v.Done():
		return time.Since(start).Seconds(), nil
	case <-time.After(3 * time.Minute):
		return 0, fmt.Errorf("no power-off 3 minutes after the power button")
	}
}

// forget removes the node and its pods from the cluster, so the next
// boot registers afresh.
func (l *labBoots) forget(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	zero := int64(0)
	for _, d := range []string{"first", "growth"} {
		l.cs.AppsV1().Deployments("default").Delete(ctx, d, metav1.DeleteOptions{})
	}
	l.cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	// The node's system pods (the CNI DaemonSet's) in kube-system.
	pods, err := l.cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err == nil {
		for _, p := range pods.Items {
			l.cs.CoreV1().Pods("kube-system").Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
	}
	// Every pod in default (probe, slow, what the Deployments left),
	// until none is left: the next boot reuses the names.
	for ctx.Err() == nil {
		pods, err := l.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		if err == nil {
			for _, p := range pods.Items {
				l.cs.CoreV1().Pods("default").Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}
