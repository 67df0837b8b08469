package labnet

import (
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
)

// RoutePods makes the gateway forward traffic for a node's pod network
// to that node, as a cloud's route controller does: every node's default
// route is the gateway, so pods on different nodes reach each other
// through it. Replacing an existing route makes it safe to call again.
func (l *Lab) RoutePods(podCIDR *net.IPNet, node net.IP) error {
	return inNS(l.ns, func() error {
		// A new namespace does not forward; the sysctl is the calling
		// thread's namespace's.
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enable forwarding in the lab: %w", err)
		}
		if err := netlink.RouteReplace(&netlink.Route{Dst: podCIDR, Gw: node}); err != nil {
			return fmt.Errorf("route %s via %s in the lab: %w", podCIDR, node, err)
		}
		return nil
	})
}

// PodRoutes lists the lab's routes to pod networks (destination -> node).
func (l *Lab) PodRoutes() (map[string]string, error) {
	out := map[string]string{}
	err := inNS(l.ns, func() error {
		rs, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Dst != nil && r.Gw != nil {
				out[r.Dst.String()] = r.Gw.String()
			}
		}
		return nil
	})
	return out, err
}
