// Package netconf is the network section of a node's configuration
// (NodeConfig's network) and the kernel's ip= argument: which links get
// which addresses, routes and name servers. kios build, kios config
// validate, PID 1 and the network pod check it with the same code; the
// network pod applies it (internal/node/network).
package netconf

import "net/netip"

// Network is the NodeConfig's network section. A link it names does
// exactly what its entry says; links it does not name do what
// OtherLinks says (by default DHCPv4 and SLAAC, as without the section).
type Network struct {
	// Links configure interfaces the machine has, matched by name or MAC.
	Links []Link `json:"links,omitempty"`
	// VLANs are 802.1Q links over a link or a bond of this section.
	VLANs []VLAN `json:"vlans,omitempty"`
	// Bonds aggregate interfaces (active-backup or 802.3ad).
	Bonds []Bond `json:"bonds,omitempty"`
	// Nameservers come first in /etc/resolv.conf, before what DHCP and
	// router advertisements offer.
	Nameservers []string `json:"nameservers,omitempty"`
	// SearchDomains likewise.
	SearchDomains []string `json:"searchDomains,omitempty"`
	// OtherLinks is what the links the section does not name do.
	OtherLinks *Auto `json:"otherLinks,omitempty"`
}

// Auto is what an unnamed link does; a nil field keeps its default (on).
type Auto struct {
	DHCP4 *bool `json:"dhcp4,omitempty"`
	SLAAC *bool `json:"slaac,omitempty"`
}

// On says whether a default-on switch is on.
func On(b *bool) bool { return b == nil || *b }

// Addressing is how one link gets its addresses and routes.
type Addressing struct {
	// DHCP4 asks a DHCPv4 server for an address, routes and name servers.
	DHCP4 bool `json:"dhcp4,omitempty"`
	// DHCP6 asks a DHCPv6 server for an address (IA_NA) and name servers.
	DHCP6 bool `json:"dhcp6,omitempty"`
	// SLAAC takes addresses and a default route from router
	// advertisements.
	SLAAC bool `json:"slaac,omitempty"`
	// Addresses are static, with their prefix: 10.0.0.5/24, fd00::5/64.
	Addresses []string `json:"addresses,omitempty"`
	// Routes are static routes through this link.
	Routes []Route `json:"routes,omitempty"`
	// MTU of the link (0: the driver's, or DHCP's).
	MTU int `json:"mtu,omitempty"`
}

// Route is a static route.
type Route struct {
	// To is "default" (both families by Via's) or a prefix.
	To string `json:"to"`
	// Via is the gateway; empty: the destination is on the link.
	Via string `json:"via,omitempty"`
	// Metric orders routes to the same destination (lower first).
	Metric int `json:"metric,omitempty"`
}

// Link is an interface the machine has.
type Link struct {
	// Name (eth0, enp1s0) or MAC (52:54:00:12:34:56) matches it; one of
	// the two.
	Name string `json:"name,omitempty"`
	MAC  string `json:"mac,omitempty"`
	Addressing
}

// VLAN is an 802.1Q link.
type VLAN struct {
	Name string `json:"name"`
	// Link is the parent: a name or MAC of Links, or a bond's name.
	Link string `json:"link"`
	ID   int    `json:"id"`
	Addressing
}

// Bond modes.
const (
	ModeActiveBackup = "active-backup"
	Mode8023AD       = "802.3ad"
)

// DefaultMIIMon is the bond's link check interval when none is given.
const DefaultMIIMon = 100

// Bond aggregates links.
type Bond struct {
	Name string `json:"name"`
	// Mode is active-backup or 802.3ad (LACP).
	Mode string `json:"mode"`
	// Members are interface names or MACs; none may be in Links.
	Members []string `json:"members"`
	// MIIMon is the link check interval in milliseconds (0: 100).
	MIIMon int `json:"miimon,omitempty"`
	Addressing
}

// NodeIPs are the kubelet's node IPs the section and the kernel's ip=
// (either may be nil) decide: per family, the first static address of a
// link with a default route of that family (the node's primary), else
// the first static one; the section's before ip='s; IPv4 first (the
// kubelet reports both on a dual-stack node only when told both). None:
// the kubelet picks.
func NodeIPs(n *Network, kip *KernelIP) []netip.Addr {
	if n == nil {
		n = &Network{}
	}
	var all []Addressing
	for _, l := range n.Links {
		all = append(all, l.Addressing)
	}
	for _, b := range n.Bonds {
		all = append(all, b.Addressing)
	}
	for _, v := range n.VLANs {
		all = append(all, v.Addressing)
	}
	if kip != nil && kip.Static.IsValid() {
		all = append(all, kip.Link("").Addressing)
	}
	var out []netip.Addr
	for _, v4 := range []bool{true, false} {
		var first, primary netip.Addr
		for _, a := range all {
			for _, s := range a.Addresses {
				p, err := netip.ParsePrefix(s)
				if err != nil || p.Addr().Is4() != v4 {
					continue
				}
				if !first.IsValid() {
					first = p.Addr()
				}
				if !primary.IsValid() && hasDefault(a, v4) {
					primary = p.Addr()
				}
			}
		}
		if primary.IsValid() {
			out = append(out, primary)
		} else if first.IsValid() {
			out = append(out, first)
		}
	}
	return out
}

// hasDefault says whether a has a default route of the family.
func hasDefault(a Addressing, v4 bool) bool {
	for _, r := range a.Routes {
		if gw, err := netip.ParseAddr(r.Via); r.To == "default" && err == nil && gw.Is4() == v4 {
			return true
		}
	}
	return false
}

// Modules are the kernel modules the section needs loaded.
func Modules(n *Network) []string {
	var m []string
	if n != nil && len(n.Bonds) > 0 {
		m = append(m, "bonding")
	}
	if n != nil && len(n.VLANs) > 0 {
		m = append(m, "8021q")
	}
	return m
}
