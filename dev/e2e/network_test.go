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
	"slices"
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
	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/netconf"
)

// No DHCP server answers either machine, which boot the one stock EFI.
// The first is given its lab address by the kernel's ip= (its volume
// holds only the join and a VLAN over a bond of its second and third
// cards); it joins the cluster under the name ip= gave it without a
// single DHCP request, and routes VLAN 100. The second's only way out
// is a VLAN trunk: two cards cabled to the first's two, bonded 802.3ad
// on both ends (each kernel is the other's LACP partner); its network
// section gives it a static address on VLAN 100 only, through which it
// joins the cluster too. The Debian kernel's 802.1Q and bonding on both
// ends (this machine's kernel has neither for the lab).
func TestNetworkStaticVLAN(t *testing.T) {
	vmtest.Need(t, "boots two VMs and a control plane")
	ctx := context.Background()
	dir := t.TempDir()
	env, stock := networkLab(t, dir)
	gw := labnet.Gateway.String()
	const ipMAC, ipTrunk, ipTrunk2, vlanTrunk, vlanTrunk2 = "52:54:00:88:00:42", "52:54:00:88:00:43", "52:54:00:88:00:45", "52:54:00:88:00:44", "52:54:00:88:00:46"
	lacp := func(a, b string) []netconf.Bond {
		return []netconf.Bond{{Name: "bond0", Mode: netconf.Mode8023AD, Members: []string{a, b}, MIIMon: 100}}
	}
	hw, _ := net.ParseMAC(ipMAC)
	asked := env.Lab.NoDHCP(hw)
	off := &netconf.Auto{DHCP4: new(bool), SLAAC: new(bool)}

	router := env.NodeConfig("") // the name comes from ip=
	router.Network = &netconf.Network{
		Bonds: lacp(ipTrunk, ipTrunk2),
		VLANs: []netconf.VLAN{{Name: "vlan100", Link: "bond0", ID: 100, Addressing: netconf.Addressing{Addresses: []string{"10.88.100.1/24"}}}},
	}
	node := env.NodeConfig("vlan-node")
	node.Network = &netconf.Network{
		Bonds: lacp(vlanTrunk, vlanTrunk2),
		VLANs: []netconf.VLAN{{Name: "vlan100", Link: "bond0", ID: 100,
			Addressing: netconf.Addressing{Addresses: []string{"10.88.100.5/24"}, Routes: []netconf.Route{{To: "default", Via: "10.88.100.1"}}}}},
		Nameservers: []string{gw},
		OtherLinks:  off,
	}
	_, vlanNet, _ := net.ParseCIDR("10.88.100.0/24")
	if err := env.Lab.RoutePods(vlanNet, net.ParseIP("10.88.0.62")); err != nil {
		t.Fatal(err)
	}
	if err := env.Lab.AddTAP("tap1"); err != nil {
		t.Fatal(err)
	}
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", vmtest.FreePort(t)) }
	a, b, a2, b2 := port(), port(), port(), port()
	// Full duplex: 802.3ad leaves a port of unknown duplex out of LACP.
	ipVM := vmtest.Boot(t, vm.Config{EFI: stock, Loader: need(t, "out/parts/loader.efi"), Disks: []string{seedOf(t, filepath.Join(dir, "ip-seed.img"), router)},
		MemoryMiB: 2048, CPUs: 1, Cmdline: image.DefaultCmdline + " ip=10.88.0.62::" + gw + ":255.255.255.0:ip-node:eth0:off:" + gw,
		TAP: "tap1", MAC: ipMAC, NICs: []vm.NIC{{Local: a, Remote: b, MAC: ipTrunk, SpeedMbps: 1000}, {Local: a2, Remote: b2, MAC: ipTrunk2, SpeedMbps: 1000}}, Wrap: env.Wrap()})
	// The VLAN node's first card is QEMU's user network, restricted and
	// without any address (otherLinks off): its trunk is its way out.
	vlanVM := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{seedOf(t, filepath.Join(dir, "vlan-seed.img"), node)}, MemoryMiB: 2048, CPUs: 1,
		NICs: []vm.NIC{{Local: b, Remote: a, MAC: vlanTrunk, SpeedMbps: 1000}, {Local: b2, Remote: a2, MAC: vlanTrunk2, SpeedMbps: 1000}}, Wrap: env.Wrap()})
	ipVM.ExpectEventAnywhere(events.Hostname.With("name", "ip-node"), 4*time.Minute)
	ipVM.ExpectEventAnywhere(events.NetworkLink.With("link", "eth0", "from", "ip=", "does", "addresses=10.88.0.62/24 route=default via "+gw+" metric 0"), 4*time.Minute)
	ipVM.ExpectEventAnywhere(events.NetworkLink.With("link", "vlan100", "from", "network.vlans[0]", "does", "addresses=10.88.100.1/24"), time.Minute)
	vlanVM.ExpectEventAnywhere(events.NetworkLink.With("link", "vlan100", "from", "network.vlans[0]", "does", "addresses=10.88.100.5/24 route=default via 10.88.100.1 metric 0"), 4*time.Minute)
	// LACP: each bond aggregates both its ports with the other machine's
	// bond (whose address is its first card's) as partner.
	ipVM.ExpectEventAnywhere(events.NetworkBond.With("link", "bond0", "mode", "802.3ad", "ports", "2", "partner", vlanTrunk), 2*time.Minute)
	vlanVM.ExpectEventAnywhere(events.NetworkBond.With("link", "bond0", "mode", "802.3ad", "ports", "2", "partner", ipTrunk), 2*time.Minute)

	for name, ip := range map[string]string{"ip-node": "10.88.0.62", "vlan-node": "10.88.100.5"} {
		vmtest.Eventually(t, name+" Ready at "+ip, 10*time.Minute, func() error {
			four, six, err := nodeIPs(ctx, env, name)
			if err != nil {
				return err
			}
			if len(four) != 1 || four[0] != ip || len(six) != 0 {
				return fmt.Errorf("InternalIPs %v %v, want [%s]", four, six, ip)
			}
			return nil
		})
	}
	if n := asked(); n != 0 {
		t.Errorf("the ip= node sent %d DHCP requests, want none (ip= static settings are all it gets)", n)
	}
	for name, v := range map[string]*vmtest.VM{"ip= node": ipVM, "VLAN node": vlanVM} {
		for _, ev := range []events.Name{events.NetworkFallback, events.NetworkError, events.NetworkLease} {
			if e := v.Events(ev); len(e) != 0 {
				t.Errorf("the %s: %v", name, e)
			}
		}
	}
	if e := vlanVM.Events(events.NetworkLink); len(e) != 2 {
		t.Errorf("the VLAN node configured %d links (%v), want its bond and the VLAN", len(e), e)
	}
}

