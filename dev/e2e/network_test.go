package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/netconf"
)

// Two machines the lab's DHCP server does not answer, as on a segment
// without DHCP, boot the one stock EFI: one with static settings in its
// network section (NoCloud volume), one with the kernel's ip= and only a
// join in its volume. Both join the lab cluster at the addresses they
// were given, under the names they were given, without a single DHCP
// request from the first.
func TestNetworkStatic(t *testing.T) {
	vmtest.Need(t, "boots two VMs and a control plane")
	ctx := context.Background()
	dir := t.TempDir()
	env, err := lab.StartEnv(ctx, filepath.Join(dir, "lab"), filepath.Join(root, "build", "cache"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	if err := lab.Load(env.Dir, need(t, "out/parts/extra/cni-installer.tar"), io.Discard); err != nil {
		t.Fatal(err)
	}
	stock := filepath.Join(dir, "stock.efi")
	if out, err := exec.Command(need(t, "out/kios"), "build", "-o", stock).CombinedOutput(); err != nil {
		t.Fatalf("kios build: %v\n%s", err, out)
	}
	gw := labnet.Gateway.String()
	const staticMAC, ipMAC = "52:54:00:88:00:41", "52:54:00:88:00:42"
	asked := map[string]func() int{}
	for _, m := range []string{staticMAC, ipMAC} {
		hw, _ := net.ParseMAC(m)
		asked[m] = env.Lab.NoDHCP(hw)
	}

	static := env.NodeConfig("static-node")
	static.Network = &netconf.Network{
		Links:       []netconf.Link{{MAC: staticMAC, Addressing: netconf.Addressing{Addresses: []string{"10.88.0.61/24"}, Routes: []netconf.Route{{To: "default", Via: gw}}}}},
		Nameservers: []string{gw},
		OtherLinks:  &netconf.Auto{DHCP4: new(bool), SLAAC: new(bool)},
	}
	viaIP := env.NodeConfig("") // the name comes from ip=
	seeds := map[string]string{}
	for name, nc := range map[string]any{"static": static, "ip": viaIP} {
		b, err := yaml.Marshal(nc)
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = filepath.Join(dir, name+"-seed.img")
		if err := lab.SeedVolume(seeds[name], b, "i-"+name, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tap := range []string{"tap1", "tap2"} {
		if err := env.Lab.AddTAP(tap); err != nil {
			t.Fatal(err)
		}
	}
	wrap := []string{"ip", "netns", "exec", env.Lab.Name}
	staticVM := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{seeds["static"]}, MemoryMiB: 2048, CPUs: 1, TAP: "tap1", MAC: staticMAC, Wrap: wrap})
	ipVM := vmtest.Boot(t, vm.Config{EFI: stock, Loader: need(t, "out/parts/loader.efi"), Disks: []string{seeds["ip"]}, MemoryMiB: 2048, CPUs: 1,
		Cmdline: image.DefaultCmdline + " ip=10.88.0.62::" + gw + ":255.255.255.0:ip-node:eth0:off:" + gw,
		TAP:     "tap2", MAC: ipMAC, Wrap: wrap})
	staticVM.ExpectEventAnywhere(events.ConfigApplied.With("source", "volume", "hostname", "static-node"), 4*time.Minute)
	ipVM.ExpectEventAnywhere(events.Hostname.With("name", "ip-node"), 4*time.Minute)
	// The network pod's report of each link, on the console.
	staticVM.ExpectEventAnywhere(events.NetworkLink.With("link", "eth0", "from", "network.links[0]", "does", "addresses=10.88.0.61/24 route=default via "+gw+" metric 0"), 4*time.Minute)
	ipVM.ExpectEventAnywhere(events.NetworkLink.With("link", "eth0", "from", "ip=", "does", "addresses=10.88.0.62/24 route=default via "+gw+" metric 0"), 4*time.Minute)

	cs := env.Client
	for name, ip := range map[string]string{"static-node": "10.88.0.61", "ip-node": "10.88.0.62"} {
		vmtest.Eventually(t, name+" Ready at "+ip, 10*time.Minute, func() error {
			n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			var internal []string
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					internal = append(internal, a.Address)
				}
			}
			if len(internal) != 1 || internal[0] != ip {
				return fmt.Errorf("InternalIP %v, want [%s]", internal, ip)
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
					return fmt.Errorf("not Ready: %s", c.Message)
				}
			}
			return nil
		})
	}
	// Both were Ready with no answer from the lab's DHCP server; the
	// static node, whose section turns DHCP off, never asked.
	if n := asked[staticMAC](); n != 0 {
		t.Errorf("the static node sent %d DHCP requests, want none", n)
	}
	if n := asked[ipMAC](); n != 0 {
		t.Errorf("the ip= node sent %d DHCP requests, want none (ip= static settings are all it gets)", n)
	}
	for name, v := range map[string]*vmtest.VM{"static": staticVM, "ip=": ipVM} {
		if e := v.Events(events.NetworkLink); len(e) != 1 {
			t.Errorf("the %s node configured %d links (%v), want eth0 alone", name, len(e), e)
		}
		if e := v.Events(events.NetworkFallback); len(e) != 0 {
			t.Errorf("the %s node fell back: %v", name, e)
		}
	}
}
