// This file boots and stops a system's VM in the lab: its network slot,
// its fresh disk overlays, and the clean-up that leaves the cluster
// ready for the next boot.

package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/vm"
)

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

// labIP is the address the lab's DHCP server keeps for labMAC.
var labIP = net.IPv4(10, 88, 0, 11)

// newLab prepares env for the comparison's boots: one TAP with a
// reserved address, which every boot uses in turn.
func newLab(env *lab.Env) (*labBoots, error) {
	if err := env.Lab.AddTAP(labTAP); err != nil {
		return nil, err
	}
	hw, _ := net.ParseMAC(labMAC)
	env.Lab.Reserve(hw, labIP)
	return &labBoots{env: env, cs: env.Client}, nil
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
	v, err = vm.Start(vm.Config{EFI: s.EFI, Cmdline: s.Cmdline, Loader: s.Loader, Disk: bootDisk, Disks: append(disks, s.Seeds...), Dir: dir, MemoryMiB: mib, CPUs: 2, TAP: labTAP, MAC: labMAC,
		Wrap: []string{"ip", "netns", "exec", l.env.Lab.Name}, Console: console, Extra: s.Extra})
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, func() { v.Stop(30 * time.Second) }, func() { l.forget(s.NodeName) })
	return v, stop, nil
}

// bootDisks makes the boot's fresh disk overlays in dir: the boot disk
// (kiOS on its disk) or the root disk (the baseline), so every boot
// starts from the same bytes.
func (s System) bootDisks(dir string) (bootDisk string, disks []string, err error) {
	if s.BootDisk != "" {
		if bootDisk, err = overlay(s.BootDisk, filepath.Join(dir, "boot.qcow2")); err != nil {
			return "", nil, err
		}
	}
	if s.Disk != "" {
		root, err := overlay(s.Disk, filepath.Join(dir, "root.qcow2"))
		if err != nil {
			return "", nil, err
		}
		disks = []string{root}
	}
	return bootDisk, disks, nil
}

// overlay makes a qcow2 copy-on-write layer over the raw image base.
func overlay(base, path string) (string, error) {
	abs, err := filepath.Abs(base)
	if err != nil {
		return "", err
	}
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", abs, "-F", "raw", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("disk overlay of %s: %v: %s", base, err, out)
	}
	return path, nil
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
	wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := l.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			l.cs.CoreV1().Pods("default").Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
		return len(pods.Items) == 0, nil
	})
}
