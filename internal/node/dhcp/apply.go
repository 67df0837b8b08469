package dhcp

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Apply configures the interface for a lease: the address (with the
// lease's lifetime), the MTU and the default route.
func Apply(l Lease) error {
	link, err := netlink.LinkByName(l.Interface)
	if err != nil {
		return fmt.Errorf("find %s: %w", l.Interface, err)
	}
	if l.MTU > 0 && link.Attrs().MTU != l.MTU {
		if err := netlink.LinkSetMTU(link, l.MTU); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", l.MTU, l.Interface, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: l.Address.IP, Mask: l.Address.Mask}}
	if l.Duration > 0 {
		addr.ValidLft = int(l.Duration.Seconds())
		addr.PreferedLft = int(l.Duration.Seconds())
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("add %s to %s: %w", l.Address.String(), l.Interface, err)
	}
	if l.Router != nil {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: l.Router, Protocol: unix.RTPROT_DHCP}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("default route via %s on %s: %w", l.Router, l.Interface, err)
		}
	}
	return nil
}

// Remove takes an expired lease's address away.
func Remove(l Lease) error {
	link, err := netlink.LinkByName(l.Interface)
	if err != nil {
		return err
	}
	err = netlink.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: l.Address.IP, Mask: l.Address.Mask}})
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil
	}
	return err
}
