package netconf

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ifnameRE is what Linux takes as an interface name (IFNAMSIZ - 1).
var ifnameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)

// Validate checks the section; every error names its field
// (links[1].addresses[0]: ...). It checks what can be known without the
// machine: that a named link exists is the network pod's check at boot.
func Validate(n *Network) []error {
	if n == nil {
		return nil
	}
	v := &validator{names: map[string]string{}, addrs: map[netip.Addr]string{}, members: map[string]string{}}
	for i, l := range n.Links {
		at := fmt.Sprintf("links[%d]", i)
		switch {
		case l.Name != "" && l.MAC != "":
			v.fail(at, "give name or mac, not both")
		case l.Name != "":
			v.name(at+".name", l.Name)
		case l.MAC != "":
			if _, err := ParseMAC(l.MAC); err != nil {
				v.fail(at+".mac", err.Error())
			}
			v.name(at+".mac", LinkKey(l.MAC))
		default:
			v.fail(at, "give the link's name or mac")
		}
		v.addressing(at, &l.Addressing)
	}
	for i, b := range n.Bonds {
		at := fmt.Sprintf("bonds[%d]", i)
		v.name(at+".name", b.Name)
		if b.Mode != ModeActiveBackup && b.Mode != Mode8023AD {
			v.fail(at+".mode", fmt.Sprintf("want %s or %s, got %q", ModeActiveBackup, Mode8023AD, b.Mode))
		}
		if b.MIIMon < 0 {
			v.fail(at+".miimon", "want milliseconds >= 0")
		}
		if len(b.Members) == 0 {
			v.fail(at+".members", "a bond needs at least one member")
		}
		for j, m := range b.Members {
			mat := fmt.Sprintf("%s.members[%d]", at, j)
			key := LinkKey(m)
			if _, err := ParseMAC(m); err != nil && !ifnameRE.MatchString(m) {
				v.fail(mat, fmt.Sprintf("want an interface name or a MAC, got %q", m))
				continue
			}
			if prev, ok := v.members[key]; ok {
				v.fail(mat, fmt.Sprintf("%s is already a member (%s)", m, prev))
				continue
			}
			v.members[key] = mat
			if prev, ok := v.names[key]; ok && strings.HasPrefix(prev, "links[") {
				v.fail(mat, fmt.Sprintf("%s is configured by %s; a bond's member has no settings of its own (configure the bond)", m, strings.TrimSuffix(strings.TrimSuffix(prev, ".name"), ".mac")))
			}
		}
		v.addressing(at, &b.Addressing)
	}
	for i, vl := range n.VLANs {
		at := fmt.Sprintf("vlans[%d]", i)
		v.name(at+".name", vl.Name)
		if vl.ID < 1 || vl.ID > 4094 {
			v.fail(at+".id", fmt.Sprintf("want 1-4094, got %d", vl.ID))
		}
		parent := LinkKey(vl.Link)
		if p, ok := v.names[parent]; !ok || strings.HasPrefix(p, "vlans[") {
			v.fail(at+".link", fmt.Sprintf("%q is not a link or bond of this section (name the parent in links or bonds)", vl.Link))
		} else if _, enslaved := v.members[parent]; enslaved {
			v.fail(at+".link", fmt.Sprintf("%s is a bond's member; put the VLAN on the bond", vl.Link))
		}
		for j, w := range n.VLANs[:i] {
			if w.Link == vl.Link && w.ID == vl.ID {
				v.fail(at+".id", fmt.Sprintf("VLAN %d on %s is also vlans[%d]", vl.ID, vl.Link, j))
			}
		}
		v.addressing(at, &vl.Addressing)
	}
	for i, s := range n.Nameservers {
		if _, err := netip.ParseAddr(s); err != nil {
			v.fail(fmt.Sprintf("nameservers[%d]", i), fmt.Sprintf("want an IP address, got %q", s))
		}
	}
	if len(n.SearchDomains) > 6 {
		v.fail("searchDomains", "at most 6 (resolv.conf's limit)")
	}
	for i, d := range n.SearchDomains {
		if e := validation.IsDNS1123Subdomain(strings.ToLower(d)); len(e) > 0 {
			v.fail(fmt.Sprintf("searchDomains[%d]", i), fmt.Sprintf("%q: %s", d, strings.Join(e, "; ")))
		}
	}
	return v.errs
}

type validator struct {
	errs    []error
	names   map[string]string     // link, bond and VLAN names (and MACs) -> field
	addrs   map[netip.Addr]string // static addresses -> field
	members map[string]string     // bond members -> field
}

