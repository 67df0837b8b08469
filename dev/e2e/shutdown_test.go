package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// gracefulPod records its preStop hook and SIGTERM handling (2 s each)
// on the data partition. NAME, NS, PORT and PRIORITY are filled in. A
// static pod needs its priority spelled out: without an API server
// nothing resolves priorityClassName, and the kubelet orders the
// shutdown by the number.
const gracefulPod = `apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: NS}
spec:
  hostNetwork: true
  PRIORITY
  terminationGracePeriodSeconds: 15
  containers:
  - name: graceful
    image: localhost/kios-dev/inspector:v1
    imagePullPolicy: Never
    args: ["--graceful=NAME", "--record=/record", "--listen=:PORT"]
    lifecycle:
      preStop:
        exec: {command: ["/bin/inspector", "--prestop=NAME", "--record=/record"]}
    volumeMounts:
    - {name: record, mountPath: /record}
  volumes:
  - name: record
    hostPath: {path: /var/lib/kios-test, type: DirectoryOrCreate}
`

func graceful(name, ns, port, priority string) string {
	return strings.NewReplacer("NAME", name, "NS", ns, "PORT", port, "PRIORITY", priority).Replace(gracefulPod)
}

// TestShutdown powers a node off through each trigger: the ACPI power
// button, the system socket and Ctrl-Alt-Del. The upstream kubelet must
// stop the pods (preStop hooks and SIGTERM handlers run to completion,
// critical pods last) before PID 1 goes on, and every next boot finds
// the data partition clean.
func TestShutdown(t *testing.T) {
	vmtest.Need(t, "boots VMs")
	vmtest.Parallel(t)
	efi := sharedImage(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	manifests := filepath.Join(cfg, "kubernetes", "manifests")
	os.MkdirAll(manifests, 0o755)
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-shutdown\n"), 0o644)
	os.WriteFile(filepath.Join(manifests, "graceful.yaml"), []byte(graceful("normal", "default", "9092", "")), 0o644)
	os.WriteFile(filepath.Join(manifests, "graceful-critical.yaml"),
		[]byte(graceful("critical", "kube-system", "9093", "priorityClassName: system-node-critical\n  priority: 2000001000")), 0o644)
	img := filepath.Join(dir, "disk.img")
	if out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", efi, "--config", cfg, "--size", "1G", "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}
	inspPort := vmtest.FreePort(t)
	config := vm.Config{Disk: img, MemoryMiB: 2048, CPUs: 2, Forwards: []vm.Forward{{Host: inspPort, Guest: 9090}}}
	insp := fmt.Sprintf("http://127.0.0.1:%d", inspPort)
	podsStopped := like(events.PodsStopped, "how", re(`\S+`), "took", "*")
	ready := func(v *vmtest.VM) {
		t.Helper()
		v.ExpectEvent(events.DataPartition.With("status", "mounted", "device", "/dev/vda2", "journal", "clean"), 4*time.Minute)
		v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "normal-kios-shutdown"), 4*time.Minute)
		v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "critical-kios-shutdown"), 4*time.Minute)
		v.ExpectEventAnywhere(events.InhibitorTaken.With("who", "kubelet", "what", "shutdown", "mode", "delay"), 4*time.Minute)
		vmtest.Eventually(t, "inspector", 3*time.Minute, func() error { _, err := get(insp + "/report"); return err })
	}
	poweredOff := func(v *vmtest.VM, reason, cmd string) {
		t.Helper()
		v.ExpectEvent(events.ShutdownStart.With("reason", reason), time.Minute)
		v.ExpectEvent(events.PrepareForShutdown.With("clients", "1", "locks", "1", "max_delay", "30s", "slack", "5s"), 30*time.Second)
		if stopped := v.ExpectEvent(podsStopped, time.Minute); stopped.Get("how") != "released" {
			t.Errorf("the kubelet did not release its lock: %s", stopped)
		}
		v.ExpectEvent(events.ShutdownFinal.With("cmd", cmd, "mounts_left", "0"), time.Minute)
	}

	v := vmtest.Boot(t, config)
	ready(v)
	t.Run("0x03 and 0x04 restart the kubelet and the runtime, pods keep running", func(t *testing.T) {
		if _, err := get(insp + "/syssock?byte=3"); err != nil {
			t.Fatal(err)
		}
		v.ExpectEvent(like(events.ServiceStarted, "name", "kubelet", "pid", re(`\d+`), "restarts", "1"), time.Minute)
		v.ExpectEvent(events.InhibitorTaken.With("who", "kubelet"), 2*time.Minute) // the new kubelet's lock
		if _, err := get(insp + "/syssock?byte=4"); err != nil {
			t.Fatal(err)
		}
		v.ExpectEvent(like(events.ServiceStarted, "name", "containerd", "pid", re(`\d+`), "restarts", "1"), time.Minute)
		mark := v.Mark()
		vmtest.Holds(t, "no pod restarted after the kubelet and containerd restarts", 20*time.Second, func() error {
			for _, l := range v.Lines()[mark:] {
				if isEvent(l.Text, events.ContainerStarted.With("pod", "normal-kios-shutdown")) {
					return fmt.Errorf("a pod was restarted: %s", l.Text)
				}
			}
			return nil
		})
		if _, err := get(insp + "/report"); err != nil {
			t.Errorf("inspector pod after the restarts: %v", err)
		}
	})

	if err := v.Powerdown(); err != nil {
		t.Fatal(err)
	}
	poweredOff(v, "power-button", "0x4321fedc")
	select {
	case <-v.Done():
	case <-time.After(vmtest.Scale(time.Minute)):
		t.Fatal("the VM did not power off by itself")
	}

	v = vmtest.Boot(t, config)
	ready(v)
	t.Run("pods stopped in order within the grace period", func(t *testing.T) {
		records := shutdownRecords(t, files(t, insp+"/file?glob=/var/lib/kios-test/shutdown.log"))
		t.Logf("shutdown records: %v", records)
		at := func(name, ev string) time.Duration {
			d, ok := records[name+" "+ev]
			if !ok {
				t.Errorf("no %s %s record", name, ev)
			}
			return d
		}
		order := []string{"normal prestop-start", "normal prestop-end", "normal term-start", "normal term-end",
			"critical prestop-start", "critical prestop-end", "critical term-start", "critical term-end"}
		for i := 1; i < len(order); i++ {
			a, b := strings.Fields(order[i-1]), strings.Fields(order[i])
			if at(a[0], a[1]) > at(b[0], b[1]) {
				t.Errorf("%s came after %s", order[i-1], order[i])
			}
		}
		if total := at("critical", "term-end") - at("normal", "prestop-start"); total > 30*time.Second {
			t.Errorf("stopping the pods took %s, more than shutdownGracePeriod (30s)", total)
		}
	})

	t.Run("0x01 with the kubelet killed during shutdown", func(t *testing.T) {
		if _, err := get(insp + "/syssock?byte=1&kill=/bin/kubelet&after=300"); err != nil {
			t.Fatal(err)
		}
		v.ExpectEvent(events.ShutdownStart.With("reason", "system-socket"), time.Minute)
		stopped := v.ExpectEvent(podsStopped, time.Minute)
		took, err := stopped.Float("took")
		if err != nil {
			t.Fatal(err)
		}
		if took > 35 {
			t.Errorf("the wait outlasted the maximum delay and its 5 s slack: %s", stopped)
		}
		v.ExpectEvent(events.ShutdownFinal.With("cmd", "0x4321fedc", "mounts_left", "0"), time.Minute)
		select {
		case <-v.Done():
		case <-time.After(vmtest.Scale(time.Minute)):
			t.Fatal("the VM did not power off by itself")
		}
	})

	v = vmtest.Boot(t, config)
	ready(v)
	t.Run("Ctrl-Alt-Del reboots", func(t *testing.T) {
		if err := v.CtrlAltDel(); err != nil {
			t.Fatal(err)
		}
		poweredOff(v, "ctrl-alt-del", "0x1234567")
		v.ExpectEvent(events.InitStart.With("pid", "1"), 3*time.Minute) // the same QEMU, booting again
		v.ExpectEvent(events.DataPartition.With("status", "mounted", "device", "/dev/vda2", "journal", "clean"), 4*time.Minute)
	})
}

// shutdownRecords parses "NAME EVENT UNIXNANO" lines of the first
// shutdown (from the first preStop record on, the first occurrence of
// each event) into times relative to that first record.
func shutdownRecords(t *testing.T, log string) map[string]time.Duration {
	out := map[string]time.Duration{}
	var first int64
	lines := strings.Split(strings.TrimSpace(log), "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "normal prestop-start") && start == 0 {
			start = i
		}
	}
	for _, l := range lines[start:] {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		ns, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Errorf("bad record %q", l)
			continue
		}
		if first == 0 {
			first = ns
		}
		if _, seen := out[f[0]+" "+f[1]]; !seen {
			out[f[0]+" "+f[1]] = time.Duration(ns - first)
		}
	}
	return out
}
