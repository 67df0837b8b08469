package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/netconf"
)

// Links reads the machine's links.
func Links() ([]Host, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var hosts []Host
	for _, l := range ls {
		a := l.Attrs()
		hosts = append(hosts, Host{Name: a.Name, MAC: a.HardwareAddr.String(), Up: a.Flags&net.FlagUp != 0,
			Ethernet: l.Type() == "device" && a.Flags&net.FlagLoopback == 0 && len(a.HardwareAddr) == 6})
	}
	return hosts, nil
}

// Applier makes the kernel's links say a plan, and remembers what it
// made so a later plan can take it away.
type Applier struct {
	// SysctlNet is where the node's /proc/sys/net is mounted (the pod's
	// own is read-only); empty: IPv6 settings are left alone.
	SysctlNet string

	made  []string                   // links created (bonds, VLANs)
	addrs map[string][]netlink.Addr  // static addresses added, by link
	route map[string][]netlink.Route // static routes added, by link
}

// Apply creates the plan's bonds and VLANs, brings its links up and
// gives them their MTU, IPv6 autoconfiguration, static addresses and
// routes. DHCP is the caller's. It goes on past a link that fails and
// returns every error, each naming its link.
func (a *Applier) Apply(p Plan) []error {
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	if a.addrs == nil {
		a.addrs, a.route = map[string][]netlink.Addr{}, map[string][]netlink.Route{}
	}
	for _, b := range p.Bonds {
		if err := a.bond(b); err != nil {
			fail(fmt.Errorf("bond %s: %w", b.Name, err))
		}
	}
	for _, v := range p.VLANs {
		if err := a.vlan(v); err != nil {
			fail(fmt.Errorf("vlan %s: %w", v.Name, err))
		}
	}
	for _, t := range p.Links {
		if err := a.link(t); err != nil {
			fail(fmt.Errorf("%s (%s): %w", t.Name, t.From, err))
		}
	}
	return errs
}

// Undo removes what Apply added: static routes and addresses, and the
// bonds and VLANs it created (their members are released by the kernel).
func (a *Applier) Undo() []error {
	var errs []error
	for name, rs := range a.route {
		for _, r := range rs {
			if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("%s: remove route %v: %w", name, r.Dst, err))
			}
		}
	}
	for name, as := range a.addrs {
		l, err := netlink.LinkByName(name)
		if err != nil {
			continue
		}
		for _, ad := range as {
			if err := netlink.AddrDel(l, &ad); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("%s: remove %s: %w", name, ad.IPNet, err))
			}
		}
	}
	for i := len(a.made) - 1; i >= 0; i-- {
		if l, err := netlink.LinkByName(a.made[i]); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", a.made[i], err))
			}
		}
	}
	a.made, a.addrs, a.route = nil, nil, nil
	return errs
}

func (a *Applier) bond(b BondPlan) error {
	l, err := netlink.LinkByName(b.Name)
	if err == nil {
		// A bond of another mode (the bonding module makes a bond0 in
		// balance-rr when loaded without max_bonds=0) is made again,
		// if nothing is enslaved to it yet.
		if err := replaceForeignBond(l, b); err != nil {
			return err
		}
		l, err = netlink.LinkByName(b.Name)
	}
	if err != nil {
		nb := netlink.NewLinkBond(netlink.LinkAttrs{Name: b.Name})
		nb.Mode = netlink.StringToBondMode(b.Mode)
		nb.Miimon = b.MIIMon
		if err := netlink.LinkAdd(nb); err != nil {
			return fmt.Errorf("create (is the bonding module loaded?): %w", err)
		}
		a.made = append(a.made, b.Name)
		if l, err = netlink.LinkByName(b.Name); err != nil {
			return err
		}
	}
	for _, m := range b.Members {
		ml, err := netlink.LinkByName(m)
		if err != nil {
			return fmt.Errorf("member %s: %w", m, err)
		}
		if ml.Attrs().MasterIndex == l.Attrs().Index {
			continue
		}
		// The bonding driver refuses a member that is up.
		if err := netlink.LinkSetDown(ml); err != nil {
			return fmt.Errorf("member %s: set down: %w", m, err)
		}
		if err := netlink.LinkSetMasterByIndex(ml, l.Attrs().Index); err != nil {
			return fmt.Errorf("member %s: enslave: %w", m, err)
		}
		if err := netlink.LinkSetUp(ml); err != nil {
			return fmt.Errorf("member %s: set up: %w", m, err)
		}
	}
	return nil
}