func (v *validator) fail(at, msg string) { v.errs = append(v.errs, fmt.Errorf("%s: %s", at, msg)) }

func (v *validator) name(at, name string) {
	if !ifnameRE.MatchString(name) && !strings.HasSuffix(at, ".mac") {
		v.fail(at, fmt.Sprintf("want an interface name (at most 15 of a-z A-Z 0-9 _ . -), got %q", name))
		return
	}
	if prev, ok := v.names[name]; ok {
		v.fail(at, fmt.Sprintf("%s is also %s", name, prev))
		return
	}
	v.names[name] = at
}

func (v *validator) addressing(at string, a *Addressing) {
	var prefixes []netip.Prefix
	for i, s := range a.Addresses {
		fat := fmt.Sprintf("%s.addresses[%d]", at, i)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			v.fail(fat, fmt.Sprintf("want an address with its prefix length (10.0.0.5/24, fd00::5/64), got %q", s))
			continue
		}
		ip := p.Addr()
		if !ip.IsGlobalUnicast() && !ip.IsPrivate() {
			v.fail(fat, fmt.Sprintf("%s is not a unicast address a node can hold", ip))
			continue
		}
		if ip.Is4() && p.Bits() < 31 && (ip == p.Masked().Addr() || ip == broadcast(p)) {
			v.fail(fat, fmt.Sprintf("%s is the network's or broadcast address of %s", ip, p.Masked()))
			continue
		}
		if prev, ok := v.addrs[ip]; ok {
			v.fail(fat, fmt.Sprintf("%s is also %s", ip, prev))
			continue
		}
		v.addrs[ip] = fat
		prefixes = append(prefixes, p)
	}
	for i, r := range a.Routes {
		rat := fmt.Sprintf("%s.routes[%d]", at, i)
		var gw netip.Addr
		if r.Via != "" {
			var err error
			if gw, err = netip.ParseAddr(r.Via); err != nil {
				v.fail(rat+".via", fmt.Sprintf("want a gateway's IP address, got %q", r.Via))
				continue
			}
		}
		if r.To != "default" {
			p, err := netip.ParsePrefix(r.To)
			if err != nil {
				v.fail(rat+".to", fmt.Sprintf("want default or a prefix (10.1.0.0/16), got %q", r.To))
				continue
			}
			if p != p.Masked() {
				v.fail(rat+".to", fmt.Sprintf("%s has host bits set; the prefix is %s", r.To, p.Masked()))
			}
			if gw.IsValid() && gw.Is4() != p.Addr().Is4() {
				v.fail(rat+".via", fmt.Sprintf("%s and %s are of different families", r.Via, r.To))
				continue
			}
		} else if !gw.IsValid() {
			v.fail(rat+".via", "a default route needs a gateway")
			continue
		}
		if r.Metric < 0 {
			v.fail(rat+".metric", "want >= 0")
		}
		if gw.IsValid() && !reachable(gw, prefixes, a) {
			v.fail(rat+".via", fmt.Sprintf("%s is in none of this link's prefixes (%s)", gw, prefixList(prefixes)))
		}
	}
	if a.MTU != 0 {
		low := 576
		if a.DHCP6 || a.SLAAC || hasV6(prefixes) {
			low = 1280 // IPv6's minimum
		}
		if a.MTU < low || a.MTU > 65535 {
			v.fail(at+".mtu", fmt.Sprintf("want %d-65535, got %d", low, a.MTU))
		}
	}
}

// reachable says whether gw can be a next hop on the link: in a static
// prefix of it, an IPv6 link-local address, or of a family the link gets
// a dynamic prefix for (which cannot be known before).
func reachable(gw netip.Addr, prefixes []netip.Prefix, a *Addressing) bool {
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return true
	}
	if gw.Is4() && a.DHCP4 || gw.Is6() && (a.DHCP6 || a.SLAAC) {
		return true
	}
	for _, p := range prefixes {
		if p.Masked().Contains(gw) && gw != p.Addr() {
			return true
		}
	}
	return false
}

func hasV6(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "it has no static address"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return strings.Join(s, ", ")
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom4(a)
}

// LinkKey is how a link is named by a name or a MAC: the name, or the
// MAC in one spelling (52:54:00:12:34:56), so that any two spellings of
// one MAC are the same link.
func LinkKey(ref string) string {
	if hw, err := ParseMAC(ref); err == nil {
		return hw.String()
	}
	return ref
}

// ParseMAC reads a 6-byte Ethernet address.
func ParseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("want a MAC address (52:54:00:12:34:56), got %q", s)
	}
	return hw, nil
}
