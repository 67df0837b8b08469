package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kios.dev/kios/dev/conformance"
	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/shared/events"
)

// TestUpLoadDown drives the user's commands on one lab: kios up gives a
// cluster of two nodes, each installed on its own disk from one EFI,
// whose kubeconfig works from this machine; kios load makes an image
// archive pullable by its own name (a Deployment under a
// PodDisruptionBudget pulls it); a short run of the upstream
// conformance suite passes; kios upgrade and kios rollback change the
// nodes' version in place (upgradeLab); kios down removes everything.
func TestUpLoadDown(t *testing.T) {
	vmtest.Need(t, "boots VMs and a control plane")
	kios := need(t, "out/kios")
	work := t.TempDir()
	dir := filepath.Join(work, "lab")
	run := func(args ...string) (string, error) {
		t.Helper()
		out, err := exec.Command(kios, args...).CombinedOutput()
		t.Logf("kios %s:\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("kios %s: %v", args[0], err)
		}
		return out
	}
	t.Cleanup(func() {
		exec.Command(kios, "down", "--dir", dir).Run()
		if t.Failed() {
			for _, n := range []string{"node-1", "node-2"} {
				b, _ := os.ReadFile(filepath.Join(dir, n+".console"))
				t.Logf("%s console tail:\n%s", n, tail(string(b), 6000))
			}
		}
	})
	versions := buildLabVersions(t, run, work)
	out := must("up", "--dir", dir, "--nodes", "2", "--efi", versions.v1)
	for _, want := range []string{"control plane ready", "registered (kubelet v1.35.4)", "Ready", "done in"} {
		if !strings.Contains(out, want) {
			t.Errorf("kios up output lacks %q", want)
		}
	}
	// One stock EFI: each node learnt its name and its join from its own
	// NoCloud volume (docs/config.md).
	for i, n := range []string{"node-1", "node-2"} {
		b, _ := os.ReadFile(filepath.Join(dir, n+".console"))
		want := events.ConfigApplied.With("source", "volume", "hostname", fmt.Sprintf("kios-%08x", i+1), "instance", fmt.Sprintf("lab-kios-%08x", i+1))
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			found = found || isEvent(line, want)
		}
		if !found {
			t.Errorf("%s's console has no %v", n, want)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes through the kubeconfig: %v %d", err, len(nodes.Items))
	}
	must("load", "--dir", dir, need(t, "out/demo-image.tar"))
	startGuardedDeployment(t, ctx, cs) // pulls the demo image through the mirror
	conformanceSmoke(t, dir)
	upgradeLab(t, ctx, cs, run, dir, work, versions)
	// Only this lab's namespace: another test package, or a killed run,
	// may have a lab of its own.
	ns := regexp.MustCompile(`lab network (kios-lab-[0-9a-f]+)`).FindStringSubmatch(out)
	if ns == nil {
		t.Fatalf("kios up output names no lab network")
	}
	must("down", "--dir", dir)
	if _, err := os.Stat(filepath.Join(dir, "lab.pid")); !os.IsNotExist(err) {
		t.Error("lab.pid remains after kios down")
	}
	if _, err := os.Stat(filepath.Join("/run/netns", ns[1])); !os.IsNotExist(err) {
		t.Errorf("lab namespace %s remains after kios down (stat: %v)", ns[1], err)
	}
	// pgrep exits 1 when nothing matches; anything else is a failure to
	// look, not an answer.
	out2, err := exec.Command("pgrep", "-f", dir).Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		t.Errorf("processes of the lab remain: %s", out2)
	case errors.As(err, &exit) && exit.ExitCode() == 1:
	default:
		t.Errorf("look for processes of the lab: pgrep: %v", err)
	}
}

// smokeTests are four upstream [NodeConformance] tests that
// conformanceSmoke runs: a pod's host IP, a Secret and the downward API
// in a container's environment, and a ConfigMap's keys as variables
// whose names are not shell identifiers (which the rebuilt busybox's
// shell must pass on).
var smokeTests = []string{
	"Pods should get a host IP",
	"Secrets should be consumable from pods in env vars",
	"Downward API should provide pod name, namespace and IP address as env vars",
	"ConfigMap should be consumable via the environment",
}

// conformanceSmoke is a short run of make conformance in the lab: the
// test images built and pushed, upstream e2e.test run through ginkgo on
// four tests, the report read back. The whole suite is make
// conformance.
func conformanceSmoke(t *testing.T, dir string) {
	t.Helper()
	need(t, "build/cache/e2e-debs/versions.txt")
	out := filepath.Join(t.TempDir(), "conformance")
	focus := strings.Join(smokeTests, "|")
	b, err := exec.Command(need(t, "out/kios-dev"), "conformance", "--dir", dir, "--out", out, "--procs", "2", "--focus", focus).CombinedOutput()
	t.Logf("kios-dev conformance:\n%s", b)
	if err != nil {
		t.Fatalf("kios-dev conformance: %v", err)
	}
	r, err := conformance.ReadResult(filepath.Join(out, "kios", "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, o := range r.Tests {
		if o.Status == "passed" {
			passed = append(passed, o.Name)
		}
	}
	if len(passed) != len(smokeTests) || r.Count("failed") != 0 {
		t.Errorf("conformance smoke: passed %q, %d failed; want the %d tests %q passed", passed, r.Count("failed"), len(smokeTests), smokeTests)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("| passed | %d |", len(smokeTests)); !strings.Contains(string(report), want) {
		t.Errorf("report.md lacks %q:\n%s", want, report)
	}
}
