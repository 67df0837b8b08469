package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/shared/events"
)

// labVersions are the EFIs the lab test installs and upgrades to:
// 1.0.0 and 2.0.0 (the default image), and a 3.0.0 whose kubelet
// configuration names a feature gate the kubelet does not know: it
// decodes (kios build's check passes) and the kubelet exits at every
// start, so a node on it never passes its health gate.
type labVersions struct{ v1, v2, v3 string }

func buildLabVersions(t *testing.T, run func(args ...string) (string, error), work string) labVersions {
	t.Helper()
	// Healthy versions have 4 minutes to pass their gate; 3.0.0, whose
	// kubelet fails at once, gives up after 2 (a shorter test).
	build := func(v, trial string, extra ...string) string {
		t.Helper()
		efi := filepath.Join(work, v+".efi")
		gate := "kios.bless-after=20s kios.trial-timeout=" + trial
		if out, err := run(append([]string{"build", "--version", v, "--cmdline", gate, "-o", efi}, extra...)...); err != nil {
			t.Fatalf("kios build %s: %v\n%s", v, err, out)
		}
		return efi
	}
	def, err := os.ReadFile(filepath.Join(root, "internal/host/image/rootfs/etc/kubernetes/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg3 := filepath.Join(work, "config3")
	os.MkdirAll(filepath.Join(cfg3, "kubernetes"), 0o755)
	os.WriteFile(filepath.Join(cfg3, "kubernetes", "config.yaml"), append(def, []byte("featureGates:\n  KiosNoSuchGate: true\n")...), 0o644)
	return labVersions{v1: build("1.0.0", "4m"), v2: build("2.0.0", "4m"), v3: build("3.0.0", "2m", "--config", cfg3)}
}

// upgradeLab upgrades the two-node lab in place with kios upgrade:
// 1.0.0 to 2.0.0 node by node while a Deployment of two replicas guarded
// by a PodDisruptionBudget (minAvailable 1) keeps at least one replica
// available, hostPath data and pulled images kept on each data
// partition; then 2.0.0 to the failing 3.0.0: the node goes back to
// 2.0.0 by itself, the rollout stops naming the node and its failed
// boot's log, which the node log API still serves; kios rollback takes
// the other node back to 1.0.0; last, --stage-only stages 2.0.0 there
// for its next reboot without draining or rebooting it.
func upgradeLab(t *testing.T, ctx context.Context, cs kubernetes.Interface, run func(args ...string) (string, error), lab, work string, vs labVersions) {
	v2, v3 := vs.v2, vs.v3
	nodes := []string{"kios-00000001", "kios-00000002"}
	osImages := func() map[string]string {
		m := map[string]string{}
		for _, n := range nodes {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m[n] = node.Status.NodeInfo.OSImage
		}
		return m
	}
	for n, img := range osImages() {
		if img != "kiOS 1.0.0" {
			t.Fatalf("%s reports %q before the upgrade, want kiOS 1.0.0", n, img)
		}
	}
	insp, err := inspectorArchive(work)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run("load", "--dir", lab, insp); err != nil {
		t.Fatalf("kios load: %v\n%s", err, out)
	}
	keepers := startKeepers(t, ctx, cs, nodes)

	t.Run("1.0.0 to 2.0.0, node by node", func(t *testing.T) {
		samples, stop := watchAvailable(ctx, cs)
		out, err := run("upgrade", "--dir", lab, "--to", v2)
		least := stop()
		if err != nil {
			t.Fatalf("kios upgrade: %v", err)
		}
		for _, n := range nodes {
			m := regexp.MustCompile(n + `: Ready on kiOS 2\.0\.0, ([0-9.]+)s from cordon to Ready`).FindStringSubmatch(out)
			if m == nil {
				t.Errorf("kios upgrade did not report %s Ready on 2.0.0", n)
				continue
			}
			t.Logf("figure: %s cordon to Ready on the new version: %ss", n, m[1])
		}
		if m := regexp.MustCompile(`\[\s*([0-9.]+)s\] rollout done: 2 node\(s\)`).FindStringSubmatch(out); m != nil {
			t.Logf("figure: two-node rollout: %ss", m[1])
		} else {
			t.Error("kios upgrade did not report the rollout done")
		}
		if least < 1 {
			t.Errorf("the Deployment had %d available replicas during the rollout (PodDisruptionBudget minAvailable 1; lowest seen over %d samples)", least, samples())
		}
		for n, img := range osImages() {
			if img != "kiOS 2.0.0" {
				t.Errorf("%s reports %q after the rollout", n, img)
			}
		}
		// The keepers run with imagePullPolicy Never: their image is still
		// on each data partition; their hostPath file has the records
		// written before the reboot.
		for _, n := range nodes {
			st := keeperStatus(t, ctx, cs, keepers, n)
			if !st.Valid || st.Resumed < 1 {
				t.Errorf("%s: the hostPath file after the upgrade: %+v, want the records from before", n, st)
			}
		}
	})

	t.Run("2.0.0 to a 3.0.0 that fails: back to 2.0.0, the rollout stopped", func(t *testing.T) {
		// A node stages an upgrade only once it runs a blessed image.
		for i := range nodes {
			waitConsole(t, filepath.Join(lab, fmt.Sprintf("node-%d.console", i+1)), events.Blessed.With("version", "2.0.0"), 5*time.Minute)
		}
		out, err := run("upgrade", "--dir", lab, "--to", v3, "--nodes", nodes[0]+","+nodes[1])
		if err == nil {
			t.Fatal("kios upgrade to a failing version exited 0")
		}
		for _, want := range []string{"node " + nodes[0] + ":", "came back on its previous version", "kiOS 2.0.0"} {
			if !strings.Contains(out, want) {
				t.Errorf("kios upgrade's error lacks %q", want)
			}
		}
		if len(findEvents(out, events.TrialFailed)) == 0 {
			t.Errorf("kios upgrade's error lacks the %s line of the failed boot", events.TrialFailed)
		}
		if strings.Contains(out, nodes[1]+": cordoned") {
			t.Errorf("the rollout went on to %s after %s failed", nodes[1], nodes[0])
		}
		if img := osImages()[nodes[0]]; img != "kiOS 2.0.0" {
			t.Errorf("%s reports %q, want kiOS 2.0.0", nodes[0], img)
		}
		waitConsole(t, filepath.Join(lab, "node-1.console"), events.UpgradeFailed.With("version", "3.0.0", "entry", "kios-3.0.0+0-1.efi", "running", "2.0.0"), time.Minute)
		log, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", nodes[0], "proxy", "logs", "init.log").DoRaw(ctx)
		if err != nil {
			t.Fatalf("the node log API: %v", err)
		}
		if len(findEvents(string(log), events.TrialFailed.With("entry", "kios-3.0.0+0-1.efi"))) == 0 {
			t.Errorf("the failed boot's log is not in init.log through the node log API (%d bytes)", len(log))
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
		if err != nil || node.Spec.Unschedulable {
			t.Errorf("%s after the failed upgrade: unschedulable %t, %v; want it uncordoned on 2.0.0", nodes[0], node.Spec.Unschedulable, err)
		}
	})

	t.Run("kios rollback: back to the previous good version", func(t *testing.T) {
		out, err := run("rollback", "--dir", lab, nodes[1])
		if err != nil {
			t.Fatalf("kios rollback: %v", err)
		}
		if !strings.Contains(out, nodes[1]+": Ready on kiOS 1.0.0") {
			t.Errorf("kios rollback did not report %s Ready on kiOS 1.0.0", nodes[1])
		}
		if img := osImages()[nodes[1]]; img != "kiOS 1.0.0" {
			t.Errorf("%s reports %q after the rollback", nodes[1], img)
		}
	})

	t.Run("--stage-only: staged for the next reboot, nothing drained or rebooted", func(t *testing.T) {
		before, err := cs.CoreV1().Nodes().Get(ctx, nodes[1], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := run("upgrade", "--dir", lab, "--to", v2, "--stage-only")
		if err != nil {
			t.Fatalf("kios upgrade --stage-only: %v", err)
		}
		for _, want := range []string{nodes[0] + ": already on kiOS 2.0.0", nodes[1] + ": staged kiOS 2.0.0: the loader boots kios-2.0.0+"} {
			if !strings.Contains(out, want) {
				t.Errorf("kios upgrade --stage-only did not say %q", want)
			}
		}
		if strings.Contains(out, "cordoned") {
			t.Error("kios upgrade --stage-only cordoned a node")
		}
		after, err := cs.CoreV1().Nodes().Get(ctx, nodes[1], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.Status.NodeInfo.BootID != before.Status.NodeInfo.BootID || after.Status.NodeInfo.OSImage != "kiOS 1.0.0" || after.Spec.Unschedulable {
			t.Errorf("%s after --stage-only: boot %s (was %s), %q, unschedulable %t; want the same boot on kiOS 1.0.0, schedulable",
				nodes[1], after.Status.NodeInfo.BootID, before.Status.NodeInfo.BootID, after.Status.NodeInfo.OSImage, after.Spec.Unschedulable)
		}
	})
}

// waitConsole waits for an event m matches in a lab node's console file.
func waitConsole(t *testing.T, path string, m events.Matcher, timeout time.Duration) {
	t.Helper()
	vmtest.Eventually(t, "console line "+m.String(), timeout, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(findEvents(string(b), m)) == 0 {
			return fmt.Errorf("not in %s yet", filepath.Base(path))
		}
		return nil
	})
}

// startKeepers runs, on each node, the inspector writing records to a
// hostPath file; the image is pulled once, then the keepers run with
// imagePullPolicy Never. It returns their pod names by node.
func startKeepers(t *testing.T, ctx context.Context, cs kubernetes.Interface, nodes []string) map[string]string {
	t.Helper()
	hostDir := corev1.HostPathDirectoryOrCreate
	pod := func(name, node string, pull corev1.PullPolicy) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "keeper"}},
			Spec: corev1.PodSpec{NodeName: node, Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "keeper", Image: "localhost/kios-dev/inspector:v1", ImagePullPolicy: pull,
					Args:         []string{"--listen=:9091", "--write-dirs=/hostpath"},
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/hostpath"}}}},
				Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/kios-test", Type: &hostDir}}}}}}
	}
	names := map[string]string{}
	for _, n := range nodes {
		// A pod pulls the image; the keepers then run from it alone, in
		// a DaemonSet (which a drain leaves in place).
		p := pod("pull-"+n, n, corev1.PullIfNotPresent)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		vmtest.Eventually(t, "the inspector image pulled on "+n, 5*time.Minute, func() error {
			got, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pull pod %s", got.Status.Phase)
			}
			return nil
		})
		if err := cs.CoreV1().Pods("default").Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := pod("", "", corev1.PullNever)
	tmpl.Spec.NodeName = ""
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "keeper", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "keeper"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "keeper"}}, Spec: tmpl.Spec}}}
	if _, err := cs.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vmtest.Eventually(t, "a keeper on each node writing", 5*time.Minute, func() error {
		for _, n := range nodes {
			names[n] = ""
		}
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=keeper"})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				names[p.Spec.NodeName] = p.Name
			}
		}
		for _, n := range nodes {
			if names[n] == "" {
				return fmt.Errorf("no keeper Running on %s", n)
			}
			if st := keeperStatusOnce(ctx, cs, names[n]); st.Synced < 3 {
				return fmt.Errorf("keeper on %s synced %d records", n, st.Synced)
			}
		}
		return nil
	})
	return names
}