func (a *Applier) vlan(v VLANPlan) error {
	if _, err := netlink.LinkByName(v.Name); err == nil {
		return nil
	}
	parent, err := netlink.LinkByName(v.Parent)
	if err != nil {
		return fmt.Errorf("parent %s: %w", v.Parent, err)
	}
	if err := netlink.LinkSetUp(parent); err != nil {
		return fmt.Errorf("parent %s: set up: %w", v.Parent, err)
	}
	if err := netlink.LinkAdd(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: v.Name, ParentIndex: parent.Attrs().Index}, VlanId: v.ID}); err != nil {
		return fmt.Errorf("create (is the 8021q module loaded?): %w", err)
	}
	a.made = append(a.made, v.Name)
	return nil
}

func (a *Applier) link(t Target) error {
	l, err := netlink.LinkByName(t.Name)
	if err != nil {
		return err
	}
	if t.MTU > 0 && l.Attrs().MTU != t.MTU {
		if err := netlink.LinkSetMTU(l, t.MTU); err != nil {
			return fmt.Errorf("MTU %d: %w", t.MTU, err)
		}
	}
	if err := a.ipv6(t); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	for _, s := range t.Addresses {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("address %q: %w", s, err)
		}
		ad := netlink.Addr{IPNet: &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}}
		if pfx.Addr().Is6() {
			// Static: no duplicate address detection delay before the
			// kubelet can bind it.
			ad.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(l, &ad); err != nil {
			return fmt.Errorf("address %s: %w", s, err)
		}
		a.addrs[t.Name] = append(a.addrs[t.Name], ad)
	}
	for _, r := range t.Routes {
		nr, err := route(l.Attrs().Index, r)
		if err != nil {
			return err
		}
		if err := netlink.RouteReplace(&nr); err != nil {
			return fmt.Errorf("route to %s via %s: %w", r.To, r.Via, err)
		}
		a.route[t.Name] = append(a.route[t.Name], nr)
	}
	return nil
}

func route(index int, r netconf.Route) (netlink.Route, error) {
	nr := netlink.Route{LinkIndex: index, Priority: r.Metric, Protocol: unix.RTPROT_STATIC}
	var gw netip.Addr
	if r.Via != "" {
		var err error
		if gw, err = netip.ParseAddr(r.Via); err != nil {
			return nr, fmt.Errorf("route via %q: %w", r.Via, err)
		}
		nr.Gw = gw.AsSlice()
	}
	if r.To == "default" {
		nr.Family = unix.AF_INET
		bits := 32
		if gw.Is6() {
			nr.Family, bits = unix.AF_INET6, 128
		}
		nr.Dst = &net.IPNet{IP: make(net.IP, bits/8), Mask: net.CIDRMask(0, bits)}
		return nr, nil
	}
	pfx, err := netip.ParsePrefix(r.To)
	if err != nil {
		return nr, fmt.Errorf("route to %q: %w", r.To, err)
	}
	nr.Dst = &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}
	if pfx.Addr().Is6() {
		nr.Family = unix.AF_INET6
	} else {
		nr.Family = unix.AF_INET
	}
	if !gw.IsValid() {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr, nil
}

// ipv6 sets the link's router advertisement and autoconfiguration
// switches: accept_ra 2 (RAs are taken even when the node forwards, as
// a Kubernetes node does) and autoconf 1 where SLAAC is asked, 0 and 0
// where not.
func (a *Applier) ipv6(t Target) error {
	if a.SysctlNet == "" {
		return nil
	}
	ra, auto := "0", "0"
	if t.SLAAC {
		ra, auto = "2", "1"
	}
	for key, v := range map[string]string{"accept_ra": ra, "autoconf": auto} {
		p := filepath.Join(a.SysctlNet, "ipv6", "conf", t.Name, key)
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // IPv6 is off on this link
			}
			return fmt.Errorf("ipv6 %s=%s: %w", key, v, err)
		}
	}
	return nil
}

// replaceForeignBond deletes l, named like b, when it is not a bond of
// b's mode and has no members; with members it is an error.
func replaceForeignBond(l netlink.Link, b BondPlan) error {
	if have, ok := l.(*netlink.Bond); ok && have.Mode == netlink.StringToBondMode(b.Mode) {
		return nil
	}
	what := l.Type()
	if have, ok := l.(*netlink.Bond); ok {
		what = "bond in mode " + have.Mode.String()
	}
	all, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, m := range all {
		if m.Attrs().MasterIndex == l.Attrs().Index {
			return fmt.Errorf("a %s already exists with member %s; want mode %s", what, m.Attrs().Name, b.Mode)
		}
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("remove the existing %s to make it in mode %s: %w", what, b.Mode, err)
	}
	return nil
}
