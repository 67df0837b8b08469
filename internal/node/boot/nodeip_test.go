package boot

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/kubelet"
	"kios.dev/kios/internal/shared/reportsock"
)

func TestDualPair(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("fd00::1:5")
	for _, tc := range []struct {
		name   string
		static string
		first  map[string]netip.Addr
		want   string
	}{
		{"both leased", "", map[string]netip.Addr{"ipv4": v4, "ipv6": v6}, "10.0.0.100,fd00::1:5"},
		{"IPv4 only: the kubelet finds it", "", map[string]netip.Addr{"ipv4": v4}, ""},
		{"static IPv4, leased IPv6", "10.0.0.5", map[string]netip.Addr{"ipv4": v4, "ipv6": v6}, "10.0.0.5,fd00::1:5"},
		{"static IPv4, nothing of IPv6 yet", "10.0.0.5", map[string]netip.Addr{"ipv4": v4}, ""},
		{"static IPv6, leased IPv4", "fd00::5", map[string]netip.Addr{"ipv4": v4}, "10.0.0.100,fd00::5"},
		{"both static: the configuration decided", "10.0.0.5,fd00::5", map[string]netip.Addr{"ipv4": v4, "ipv6": v6}, ""},
	} {
		if got := dualPair(tc.static, tc.first); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWritePair(t *testing.T) {
	root := t.TempDir()
	n := &Node{ConfigRoot: root}
	lease := func(addr string) reportsock.Report {
		return reportsock.New(events.NetworkLease, "link", "eth0", "family", "x", "source", "dhcp", "address", addr, "node_ip", "yes")
	}
	for _, tc := range []struct {
		addr    string
		changed bool
		file    string // the pair file after, "" absent
	}{
		{"10.0.0.100/24", false, ""},
		{"fd00::5054:ff:fe00:1/64", true, "10.0.0.100,fd00::5054:ff:fe00:1\n"},
		{"fd00::1:5", false, "10.0.0.100,fd00::5054:ff:fe00:1\n"}, // the first of a family stays
	} {
		changed, err := n.writePair(lease(tc.addr))
		if err != nil || changed != tc.changed {
			t.Errorf("%s: changed %v, %v; want %v", tc.addr, changed, err, tc.changed)
		}
		b, _ := os.ReadFile(filepath.Join(root, kubelet.LeasedNodeIPFile))
		if string(b) != tc.file {
			t.Errorf("%s: pair file %q, want %q", tc.addr, b, tc.file)
		}
	}
	if _, err := n.writePair(lease("no-address")); err == nil {
		t.Error("a lease without an address: no error")
	}
}

// A lease on a link the configuration does not name (a default link's
// SLAAC address, say) changes nothing: no pair, no kubelet restart
// (which this Node, without a supervisor, could not do).
func TestNoteLeaseIgnoresUndeclaredLinks(t *testing.T) {
	root := t.TempDir()
	n := &Node{ConfigRoot: root}
	for _, a := range []string{"10.0.2.15/24", "fec0::5054:ff:fe12:3456/64"} {
		n.noteLease(reportsock.New(events.NetworkLease, "link", "eth0", "family", "x", "source", "slaac", "address", a, "node_ip", "no"))
	}
	if _, err := os.Stat(filepath.Join(root, kubelet.LeasedNodeIPFile)); !os.IsNotExist(err) {
		t.Errorf("a pair was written for undeclared links: %v", err)
	}
}
