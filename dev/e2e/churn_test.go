package e2e

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// churnPod is a short-lived static pod; NAME and PORT are filled in.
const churnPod = `apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: demo
    image: localhost/kios/demo:v1
    imagePullPolicy: Never
    args: ["--listen=:PORT"]
`

// TestChurn starts and removes pods over and over, then checks the host
// runs what it did before: init, containerd, the kubelet and one shim
// per pod, nothing leaked. KIOS_CHURN sets how long (make bench-churn:
// an hour); make test churns for two minutes.
func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	// Alone, not beside another VM: on a loaded machine the grow pod
	// sometimes gets a shim of its own instead of the system pods'
	// shared one, which stays, empty, after grow completes (seen three
	// times on 2026-12-05; not fixed yet).
	d := 2 * time.Minute
	if s := os.Getenv("KIOS_CHURN"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("KIOS_CHURN=%q: %v", s, err)
		}
	}
	inspPort := vmtest.FreePort(t)
	v := vmtest.Boot(t, vm.Config{EFI: sharedImage(t), Forwards: []vm.Forward{{Host: inspPort, Guest: 9090}}})
	insp := fmt.Sprintf("http://127.0.0.1:%d", inspPort)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "inspector-kios-e2e"), 4*time.Minute)
	vmtest.Eventually(t, "inspector", 2*time.Minute, func() error { _, err := get(insp + "/report"); return err })

	const batch = 4
	rounds := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); rounds++ {
		// New names each round: a static pod's UID comes from its
		// manifest and the node, and each round's pods are new pods.
		for i := 0; i < batch; i++ {
			name := fmt.Sprintf("churn-%d-%d", rounds, i)
			m := strings.NewReplacer("NAME", name, "PORT", fmt.Sprint(8100+i)).Replace(churnPod)
			if _, err := get(insp + "/write?path=/etc/kubernetes/manifests/" + name + ".yaml&data=" + url.QueryEscape(m)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < batch; i++ {
			v.ExpectEventAnywhere(events.ContainerStarted.With("pod", fmt.Sprintf("churn-%d-%d-kios-e2e", rounds, i)), 3*time.Minute)
		}
		for i := 0; i < batch; i++ {
			if _, err := get(insp + fmt.Sprintf("/remove?path=/etc/kubernetes/manifests/churn-%d-%d.yaml", rounds, i)); err != nil {
				t.Fatal(err)
			}
		}
		// The kubelet stops removed static pods within fileCheckFrequency
		// and their grace period.
		vmtest.Eventually(t, "churn pods gone", 2*time.Minute, func() error {
			r, err := fetchReport(insp)
			if err != nil {
				return err
			}
			for _, p := range r.Processes {
				if p.Exe == "/bin/demo" && strings.Contains(strings.Join(cmdline(p.Pid, insp), " "), "--listen=:81") {
					return fmt.Errorf("churn pod process %d still runs", p.Pid)
				}
			}
			return nil
		})
	}
	t.Logf("%d rounds of %d pods in %s", rounds, batch, d)

	vmtest.Eventually(t, "host processes settle", 2*time.Minute, func() error {
		r, err := fetchReport(insp)
		if err != nil {
			return err
		}
		if err := checkProcesses(r); err != nil {
			return err
		}
		// One shim per running pod (web, inspector, seccomp), and one
		// the system pods share (dhcp, ntp; grow completes on a RAM-only
		// node).
		shims := map[int][]string{} // shim PID: its children, to tell which pods it serves
		for _, p := range r.Processes {
			if p.Exe == "/bin/containerd-shim-runc-v2" && p.PPid == 1 {
				shims[p.Pid] = nil
			}
		}
		for _, p := range r.Processes {
			if _, ok := shims[p.PPid]; ok {
				shims[p.PPid] = append(shims[p.PPid], fmt.Sprintf("%s %s", p.Comm, p.Cgroup))
			}
		}
		if len(shims) != 4 {
			return fmt.Errorf("%d shims for 5 pods, want 4: the system pods share one; shims and their children: %v", len(shims), shims)
		}
		return nil
	})
}

// cmdline reads a host process's arguments through the inspector.
func cmdline(pid int, insp string) []string {
	body, err := get(fmt.Sprintf("%s/file?glob=/proc/%d/cmdline", insp, pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.ReplaceAll(body, `\u0000`, " "), " ")
}