type keeperState struct {
	Resumed, Synced int
	Valid           bool
}

func keeperStatusOnce(ctx context.Context, cs kubernetes.Interface, pod string) keeperState {
	b, err := cs.CoreV1().Pods("default").ProxyGet("http", pod, "9091", "status", nil).DoRaw(ctx)
	if err != nil {
		return keeperState{}
	}
	var st map[string]keeperState
	if json.Unmarshal(b, &st) != nil {
		return keeperState{}
	}
	return st["/hostpath"]
}

// keeperStatus is the keeper's status on node after the upgrade (its
// pod, restarted with the node, may have a new name).
func keeperStatus(t *testing.T, ctx context.Context, cs kubernetes.Interface, before map[string]string, node string) keeperState {
	t.Helper()
	var st keeperState
	vmtest.Eventually(t, "the keeper on "+node+" after the upgrade", 5*time.Minute, func() error {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=keeper", FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				if st = keeperStatusOnce(ctx, cs, p.Name); st.Valid {
					return nil
				}
			}
		}
		return fmt.Errorf("no keeper answering on %s (before: %s)", node, before[node])
	})
	return st
}

// startGuardedDeployment runs two demo replicas, one per node, under a
// PodDisruptionBudget of minAvailable 1.
func startGuardedDeployment(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	t.Helper()
	replicas := int32(2)
	labels := map[string]string{"app": "guarded"}
	_, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
					WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
				Containers: []corev1.Container{{Name: "demo", Image: "localhost/kios/demo:v1", Args: []string{"--listen=:8080"},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}}}}}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	one := intstr.FromInt32(1)
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vmtest.Eventually(t, "2 guarded replicas available", 5*time.Minute, func() error {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "guarded", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 2 {
			return fmt.Errorf("%d available", d.Status.AvailableReplicas)
		}
		return nil
	})
}

// watchAvailable samples the guarded Deployment's available replicas
// every half second until stop, which returns the least seen; samples
// says how many were taken.
func watchAvailable(ctx context.Context, cs kubernetes.Interface) (samples func() int, stop func() int) {
	var mu sync.Mutex
	least, n := int32(1<<30), 0
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if d, err := cs.AppsV1().Deployments("default").Get(ctx, "guarded", metav1.GetOptions{}); err == nil {
				mu.Lock()
				least = min(least, d.Status.AvailableReplicas)
				n++
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() int { mu.Lock(); defer mu.Unlock(); return n },
		func() int { close(done); <-finished; mu.Lock(); defer mu.Unlock(); return int(least) }
}
