package network

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/node/dhcp"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/netconf"
	"kios.dev/kios/internal/shared/reportsock"
)

var hosts = []Host{
	{Name: "lo", MAC: "", Up: true},
	{Name: "eth0", MAC: "52:54:00:00:00:01", Ethernet: true, Up: true},
	{Name: "eth1", MAC: "52:54:00:00:00:02", Ethernet: true, Up: true},
	{Name: "eth2", MAC: "52:54:00:00:00:03", Ethernet: true}, // down
}

func TestMakePlan(t *testing.T) {
	dhcpSlaac := netconf.Addressing{DHCP4: true, SLAAC: true}
	fallback := Plan{Links: []Target{{Name: "eth0", Addressing: dhcpSlaac, From: "default"}, {Name: "eth1", Addressing: dhcpSlaac, From: "default"}}}
	for _, tc := range []struct {
		name    string
		section string // YAML; empty: none
		ip      string // ip='s value; empty: none
		want    Plan
		err     string
	}{
		{"no section: DHCPv4 and SLAAC on the links that are up", "", "", Plan{Links: []Target{
			{Name: "eth0", Addressing: dhcpSlaac, From: "otherLinks"}, {Name: "eth1", Addressing: dhcpSlaac, From: "otherLinks"}}}, ""},
		{"static by MAC; the others keep the default", `
links: [{mac: "52:54:00:00:00:02", addresses: [10.0.0.5/24], routes: [{to: default, via: 10.0.0.1}]}]
nameservers: [10.0.0.53]`, "", Plan{Nameservers: []string{"10.0.0.53"}, Links: []Target{
			{Name: "eth1", Addressing: netconf.Addressing{Addresses: []string{"10.0.0.5/24"}, Routes: []netconf.Route{{To: "default", Via: "10.0.0.1"}}}, From: "network.links[0]"},
			{Name: "eth0", Addressing: dhcpSlaac, From: "otherLinks"}}}, ""},
		{"others off", `{links: [{name: eth0, dhcp6: true}], otherLinks: {dhcp4: false, slaac: false}}`, "", Plan{Links: []Target{
			{Name: "eth0", Addressing: netconf.Addressing{DHCP6: true}, From: "network.links[0]"}}}, ""},
		{"a bond by MAC and name, a VLAN on it", `
bonds: [{name: bond0, mode: active-backup, members: [eth0, "52:54:00:00:00:02"]}]
vlans: [{name: vlan7, link: bond0, id: 7, addresses: [192.168.7.5/24]}]`, "", Plan{
			Bonds: []BondPlan{{Name: "bond0", Mode: "active-backup", MIIMon: 100, Members: []string{"eth0", "eth1"}}},
			VLANs: []VLANPlan{{Name: "vlan7", Parent: "bond0", ID: 7}},
			Links: []Target{{Name: "bond0", From: "network.bonds[0]"}, {Name: "vlan7", Addressing: netconf.Addressing{Addresses: []string{"192.168.7.5/24"}}, From: "network.vlans[0]"}}}, ""},
		{"a VLAN on a link named by MAC", `
links: [{mac: "52:54:00:00:00:01"}]
vlans: [{name: v9, link: "52:54:00:00:00:01", id: 9, dhcp4: true}]`, "", Plan{
			VLANs: []VLANPlan{{Name: "v9", Parent: "eth0", ID: 9}},
			Links: []Target{{Name: "eth0", From: "network.links[0]"}, {Name: "v9", Addressing: netconf.Addressing{DHCP4: true}, From: "network.vlans[0]"},
				{Name: "eth1", Addressing: dhcpSlaac, From: "otherLinks"}}}, ""},
		{"ip= static on its device: exactly those", "", "10.0.0.7::10.0.0.1:255.255.255.0:n7:eth1:off:10.0.0.53", Plan{Nameservers: []string{"10.0.0.53"}, Links: []Target{
			{Name: "eth1", Addressing: netconf.Addressing{Addresses: []string{"10.0.0.7/24"}, Routes: []netconf.Route{{To: "default", Via: "10.0.0.1"}}}, From: "ip="}}}, ""},
		{"ip= static without a device: the first link that is up", "", "10.0.0.7::10.0.0.1:24", Plan{Links: []Target{
			{Name: "eth0", Addressing: netconf.Addressing{Addresses: []string{"10.0.0.7/24"}, Routes: []netconf.Route{{To: "default", Via: "10.0.0.1"}}}, From: "ip="}}}, ""},
		{"the section wins over ip= on the same link", `{links: [{name: eth0, dhcp4: true}]}`, "10.0.0.7::10.0.0.1:24::eth0:off", Plan{Links: []Target{
			{Name: "eth0", Addressing: netconf.Addressing{DHCP4: true}, From: "network.links[0]"}, {Name: "eth1", Addressing: dhcpSlaac, From: "otherLinks"}}}, ""},
		{"ip=dhcp is the default", "", "dhcp", Plan{Links: []Target{
			{Name: "eth0", Addressing: dhcpSlaac, From: "otherLinks"}, {Name: "eth1", Addressing: dhcpSlaac, From: "otherLinks"}}}, ""},
		{"a link the machine lacks: the fallback", `{links: [{name: eth9, dhcp4: true}]}`, "", fallback, "network.links[0]: eth9: no such link on this machine (it has eth0 52:54:00:00:00:01, eth1 52:54:00:00:00:02, eth2 52:54:00:00:00:03)"},
		{"a bond member the machine lacks", `{bonds: [{name: b, mode: 802.3ad, members: [eth0, "52:54:00:00:00:99"]}]}`, "", fallback, "network.bonds[0].members[1]: 52:54:00:00:00:99: no such link"},
		{"one link named twice, by name and MAC", `{links: [{name: eth0}, {mac: "52:54:00:00:00:01"}]}`, "", fallback, "network.links[1]: eth0 is network.links[0] too"},
		{"an invalid section (PID 1 refuses it first)", `{links: [{name: eth0, addresses: [10.0.0.5/40]}]}`, "", fallback, "network.links[0].addresses[0]"},
	} {
		var sec *netconf.Network
		if tc.section != "" {
			sec = &netconf.Network{}
			if err := yaml.UnmarshalStrict([]byte(tc.section), sec); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		var kip *netconf.KernelIP
		if tc.ip != "" {
			k, err := netconf.ParseKernelIP(tc.ip)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			kip = &k
		}
		got, err := MakePlan(sec, kip, hosts)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := MakePlan(&netconf.Network{Links: []netconf.Link{{Name: "eth9"}}}, nil, hosts); !errors.Is(err, ErrMissing) {
		t.Errorf("a missing link: %v, want ErrMissing (the pod waits for it)", err)
	}
}

func TestResolverReportsEachLeaseOnce(t *testing.T) {
	var got []string
	r := &resolver{told: map[string]string{}, declared: map[string]bool{"eth0": true}, report: func(n events.Name, kv ...any) {
		f := reportsock.New(n, kv...).Fields
		got = append(got, f[3].Value+" "+f[2].Value+" node_ip="+f[4].Value)
	}}
	r.leases4([]dhcp.Lease{{Interface: "eth0", Address: net.IPNet{IP: net.ParseIP("10.0.0.5").To4(), Mask: net.CIDRMask(24, 32)}}})
	r.leases6([]dhcp.Lease6{{Interface: "eth0", Address: net.ParseIP("fd00::5")}})
	r.leases6([]dhcp.Lease6{{Interface: "eth0", Address: net.ParseIP("fd00::5")}}) // renewed: no new report
	r.tell("eth0", "slaac", "fd00::5054:ff:fe00:1/64")
	r.tell("eth1", "slaac", "fd00::5054:ff:fe00:2/64") // a link the configuration does not name
	want := []string{"10.0.0.5/24 dhcp4 node_ip=yes", "fd00::5/128 dhcp6 node_ip=yes", "fd00::5054:ff:fe00:1/64 slaac node_ip=yes", "fd00::5054:ff:fe00:2/64 slaac node_ip=no"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

func TestPlanWaitsForLinks(t *testing.T) {
	eth0 := Host{Name: "eth0", MAC: "52:54:00:00:00:01", Ethernet: true, Up: true}
	for _, tc := range []struct {
		name     string
		sec      *netconf.Network
		appear   int // the call from which eth0 is up
		wait     time.Duration
		want     []string
		fallback bool
	}{
		{"a link comes up during the wait", nil, 2, 10 * time.Second, []string{"eth0 otherLinks"}, false},
		{"a named link comes up during the wait", &netconf.Network{Links: []netconf.Link{{Name: "eth0", Addressing: netconf.Addressing{DHCP4: true}}}}, 2, 10 * time.Second, []string{"eth0 network.links[0]"}, false},
		{"a named link never comes", &netconf.Network{Links: []netconf.Link{{Name: "eth9"}}}, 1, 1500 * time.Millisecond, []string{"eth0 default"}, true},
	} {
		calls := 0
		var reports []reportsock.Report
		c := Config{LinkWait: tc.wait, Log: &nolog{}, Report: func(r reportsock.Report) { reports = append(reports, r) },
			Links: func() ([]Host, error) {
				calls++
				if calls >= tc.appear {
					return []Host{eth0}, nil
				}
				return []Host{{Name: "eth0", MAC: eth0.MAC, Ethernet: true}}, nil // down
			}}
		p := c.plan(context.Background(), tc.sec, nil)
		var got []string
		for _, l := range p.Links {
			got = append(got, l.Name+" "+l.From)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if fell := len(reports) == 1 && reports[0].Event == events.NetworkFallback; fell != tc.fallback || len(reports) > 1 {
			t.Errorf("%s: reports %v, want a fallback: %v", tc.name, reports, tc.fallback)
		}
	}
}

type nolog struct{}

func (*nolog) Printf(string, ...any) {}
