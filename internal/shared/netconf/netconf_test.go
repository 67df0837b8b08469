package netconf

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // each error's text contains one, in order
	}{
		{"static, dual-stack, VLAN and bond", `
links:
- {name: eth0, addresses: [10.0.0.5/24, "fd00::5/64"], routes: [{to: default, via: 10.0.0.1}, {to: default, via: "fe80::1"}], mtu: 1500}
- {mac: "52:54:00:12:34:56", dhcp4: true, slaac: true}
bonds:
- {name: bond0, mode: active-backup, members: [eth1, "52:54:00:AA:BB:CC"], miimon: 100, dhcp4: true}
vlans:
- {name: vlan100, link: bond0, id: 100, addresses: [192.168.100.5/24], routes: [{to: 10.9.0.0/16, via: 192.168.100.1, metric: 50}]}
- {name: vlan200, link: "52:54:00:12:34:56", id: 200, dhcp6: true}
nameservers: [10.0.0.1, "fd00::1"]
searchDomains: [lab.example.com]
otherLinks: {dhcp4: false}
`, nil},
		{"an invalid CIDR", `links: [{name: eth0, addresses: [10.0.0.5/33]}]`, []string{"links[0].addresses[0]: want an address with its prefix length"}},
		{"an address without its prefix", `links: [{name: eth0, addresses: [10.0.0.5]}]`, []string{"links[0].addresses[0]"}},
		{"the network's own address", `links: [{name: eth0, addresses: [10.0.0.0/24]}]`, []string{"links[0].addresses[0]: 10.0.0.0 is the network's or broadcast address"}},
		{"an address in two places", `
links:
- {name: eth0, addresses: [10.0.0.5/24]}
- {name: eth1, addresses: [10.0.0.5/16]}`, []string{"links[1].addresses[0]: 10.0.0.5 is also links[0].addresses[0]"}},
		{"a gateway no prefix reaches", `links: [{name: eth0, addresses: [10.0.0.5/24], routes: [{to: default, via: 10.1.0.1}]}]`,
			[]string{"links[0].routes[0].via: 10.1.0.1 is in none of this link's prefixes (10.0.0.0/24)"}},
		{"a gateway of a link without addresses", `links: [{name: eth0, routes: [{to: default, via: 10.1.0.1}]}]`,
			[]string{"links[0].routes[0].via: 10.1.0.1 is in none of this link's prefixes (it has no static address)"}},
		{"a gateway DHCP's prefix may reach", `links: [{name: eth0, dhcp4: true, routes: [{to: 10.2.0.0/16, via: 10.1.0.1}]}]`, nil},
		{"a default route without a gateway", `links: [{name: eth0, addresses: [10.0.0.5/24], routes: [{to: default}]}]`, []string{"links[0].routes[0].via: a default route needs a gateway"}},
		{"a route of mixed families", `links: [{name: eth0, addresses: [10.0.0.5/24], routes: [{to: "fd00:1::/64", via: 10.0.0.1}]}]`, []string{"links[0].routes[0].via: 10.0.0.1 and fd00:1::/64 are of different families"}},
		{"a route prefix with host bits", `links: [{name: eth0, addresses: [10.0.0.5/24], routes: [{to: 10.9.0.1/16, via: 10.0.0.1}]}]`, []string{"links[0].routes[0].to: 10.9.0.1/16 has host bits set; the prefix is 10.9.0.0/16"}},
		{"a VLAN over a link that is not there", `
links: [{name: eth0}]
vlans: [{name: vlan100, link: eth9, id: 100, dhcp4: true}]`, []string{`vlans[0].link: "eth9" is not a link or bond of this section`}},
		{"a VLAN id out of range", `
links: [{name: eth0}]
vlans: [{name: v, link: eth0, id: 4095}]`, []string{"vlans[0].id: want 1-4094, got 4095"}},
		{"a VLAN twice", `
links: [{name: eth0}]
vlans: [{name: a, link: eth0, id: 7}, {name: b, link: eth0, id: 7}]`, []string{"vlans[1].id: VLAN 7 on eth0 is also vlans[0]"}},
		{"a VLAN over a bond's member", `
bonds: [{name: bond0, mode: 802.3ad, members: [eth0, eth1]}]
vlans: [{name: v, link: eth0, id: 7}]`, []string{`vlans[0].link: "eth0" is not a link or bond of this section`}},
		{"a bond with one member named twice", `bonds: [{name: bond0, mode: active-backup, members: [eth0, eth1, eth0]}]`,
			[]string{"bonds[0].members[2]: eth0 is already a member (bonds[0].members[0])"}},
		{"a member in two bonds, by MAC", `
bonds:
- {name: bond0, mode: active-backup, members: ["52:54:00:aa:bb:cc"]}
- {name: bond1, mode: active-backup, members: ["52:54:00:AA:BB:CC"]}`, []string{"bonds[1].members[0]: 52:54:00:AA:BB:CC is already a member (bonds[0].members[0])"}},
		{"a member with settings of its own", `
links: [{name: eth0, dhcp4: true}]
bonds: [{name: bond0, mode: active-backup, members: [eth0]}]`, []string{"bonds[0].members[0]: eth0 is configured by links[0]"}},
		{"a bond's mode and no members", `bonds: [{name: bond0, mode: round-robin, members: []}]`,
			[]string{`bonds[0].mode: want active-backup or 802.3ad, got "round-robin"`, "bonds[0].members: a bond needs at least one member"}},
		{"a name twice", `
links: [{name: bond0}]
bonds: [{name: bond0, mode: active-backup, members: [eth1]}]`, []string{"bonds[0].name: bond0 is also links[0].name"}},
		{"a name Linux refuses", `links: [{name: "a-name-longer-than-15"}]`, []string{"links[0].name: want an interface name"}},
		{"name and MAC", `links: [{name: eth0, mac: "52:54:00:12:34:56"}]`, []string{"links[0]: give name or mac, not both"}},
		{"a bad MAC", `links: [{mac: "52:54:00:12:34"}]`, []string{"links[0].mac: want a MAC address"}},
		{"an IPv6 MTU below 1280", `links: [{name: eth0, slaac: true, mtu: 1000}]`, []string{"links[0].mtu: want 1280-65535, got 1000"}},
		{"bad name servers and search domains", `{nameservers: [dns.example.com], searchDomains: [-bad]}`,
			[]string{`nameservers[0]: want an IP address, got "dns.example.com"`, `searchDomains[0]: "-bad"`}},
	} {
		var n Network
		if err := yaml.UnmarshalStrict([]byte(tc.yaml), &n); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		errs := Validate(&n)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: errors %q, want %d containing %q", tc.name, got, len(tc.want), tc.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tc.want[i]) {
				t.Errorf("%s: error %d = %q, want it to contain %q", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestParseKernelIP(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, tc := range []struct {
		arg  string
		want KernelIP
		err  string
	}{
		{"dhcp", KernelIP{}, ""},
		{"off", KernelIP{Off: true}, ""},
		{"10.0.0.5::10.0.0.1:255.255.255.0:node-5:eth0:off:10.0.0.53:10.0.0.54",
			KernelIP{Device: "eth0", Static: p("10.0.0.5/24"), Gateway: a("10.0.0.1"), Hostname: "node-5", Nameservers: []netip.Addr{a("10.0.0.53"), a("10.0.0.54")}}, ""},
		{"10.0.0.5::10.0.0.1:24", KernelIP{Static: p("10.0.0.5/24"), Gateway: a("10.0.0.1")}, ""},
		{"10.0.0.5", KernelIP{Static: p("10.0.0.5/32")}, ""},
		{":::::eth1:dhcp", KernelIP{Device: "eth1"}, ""},
		{"10.0.0.5::10.0.0.1:255.255.0.255::eth0:off", KernelIP{}, "netmask (field 4) 255.255.0.255 is not contiguous"},
		{"10.0.0.5::10.9.0.1:255.255.255.0::eth0:off", KernelIP{}, "gateway 10.9.0.1 is not in 10.0.0.0/24"},
		{"fd00::5", KernelIP{}, "IPv4 only"},
		{"10.0.0.5::10.0.0.1:24::eth0:off:1:2:3:4", KernelIP{}, "want at most 10 fields"},
		{"10.0.0.300::::::off", KernelIP{}, `client address (field 1) "10.0.0.300"`},
		{":::::eth0:off", KernelIP{}, "need a client address (field 1)"},
		{"10.0.0.5:::::eth0:dhcp", KernelIP{}, "give autoconf off for static settings"},
		{"rarp", KernelIP{}, "not RARP"},
		{"10.0.0.5:::24:Node_5:eth0:off", KernelIP{}, `hostname (field 5) "Node_5" is not a node name`},
		{":::::eth0:carrier-pigeon", KernelIP{}, `autoconf (field 7) "carrier-pigeon"`},
	} {
		got, err := ParseKernelIP(tc.arg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ip=%s: err = %v, want %q", tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ip=%s: %v", tc.arg, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); diff != "" {
			t.Errorf("ip=%s (-want +got):\n%s", tc.arg, diff)
		}
	}
}

func TestNodeIPs(t *testing.T) {
	kip := &KernelIP{Static: netip.MustParsePrefix("10.0.0.7/24")}
	for _, tc := range []struct {
		name string
		sec  *Network
		kip  *KernelIP
		want string
	}{
		{"nothing static", &Network{Links: []Link{{Name: "eth0", Addressing: Addressing{DHCP4: true}}}}, nil, ""},
		{"ip= alone", nil, kip, "10.0.0.7"},
		{"the section's IPv6, ip='s IPv4", &Network{Links: []Link{{Name: "eth1", Addressing: Addressing{Addresses: []string{"fd00::5/64"}}}}}, kip, "10.0.0.7,fd00::5"},
		{"the section's IPv4 first", &Network{VLANs: []VLAN{{Name: "v", Link: "eth1", ID: 2, Addressing: Addressing{Addresses: []string{"10.1.0.5/24", "10.1.0.6/24"}}}}}, nil, "10.1.0.5"},
		{"the default route's link first", &Network{Links: []Link{
			{Name: "eth1", Addressing: Addressing{Addresses: []string{"10.1.0.5/24"}}},
			{Name: "eth2", Addressing: Addressing{Addresses: []string{"10.2.0.5/24"}, Routes: []Route{{To: "default", Via: "10.2.0.1"}}}}}}, nil, "10.2.0.5"},
		{"ip= with a gateway over a VLAN without", &Network{VLANs: []VLAN{{Name: "v", Link: "eth1", ID: 2, Addressing: Addressing{Addresses: []string{"10.1.0.5/24"}}}}},
			&KernelIP{Static: netip.MustParsePrefix("10.0.0.7/24"), Gateway: netip.MustParseAddr("10.0.0.1")}, "10.0.0.7"},
		{"a bond's, dual-stack", &Network{Bonds: []Bond{{Name: "b", Addressing: Addressing{Addresses: []string{"fd00::9/64", "10.2.0.9/16"}}}}}, nil, "10.2.0.9,fd00::9"},
	} {
		var got []string
		for _, a := range NodeIPs(tc.sec, tc.kip) {
			got = append(got, a.String())
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, g, tc.want)
		}
	}
}

// FuzzParseKernelIP: any ip= value either parses (a gateway is inside
// the static address's network) or is refused naming ip=; none panics.
func FuzzParseKernelIP(f *testing.F) {
	for _, s := range []string{"dhcp", "off", "10.0.0.5::10.0.0.1:255.255.255.0:n5:eth0:off:10.0.0.53", ":::::eth1:dhcp", "fd00::5", "10.0.0.5:::24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, err := ParseKernelIP(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ip=") {
				t.Errorf("ip=%q: error %q does not name ip=", v, err)
			}
			return
		}
		if k.Static.IsValid() && k.Gateway.IsValid() && !k.Static.Masked().Contains(k.Gateway) {
			t.Errorf("ip=%q: gateway %s outside %s accepted", v, k.Gateway, k.Static)
		}
	})
}
