package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	"kios.dev/kios/internal/shared/nodeconfig"
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
	env, stock := networkLab(t, dir)
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
	wrap := env.Wrap()
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

// networkLab starts a lab with its control plane, the CNI installer and
// the demo image in its registry, and builds the stock EFI.
func networkLab(t *testing.T, dir string) (*lab.Env, string) {
	t.Helper()
	env, err := lab.StartEnv(context.Background(), filepath.Join(dir, "lab"), filepath.Join(root, "build", "cache"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	for _, archive := range []string{"out/parts/extra/cni-installer.tar", "out/demo-image.tar"} {
		if err := lab.Load(env.Dir, need(t, archive), io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	stock := filepath.Join(dir, "stock.efi")
	if out, err := exec.Command(need(t, "out/kios"), "build", "-o", stock).CombinedOutput(); err != nil {
		t.Fatalf("kios build: %v\n%s", err, out)
	}
	return env, stock
}

// seedOf writes a NoCloud volume holding docs (YAML documents).
func seedOf(t *testing.T, path string, docs ...any) string {
	t.Helper()
	var all []byte
	for _, d := range docs {
		b, ok := d.(string)
		if !ok {
			y, err := yaml.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			b = string(y)
		}
		all = append(append(all, "---\n"...), b...)
	}
	if err := lab.SeedVolume(path, all, "i-"+filepath.Base(path), ""); err != nil {
		t.Fatal(err)
	}
	return path
}

// demoPod serves HTTP on the node's port 80.
const demoPod = `apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default}
spec:
  hostNetwork: true
  containers:
  - {name: demo, image: localhost/kios/demo:v1, args: ["--listen=:80"]}
`

// Two cards bonded active-backup carry the node's one address. While
// the lab asks a pod on it for a page every 50 ms, the active card's
// cable is pulled (QMP set_link off), put back, and the other's pulled:
// the answers resume after each failover, and the longest silence after
// each is measured.
func TestNetworkBond(t *testing.T) {
	vmtest.Need(t, "boots a VM with two NICs and a control plane")
	ctx := context.Background()
	dir := t.TempDir()
	env, stock := networkLab(t, dir)
	gw := labnet.Gateway.String()
	const macA, macB, addr = "52:54:00:88:00:51", "52:54:00:88:00:52", "10.88.0.81"
	nc := env.NodeConfig("bond-node")
	nc.Network = &netconf.Network{
		Bonds: []netconf.Bond{{Name: "bond0", Mode: netconf.ModeActiveBackup, Members: []string{macA, macB}, MIIMon: 100,
			Addressing: netconf.Addressing{Addresses: []string{addr + "/24"}, Routes: []netconf.Route{{To: "default", Via: gw}}}}},
		OtherLinks: &netconf.Auto{DHCP4: new(bool), SLAAC: new(bool)},
	}
	seed := seedOf(t, filepath.Join(dir, "bond-seed.img"), nc, demoPod)
	for _, tap := range []string{"tap1", "tap2"} {
		if err := env.Lab.AddTAP(tap); err != nil {
			t.Fatal(err)
		}
	}
	v := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{seed}, MemoryMiB: 2048, CPUs: 1, TAP: "tap1", MAC: macA,
		NICs: []vm.NIC{{TAP: "tap2", MAC: macB}}, Wrap: env.Wrap()})
	v.ExpectEventAnywhere(events.NetworkLink.With("link", "bond0", "from", "network.bonds[0]"), 4*time.Minute)

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: env.Lab.DialContext, DisableKeepAlives: true}}
	ask := func() bool {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	vmtest.Eventually(t, "the demo pod answers on the bond", 10*time.Minute, func() error {
		if !ask() {
			return fmt.Errorf("no answer from %s", addr)
		}
		return nil
	})
	var mu sync.Mutex
	var answered []time.Time
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if ask() {
				mu.Lock()
				answered = append(answered, time.Now())
				mu.Unlock()
			}
		}
	}()
	// silence is the longest time without an answer from 1 s before at
	// to until, and whether answers came after it.
	silence := func(at, until time.Time) (time.Duration, bool) {
		mu.Lock()
		defer mu.Unlock()
		last, longest, after := at.Add(-time.Second), time.Duration(0), false
		for _, a := range answered {
			if a.Before(last) || a.After(until) {
				continue
			}
			longest = max(longest, a.Sub(last))
			last, after = a, a.After(at)
		}
		return max(longest, until.Sub(last)), after
	}
	cut := func(netdev string, up bool) time.Time {
		if err := v.SetLink(netdev, up); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	// Where the lab's bridge last heard the bond's address (the first
	// card's MAC): the card that carries the traffic.
	port := func() string {
		out, err := env.Lab.Command(ctx, "bridge", "fdb", "show", "br", labnet.BridgeName).CombinedOutput()
		if err != nil {
			t.Fatalf("bridge fdb: %v: %s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == macA && f[1] == "dev" {
				return f[2]
			}
		}
		return ""
	}
	time.Sleep(5 * time.Second)
	if p := port(); p != "tap1" {
		t.Errorf("before the first cut the bond is heard on %q, want tap1", p)
	}
	first := cut("net0", false)
	time.Sleep(20 * time.Second)
	if p := port(); p != "tap2" {
		t.Errorf("after card 1 was pulled the bond is heard on %q, want tap2", p)
	}
	cut("net0", true)
	time.Sleep(10 * time.Second)
	second := cut("net1", false)
	time.Sleep(20 * time.Second)
	if p := port(); p != "tap1" {
		t.Errorf("after card 2 was pulled the bond is heard on %q, want tap1", p)
	}
	end := time.Now()
	close(stop)
	<-done
	for _, c := range []struct {
		what     string
		from, to time.Time
	}{{"card 1 pulled", first, first.Add(20 * time.Second)}, {"card 2 pulled", second, end}} {
		gap, resumed := silence(c.from, c.to)
		t.Logf("%s: the longest time without an answer was %.2f s", c.what, gap.Seconds())
		if !resumed || gap > 10*time.Second {
			t.Errorf("%s: answers resumed %v, longest silence %.1f s; want answers again within 10 s", c.what, resumed, gap.Seconds())
		}
	}
	if e := v.Events(events.NetworkFallback); len(e) != 0 {
		t.Errorf("the node fell back: %v", e)
	}
	_ = ctx
}

