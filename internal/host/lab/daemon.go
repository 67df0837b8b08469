// Package lab is `kios up`, `kios load` and `kios down`: a local cluster
// of kiOS nodes on a lab network, with an upstream control plane and an
// image registry, run by a background process that owns it all.
package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/kube"
	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/join"
)

// Config says what cluster to run.
type Config struct {
	Dir   string // all state: pki, logs, consoles, kubeconfig
	Nodes int
	Parts string // out/parts, as for kios build
	Cache string // build/cache with the control plane's binaries
	// System names what the nodes boot: a NodeSystem registered with
	// RegisterSystem; empty is kiOS ("kios"). The development command
	// registers the benchmark's conventional Debian node as "baseline"
	// (make conformance NODE=baseline).
	System string
	// RAMOnly boots the kiOS nodes from the EFI alone, as a USB stick
	// does: no disk, nothing kept across a reboot, no upgrades in place.
	// Without it each node boots from a kios disk image of its own.
	RAMOnly bool
	// EFI is the kiOS image the disk nodes are installed with (kios
	// build output); empty: built from Parts.
	EFI string
}

// Files of the state directory.
const (
	PIDFile      = "lab.pid"
	ProgressFile = "progress"
	Kubeconfig   = "kubeconfig"
	RegistryFile = "registry" // host:port of the registry's forward
	RegistryLab  = "10.88.0.1:5000"
)

func nsName(dir string) string {
	abs, _ := filepath.Abs(dir)
	h := uint32(2166136261)
	for _, c := range abs {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("kios-lab-%08x", h)
}

// progress appends one line to the progress file the parent prints.
type progress struct {
	f     *os.File
	start time.Time
}

func (p *progress) say(format string, args ...any) {
	fmt.Fprintf(p.f, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// Daemon runs the cluster until SIGTERM or SIGINT, then removes every
// VM, process, forward and the lab namespace.
func Daemon(c Config) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	pf, err := os.OpenFile(filepath.Join(c.Dir, ProgressFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer pf.Close()
	p := &progress{f: pf, start: time.Now()}
	if err := os.WriteFile(filepath.Join(c.Dir, PIDFile), []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(c.Dir, PIDFile))
	stop := make(chan os.Signal, 2)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	var cleanups []func()
	defer func() {
		p.say("stopping")
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		p.say("stopped")
	}()
	err = run(c, p, stop, &cleanups)
	if err != nil {
		p.say("failed: %v", err)
	}
	return err
}

func run(c Config, p *progress, stop chan os.Signal, cleanups *[]func()) error {
	ctx := context.Background()
	env, err := StartEnv(ctx, c.Dir, c.Cache, p.say)
	if env != nil {
		*cleanups = append(*cleanups, env.Close)
	}
	if err != nil {
		return err
	}
	l, cs := env.Lab, env.Client
	boot, err := nodeImages(ctx, c, env)
	if err != nil {
		return err
	}
	p.say("node image built: %s", boot.Image)
	var vms []*vm.VM
	*cleanups = append(*cleanups, func() {
		for _, v := range vms {
			v.Stop(60 * time.Second)
		}
	})
	var names []string
	for i := 1; i <= c.Nodes; i++ {
		tap := fmt.Sprintf("tap%d", i)
		if err := l.AddTAP(tap); err != nil {
			return err
		}
		mac := fmt.Sprintf("52:54:00:88:00:%02x", 10+i)
		hw, _ := net.ParseMAC(mac)
		l.Reserve(hw, net.IPv4(10, 88, 0, byte(10+i)))
		console, err := os.Create(filepath.Join(c.Dir, fmt.Sprintf("node-%d.console", i)))
		if err != nil {
			return err
		}
		dir := filepath.Join(c.Dir, fmt.Sprintf("node-%d", i))
		os.MkdirAll(dir, 0o755)
		vc, name, err := boot.Node(i, dir)
		if err != nil {
			return err
		}
		vc.Dir, vc.MemoryMiB, vc.CPUs, vc.TAP, vc.MAC, vc.Console = dir, 2048, 2, tap, mac, console
		vc.Wrap = []string{"ip", "netns", "exec", l.Name}
		v, err := vm.Start(vc)
		if err != nil {
			return err
		}
		vms = append(vms, v)
		names = append(names, name)
		p.say("node %s booting at 10.88.0.%d (console: %s)", name, 10+i, console.Name())
	}
	reported := map[string]bool{}
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	ready := false
	for {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		_, _ = controlplane.ApproveServingCSRs(ctx, cs)
		routePods(ctx, cs, l, reported, p)
		n := readyNodes(ctx, cs, names, reported, p)
		if n == len(names) && !ready {
			ready = true
			p.say("ready: %d node(s); kubeconfig %s", n, filepath.Join(c.Dir, Kubeconfig))
		}
	}
}

func readyNodes(ctx context.Context, cs kubernetes.Interface, names []string, reported map[string]bool, p *progress) int {
	n := 0
	for _, name := range names {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if !reported[name+"/registered"] {
			reported[name+"/registered"] = true
			p.say("node %s registered (kubelet %s)", name, node.Status.NodeInfo.KubeletVersion)
		}
		if ready, _ := kube.Ready(node); ready {
			n++
			if !reported[name+"/ready"] {
				reported[name+"/ready"] = true
				p.say("node %s Ready", name)
			}
		}
	}
	return n
}

// routePods routes each node's pod network through the gateway to the
// node once the node has one (the controller manager allocates it at
// registration), so pods on different nodes reach each other.
func routePods(ctx context.Context, cs kubernetes.Interface, l *labnet.Lab, reported map[string]bool, p *progress) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, n := range nodes.Items {
		key := n.Name + "/routed " + n.Spec.PodCIDR
		if n.Spec.PodCIDR == "" || reported[key] {
			continue
		}
		_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if err := l.RoutePods(cidr, net.ParseIP(a.Address)); err != nil {
				p.say("node %s: %v", n.Name, err)
				break
			}
			reported[key] = true
			p.say("node %s: pod network %s routed to %s", n.Name, cidr, a.Address)
			break
		}
	}
}

// MirrorConfig is containerd's hosts.toml that makes the lab registry a
// mirror of every registry (certs.d/_default).
var MirrorConfig = fmt.Sprintf("# The kiOS lab registry mirrors every registry.\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", RegistryLab)

// BuildNode makes the nodes' EFI in dir: trusts the lab registry as a
// mirror of every registry and primes the CNI installer. It joins with
// jp (kios up) when given; etc are more files for /etc (path under it ->
// content, mode 0600), e.g. a join done ahead (the comparison benchmark).
func BuildNode(dir, parts string, jp *join.Params, etc map[string][]byte) (string, error) {
	cfg := filepath.Join(dir, "node-config")
	write := func(p string, b []byte, mode os.FileMode) error {
		dst := filepath.Join(cfg, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, mode)
	}
	if err := write("containerd/certs.d/_default/hosts.toml", []byte(MirrorConfig), 0o644); err != nil {
		return "", err
	}
	for p, b := range etc {
		if err := write(p, b, 0o600); err != nil {
			return "", err
		}
	}
	efi := filepath.Join(dir, "node.efi")
	err := image.Build(image.Options{Parts: parts, Config: cfg, Output: efi, Join: jp,
		Images: []string{filepath.Join(parts, "extra", "cni-installer.tar")}})
	return efi, err
}

func glob(dir, pattern string) string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) == 0 {
		return filepath.Join(dir, pattern)
	}
	return m[0]
}
