package network

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/netconf"
	"kios.dev/kios/internal/shared/testenv"
)

func TestApplyAndUndo(t *testing.T) {
	testenv.InNetns(t, func() {
		testenv.VethPair(t, "d0", "d1")
		p := Plan{Links: []Target{{Name: "d0", From: "network.links[0]", Addressing: netconf.Addressing{
			Addresses: []string{"10.0.0.5/24", "fd00::5/64"},
			Routes: []netconf.Route{
				{To: "default", Via: "10.0.0.1", Metric: 50},
				{To: "10.9.0.0/16", Via: "10.0.0.254"},
				{To: "default", Via: "fd00::1"},
			},
			MTU: 1400, SLAAC: false,
		}}}}
		a := &Applier{SysctlNet: "/proc/sys/net"}
		if errs := a.Apply(p); len(errs) > 0 {
			t.Fatalf("Apply: %v", errs)
		}
		// Twice: a restarted pod applies the same plan again.
		if errs := a.Apply(p); len(errs) > 0 {
			t.Fatalf("Apply again: %v", errs)
		}
		l, err := netlink.LinkByName("d0")
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("d0: MTU %d, flags %v; want 1400 and up", l.Attrs().MTU, l.Attrs().Flags)
		}
		if got := addrs(t, l); !slices.Contains(got, "10.0.0.5/24") || !slices.Contains(got, "fd00::5/64") {
			t.Errorf("d0's addresses %v, want 10.0.0.5/24 and fd00::5/64", got)
		}
		got := routes(t, l)
		for _, want := range []string{"0.0.0.0/0 via 10.0.0.1 metric 50", "10.9.0.0/16 via 10.0.0.254 metric 0", "::/0 via fd00::1 metric 1024"} {
			if !slices.Contains(got, want) {
				t.Errorf("routes %v lack %q", got, want)
			}
		}
		for key, want := range map[string]string{"accept_ra": "0", "autoconf": "0"} {
			b, err := os.ReadFile("/proc/sys/net/ipv6/conf/d0/" + key)
			if err != nil || strings.TrimSpace(string(b)) != want {
				t.Errorf("ipv6 %s = %q (%v), want %s", key, b, err, want)
			}
		}
		if errs := a.Undo(); len(errs) > 0 {
			t.Fatalf("Undo: %v", errs)
		}
		for _, a := range addrs(t, l) {
			if a == "10.0.0.5/24" || a == "fd00::5/64" {
				t.Errorf("after Undo, d0 still has %s", a)
			}
		}
		for _, r := range routes(t, l) {
			if strings.Contains(r, " via ") {
				t.Errorf("after Undo, a route stays: %s", r)
			}
		}
	})
}

func TestApplyNamesTheLink(t *testing.T) {
	testenv.InNetns(t, func() {
		a := &Applier{}
		errs := a.Apply(Plan{Links: []Target{{Name: "nosuch0", From: "network.links[3]"}}})
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "nosuch0 (network.links[3])") {
			t.Errorf("errors %v, want one naming nosuch0 and its entry", errs)
		}
	})
}

func addrs(t *testing.T, l netlink.Link) []string {
	t.Helper()
	as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	return out
}

func routes(t *testing.T, l netlink.Link) []string {
	t.Helper()
	rs, err := netlink.RouteList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		dst := "0.0.0.0/0"
		if r.Family == unix.AF_INET6 {
			dst = "::/0"
		}
		if r.Dst != nil {
			dst = r.Dst.String()
		}
		if r.Gw != nil {
			out = append(out, dst+" via "+r.Gw.String()+" metric "+strconv.Itoa(r.Priority))
		}
	}
	return out
}