// A node whose one card is a VLAN trunk reaches the cluster only through
// VLAN 100 on it. Its cable leads to a second kiOS machine, configured
// by its own network section as the VLAN's router: the Debian kernel's
// 802.1Q on both ends (this machine's kernel has none for the lab).
func TestNetworkVLAN(t *testing.T) {
	vmtest.Need(t, "boots two VMs and a control plane")
	ctx := context.Background()
	dir := t.TempDir()
	env, stock := networkLab(t, dir)
	gw := labnet.Gateway.String()
	const routerLab, routerTrunk, nodeTrunk = "52:54:00:88:00:61", "52:54:00:88:00:62", "52:54:00:88:00:63"
	off := &netconf.Auto{DHCP4: new(bool), SLAAC: new(bool)}
	router := nodeconfig.NodeConfig{APIVersion: nodeconfig.APIVersion, Kind: nodeconfig.Kind, Hostname: "vlan-router",
		Network: &netconf.Network{
			Links: []netconf.Link{
				{MAC: routerLab, Addressing: netconf.Addressing{Addresses: []string{"10.88.0.91/24"}, Routes: []netconf.Route{{To: "default", Via: gw}}}},
				{MAC: routerTrunk},
			},
			VLANs:      []netconf.VLAN{{Name: "vlan100", Link: routerTrunk, ID: 100, Addressing: netconf.Addressing{Addresses: []string{"10.88.100.1/24"}}}},
			OtherLinks: off,
		}}
	node := env.NodeConfig("vlan-node")
	node.Network = &netconf.Network{
		Links: []netconf.Link{{MAC: nodeTrunk}},
		VLANs: []netconf.VLAN{{Name: "vlan100", Link: nodeTrunk, ID: 100,
			Addressing: netconf.Addressing{Addresses: []string{"10.88.100.5/24"}, Routes: []netconf.Route{{To: "default", Via: "10.88.100.1"}}}}},
		Nameservers: []string{gw},
		OtherLinks:  off,
	}
	_, vlanNet, _ := net.ParseCIDR("10.88.100.0/24")
	if err := env.Lab.RoutePods(vlanNet, net.ParseIP("10.88.0.91")); err != nil {
		t.Fatal(err)
	}
	if err := env.Lab.AddTAP("tap1"); err != nil {
		t.Fatal(err)
	}
	a, b := fmt.Sprintf("127.0.0.1:%d", vmtest.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", vmtest.FreePort(t))
	routerVM := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{seedOf(t, filepath.Join(dir, "router-seed.img"), router)}, MemoryMiB: 1536, CPUs: 1,
		TAP: "tap1", MAC: routerLab, NICs: []vm.NIC{{Local: a, Remote: b, MAC: routerTrunk}}, Wrap: env.Wrap()})
	// The node's first card is QEMU's user network, restricted and
	// without any address (otherLinks off): its trunk is its way out.
	nodeVM := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{seedOf(t, filepath.Join(dir, "node-seed.img"), node)}, MemoryMiB: 2048, CPUs: 1,
		NICs: []vm.NIC{{Local: b, Remote: a, MAC: nodeTrunk}}, Wrap: env.Wrap()})
	routerVM.ExpectEventAnywhere(events.NetworkLink.With("link", "vlan100", "from", "network.vlans[0]", "does", "addresses=10.88.100.1/24"), 4*time.Minute)
	nodeVM.ExpectEventAnywhere(events.NetworkLink.With("link", "vlan100", "from", "network.vlans[0]", "does", "addresses=10.88.100.5/24 route=default via 10.88.100.1 metric 0"), 4*time.Minute)
	vmtest.Eventually(t, "vlan-node Ready at 10.88.100.5", 10*time.Minute, func() error {
		n, err := env.Client.CoreV1().Nodes().Get(ctx, "vlan-node", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address != "10.88.100.5" {
				return fmt.Errorf("InternalIP %s, want 10.88.100.5", a.Address)
			}
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				return fmt.Errorf("not Ready: %s", c.Message)
			}
		}
		return nil
	})
	for name, v := range map[string]*vmtest.VM{"router": routerVM, "node": nodeVM} {
		if e := v.Events(events.NetworkFallback); len(e) != 0 {
			t.Errorf("the %s fell back: %v", name, e)
		}
		if e := v.Events(events.NetworkError); len(e) != 0 {
			t.Errorf("the %s: %v", name, e)
		}
	}
}

