// Package network is the network pod's work (system network): it turns
// the node's network section and the kernel's ip= argument into links,
// addresses and routes with netlink, keeps DHCPv4 and DHCPv6 leases,
// leaves addresses from router advertisements to the kernel's SLAAC
// where a link asks for them (reading their name servers itself), and
// writes resolv.conf from every source.
package network

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"kios.dev/kios/internal/shared/netconf"
)

// Host is a link the machine has.
type Host struct {
	Name     string
	MAC      string // lower case
	Ethernet bool   // a physical Ethernet device (not loopback, virtual or a bond)
	Up       bool
}

// Plan is what the pod makes of the configuration on this machine.
type Plan struct {
	Bonds []BondPlan
	VLANs []VLANPlan
	// Links are configured in order: physical links, bonds, VLANs.
	Links         []Target
	Nameservers   []string
	SearchDomains []string
}

// BondPlan is a bond to create over its members (interface names).
type BondPlan struct {
	Name    string
	Mode    string
	MIIMon  int
	Members []string
}

// VLANPlan is a VLAN to create on Parent.
type VLANPlan struct {
	Name, Parent string
	ID           int
}

// Target is one link's addressing and where it came from.
type Target struct {
	Name string
	netconf.Addressing
	From string // "links[0]", "ip=", "otherLinks"
}

// ErrMissing is a link the configuration names that the machine does not
// have (yet: drivers may still be probing).
var ErrMissing = errors.New("no such link on this machine")

// MakePlan resolves the section (nil: none) and ip= (nil: none) against
// the machine's links. On an error the plan is the fallback (DHCPv4 and
// SLAAC on every Ethernet link that is up) and the error says why.
func MakePlan(sec *netconf.Network, kip *netconf.KernelIP, hosts []Host) (Plan, error) {
	p, err := makePlan(sec, kip, hosts)
	if err != nil {
		return Fallback(hosts), err
	}
	return p, nil
}

// Fallback is DHCPv4 and SLAAC on every Ethernet link that is up: what
// a node without a network section does.
func Fallback(hosts []Host) Plan {
	var p Plan
	for _, h := range hosts {
		if h.Ethernet && h.Up {
			p.Links = append(p.Links, Target{Name: h.Name, Addressing: netconf.Addressing{DHCP4: true, SLAAC: true}, From: "default"})
		}
	}
	return p
}

func makePlan(sec *netconf.Network, kip *netconf.KernelIP, hosts []Host) (Plan, error) {
	if sec == nil {
		sec = &netconf.Network{}
	}
	if errs := netconf.Validate(sec); len(errs) > 0 {
		return Plan{}, fmt.Errorf("network.%w", errs[0])
	}
	var p Plan
	resolve := func(ref string) (Host, bool) {
		mac := ""
		if hw, err := netconf.ParseMAC(ref); err == nil {
			mac = hw.String()
		}
		for _, h := range hosts {
			if (mac != "" && h.MAC == mac) || (mac == "" && h.Name == ref) {
				return h, true
			}
		}
		return Host{}, false
	}
	missing := func(at, ref string) error {
		var have []string
		for _, h := range hosts {
			if h.Ethernet {
				have = append(have, h.Name+" "+h.MAC)
			}
		}
		if len(have) == 0 {
			have = []string{"no Ethernet link"}
		}
		return fmt.Errorf("%s: %s: %w (it has %s)", at, ref, ErrMissing, strings.Join(have, ", "))
	}
	taken := map[string]string{} // interface -> what configures it
	byRef := map[string]string{} // a links[] entry's name or MAC -> interface
	for i, l := range sec.Links {
		at, ref := fmt.Sprintf("network.links[%d]", i), l.Name+l.MAC
		h, ok := resolve(ref)
		if !ok {
			return Plan{}, missing(at, ref)
		}
		if prev, ok := taken[h.Name]; ok {
			return Plan{}, fmt.Errorf("%s: %s is %s too", at, h.Name, prev)
		}
		taken[h.Name], byRef[netconf.LinkKey(ref)] = at, h.Name
		p.Links = append(p.Links, Target{Name: h.Name, Addressing: l.Addressing, From: at})
	}
	for i, b := range sec.Bonds {
		at := fmt.Sprintf("network.bonds[%d]", i)
		bp := BondPlan{Name: b.Name, Mode: b.Mode, MIIMon: b.MIIMon}
		if bp.MIIMon == 0 {
			bp.MIIMon = netconf.DefaultMIIMon
		}
		for j, m := range b.Members {
			h, ok := resolve(m)
			if !ok {
				return Plan{}, missing(fmt.Sprintf("%s.members[%d]", at, j), m)
			}
			if prev, ok := taken[h.Name]; ok {
				return Plan{}, fmt.Errorf("%s.members[%d]: %s is %s too", at, j, h.Name, prev)
			}
			taken[h.Name] = fmt.Sprintf("%s.members[%d]", at, j)
			bp.Members = append(bp.Members, h.Name)
		}
		byRef[b.Name] = b.Name
		p.Bonds = append(p.Bonds, bp)
		p.Links = append(p.Links, Target{Name: b.Name, Addressing: b.Addressing, From: at})
	}
	for i, v := range sec.VLANs {
		parent := byRef[netconf.LinkKey(v.Link)]
		p.VLANs = append(p.VLANs, VLANPlan{Name: v.Name, Parent: parent, ID: v.ID})
		p.Links = append(p.Links, Target{Name: v.Name, Addressing: v.Addressing, From: fmt.Sprintf("network.vlans[%d]", i)})
	}
	p.Nameservers = slices.Clone(sec.Nameservers)
	p.SearchDomains = slices.Clone(sec.SearchDomains)
	others := netconf.Addressing{DHCP4: netconf.On(nil), SLAAC: netconf.On(nil)}
	if o := sec.OtherLinks; o != nil {
		others = netconf.Addressing{DHCP4: netconf.On(o.DHCP4), SLAAC: netconf.On(o.SLAAC)}
	}
	if kip != nil && !kip.Off && (kip.Device != "" || kip.Static.IsValid()) {
		// (ip=dhcp alone is what a node does anyway.)
		dev := kip.Device
		if dev == "" {
			for _, h := range hosts {
				if h.Ethernet && h.Up {
					dev = h.Name
					break
				}
			}
		}
		h, ok := resolve(dev)
		switch {
		case dev == "":
			return Plan{}, fmt.Errorf("ip=: no Ethernet link is up to take its settings")
		case !ok:
			return Plan{}, missing("ip=", dev)
		}
		if _, ok := taken[h.Name]; !ok {
			// The section, when it names the device, wins.
			taken[h.Name] = "ip="
			p.Links = append(p.Links, Target{Name: h.Name, Addressing: kip.Link(h.Name).Addressing, From: "ip="})
			for _, a := range kip.Nameservers {
				p.Nameservers = append(p.Nameservers, a.String())
			}
			if kip.Static.IsValid() && sec.OtherLinks == nil {
				// Static settings on the command line are all the node
				// gets, as the kernel's own ip= would do.
				others = netconf.Addressing{}
			}
		}
	}
	for _, h := range hosts {
		if _, ok := taken[h.Name]; ok || !h.Ethernet || !h.Up {
			continue
		}
		if others.DHCP4 || others.SLAAC {
			p.Links = append(p.Links, Target{Name: h.Name, Addressing: others, From: "otherLinks"})
		}
	}
	return p, nil
}
