package dhcp

import (
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

func ack(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15))}
	m, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFromACK(t *testing.T) {
	full := ack(t,
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(10, 0, 2, 2)),
		dhcpv4.WithDNS(net.IPv4(10, 0, 2, 3), net.IPv4(1, 1, 1, 1)),
		dhcpv4.WithLeaseTime(3600),
		dhcpv4.WithServerIP(net.IPv4(10, 0, 2, 2)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 2, 2))),
		dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{"lab.example"}})),
		dhcpv4.WithOption(dhcpv4.Option{Code: dhcpv4.OptionInterfaceMTU, Value: dhcpv4.Uint16(1450)}),
	)
	got, err := FromACK("eth0", full)
	if err != nil {
		t.Fatal(err)
	}
	want := Lease{
		Interface: "eth0",
		Address:   net.IPNet{IP: net.IPv4(10, 0, 2, 15).To4(), Mask: net.CIDRMask(24, 32)},
		Router:    net.IPv4(10, 0, 2, 2).To4(),
		DNS:       []net.IP{net.IPv4(10, 0, 2, 3).To4(), net.IPv4(1, 1, 1, 1).To4()},
		Search:    []string{"lab.example"},
		MTU:       1450,
		Duration:  time.Hour,
		Renew:     30 * time.Minute,
		Rebind:    time.Hour * 7 / 8,
		Server:    net.IPv4(10, 0, 2, 2).To4(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// QEMU's restricted network offers no router and no DNS.
	bare, err := FromACK("eth0", ack(t, dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithLeaseTime(86400)))
	if err != nil {
		t.Fatal(err)
	}
	if bare.Router != nil || bare.DNS != nil || bare.MTU != 0 || bare.Renew != 12*time.Hour {
		t.Errorf("bare lease: %+v", bare)
	}
}

func TestFromACKRejects(t *testing.T) {
	offer, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer), dhcpv4.WithYourIP(net.IPv4(10, 0, 0, 5)))
	for name, m := range map[string]*dhcpv4.DHCPv4{
		"nil":        nil,
		"offer":      offer,
		"no address": ack(t, dhcpv4.WithYourIP(net.IPv4zero)),
		"broadcast":  ack(t, dhcpv4.WithYourIP(net.IPv4bcast)),
		"zero mask":  ack(t, dhcpv4.WithNetmask(net.CIDRMask(0, 32))),
		"multicast":  ack(t, dhcpv4.WithYourIP(net.IPv4(224, 0, 0, 1))),
	} {
		if _, err := FromACK("eth0", m); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestResolvConf(t *testing.T) {
	l := []Lease{
		{DNS: []net.IP{net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2)}, Search: []string{"a.example"}},
		{DNS: []net.IP{net.IPv4(10, 0, 0, 2), net.IPv4(10, 0, 0, 3), net.IPv4(10, 0, 0, 4)}, Search: []string{"a.example", "b.example"}},
	}
	for _, tc := range []struct {
		name            string
		servers, search []string
		want            string
	}{
		{"leases only", nil, nil, "# Written by the kiOS network pod.\nnameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\n"},
		{"configured first", []string{"fd00::53", "10.0.0.2"}, []string{"b.example", "c.example"},
			"# Written by the kiOS network pod.\nnameserver fd00::53\nnameserver 10.0.0.2\nnameserver 10.0.0.1\nsearch b.example c.example a.example\n"},
	} {
		if got := string(ResolvConf(tc.servers, tc.search, l)); got != tc.want {
			t.Errorf("%s: got:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}