// A dual-stack segment: the lab's DHCPv4 server, and Debian's dnsmasq
// sending router advertisements for fd00:88::/64 and answering DHCPv6.
// A node whose link asks for DHCPv4, DHCPv6 and SLAAC gets an address
// of each kind, reports an IPv4 and an IPv6 node IP, and a pod on it
// answers over IPv6 from the lab.
func TestNetworkIPv6(t *testing.T) {
	vmtest.Need(t, "boots a VM, a control plane and dnsmasq")
	ctx := context.Background()
	dir := t.TempDir()
	env, stock := networkLab(t, dir)
	if out, err := env.Lab.Command(ctx, "ip", "-6", "addr", "add", "fd00:88::1/64", "dev", labnet.BridgeName, "nodad").CombinedOutput(); err != nil {
		t.Fatalf("the lab's IPv6 address: %v: %s", err, out)
	}
	dctx, stopDnsmasq := context.WithCancel(ctx)
	dnsmasq := env.Lab.Command(dctx, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--port=0", "--user=root",
		"--interface="+labnet.BridgeName, "--bind-interfaces", "--enable-ra", "--ra-param="+labnet.BridgeName+",5,600",
		"--dhcp-range=fd00:88::100,fd00:88::1ff,slaac,64,10m", "--dhcp-option=option6:dns-server,[fd00:88::1]",
		"--dhcp-leasefile="+filepath.Join(dir, "dnsmasq.leases"), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-facility=-", "--log-dhcp")
	var dlog syncBuffer
	dnsmasq.Stdout, dnsmasq.Stderr = &dlog, &dlog
	if err := dnsmasq.Start(); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	t.Cleanup(func() {
		stopDnsmasq()
		dnsmasq.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", dlog.String())
		}
	})
	const mac = "52:54:00:88:00:71"
	nc := env.NodeConfig("v6-node")
	nc.Network = &netconf.Network{
		Links:      []netconf.Link{{MAC: mac, Addressing: netconf.Addressing{DHCP4: true, DHCP6: true, SLAAC: true}}},
		OtherLinks: &netconf.Auto{DHCP4: new(bool), SLAAC: new(bool)},
	}
	if err := env.Lab.AddTAP("tap1"); err != nil {
		t.Fatal(err)
	}
	v := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{seedOf(t, filepath.Join(dir, "v6-seed.img"), nc, demoPod)}, MemoryMiB: 2048, CPUs: 1,
		TAP: "tap1", MAC: mac, Wrap: env.Wrap()})
	dhcp6 := v.ExpectEventAnywhere(events.NetworkLease.With("family", "ipv6", "source", "dhcp6"), 5*time.Minute)
	slaac := v.ExpectEventAnywhere(events.NetworkLease.With("family", "ipv6", "source", "slaac"), 5*time.Minute)
	v.ExpectEventAnywhere(events.NetworkLease.With("family", "ipv4", "source", "dhcp4"), time.Minute)
	inLab := netip.MustParsePrefix("fd00:88::/64")
	for _, e := range []events.Event{dhcp6, slaac} {
		p, err := netip.ParsePrefix(e.Get("address"))
		if err != nil || !inLab.Contains(p.Addr()) {
			t.Errorf("%s: address %q, want one in %s", e, e.Get("address"), inLab)
		}
	}
	var v6 string
	vmtest.Eventually(t, "v6-node Ready with an IPv4 and an IPv6 node IP", 10*time.Minute, func() error {
		n, err := env.Client.CoreV1().Nodes().Get(ctx, "v6-node", metav1.GetOptions{})
		if err != nil {
			return err
		}
		var four, six []string
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is6() && inLab.Contains(ip) {
				six = append(six, a.Address)
			} else if err == nil && ip.Is4() {
				four = append(four, a.Address)
			}
		}
		if len(four) != 1 || len(six) != 1 {
			return fmt.Errorf("InternalIPs %v", n.Status.Addresses)
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				return fmt.Errorf("not Ready: %s", c.Message)
			}
		}
		v6 = six[0]
		return nil
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: env.Lab.DialContext}}
	vmtest.Eventually(t, "the demo pod answers over IPv6", 5*time.Minute, func() error {
		resp, err := client.Get("http://[" + v6 + "]/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