// Two cards bonded active-backup on a dual-stack segment: the lab's
// DHCPv4 server, and Debian's dnsmasq sending router advertisements for
// fd00:88::/64 and answering DHCPv6. The bond asks for DHCPv4, DHCPv6
// and SLAAC: the node gets an address of each kind, reports an IPv4 and
// an IPv6 node IP, and a pod on it answers over IPv6. Then, while the
// lab asks the pod for a page every 50 ms, the active card's cable is
// pulled (QMP set_link off), put back, and the other's pulled: the
// answers resume after each failover, and the longest silence after
// each is measured.
func TestNetworkBondDualStack(t *testing.T) {
	vmtest.Need(t, "boots a VM with two NICs, a control plane and dnsmasq")
	ctx := context.Background()
	dir := t.TempDir()
	env, stock := networkLab(t, dir)
	startDnsmasq(t, ctx, env, dir)
	const macA, macB, addr = "52:54:00:88:00:51", "52:54:00:88:00:52", "10.88.0.81"
	hw, _ := net.ParseMAC(macA) // the bond's address is its first card's
	env.Lab.Reserve(hw, net.ParseIP(addr))
	nc := env.NodeConfig("bond-node")
	nc.Network = &netconf.Network{
		Bonds: []netconf.Bond{{Name: "bond0", Mode: netconf.ModeActiveBackup, Members: []string{macA, macB}, MIIMon: 100,
			Addressing: netconf.Addressing{DHCP4: true, DHCP6: true, SLAAC: true}}},
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
	v.ExpectEventAnywhere(events.NetworkLink.With("link", "bond0", "from", "network.bonds[0]", "does", "dhcp4 dhcp6 slaac"), 4*time.Minute)
	v.ExpectEventAnywhere(events.NetworkLease.With("link", "bond0", "family", "ipv4", "source", "dhcp4", "address", addr+"/24"), 5*time.Minute)
	dhcp6 := v.ExpectEventAnywhere(events.NetworkLease.With("link", "bond0", "family", "ipv6", "source", "dhcp6"), 5*time.Minute)
	slaac := v.ExpectEventAnywhere(events.NetworkLease.With("link", "bond0", "family", "ipv6", "source", "slaac"), 5*time.Minute)
	inLab := netip.MustParsePrefix("fd00:88::/64")
	for _, e := range []events.Event{dhcp6, slaac} {
		p, err := netip.ParsePrefix(e.Get("address"))
		if err != nil || !inLab.Contains(p.Addr()) {
			t.Errorf("%s: address %q, want one in %s", e, e.Get("address"), inLab)
		}
	}
	var v6 string
	vmtest.Eventually(t, "bond-node Ready with an IPv4 and an IPv6 node IP", 10*time.Minute, func() error {
		four, six, err := nodeIPs(ctx, env, "bond-node")
		if err != nil {
			return err
		}
		if len(four) != 1 || four[0] != addr || len(six) != 1 || !inLab.Contains(netip.MustParseAddr(six[0])) {
			return fmt.Errorf("InternalIPs %v %v, want [%s] and one in %s", four, six, addr, inLab)
		}
		v6 = six[0]
		return nil
	})
	// dnsmasq's advertisements carry its DHCPv6 name server as RDNSS
	// too: the pod's log says which source offered it.
	vmtest.Eventually(t, "the network pod reads the router's RDNSS", 3*time.Minute, func() error {
		_, _ = controlplane.ApproveServingCSRs(ctx, env.Client) // logs come from the kubelet's serving port
		logs, err := env.Client.CoreV1().Pods("kube-system").GetLogs("network-bond-node", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(string(logs), "offers name servers [fd00:88::1]") {
			return fmt.Errorf("its log names no router offering fd00:88::1")
		}
		return nil
	})
	if e := v.Events(events.NetworkDNS); len(e) == 0 || !slices.Contains(strings.Split(e[len(e)-1].Get("servers"), ","), "fd00:88::1") {
		t.Errorf("network-dns events %v, want the last to name fd00:88::1", e)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: env.Lab.DialContext, DisableKeepAlives: true}}
	ask := func(host string) bool {
		resp, err := client.Get("http://" + host + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	vmtest.Eventually(t, "the demo pod answers over IPv4 and IPv6", 5*time.Minute, func() error {
		for _, h := range []string{addr, "[" + v6 + "]"} {
			if !ask(h) {
				return fmt.Errorf("no answer from %s", h)
			}
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
			if ask(addr) {
				mu.Lock()
				answered = append(answered, time.Now())
				mu.Unlock()
			}
		}
	}()
	// silence is the longest time without an answer from 1 s before at
	// to until, and whether answers came after at.
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
	// Where the lab's bridge last heard the bond's address: the card
	// that carries the traffic.
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
	// The active card is the bond driver's choice: pull it, put it back,
	// then pull the other, which took over.
	cards := map[string]string{"tap1": "net0", "tap2": "net1"}
	other := map[string]string{"tap1": "tap2", "tap2": "tap1"}
	active := port()
	if cards[active] == "" {
		t.Fatalf("the lab's bridge has not heard the bond (%s) on tap1 or tap2", macA)
	}
	first := cut(cards[active], false)
	time.Sleep(20 * time.Second)
	if p := port(); p != other[active] {
		t.Errorf("after %s's card was pulled the bond is heard on %q, want %s", active, p, other[active])
	}
	cut(cards[active], true)
	time.Sleep(10 * time.Second)
	second := cut(cards[other[active]], false)
	time.Sleep(20 * time.Second)
	if p := port(); p != active {
		t.Errorf("after %s's card was pulled the bond is heard on %q, want %s", other[active], p, active)
	}
	end := time.Now()
	close(stop)
	<-done
	// The node saw the same failovers: its network-bond events name the
	// active card (tap1 is its eth0, tap2 its eth1) each time it changed.
	guest := map[string]string{"tap1": "eth0", "tap2": "eth1"}
	var seen []string
	for _, e := range v.Events(events.NetworkBond.With("link", "bond0", "mode", "active-backup")) {
		if a := e.Get("active"); a != "none" && (len(seen) == 0 || seen[len(seen)-1] != a) {
			seen = append(seen, a)
		}
	}
	if want := []string{guest[active], guest[other[active]], guest[active]}; !slices.Equal(seen, want) {
		t.Errorf("the node's active cards %v, want %v", seen, want)
	}
	for _, c := range []struct {
		what     string
		from, to time.Time
	}{{"the active card pulled", first, first.Add(20 * time.Second)}, {"the other, then active, pulled", second, end}} {
		gap, resumed := silence(c.from, c.to)
		t.Logf("%s: the longest time without an answer was %.2f s", c.what, gap.Seconds())
		if !resumed || gap > 10*time.Second {
			t.Errorf("%s: answers resumed %v, longest silence %.2f s; want answers again within 10 s", c.what, resumed, gap.Seconds())
		}
	}
	for _, ev := range []events.Name{events.NetworkFallback, events.NetworkError} {
		if e := v.Events(ev); len(e) != 0 {
			t.Errorf("the node: %v", e)
		}
	}
}

// nodeIPs are a node's InternalIPs by family, once it is Ready.
func nodeIPs(ctx context.Context, env *lab.Env, name string) (four, six []string, err error) {
	n, err := env.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return nil, nil, fmt.Errorf("not Ready: %s", c.Message)
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is6() {
			six = append(six, a.Address)
		} else {
			four = append(four, a.Address)
		}
	}
	return four, six, nil
}

// startDnsmasq gives the lab's bridge fd00:88::1/64 and runs Debian's
// dnsmasq on it for router advertisements (every 5 s) and DHCPv6, until
// the test ends; its log is printed when the test failed.
func startDnsmasq(t *testing.T, ctx context.Context, env *lab.Env, dir string) {
	t.Helper()
	if out, err := env.Lab.Command(ctx, "ip", "-6", "addr", "add", "fd00:88::1/64", "dev", labnet.BridgeName, "nodad").CombinedOutput(); err != nil {
		t.Fatalf("the lab's IPv6 address: %v: %s", err, out)
	}
	dctx, stop := context.WithCancel(ctx)
	cmd := env.Lab.Command(dctx, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--port=0", "--user=root",
		"--interface="+labnet.BridgeName, "--bind-interfaces", "--enable-ra", "--ra-param="+labnet.BridgeName+",5,600",
		"--dhcp-range=fd00:88::100,fd00:88::1ff,slaac,64,10m", "--dhcp-option=option6:dns-server,[fd00:88::1]",
		"--dhcp-leasefile="+filepath.Join(dir, "dnsmasq.leases"), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-facility=-", "--log-dhcp")
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("dnsmasq (make deps installs dnsmasq-base): %v", err)
	}
	t.Cleanup(func() {
		stop()
		cmd.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", log.String())
		}
	})
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
