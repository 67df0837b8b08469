package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// hog is a pod that allocates rate MiB a second until it is killed;
// resources is its container's resources field, or "{}".
func hog(name string, rate int, resources string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: hog
    image: localhost/kios-dev/inspector:v1
    imagePullPolicy: Never
    args: ["--hog=%d"]
    resources: %s
`, name, rate, resources)
}

var (
	// hogPod is BestEffort, as most pods that run out of memory are.
	hogPod = hog("hog", 24, "{}")
	// hogLimitedPod has a memory limit: the kernel must kill it at its
	// own limit, inside its own cgroup, whatever the node has free.
	hogLimitedPod = hog("hog-limited", 16, "{limits: {memory: 48Mi}}")
)

// TestMemoryPressure runs a pod that takes all the memory it can on a
// RAM-only node in a 512 MiB VM, where a node without protection used to
// thrash its own programs' code for minutes (soft lockups, no OOM kill).
// The pod's process must be OOM-killed, the kubelet must start it again
// (PID 1, containerd and the kubelet all still work), and no host process
// may be killed or stall. A second hog with a memory limit is killed at
// its own limit, in its own cgroup, and started again.
func TestMemoryPressure(t *testing.T) {
	vmtest.Need(t, "boots a VM")
	vmtest.Parallel(t)
	sharedImage(t) // builds the inspector image
	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-oom\n"), 0o644)
	os.MkdirAll(filepath.Join(cfg, "kubernetes", "manifests"), 0o755)
	for name, pod := range map[string]string{"hog.yaml": hogPod, "hog-limited.yaml": hogLimitedPod} {
		if err := os.WriteFile(filepath.Join(cfg, "kubernetes", "manifests", name), []byte(pod), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	efi := filepath.Join(t.TempDir(), "oom.efi")
	out, err := exec.Command(need(t, "out/kios"), "build", "--config", cfg, "--image", filepath.Join(testImageDir, "inspector.tar"),
		"-o", efi).CombinedOutput()
	if err != nil {
		t.Fatalf("kios build: %v\n%s", err, out)
	}
	v := vmtest.Boot(t, vm.Config{EFI: efi, MemoryMiB: 512, CPUs: 2})
	v.Expect(`step=protect-memory status=ok`, 3*time.Minute)
	v.ExpectEvent(events.ContainerStarted.With("pod", "hog-kios-oom", "container", "hog"), 4*time.Minute)
	// The kernel names the process it kills; the hog is the inspector
	// binary. A memory cgroup OOM (the kubepods limit) and a global one
	// both print "Killed process".
	killed := v.Expect(`Killed process \d+ \(\S+\)`, 4*time.Minute)
	if !regexp.MustCompile(`\(inspector\)`).MatchString(killed) {
		t.Errorf("the OOM killer took something else than the hog: %s", killed)
	}
	// The kubelet notices and starts the container again: PID 1's event
	// watcher, containerd and the kubelet all still run.
	v.ExpectEvent(events.ContainerStarted.With("pod", "hog-kios-oom", "container", "hog"), 4*time.Minute)
	// The limited pod is killed at its own limit and started again. The
	// kernel's kill line names the victim's oom_score_adj: 1000 for the
	// BestEffort hog, less for the limited (Burstable) one; its resident
	// memory at the kill is at most its 48 MiB limit.
	killLine := regexp.MustCompile(`Memory cgroup out of memory: Killed process \d+ \(inspector\) total-vm:\d+kB, anon-rss:(\d+)kB.* oom_score_adj:(\d+)`)
	vmtest.Eventually(t, "the limited hog killed at its limit, then started again", 4*time.Minute, func() error {
		kills, starts := 0, 0
		for _, l := range v.Lines() {
			if m := killLine.FindStringSubmatch(l.Text); m != nil && m[2] != "1000" {
				if rss, _ := strconv.Atoi(m[1]); rss > 48<<10 {
					return fmt.Errorf("the limited hog was killed holding %d kB, over its 48 MiB limit: %s", rss, l.Text)
				}
				kills++
			}
			if isEvent(l.Text, events.ContainerStarted.With("pod", "hog-limited-kios-oom", "container", "hog")) {
				starts++
			}
		}
		if kills == 0 || starts < 2 {
			return fmt.Errorf("the limited hog was OOM-killed %d times and started %d times", kills, starts)
		}
		return nil
	})
	hostKilled := regexp.MustCompile(`Killed process \d+ \((init|containerd|containerd-shim|kubelet|runc|pause|system)\)`)
	hostExited := events.Any(events.ServiceExited.With("name", "containerd"), events.ServiceExited.With("name", "kubelet"))
	for _, l := range v.Lines() {
		if vmtest.Stalled(l.Text) || hostKilled.MatchString(l.Text) || isEvent(l.Text, hostExited) {
			t.Errorf("console at %.1f s: %s", l.At.Seconds(), l.Text)
		}
	}
}
